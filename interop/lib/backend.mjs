// Shared by the backend API and metrics tests (interop/backend/, interop/metrics/): sio-server
// nodes with a JWT secret (so the gateway runs and clients join user:/org:/conversation: rooms),
// a service token for the backend API, optionally on one Redis; HS256 tokens from jsonwebtoken;
// gateway clients; HTTP calls to the API, /metrics and /status. Everything started through
// lib/redis.mjs is stopped by its stopAll() (the test files call it from after()).

import { randomUUID } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import jwt from "jsonwebtoken";
import { io } from "socket.io-client";
import { startServer } from "./server.mjs";
import { transportOptions } from "./clients.mjs";
import { withTimeout, sleep } from "./util.mjs";
import { startRedis, redisArgs, stopAll, ms, SLOWDOWN, HAVE_REDIS, rssBytes } from "./redis.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SIO_APP =
  process.env.SIO_SERVER_APP ?? process.env.SIO_APP ?? path.resolve(here, "..", "..", "build", "src", "app", "sio-server");

export const SECRET = "backend-interop-secret-0123456789abcdef";
export const API_TOKEN = "service-token-5f1c0d2a9e";
export const WAIT = ms(5000);
export { ms, SLOWDOWN, HAVE_REDIS, stopAll, startRedis, rssBytes, sleep, withTimeout };

export const uuid = () => randomUUID();

/** An HS256 token for identity {sub, organization_id, role} (exp in s, negative = expired). */
export function token({ sub, organization_id, role = "operator" }, expSeconds = 600, secret = SECRET) {
  const payload = { sub, role, exp: Math.floor(Date.now() / 1000) + expSeconds };
  if (organization_id !== undefined) payload.organization_id = organization_id;
  return jwt.sign(payload, secret, { algorithm: "HS256" });
}

const tracked = new Set();

/**
 * sio-server with the JWT secret, the API token and extra flags; on redis ({url}) when given.
 * Tracked by lib/redis.mjs's stopAll() when started through startRedisNode; here by stopNodes().
 */
export async function startNode({ redis, nodeId, extra = [] } = {}) {
  const args = ["--jwt-secret", SECRET, "--api-token", API_TOKEN, "--ping-interval", "2000", "--ping-timeout", "2000"];
  if (nodeId) args.push("--node-id", nodeId);
  if (redis) args.push(...redisArgs({ url: redis.url, requestsTimeout: ms(2000) }));
  const server = await startServer("sio-server", { bin: SIO_APP, args: [...args, ...extra] });
  tracked.add(server);
  return server;
}

/** Stops every node started here (SIGTERM, exit checked); returns the errors. */
export async function stopNodes() {
  const errors = [];
  for (const s of [...tracked]) {
    tracked.delete(s);
    try {
      await s.stop();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}
process.on("exit", () => {
  for (const s of tracked) s.signal("SIGKILL");
});

/**
 * A gateway client of identity id on server over mode ("websocket" | "polling"); resolves once
 * the gateway's `connected` came. socket.received records every event (name, ...args).
 */
export async function connectClient(server, id, mode = "websocket", extra = {}) {
  const socket = io(server.url, {
    forceNew: true,
    reconnection: false,
    timeout: WAIT,
    auth: { token: token(id) },
    ...transportOptions(mode),
    ...extra,
  });
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push([event, ...args]));
  socket.disconnects = [];
  socket.on("disconnect", (reason) => socket.disconnects.push(reason));
  socket.ident = id;
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once("connected", resolve);
        socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message} ${JSON.stringify(err.data)}`)));
      }),
      WAIT,
      `connected event for ${id.sub}`,
    );
  } catch (err) {
    socket.close();
    throw err;
  }
  return socket;
}

/** Emits with an ack; resolves with the ack's first argument. */
export function call(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(WAIT).emit(event, ...args, (err, answer) => {
      if (err) reject(new Error(`no ack for "${event}" within ${WAIT} ms`));
      else resolve(answer);
    });
  });
}

/** The argument lists of every `event` socket received so far. */
export const got = (socket, event) => socket.received.filter(([e]) => e === event).map(([, ...a]) => a);

/** Polls cond every 20 ms until it holds; fails after ms. */
export async function waitUntil(cond, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * One HTTP request to server (no keep-alive); resolves {status, headers, text, json}. body: a
 * string or Buffer sent as is, or a value sent as JSON. auth: the Authorization header value.
 */
export function request(server, method, p, { body, auth, headers = {} } = {}) {
  const payload = body === undefined ? null : typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return withTimeout(
    new Promise((resolve, reject) => {
      const h = { ...headers };
      if (payload !== null) {
        h["content-type"] ??= "application/json";
        h["content-length"] = Buffer.byteLength(payload);
      }
      if (auth) h.authorization = auth;
      const req = http.request({ host: "127.0.0.1", port: server.port, method, path: p, headers: h, agent: false }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
      });
      req.on("error", reject);
      if (payload !== null) req.write(payload);
      req.end();
    }),
    WAIT,
    `${method} ${p}`,
  );
}

/** POST /api/<route> with the service token (or auth). */
export const api = (server, route, body, auth = `Bearer ${API_TOKEN}`) => request(server, "POST", `/api/${route}`, { body, auth });

/** GET /api/sockets?room=... with the service token. */
export async function sockets(server, query = "") {
  const r = await request(server, "GET", `/api/sockets${query}`, { auth: `Bearer ${API_TOKEN}` });
  if (r.status !== 200) throw new Error(`/api/sockets${query}: ${r.status} ${r.text}`);
  return r.json;
}

/** GET /status, parsed. */
export async function status(server) {
  const r = await request(server, "GET", "/status");
  if (r.status !== 200) throw new Error(`/status: ${r.status} ${r.text}`);
  return r.json;
}

/** GET /metrics: {status, contentType, text}. */
export async function scrape(server) {
  const r = await request(server, "GET", "/metrics");
  if (r.status !== 200) throw new Error(`/metrics: ${r.status} ${r.text}`);
  return { contentType: r.headers["content-type"], text: r.text };
}

/** Closes sockets, ignoring those already closed. */
export function closeAll(...sockets) {
  for (const s of sockets.flat()) {
    try {
      s?.close();
    } catch {
      // closed already
    }
  }
}
