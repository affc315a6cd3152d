// Failures around a Redis cluster of real nodes: Redis killed (SIGKILL) and restarted on the same
// port, a node killed while a request waits for it, and a publisher flooding the channels with
// garbage and oversized messages.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import {
  SKIP, ms, startRedis, startSioNode, startNodeNode, killNode, stopAll, clients, call, Counter,
  waitUntil, getJson, rssBytes,
} from "../lib/redis.mjs";
import { sleep, bytes } from "../lib/util.mjs";

const MiB = 1024 * 1024;
const skip = SKIP;
let seq = 0;
const ev = (what) => `${what}-${++seq}`;

for (const mode of ["classic", "sharded"]) {
  describe(`redis (${mode}) killed and restarted on the same port`, { skip, timeout: ms(60000) }, () => {
    let redis, A, B, a1, a2, b1, b2, all;

    before(async () => {
      redis = await startRedis();
      A = await startSioNode({ url: redis.url, mode });
      B = await startSioNode({ url: redis.url, mode });
      [a1, a2] = await clients(A, 2);
      [b1, b2] = await clients(B, 2);
      all = [a1, a2, b1, b2];
      for (const s of [a1, b1]) await call(s, "join", "r");
      await waitUntil(async () => (await call(a1, "server-count")) === 2, ms(5000), "serverCount 2");
    });

    after(async () => {
      for (const s of all ?? []) s.close();
      const errors = await stopAll();
      if (errors.length) throw errors[0];
    });

    /** Broadcasts from sender until every client of want got one (a fresh event each try). */
    async function flowsAgain(sender, rooms, want, what) {
      const deadline = Date.now() + ms(15000);
      for (;;) {
        const e = ev("again");
        const c = new Counter(all, e);
        await call(sender, "to-room", rooms, [], e, "x");
        await sleep(ms(300));
        c.stop();
        if (want.every((s) => c.of(s) === 1)) return;
        if (Date.now() > deadline) throw new Error(`${what}: broadcasts did not flow again`);
      }
    }

    it("while Redis is down a broadcast still reaches the local clients; after the restart the nodes resubscribe and broadcasts cross again", async () => {
      await flowsAgain(a2, ["r"], [a1, b1], "before the kill");
      await redis.kill();
      await sleep(ms(200));

      let e = ev("down");
      let c = new Counter(all, e);
      await call(a2, "to-room", [], [], e, "local");
      await c.settle([a1, a2]);
      assert.deepEqual(all.map((s) => c.of(s)), [1, 1, 0, 0], "only node A's clients");
      c.stop();
      // queries answer with what this node has; nothing crashes
      assert.equal(await call(b2, "server-count"), 1, "Redis down: this server alone");
      const fetched = await call(b2, "fetch", "r");
      assert.ok(Array.isArray(fetched), JSON.stringify(fetched));
      assert.ok(fetched.some((s) => s.id === b1.id), "the local socket is listed");
      assert.ok(A.alive() && B.alive(), "both nodes still run");

      await redis.start();
      await flowsAgain(a2, ["r"], [a1, b1], "A to B after the restart");
      await flowsAgain(b2, [], all, "B to A after the restart");
      await waitUntil(async () => (await call(a1, "server-count")) === 2, ms(5000), "serverCount 2 again");

      // exactly once after the resubscription
      e = ev("after");
      c = new Counter(all, e);
      await call(b2, "to-room", ["r"], [], e, 1);
      await c.settle([a1, b1]);
      assert.deepEqual(all.map((s) => c.of(s)), [1, 0, 1, 0]);
      c.stop();
      assert.match(A.stderr(), /redis: unreachable/, "the outage is logged");
    });
  });
}

describe("a node killed (SIGKILL) while a fetchSockets waits for it", { skip, timeout: ms(60000) }, () => {
  let redis, A, B, C, a1, b1, c1;

  before(async () => {
    redis = await startRedis();
    const r = { url: redis.url, mode: "classic", requestsTimeout: 1000 };
    A = await startSioNode(r);
    B = await startSioNode(r);
    C = await startNodeNode(r); // a Node socket.io node
    [a1] = await clients(A, 1);
    [b1] = await clients(B, 1);
    [c1] = await clients(C, 1);
    for (const s of [a1, b1, c1]) await call(s, "join", "r");
    await waitUntil(async () => (await call(a1, "server-count")) === 3, ms(5000), "serverCount 3");
  });

  after(async () => {
    for (const s of [a1, b1, c1]) s?.close();
    const errors = await stopAll();
    if (errors.length) throw errors[0];
  });

  it("the request completes at requestsTimeout with the replies it got; the others keep serving", async () => {
    const all = await call(a1, "fetch", "r");
    assert.equal(all.length, 3, "all three nodes answer while up");
    C.signal("SIGSTOP"); // counted as a subscriber, answers nothing
    const t0 = Date.now();
    const pending = call(a1, "fetch", "r");
    await sleep(200);
    await killNode(C);
    const got = await pending;
    const took = Date.now() - t0;
    assert.deepEqual(got.map((s) => s.id).sort(), [a1.id, b1.id].sort(), "the replies that came");
    assert.ok(took >= 900, `completed after ${took} ms, before the requests timeout`);
    assert.ok(took < ms(3000), `completed after ${took} ms`);

    // the dead node is gone from the count and from later requests, which do not wait
    await waitUntil(async () => (await call(b1, "server-count")) === 2, ms(5000), "serverCount 2");
    const t1 = Date.now();
    assert.equal((await call(b1, "fetch", "r")).length, 2);
    assert.ok(Date.now() - t1 < ms(900), "no timeout once the node is gone");
    const e = ev("survivors");
    const c = new Counter([a1, b1], e);
    await call(b1, "to-room", ["r"], [], e);
    await c.settle([a1, b1]);
    assert.deepEqual([c.of(a1), c.of(b1)], [1, 1]);
  });
});

