// Engine.IO message exchange with the official engine.io-client against the echo server, over
// WebSocket only, HTTP long-polling only, and polling upgraded to WebSocket.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { MODES, openEio, finalTransport } from "../lib/clients.mjs";
import { EventLog, bytes, toBuffer, isBinary, withTimeout } from "../lib/util.mjs";

const UNICODE_SAMPLES = [
  "h\u00e9llo w\u00f6rld \u00e7a va",
  "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea",
  "emoji \u{1F600}\u{1F389}\u{1F680} flags \u{1F1EB}\u{1F1F7}",
  "astral \u{1D11E} \u{10348} \u{20BB7} \u{1F9EC}",
  "zwj \u{1F469}\u200D\u{1F469}\u200D\u{1F467} skin \u{1F44D}\u{1F3FD}",
  "separators \u2028 \u2029 nbsp\u00a0 bom\ufeff end",
  "quotes \" ' \\ / <tag> & {json:[1,2]}",
  "\u{1F600}",
  "",
];

function textRoundTripCases() {
  // A long string of mixed 1..4-byte UTF-8 characters (about 260 KB encoded).
  const unit = "a\u00e9\u20ac\u{1F600}";
  return [...UNICODE_SAMPLES, unit.repeat(26000)];
}

async function roundTrip(socket, messages, timeoutMs = 10000) {
  const log = new EventLog(socket, "message");
  try {
    for (const m of messages) socket.send(m);
    const got = await log.waitFor(messages.length, timeoutMs);
    return got.map((args) => args[0]);
  } finally {
    log.stop();
  }
}

describe("engine.io-client <-> eio-reference-server", () => {
  const ctx = useServer("eio");

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      it("opens a session with the advertised parameters", { timeout: 15000 }, async () => {
        const socket = await openEio(ctx.server, mode);
        try {
          assert.equal(typeof socket.id, "string");
          assert.match(socket.id, /^[A-Za-z0-9_-]{20}$/, `session id ${socket.id} is not a 20-char URL-safe id`);
          assert.equal(socket.transport.name, finalTransport(mode));
          // The client keeps the handshake values it was given.
          assert.equal(socket._pingInterval, 300);
          assert.equal(socket._pingTimeout, 200);
          assert.equal(socket._maxPayload, 1000000);
        } finally {
          socket.close();
        }
      });

      it("echoes text messages (ASCII, unicode, emoji, astral characters, empty, 260 KB)", { timeout: 20000 }, async () => {
        const socket = await openEio(ctx.server, mode);
        try {
          const sent = textRoundTripCases();
          const got = await roundTrip(socket, sent);
          for (let i = 0; i < sent.length; i++) {
            // engine.io-parser decodes a bare "4" (empty message) as a message without data.
            if (sent[i] === "" && got[i] === undefined) continue;
            assert.equal(typeof got[i], "string", `message ${i} came back as ${typeof got[i]}`);
            assert.equal(got[i], sent[i], `message ${i} differs (length sent ${sent[i].length}, got ${got[i].length})`);
          }
        } finally {
          socket.close();
        }
      });

      it("echoes binary messages as binary (Buffer, Uint8Array, ArrayBuffer, all byte values, empty, 300 KB)", { timeout: 20000 }, async () => {
        const socket = await openEio(ctx.server, mode);
        try {
          const all = Buffer.alloc(256);
          for (let i = 0; i < 256; i++) all[i] = i;
          const sent = [
            Buffer.from([1, 2, 3, 4]),
            Uint8Array.from([0, 255, 0x1e, 0x34, 0x62]), // bytes that look like separators / "4" / "b"
            Uint8Array.from([9, 8, 7]).buffer,
            all,
            Buffer.alloc(0),
            bytes(300 * 1024, 7),
          ];
          const got = await roundTrip(socket, sent);
          for (let i = 0; i < sent.length; i++) {
            assert.ok(isBinary(got[i]), `message ${i} came back as ${typeof got[i]} (${JSON.stringify(String(got[i]).slice(0, 40))})`);
            assert.ok(toBuffer(got[i]).equals(toBuffer(sent[i])), `binary message ${i} differs`);
          }
        } finally {
          socket.close();
        }
      });

      it("1000 messages arrive complete and in order in both directions (text and binary interleaved)", { timeout: 30000 }, async () => {
        // In "upgrade" mode the burst starts right after open, so it crosses the transport switch.
        const socket = await openEio(ctx.server, mode, { waitUpgrade: false });
        try {
          const sent = [];
          for (let i = 0; i < 1000; i++) {
            sent.push(i % 10 === 9 ? Buffer.from(`bin-${i}`) : `msg-${i}-\u{1F600}`);
          }
          const got = await roundTrip(socket, sent, 20000);
          for (let i = 0; i < sent.length; i++) {
            if (typeof sent[i] === "string") {
              assert.equal(got[i], sent[i], `message #${i} out of order or altered`);
            } else {
              assert.ok(isBinary(got[i]) && toBuffer(got[i]).equals(sent[i]), `binary message #${i} out of order or altered`);
            }
          }
          if (mode === "upgrade") {
            await withTimeout(socket.upgraded, 10000, "upgrade after the burst");
            assert.equal(socket.transport.name, "websocket");
          }
        } finally {
          socket.close();
        }
      });

      it("keeps concurrent sessions apart", { timeout: 20000 }, async () => {
        const sockets = await Promise.all([0, 1, 2, 3].map(() => openEio(ctx.server, mode)));
        try {
          const results = await Promise.all(
            sockets.map((s, k) => roundTrip(s, Array.from({ length: 200 }, (_, i) => `c${k}-${i}`))),
          );
          results.forEach((got, k) => {
            assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => `c${k}-${i}`));
          });
          assert.equal(new Set(sockets.map((s) => s.id)).size, sockets.length, "session ids must be unique");
        } finally {
          sockets.forEach((s) => s.close());
        }
      });

      it("closes cleanly from the client side", { timeout: 10000 }, async () => {
        const socket = await openEio(ctx.server, mode);
        const closed = new Promise((resolve) => socket.once("close", (reason) => resolve(reason)));
        socket.close();
        assert.equal(await withTimeout(closed, 5000, "close"), "forced close");
        // The server still accepts new sessions afterwards.
        const again = await openEio(ctx.server, mode);
        const got = await roundTrip(again, ["still here"]);
        assert.deepEqual(got, ["still here"]);
        again.close();
      });
    });
  }

  shutdownCheck(ctx);
});
