#!/usr/bin/env node
// Runs one area of the interop tests with node's test runner:
//
//   node interop/run-tests.mjs eio|sio|browser|hostile|faults|nginx|auth|gateway|redis|backend|metrics|python|config|presence|adminchat|all [extra node --test options]
//
// Used by interop/meson.build. Exits 77 (meson: skipped) when the npm dependencies are not
// installed (run `npm install` in interop/), unless INTEROP_REQUIRED=1, which makes that a failure.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const AREAS = ["eio", "sio", "browser", "hostile", "faults", "nginx", "auth", "gateway", "redis", "backend", "metrics", "python", "config", "presence", "adminchat"];

const [area = "all", ...extra] = process.argv.slice(2);
const areas = area === "all" ? AREAS : [area];
if (!areas.every((a) => AREAS.includes(a))) {
  console.error(`usage: run-tests.mjs ${AREAS.join("|")}|all [node --test options]`);
  process.exit(2);
}

const needed = ["engine.io-client", "socket.io-client", "engine.io", "socket.io", "playwright-core", "ws",
  "jsonwebtoken", "jose", "redis", "@socket.io/redis-adapter", "@socket.io/redis-emitter", "parse-prometheus-text-format"];
const missing = needed.filter((p) => !existsSync(path.join(here, "node_modules", p, "package.json")));
if (missing.length) {
  console.error(`interop: npm packages missing (${missing.join(", ")}): run "npm install" in ${here}`);
  process.exit(process.env.INTEROP_REQUIRED === "1" ? 1 : 77);
}

const files = areas.flatMap((a) =>
  readdirSync(path.join(here, a))
    .filter((f) => f.endsWith(".test.mjs"))
    .sort()
    .map((f) => path.join(a, f)),
);

// Areas whose files share nothing (each starts its own servers and Redis on free ports, and
// their waits are mostly idle: TTLs, settle times) run two files at a time; the others, whose
// tests measure time or load the machine (heartbeats, floods, drains), one at a time.
const CONCURRENT = new Set(["redis", "gateway", "presence"]);
const concurrency = areas.length === 1 && CONCURRENT.has(areas[0]) ? 2 : 1;

// TAP while the tests run, then a list of the failed tests and their errors at the end.
const reporters = extra.some((a) => a.startsWith("--test-reporter"))
  ? []
  : ["--test-reporter=tap", "--test-reporter-destination=stdout",
     `--test-reporter=${path.join(here, "lib", "failure-summary.mjs")}`, "--test-reporter-destination=stdout"];

const res = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrency}`, ...reporters, ...extra, ...files], {
  cwd: here,
  stdio: "inherit",
  env: process.env,
  timeout: 280 * 1000,
  killSignal: "SIGKILL",
});
if (res.error) {
  console.error(`interop: ${res.error.message}`);
  process.exit(1);
}
process.exit(res.status ?? 1);
