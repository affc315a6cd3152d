// The gateway with Debian's python-socketio client (python3-socketio 5.7, its websocket-client
// and requests transports), driven by gateway_client.py: connect with auth {token} over
// WebSocket and polling, the connected event, join_conversation, typing between two Python
// clients, ping/pong, a BAD_REQUEST, leave; a refused token's connect_error.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TARGET } from "../lib/server.mjs";
import { ms, startNode, stopNodes, token, uuid } from "../lib/backend.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.PYTHON3 ?? "/usr/bin/python3";
const HAVE = spawnSync(PYTHON, ["-c", "import socketio, websocket, requests"]).status === 0;
if (!HAVE && process.env.INTEROP_REQUIRED === "1") {
  throw new Error("python3-socketio, python3-websocket and python3-requests are required (INTEROP_REQUIRED=1): scripts/deps.sh installs them");
}
const SKIP = !HAVE ? "python3-socketio / python3-websocket / python3-requests not installed" : TARGET === "node" && "sio-server only";

/** Runs the script; resolves with its JSON line. Killed after a bounded time. */
function runPython(url, transport, scenario, tokens) {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [path.join(here, "gateway_client.py"), url, transport, scenario], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), ms(30000));
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`python ${scenario}/${transport}: code=${code} signal=${signal}\n${err.slice(-3000)}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1)));
      } catch {
        reject(new Error(`python output: ${out} ${err}`));
      }
    });
    child.stdin.end(JSON.stringify(tokens));
  });
}

describe("gateway with python-socketio (Debian)", { skip: SKIP, timeout: ms(90000) }, () => {
  let S;
  before(async () => {
    S = await startNode({ extra: ["--typing-timeout", "5000"] });
  });
  after(async () => {
    await stopNodes();
  });

  for (const transport of ["websocket", "polling"]) {
    it(`${transport}: connected, join_conversation, typing, ping/pong, BAD_REQUEST, leave`, async () => {
      const conversation = uuid();
      const tag = `${process.pid}-${transport}`;
      const r = await runPython(S.url, transport, "flow", {
        a: token({ sub: `py-a-${tag}`, organization_id: "org-py", role: "operator" }),
        b: token({ sub: `py-b-${tag}`, organization_id: "org-py", role: "admin" }),
        conversation,
      });
      assert.equal(r.transport, transport);
      assert.equal(r.connected.user_id, `py-a-${tag}`);
      assert.equal(r.connected.organization_id, "org-py");
      assert.equal(r.connected.role, "operator");
      assert.equal(typeof r.connected.message, "string");
      assert.equal(r.join_ack.ok, true);
      assert.equal(r.joined.conversation_id, conversation);
      assert.deepEqual(r.typing, { conversation_id: conversation, user_id: `py-a-${tag}`, typing: true });
      assert.deepEqual(r.typing_stop, { conversation_id: conversation, user_id: `py-a-${tag}`, typing: false });
      assert.deepEqual(r.a_typing_echo, [], "typing is not echoed to the sender");
      assert.equal(r.pong_ack.ok, true);
      assert.match(r.pong.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      assert.equal(r.bad_ack.ok, false);
      assert.equal(r.bad_ack.error.code, "BAD_REQUEST");
      assert.equal(r.error_event.code, "BAD_REQUEST");
      assert.equal(r.leave_ack.ok, true);
      assert.equal(r.left.conversation_id, conversation);
    });

    it(`${transport}: an expired token is refused with connect_error {code: TOKEN_EXPIRED}`, async () => {
      const r = await runPython(S.url, transport, "refused", { bad: token({ sub: "py-x", organization_id: "o" }, -3600) });
      assert.equal(r.connected, undefined);
      assert.equal(r.connect_error.data?.code ?? r.connect_error.code, "TOKEN_EXPIRED", JSON.stringify(r));
      assert.equal(typeof r.connect_error.message, "string");
    });
  }

  it("shuts down cleanly", async () => {
    const errors = await stopNodes();
    if (errors.length) throw errors[0];
  });
});
