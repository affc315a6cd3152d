// sio behind NGINX: three nodes on one Redis (two sio-reference-server with --redis, one Node
// socket.io 4.8 with @socket.io/redis-adapter 8.3) behind the upstream of nginx/sio.conf, the
// configuration docs/deployment.md shows. NGINX, Redis and the nodes run as unprivileged
// children on free loopback ports; everything lives in a temporary directory.
//
// Spreading the clients: ip_hash keys on the first three octets of the client's IPv4 address, so
// every client would land on one node from 127.0.0.1. Each client connects from its own
// 127.0.N.1 (the whole 127/8 is loopback) through an http.Agent with localAddress (polling) and
// the localAddress option (WebSocket). The test first probes N = 1, 2, ... with `whoami` until it
// has three addresses per node, then puts one polling-only, one WebSocket-only and one
// polling-then-upgrade client on each node.
//
// With INTEROP_TARGET=node the two sio nodes are Node ones too (nginx/node-server.mjs).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startServer, TARGET } from "../lib/server.mjs";
import { transportOptions, waitForUpgrade } from "../lib/clients.mjs";
import { sleep, withTimeout } from "../lib/util.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const TEMPLATE = path.join(here, "sio.conf");
const DOC = path.join(here, "..", "..", "docs", "deployment.md");
const NODE_SERVER = path.join(here, "node-server.mjs");
const NGINX = process.env.NGINX ?? "/usr/sbin/nginx";
const REDIS = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";
const S = process.env.SIO_SANITIZED === "1" ? 4 : 1; // wait scale under sanitizers
const ROOM = "nginx-room";
const MODES = ["polling", "websocket", "upgrade"];
const NODE_NAMES = ["sio-a", "sio-b", "node-c"]; // sio-a is killed
const PING = { pingInterval: 1000, pingTimeout: 1000 };

function missingPrerequisite() {
  if (!existsSync(NGINX)) return `${NGINX} not found (nginx-light)`;
  if (!existsSync(REDIS)) return `${REDIS} not found (redis-server)`;
  for (const p of ["@socket.io/redis-adapter", "redis"]) {
    if (!existsSync(path.join(here, "..", "node_modules", p, "package.json"))) return `npm package ${p} missing`;
  }
  return null;
}
const missing = missingPrerequisite();
if (missing && process.env.INTEROP_REQUIRED === "1") throw new Error(`nginx interop: ${missing}`);

