// Join authorisation through --authorize-url, answered by an HTTP server of the test: 2xx
// allows, 403 denies (FORBIDDEN), another status or no answer within --authorize-timeout is
// UNAVAILABLE; allow and deny are cached per user and conversation for --authorize-cache-ttl.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer } from "../lib/server.mjs";
import { shutdownCheck } from "../lib/harness.mjs";
import { MODES } from "../lib/clients.mjs";
import { sleep } from "../lib/util.mjs";
import {
  SLOW, uuid, identity, connectUser, call, next, expectError, join, closeAll, waitUntil, WAIT,
} from "../lib/gateway.mjs";

const TIMEOUT = 400 * SLOW;
const TTL = 1500 * SLOW;
const TOKEN = "service-token-123";

/** The authorisation service: decisions by conversation id; every request recorded. */
function startAuthorizer() {
  const decisions = new Map(); // conversation_id -> status | "hang"
  const requests = [];
  const held = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      let json = null;
      try {
        json = JSON.parse(body);
      } catch {
        // recorded as null
      }
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: json });
      const decision = decisions.get(json?.conversation_id) ?? 200;
      if (decision === "hang") {
        held.push(res);
        return;
      }
      res.writeHead(decision, { "content-type": "application/json" });
      res.end(JSON.stringify({ allowed: decision < 300 }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}/authorize`,
        decisions,
        requests,
        /** Requests for one conversation so far. */
        count: (conv) => requests.filter((r) => r.body?.conversation_id === conv).length,
        close: () => {
          for (const res of held) res.destroy();
          server.closeAllConnections?.();
          return new Promise((r) => server.close(r));
        },
      });
    });
  });
}

describe("gateway join authorisation", () => {
  const ctx = { server: null, kind: "gateway" };
  let authz;
  before(async () => {
    authz = await startAuthorizer();
    ctx.server = await startServer("gateway", {
      args: ["--gateway", "--authorize-url", authz.url, "--authorize-timeout", String(TIMEOUT),
        "--authorize-cache-ttl", String(TTL), "--rate-limit", "0"],
      env: { SIO_AUTHORIZE_TOKEN: TOKEN },
    });
  });
  after(async () => {
    await ctx.server?.stop();
    await authz?.close();
  });

  for (const mode of MODES) {
    describe(`transport: ${mode}`, () => {
      it("2xx allows: the service gets the identity, the conversation and the bearer token", { timeout: 30000 }, async () => {
        const id = identity("org-x", "supervisor");
        const conv = uuid();
        const { socket } = await connectUser(ctx.server, mode, id);
        try {
          await join(socket, conv);
          const req = authz.requests.find((r) => r.body?.conversation_id === conv);
          assert.equal(req.method, "POST");
          assert.equal(req.url, "/authorize");
          assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
          assert.match(req.headers["content-type"], /^application\/json/);
          assert.deepEqual(req.body, { user_id: id.user_id, organization_id: "org-x", role: "supervisor", conversation_id: conv });
          assert.equal((await call(socket, "typing_start", { conversation_id: conv })).ok, true);
        } finally {
          closeAll(socket);
        }
      });

      it("403 denies with FORBIDDEN and the socket does not join", { timeout: 30000 }, async () => {
        const conv = uuid();
        authz.decisions.set(conv, 403);
        const { socket } = await connectUser(ctx.server, mode, identity());
        try {
          await expectError(socket, "FORBIDDEN", "join_conversation", { conversation_id: conv });
          await expectError(socket, "FORBIDDEN", "typing_start", { conversation_id: conv });
        } finally {
          closeAll(socket);
        }
      });

      it("other statuses and timeouts are UNAVAILABLE, and not cached", { timeout: 30000 }, async () => {
        const broken = uuid();
        const slow = uuid();
        authz.decisions.set(broken, 500);
        authz.decisions.set(slow, "hang");
        const { socket } = await connectUser(ctx.server, mode, identity());
        try {
          await expectError(socket, "UNAVAILABLE", "join_conversation", { conversation_id: broken });
          await expectError(socket, "UNAVAILABLE", "join_conversation", { conversation_id: broken });
          assert.equal(authz.count(broken), 2);
          const t0 = Date.now();
          await expectError(socket, "UNAVAILABLE", "join_conversation", { conversation_id: slow });
          assert.ok(Date.now() - t0 >= TIMEOUT * 0.8, `answered after ${Date.now() - t0} ms`);
          // the socket works on while a service hangs
          assert.equal((await call(socket, "ping")).ok, true);
        } finally {
          closeAll(socket);
        }
      });

      it("decisions are cached per user and conversation for the TTL", { timeout: 30000 }, async () => {
        const allowed = uuid();
        const denied = uuid();
        authz.decisions.set(denied, 403);
        const id = identity();
        const { socket } = await connectUser(ctx.server, mode, id);
        const { socket: same } = await connectUser(ctx.server, mode, id);
        const { socket: other } = await connectUser(ctx.server, mode, identity());
        try {
          await join(socket, allowed);
          await join(same, allowed); // another socket of the same user: cached
          await call(socket, "leave_conversation", { conversation_id: allowed });
          await join(socket, allowed);
          assert.equal(authz.count(allowed), 1);
          await expectError(socket, "FORBIDDEN", "join_conversation", { conversation_id: denied });
          await expectError(same, "FORBIDDEN", "join_conversation", { conversation_id: denied });
          assert.equal(authz.count(denied), 1);
          await join(other, allowed); // another user asks for itself
          assert.equal(authz.count(allowed), 2);
          await sleep(TTL + 100);
          await join(socket, allowed);
          assert.equal(authz.count(allowed), 3);
        } finally {
          closeAll(socket, same, other);
        }
      });

      it("leaving or disconnecting while the answer is pending does no harm", { timeout: 30000 }, async () => {
        const conv = uuid();
        authz.decisions.set(conv, "hang");
        const { socket: a } = await connectUser(ctx.server, mode, identity());
        const { socket: b } = await connectUser(ctx.server, mode, identity());
        try {
          a.emit("join_conversation", { conversation_id: conv });
          await waitUntil(() => authz.count(conv) >= 1, WAIT, "the authorisation request");
          a.disconnect();
          const pending = call(b, "join_conversation", { conversation_id: conv });
          await waitUntil(() => authz.count(conv) >= 2, WAIT, "the second authorisation request");
          const left = next(b, "left_conversation");
          await call(b, "leave_conversation", { conversation_id: conv });
          await left;
          const answer = await pending;
          assert.equal(answer.ok, false);
          assert.equal(answer.error.code, "BAD_REQUEST");
          await sleep(TIMEOUT + 100);
          assert.equal((await call(b, "ping")).ok, true);
        } finally {
          closeAll(a, b);
        }
      });
    });
  }

  it("an unreachable service is UNAVAILABLE", { timeout: 30000 }, async () => {
    const closedPort = await new Promise((resolve) => {
      const s = http.createServer();
      s.listen(0, "127.0.0.1", () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
    const server = await startServer("gateway", {
      args: ["--gateway", "--authorize-url", `http://127.0.0.1:${closedPort}/x`, "--authorize-timeout", String(TIMEOUT)],
    });
    try {
      const { socket } = await connectUser(server, "websocket", identity());
      try {
        await expectError(socket, "UNAVAILABLE", "join_conversation", { conversation_id: uuid() });
      } finally {
        closeAll(socket);
      }
    } finally {
      await server.stop();
    }
  });

  shutdownCheck(ctx);
});
