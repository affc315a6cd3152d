// Graceful drain (docs/operations.md): two sio-server nodes on one Redis; 2,000 clients of node A
// (spread over client processes) reconnect to node B when A, started with --drain-seconds, gets
// SIGTERM. A answers /health and new handshakes with 503 while it drains, closes the sessions
// in batches spread over the window, loses no message it acknowledged (backend API emits taken
// by A during the drain all reach a listener on B through Redis) and exits 0.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { SKIP, ms, startRedis, startSioServerApp, stopAll, waitUntil } from "../lib/redis.mjs";
import { withTimeout } from "../lib/util.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLIENTS = 2000;
const PROCESSES = 5;
const DRAIN_S = 4;
const TOKEN = "drain-test-api-token";

function request(server, method, p, body) {
  return new Promise((resolve) => {
    const data = body ? JSON.stringify(body) : undefined;
    const req = http.request(
      {
        host: "127.0.0.1",
        port: server.port,
        path: p,
        method,
        agent: false,
        headers: { authorization: `Bearer ${TOKEN}`, ...(data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      },
    );
    req.on("error", () => resolve(0));
    req.setTimeout(ms(5000), () => req.destroy());
    req.end(data);
  });
}

function child(a, b, n, tag) {
  const p = fork(path.join(here, "drain-clients.mjs"), [a.url, b.url, String(n), tag], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const messages = [];
  p.on("message", (m) => messages.push(m));
  return {
    p,
    async next(type, timeout) {
      await waitUntil(() => messages.find((m) => m.type === type), timeout, `${type} from client process ${tag}`);
      const i = messages.findIndex((m) => m.type === type);
      return messages.splice(i, 1)[0];
    },
  };
}

describe("graceful drain", { skip: SKIP, timeout: ms(100000) }, () => {
  let redis, a, b, procs = [], listener;
  const flags = ["--gateway", "--api-token", TOKEN, "--max-connections-per-user", "0", "--rate-limit", "0", "--quiet"];

  before(async () => {
    redis = await startRedis();
    a = await startSioServerApp({ url: redis.url }, [...flags, "--drain-seconds", String(DRAIN_S)]);
    b = await startSioServerApp({ url: redis.url }, flags);
  });

  after(async () => {
    for (const c of procs) c.p.connected && c.p.send({ type: "exit" });
    listener?.close();
    const errors = await stopAll();
    if (errors.length) throw errors[0];
  });

  it("moves 2,000 clients to the other node in batches, loses no acknowledged message, exits 0", async () => {
    listener = io(b.url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { user_id: "listener", organization_id: "drain-org" } });
    const got = new Set();
    listener.on("news", (m) => got.add(m.seq));
    await withTimeout(new Promise((r) => listener.once("connected", r)), ms(5000), "listener");

    const per = CLIENTS / PROCESSES;
    procs = Array.from({ length: PROCESSES }, (_, i) => child(a, b, per, `p${i}`));
    for (const c of procs) await c.next("ready", ms(60000));
    await waitUntil(async () => (await request(a, "GET", "/health")) === 200, ms(2000), "A healthy");

    // SIGTERM, then backend emits to A through the whole drain; those A answers 200 must arrive
    const t0 = Date.now();
    a.signal("SIGTERM");
    await waitUntil(async () => (await request(a, "GET", "/health")) === 503, ms(2000), "A's health 503");
    assert.equal(await request(a, "GET", "/socket.io/?EIO=4&transport=polling"), 503, "new handshakes refused");
    const acked = [];
    let seq = 0, exited = false;
    a.exited().then(() => (exited = true));
    while (!exited) {
      const n = seq++;
      const st = await request(a, "POST", "/api/emit", { event: "news", data: { seq: n }, to: { organizations: ["drain-org"] } });
      if (st === 200) acked.push(n);
      await new Promise((r) => setTimeout(r, 20));
    }
    const tEnd = Date.now();
    const { code } = await a.exited();
    assert.equal(code, 0, "A exits 0");
    assert.ok(tEnd - t0 >= DRAIN_S * 1000 * 0.8, `A ran its drain window (${tEnd - t0} ms)`);
    assert.ok(acked.length >= 20, `A acknowledged emits while draining (${acked.length})`);
    await waitUntil(() => acked.every((n) => got.has(n)), ms(5000), "every acknowledged message at B's listener");

    // every client is on B, and the closes were spread over the window
    let closes = [], onB = 0;
    await waitUntil(async () => {
      closes = [];
      onB = 0;
      for (const c of procs) {
        c.p.send({ type: "report" });
        const r = await c.next("report", ms(5000));
        closes.push(...r.closes);
        onB += r.onB;
      }
      return onB === CLIENTS;
    }, ms(20000), `${CLIENTS} clients reconnected to B`);
    assert.equal(closes.length, CLIENTS);
    assert.ok(closes.every(([, reason]) => reason === "transport close"), "clients saw a transport close");
    const at = closes.map(([t]) => t - t0).sort((x, y) => x - y);
    const window = DRAIN_S * 1000;
    const inFirstQuarter = at.filter((t) => t < window / 4).length;
    const inLastHalf = at.filter((t) => t >= window / 2).length;
    assert.ok(inFirstQuarter < CLIENTS * 0.45, `closes front-loaded: ${inFirstQuarter} in the first quarter`);
    assert.ok(inLastHalf > CLIENTS * 0.3, `too few closes in the second half: ${inLastHalf}`);
    assert.ok(at[at.length - 1] - at[0] >= window * 0.6, `closes spread over ${at[at.length - 1] - at[0]} ms`);
    const b_status = await request(b, "GET", "/health");
    assert.equal(b_status, 200);
  });
});
