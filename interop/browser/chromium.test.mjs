// The browser bundle of socket.io-client in headless Chromium, cross-origin: the page and the
// client bundle are served from http://localhost:<page port>, the server under test listens on
// http://127.0.0.1:<port>. Exercises CORS, XHR polling, the upgrade and WebSocket as a browser
// does them.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { MODES, finalTransport } from "../lib/clients.mjs";
import { withTimeout } from "../lib/util.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const BUNDLE = path.join(here, "..", "node_modules", "socket.io-client", "dist", "socket.io.min.js");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>sio interop</title>
<script src="/socket.io.min.js"></script>
<script>
  // Helpers driven from the test through page.evaluate().
  window.sockets = {};
  window.transportOptions = (mode) =>
    mode === "websocket" ? { transports: ["websocket"], upgrade: false }
    : mode === "polling" ? { transports: ["polling"], upgrade: false }
    : { transports: ["polling", "websocket"], upgrade: true };

  window.withTimeout = (p, ms, what) => Promise.race([
    p, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out: " + what)), ms)),
  ]);

  window.open_ = (name, url, mode, auth) => {
    const s = io(url, { forceNew: true, reconnection: false, timeout: 5000, auth, ...transportOptions(mode) });
    sockets[name] = s;
    const rec = { auth: null, firstTransport: null, upgraded: false };
    s.rec = rec;
    // The transport the engine connection was opened with (the upgrade may finish before the
    // Socket.IO connect event).
    s.io.once("open", () => { rec.firstTransport = s.io.engine.transport.name; });
    s.on("auth", (a) => { rec.auth = a; });
    return withTimeout(new Promise((resolve, reject) => {
      s.on("connect", () => {
        s.io.engine.on("upgrade", () => { rec.upgraded = true; });
        resolve({ id: s.id, engineId: s.io.engine.id, transport: s.io.engine.transport.name });
      });
      s.on("connect_error", (e) => reject(new Error("connect_error: " + e.message)));
    }), 5000, "connect " + name);
  };

  window.waitUpgrade = (name) => {
    const s = sockets[name];
    if (s.io.engine.transport.name === "websocket") return Promise.resolve("websocket");
    return withTimeout(new Promise((resolve) => s.io.engine.once("upgrade", (t) => resolve(t.name))), 10000, "upgrade");
  };

  window.ack = (name, event, ...args) => withTimeout(new Promise((resolve, reject) => {
    sockets[name].timeout(5000).emit(event, ...args, (err, ...answer) => err ? reject(err) : resolve(answer));
  }), 6000, "ack " + event);

  window.next = (name, event) => withTimeout(
    new Promise((resolve) => sockets[name].once(event, (...args) => resolve(args))), 5000, "event " + event);

  window.hex = (v) => Array.from(v instanceof ArrayBuffer ? new Uint8Array(v) : v)
    .map((b) => b.toString(16).padStart(2, "0")).join("");

  window.closeAll = () => { for (const s of Object.values(sockets)) s.close(); window.sockets = {}; };
