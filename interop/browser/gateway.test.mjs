// The chat gateway from a page in headless Chromium: the socket.io-client browser bundle
// connects to sio-server (JWT secret, CORS *) with auth {token}, cross-origin, gets `connected`,
// joins a conversation, receives user_typing from a Node client, and is cut off with
// TOKEN_EXPIRED ("io server disconnect", no reconnection) when its token expires.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { TARGET } from "../lib/server.mjs";
import { ms, startNode, stopNodes, connectClient, call, token, uuid, closeAll, withTimeout } from "../lib/backend.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.join(here, "..", "node_modules", "socket.io-client", "dist", "socket.io.min.js");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const SKIP = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : TARGET === "node" && "sio-server only";

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>gateway</title>
<script src="/socket.io.min.js"></script>
<script>
  window.log = [];
  window.connectChat = (url, token, transports) => new Promise((resolve, reject) => {
    const s = io(url, { auth: { token }, transports, reconnection: true, reconnectionDelay: 100, timeout: 5000 });
    window.chat = s;
    s.onAny((event, ...args) => log.push([event, ...args]));
    s.on("disconnect", (reason) => log.push(["#disconnect", reason, s.active]));
    s.on("connect_error", (e) => log.push(["#connect_error", e.message, e.data]));
    s.once("connected", (c) => resolve(c));
    s.once("connect_error", (e) => reject(new Error(e.message)));
  });
  window.ackOf = (event, payload) => new Promise((resolve, reject) =>
    chat.timeout(5000).emit(event, payload, (err, a) => err ? reject(err) : resolve(a)));
  window.waitLog = (name, ms) => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const e = log.find((x) => x[0] === name);
      if (e) return resolve(e.slice(1));
      if (Date.now() - t0 > ms) return reject(new Error("no " + name + " in " + JSON.stringify(log)));
      setTimeout(tick, 20);
    };
    tick();
  });
</script></head><body>chat</body></html>`;

describe("Chromium: the gateway with the browser bundle", { skip: SKIP, timeout: ms(90000) }, () => {
  let S, pageServer, context, page, userDataDir;
  const pageErrors = [];

  before(async () => {
    S = await startNode({ extra: ["--cors-origin", "*", "--jwt-leeway", "0", "--jwt-expiring-notice", "1"] });
    const bundle = readFileSync(BUNDLE);
    pageServer = http.createServer((req, res) => {
      if (req.url === "/") res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
      else if (req.url === "/socket.io.min.js") res.writeHead(200, { "content-type": "application/javascript" }).end(bundle);
      else if (req.url === "/favicon.ico") res.writeHead(204).end();
      else res.writeHead(404).end();
    });
    await new Promise((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
    userDataDir = mkdtempSync(path.join(os.tmpdir(), "sio-chromium-gw-"));
    context = await withTimeout(
      chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        timeout: 30000,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-proxy-server"],
      }),
      40000,
      "Chromium launch",
    );
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(ms(15000));
    page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
    page.on("pageerror", (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    await context?.close().catch(() => {});
    await new Promise((resolve) => (pageServer ? pageServer.close(resolve) : resolve()));
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await stopNodes();
  });

  for (const [label, transports] of [["polling then WebSocket", ["polling", "websocket"]], ["WebSocket", ["websocket"]]]) {
    it(`${label}: connected, join_conversation, user_typing from a Node client, TOKEN_EXPIRED disconnect`, async () => {
      await page.goto(`http://localhost:${pageServer.address().port}/`);
      const conv = uuid();
      const tag = `${process.pid}-${transports.length}`;
      const exp = 4;
      const pageToken = token({ sub: `browser-${tag}`, organization_id: "org-web", role: "operator" }, exp);
      const connected = await page.evaluate(([url, t, tr]) => connectChat(url, t, tr), [S.url, pageToken, transports]);
      assert.deepEqual(connected.user_id, `browser-${tag}`);
      assert.equal(connected.organization_id, "org-web");
      const ack = await page.evaluate((id) => ackOf("join_conversation", { conversation_id: id }), conv);
      assert.equal(ack.ok, true);
      assert.equal((await page.evaluate(() => waitLog("joined_conversation", 5000)))[0].conversation_id, conv);

      const node = await connectClient(S, { sub: `node-${tag}`, organization_id: "org-web" });
      try {
        assert.equal((await call(node, "join_conversation", { conversation_id: conv })).ok, true);
        node.emit("typing_start", { conversation_id: conv });
        const [typing] = await page.evaluate(() => waitLog("user_typing", 5000));
        assert.deepEqual(typing, { conversation_id: conv, user_id: `node-${tag}`, typing: true });
      } finally {
        closeAll(node);
      }
      if (transports.length === 2) {
        const name = await page.evaluate(() => new Promise((resolve) => {
          if (chat.io.engine.transport.name === "websocket") return resolve("websocket");
          chat.io.engine.once("upgrade", (t) => resolve(t.name));
          setTimeout(() => resolve(chat.io.engine.transport.name), 5000);
        }));
        assert.equal(name, "websocket");
      }

      // the token expires: auth:expiring, then error TOKEN_EXPIRED and a server disconnect
      const [expiring] = await page.evaluate((t) => waitLog("auth:expiring", t), ms(exp * 1000 + 2000));
      assert.equal(typeof expiring.exp, "number");
      const [err] = await page.evaluate((t) => waitLog("error", t), ms(exp * 1000 + 3000));
      assert.equal(err.code, "TOKEN_EXPIRED");
      const [reason, active] = await page.evaluate(() => waitLog("#disconnect", 5000));
      assert.equal(reason, "io server disconnect");
      assert.equal(active, false, "the client does not reconnect by itself");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await page.evaluate(() => chat.connected), false);
      await page.evaluate(() => chat.close());
    });
  }

  it("no script or CORS errors on the page", () => {
    assert.deepEqual(pageErrors, []);
  });

  it("shuts down cleanly", async () => {
    const errors = await stopNodes();
    if (errors.length) throw errors[0];
  });
});
