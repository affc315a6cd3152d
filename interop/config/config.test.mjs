// sio-server's configuration (docs/configuration.md): the INI file, SIO_* variables and flags with
// precedence flag > env > file > default, --print-config with secrets redacted, unknown keys,
// SIGHUP reloads (a JWT secret file, the log level, a setting that needs a restart), JSON logs
// and the access log.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import jwt from "jsonwebtoken";
import { io } from "socket.io-client";
import { startServer } from "../lib/server.mjs";
import { withTimeout } from "../lib/util.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const SIO_APP = process.env.SIO_SERVER_APP ?? path.resolve(here, "..", "..", "build", "src", "app", "sio-server");
const SLOW = process.env.SIO_SANITIZED === "1" ? 4 : 1;
const WAIT = 5000 * SLOW;
const dir = mkdtempSync(path.join(os.tmpdir(), "sio-config-"));
let nfile = 0;

function file(text) {
  const p = path.join(dir, `f${nfile++}`);
  writeFileSync(p, text);
  return p;
}

// The environment without any SIO_* variable of the harness that a flag could take.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SIO_") || k === "SIO_SANITIZED") env[k] = v;
  return { ...env, ...extra };
}

function run(args, env = {}) {
  return spawnSync(SIO_APP, args, { env: cleanEnv(env), encoding: "utf8", timeout: 20000 * SLOW });
}

function get(server, p) {
  return withTimeout(
    new Promise((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: server.port, path: p, agent: false }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        })
        .on("error", reject);
    }),
    WAIT,
    `GET ${p}`,
  );
}

async function waitFor(cond, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const servers = [];
async function start(args, env = {}) {
  const s = await startServer("sio-server", { command: [SIO_APP, "--port", "0", ...args], env: cleanEnv(env) });
  // startServer merges env with process.env: the harness's SIO_* variables are not flags here
  servers.push(s);
  return s;
}

function connect(server, token, extra = {}) {
  const socket = io(server.url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: token ? { token } : {}, timeout: WAIT, ...extra });
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connect", () => resolve(socket));
      socket.once("connect_error", (err) => {
        socket.close();
        reject(err);
      });
    }),
    WAIT,
    "connect",
  );
}

after(async () => {
  for (const s of servers) await s.stop();
});

describe("configuration: file, environment, flags", { timeout: 60000 * SLOW }, () => {
  it("precedence is flag > env > file > default, at run time too", async () => {
    const f = file(
      "# routes\n[http]\nhealth-path = /file-health\nstatus-path = /file-status\nmetrics-path = /file-metrics\n",
    );
    const s = await start(["--config", f, "--metrics-path", "/flag-metrics"], {
      SIO_STATUS_PATH: "/env-status",
      SIO_METRICS_PATH: "/env-metrics",
    });
    assert.equal(await get(s, "/file-health"), 200);
    assert.equal(await get(s, "/health"), 404);
    assert.equal(await get(s, "/env-status"), 200);
    assert.equal(await get(s, "/file-status"), 404);
    assert.equal(await get(s, "/flag-metrics"), 200);
    assert.equal(await get(s, "/env-metrics"), 404);
  });

  it("--print-config shows every flag and its origin, secrets redacted; SIO_CONFIG names the file", () => {
    const f = file(
      [
        "api-token = file-api-token-value",
        "authorize-token = file-authorize-token-value",
        "redis = redis://user:redis-password-value@127.0.0.1:6390/0",
        "jwt-public-key = /keys/a.pem",
        "jwt-public-key = /keys/b.pem",
        "max-payload = 5000",
        "rate-limit = 7",
        "",
      ].join("\n"),
    );
    const r = run(["--print-config", "--rate-limit", "9"], {
      SIO_CONFIG: f,
      SIO_JWT_SECRET: "env-jwt-secret-value",
      SIO_MAX_PAYLOAD: "6000",
    });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    for (const secret of ["file-api-token-value", "file-authorize-token-value", "redis-password-value", "env-jwt-secret-value"])
      assert.ok(!out.includes(secret), `${secret} printed:\n${out}`);
    const lines = new Map();
    for (const line of out.split("\n")) {
      const m = /^(#?)([a-z0-9-]+) =(?: (.*?))? ; (default|file|env|flag)/.exec(line);
      if (m) lines.set(m[2], [...(lines.get(m[2]) ?? []), { value: m[3], origin: m[4], unset: m[1] === "#" }]);
    }
    assert.deepEqual(lines.get("jwt-secret"), [{ value: "<redacted>", origin: "env", unset: false }]);
    assert.deepEqual(lines.get("api-token"), [{ value: "<redacted>", origin: "file", unset: false }]);
    assert.deepEqual(lines.get("authorize-token"), [{ value: "<redacted>", origin: "file", unset: false }]);
    assert.deepEqual(lines.get("redis"), [{ value: "redis://user:<redacted>@127.0.0.1:6390/0", origin: "file", unset: false }]);
    assert.deepEqual(lines.get("max-payload"), [{ value: "6000", origin: "env", unset: false }]);
    assert.deepEqual(lines.get("rate-limit"), [{ value: "9", origin: "flag", unset: false }]);
    assert.deepEqual(lines.get("ping-interval"), [{ value: "25000", origin: "default", unset: false }]);
    assert.equal(lines.get("jwt-public-key").length, 2);
    assert.equal(lines.get("host")[0].unset, true);
    // every flag of --help is listed
    const help = run(["--help"]);
    const flags = [...help.stderr.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]);
    assert.ok(flags.length > 50, help.stderr);
    for (const name of flags) assert.ok(lines.has(name), `--print-config lacks ${name}`);
  });

  it("an unknown key is an error with its line number; a bad value names its source", () => {
    const f = file("port = 0\n\n; comment\nbogus-key = 1\n");
    const r = run(["--config", f]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`${f.replace(/[/.]/g, "\\$&")}:4: unknown key "bogus-key"`));
    const bad = run(["--print-config"], { SIO_PING_INTERVAL: "soon" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad value for --ping-interval \(from env SIO_PING_INTERVAL\)/);
    const missing = run(["--config", path.join(dir, "none.ini")]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read the configuration file/);
  });
});

