// Real Redis peers for the interop tests of the Redis adapter (interop/redis/): redis-server
// (one, or a 3-master Redis Cluster made with redis-cli --cluster create) on free loopback
// ports, sio-reference-server / sio-server / Node socket.io nodes joined to it, and the small
// utilities those tests share. Everything started here is stopped by stopAll() (SIGKILL for Redis),
// which the test files call from after() so that a failing test leaves nothing behind.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startServer, TARGET } from "./server.mjs";
import { openSio } from "./clients.mjs";
import { sleep, withTimeout } from "./util.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..");

/** Sanitized builds are several times slower: waits scale by this. */
export const SLOWDOWN = process.env.SIO_SANITIZED === "1" ? 4 : 1;
export const ms = (n) => n * SLOWDOWN;

/** True when redis-server and redis-cli can be run (the tests are skipped otherwise). */
export const HAVE_REDIS =
  spawnSync("redis-server", ["--version"]).status === 0 && spawnSync("redis-cli", ["--version"]).status === 0;

/** The skip reason of the redis tests, or false: they need redis-server / redis-cli, and they
 *  run the C programs (INTEROP_TARGET=node has no Redis flags). */
export const SKIP = !HAVE_REDIS
  ? "redis-server / redis-cli not installed"
  : TARGET === "node" && "the redis tests run the C nodes (INTEROP_TARGET=node)";

if (!HAVE_REDIS && process.env.INTEROP_REQUIRED === "1") {
  throw new Error("redis-server / redis-cli are required (INTEROP_REQUIRED=1): scripts/deps.sh installs them");
}

const tracked = new Set(); // redis processes and servers still to stop
// A test file that ends without its after() hooks (a crash, a runner timeout short of SIGKILL)
// must not leave Redis running
process.on("exit", () => {
  for (const t of tracked) {
    for (const n of t.nodes ?? [t]) n.child?.kill("SIGKILL");
    if (t.kind !== undefined) t.signal("SIGKILL");
  }
});

function portBindable(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort() {
  for (let i = 0; i < 200; i++) {
    const p = (await freePort()) - 20000;
    if (p > 1024 && (await portBindable(p)) && (await portBindable(p + 10000))) return p;
  }
  throw new Error("no free port pair for a cluster node");
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Runs redis-cli against port; returns its stdout (throws on failure). */
export function redisCli(port, ...args) {
  const r = spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8", timeout: 20000 });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(" ")}: status ${r.status} ${r.stderr}`);
  return r.stdout;
}

/**
 * Starts redis-server on port (a free one if not given). The returned handle can kill it
 * (SIGKILL by default) and start it again on the same port.
 */
export async function startRedis({ port, extra = [] } = {}) {
  port ??= await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "sio-redis-"));
  const handle = {
    port,
    url: `redis://127.0.0.1:${port}`,
    child: null,
    async start() {
      const child = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
          "--protected-mode", "no", ...extra],
        { stdio: "ignore" },
      );
      this.child = child;
      let exited = false;
      child.once("exit", () => (exited = true));
      const deadline = Date.now() + 5000;
      while (!(await portOpen(port))) {
        if (exited) throw new Error(`redis-server exited at start (port ${port})`);
        if (Date.now() > deadline) throw new Error(`redis-server did not start on ${port}`);
        await sleep(20);
      }
    },
    /** Kills the process (SIGKILL) and waits until it is gone. */
    async kill() {
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await gone;
    },
    async stop() {
      await this.kill();
      tracked.delete(this);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  tracked.add(handle);
  await handle.start();
  return handle;
}

/** A 3-master Redis Cluster (no replicas); url lists the three seeds, comma-separated. */
export async function startRedisCluster() {
  const nodes = [];
  const handle = {
    nodes,
    url: "",
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      tracked.delete(this);
    },
  };
  tracked.add(handle);
  for (let i = 0; i < 3; i++) {
    const port = await freeClusterPort();
    nodes.push(
      await startRedis({
        port,
        extra: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"],
      }),
    );
  }
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
  redisCli(nodes[0].port, "--cluster", "create", ...addrs, "--cluster-replicas", "0", "--cluster-yes");
  const deadline = Date.now() + 15000;
  for (const n of nodes) {
    while (!/cluster_state:ok/.test(redisCli(n.port, "cluster", "info"))) {
      if (Date.now() > deadline) throw new Error("the Redis Cluster never reached cluster_state:ok");
      await sleep(50);
    }
  }
  handle.url = nodes.map((n) => n.url).join(",");
  return handle;
}

/** The redis flags of a node: {url, mode, cluster, subscriptionMode, requestsTimeout}. */
export function redisArgs({ url, mode = "classic", cluster = false, subscriptionMode, requestsTimeout } = {}) {
  const args = ["--redis", url, "--redis-mode", mode];
  if (cluster) args.push("--redis-cluster");
  if (subscriptionMode) args.push("--redis-subscription-mode", subscriptionMode);
  if (requestsTimeout) args.push("--redis-requests-timeout", String(requestsTimeout));
  return args;
}

