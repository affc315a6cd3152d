// The plain program, sio-server (src/app/sio-server), with --redis: it starts, serves clients, and
// what @socket.io/redis-emitter publishes reaches them (it has no application events).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import { SKIP, ms, startRedis, startSioServerApp, stopAll, clients, Counter, getJson, waitUntil } from "../lib/redis.mjs";

for (const mode of ["classic", "sharded"]) {
  describe(`sio-server --redis (${mode})`, { skip: SKIP, timeout: ms(30000) }, () => {
    let redis, server, pub, c1, c2;

    before(async () => {
      redis = await startRedis();
      server = await startSioServerApp({ url: redis.url, mode }, ["--stats-path", "/stats"]);
      [c1, c2] = await clients(server, 2);
      pub = createClient({ url: redis.url });
      pub.on("error", () => {});
      await pub.connect();
    });

    after(async () => {
      c1?.close();
      c2?.close();
      await pub?.disconnect().catch(() => {});
      const errors = await stopAll();
      if (errors.length) throw errors[0];
    });

    it("serves clients and counts itself as a subscriber", async () => {
      assert.ok(c1.connected && c2.connected);
      // Node counts servers this way (classic: NUMSUB of the request channel, sharded: SHARDNUMSUB)
      const channel = mode === "classic" ? "socket.io-request#/#" : "socket.io#/#";
      const cmd = mode === "classic" ? "NUMSUB" : "SHARDNUMSUB";
      await waitUntil(async () => Number((await pub.sendCommand(["PUBSUB", cmd, channel]))[1]) === 1, ms(3000), `one subscriber of ${channel}`);
    });

    it("a broadcast from the emitter reaches its clients (classic channels only)", { skip: mode !== "classic" && "the emitter publishes on classic channels" }, async () => {
      const emitter = new Emitter(pub);
      const c = new Counter([c1, c2], "news");
      emitter.emit("news", "hello", { n: 1 });
      await c.settle([c1, c2]);
      assert.deepEqual([c.of(c1), c.of(c2)], [1, 1]);
      assert.deepEqual(c.args(c1)[0], ["hello", { n: 1 }]);
      const d = new Counter([c1, c2], "direct");
      emitter.to(c2.id).emit("direct", 2);
      await d.settle([c2]);
      assert.deepEqual([d.of(c1), d.of(c2)], [0, 1]);
      const stats = await getJson(server);
      assert.ok(stats.adapter_received >= 2, JSON.stringify(stats));
    });
  });
}
