// Publishers that are not servers, into a classic cluster of two sio nodes on one real Redis:
// @socket.io/redis-emitter 5.1 (npm `redis` 4.7 client) and python-socketio's JSON messages
// (docs/protocol-adapter.md §5) published on channel "socketio" (nodes started with
// --python-channel socketio), plus pickles and garbage on that channel.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import {
  SKIP, ms, startRedis, startSioNode, stopAll, clients, call, Counter, waitUntil, getJson, redisCli,
} from "../lib/redis.mjs";
import { sleep, bytes, toBuffer, isBinary } from "../lib/util.mjs";

describe("redis: emitter and python-socketio publishers", { skip: SKIP, timeout: ms(60000) }, () => {
  let redis, A, B, pub, emitter;
  let a1, a2, b1, b2, all;
  let seq = 0;
  const ev = (what) => `${what}-${++seq}`;

  before(async () => {
    redis = await startRedis();
    const r = { url: redis.url, mode: "classic" };
    A = await startSioNode(r, ["--python-channel", "socketio"]);
    B = await startSioNode(r, ["--python-channel", "socketio"]);
    [a1, a2] = await clients(A, 2);
    [b1, b2] = await clients(B, 2);
    all = [a1, a2, b1, b2];
    await call(a1, "join", "r");
    await call(b1, "join", "r");
    await call(b2, "join", "other");
    pub = createClient({ url: redis.url });
    pub.on("error", () => {});
    await pub.connect();
    emitter = new Emitter(pub);
    await waitUntil(async () => (await call(a1, "server-count")) === 2, ms(5000), "serverCount 2");
  });

  after(async () => {
    for (const s of all ?? []) s.close();
    await pub?.disconnect().catch(() => {});
    const errors = await stopAll();
    if (errors.length) throw errors[0];
  });

  /** Waits for every expected count, lets strays arrive, then checks the counts of a1,a2,b1,b2. */
  async function expectCounts(counter, want) {
    await waitUntil(() => all.every((s, k) => counter.of(s) >= want[k]), ms(5000), `"${counter.event}" delivered`);
    await sleep(ms(250));
    assert.deepEqual(all.map((s) => counter.of(s)), want, `"${counter.event}": counts of a1,a2,b1,b2`);
    counter.stop();
  }

  it("emitter: emit to all, to a room, except a room: each client exactly once", async () => {
    let e = ev("em-all");
    let c = new Counter(all, e);
    emitter.emit(e, "hello", { n: 1 });
    await expectCounts(c, [1, 1, 1, 1]);
    assert.deepEqual(c.args(b2)[0], ["hello", { n: 1 }]);

    e = ev("em-room");
    c = new Counter(all, e);
    emitter.to("r").emit(e, 1);
    await expectCounts(c, [1, 0, 1, 0]);

    e = ev("em-rooms");
    c = new Counter(all, e);
    emitter.to("r").to("other").emit(e, 2);
    await expectCounts(c, [1, 0, 1, 1]);

    e = ev("em-except");
    c = new Counter(all, e);
    emitter.except("r").emit(e, 3);
    await expectCounts(c, [0, 1, 0, 1]);

    e = ev("em-except-sid");
    c = new Counter(all, e);
    emitter.to("r").except(b1.id).emit(e, 4);
    await expectCounts(c, [1, 0, 0, 0]);
  });

  it("emitter: Buffers inside the arguments reach the clients as binary, byte for byte", async () => {
    const e = ev("em-bin");
    const c = new Counter(all, e);
    const one = bytes(1000, 7);
    const two = Buffer.from([0, 255, 1, 254]);
    emitter.emit(e, one, { nested: [two, "t"], empty: Buffer.alloc(0) }, "s");
    await expectCounts(c, [1, 1, 1, 1]);
    for (const s of all) {
      const [x, y, z] = c.args(s)[0];
      assert.ok(isBinary(x), "first argument is binary");
      assert.ok(toBuffer(x).equals(one), "first argument's bytes");
      assert.ok(isBinary(y.nested[0]) && toBuffer(y.nested[0]).equals(two), "nested binary");
      assert.equal(y.nested[1], "t");
      assert.ok(isBinary(y.empty) && toBuffer(y.empty).length === 0, "empty binary");
      assert.equal(z, "s");
    }
  });

  it("emitter: socketsJoin, socketsLeave, disconnectSockets, serverSideEmit", async () => {
    emitter.in("r").socketsJoin("em-joined");
    await waitUntil(async () => (await call(a2, "fetch", "em-joined")).length === 2, ms(3000), "both r members joined");
    assert.deepEqual((await call(a2, "fetch", "em-joined")).map((s) => s.id).sort(), [a1.id, b1.id].sort());
    emitter.in("em-joined").except(a1.id).socketsLeave("em-joined");
    await waitUntil(async () => (await call(a2, "fetch", "em-joined")).length === 1, ms(3000), "b1 left");
    assert.deepEqual((await call(b2, "fetch", "em-joined")).map((s) => s.id), [a1.id]);

    const seen = new Counter(all, "server-event");
    emitter.serverSideEmit("note", "from-emitter", 7);
    await expectCounts(seen, [1, 1, 1, 1]);
    assert.deepEqual(seen.args(a1)[0], ["note", "from-emitter", 7]);

    const [x, y] = [...(await clients(A, 1)), ...(await clients(B, 1))];
    await call(x, "join", "em-victims");
    await call(y, "join", "em-victims");
    const gone = [x, y].map((s) => new Promise((resolve) => s.once("disconnect", resolve)));
    emitter.in("em-victims").disconnectSockets(true);
    const reasons = await Promise.race([Promise.all(gone), sleep(ms(3000)).then(() => "timeout")]);
    assert.deepEqual(reasons, ["io server disconnect", "io server disconnect"]);
    assert.ok(all.every((s) => s.connected), "the other clients stay");
  });

  const py = (msg) => pub.publish("socketio", JSON.stringify(msg));

  it("python-socketio JSON messages: emit (room / skip_sid, strings and lists), enter_room, leave_room, close_room, disconnect", async () => {
    let e = ev("py-all");
    let c = new Counter(all, e);
    await py({ method: "emit", event: e, data: ["a", { b: 1 }], namespace: "/", room: null, skip_sid: null, callback: null, host_id: "py1" });
    await expectCounts(c, [1, 1, 1, 1]);
    assert.deepEqual(c.args(a2)[0], ["a", { b: 1 }]);

    e = ev("py-room");
    c = new Counter(all, e);
    await py({ method: "emit", event: e, data: [1], namespace: "/", room: "r", skip_sid: b1.id, callback: null, host_id: "py1" });
    await expectCounts(c, [1, 0, 0, 0]);

    e = ev("py-lists");
    c = new Counter(all, e);
    await py({ method: "emit", event: e, data: [], room: ["r", "other"], skip_sid: [a1.id], callback: null, host_id: "py1" });
    await expectCounts(c, [0, 0, 1, 1]);

    e = ev("py-sid");
    c = new Counter(all, e);
    await py({ method: "emit", event: e, data: ["to-one"], namespace: "/", room: a2.id, skip_sid: null, callback: null, host_id: "py1" });
    await expectCounts(c, [0, 1, 0, 0]);

    // a single value (not a list) is one argument; no data, none
    e = ev("py-single");
    c = new Counter(all, e);
    await py({ method: "emit", event: e, data: { only: "one" }, namespace: "/", room: "other" });
    await py({ method: "emit", event: e, namespace: "/", room: "other" });
    await waitUntil(() => c.of(b2) >= 2, ms(3000), "both single-value emits");
    assert.deepEqual(c.args(b2), [[{ only: "one" }], []]);
    c.stop();

    await py({ method: "enter_room", sid: b2.id, room: "py-room", namespace: "/", host_id: "py1" });
    await py({ method: "enter_room", sid: a2.id, room: "py-room", namespace: "/", host_id: "py1" });
    await waitUntil(async () => (await call(a1, "fetch", "py-room")).length === 2, ms(3000), "enter_room");
    await py({ method: "leave_room", sid: a2.id, room: "py-room", namespace: "/", host_id: "py1" });
    await waitUntil(async () => (await call(a1, "fetch", "py-room")).length === 1, ms(3000), "leave_room");
    assert.deepEqual((await call(a1, "fetch", "py-room")).map((s) => s.id), [b2.id]);
    await py({ method: "enter_room", sid: a1.id, room: "py-room", namespace: "/", host_id: "py1" });
    await waitUntil(async () => (await call(b1, "fetch", "py-room")).length === 2, ms(3000), "enter_room again");
    await py({ method: "close_room", room: "py-room", namespace: "/", host_id: "py1" });
    await waitUntil(async () => (await call(b1, "fetch", "py-room")).length === 0, ms(3000), "close_room");

    const [x] = await clients(B, 1);
    const gone = new Promise((resolve) => x.once("disconnect", resolve));
    await py({ method: "disconnect", sid: x.id, namespace: "/", host_id: "py1" });
    assert.equal(await Promise.race([gone, sleep(ms(3000)).then(() => "timeout")]), "io server disconnect");
  });

  it("python-socketio emit published with redis-cli reaches the clients", async () => {
    const e = ev("py-cli");
    const c = new Counter(all, e);
    redisCli(redis.port, "publish", "socketio", JSON.stringify({ method: "emit", event: e, data: ["cli"], namespace: "/", room: "other" }));
    await expectCounts(c, [0, 0, 0, 1]);
  });

  it("a pickle and garbage on the python channel are dropped and counted; the nodes keep serving", async () => {
    const before = await Promise.all([A, B].map((n) => getJson(n)));
    const junk = [
      Buffer.from([0x80, 0x04, 0x95, 0x30, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0x94]), // pickle protocol 4
      Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]), // pickle protocol 2
      "not json at all",
      "{",
      "[1,2,3]",
      JSON.stringify({ method: "emit" }), // no event
      JSON.stringify({ method: "explode", sid: "x" }),
      JSON.stringify({ method: "enter_room", sid: a1.id }), // no room
      bytes(300, 3),
    ];
    for (const j of junk) await pub.publish("socketio", j);
    // the channel still works afterwards, on both nodes
    const e = ev("py-after");
    const c = new Counter(all, e);
    await py({ method: "emit", event: e, data: ["ok"], namespace: "/" });
    await expectCounts(c, [1, 1, 1, 1]);
    const afterStats = await Promise.all([A, B].map((n) => getJson(n)));
    for (let i = 0; i < 2; i++) {
      const dropped = afterStats[i].adapter_dropped - before[i].adapter_dropped;
      const received = afterStats[i].adapter_received - before[i].adapter_received;
      assert.ok(dropped >= junk.length, `node ${i}: adapter_dropped grew by ${dropped}, want >= ${junk.length}`);
      assert.ok(received >= junk.length + 1, `node ${i}: adapter_received grew by ${received}`);
    }
    assert.deepEqual(await call(b2, "message-with-ack", "still", 1), ["still", 1]);
  });
});
