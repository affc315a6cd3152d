// The gateway's bounds: per-socket rate limits (token buckets), the per-user connection cap,
// floods of bad payloads and of typing states, over WebSocket, polling and upgrade.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { MODES } from "../lib/clients.mjs";
import { sleep } from "../lib/util.mjs";
import {
  SLOW, WAIT, uuid, identity, connectUser, refusedWith, call, next, got, expectError, join,
  closeAll, waitUntil,
} from "../lib/gateway.mjs";

describe("gateway rate limits", () => {
  // 6 events per minute: a token every 10 s, so nothing refills during a test; typing 3 per 5 s
  const ctx = useServer("gateway", { args: ["--gateway", "--rate-limit", "6", "--typing-rate-limit", "3"] });

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      it("the 7th event within a minute is dropped with RATE_LIMITED", { timeout: 30000 }, async () => {
        const id = identity();
        const { socket } = await connectUser(ctx.server, mode, id);
        const { socket: other } = await connectUser(ctx.server, mode, id); // same user, own bucket
        try {
          for (let i = 0; i < 6; i++) assert.equal((await call(socket, "ping")).ok, true);
          const pongs = got(socket, "pong").length;
          await expectError(socket, "RATE_LIMITED", "ping");
          await expectError(socket, "RATE_LIMITED", "join_conversation", { conversation_id: uuid() });
          await sleep(100 * SLOW);
          assert.equal(got(socket, "pong").length, pongs, "a dropped ping was answered");
          assert.equal(got(socket, "joined_conversation").length, 0);
          assert.equal((await call(other, "ping")).ok, true);
        } finally {
          closeAll(socket, other);
        }
      });

      it("typing events have their own bucket (3 per 5 s), refilled over time", { timeout: 30000 }, async () => {
        const conv = uuid();
        const { socket } = await connectUser(ctx.server, mode, identity());
        try {
          await join(socket, conv);
          for (let i = 0; i < 3; i++) assert.equal((await call(socket, "typing_start", { conversation_id: conv })).ok, true);
          await expectError(socket, "RATE_LIMITED", "typing_stop", { conversation_id: conv });
          await sleep(1800); // one typing token back (5 s / 3)
          assert.equal((await call(socket, "typing_stop", { conversation_id: conv })).ok, true);
        } finally {
          closeAll(socket);
        }
      });
    });
  }

  shutdownCheck(ctx);
});

describe("gateway connection cap and floods", () => {
  const ctx = useServer("gateway", {
    args: ["--gateway", "--max-connections-per-user", "2", "--rate-limit", "0", "--typing-rate-limit", "0"],
  });

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      it("a user's third socket is refused with CONNECTION_LIMIT until one leaves", { timeout: 30000 }, async () => {
        const id = identity();
        const { socket: s1 } = await connectUser(ctx.server, mode, id);
        const { socket: s2 } = await connectUser(ctx.server, mode, id);
        let s4;
        try {
          const err = await refusedWith(ctx.server, mode, id);
          assert.equal(err.data?.code, "CONNECTION_LIMIT");
          assert.equal(typeof err.message, "string");
          // another user is not affected
          const { socket: s3 } = await connectUser(ctx.server, mode, identity());
          closeAll(s3);
          s1.disconnect();
          await waitUntil(() => !s1.connected, WAIT, "s1 to close");
          // the place comes back once the server saw the disconnect
          const end = Date.now() + WAIT;
          while (!s4) {
            try {
              s4 = (await connectUser(ctx.server, mode, id)).socket;
            } catch (e) {
              if (Date.now() > end) throw e;
              await sleep(50);
            }
          }
        } finally {
          closeAll(s1, s2, s4);
        }
      });
    });
  }

  it("concurrent connects of one user: exactly the cap gets in", { timeout: 30000 }, async () => {
    const id = identity();
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => connectUser(ctx.server, MODES[i % 3], id)),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    try {
      assert.equal(ok.length, 2);
      for (const r of results.filter((x) => x.status === "rejected")) assert.match(r.reason.message, /connect_error/);
    } finally {
      closeAll(ok.map((r) => r.value.socket));
    }
  });

  it("a flood of wrong payload types is answered and survived", { timeout: 60000 }, async () => {
    const { socket } = await connectUser(ctx.server, "websocket", identity());
    try {
      const junk = [null, 1, "x", [], true, { conversation_id: null }, { conversation_id: {} }, { conversation_id: [1] },
        { conversation_id: "0".repeat(36) }, { conversation_id: "\u0000".repeat(36) }, { conversation_id: "é".repeat(36) },
        { conversation_id: "x".repeat(100000) }, Buffer.alloc(1000)];
      const events = ["join_conversation", "leave_conversation", "typing_start", "typing_stop", "ping", "unknown_event"];
      for (let round = 0; round < 20; round++)
        for (const e of events) for (const j of junk) socket.emit(e, j);
      for (const e of events) socket.emit(e);
      const r = await call(socket, "ping");
      assert.equal(r.ok, true);
      await waitUntil(() => got(socket, "error").length >= 20 * 4 * (junk.length - 1), WAIT * 2, "the error events");
      assert.ok(got(socket, "error").every((e) => e.code === "BAD_REQUEST"));
    } finally {
      closeAll(socket);
    }
  });

  it("typing in more conversations than a socket may hold closes the oldest state", { timeout: 60000 }, async () => {
    const convs = Array.from({ length: 17 }, () => uuid());
    const { socket: a } = await connectUser(ctx.server, "websocket", identity());
    const { socket: b } = await connectUser(ctx.server, "websocket", identity());
    try {
      for (const c of convs) {
        await join(a, c);
        await join(b, c);
      }
      for (const c of convs.slice(0, 16)) await call(a, "typing_start", { conversation_id: c });
      const closed = next(b, "user_typing");
      await sleep(50);
      const before = got(b, "user_typing").length;
      await call(a, "typing_start", { conversation_id: convs[16] });
      await waitUntil(() => got(b, "user_typing").length >= before + 2, WAIT, "two user_typing events");
      const last = got(b, "user_typing").slice(before);
      assert.deepEqual(last.find((p) => !p.typing), { conversation_id: convs[0], user_id: a.auth.user_id, typing: false });
      assert.ok(last.some((p) => p.typing && p.conversation_id === convs[16]));
      void closed.catch(() => {});
    } finally {
      closeAll(a, b);
    }
  });

  shutdownCheck(ctx);
});