describe("a publisher floods the channels with garbage and oversized messages", { skip, timeout: ms(90000) }, () => {
  let redis, A, B, pub, a1, b1;
  const N = 5000;

  before(async () => {
    // Redis itself would cut a subscriber off with 32 MiB of pub/sub output pending (its
    // default client-output-buffer-limit): raised, so every message reaches the nodes
    redis = await startRedis({ extra: ["--client-output-buffer-limit", "pubsub 512mb 256mb 60"] });
    const r = { url: redis.url, mode: "classic" };
    A = await startSioNode(r, ["--python-channel", "socketio"]);
    B = await startSioNode(r);
    [a1] = await clients(A, 1);
    [b1] = await clients(B, 1);
    await call(a1, "join", "r");
    await call(b1, "join", "r");
    pub = createClient({ url: redis.url });
    pub.on("error", () => {});
    await pub.connect();
    await waitUntil(async () => (await call(a1, "server-count")) === 2, ms(5000), "serverCount 2");
  });

  after(async () => {
    a1?.close();
    b1?.close();
    await pub?.disconnect().catch(() => {});
    const errors = await stopAll();
    if (errors.length) throw errors[0];
  });

  it(`${N} garbage messages and two over 16 MiB are dropped and counted; the node answers throughout, RSS stays bounded, the log is rate-limited`, async () => {
    const stats0 = await getJson(A);
    const rss0 = rssBytes(A.pid);
    let peak = rss0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssBytes(A.pid));
      } catch {}
    }, 20);
    sampler.unref();
    const channels = ["socket.io#/#", "socket.io#/#r#", "socket.io-request#/#", "socket.io-response#/#", "socketio"];
    const kinds = (i) => {
      switch (i % 5) {
        case 0: return bytes(1 + (i % 200), i + 1); // random bytes
        case 1: return Buffer.from([0x93, 0xa6, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0xdc, 0xff, 0xff]); // array announcing 65535 elements
        case 2: return `{"uid":"x","type":${i},"data":[`; // cut JSON
        case 3: return Buffer.concat([Buffer.from([0x80, 0x04]), bytes(30, i)]); // pickle-looking
        default: return i % 50 === 4 ? bytes(256 * 1024, i) : "garbage"; // some of 256 KiB
      }
    };
    const t0 = Date.now();
    const answers = [];
    for (let i = 0; i < N; i += 250) {
      const batch = [];
      for (let k = i; k < i + 250; k++) batch.push(pub.publish(channels[k % channels.length], kinds(k)));
      await Promise.all(batch);
      // the node stays responsive while the flood goes on
      const t = Date.now();
      assert.equal(await call(a1, "message-with-ack", i), i);
      answers.push(Date.now() - t);
    }
    const big = bytes(16 * MiB + 1024, 9);
    await pub.publish("socket.io#/#", big);
    await pub.publish("socket.io-request#/#", big);
    // a real broadcast after the flood still crosses, exactly once
    const e = ev("after-flood");
    const c = new Counter([a1, b1], e);
    let last = 0;
    await waitUntil(async () => {
      last = (await getJson(A)).adapter_dropped - stats0.adapter_dropped;
      return last >= N + 2;
    }, ms(20000), "every flood message counted as dropped").catch((err) => {
      throw new Error(`${err.message}: ${last} of ${N + 2}; stderr: ${A.stderr().slice(-1500)}`);
    });
    await call(b1, "to-room", ["r"], [], e, "ok");
    await c.settle([a1, b1]);
    assert.deepEqual([c.of(a1), c.of(b1)], [1, 1]);
    clearInterval(sampler);

    const stats1 = await getJson(A);
    const dropped = stats1.adapter_dropped - stats0.adapter_dropped;
    const received = stats1.adapter_received - stats0.adapter_received;
    assert.ok(dropped >= N + 2, `adapter_dropped grew by ${dropped}`);
    assert.ok(received >= dropped, `adapter_received grew by ${received}`);
    const growth = peak - rss0;
    const limit = (process.env.SIO_SANITIZED === "1" ? 512 : 96) * MiB;
    assert.ok(growth < limit, `RSS grew by ${(growth / MiB).toFixed(1)} MiB (limit ${limit / MiB})`);
    const lines = A.stderr().split("\n").filter((l) => /redis: dropped/.test(l)).length;
    assert.ok(lines > 0 && lines <= 20, `${lines} "dropped" log lines for ${N + 2} messages`);
    assert.ok(Math.max(...answers) < ms(2000), `slowest answer during the flood: ${Math.max(...answers)} ms`);
    process.stderr.write(`# flood: ${Date.now() - t0} ms, rss +${(growth / MiB).toFixed(1)} MiB, ${lines} log lines\n`);
  });
});
