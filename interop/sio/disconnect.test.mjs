// Server-side disconnects and the client's reaction: "io server disconnect" without automatic
// reconnection; and automatic reconnection after the server drops the transport.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { MODES, transportOptions, emitAck } from "../lib/clients.mjs";
import { EventLog, nextEvent, withTimeout, sleep } from "../lib/util.mjs";

function connected(socket, ms = 5000) {
  if (socket.connected) return Promise.resolve();
  return withTimeout(new Promise((resolve) => socket.once("connect", resolve)), ms, `connect to ${socket.nsp}`);
}

describe("server-side disconnect and reconnection", () => {
  const ctx = useServer("sio");

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      function manager(extra = {}) {
        return new Manager(ctx.server.url, {
          path: "/socket.io/",
          autoConnect: false,
          reconnection: true,
          reconnectionDelay: 100,
          reconnectionDelayMax: 200,
          randomizationFactor: 0,
          timeout: 5000,
          ...transportOptions(mode),
          ...extra,
        });
      }

      it("disconnect-me(false): \"io server disconnect\", no reconnection, other namespace unaffected", { timeout: 15000 }, async () => {
        const m = manager();
        const main = m.socket("/");
        const custom = m.socket("/custom");
        try {
          main.connect();
          custom.connect();
          await Promise.all([connected(main), connected(custom)]);
          const engineId = m.engine.id;
          const connects = new EventLog(main, "connect");
          const reason = nextEvent(main, "disconnect");
          main.emit("disconnect-me", false);
          assert.equal((await reason)[0], "io server disconnect");
          assert.equal(main.connected, false);
          assert.equal(main.active, false, "the client must not plan a reconnection");
          await sleep(800); // several reconnection delays
          assert.equal(connects.items.length, 0, "the client reconnected although the server disconnected it");
          connects.stop();
          // The engine connection and the other namespace are still fine.
          assert.equal(m.engine.id, engineId);
          assert.equal(custom.connected, true);
          assert.deepEqual(await emitAck(custom, "message-with-ack", "still here"), ["still here"]);
          // An explicit connect() by the application works again.
          main.connect();
          await connected(main);
          assert.deepEqual(await emitAck(main, "message-with-ack", "back"), ["back"]);
        } finally {
          main.disconnect();
          custom.disconnect();
        }
      });

      it("disconnect-me(true): every namespace gets \"io server disconnect\" and the engine connection closes", { timeout: 15000 }, async () => {
        const m = manager();
        const main = m.socket("/");
        const custom = m.socket("/custom");
        try {
          main.connect();
          custom.connect();
          await Promise.all([connected(main), connected(custom)]);
          const engine = m.engine;
          const engineClosed = withTimeout(new Promise((resolve) => engine.once("close", (r) => resolve(r))), 5000, "engine close");
          const r1 = nextEvent(main, "disconnect");
          const r2 = nextEvent(custom, "disconnect");
          const connects = [new EventLog(main, "connect"), new EventLog(custom, "connect")];
          main.emit("disconnect-me", true);
          assert.equal((await r1)[0], "io server disconnect");
          assert.equal((await r2)[0], "io server disconnect");
          await engineClosed;
          await sleep(800);
          assert.equal(connects[0].items.length + connects[1].items.length, 0, "no automatic reconnection expected");
          connects.forEach((l) => l.stop());
          assert.equal(main.active, false);
          assert.equal(custom.active, false);
        } finally {
          main.disconnect();
          custom.disconnect();
        }
      });

      it("drop-transport: the client sees a transport loss and reconnects by itself", { timeout: 20000 }, async () => {
        const m = manager();
        const socket = m.socket("/", { auth: { again: true } });
        try {
          const firstAuth = nextEvent(socket, "auth");
          socket.connect();
          await connected(socket);
          assert.deepEqual(await firstAuth, [{ again: true }]);
          if (mode === "upgrade") {
            await withTimeout(
              new Promise((resolve) => (m.engine.transport.name === "websocket" ? resolve() : m.engine.once("upgrade", resolve))),
              10000,
              "upgrade",
            );
          }
          const firstId = socket.id;
          const firstEngine = m.engine.id;
          const reason = nextEvent(socket, "disconnect", 5000);
          const reconnected = nextEvent(m, "reconnect", 10000);
          const secondAuth = new EventLog(socket, "auth");
          socket.emit("drop-transport");
          const [why] = await reason;
          assert.ok(["transport close", "transport error"].includes(why), `disconnect reason: ${why}`);
          assert.equal(socket.active, true, "a transport loss must leave the client willing to reconnect");
          await reconnected;
          await connected(socket);
          assert.notEqual(m.engine.id, firstEngine, "a new engine session is expected");
          assert.notEqual(socket.id, firstId, "a new socket id is expected");
          await secondAuth.waitFor(1, 5000);
          assert.deepEqual(secondAuth.items[0], [{ again: true }], "auth is sent again on reconnection");
          secondAuth.stop();
          assert.deepEqual(await emitAck(socket, "message-with-ack", "after reconnect"), ["after reconnect"]);
        } finally {
          socket.disconnect();
        }
      });

      it("messages emitted while disconnected are buffered and delivered after the reconnection", { timeout: 20000 }, async () => {
        const m = manager();
        const socket = m.socket("/");
        try {
          socket.connect();
          await connected(socket);
          if (mode === "upgrade") {
            await withTimeout(
              new Promise((resolve) => (m.engine.transport.name === "websocket" ? resolve() : m.engine.once("upgrade", resolve))),
              10000,
              "upgrade",
            );
          }
          const gone = nextEvent(socket, "disconnect", 5000);
          socket.emit("drop-transport");
          await gone;
          const backs = new EventLog(socket, "message-back");
          socket.emit("message", "queued-1");
          socket.emit("message", "queued-2");
          await connected(socket, 10000);
          const got = await backs.waitFor(2, 5000);
          assert.deepEqual(got, [["queued-1"], ["queued-2"]]);
          backs.stop();
        } finally {
          socket.disconnect();
        }
      });
    });
  }

  shutdownCheck(ctx);
});
