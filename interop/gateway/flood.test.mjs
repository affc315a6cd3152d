// Hostile gateway load on sio-server with a JWT secret (the production mode, not --gateway): 40
// authenticated sockets flood join_conversation and typing_start as fast as they can. Each gets
// RATE_LIMITED, the dropped events do nothing (no joins past the budget, no typing relayed past
// it), a newcomer connects and gets its pong during the flood, and RSS stays bounded.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { TARGET } from "../lib/server.mjs";
import {
  ms, startNode, stopNodes, connectClient, call, got, uuid, waitUntil, sleep, closeAll, rssBytes, sockets, scrape, WAIT,
} from "../lib/backend.mjs";

const SKIP = TARGET === "node" && "sio-server only";
const SOCKETS = 40;
const BURST = 300;

describe("gateway flood: join/typing from many sockets", { skip: SKIP, timeout: ms(90000) }, () => {
  let S;
  const all = [];

  before(async () => {
    S = await startNode({ extra: ["--max-connections-per-user", "0"] });
  });
  after(async () => {
    closeAll(all);
    const errors = await stopNodes();
    if (errors.length) throw errors[0];
  });

  it("RATE_LIMITED for every flooder, budgets enforced, the server stays responsive, RSS bounded", async () => {
    const tag = `${process.pid}-${Date.now()}`;
    const conv = uuid();
    const watcher = await connectClient(S, { sub: `watch-${tag}`, organization_id: "org-f" });
    all.push(watcher);
    assert.equal((await call(watcher, "join_conversation", { conversation_id: conv })).ok, true);
    const flooders = [];
    for (let i = 0; i < SOCKETS; i++) {
      flooders.push(await connectClient(S, { sub: `flood-${i % 8}-${tag}`, organization_id: "org-f" }, i % 4 === 3 ? "polling" : "websocket"));
    }
    all.push(...flooders);
    const rss0 = rssBytes(S.pid);

    for (const f of flooders) {
      for (let k = 0; k < BURST; k++) {
        f.emit("join_conversation", { conversation_id: k % 2 ? conv : uuid() });
        f.emit("typing_start", { conversation_id: conv });
      }
    }
    // during the flood: a newcomer gets in and gets its pong
    const t0 = Date.now();
    const newcomer = await connectClient(S, { sub: `new-${tag}`, organization_id: "org-f" });
    all.push(newcomer);
    const pong = await call(newcomer, "ping", {});
    assert.equal(pong.ok, true);
    const latency = Date.now() - t0;
    assert.ok(latency < ms(3000), `newcomer connect + ping took ${latency} ms`);

    await waitUntil(
      () => flooders.every((f) => got(f, "error").some(([e]) => e.code === "RATE_LIMITED")),
      ms(20000),
      "RATE_LIMITED on every flooder",
    );
    await sleep(ms(500));
    // the budgets: default 60 events per minute per socket, 10 typing per 5 s
    for (const f of flooders) {
      const joined = got(f, "joined_conversation").length;
      assert.ok(joined <= 60, `a flooder joined ${joined} times`);
    }
    const typing = got(watcher, "user_typing").filter(([t]) => t.typing);
    assert.ok(typing.length <= SOCKETS * 10, `${typing.length} user_typing relayed`);
    // every flooder's rooms: its own, user:, org:, at most 60 conversations
    const list = await sockets(S, "?room=org:org-f");
    assert.equal(list.sockets.length, SOCKETS + 2);
    for (const s of list.sockets) assert.ok(s.rooms.length <= 3 + 60, `${s.id} is in ${s.rooms.length} rooms`);

    const { text } = await scrape(S);
    const hits = Number(/^sio_rate_limit_hits_total\{bucket="events"\} (\S+)$/m.exec(text)[1]) +
      Number(/^sio_rate_limit_hits_total\{bucket="typing"\} (\S+)$/m.exec(text)[1]);
    assert.ok(hits >= SOCKETS * (2 * BURST - 60), `rate-limit hits ${hits}`);

    const rss1 = rssBytes(S.pid);
    assert.ok(rss1 - rss0 < 64 * 1024 * 1024, `RSS grew by ${(rss1 - rss0) >> 20} MiB`);
    // after the flood: still serving everyone
    assert.equal((await call(watcher, "ping", {})).ok, true);
    assert.ok(flooders.every((f) => f.connected), "flooders are rate limited, not disconnected");
  });

  it("shuts down cleanly", async () => {
    closeAll(all);
    const errors = await stopNodes();
    if (errors.length) throw errors[0];
  });
});
