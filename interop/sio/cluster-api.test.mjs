// The cluster-facing API on a lone server, with the official socket.io-client: socket.data as
// fetchSockets reports it, allRooms, serverCount (test extras of --cluster-api), and
// asynchronous connect middleware: answered later from a timer (--async-auth-ms), answered at
// once (/sync-auth), and never answered (--stalled-middleware, refused at connectTimeout).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Manager } from "socket.io-client";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { TARGET } from "../lib/server.mjs";
import { MODES, openSio, transportOptions, emitAck, closeAll } from "../lib/clients.mjs";
import { withTimeout, sleep } from "../lib/util.mjs";

const ASYNC_AUTH_MS = 150;
const CONNECT_TIMEOUT_MS = 700;

function connected(socket, ms = 5000) {
  if (socket.connected) return Promise.resolve();
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", (err) => reject(new Error(`connect_error on ${socket.nsp}: ${err.message}`)));
    }),
    ms,
    `connect to ${socket.nsp}`,
  );
}

function connectError(socket, ms = 5000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connect_error", resolve);
      socket.once("connect", () => reject(new Error(`${socket.nsp} unexpectedly connected`)));
    }),
    ms,
    `connect_error on ${socket.nsp}`,
  );
}

/** The server's counters (GET /stats, C servers only). */
function stats(server) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: server.port, path: "/stats", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`stats: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.setTimeout(3000, () => req.destroy(new Error("stats: timeout")));
  });
}

let unique = 0;
/** A room name no other test uses (the server lives for the whole file). */
const roomName = (what) => `${what}-${process.pid}-${++unique}`;

/** Polls fn until check(value) holds (bounded); returns the last value. */
async function eventually(fn, check, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (check(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

const byId = (list) => Object.fromEntries(list.map((s) => [s.id, s]));

describe("cluster API on a lone server: socket data, fetchSockets, allRooms, serverCount, async middleware", () => {
  const ctx = useServer("sio", {
    args: [
      "--cluster-api",
      "--async-auth-ms", String(ASYNC_AUTH_MS),
      "--stalled-middleware",
      "--connect-timeout", String(CONNECT_TIMEOUT_MS),
    ],
  });

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      function manager() {
        return new Manager(ctx.server.url, {
          path: "/socket.io/",
          reconnection: false,
          autoConnect: false,
          timeout: 5000,
          ...transportOptions(mode),
        });
      }

      it("fetchSockets of a room reports the data another socket set, its rooms and id", { timeout: 15000 }, async () => {
        const room = roomName("fetch");
        const a = await openSio(ctx.server, mode);
        const b = await openSio(ctx.server, mode);
        const c = await openSio(ctx.server, mode); // not in the room
        try {
          const data = { name: "alice", n: [1, 2.5, null, true], nested: { uni: "\u00fc\u{1F600}" } };
          assert.deepEqual(await emitAck(a, "set-data", data), []);
          await emitAck(a, "join", room);
          await emitAck(b, "join", room);
          const [list] = await emitAck(b, "fetch", room);
          assert.ok(Array.isArray(list), `fetch answered ${JSON.stringify(list)}`);
          assert.equal(list.length, 2, JSON.stringify(list));
          const got = byId(list);
          assert.deepEqual(got[a.id].data, data, "data set by a, seen from b");
          assert.deepEqual(got[b.id].data, {}, "a socket that never set data has {}");
          assert.deepEqual([...got[a.id].rooms].sort(), [a.id, room].sort());
          assert.deepEqual([...got[b.id].rooms].sort(), [b.id, room].sort());
          assert.equal(got[c.id], undefined);

          // Replacing the data with other JSON values.
          await emitAck(a, "set-data", "just a string");
          let [again] = await emitAck(c, "fetch", room);
          assert.equal(byId(again)[a.id].data, "just a string");
          await emitAck(a, "set-data", null);
          [again] = await emitAck(c, "fetch", room);
          assert.equal(byId(again)[a.id].data, null);

          // Without a room: the whole namespace (other files' sockets may still be there).
          const [all] = await emitAck(c, "fetch");
          const ids = new Set(all.map((s) => s.id));
          for (const s of [a, b, c]) assert.ok(ids.has(s.id), `${s.id} missing from ${JSON.stringify([...ids])}`);

          // A socket that left the room is no longer reported; one that disconnected neither.
          await emitAck(b, "leave", room);
          [again] = await emitAck(c, "fetch", room);
          assert.deepEqual(again.map((s) => s.id), [a.id]);
          a.close();
          [again] = await eventually(() => emitAck(c, "fetch", room), ([l]) => l.length === 0);
          assert.deepEqual(again, []);
        } finally {
          closeAll(a, b, c);
        }
      });

      it("allRooms lists the joined rooms and drops a room once its last member left", { timeout: 10000 }, async () => {
        const r1 = roomName("rooms-one");
        const r2 = roomName("rooms-two");
        const a = await openSio(ctx.server, mode);
        const b = await openSio(ctx.server, mode);
        const aid = a.id; // the client forgets it on close
        try {
          await emitAck(a, "join", r1);
          await emitAck(a, "join", r2);
          await emitAck(b, "join", r2);
          let [rooms] = await emitAck(b, "all-rooms");
          assert.ok(Array.isArray(rooms), `all-rooms answered ${JSON.stringify(rooms)}`);
          assert.ok(rooms.includes(r1) && rooms.includes(r2), JSON.stringify(rooms));
          assert.equal(new Set(rooms).size, rooms.length, "no duplicates");
          await emitAck(a, "leave", r1);
          [rooms] = await emitAck(b, "all-rooms");
          assert.ok(!rooms.includes(r1), `${r1} still listed: ${JSON.stringify(rooms)}`);
          assert.ok(rooms.includes(r2));
          a.close();
          [rooms] = await eventually(() => emitAck(b, "all-rooms"), ([l]) => !l.includes(aid));
          assert.ok(rooms.includes(r2), "b is still in r2");
        } finally {
          closeAll(a, b);
        }
      });

      it("serverCount is 1", { timeout: 10000 }, async () => {
        const a = await openSio(ctx.server, mode);
        try {
          assert.deepEqual(await emitAck(a, "server-count"), [1]);
        } finally {
          a.close();
        }
      });

      it(`asynchronous middleware accepts auth.token "ok" after ${ASYNC_AUTH_MS} ms`, { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode, { nsp: "/async-auth", auth: { token: "ok", n: 1 }, waitConnect: false });
        try {
          const t0 = Date.now();
          const auth = new Promise((resolve) => socket.once("auth", resolve));
          await connected(socket);
          const elapsed = Date.now() - t0;
          assert.ok(elapsed >= ASYNC_AUTH_MS - 20, `connected after ${elapsed} ms, before the middleware answered`);
          assert.deepEqual(await withTimeout(auth, 5000, "auth event"), { token: "ok", n: 1 });
          assert.deepEqual(await emitAck(socket, "message-with-ack", "x"), ["x"]);
        } finally {
          socket.close();
        }
      });

      it("asynchronous middleware refuses another token: connect_error \"unauthorized\" with data {code:401}", { timeout: 10000 }, async () => {
        // A manager keeps one socket per namespace: the anonymous client needs its own.
        const m = manager();
        const main = m.socket("/");
        const wrong = m.socket("/async-auth", { auth: { token: "nope" } });
        const anon = manager().socket("/async-auth");
        try {
          main.connect();
          await connected(main);
          wrong.connect();
          anon.connect();
          const [e1, e2] = await Promise.all([connectError(wrong), connectError(anon)]);
          for (const err of [e1, e2]) {
            assert.equal(err.message, "unauthorized");
            assert.deepEqual(err.data, { code: 401 });
          }
          // The refusal leaves the engine connection and the other namespace working; a retry
          // with the right token on the same connection is accepted.
          assert.deepEqual(await emitAck(main, "message-with-ack", "still"), ["still"]);
          wrong.auth = { token: "ok" };
          wrong.connect();
          await connected(wrong);
        } finally {
          [main, wrong, anon].forEach((s) => s.disconnect());
          anon.io.engine?.close();
        }
      });

      it("the synchronous variant (/sync-auth) accepts \"ok\" and refuses with {code:401}", { timeout: 10000 }, async () => {
        const good = manager().socket("/sync-auth", { auth: { token: "ok" } });
        const bad = manager().socket("/sync-auth", { auth: { token: "bad" } });
        try {
          good.connect();
          await connected(good);
          bad.connect();
          const err = await connectError(bad);
          assert.equal(err.message, "unauthorized");
          assert.deepEqual(err.data, { code: 401 });
          assert.deepEqual(await emitAck(good, "message-with-ack", 1), [1]);
        } finally {
          [good, bad].forEach((s) => s.disconnect());
          bad.io.engine?.close();
        }
      });

      it("a client that leaves while the middleware is pending does no harm", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode, { nsp: "/async-auth", auth: { token: "ok" }, waitConnect: false });
        await sleep(Math.floor(ASYNC_AUTH_MS / 3));
        socket.close(); // the answer comes after the connection is gone
        await sleep(ASYNC_AUTH_MS + 100);
        assert.ok(ctx.server.alive(), "server process is gone");
        const next = await openSio(ctx.server, mode, { nsp: "/async-auth", auth: { token: "ok" } });
        next.close();
      });

      it(`a middleware that never answers is refused after connectTimeout (${CONNECT_TIMEOUT_MS} ms)`, {
        timeout: 10000,
        // Node's connectTimeout only closes a connection that joined no namespace; it has no
        // limit on a middleware of a connection that joined another one.
        skip: TARGET !== "c" && "C server only (Node has no middleware timeout)",
      }, async () => {
        const before = await stats(ctx.server);
        const m = manager();
        const main = m.socket("/");
        const stalled = m.socket("/stalled");
        try {
          main.connect();
          await connected(main); // the connection has a namespace: only the middleware is timed
          const t0 = Date.now();
          stalled.connect();
          const err = await connectError(stalled, CONNECT_TIMEOUT_MS + 3000);
          const elapsed = Date.now() - t0;
          assert.equal(err.message, "middleware timeout");
          assert.ok(elapsed >= CONNECT_TIMEOUT_MS - 150 && elapsed <= CONNECT_TIMEOUT_MS + 1500,
            `refused after ${elapsed} ms`);
          assert.equal(stalled.connected, false);
          assert.deepEqual(await emitAck(main, "message-with-ack", "alive"), ["alive"]);
          const after = await stats(ctx.server);
          assert.equal(after.middleware_timeouts, before.middleware_timeouts + 1, JSON.stringify(after));
        } finally {
          [main, stalled].forEach((s) => s.disconnect());
        }
      });
    });
  }

  shutdownCheck(ctx);
});