/** Resolves once `pred()` is truthy; polls every 20 ms, rejects after `ms` with `what()`. */
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}`);
    await sleep(20);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect({ port, host: "127.0.0.1" });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

/** A child without a readiness line of its own: ready once `port` accepts connections. */
async function startDaemon(name, cmd, args, port, { cwd } = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd });
  let output = "";
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on("exit", (code, signal) => resolve((exited = { code, signal }))));
  child.on("error", (err) => {
    output += `spawn error: ${err.message}\n`;
  });
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding("utf8");
    s.on("data", (d) => {
      output += d;
      if (process.env.INTEROP_VERBOSE) process.stderr.write(`[${name}] ${d}`);
    });
  }
  const end = Date.now() + 10000 * S;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > end) {
      if (!exited) child.kill("SIGKILL");
      await exitPromise;
      throw new Error(`${name} did not come up on port ${port} (exit ${JSON.stringify(exited)}): ${output.slice(-2000)}`);
    }
    await sleep(25);
  }
  let stopped = false;
  return {
    name,
    port,
    output: () => output,
    alive: () => exited === null,
    /** SIGTERM, bounded; SIGKILL after 5 s. Resolves with the exit status. */
    async stop() {
      if (stopped) return exitPromise;
      stopped = true;
      if (exited === null) child.kill("SIGTERM");
      let timer;
      const res = await Promise.race([exitPromise, new Promise((r) => (timer = setTimeout(() => r(null), 5000 * S)))]);
      clearTimeout(timer);
      if (res === null) {
        child.kill("SIGKILL");
        await exitPromise;
        throw new Error(`${name} did not exit within ${5000 * S} ms of SIGTERM`);
      }
      return res;
    },
  };
}

async function startRedis(dir) {
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await startDaemon("redis", REDIS, [
        "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", dir, "--logfile", "",
      ], port);
    } catch (e) {
      lastErr = e; // the port was taken in between: try another
    }
  }
  throw lastErr;
}

/** The template with its ports replaced; each must occur exactly once. */
function renderConfig(template, listenPort, nodePorts) {
  const subs = [["127.0.0.1:8080;", `127.0.0.1:${listenPort};`]];
  nodePorts.forEach((p, i) => subs.push([`server 127.0.0.1:${3001 + i} `, `server 127.0.0.1:${p} `]));
  let out = template;
  for (const [from, to] of subs) {
    const n = out.split(from).length - 1;
    if (n !== 1) throw new Error(`${TEMPLATE}: "${from}" occurs ${n} times, expected once`);
    out = out.replace(from, to);
  }
  return out;
}

/** The main nginx.conf around sio.conf: everything inside the temporary directory, one process. */
function mainConfig() {
  const v = spawnSync(NGINX, ["-V"], { encoding: "utf8" }).stderr ?? "";
  const temp = ["client_body", "proxy"];
  for (const m of ["fastcgi", "uwsgi", "scgi"]) if (!v.includes(`--without-http_${m}_module`)) temp.push(m);
  return [
    "# generated by interop/nginx/nginx.test.mjs; paths are relative to the -p prefix",
    "master_process off;",
    "pid nginx.pid;",
    "error_log error.log info;",
    "events { worker_connections 1024; }",
    "http {",
    '    log_format upstream \'$remote_addr "$request" $status upstream=$upstream_addr $upstream_status\';',
    "    access_log access.log upstream;",
    ...temp.map((t) => `    ${t}_temp_path temp/${t};`),
    "    include sio.conf;",
    "}",
    "",
  ].join("\n");
}

async function startNginx(dir, nodePorts) {
  writeFileSync(path.join(dir, "nginx.conf"), mainConfig());
  mkdirSync(path.join(dir, "temp"));
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    writeFileSync(path.join(dir, "sio.conf"), renderConfig(readFileSync(TEMPLATE, "utf8"), port, nodePorts));
    try {
      return await startDaemon("nginx", NGINX, [
        "-p", `${dir}/`, "-c", "nginx.conf", "-e", path.join(dir, "error.log"), "-g", "daemon off;",
      ], port);
    } catch (e) {
      lastErr = e;
    }
  }
  throw lastErr;
}

async function startNode(name, redisUrl, { kind }) {
  const args = ["--redis", redisUrl, "--node-name", name];
  if (kind === "c") return startServer("sio", { ...PING, args });
  return startServer("sio", { ...PING, args, command: [process.execPath, NODE_SERVER, "--port", "0"] });
}

/** One socket.io-client connection from source address `addr`, rejoining ROOM on every connect. */
class Client {
  constructor(url, mode, addr) {
    this.mode = mode;
    this.addr = addr;
    this.connects = 0;
    this.nodes = []; // nodes[g]: the node of connection g (1-based), once joined there
    this.disconnects = [];
    this.errors = [];
    this.got = new Map(); // "event:id" -> count
    this.agent = new http.Agent({ localAddress: addr });
    this.socket = io(url, {
      path: "/socket.io/",
      forceNew: true,
      timeout: 5000 * S,
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
      randomizationFactor: 0.2,
      agent: this.agent, // polling requests (xmlhttprequest-ssl)
      localAddress: addr, // WebSocket (ws)
      ...transportOptions(mode),
    });
    this.socket.on("connect", () => {
      const g = ++this.connects;
      this.socket.emit("join", ROOM, () => this.socket.emit("whoami", (node) => (this.nodes[g] = node)));
    });
    this.socket.on("disconnect", (reason) => this.disconnects.push(reason));
    this.socket.on("connect_error", (err) => this.errors.push(err.message));
    for (const ev of ["news", "warm"]) this.socket.on(ev, (id) => this.got.set(`${ev}:${id}`, (this.got.get(`${ev}:${id}`) ?? 0) + 1));
  }

  /** The node of the current connection once it has joined ROOM there, else undefined. */
  get node() {
    return this.socket.connected ? this.nodes[this.connects] : undefined;
  }

  count(ev, id) {
    return this.got.get(`${ev}:${id}`) ?? 0;
  }

  toString() {
    return `${this.mode}@${this.addr}`;
  }

  close() {
    this.socket.close();
    this.agent.destroy();
  }
}

/** emit with an ack, bounded. */
function emitAck(socket, event, ...args) {
  return withTimeout(new Promise((resolve) => socket.emit(event, ...args, (...a) => resolve(a))), 5000 * S, `ack of ${event}`);
}

describe("sio behind NGINX: ip_hash upstream of three nodes sharing Redis", { skip: missing ?? false }, () => {
  const env = { nodes: {}, clients: [], dir: null };
  const kinds = TARGET === "c" ? ["c", "c", "node"] : ["node", "node", "node"];
  const diag = () => {
    const read = (f) => (env.dir && existsSync(path.join(env.dir, f)) ? readFileSync(path.join(env.dir, f), "utf8").slice(-3000) : "");
    return `\n--- clients ---\n${env.clients.map((c) => `${c}: connects=${c.connects} nodes=${JSON.stringify(c.nodes)} ` +
      `transport=${c.socket.io.engine?.transport?.name} disconnects=${JSON.stringify(c.disconnects)} errors=${JSON.stringify(c.errors.slice(-3))}`).join("\n")}` +
      `\n--- nginx error.log ---\n${read("error.log")}\n--- nginx access.log ---\n${read("access.log")}`;
  };

  before(async () => {
    env.dir = mkdtempSync(path.join(os.tmpdir(), "sio-nginx-"));
    env.redis = await startRedis(env.dir);
    const redisUrl = `redis://127.0.0.1:${env.redis.port}`;
    const started = await Promise.all(NODE_NAMES.map((n, i) => startNode(n, redisUrl, { kind: kinds[i] })));
    NODE_NAMES.forEach((n, i) => (env.nodes[n] = started[i]));
    env.nginx = await startNginx(env.dir, started.map((s) => s.port));
    env.url = `http://127.0.0.1:${env.nginx.port}`;
  });

  after(async () => {
    for (const c of env.clients) c.close();
    const results = await Promise.allSettled([
      ...Object.values(env.nodes).map((n) => n.stop()),
      env.nginx?.stop(),
    ]);
    await env.redis?.stop().catch(() => {});
    if (env.dir && process.env.INTEROP_KEEP_TMP === "1") process.stderr.write(`nginx interop: kept ${env.dir}\n`);
    else if (env.dir) rmSync(env.dir, { recursive: true, force: true });
    // a bad exit is reported by the last test; here only make sure nothing is left running
    void results;
  });

  it("docs/deployment.md shows nginx/sio.conf verbatim", () => {
    const doc = readFileSync(DOC, "utf8");
    const section = doc.split(/^## /m).find((s) => s.startsWith("Behind NGINX"));
    assert.ok(section, 'docs/deployment.md has a "## Behind NGINX" section');
    const block = /```nginx\n([\s\S]*?)```/.exec(section);
    assert.ok(block, "the section has an nginx code block");
    assert.equal(block[1], readFileSync(TEMPLATE, "utf8"));
  });

  it("spreads clients from 127.0.N.1 over all three nodes; polling sessions stay sticky", { timeout: 60000 * S }, async (t) => {
    // Probe which node each source address reaches (WebSocket only, one connection each).
    const byNode = Object.fromEntries(NODE_NAMES.map((n) => [n, []]));
    for (let n = 1; n <= 60 && Object.values(byNode).some((a) => a.length < MODES.length); n++) {
      const addr = `127.0.${n}.1`;
      const agent = new http.Agent({ localAddress: addr });
      const s = io(env.url, { forceNew: true, reconnection: false, timeout: 5000 * S, agent, localAddress: addr, ...transportOptions("websocket") });
      try {
        await withTimeout(new Promise((resolve, reject) => {
          s.once("connect", resolve);
          s.once("connect_error", reject);
        }), 5000 * S, `probe connect from ${addr}`);
        const [node] = await emitAck(s, "whoami");
        assert.ok(node in byNode, `unknown node ${node}`);
        if (byNode[node].length < MODES.length) byNode[node].push(addr);
      } finally {
        s.close();
        agent.destroy();
      }
    }
    for (const [node, addrs] of Object.entries(byNode)) {
      assert.equal(addrs.length, MODES.length, `source addresses found for ${node}: ${JSON.stringify(byNode)}`);
    }

    // One client of each mode on each node.
    for (const node of NODE_NAMES) {
      MODES.forEach((mode, i) => {
        const c = new Client(env.url, mode, byNode[node][i]);
        c.expected = node;
        env.clients.push(c);
      });
    }
    await until(() => env.clients.every((c) => c.node), 10000 * S, () => `every client joined${diag()}`);
    for (const c of env.clients) assert.equal(c.node, c.expected, `${c} reached ${c.node}, the probe said ${c.expected}${diag()}`);
    await Promise.all(env.clients.filter((c) => c.mode === "upgrade").map((c) => waitForUpgrade(c.socket, 10000 * S)));
    for (const c of env.clients) {
      assert.equal(c.socket.io.engine.transport.name, c.mode === "polling" ? "polling" : "websocket", `${c}`);
    }
    assert.equal(new Set(env.clients.map((c) => c.node)).size, 3, "clients on all three nodes");

    // Several round trips per client: on polling each is a POST plus a GET, which all must reach
    // the session's node (anything else is answered 400 "Session ID unknown").
    await Promise.all(env.clients.map(async (c) => {
      for (let i = 0; i < 5; i++) assert.deepEqual(await emitAck(c.socket, "message-with-ack", c.addr, i), [c.addr, i]);
      const [hs] = await emitAck(c.socket, "handshake");
      assert.equal(hs.headers["x-forwarded-for"], c.addr, `${c}: X-Forwarded-For as set by NGINX`);
    }));
    for (const c of env.clients) assert.equal(c.connects, 1, `${c} never reconnected${diag()}`);
    for (const node of NODE_NAMES) t.diagnostic(`${node}: ${env.clients.filter((c) => c.node === node).join(", ")}`);
  });

  it("GET /health through the proxy", { timeout: 10000 * S }, async () => {
    const c = env.clients.find((x) => x.expected === "sio-a");
    const body = await withTimeout(new Promise((resolve, reject) => {
      http.get(`${env.url}/health`, { localAddress: c.addr, agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode, text }));
      }).on("error", reject);
    }), 5000 * S, "GET /health");
    assert.equal(body.status, 200);
    assert.deepEqual(JSON.parse(body.text), { status: "ok" });
  });

  /** Broadcasts ROOM "news" ids from `senders`; every client must get each exactly once. */
  async function broadcastFrom(senders, tag) {
    const ids = senders.map((s, i) => `${tag}-${i}-${s.node}`);
    await Promise.all(senders.map((s, i) => emitAck(s.socket, "to-room", [ROOM], [], "news", ids[i])));
    await until(() => env.clients.every((c) => ids.every((id) => c.count("news", id) >= 1)), 5000 * S,
      () => `every client got ${ids.join(", ")}${diag()}`);
    await sleep(500 * S); // room for a duplicate to show up
    for (const c of env.clients) {
      for (const id of ids) assert.equal(c.count("news", id), 1, `${c} on ${c.node} got ${id} ${c.count("news", id)} times`);
    }
  }

  it("a broadcast from a client on each node reaches every client exactly once", { timeout: 60000 * S }, async () => {
    // The nodes' Redis subscriptions are made while they start: wait until a broadcast from each
    // node reaches every client before counting.
    const senders = NODE_NAMES.map((n) => env.clients.find((c) => c.expected === n && c.mode === MODES[NODE_NAMES.indexOf(n)]));
    let warm = false;
    for (let round = 0; round < 10 && !warm; round++) {
      await Promise.all(senders.map((s, i) => emitAck(s.socket, "to-room", [ROOM], [], "warm", `${round}-${i}`)));
      warm = await until(() => env.clients.every((c) => senders.every((_, i) => c.count("warm", `${round}-${i}`))), 1000 * S, "warm-up")
        .then(() => true, () => false);
    }
    assert.ok(warm, `broadcasts between the nodes started working${diag()}`);
    await broadcastFrom(senders, "before");
  });

  it("SIGKILL of a node: its clients reconnect through NGINX to other nodes, rejoin, and get the next broadcast", { timeout: 60000 * S }, async (t) => {
    const victim = "sio-a";
    const moved = env.clients.filter((c) => c.expected === victim);
    const stayed = env.clients.filter((c) => c.expected !== victim);
    env.nodes[victim].signal("SIGKILL");
    await withTimeout(env.nodes[victim].exited(), 5000 * S, "the killed node's exit");

    await until(() => moved.every((c) => c.connects >= 2 && c.node && c.node !== victim), 15000 * S,
      () => `the killed node's clients reconnected and rejoined elsewhere${diag()}`);
    for (const c of moved) {
      assert.ok(["transport close", "transport error"].includes(c.disconnects[0]), `${c}: disconnect reason ${c.disconnects[0]}`);
    }
    await Promise.all(moved.filter((c) => c.mode === "upgrade").map((c) => waitForUpgrade(c.socket, 10000 * S)));
    for (const c of moved) t.diagnostic(`${c}: "${c.disconnects[0]}", then ${c.node} after ${c.connects - 1} reconnection(s)`);
    // The other nodes' sessions, polling included, were not disturbed.
    for (const c of stayed) {
      assert.equal(c.connects, 1, `${c} kept its connection${diag()}`);
      assert.deepEqual(c.disconnects, [], `${c} kept its connection`);
      assert.equal(c.node, c.expected);
    }
    const senders = [stayed.find((c) => c.expected === "sio-b" && c.mode === "polling"),
      stayed.find((c) => c.expected === "node-c" && c.mode === "websocket")];
    await broadcastFrom(senders, "after");
    // and from a client that moved
    await broadcastFrom([moved.find((c) => c.mode === "polling")], "moved");
  });

  it("nodes, NGINX and Redis shut down cleanly", { timeout: 30000 * S }, async () => {
    for (const c of env.clients) c.close();
    await sleep(100);
    const problems = [];
    for (const [name, node] of Object.entries(env.nodes)) {
      if (name === "sio-a") {
        // killed: only its output up to then is checked
        if (/ERROR: AddressSanitizer|LeakSanitizer|runtime error:/.test(node.stderr())) problems.push(`${name}: sanitizer report`);
        continue;
      }
      await node.stop().catch((e) => problems.push(`${name}: ${e.message}`));
    }
    const ng = await env.nginx.stop();
    if (ng.code !== 0) problems.push(`nginx exited ${JSON.stringify(ng)}`);
    const errorLog = readFileSync(path.join(env.dir, "error.log"), "utf8");
    const bad = errorLog.split("\n").filter((l) => /\[(emerg|alert|crit)\]/.test(l));
    if (bad.length) problems.push(`nginx error.log: ${bad.slice(0, 5).join(" | ")}`);
    const rd = await env.redis.stop();
    if (rd.code !== 0) problems.push(`redis exited ${JSON.stringify(rd)}`);
    assert.deepEqual(problems, []);
  });
});
