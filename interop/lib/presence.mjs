// Shared code of the presence and relay tests (interop/presence/): sio-server nodes started with
// --gateway (test identities from the CONNECT auth object) and --redis on a real redis-server,
// the presence:update events each client saw, and /metrics samples. Every node started here is
// stopped by stopNodes() (the test files call it from after()), or killed at process exit.

import http from "node:http";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startServer } from "./server.mjs";
import { connectUser, refusedWith } from "./gateway.mjs";
import { ms, waitUntil } from "./redis.mjs";
import { sleep, withTimeout } from "./util.mjs";

export { ms, waitUntil, sleep, refusedWith };

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.SIO_SERVER_APP ?? path.join(here, "..", "..", "build", "src", "app", "sio-server");

/** The lease the tests run with (ms): a killed node's users go offline within it. */
export const LEASE = 2000;

const nodes = new Set();
process.on("exit", () => {
  for (const n of nodes) n.signal("SIGKILL");
});

/**
 * sio-server with --gateway, and with --redis when redis is given. port: a fixed port (a restart
 * on the same address); extra: more flags; env: extra environment.
 */
export async function startNode(redis, { port = 0, extra = [], env } = {}) {
  const args = ["--gateway", "--presence-lease", String(LEASE), ...extra];
  if (redis) args.push("--redis", redis.url);
  const node = await startServer("sio-server", { command: [bin, "--port", String(port)], args, env });
  nodes.add(node);
  return node;
}

/** Kills a node with SIGKILL (a crash); it is not checked at the end. */
export async function killNode(node) {
  nodes.delete(node);
  node.signal("SIGKILL");
  await withTimeout(node.exited(), 5000, "the killed node's exit");
}

/** Stops every node still running (SIGTERM, clean exit and no sanitizer report checked);
 *  returns the errors. */
export async function stopNodes() {
  const errors = [];
  for (const n of [...nodes]) {
    nodes.delete(n);
    await n.stop().catch((err) => errors.push(err));
  }
  return errors;
}

let serial = 0;
/** A fresh identity in org. */
export function who(org, name = "u") {
  serial += 1;
  return { user_id: `${name}-${process.pid}-${serial}`, organization_id: org, role: "operator" };
}

/** Connects as id (WebSocket) and records every presence:update in socket.updates. */
export async function connectAs(node, id) {
  const { socket } = await connectUser(node, "websocket", id);
  socket.updates = [];
  socket.on("presence:update", (u) => socket.updates.push(u));
  return socket;
}

/** The presence:update events of socket about user_id. */
export const updatesOf = (socket, userId) => socket.updates.filter((u) => u.user_id === userId);

/** Waits until every socket saw count updates about userId (the last one with status). */
export async function waitUpdates(sockets, userId, count, status, timeout = ms(5000)) {
  await waitUntil(
    () =>
      sockets.every((s) => {
        const u = updatesOf(s, userId);
        return u.length >= count && u[count - 1].status === status;
      }),
    timeout,
    `${count} presence:update of ${userId} (${status}) on every watcher`,
  );
}

/** presence:list through the ack: the answer object. */
export function list(socket) {
  return withTimeout(
    new Promise((resolve) => socket.emit("presence:list", resolve)),
    ms(5000),
    "presence:list ack",
  );
}

/** GET path on node as text. */
export function getText(node, p) {
  return withTimeout(
    new Promise((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: node.port, path: p, agent: false }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (body += c));
          res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${p}: ${res.statusCode}`))));
        })
        .on("error", reject);
    }),
    ms(5000),
    `GET ${p}`,
  );
}

/** The value of one /metrics sample (name with its labels exactly as written), or undefined. */
export async function metric(node, sample) {
  const text = await getText(node, "/metrics");
  for (const line of text.split("\n")) {
    if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}

export { connectUser };
