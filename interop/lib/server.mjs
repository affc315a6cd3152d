// Starts a reference server as a child process, waits for its readiness line and stops it again.
//
// Target selection:
//   INTEROP_TARGET=node  -> lib/node-reference-servers.mjs (official Node packages)
//   otherwise            -> the C binaries: $EIO_SERVER / $SIO_SERVER, falling back to
//                           <repo>/build/src/app/{eio,sio}-reference-server
//
// stop() fails (throws) when the server did not exit with status 0 after SIGTERM, or when its
// stderr shows a sanitizer report.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..");
const defaultBuildDir = path.join(repoRoot, "build");

export const TARGET = process.env.INTEROP_TARGET === "node" ? "node" : "c";

const READY_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;

const SANITIZER_PATTERNS = [
  /ERROR: AddressSanitizer/,
  /ERROR: LeakSanitizer/,
  /LeakSanitizer/,
  /runtime error:/,
  /ERROR: ThreadSanitizer/,
  /WARNING: ThreadSanitizer/,
];

function binaryFor(kind) {
  // "gateway": sio-server itself (its --gateway mode), not a reference server
  if (kind === "gateway") return process.env.GATEWAY_SERVER || path.join(defaultBuildDir, "src", "app", "sio-server");
  const envName = kind === "eio" ? "EIO_SERVER" : "SIO_SERVER";
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  return path.join(defaultBuildDir, "src", "app", `${kind}-reference-server`);
}

function commandFor(kind, extraArgs, binOverride) {
  if (TARGET === "node" && kind !== "gateway") {
    return {
      cmd: process.execPath,
      args: [path.join(here, "node-reference-servers.mjs"), kind, "--port", "0", ...extraArgs],
    };
  }
  const bin = binOverride ?? binaryFor(kind);
  if (!existsSync(bin)) {
    throw new Error(`server binary not found: ${bin} (set ${kind === "eio" ? "EIO" : "SIO"}_SERVER or build it)`);
  }
  return { cmd: bin, args: ["--port", "0", ...extraArgs] };
}

/**
 * @param {string} kind "eio" | "sio" | "gateway" (or a label when options.command is given)
 * @param {{pingInterval?: number, pingTimeout?: number, maxPayload?: number, args?: string[],
 *          bin?: string, wrap?: string[], command?: string[], env?: object}} [options]
 */
export async function startServer(kind, options = {}) {
  const extraArgs = [];
  if (options.pingInterval !== undefined) extraArgs.push("--ping-interval", String(options.pingInterval));
  if (options.pingTimeout !== undefined) extraArgs.push("--ping-timeout", String(options.pingTimeout));
  if (options.maxPayload !== undefined) extraArgs.push("--max-payload", String(options.maxPayload));
  if (options.args) extraArgs.push(...options.args); // further flags of the C servers

  // options.command: [program, ...args] to run instead of the reference server of `kind` (same
  // readiness line and stop contract); the options above are appended to it. options.bin:
  // another C program than the reference server (e.g. sio-server), run with --port 0
  const { cmd: bin, args: binArgs } = options.command
    ? { cmd: options.command[0], args: [...options.command.slice(1), ...extraArgs] }
    : commandFor(kind, extraArgs, options.bin);
  // options.wrap: a command line to run the server under (e.g. ["prlimit", "--nofile=64", "--"])
  const [cmd, ...args] = options.wrap ? [...options.wrap, bin, ...binArgs] : [bin, ...binArgs];
  // options.env: extra environment variables for the server process
  const env = options.env ? { ...process.env, ...options.env } : process.env;
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });

  let stdout = "";
  let stderr = "";
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (process.env.INTEROP_VERBOSE) process.stderr.write(`[${kind}-server] ${chunk}`);
  });
  child.stdout.setEncoding("utf8");

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${kind} server did not print its readiness line within ${READY_TIMEOUT_MS} ms; ` +
        `stdout=${JSON.stringify(stdout)} stderr=${JSON.stringify(stderr.slice(-2000))}`));
    }, READY_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const m = /listening on port (\d+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exitPromise.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${kind} server exited before it was ready (code=${code} signal=${signal}); ` +
        `stderr=${JSON.stringify(stderr.slice(-2000))}`));
    });
  });

  let stopped = false;
  return {
    kind,
    port,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    /** Current stderr text (for diagnostics). */
    stderr: () => stderr,
    /** True while the process is running. */
    alive: () => exited === null,
    /** Resolves with {code, signal} once the process has exited. */
    exited: () => exitPromise,
    /** Sends a signal (e.g. SIGSTOP / SIGCONT) to the server process. */
    signal: (sig) => {
      if (exited === null) child.kill(sig);
    },
    /**
     * Stops the server with SIGTERM and checks it went down cleanly. Throws on a non-zero exit,
     * a kill by signal, a hang, or a sanitizer report in stderr.
     */
    async stop() {
      if (stopped) return;
      stopped = true;
      if (exited === null) {
        child.kill("SIGCONT");
        child.kill("SIGTERM");
      }
      let timer;
      const result = await Promise.race([
        exitPromise,
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      const problems = [];
      if (result === null) {
        child.kill("SIGKILL");
        await exitPromise;
        problems.push(`did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed)`);
      } else if (result.code !== 0) {
        problems.push(`exited with code=${result.code} signal=${result.signal}`);
      }
      for (const re of SANITIZER_PATTERNS) {
        if (re.test(stderr)) {
          problems.push(`sanitizer report in stderr (${re})`);
          break;
        }
      }
      if (problems.length) {
        throw new Error(`${kind} server (pid ${child.pid}): ${problems.join("; ")}\n--- stderr (tail) ---\n` +
          stderr.slice(-6000));
      }
    },
  };
}
