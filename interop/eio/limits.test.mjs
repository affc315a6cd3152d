// maxPayload enforcement: a message over the limit ends that session only; the server keeps
// serving every other session. The server is started with --max-payload 10000.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { TARGET } from "../lib/server.mjs";
import { openEio } from "../lib/clients.mjs";
import { EventLog, withTimeout } from "../lib/util.mjs";

const MAX = 10000;

async function echo(socket, msg) {
  const log = new EventLog(socket, "message");
  try {
    socket.send(msg);
    const [[got]] = await log.waitFor(1, 5000);
    return got;
  } finally {
    log.stop();
  }
}

function closeInfo(socket) {
  return new Promise((resolve) => socket.once("close", (reason, description) => resolve({ reason, description })));
}

async function handshake(server) {
  const res = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  return JSON.parse(body.slice(1));
}

describe("maxPayload (server started with --max-payload 10000)", () => {
  const ctx = useServer("eio", { maxPayload: MAX });

  it("advertises maxPayload in the handshake", { timeout: 5000 }, async () => {
    const open = await handshake(ctx.server);
    assert.equal(open.maxPayload, MAX);
  });

  it("polling: a POST body of exactly maxPayload bytes is accepted", { timeout: 5000 }, async () => {
    const { sid } = await handshake(ctx.server);
    const body = "4" + "x".repeat(MAX - 1);
    const res = await fetch(`${ctx.server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
    const poll = await fetch(`${ctx.server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(poll.status, 200);
    assert.equal(await poll.text(), body);
  });

  it("polling: a POST body of maxPayload+1 bytes is answered 413", { timeout: 5000 }, async () => {
    const { sid } = await handshake(ctx.server);
    // Multi-byte characters: the limit is in bytes, not characters (5001 x 2 bytes = 10002 bytes).
    const body = "4" + "\u00e9".repeat(MAX / 2);
    assert.equal(Buffer.byteLength(body), MAX + 1);
    const res = await fetch(`${ctx.server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body });
    assert.equal(res.status, 413, `expected 413 for a ${MAX + 1}-byte POST, got ${res.status}`);
    await res.text();
    if (TARGET === "c") {
      // Stricter than Node (which keeps the session until the client gives up on it): our server
      // ends the session that sent an oversized payload.
      const poll = await fetch(`${ctx.server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`);
      assert.equal(poll.status, 400, "the session should be closed after a 413");
      assert.deepEqual(await poll.json(), { code: 1, message: "Session ID unknown" });
    }
  });

  it("polling client: an oversized message ends that session (\"transport error\" after HTTP 413, or \"transport close\"); others keep working", { timeout: 15000 }, async () => {
    const bystanderWs = await openEio(ctx.server, "websocket");
    const bystanderPoll = await openEio(ctx.server, "polling");
    const victim = await openEio(ctx.server, "polling");
    try {
      const closed = closeInfo(victim);
      victim.send("y".repeat(MAX + 100));
      const { reason, description } = await withTimeout(closed, 5000, "victim close");
      if (reason === "transport error") {
        // The client gave up because of the failed POST (what Node's server causes).
        assert.equal(description?.message, "xhr post error");
        assert.equal(description?.description, 413, `POST status was ${description?.description}`);
      } else {
        // The server closed the session itself and told the client through the pending GET.
        assert.equal(reason, "transport close", `unexpected close reason ${reason}`);
      }

      assert.equal(await echo(bystanderWs, "after-ws"), "after-ws");
      assert.equal(await echo(bystanderPoll, "after-poll"), "after-poll");
      const fresh = await openEio(ctx.server, "polling");
      assert.equal(await echo(fresh, "fresh"), "fresh");
      fresh.close();
    } finally {
      [bystanderWs, bystanderPoll, victim].forEach((s) => s.close());
    }
  });

  it("websocket: a frame of exactly maxPayload bytes is accepted", { timeout: 10000 }, async () => {
    const socket = await openEio(ctx.server, "websocket");
    try {
      const msg = "z".repeat(MAX - 1); // "4" + data = MAX bytes
      assert.equal(await echo(socket, msg), msg);
    } finally {
      socket.close();
    }
  });

  it("websocket client: an oversized frame closes that session (\"transport close\", close code 1009); others keep working", { timeout: 15000 }, async () => {
    const bystanderWs = await openEio(ctx.server, "websocket");
    const bystanderPoll = await openEio(ctx.server, "polling");
    const victim = await openEio(ctx.server, "websocket");
    try {
      const closed = closeInfo(victim);
      victim.send("w".repeat(MAX + 100));
      const { reason, description } = await withTimeout(closed, 5000, "victim close");
      assert.equal(reason, "transport close");
      assert.equal(description?.context?.code, 1009,
        `WebSocket close code ${description?.context?.code} (expected 1009 Message Too Big)`);

      assert.equal(await echo(bystanderWs, "after-ws"), "after-ws");
      assert.equal(await echo(bystanderPoll, "after-poll"), "after-poll");
      const fresh = await openEio(ctx.server, "websocket");
      assert.equal(await echo(fresh, "fresh"), "fresh");
      fresh.close();
    } finally {
      [bystanderWs, bystanderPoll, victim].forEach((s) => s.close());
    }
  });

  it("websocket client: an oversized binary frame closes that session too", { timeout: 15000 }, async () => {
    const victim = await openEio(ctx.server, "websocket");
    try {
      const closed = closeInfo(victim);
      victim.send(Buffer.alloc(MAX + 1, 0xab));
      const { reason } = await withTimeout(closed, 5000, "victim close");
      assert.equal(reason, "transport close");
      const fresh = await openEio(ctx.server, "websocket");
      assert.equal(await echo(fresh, "fresh"), "fresh");
      fresh.close();
    } finally {
      victim.close();
    }
  });

  shutdownCheck(ctx);
});
