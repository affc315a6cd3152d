// POST /api/disconnect and GET /api/sockets across two sio-server nodes on one Redis
// (docs/backend.md): a user logged out everywhere, a room emptied, and the cluster-wide socket
// list with each socket's identity and rooms.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { TARGET } from "../lib/server.mjs";
import {
  HAVE_REDIS, ms, startRedis, stopAll, startNode, stopNodes, connectClient, call, api, sockets, uuid, waitUntil, sleep,
  closeAll, WAIT,
} from "../lib/backend.mjs";

const SKIP = !HAVE_REDIS ? "redis-server / redis-cli not installed" : TARGET === "node" && "sio-server only";

describe("backend API: /api/disconnect and /api/sockets across two nodes", { skip: SKIP, timeout: ms(60000) }, () => {
  let redis, A, B;
  const all = [];
  const tag = `${process.pid}-${Date.now()}`;
  const conv = uuid();
  const ids = {
    banned: { sub: `banned-${tag}`, organization_id: `acme-${tag}`, role: "operator" },
    other: { sub: `other-${tag}`, organization_id: `acme-${tag}`, role: "admin" },
    far: { sub: `far-${tag}`, organization_id: `globex-${tag}`, role: "viewer" },
  };
  let banned, other, far;

  const open = async (node, id, mode) => {
    const s = await connectClient(node, id, mode);
    all.push(s);
    return s;
  };

  before(async () => {
    redis = await startRedis();
    A = await startNode({ redis, nodeId: "node-a" });
    B = await startNode({ redis, nodeId: "node-b" });
    banned = [await open(A, ids.banned, "websocket"), await open(B, ids.banned, "polling"), await open(B, ids.banned, "websocket")];
    other = [await open(A, ids.other, "polling"), await open(B, ids.other, "websocket")];
    far = [await open(A, ids.far, "websocket")];
    for (const s of [banned[0], other[1]]) assert.equal((await call(s, "join_conversation", { conversation_id: conv })).ok, true);
    // both nodes answer cluster requests before the tests start
    await waitUntil(async () => (await sockets(A, `?room=org:${ids.other.organization_id}`)).sockets.length === 5, ms(5000), "both nodes in /api/sockets");
  });

  after(async () => {
    closeAll(all);
    const errors = await stopNodes();
    await stopAll();
    if (errors.length) throw errors[0];
  });

  it("GET /api/sockets?room=org:…: the sockets of both nodes with user_id, organization_id, role and rooms", async () => {
    for (const node of [A, B]) {
      const r = await sockets(node, `?room=${encodeURIComponent(`org:${ids.other.organization_id}`)}`);
      assert.equal(r.ok, true);
      assert.equal(r.complete, true, "every node answered");
      const byId = new Map(r.sockets.map((s) => [s.id, s]));
      const want = [...banned, ...other];
      assert.deepEqual([...byId.keys()].sort(), want.map((s) => s.id).sort());
      for (const s of want) {
        const e = byId.get(s.id);
        assert.equal(e.user_id, s.ident.sub);
        assert.equal(e.organization_id, s.ident.organization_id);
        assert.equal(e.role, s.ident.role);
        assert.ok(e.rooms.includes(s.id), "its own room");
        assert.ok(e.rooms.includes(`user:${s.ident.sub}`), JSON.stringify(e.rooms));
        assert.ok(e.rooms.includes(`org:${s.ident.organization_id}`), JSON.stringify(e.rooms));
      }
      assert.ok(byId.get(banned[0].id).rooms.includes(`conversation:${conv}`));
      assert.ok(!byId.get(banned[1].id).rooms.includes(`conversation:${conv}`));
    }
  });

  it("GET /api/sockets: a conversation's members, a user's devices, everybody, nobody", async () => {
    let r = await sockets(B, `?room=conversation:${conv}`);
    assert.deepEqual(r.sockets.map((s) => s.id).sort(), [banned[0].id, other[1].id].sort());
    r = await sockets(A, `?room=user:${ids.banned.sub}`);
    assert.deepEqual(r.sockets.map((s) => s.id).sort(), banned.map((s) => s.id).sort());
    r = await sockets(A, "");
    assert.deepEqual(r.sockets.map((s) => s.id).sort(), all.map((s) => s.id).sort());
    r = await sockets(A, "?room=");
    assert.equal(r.sockets.length, all.length, "an empty room means the whole namespace");
    r = await sockets(A, "?room=no-such-room");
    assert.deepEqual(r, { ok: true, complete: true, sockets: [] });
    r = await sockets(B, `?room=${encodeURIComponent(far[0].id)}&namespace=%2F`);
    assert.equal(r.sockets.length, 1);
    assert.equal(r.sockets[0].role, "viewer");
  });

  it("POST /api/disconnect {users}: the user's sockets on both nodes see \"io server disconnect\", nobody else", async () => {
    const r = await api(B, "disconnect", { users: [ids.banned.sub], reason: "banned" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, true);
    assert.equal(r.json.local_disconnected, 2, "two of the user's sockets are on the node posted to");
    await waitUntil(() => banned.every((s) => s.disconnects.length === 1), WAIT, "the banned user's disconnects");
    for (const s of banned) {
      assert.deepEqual(s.disconnects, ["io server disconnect"]);
      assert.equal(s.connected, false);
    }
    await sleep(ms(300));
    for (const s of banned) assert.equal(s.active, false, "io server disconnect: no automatic reconnection");
    for (const s of [...other, ...far]) {
      assert.equal(s.connected, true);
      assert.deepEqual(s.disconnects, []);
    }
    const list = await sockets(A, `?room=org:${ids.banned.organization_id}`);
    assert.deepEqual(list.sockets.map((s) => s.id).sort(), other.map((s) => s.id).sort());
    // the user may come back (a ban is the backend's business: it stops issuing tokens)
    const again = await open(B, ids.banned, "websocket");
    assert.equal(again.connected, true);
    again.close();
  });

  it("POST /api/disconnect {rooms, close: true}: a room emptied on both nodes", async () => {
    const r = await api(A, "disconnect", { rooms: [`org:${ids.other.organization_id}`], close: true });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.local_disconnected, 1);
    await waitUntil(() => other.every((s) => s.disconnects.length === 1), WAIT, "the room's disconnects");
    for (const s of other) assert.deepEqual(s.disconnects, ["io server disconnect"]);
    assert.equal(far[0].connected, true);
    const left = await sockets(B, "");
    assert.deepEqual(left.sockets.map((s) => s.id), [far[0].id]);
  });
});
