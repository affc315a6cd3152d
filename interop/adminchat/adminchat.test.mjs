// The admin chat example (examples/admin-chat) end to end, in headless Chromium, on the stack of
// deploy/run.sh (Redis, three sio-server nodes, NGINX, the Next.js production build) started on
// free ports with this build's sio-server.
//
// Spreading the browsers over the nodes: NGINX's ip_hash keys on the first three octets of the
// client's IPv4 address, so every browser context gets a small forward proxy of its own that
// connects to NGINX from 127.0.N.1 (Playwright proxies loopback too). A probe first finds, for
// N = 1, 2, ..., the node each address reaches (NGINX's access log names the upstream).
//
// Screenshots of each step go to interop/.tmp/adminchat/ (git-ignored). Every wait is bounded.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, "..", "..");
const ART = path.join(here, "..", ".tmp", "adminchat");
const RUN_SH = path.join(top, "deploy", "run.sh");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const NGINX = process.env.NGINX ?? "/usr/sbin/nginx";
const REDIS = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";
const SIO_BIN = process.env.SIO_SERVER_APP;
const K = process.env.SIO_SANITIZED === "1" ? 3 : 1; // wait scale under sanitizers

function missingPrerequisite() {
  if (!SIO_BIN) return "SIO_SERVER_APP not set (run through meson test)";
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}`;
  if (!existsSync(NGINX)) return `${NGINX} not found`;
  if (!existsSync(REDIS)) return `${REDIS} not found`;
  if (!existsSync(path.join(top, "examples", "admin-chat", "node_modules", "next", "package.json")))
    return "examples/admin-chat has no node_modules (bash scripts/deps.sh runs npm ci there)";
  return null;
}
const missing = missingPrerequisite();
if (missing && process.env.INTEROP_REQUIRED === "1") throw new Error(`adminchat: ${missing}`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? await what() : what}`);
    await sleep(50);
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

/** A forward proxy for one browser context: every connection to the target leaves from `addr`. */
async function sourceProxy(addr) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url);
    const up = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: req.method,
      headers: req.headers, localAddress: addr, agent: false }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connect", (req, client, head) => { // WebSocket: Chromium tunnels it with CONNECT
    const [host, port] = req.url.split(":");
    const up = net.connect({ host, port: Number(port), localAddress: addr }, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up).add(client);
    const done = () => (up.destroy(), client.destroy());
    up.on("error", done).on("close", done);
    client.on("error", done).on("close", done);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    server: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(r);
    }),
  };
}

/** Starts deploy/run.sh on free ports; resolves with the parsed stack.json. */
async function startStack(env) {
  const ports = [];
  while (ports.length < 6) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const runDir = path.join(ART, "run");
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const child = spawn("bash", [RUN_SH], {
    cwd: top,
    detached: true, // its own process group: the last-resort kill takes the script and its watchdog
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PORT: String(ports[0]), APP_PORT: String(ports[1]), SIO_PORTS: ports.slice(2, 5).join(" "),
      REDIS_PORT: String(ports[5]), RUN_DIR: runDir, SIO_BIN, DEPLOY_WATCH_PID: String(process.pid), ...env },
  });
  env.child = child;
  let out = "";
  env.output = () => out;
  env.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding("utf8");
    s.on("data", (d) => {
      out += d;
      if (process.env.INTEROP_VERBOSE) process.stderr.write(`[run.sh] ${d}`);
    });
  }
  const t0 = Date.now();
  const ready = await Promise.race([
    until(() => /^READY (.+)$/m.exec(out), 300000, "run.sh to print READY"),
    env.exited.then((e) => { throw new Error(`run.sh exited ${JSON.stringify(e)} before READY:\n${out.slice(-3000)}`); }),
  ]);
  env.startMs = Date.now() - t0;
  return JSON.parse(readFileSync(ready[1], "utf8"));
}

async function stopStack(env) {
  const child = env.child;
  if (!child) return;
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  const res = await Promise.race([env.exited, sleep(25000).then(() => null)]);
  if (res === null) {
    try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
  }
  // whatever the script could not stop (it was killed itself): the pids it recorded
  if (env.stack) {
    for (const p of [env.stack.nginx, ...env.stack.sio, env.stack.app, env.stack.redis]) {
      try { process.kill(-p.pid, "SIGKILL"); } catch { /* gone */ }
    }
  }
  return res;
}

