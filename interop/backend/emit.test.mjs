// POST /api/emit end to end (docs/backend.md): two sio-server nodes on one Redis, each with a JWT
// secret (the gateway puts every client in user:<sub> and org:<organization_id>) and a service
// token. Emits posted to either node reach users (every device, on both nodes), rooms,
// conversations and organizations, each addressed client exactly once, nobody else.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { TARGET } from "../lib/server.mjs";
import {
  HAVE_REDIS, ms, startRedis, stopAll, startNode, stopNodes, connectClient, call, got, api, uuid,
  waitUntil, sleep, closeAll, WAIT,
} from "../lib/backend.mjs";

const SKIP = !HAVE_REDIS ? "redis-server / redis-cli not installed" : TARGET === "node" && "sio-server only";

describe("backend API: POST /api/emit across two nodes on Redis", { skip: SKIP, timeout: ms(60000) }, () => {
  let redis, A, B;
  const c = {}; // name -> socket
  const conv1 = uuid();
  const conv2 = uuid();
  const tag = `${process.pid}-${Date.now()}`;
  const user = (n) => `user-${n}-${tag}`;

  before(async () => {
    redis = await startRedis();
    A = await startNode({ redis, nodeId: "node-a" });
    B = await startNode({ redis, nodeId: "node-b" });
    // u1: three devices (two on A, one on B); u2 on A; u3 on B (org-1); u4 on A, u5 on B (org-2)
    c.u1a = await connectClient(A, { sub: user(1), organization_id: "org-1", role: "operator" }, "websocket");
    c.u1b = await connectClient(A, { sub: user(1), organization_id: "org-1", role: "operator" }, "polling");
    c.u1c = await connectClient(B, { sub: user(1), organization_id: "org-1", role: "operator" }, "websocket");
    c.u2 = await connectClient(A, { sub: user(2), organization_id: "org-1", role: "admin" }, "polling");
    c.u3 = await connectClient(B, { sub: user(3), organization_id: "org-1", role: "operator" }, "polling");
    c.u4 = await connectClient(A, { sub: user(4), organization_id: "org-2", role: "operator" }, "websocket");
    c.u5 = await connectClient(B, { sub: user(5), organization_id: "org-2", role: "operator" }, "websocket");
    // conv1: u2 (A) and u3 (B); conv2: u1's device on B and u4 (A)
    for (const [s, id] of [[c.u2, conv1], [c.u3, conv1], [c.u1c, conv2], [c.u4, conv2]]) {
      const ack = await call(s, "join_conversation", { conversation_id: id });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    // both nodes subscribed: an emit from B reaches A's u4 (retry until the link is up)
    await waitUntil(async () => {
      await api(B, "emit", { event: "warmup", to: { users: [user(4)] } });
      await sleep(50);
      return got(c.u4, "warmup").length > 0;
    }, ms(5000), "the cluster to relay an emit");
  });

  after(async () => {
    closeAll(Object.values(c));
    const errors = await stopNodes();
    await stopAll();
    if (errors.length) throw errors[0];
  });

  /** Posts an emit to node, then checks that exactly `expected` (names of c) got event once. */
  async function emitAndCheck(node, body, expected) {
    const event = body.event;
    const before = Object.fromEntries(Object.entries(c).map(([k, s]) => [k, got(s, event).length]));
    const r = await api(node, "emit", body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, true);
    assert.equal(typeof r.json.local_recipients, "number");
    await waitUntil(() => expected.every((k) => got(c[k], event).length > before[k]), WAIT, `${event} on ${expected.join(",")}`);
    await sleep(ms(250)); // duplicates and strays would arrive by now
    const counts = Object.fromEntries(Object.entries(c).map(([k, s]) => [k, got(s, event).length - before[k]]));
    const want = Object.fromEntries(Object.keys(c).map((k) => [k, expected.includes(k) ? 1 : 0]));
    assert.deepEqual(counts, want, `${event}: who got it how many times`);
    return r.json;
  }

  it("to a user: every device of the user on both nodes, exactly once", async () => {
    const r = await emitAndCheck(A, { event: "message:new", data: { text: "hi" }, to: { users: [user(1)] } }, ["u1a", "u1b", "u1c"]);
    assert.equal(r.local_recipients, 2, "two of the user's sockets are on the node that was posted to");
    assert.deepEqual(got(c.u1c, "message:new").at(-1), [{ text: "hi" }]);
    // posted to the other node: same recipients
    const r2 = await emitAndCheck(B, { event: "message:new2", data: 1, to: { users: user(1) } }, ["u1a", "u1b", "u1c"]);
    assert.equal(r2.local_recipients, 1);
  });

  it("to a conversation: its members on both nodes", async () => {
    await emitAndCheck(B, { event: "conv", data: { conversation_id: conv1 }, to: { conversations: [conv1] } }, ["u2", "u3"]);
  });

  it("to an organization: every socket of the organization", async () => {
    await emitAndCheck(A, { event: "org", data: "o", to: { organizations: ["org-2"] } }, ["u4", "u5"]);
    await emitAndCheck(B, { event: "org1", data: "o", to: { organizations: "org-1" } }, ["u1a", "u1b", "u1c", "u2", "u3"]);
  });

  it("to raw rooms: a socket id (a room of its own) on the other node and a gateway room", async () => {
    await emitAndCheck(A, { event: "rooms", data: 0, to: { rooms: [c.u5.id, `conversation:${conv2}`] } }, ["u5", "u1c", "u4"]);
  });

  it("users, rooms, conversations and organizations in one call: each client once, however many targets it matches", async () => {
    const body = {
      event: "all-kinds",
      data: { n: 1 },
      to: {
        users: [user(1), user(3)],
        conversations: [conv1, conv2],
        organizations: ["org-2"],
        rooms: [`user:${user(2)}`, c.u1c.id],
      },
    };
    // u1c matches user(1), conv2 and its id; u3 user(3) and conv1; u4 conv2 and org-2; u2 conv1 and its user room
    await emitAndCheck(A, body, ["u1a", "u1b", "u1c", "u2", "u3", "u4", "u5"]);
    assert.deepEqual(got(c.u4, "all-kinds").at(-1), [{ n: 1 }]);
  });

  it("except: rooms and socket ids, on both nodes", async () => {
    await emitAndCheck(A, { event: "ex1", data: 1, to: { organizations: ["org-1"] }, except: [`user:${user(1)}`] }, ["u2", "u3"]);
    await emitAndCheck(B, { event: "ex2", data: 1, to: { users: [user(1)] }, except: [c.u1a.id, c.u1c.id] }, ["u1b"]);
    await emitAndCheck(A, { event: "ex3", data: 1, to: { organizations: ["org-1", "org-2"] }, except: `conversation:${conv1}` }, [
      "u1a", "u1b", "u1c", "u4", "u5",
    ]);
  });

  it("data is one argument whatever its type; args is the argument list; neither is no argument", async () => {
    const cases = [
      [{ data: { a: [1, { b: null }] } }, [{ a: [1, { b: null }] }]],
      [{ data: [1, 2, 3] }, [[1, 2, 3]]],
      [{ data: "text é😀" }, ["text é😀"]],
      [{ data: 42.5 }, [42.5]],
      [{ data: false }, [false]],
      [{ data: null }, [null]],
      [{ args: [1, "two", { three: 3 }, [4]] }, [1, "two", { three: 3 }, [4]]],
      [{ args: [] }, []],
      [{}, []],
    ];
    let i = 0;
    for (const [extra, want] of cases) {
      const event = `args-${i++}`;
      await emitAndCheck(B, { event, to: { users: [user(4)] }, ...extra }, ["u4"]);
      assert.deepEqual(got(c.u4, event)[0], want, JSON.stringify(extra));
    }
  });

  it("namespace: \"/\" by name works; one this server does not serve is refused and not created", async () => {
    await emitAndCheck(A, { event: "nsp", data: 1, namespace: "/", to: { users: [user(5)] } }, ["u5"]);
    for (const namespace of ["/other", "nope", 5, null]) {
      const r = await api(A, "emit", { event: "nsp", namespace, to: { users: [user(5)] } });
      assert.equal(r.status, 400, `${JSON.stringify(namespace)}: ${r.text}`);
      assert.equal(r.json.error.code, "BAD_REQUEST");
    }
    // the refused namespace was not created: a client (even with a valid token) is refused there
    const { io } = await import("socket.io-client");
    const s = io(`${A.url}/other`, { forceNew: true, reconnection: false, transports: ["websocket"], auth: {} });
    try {
      const err = await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no answer for /other")), WAIT);
        s.once("connect", () => {
          clearTimeout(t);
          reject(new Error("connected to a namespace the API was asked to emit to"));
        });
        s.once("connect_error", (e) => {
          clearTimeout(t);
          resolve(e);
        });
      });
      assert.equal(err.message, "Invalid namespace");
    } finally {
      s.close();
    }
  });

  it("a reply per request, emits with no local recipient included (local_recipients 0)", async () => {
    const r = await api(A, "emit", { event: "nobody", data: 1, to: { users: ["nobody-at-all"] } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { ok: true, local_recipients: 0 });
    assert.match(r.headers["content-type"], /^application\/json/);
  });
});
