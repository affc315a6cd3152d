// Socket.IO events, acknowledgements (both directions, with timeouts), binary attachments,
// volatile emits and long ordered streams, for each of the three transport modes.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { MODES, openSio, emitAck } from "../lib/clients.mjs";
import { EventLog, nextEvent, withTimeout, sleep, bytes, isBinary, toBuffer } from "../lib/util.mjs";

const PLAIN_ARGS = [
  1,
  "2",
  { 3: [true] },
  -0.5,
  1e21,
  null,
  false,
  "",
  "unicode \u00e9\u65e5\u{1F600}\u{1D11E} \u2028 \"quoted\" \\ back",
  [[], {}, [1, [2, [3]]]],
  { a: { b: { c: "deep" } }, list: [null, 0, "x"] },
];

/** Deep comparison that treats all binary types as equal when their bytes are. */
function assertSameData(actual, expected, where = "value") {
  if (isBinary(expected)) {
    assert.ok(isBinary(actual), `${where}: expected binary, got ${typeof actual} ${JSON.stringify(actual)?.slice(0, 80)}`);
    assert.ok(toBuffer(actual).equals(toBuffer(expected)), `${where}: bytes differ`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected array`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => assertSameData(actual[i], e, `${where}[${i}]`));
  } else if (expected && typeof expected === "object") {
    assert.ok(actual && typeof actual === "object" && !isBinary(actual), `${where}: expected object`);
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${where}: keys`);
    for (const k of Object.keys(expected)) assertSameData(actual[k], expected[k], `${where}.${k}`);
  } else {
    assert.deepEqual(actual, expected, where);
  }
}

function binaryArgs() {
  return [
    Buffer.from([1, 2, 3]),
    "text between",
    { file: Uint8Array.from([4, 5, 6]), name: "f.bin", nested: [Buffer.from("\u{1F600}"), { deeper: Buffer.alloc(0) }] },
    [Buffer.from([0xff]), 7, Uint8Array.from([0, 0x1e, 0x62]).buffer],
    bytes(200 * 1024, 3),
  ];
}