</script></head><body>interop</body></html>`;

function startPageServer() {
  const bundle = readFileSync(BUNDLE);
  const server = http.createServer((req, res) => {
    if (req.url === "/" || req.url === "/index.html") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(PAGE);
    } else if (req.url === "/socket.io.min.js") {
      res.writeHead(200, { "Content-Type": "application/javascript" });
      res.end(bundle);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("Chromium + socket.io-client browser bundle (cross-origin)", { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}` }, () => {
  const ctx = useServer("sio");
  let pageServer;
  let context;
  let page;
  let userDataDir;
  const consoleErrors = [];

  before(async () => {
    pageServer = await startPageServer();
    userDataDir = mkdtempSync(path.join(os.tmpdir(), "sio-interop-chromium-"));
    context = await withTimeout(
      chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        timeout: 30000,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-proxy-server",
        ],
      }),
      40000,
      "Chromium launch",
    );
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15000);
    page.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(msg.text());
    });
    page.on("pageerror", (err) => consoleErrors.push(String(err)));
    await page.goto(`http://localhost:${pageServer.address().port}/`);
    assert.equal(await page.evaluate(() => typeof io), "function", "client bundle not loaded");
  });

  after(async () => {
    await context?.close().catch(() => {});
    await new Promise((resolve) => (pageServer ? pageServer.close(resolve) : resolve()));
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  const target = () => `http://127.0.0.1:${ctx.server.port}`;

  it("the page origin differs from the server origin", () => {
    assert.notEqual(new URL(page.url()).origin, new URL(target()).origin);
  });

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      it("connects with auth; the server echoes the auth object", { timeout: 20000 }, async () => {
        const res = await page.evaluate(async ([url, mode]) => {
          const auth = { token: "t\u00f6ken-\u{1F600}", n: 5 };
          const authEvent = new Promise((resolve) => {
            const check = setInterval(() => {
              if (sockets.a?.rec.auth) {
                clearInterval(check);
                resolve(sockets.a.rec.auth);
              }
            }, 10);
          });
          const info = await open_("a", url, mode, auth);
          const echoed = await withTimeout(authEvent, 5000, "auth event");
          const finalName = mode === "upgrade" ? await waitUpgrade("a") : sockets.a.io.engine.transport.name;
          const out = { info, echoed, finalName, firstTransport: sockets.a.rec.firstTransport };
          closeAll();
          return out;
        }, [target(), mode]);
        assert.deepEqual(res.echoed, { token: "t\u00f6ken-\u{1F600}", n: 5 });
        assert.equal(res.finalName, finalTransport(mode));
        assert.equal(res.firstTransport, mode === "websocket" ? "websocket" : "polling");
        assert.notEqual(res.info.id, res.info.engineId);
      });

      it("emit + ack round trip and message-back", { timeout: 20000 }, async () => {
        const res = await page.evaluate(async ([url, mode]) => {
          await open_("a", url, mode);
          if (mode === "upgrade") await waitUpgrade("a");
          const acked = await ack("a", "message-with-ack", 1, "2", { 3: [true] }, "\u{1F600}");
          const back = next("a", "message-back");
          sockets.a.emit("message", "hello", [1, { x: null }]);
          const echoed = await back;
          closeAll();
          return { acked, echoed };
        }, [target(), mode]);
        assert.deepEqual(res.acked, [1, "2", { 3: [true] }, "\u{1F600}"]);
        assert.deepEqual(res.echoed, ["hello", [1, { x: null }]]);
      });

      it("binary in events and acks (Uint8Array, ArrayBuffer, nested)", { timeout: 20000 }, async () => {
        const res = await page.evaluate(async ([url, mode]) => {
          await open_("a", url, mode);
          if (mode === "upgrade") await waitUpgrade("a");
          const bytes = new Uint8Array(70000);
          for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
          const back = next("a", "message-back");
          sockets.a.emit("message", bytes, { inner: new Uint8Array([1, 2, 3]).buffer });
          const [b0, b1] = await back;
          const acked = await ack("a", "message-with-ack", new Uint8Array([0, 0x1e, 0xff]));
          sockets.a.on("ask", (...args) => args.pop()(...args));
          const result = next("a", "ask-result");
          sockets.a.emit("server-ack", 2000, new Uint8Array([7, 7]));
          const [r] = await result;
          closeAll();
          return {
            b0Type: Object.prototype.toString.call(b0),
            b0Same: hex(b0) === hex(bytes),
            b1: hex(b1.inner),
            ackHex: hex(acked[0]),
            serverAck: { ok: r.ok, hex: hex(r.args[0]) },
          };
        }, [target(), mode]);
        assert.equal(res.b0Type, "[object ArrayBuffer]");
        assert.ok(res.b0Same, "70 KB binary differs after the round trip");
        assert.equal(res.b1, "010203");
        assert.equal(res.ackHex, "001eff");
        assert.deepEqual(res.serverAck, { ok: true, hex: "0707" });
      });

      it("rooms: two page clients, broadcast with except", { timeout: 20000 }, async () => {
        const res = await page.evaluate(async ([url, mode]) => {
          await open_("a", url, mode);
          await open_("b", url, mode);
          if (mode === "upgrade") await Promise.all([waitUpgrade("a"), waitUpgrade("b")]);
          await ack("a", "join", "room-x");
          await ack("b", "join", "room-x");
          const got = { a: [], b: [] };
          sockets.a.on("rev", (v) => got.a.push(v));
          sockets.b.on("rev", (v) => got.b.push(v));
          const fenceA = next("a", "rfence");
          const fenceB = next("b", "rfence");
          await ack("a", "to-room", ["room-x"], [], "rev", "both");
          await ack("a", "to-room", ["room-x"], [sockets.a.id], "rev", "only-b");
          await ack("b", "leave", "room-x");
          await ack("a", "to-room", ["room-x"], [], "rev", "only-a");
          await ack("a", "to-room", [], [], "rfence");
          await Promise.all([fenceA, fenceB]);
          closeAll();
          return got;
        }, [target(), mode]);
        assert.deepEqual(res, { a: ["both", "only-a"], b: ["both", "only-b"] });
      });
    });
  }

  it("no CORS or script errors were reported by the page", () => {
    const relevant = consoleErrors.filter((t) => /CORS|Access-Control|blocked|Uncaught|TypeError/i.test(t));
    assert.deepEqual(relevant, []);
  });

  shutdownCheck(ctx);
});
