// Socket.IO connection, auth and namespaces with the official socket.io-client, for each of the
// three transport modes.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { Socket as EioSocket } from "engine.io-client";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { MODES, openSio, transportOptions, finalTransport, waitForUpgrade, emitAck } from "../lib/clients.mjs";
import { nextEvent, withTimeout, sleep } from "../lib/util.mjs";

const AUTH = { token: "abc", n: 42, list: [1, "two", null, true], nested: { uni: "\u00fc\u{1F600}\u{1D11E}" } };

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

describe("socket.io-client connect, auth and namespaces", () => {
  const ctx = useServer("sio");

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      function manager() {
        return new Manager(ctx.server.url, {
          path: "/socket.io/",
          reconnection: false,
          autoConnect: false, // sockets connect only when the test calls connect()
          timeout: 5000,
          ...transportOptions(mode),
        });
      }

      it("connects to / with auth; the server sees the same auth object", { timeout: 15000 }, async () => {
        const socket = await openSio(ctx.server, mode, { auth: AUTH, waitConnect: false });
        try {
          const authEvent = nextEvent(socket, "auth");
          await connected(socket);
          assert.deepEqual(await authEvent, [AUTH]);
          assert.equal(typeof socket.id, "string");
          assert.match(socket.id, /^[A-Za-z0-9_-]{20}$/, `socket id ${socket.id}`);
          assert.notEqual(socket.id, socket.io.engine.id, "socket id must differ from the engine session id");
          if (mode === "upgrade") await waitForUpgrade(socket);
          assert.equal(socket.io.engine.transport.name, finalTransport(mode));
        } finally {
          socket.close();
        }
      });

      it("the server's handshake record: peer address, query and headers", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode, { query: { room: "a b", n: "1" } });
        try {
          const [hs] = await emitAck(socket, "handshake");
          assert.ok(["127.0.0.1", "::ffff:127.0.0.1"].includes(hs.address), `address ${hs.address}`);
          assert.equal(hs.query.room, "a b");
          assert.equal(hs.query.n, "1");
          assert.equal(hs.query.EIO, "4");
          assert.equal(hs.secure, false);
          assert.match(hs.headers.host, /^(127\.0\.0\.1|localhost):\d+$/);
          assert.match(hs.url, /^\/socket\.io\/\?/);
          assert.match(hs.url, /[?&]room=a%20b(&|$)/);
          assert.match(hs.url, /[?&]EIO=4(&|$)/);
        } finally {
          socket.close();
        }
      });

      it("connects without auth: the server sees {}", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode, { waitConnect: false });
        try {
          const authEvent = nextEvent(socket, "auth");
          await connected(socket);
          assert.deepEqual(await authEvent, [{}]);
        } finally {
          socket.close();
        }
      });

      it("several namespaces share one engine connection (/, /custom, /dyn-7)", { timeout: 15000 }, async () => {
        const m = manager();
        const main = m.socket("/", { auth: { who: "main" } });
        const custom = m.socket("/custom", { auth: { who: "custom" } });
        const dyn = m.socket("/dyn-7", { auth: { who: "dyn" } });
        try {
          const auths = [main, custom, dyn].map((s) => nextEvent(s, "auth"));
          main.connect();
          custom.connect();
          dyn.connect();
          await Promise.all([main, custom, dyn].map((s) => connected(s)));
          assert.deepEqual(await auths[0], [{ who: "main" }]);
          assert.deepEqual(await auths[1], [{ who: "custom" }]);
          assert.deepEqual(await auths[2], [{ who: "dyn" }]);
          assert.equal(new Set([main.id, custom.id, dyn.id]).size, 3, "socket ids must differ per namespace");
          // Events are routed per namespace.
          assert.deepEqual(await emitAck(custom, "message-with-ack", "c", 1), ["c", 1]);
          assert.deepEqual(await emitAck(dyn, "message-with-ack", { d: [2] }), [{ d: [2] }]);
          assert.deepEqual(await emitAck(main, "message-with-ack", "m"), ["m"]);
          // Leaving one namespace keeps the others (and the engine connection) alive.
          const engineId = m.engine.id;
          custom.disconnect();
          await sleep(100);
          assert.deepEqual(await emitAck(main, "message-with-ack", "still"), ["still"]);
          assert.deepEqual(await emitAck(dyn, "message-with-ack", "still"), ["still"]);
          assert.equal(m.engine.id, engineId);
          // ... and rejoining it works.
          const again = nextEvent(custom, "auth");
          custom.connect();
          await connected(custom);
          assert.deepEqual(await again, [{ who: "custom" }]);
        } finally {
          [main, custom, dyn].forEach((s) => s.disconnect());
        }
      });

      it("dynamic namespaces: /dyn-<digits> is accepted, /dyn-abc and /nope are \"Invalid namespace\"", { timeout: 15000 }, async () => {
        const m = manager();
        const main = m.socket("/");
        const good = m.socket("/dyn-123456");
        const bad = m.socket("/dyn-abc");
        const unknown = m.socket("/nope");
        try {
          main.connect();
          await connected(main);
          const goodAuth = nextEvent(good, "auth");
          good.connect();
          await connected(good);
          assert.deepEqual(await goodAuth, [{}]);
          bad.connect();
          unknown.connect();
          const [e1, e2] = await Promise.all([connectError(bad), connectError(unknown)]);
          assert.equal(e1.message, "Invalid namespace");
          assert.equal(e2.message, "Invalid namespace");
          // The refusal leaves the engine connection and the other namespaces working.
          assert.deepEqual(await emitAck(main, "message-with-ack", 1), [1]);
          assert.deepEqual(await emitAck(good, "message-with-ack", 2), [2]);
        } finally {
          [main, good, bad, unknown].forEach((s) => s.disconnect());
        }
      });

      it("/private refuses without the token: CONNECT_ERROR \"unauthorized\" with data {code:401}", { timeout: 15000 }, async () => {
        const m = manager();
        const main = m.socket("/");
        const anon = m.socket("/private");
        const wrong = m.socket("/private", { auth: { token: "guess" } });
        try {
          main.connect();
          await connected(main);
          anon.connect();
          const err = await connectError(anon);
          assert.equal(err.message, "unauthorized");
          assert.deepEqual(err.data, { code: 401 });
          wrong.connect();
          const err2 = await connectError(wrong);
          assert.equal(err2.message, "unauthorized");
          assert.deepEqual(err2.data, { code: 401 });
          assert.equal(anon.connected, false);
          assert.deepEqual(await emitAck(main, "message-with-ack", "ok"), ["ok"]);
        } finally {
          [main, anon, wrong].forEach((s) => s.disconnect());
        }
      });

      it("/private accepts auth.token === \"secret\"", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode, { nsp: "/private", auth: { token: "secret", extra: 1 }, waitConnect: false });
        try {
          const auth = nextEvent(socket, "auth");
          await connected(socket);
          assert.deepEqual(await auth, [{ token: "secret", extra: 1 }]);
        } finally {
          socket.close();
        }
      });

      it("after a refusal the client can retry with the right token", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode, { nsp: "/private", waitConnect: false });
        try {
          const err = await connectError(socket);
          assert.equal(err.message, "unauthorized");
          // Retry on the same manager with the right token.
          socket.auth = { token: "secret" };
          socket.connect();
          await connected(socket);
        } finally {
          socket.close();
        }
      });
    });
  }

  it("an engine connection that never joins a namespace is closed after connectTimeout (1000 ms)", { timeout: 10000 }, async () => {
    for (const transports of [["websocket"], ["polling"]]) {
      const eio = new EioSocket(ctx.server.url, { path: "/socket.io/", transports });
      await withTimeout(new Promise((resolve) => eio.once("open", resolve)), 5000, "engine open");
      const t0 = Date.now();
      const reason = await withTimeout(new Promise((resolve) => eio.once("close", resolve)), 5000, "server-side close");
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 700 && elapsed <= 2500, `${transports[0]}: closed after ${elapsed} ms (${reason})`);
      assert.notEqual(reason, "ping timeout", `${transports[0]}: the server should close, not go silent`);
    }
  });

  shutdownCheck(ctx);
});