describe("socket.io-client events and acks", () => {
  const ctx = useServer("sio");

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      it("message -> message-back with plain JSON arguments", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode);
        try {
          const back = nextEvent(socket, "message-back");
          socket.emit("message", ...PLAIN_ARGS);
          assertSameData(await back, PLAIN_ARGS, "message-back args");
        } finally {
          socket.close();
        }
      });

      it("client -> server ack returns the same arguments", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode);
        try {
          assertSameData(await emitAck(socket, "message-with-ack", ...PLAIN_ARGS), PLAIN_ARGS, "ack args");
          assert.deepEqual(await emitAck(socket, "message-with-ack"), [], "ack without arguments");
          assert.equal(await socket.timeout(3000).emitWithAck("message-with-ack", "single"), "single");
        } finally {
          socket.close();
        }
      });

      it("binary arguments (several attachments, nested, empty, 200 KB) survive message-back", { timeout: 15000 }, async () => {
        const socket = await openSio(ctx.server, mode);
        try {
          const args = binaryArgs();
          const back = nextEvent(socket, "message-back");
          socket.emit("message", ...args);
          assertSameData(await back, args, "message-back args");
        } finally {
          socket.close();
        }
      });

      it("binary arguments come back in a binary ack", { timeout: 15000 }, async () => {
        const socket = await openSio(ctx.server, mode);
        try {
          const args = binaryArgs();
          assertSameData(await emitAck(socket, "message-with-ack", ...args), args, "ack args");
        } finally {
          socket.close();
        }
      });

      it("client-side ack timeout fires when the server never acks; the connection stays usable", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode);
        try {
          const t0 = Date.now();
          const err = await withTimeout(
            new Promise((resolve) => socket.timeout(300).emit("no-such-event", 1, (e) => resolve(e))),
            3000,
            "client ack timeout",
          );
          const elapsed = Date.now() - t0;
          assert.ok(err instanceof Error, "callback must get an error");
          assert.equal(err.message, "operation has timed out");
          assert.ok(elapsed >= 250 && elapsed < 2000, `timeout fired after ${elapsed} ms`);
          await assert.rejects(socket.timeout(200).emitWithAck("no-such-event"), /operation has timed out/);
          assert.deepEqual(await emitAck(socket, "message-with-ack", "alive"), ["alive"]);
        } finally {
          socket.close();
        }
      });

      it("server -> client ack: the server gets the client's answer (JSON and binary)", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode);
        try {
          socket.on("ask", (...args) => {
            const ack = args.pop();
            ack(...args, "from-client");
          });
          const result = nextEvent(socket, "ask-result");
          socket.emit("server-ack", 2000, "q", { n: 1 });
          assert.deepEqual(await result, [{ ok: true, args: ["q", { n: 1 }, "from-client"] }]);

          const result2 = nextEvent(socket, "ask-result");
          const payload = Buffer.from([9, 8, 7, 6]);
          socket.emit("server-ack", 2000, payload, { inner: Uint8Array.from([1]) });
          const [r2] = await result2;
          assert.equal(r2.ok, true);
          assertSameData(r2.args, [payload, { inner: Uint8Array.from([1]) }, "from-client"], "binary ack args");
        } finally {
          socket.close();
        }
      });

      it("server -> client ack timeout: the server reports a timeout; a late ack is ignored", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode);
        try {
          let lateAck = null;
          socket.on("ask", (...args) => {
            lateAck = args.pop();
          });
          const t0 = Date.now();
          const result = nextEvent(socket, "ask-result", 5000);
          socket.emit("server-ack", 300, "will not be answered");
          assert.deepEqual(await result, [{ ok: false, error: "timeout" }]);
          const elapsed = Date.now() - t0;
          assert.ok(elapsed >= 250 && elapsed < 2500, `server timeout after ${elapsed} ms`);
          assert.equal(typeof lateAck, "function", "client must have received the ask event");
          // Answer after the timeout: the server must ignore it and stay healthy.
          const extra = new EventLog(socket, "ask-result");
          lateAck("too late");
          assert.deepEqual(await emitAck(socket, "message-with-ack", "after late ack"), ["after late ack"]);
          await sleep(100);
          assert.equal(extra.items.length, 0, "a late ack must not produce a second result");
          extra.stop();
        } finally {
          socket.close();
        }
      });

      it("1000 events arrive complete and in order in both directions", { timeout: 30000 }, async () => {
        // In "upgrade" mode the burst starts before the upgrade completes.
        const socket = await openSio(ctx.server, mode, { waitUpgrade: false });
        try {
          const log = new EventLog(socket, "message-back");
          for (let i = 0; i < 1000; i++) {
            if (i % 50 === 49) socket.emit("message", i, Buffer.from(`b${i}`));
            else socket.emit("message", i, `m${i}\u{1F600}`);
          }
          const got = await log.waitFor(1000, 20000);
          log.stop();
          for (let i = 0; i < 1000; i++) {
            assert.equal(got[i][0], i, `event #${i} out of order (got ${got[i][0]})`);
            if (i % 50 === 49) assertSameData(got[i][1], Buffer.from(`b${i}`), `event #${i}`);
            else assert.equal(got[i][1], `m${i}\u{1F600}`);
          }
          if (mode === "upgrade") {
            await withTimeout(
              new Promise((resolve) => {
                if (socket.io.engine.transport.name === "websocket") resolve();
                else socket.io.engine.once("upgrade", resolve);
              }),
              10000,
              "upgrade after the burst",
            );
          }
        } finally {
          socket.close();
        }
      });

      it("1000 acks arrive, each with its own arguments", { timeout: 30000 }, async () => {
        const socket = await openSio(ctx.server, mode, { waitUpgrade: false });
        try {
          const order = [];
          const all = [];
          for (let i = 0; i < 1000; i++) {
            all.push(
              new Promise((resolve, reject) => {
                socket.timeout(20000).emit("message-with-ack", i, { i }, (err, a, b) => {
                  if (err) return reject(new Error(`ack #${i} missing`));
                  order.push(a);
                  assert.deepEqual(b, { i: a });
                  resolve();
                });
              }),
            );
          }
          await Promise.all(all);
          assert.deepEqual(order, Array.from({ length: 1000 }, (_, i) => i), "acks must come back in order");
        } finally {
          socket.close();
        }
      });

      it("volatile events: whatever arrives is in order and undamaged, the next regular event arrives", { timeout: 10000 }, async () => {
        const socket = await openSio(ctx.server, mode);
        try {
          const log = new EventLog(socket, "volatile-msg");
          const done = nextEvent(socket, "volatile-done");
          await emitAck(socket, "volatile", 100);
          assert.deepEqual(await done, [100]);
          await sleep(50);
          const got = log.items.map((a) => a[0]);
          log.stop();
          for (let k = 1; k < got.length; k++) assert.ok(got[k] > got[k - 1], `volatile events out of order: ${got}`);
          assert.ok(got.every((v) => Number.isInteger(v) && v >= 0 && v < 100), `unexpected values ${got}`);
          assert.deepEqual(await emitAck(socket, "message-with-ack", "after volatile"), ["after volatile"]);
        } finally {
          socket.close();
        }
      });

      if (mode === "websocket") {
        it("a volatile event on an idle WebSocket is delivered", { timeout: 10000 }, async () => {
          const socket = await openSio(ctx.server, mode);
          try {
            await sleep(50);
            const log = new EventLog(socket, "volatile-msg");
            const done = nextEvent(socket, "volatile-done");
            socket.emit("volatile", 1);
            await done;
            await sleep(20);
            assert.deepEqual(log.items, [[0]], "an idle, writable WebSocket must not drop the volatile event");
            log.stop();
          } finally {
            socket.close();
          }
        });
      }
    });
  }

  shutdownCheck(ctx);
});