function track(server) {
  const stop = server.stop.bind(server);
  server.stop = async () => {
    tracked.delete(server);
    await stop();
  };
  tracked.add(server);
  return server;
}

/**
 * The heartbeat of the cluster nodes. The reference server's default (300 ms ping, 200 ms to
 * answer) is what the protocol suite needs; here it would close a client whenever a loaded
 * machine (sanitizers, two test files at once, a Redis Cluster) holds a process for half a
 * second, and a client without reconnection then fails every later test of its suite. These
 * tests find dead nodes through the adapter, never through the heartbeat.
 */
export const HEARTBEAT = { pingInterval: 5000, pingTimeout: 20000 };

/** sio-reference-server with --cluster-api and the redis flags (plus extra). */
export async function startSioNode(redis, extra = []) {
  return track(await startServer("sio", { ...HEARTBEAT, args: ["--cluster-api", ...redisArgs(redis), ...extra] }));
}

/** The Node socket.io + @socket.io/redis-adapter node of lib/node-redis-server.mjs. */
export async function startNodeNode(redis) {
  return track(
    await startServer("node-redis", {
      command: [process.execPath, path.join(here, "node-redis-server.mjs"), "--port", "0"],
      args: redisArgs(redis),
    }),
  );
}

/** sio-server (the plain program, src/app/sio-server) with the redis flags. */
export async function startSioServerApp(redis, extra = []) {
  const bin = process.env.SIO_SERVER_APP ?? path.join(repoRoot, "build", "src", "app", "sio-server");
  return track(await startServer("sio-server", { command: [bin, "--port", "0"], args: [...redisArgs(redis), ...extra] }));
}

export async function startNodeOfKind(kind, redis, extra = []) {
  return kind === "node" ? startNodeNode(redis) : startSioNode(redis, extra);
}

/** Kills a node with SIGKILL (a crash): it is no longer stopped or checked at the end. */
export async function killNode(server) {
  tracked.delete(server);
  // SIGKILL ends a stopped process too. A SIGCONT first would let a SIGSTOPped node run, and
  // answer what waits in its socket, for as long as this process takes to send the SIGKILL.
  server.signal("SIGKILL");
  await withTimeout(server.exited(), 5000, "the killed node's exit");
}

/**
 * Stops everything still running: servers with SIGTERM (their stop() checks the exit), then
 * Redis. Returns the errors of servers that did not stop cleanly.
 */
export async function stopAll() {
  const errors = [];
  for (const t of [...tracked]) {
    if (t.kind !== undefined) {
      try {
        await t.stop();
      } catch (err) {
        errors.push(err);
      }
    }
  }
  for (const t of [...tracked]) await t.stop().catch(() => {});
  return errors;
}

/** socket.io-client connections (WebSocket) to server, reconnection off. */
export async function clients(server, n, extra = {}) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const s = await openSio(server, "websocket", extra);
    s.on("disconnect", (reason) => (s.lostWith = `${reason} at ${new Date().toISOString()}`));
    out.push(s);
  }
  return out;
}

/** emit with an ack, bounded. */
export function call(socket, event, ...args) {
  // A client without reconnection that lost its connection would only buffer the emit: say why
  if (!socket.connected) {
    return Promise.reject(new Error(`"${event}" on a disconnected client (${socket.lostWith ?? "never connected"})`));
  }
  let lost;
  return withTimeout(
    new Promise((resolve, reject) => {
      lost = (reason) => reject(new Error(`"${event}": the client disconnected (${reason}) before the ack`));
      socket.once("disconnect", lost);
      socket.emit(event, ...args, (...answer) => resolve(answer.length > 1 ? answer : answer[0]));
    }),
    ms(8000),
    `ack of "${event}"`,
  ).finally(() => socket.off("disconnect", lost));
}

/** Polls fn until it returns a truthy value (returned) or ms elapse (throws with what). */
export async function waitUntil(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** GET path on server (its /stats route), parsed. */
export function getJson(server, p = "/stats") {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port: server.port, path: p, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${p}: ${res.statusCode}`))));
      });
      req.on("error", reject);
    }),
    ms(5000),
    `GET ${p}`,
  );
}

export function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Counts what every client receives of event: counter.of(socket) is how many times socket got
 * it, counter.args(socket) the argument lists.
 */
export class Counter {
  constructor(sockets, event) {
    this.event = event;
    this.got = new Map();
    this.handlers = [];
    for (const s of sockets) {
      this.got.set(s, []);
      const h = (...args) => this.got.get(s).push(args);
      s.on(event, h);
      this.handlers.push([s, h]);
    }
  }
  of(s) {
    return this.got.get(s).length;
  }
  args(s) {
    return this.got.get(s);
  }
  /** Waits until each socket of expected got the event, then lets duplicates arrive. */
  async settle(expected, settleMs = ms(250), timeoutMs = ms(5000)) {
    await waitUntil(() => expected.every((s) => this.of(s) >= 1), timeoutMs, `"${this.event}" on every expected client`);
    await sleep(settleMs);
  }
  stop() {
    for (const [s, h] of this.handlers) s.off(this.event, h);
  }
}