/** The sio node (port) that ip_hash gives source address `addr`, from NGINX's access log. */
async function nodeOf(stack, addr) {
  await new Promise((resolve, reject) => {
    http.get(`${stack.url}/socket.io/?EIO=4&transport=polling`, { localAddress: addr, agent: false }, (res) => {
      res.resume();
      res.on("end", resolve);
    }).on("error", reject).setTimeout(5000, function () { this.destroy(new Error("probe timeout")); });
  });
  const line = await until(() => readFileSync(path.join(stack.run_dir, "access.log"), "utf8").split("\n")
    .reverse().find((l) => l.startsWith(`${addr} `) && l.includes("EIO=4")), 3000, `access.log line of ${addr}`);
  const port = Number(/upstream=127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
  return stack.sio.find((n) => n.port === port);
}

describe("admin chat: Next.js + three sio nodes + NGINX + Redis, in Chromium", { skip: missing ?? false, timeout: 600000 }, () => {
  const env = {};
  let browser;
  const proxies = [];
  const users = {}; // name -> { ctx, page, addr, node, frames }
  const pageErrors = [];
  let step = 0;
  let conv; // the conversation id

  const shot = async (name, ...who) => {
    step++;
    for (const w of who.length ? who : Object.keys(users)) {
      await users[w]?.page.screenshot({ path: path.join(ART, `${String(step).padStart(2, "0")}-${name}-${w}.png`) }).catch(() => {});
    }
  };
  const state = (w) => users[w].page.locator('[data-testid="connection"]').getAttribute("data-state");

  before(async () => {
    mkdirSync(ART, { recursive: true });
    for (const f of readdirSync(ART)) if (f.endsWith(".png")) rmSync(path.join(ART, f));
    env.stack = await startStack(env);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30000,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
    });
  });

  after(async () => { // each step on its own: a failure in one must not keep the others running
    const bounded = (p) => Promise.race([Promise.resolve(p).catch(() => {}), sleep(10000)]);
    for (const u of Object.values(users)) await bounded(u.ctx?.close());
    await bounded(browser?.close());
    for (const p of proxies) await bounded(p.close());
    await stopStack(env).catch(() => {});
  });

  /** A browser context for `name` whose connections leave from `addr`; logs in. */
  async function openAgent(name, addr, { polling = false } = {}) {
    const proxy = await sourceProxy(addr);
    proxies.push(proxy);
    const ctx = await browser.newContext({ proxy: { server: proxy.server }, viewport: { width: 1100, height: 700 } });
    ctx.setDefaultTimeout(15000 * K);
    const page = await ctx.newPage();
    const u = { ctx, page, addr, frames: [], websockets: 0, pollRequests: 0 };
    users[name] = u;
    page.on("pageerror", (e) => pageErrors.push(`${name}: ${e}`));
    page.on("websocket", (ws) => {
      if (!ws.url().includes("/socket.io/")) return;
      u.websockets++;
      ws.on("framereceived", (f) => typeof f.payload === "string" && f.payload.startsWith("42") && u.frames.push(f.payload.slice(2)));
    });
    page.on("response", async (res) => { // long-polling: the packets are in the GET responses
      if (!res.url().includes("/socket.io/") || res.request().method() !== "GET") return;
      u.pollRequests++;
      const body = await res.text().catch(() => "");
      for (const pkt of body.split("\x1e")) if (pkt.startsWith("42")) u.frames.push(pkt.slice(2));
    });
    await page.goto(`${env.stack.url}/${polling ? "?transport=polling" : ""}`);
    await page.fill('input[name="username"]', name);
    await page.fill('input[name="password"]', "demo");
    await page.click('button[type="submit"]');
    await page.waitForURL("**/conversations");
    await page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    return u;
  }

  /** Socket.IO events `event` this page received that mention `text`. */
  const received = (w, event, text) => users[w].frames.filter((f) => f.startsWith(`["${event}"`) && (!text || f.includes(text)));

  it("docs/deployment.md shows deploy/nginx.conf verbatim and the flags run.sh gives the nodes", () => {
    const doc = readFileSync(path.join(top, "docs", "deployment.md"), "utf8");
    const at = doc.indexOf("### The admin chat stack");
    assert.ok(at > 0, 'docs/deployment.md has a "### The admin chat stack" subsection');
    const sec = doc.slice(at);
    assert.equal(/```nginx\n([\s\S]*?)```/.exec(sec)?.[1], readFileSync(path.join(top, "deploy", "nginx.conf"), "utf8"));
    const script = readFileSync(RUN_SH, "utf8");
    const flags = /```sh\n([\s\S]*?)```/.exec(sec)?.[1].match(/--[a-z-]+/g) ?? [];
    assert.ok(flags.length >= 8, JSON.stringify(flags));
    for (const f of flags) assert.ok(script.includes(f), `run.sh passes ${f}`);
  });

  it("starts the stack with deploy/run.sh", () => {
    assert.equal(env.stack.sio.length, 3);
    process.stderr.write(`adminchat: the stack was ready in ${(env.startMs / 1000).toFixed(1)} s\n`);
  });

  it("two agents of one organization on two nodes see each other online", { timeout: 120000 * K }, async () => {
    // source addresses per node
    const byNode = new Map(); // node -> first address that reaches it
    for (let n = 1; n <= 40 && byNode.size < 3; n++) {
      const addr = `127.0.${n}.1`;
      const node = await nodeOf(env.stack, addr);
      assert.ok(node, `the node of ${addr}`);
      if (!byNode.has(node)) byNode.set(node, addr);
    }
    assert.equal(byNode.size, 3, `addresses reaching each node: ${JSON.stringify([...byNode])}`);
    const [[nodeA, addrA], [nodeB, addrB], [nodeP, addrP]] = [...byNode];
    (await openAgent("alice", addrA)).node = nodeA;
    (await openAgent("bob", addrB)).node = nodeB;
    env.polling = { addr: addrP, node: nodeP };
    process.stderr.write(`adminchat: alice from ${addrA} on ${nodeA.name}, bob from ${addrB} on ${nodeB.name}, ` +
      `dave (polling) from ${addrP} on ${nodeP.name}\n`);
    await users.alice.page.locator('[data-testid="agent-bob"][data-online="true"]').waitFor();
    await users.bob.page.locator('[data-testid="agent-alice"][data-online="true"]').waitFor();
    await shot("online", "alice", "bob");
  });

  it("A opens a conversation, B opens it too", async () => {
    const link = users.alice.page.locator('[data-testid="conversation-link"]').first();
    conv = await link.getAttribute("data-conversation-id");
    assert.match(conv, /^[0-9a-f-]{36}$/);
    await link.click();
    await users.alice.page.waitForURL(`**/conversations/${conv}`);
    await users.bob.page.locator(`[data-conversation-id="${conv}"]`).click();
    await users.bob.page.waitForURL(`**/conversations/${conv}`);
    for (const w of ["alice", "bob"]) await users[w].page.locator('[data-testid="join-state"][data-state="joined"]').waitFor();
    await shot("opened", "alice", "bob");
  });

  it("the other organization's agent sees none of it and cannot join (FORBIDDEN)", async () => {
    const carol = await openAgent("carol", users.alice.addr);
    await carol.page.locator('[data-testid="conversation-link"]').first().waitFor();
    assert.equal(await carol.page.locator(`[data-conversation-id="${conv}"]`).count(), 0, "not in carol's list");
    await carol.page.goto(`${env.stack.url}/conversations/${conv}`);
    const js = carol.page.locator('[data-testid="join-state"]');
    await carol.page.locator('[data-testid="join-state"][data-state="error"]').waitFor();
    assert.equal(await js.getAttribute("data-code"), "FORBIDDEN");
    await carol.page.locator('[data-testid="load-error"]').waitFor();
    await shot("forbidden", "carol");
  });

  it("A types: B sees the typing indicator, and it clears", async () => {
    const typing = users.bob.page.locator('[data-testid="typing"]');
    await users.alice.page.locator('[data-testid="composer"]').pressSequentially("Thanks for", { delay: 40 });
    await until(async () => (await typing.textContent())?.includes("Alice Martin is typing"), 5000 * K, "B's typing hint");
    await shot("typing", "alice", "bob");
    // typing_stop after ~2 s without a keystroke
    await until(async () => (await typing.textContent()) === "", 6000 * K, "the typing hint to clear");
    await shot("typing-cleared", "bob");
  });

  it("A sends: B gets message:new once; A sees SENT → DELIVERED → READ", async () => {
    const text = `Thanks for waiting, a replacement is on its way (${Date.now()})`;
    const composer = users.alice.page.locator('[data-testid="composer"]');
    await composer.fill(text);
    await composer.press("Enter");
    const mine = users.alice.page.locator('[data-testid="message"]', { hasText: text });
    await users.bob.page.locator('[data-testid="message"]', { hasText: text }).waitFor();
    await shot("sent", "alice", "bob");
    await until(async () => (await mine.getAttribute("data-status")) === "READ", 10000 * K,
      async () => `READ (status ${await mine.getAttribute("data-status")})`);
    assert.equal(await mine.getAttribute("data-status-history"), "SENT,DELIVERED,READ");
    await shot("read", "alice");
    await sleep(500);
    const id = await mine.getAttribute("data-message-id");
    assert.equal(received("bob", "message:new", id).length, 1, "B got message:new exactly once");
    assert.equal(await users.bob.page.locator('[data-testid="message"]', { hasText: text }).count(), 1);
    assert.equal(received("bob", "message.status", id).length, 3, "B saw the three statuses");
  });

  it("a third context on long-polling takes part in the conversation", async () => {
    const p = await openAgent("dave", env.polling.addr, { polling: true });
    p.node = env.polling.node;
    await p.page.locator(`[data-conversation-id="${conv}"]`).click();
    await p.page.waitForURL(`**/conversations/${conv}`);
    await p.page.locator('[data-testid="join-state"][data-state="joined"]').waitFor();
    const text = `Dave here, on long-polling (${Date.now()})`;
    await p.page.locator('[data-testid="composer"]').fill(text);
    await p.page.locator('[data-testid="composer"]').press("Enter");
    for (const w of ["alice", "bob", "dave"]) await users[w].page.locator('[data-testid="message"]', { hasText: text }).waitFor();
    assert.equal(p.websockets, 0, "no WebSocket from the polling context");
    assert.ok(p.pollRequests > 0, "long-polling requests seen");
    await shot("polling", "dave", "alice");
  });

  it("B's node is killed (SIGKILL): B reconnects through NGINX to another node, rejoins, gets the next message", async () => {
    const bob = users.bob;
    await bob.page.evaluate(() => {
      const el = document.querySelector('[data-testid="connection"]');
      window.__states = [el.getAttribute("data-state")];
      new MutationObserver(() => window.__states.push(el.getAttribute("data-state"))).observe(el, { attributes: true });
      const js = document.querySelector('[data-testid="join-state"]');
      window.__joins = [];
      new MutationObserver(() => window.__joins.push(js.getAttribute("data-state"))).observe(js, { attributes: true });
    });
    const victim = bob.node;
    process.kill(victim.pid, "SIGKILL");
    await until(() => bob.page.evaluate(() => window.__states.includes("reconnecting")), 10000 * K,
      async () => `B reconnecting (${JSON.stringify(await bob.page.evaluate(() => window.__states))})`);
    await shot("node-killed", "bob");
    await bob.page.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 20000 * K });
    await until(() => bob.page.evaluate(() => window.__joins.includes("joining") && document.querySelector('[data-testid="join-state"]').getAttribute("data-state") === "joined"),
      10000 * K, "B joined again");
    const states = await bob.page.evaluate(() => window.__states);
    assert.ok(states.indexOf("reconnecting") < states.lastIndexOf("connected"), JSON.stringify(states));
    assert.equal(await users.alice.page.locator('[data-testid="connection"]').getAttribute("data-state"), "connected");

    const text = `After the failover (${Date.now()})`;
    await users.alice.page.locator('[data-testid="composer"]').fill(text);
    await users.alice.page.locator('[data-testid="composer"]').press("Enter");
    for (const w of ["bob", "dave"]) await users[w].page.locator('[data-testid="message"]', { hasText: text }).waitFor();
    const id = await users.alice.page.locator('[data-testid="message"]', { hasText: text }).getAttribute("data-message-id");
    await sleep(300);
    assert.equal(received("bob", "message:new", id).length, 1, "B got the next message once");
    await shot("after-failover", "bob", "alice", "dave");
  });

  it("the other organization received nothing of the conversation", async () => {
    assert.deepEqual(users.carol.frames.filter((f) => f.includes(conv)), []);
    assert.equal(received("carol", "message:new").length, 0);
    assert.equal(received("carol", "user_typing").length, 0);
    assert.equal(received("carol", "message.status").length, 0);
    assert.ok(await state("carol"), "carol's page is still up");
  });

  it("no script errors in the pages", () => {
    assert.deepEqual(pageErrors, []);
  });

  it("stops everything cleanly", async () => {
    for (const u of Object.values(users)) await u.ctx?.close().catch(() => {});
    const res = await stopStack(env);
    assert.ok(res, "run.sh exited within 25 s of SIGTERM");
    assert.equal(res.code, 0, `run.sh exit ${JSON.stringify(res)}:\n${env.output().slice(-2000)}`);
    for (const p of [env.stack.nginx, env.stack.app, env.stack.redis, ...env.stack.sio]) {
      assert.throws(() => process.kill(p.pid, 0), `process ${p.pid} is gone`);
    }
    for (const n of env.stack.sio) {
      const log = readFileSync(path.join(env.stack.run_dir, `${n.name}.log`), "utf8");
      assert.doesNotMatch(log, /ERROR: AddressSanitizer|LeakSanitizer|runtime error:/, `${n.name}.log`);
    }
    env.child = null;
  });
});
