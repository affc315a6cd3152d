// The handshake filter (sio_server_set_allow_request, Node's engine.io allowRequest) through
// sio-reference-server: --deny-header x-deny answers inside the hook, --deny-after-ms N answers
// from a timer N ms later. A refused polling handshake gets 403 {"code":4,"message":...}; a
// WebSocket refused inside the hook gets the 400 upgrade refusal, one refused later is closed
// with 1008 and the message. Clients that leave while the decision is pending must not hurt.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import WebSocket from "ws";
import { io } from "socket.io-client";

import { TARGET } from "../lib/server.mjs";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { sleep, withTimeout } from "../lib/util.mjs";

const C_ONLY = TARGET !== "c";
const HANDSHAKE = "/socket.io/?EIO=4&transport=polling";

function get(server, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: server.port, path, agent: false, headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
  });
}

/** Connects a socket.io client; resolves "connect" or the connect_error message. */
function tryConnect(server, transports, headers = {}) {
  const socket = io(server.url, { transports, extraHeaders: headers, reconnection: false,
    forceNew: true, timeout: 3000 });
  return withTimeout(new Promise((resolve) => {
    socket.on("connect", () => resolve({ socket, result: "connect" }));
    socket.on("connect_error", (err) => resolve({ socket, result: "connect_error", err }));
  }), 5000, "connect or connect_error").finally(() => socket.close());
}

/** A raw WebSocket handshake; resolves the first event: open packet, close (code, reason) or
 *  an unexpected HTTP response. */
function rawWs(server, headers = {}) {
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`,
      { headers });
    ws.on("message", (data) => { resolve({ message: data.toString() }); ws.terminate(); });
    ws.on("close", (code, reason) => resolve({ close: code, reason: reason.toString() }));
    ws.on("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    ws.on("error", () => {});
  }), 5000, "WebSocket outcome");
}

describe("allowRequest answered inside the hook", { skip: C_ONLY && "C servers only" }, () => {
  const ctx = useServer("sio", { args: ["--deny-header", "x-deny"] });

  it("refuses a polling handshake with 403 and Node's error body", async () => {
    let res = await get(ctx.server, HANDSHAKE, { "x-deny": "1" });
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.body), { code: 4, message: "Forbidden" });
    res = await get(ctx.server, HANDSHAKE, { "x-deny": "custom" });
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.body), { code: 4, message: "custom refusal" });
    res = await get(ctx.server, HANDSHAKE);
    assert.equal(res.status, 200);
    assert.match(res.body, /^0\{"sid"/);
  });

  it("gives socket.io-client a connect_error, polling and WebSocket-only", async () => {
    for (const transports of [["polling"], ["websocket"]]) {
      const refused = await tryConnect(ctx.server, transports, { "x-deny": "1" });
      assert.equal(refused.result, "connect_error", `${transports}`);
      const allowed = await tryConnect(ctx.server, transports);
      assert.equal(allowed.result, "connect", `${transports}`);
    }
  });

  it("refuses the WebSocket upgrade with the 400 and the message", async () => {
    const res = await rawWs(ctx.server, { "x-deny": "custom" });
    assert.equal(res.status, 400);
    assert.equal(res.body, "custom refusal");
  });

  shutdownCheck(ctx);
});

describe("allowRequest answered 100 ms later", { skip: C_ONLY && "C servers only" }, () => {
  const ctx = useServer("sio", { args: ["--deny-after-ms", "100"] });

  it("holds the polling handshake until allowed, or answers 403", async () => {
    const t0 = Date.now();
    let res = await get(ctx.server, HANDSHAKE);
    assert.equal(res.status, 200);
    assert.match(res.body, /^0\{"sid"/);
    assert.ok(Date.now() - t0 >= 90, `answered after ${Date.now() - t0} ms`);
    res = await get(ctx.server, HANDSHAKE, { "x-deny": "1" });
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.body), { code: 4, message: "Forbidden" });
  });

  it("connects socket.io-client once allowed, polling and WebSocket", async () => {
    for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
      const { result } = await tryConnect(ctx.server, transports);
      assert.equal(result, "connect", `${transports}`);
    }
  });

  it("closes a refused WebSocket with 1008 and the message", async () => {
    let res = await rawWs(ctx.server, { "x-deny": "custom" });
    assert.deepEqual(res, { close: 1008, reason: "custom refusal" });
    res = await rawWs(ctx.server);
    assert.match(res.message, /^0\{"sid"/);
    const refused = await tryConnect(ctx.server, ["websocket"], { "x-deny": "1" });
    assert.equal(refused.result, "connect_error");
  });

  it("survives clients that leave while the decision is pending", async () => {
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${ctx.server.port}/socket.io/?EIO=4&transport=websocket`);
      ws.on("error", () => {});
      ws.on("open", () => ws.terminate());
      const req = http.get({ host: "127.0.0.1", port: ctx.server.port, path: HANDSHAKE, agent: false });
      req.on("error", () => {});
      setTimeout(() => req.destroy(), 20);
    }
    await sleep(300); // past the answers, which now go nowhere
    assert.ok(ctx.server.alive());
    const res = await get(ctx.server, HANDSHAKE);
    assert.equal(res.status, 200);
  });

  shutdownCheck(ctx);
});