describe("SIGHUP reload", { timeout: 60000 * SLOW }, () => {
  it("re-reads the JWT secret file: old tokens refused, new ones accepted, connections kept", async () => {
    const secretFile = file("first-secret-0123456789abcdef\n");
    const cfg = file(`jwt-secret-file = ${secretFile}\n`);
    const s = await start(["--config", cfg]);
    const sign = (secret, sub) => jwt.sign({ sub, organization_id: "org-1" }, secret, { algorithm: "HS256", expiresIn: 600 });
    const oldToken = sign("first-secret-0123456789abcdef", "u1");
    const kept = await connect(s, oldToken);
    writeFileSync(secretFile, "second-secret-0123456789abcdef\n");
    const mark = s.stderr().length;
    s.signal("SIGHUP");
    await waitFor(() => /reload done/.test(s.stderr().slice(mark)), "the reload");
    assert.match(s.stderr().slice(mark), /reloaded: 1 keys/);
    await assert.rejects(connect(s, sign("first-secret-0123456789abcdef", "u2")), /TOKEN_INVALID|invalid/i);
    const fresh = await connect(s, sign("second-secret-0123456789abcdef", "u3"));
    assert.ok(kept.connected, "the connection made before the reload is still up");
    // and it still works: the gateway answers its ping
    const pong = await withTimeout(new Promise((resolve) => kept.emit("ping", resolve)), WAIT, "ping ack");
    assert.ok(pong !== undefined);
    kept.close();
    fresh.close();
  });

  it("changes the log level; a setting needing a restart is reported; a bad file changes nothing", async () => {
    const cfg = file("log-level = warn\nmax-payload = 100000\n");
    const s = await start(["--config", cfg]);
    const a = await connect(s);
    await new Promise((r) => setTimeout(r, 200));
    assert.doesNotMatch(s.stderr(), /debug app: socket \S+ connected/);
    writeFileSync(cfg, "log-level = debug\nmax-payload = 200000\n");
    let mark = s.stderr().length;
    s.signal("SIGHUP");
    await waitFor(() => /reload done/.test(s.stderr().slice(mark)), "the reload");
    assert.match(s.stderr().slice(mark), /max-payload changed in the configuration but needs a restart/);
    const b = await connect(s);
    await waitFor(() => /debug app: socket \S+ connected/.test(s.stderr().slice(mark)), "a debug line");
    writeFileSync(cfg, "log-level = error\nnot-a-key = 1\n");
    mark = s.stderr().length;
    s.signal("SIGHUP");
    await waitFor(() => /nothing changed/.test(s.stderr().slice(mark)), "the refused reload");
    assert.match(s.stderr().slice(mark), /:2: unknown key "not-a-key"/);
    const c = await connect(s);
    await waitFor(() => (s.stderr().slice(mark).match(/debug app: socket \S+ connected/g) ?? []).length >= 1, "debug still on");
    for (const x of [a, b, c]) x.close();
  });
});

describe("logs", { timeout: 60000 * SLOW }, () => {
  it("--log-format json writes JSON lines; --access-log a line per connection and per close", async () => {
    const access = path.join(dir, "access.log");
    const s = await start(["--log-format", "json", "--access-log", access, "--verbose"]);
    const a = await connect(s);
    const b = await connect(s, null, { transports: ["polling"] });
    a.close();
    b.close();
    await waitFor(() => {
      try {
        return readFileSync(access, "utf8").split("\n").filter(Boolean).length >= 4;
      } catch {
        return false;
      }
    }, "4 access lines");
    const lines = readFileSync(access, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const connects = lines.filter((l) => l.event === "connect");
    const closes = lines.filter((l) => l.event === "close");
    assert.equal(connects.length, 2);
    assert.equal(closes.length, 2);
    for (const l of lines) {
      assert.match(l.remote, /127\.0\.0\.1/);
      assert.match(l.transport, /^(polling|websocket)$/);
      assert.equal(typeof l.sid, "string");
    }
    for (const l of closes) {
      assert.equal(typeof l.duration_ms, "number");
      assert.ok(l.reason.length > 0);
    }
    assert.deepEqual(closes.map((l) => l.transport).sort(), ["polling", "websocket"]);
    const errLines = s.stderr().split("\n").filter(Boolean);
    assert.ok(errLines.length >= 5, s.stderr());
    for (const line of errLines) {
      const j = JSON.parse(line);
      assert.deepEqual(Object.keys(j), ["ts", "level", "module", "msg"]);
      assert.match(j.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(j.level, /^(error|warn|info|debug)$/);
    }
    // the startup summary
    const msgs = errLines.map((l) => JSON.parse(l).msg);
    for (const re of [/^cors: /, /^auth: /, /^limits: /, /^cluster: none/]) assert.ok(msgs.some((m) => re.test(m)), `${re} in ${msgs}`);
  });
});
