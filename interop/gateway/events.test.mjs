// The chat gateway's events (docs/gateway.md) with socket.io-client 4.8 over WebSocket, polling
// and polling upgraded to WebSocket, against sio-server --gateway (test-only identities from the
// CONNECT auth object). Typing states expire after 300 ms here.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { MODES } from "../lib/clients.mjs";
import { sleep } from "../lib/util.mjs";
import {
  SLOW, WAIT, uuid, identity, connectUser, refusedWith, call, next, got, expectNone, join,
  expectError, closeAll, waitUntil,
} from "../lib/gateway.mjs";

const TYPING_TIMEOUT = 300 * SLOW;

describe("gateway events", () => {
  const ctx = useServer("gateway", { args: ["--gateway", "--typing-timeout", String(TYPING_TIMEOUT)] });

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      it("connected carries the identity; a client without user_id is refused", { timeout: 30000 }, async () => {
        const id = identity("org-1", "admin");
        const { socket, connected } = await connectUser(ctx.server, mode, id);
        try {
          assert.equal(connected.user_id, id.user_id);
          assert.equal(connected.organization_id, "org-1");
          assert.equal(connected.role, "admin");
          assert.equal(typeof connected.message, "string");
        } finally {
          closeAll(socket);
        }
        const partial = await connectUser(ctx.server, mode, { user_id: identity().user_id });
        try {
          assert.equal(partial.connected.organization_id, null);
          assert.equal(partial.connected.role, null);
        } finally {
          closeAll(partial.socket);
        }
        const err = await refusedWith(ctx.server, mode, { organization_id: "org-1" });
        assert.equal(err.data?.code, "TOKEN_MISSING");
      });

      it("join_conversation joins and answers; leave_conversation leaves", { timeout: 30000 }, async () => {
        const conv = uuid();
        const { socket: a } = await connectUser(ctx.server, mode, identity());
        const { socket: b } = await connectUser(ctx.server, mode, identity());
        try {
          const ack = await join(a, conv);
          assert.equal(ack.conversation_id, conv);
          assert.equal(typeof ack.message, "string");
          await join(b, conv);
          // upper case ids name the same conversation (answered in canonical lower case)
          const upper = await call(a, "join_conversation", { conversation_id: conv.toUpperCase() });
          assert.equal(upper.ok, true);
          assert.equal(upper.conversation_id, conv);

          const typing = next(b, "user_typing");
          assert.equal((await call(a, "typing_start", { conversation_id: conv })).ok, true);
          assert.equal((await typing).typing, true);

          const left = next(a, "left_conversation");
          const closed = next(b, "user_typing");
          const lack = await call(a, "leave_conversation", { conversation_id: conv });
          assert.deepEqual(lack, { ok: true, conversation_id: conv });
          assert.deepEqual(await left, { conversation_id: conv });
          // leaving ends a's typing state
          assert.deepEqual(await closed, { conversation_id: conv, user_id: a.auth.user_id, typing: false });
          // a is no member any more
          await expectError(a, "FORBIDDEN", "typing_start", { conversation_id: conv });
          // without an ack the events still come
          const joined = next(a, "joined_conversation");
          a.emit("join_conversation", { conversation_id: conv });
          assert.equal((await joined).conversation_id, conv);
        } finally {
          closeAll(a, b);
        }
      });

      it("bad payloads get BAD_REQUEST", { timeout: 30000 }, async () => {
        const { socket } = await connectUser(ctx.server, mode, identity());
        try {
          for (const event of ["join_conversation", "leave_conversation", "typing_start", "typing_stop"]) {
            await expectError(socket, "BAD_REQUEST", event, {});
            await expectError(socket, "BAD_REQUEST", event, { conversation_id: "not-a-uuid" });
            await expectError(socket, "BAD_REQUEST", event, { conversation_id: 42 });
            await expectError(socket, "BAD_REQUEST", event, "a string");
          }
          await expectError(socket, "BAD_REQUEST", "join_conversation", [uuid()]);
          await expectError(socket, "BAD_REQUEST", "join_conversation", null);
          await expectError(socket, "BAD_REQUEST", "join_conversation", { conversation_id: `${uuid()}x` });
          await expectError(socket, "BAD_REQUEST", "join_conversation", { conversation_id: uuid().replaceAll("-", "") });
          // 36 characters but not a UUID: a non-hex digit in each group, a dash moved, the last
          // dash replaced; alone (the gateway's fast path) and with another member (jansson's)
          const id = uuid();
          const bad = [0, 9, 14, 19, 35].map((i) => `${id.slice(0, i)}g${id.slice(i + 1)}`);
          bad.push(`${id.slice(0, 7)}-${id[7]}${id.slice(9)}`, `${id.slice(0, 23)}0${id.slice(24)}`);
          for (const conversation_id of bad) {
            assert.equal(conversation_id.length, 36);
            await expectError(socket, "BAD_REQUEST", "join_conversation", { conversation_id });
            await expectError(socket, "BAD_REQUEST", "join_conversation", { conversation_id, x: 1 });
          }
          await expectError(socket, "BAD_REQUEST", "join_conversation", Buffer.from("bin"));
          await expectError(socket, "BAD_REQUEST", "join_conversation");
          // an error event without an ack too
          const err = next(socket, "error");
          socket.emit("join_conversation", { conversation_id: "nope" });
          assert.equal((await err).code, "BAD_REQUEST");
          // still usable afterwards
          await join(socket, uuid());
        } finally {
          closeAll(socket);
        }
      });

      it("ping answers pong with an ISO 8601 UTC timestamp", { timeout: 30000 }, async () => {
        const { socket } = await connectUser(ctx.server, mode, identity());
        try {
          const pong = next(socket, "pong");
          const before = Date.now();
          const ack = await call(socket, "ping");
          const { timestamp } = await pong;
          assert.match(timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
          assert.ok(Math.abs(Date.parse(timestamp) - before) < 5000 * SLOW, timestamp);
          assert.equal(ack.ok, true);
          const again = next(socket, "pong");
          socket.emit("ping", {});
          assert.match((await again).timestamp, /Z$/);
        } finally {
          closeAll(socket);
        }
      });

      it("user_typing reaches the other members only, never the sender", { timeout: 30000 }, async () => {
        const conv = uuid();
        const { socket: a } = await connectUser(ctx.server, mode, identity());
        const { socket: b } = await connectUser(ctx.server, mode, identity());
        const { socket: c } = await connectUser(ctx.server, mode, identity()); // not a member
        try {
          await join(a, conv);
          await join(b, conv);
          const seen = next(b, "user_typing");
          const ack = await call(a, "typing_start", { conversation_id: conv });
          assert.deepEqual(ack, { ok: true, conversation_id: conv, typing: true });
          assert.deepEqual(await seen, { conversation_id: conv, user_id: a.auth.user_id, typing: true });
          const stop = next(b, "user_typing");
          await call(a, "typing_stop", { conversation_id: conv });
          assert.deepEqual(await stop, { conversation_id: conv, user_id: a.auth.user_id, typing: false });
          await expectNone(a, "user_typing");
          assert.deepEqual(got(c, "user_typing"), []);
          await expectError(c, "FORBIDDEN", "typing_start", { conversation_id: conv });
          await expectError(c, "FORBIDDEN", "typing_stop", { conversation_id: conv });
          await expectNone(b, "user_typing", 200 * SLOW, (p) => p.user_id === c.auth.user_id);
        } finally {
          closeAll(a, b, c);
        }
      });

      it("a typing state not refreshed expires with typing:false; refreshes keep it", { timeout: 30000 }, async () => {
        const conv = uuid();
        const { socket: a } = await connectUser(ctx.server, mode, identity());
        const { socket: b } = await connectUser(ctx.server, mode, identity());
        try {
          await join(a, conv);
          await join(b, conv);
          const t0 = Date.now();
          await call(a, "typing_start", { conversation_id: conv });
          // refreshed at about half the timeout: no expiry at the first deadline
          await sleep(TYPING_TIMEOUT / 2);
          await call(a, "typing_start", { conversation_id: conv });
          await sleep(TYPING_TIMEOUT * 0.7);
          const stops = () => got(b, "user_typing").filter((p) => !p.typing);
          assert.equal(stops().length, 0, "expired too early");
          await waitUntil(() => stops().length > 0, WAIT, "typing:false after the timeout");
          assert.deepEqual(stops()[0], { conversation_id: conv, user_id: a.auth.user_id, typing: false });
          assert.ok(Date.now() - t0 >= TYPING_TIMEOUT * 1.4, `expired after ${Date.now() - t0} ms`);
          // expired once, no second typing:false
          await expectNone(b, "user_typing", TYPING_TIMEOUT * 2);
        } finally {
          closeAll(a, b);
        }
      });

      it("a disconnect ends the typing state with typing:false", { timeout: 30000 }, async () => {
        const conv = uuid();
        const { socket: a } = await connectUser(ctx.server, mode, identity());
        const { socket: b } = await connectUser(ctx.server, mode, identity());
        try {
          await join(a, conv);
          await join(b, conv);
          const started = next(b, "user_typing");
          await call(a, "typing_start", { conversation_id: conv });
          await started;
          const ended = next(b, "user_typing", TYPING_TIMEOUT / 2 + 2000);
          const user = a.auth.user_id;
          a.disconnect();
          assert.deepEqual(await ended, { conversation_id: conv, user_id: user, typing: false });
        } finally {
          closeAll(a, b);
        }
      });

      it("members of org A receive nothing of org B's conversations", { timeout: 30000 }, async () => {
        const conv = uuid();
        const { socket: orgA } = await connectUser(ctx.server, mode, identity("tenant-a"));
        const { socket: b1 } = await connectUser(ctx.server, mode, identity("tenant-b"));
        const { socket: b2 } = await connectUser(ctx.server, mode, identity("tenant-b"));
        try {
          await join(b1, conv);
          await join(b2, conv);
          const seen = next(b2, "user_typing");
          await call(b1, "typing_start", { conversation_id: conv });
          await seen;
          await call(b1, "typing_stop", { conversation_id: conv });
          await call(b1, "leave_conversation", { conversation_id: conv });
          await sleep(200 * SLOW);
          assert.deepEqual(orgA.received.map(([e]) => e), ["connected"]);
        } finally {
          closeAll(orgA, b1, b2);
        }
      });
    });
  }

  it("two transports in one conversation", { timeout: 30000 }, async () => {
    const conv = uuid();
    const { socket: ws } = await connectUser(ctx.server, "websocket", identity());
    const { socket: poll } = await connectUser(ctx.server, "polling", identity());
    try {
      await join(ws, conv);
      await join(poll, conv);
      const seen = next(poll, "user_typing");
      await call(ws, "typing_start", { conversation_id: conv });
      assert.equal((await seen).user_id, ws.auth.user_id);
      const back = next(ws, "user_typing");
      await call(poll, "typing_start", { conversation_id: conv });
      assert.equal((await back).user_id, poll.auth.user_id);
    } finally {
      closeAll(ws, poll);
    }
  });

  shutdownCheck(ctx);
});
