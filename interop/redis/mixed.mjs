// The two-node cluster suite of mixed-single.test.mjs and mixed-cluster.test.mjs: sio+sio and
// sio+Node (socket.io 4.8 with @socket.io/redis-adapter 8.3), classic and sharded, on one
// redis-server or (sharded) on a 3-master Redis Cluster. Every node gets two clients; each
// operation is started from both nodes, and every broadcast is checked to reach each addressed
// client exactly once. Two files so that the area runs them side by side.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  SKIP, ms, startRedis, startRedisCluster, startNodeOfKind, stopAll, clients, call, Counter,
  waitUntil,
} from "../lib/redis.mjs";
import { sleep, bytes, isBinary, toBuffer } from "../lib/util.mjs";

const sorted = (v) => [...v].sort();

/** Declares the suite for each configuration { name, redis: "single"|"cluster", mode, sub, kinds }. */
export function mixedSuites(configs) {
  for (const cfg of configs) {
    describe(`redis cluster: ${cfg.name}`, { skip: SKIP, timeout: ms(60000) }, () => {
      let redis;
      const nodes = []; // [A, B]
      let a1, a2, b1, b2; // clients: a* on A, b* on B
      let all;
      let seq = 0;
      const ev = (what) => `${what}-${++seq}`;

      before(async () => {
        redis = cfg.redis === "cluster" ? await startRedisCluster() : await startRedis();
        const r = { url: redis.url, mode: cfg.mode, cluster: cfg.redis === "cluster", subscriptionMode: cfg.sub };
        for (const kind of cfg.kinds) nodes.push(await startNodeOfKind(kind, r));
        [a1, a2] = await clients(nodes[0], 2);
        [b1, b2] = await clients(nodes[1], 2);
        all = [a1, a2, b1, b2];
        for (const s of [a1, b1]) await call(s, "join", "r");
        await call(a2, "join", "onlyA");
        await call(b2, "join", "onlyB");
        await call(a1, "set-data", { who: "a1", n: 1 });
        await call(b1, "set-data", { who: "b1", nested: [1, "x", null] });
        // both nodes must see each other before anything is published (subscriptions in flight)
        for (const s of [a1, b1]) await waitUntil(async () => (await call(s, "server-count")) === 2, ms(5000), "serverCount 2");
        await sleep(ms(100));
      });

      after(async () => {
        for (const s of all ?? []) s.close();
        const errors = await stopAll();
        if (errors.length) throw errors[0];
      });

      it("serverCount is 2 on both nodes", async () => {
        assert.equal(await call(a1, "server-count"), 2);
        assert.equal(await call(b2, "server-count"), 2);
      });

      for (const [from, label] of [[() => a2, "A"], [() => b2, "B"]]) {
        it(`broadcasts from node ${label} (all, a room, several rooms, except a room / socket ids, to a socket id): each addressed client exactly once`, async () => {
          const other = from() === a2 ? b1 : a1; // a socket id on the other node
          // [rooms, except, expected counts of a1, a2, b1, b2]
          const cases = [
            [[], [], [1, 1, 1, 1]],
            [["r"], [], [1, 0, 1, 0]],
            [["r", "onlyA", "onlyB"], [], [1, 1, 1, 1]],
            [["r", "r", "onlyB"], [], [1, 0, 1, 1]],
            [[], ["r"], [0, 1, 0, 1]],
            [["r", "onlyB"], [b1.id, a1.id], [0, 0, 0, 1]],
            [[other.id], [], all.map((s) => (s === other ? 1 : 0))],
            [["nobody-here"], [], [0, 0, 0, 0]],
          ];
          const runs = cases.map(([rooms, except, want]) => ({ rooms, except, want, e: ev("bcast") }));
          const counters = runs.map((r) => new Counter(all, r.e));
          for (const r of runs) await call(from(), "to-room", r.rooms, r.except, r.e, "x", { y: [1, r.e] });
          await waitUntil(
            () => runs.every((r, i) => all.every((s, k) => counters[i].of(s) >= r.want[k])),
            ms(5000),
            "every addressed client got its broadcasts",
          );
          await sleep(ms(250)); // duplicates and strays would arrive by now
          runs.forEach((r, i) => {
            const got = all.map((s) => counters[i].of(s));
            assert.deepEqual(got, r.want, `to ${JSON.stringify(r.rooms)} except ${JSON.stringify(r.except)}: counts of a1,a2,b1,b2`);
            for (const s of all) for (const args of counters[i].args(s)) assert.deepEqual(args, ["x", { y: [1, r.e] }]);
            counters[i].stop();
          });
        });
      }

      it("binary arguments cross both ways as binary, byte for byte (each client once)", async () => {
        for (const sender of [a2, b2]) {
          const e = ev("bin");
          const c = new Counter(all, e);
          const one = bytes(3000, seq);
          const two = Buffer.from([0, 1, 2, 255]);
          await call(sender, "to-room", [], [], e, one, { nested: [two, "t"] });
          await c.settle(all);
          for (const s of all) {
            assert.equal(c.of(s), 1);
            const [x, y] = c.args(s)[0];
            assert.ok(isBinary(x) && toBuffer(x).equals(one), "first argument's bytes");
            assert.ok(isBinary(y.nested[0]) && toBuffer(y.nested[0]).equals(two), "nested binary");
            assert.equal(y.nested[1], "t");
          }
          c.stop();
        }
      });

      it("fetchSockets returns the other node's sockets with their data (both directions)", async () => {
        for (const asker of [a2, b2]) {
          const list = await call(asker, "fetch", "r");
          assert.ok(Array.isArray(list), JSON.stringify(list));
          const byId = Object.fromEntries(list.map((s) => [s.id, s]));
          assert.deepEqual(sorted(Object.keys(byId)), sorted([a1.id, b1.id]));
          assert.deepEqual(byId[a1.id].data, { who: "a1", n: 1 });
          assert.deepEqual(byId[b1.id].data, { who: "b1", nested: [1, "x", null] });
          assert.deepEqual(sorted(byId[b1.id].rooms), sorted([b1.id, "r"]));
          const whole = await call(asker, "fetch");
          assert.equal(whole.length, 4, "whole namespace");
          assert.deepEqual(whole.find((s) => s.id === b2.id).data, {}, "data never set: {}");
        }
      });

      it("socketsJoin / socketsLeave on one node move the sockets of the other (both directions)", async () => {
        for (const [asker, label] of [[a2, "A"], [b2, "B"]]) {
          const room = `moved-${label}`;
          await call(asker, "sockets-join", ["r"], [], room);
          await waitUntil(async () => (await call(asker, "fetch", room)).length === 2, ms(3000), `${room} has 2 members`);
          const members = sorted((await call(b2, "fetch", room)).map((s) => s.id));
          assert.deepEqual(members, sorted([a1.id, b1.id]));
          await sleep(ms(100)); // sharded dynamic: the room channel's subscription
          const e = ev("moved");
          const c = new Counter(all, e);
          await call(asker === a2 ? b2 : a2, "to-room", [room], [], e);
          await c.settle([a1, b1]);
          assert.deepEqual(all.map((s) => c.of(s)), [1, 0, 1, 0], `${e}: counts a1,a2,b1,b2`);
          c.stop();
          await call(asker, "sockets-leave", [], [a1.id], room); // every socket but a1 leaves it
          await waitUntil(async () => (await call(asker, "fetch", room)).length === 1, ms(3000), `${room} left`);
          assert.deepEqual((await call(b2, "fetch", room)).map((s) => s.id), [a1.id]);
        }
      });

      it("serverSideEmit with acks, both ways", async () => {
        const want = (kind) => (kind === "node" ? "pong-node" : "pong-sio");
        const seen = new Counter(all, "server-event");
        let r = await call(a1, "sse", "ping", "from-A", 1);
        assert.deepEqual(r, { timeout: false, responses: [want(cfg.kinds[1])] });
        r = await call(b1, "sse", "ping", "from-B", 2);
        assert.deepEqual(r, { timeout: false, responses: [want(cfg.kinds[0])] });
        await seen.settle(all);
        assert.deepEqual(seen.args(b2), [["ping", "from-A", 1]], "B's clients saw A's event once");
        assert.deepEqual(seen.args(a2), [["ping", "from-B", 2]], "A's clients saw B's event once");
        seen.stop();
      });

      it("broadcast with acks counts and collects the remote clients (both directions)", async () => {
        const e = ev("ask");
        for (const s of all) s.on(e, (x, cb) => cb(`${x}:${s.id}`));
        for (const asker of [a2, b2]) {
          const r = await call(asker, "to-room-ack", ["r", "onlyB"], [], ms(3000), e, "q");
          assert.equal(r.timeout, false, JSON.stringify(r));
          assert.deepEqual(sorted(r.responses), sorted([a1, b1, b2].map((s) => `q:${s.id}`)));
        }
        for (const s of all) s.off(e);
      });

      it("allRooms lists the rooms of both nodes", { skip: cfg.mode !== "classic" && "classic only" }, async () => {
        for (const asker of [a1, b1]) {
          const rooms = await call(asker, "all-rooms");
          for (const room of ["r", "onlyA", "onlyB", a1.id, b2.id]) assert.ok(rooms.includes(room), `${room} in ${JSON.stringify(rooms)}`);
          assert.equal(new Set(rooms).size, rooms.length, "no duplicates");
        }
      });

      it("disconnectSockets on one node disconnects the other's sockets (both directions)", async () => {
        const extra = [...(await clients(nodes[0], 1)), ...(await clients(nodes[1], 1))];
        const [x, y] = extra;
        await call(x, "join", "victims");
        await call(y, "join", "victims");
        const reasons = extra.map((s) => new Promise((resolve) => s.once("disconnect", resolve)));
        await call(a1, "disconnect-sockets", ["victims"], [x.id], false); // y, on B, only
        assert.equal(await Promise.race([reasons[1], sleep(ms(3000)).then(() => "none")]), "io server disconnect");
        await sleep(ms(100));
        assert.equal(x.connected, true, "the excepted socket stays");
        await call(b1, "disconnect-sockets", ["victims"], [], true); // x, on A
        assert.equal(await Promise.race([reasons[0], sleep(ms(3000)).then(() => "none")]), "io server disconnect");
        assert.ok(a1.connected && b1.connected && a2.connected && b2.connected, "the others stay");
      });
    });
  }
}
