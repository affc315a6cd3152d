// Presence across two sio-server nodes on one redis-server (docs/presence.md): several tabs
// count once, transitions reach the organization on both nodes exactly once, presence:list,
// organizations kept apart, the per-user cap across nodes, and the crash cases (a node killed
// with SIGKILL: its users go offline within the lease; a node restarted on the same port: its
// predecessor's counts are replaced, never added to).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { SKIP, startRedis, stopAll, redisCli } from "../lib/redis.mjs";
import { closeAll } from "../lib/clients.mjs";
import {
  LEASE, ms, sleep, startNode, killNode, stopNodes, who, connectAs, updatesOf, waitUpdates, list, metric,
  refusedWith, waitUntil,
} from "../lib/presence.mjs";

const SETTLE = ms(400);

describe("presence across two nodes", { skip: SKIP, timeout: ms(90000) }, () => {
  let redis, a, b, restarted;
  const open = [];
  const connect = async (node, id) => {
    const s = await connectAs(node, id);
    open.push(s);
    return s;
  };

  before(async () => {
    redis = await startRedis();
    a = await startNode(redis);
    b = await startNode(redis);
  });

  after(async () => {
    closeAll(open);
    const errors = await stopNodes();
    await stopAll();
    if (errors.length) throw errors[0];
  });

  it("two tabs on two nodes: one online, offline only after both left, on both nodes", async () => {
    const wa = await connect(a, who("org-1", "watch-a"));
    const wb = await connect(b, who("org-1", "watch-b"));
    const u = who("org-1");
    const tab1 = await connect(a, u);
    await waitUpdates([wa, wb], u.user_id, 1, "online");
    const tab2 = await connect(b, u);
    await sleep(SETTLE);
    assert.equal(updatesOf(wa, u.user_id).length, 1, "one online event on node a");
    assert.equal(updatesOf(wb, u.user_id).length, 1, "one online event on node b");
    assert.deepEqual(updatesOf(wa, u.user_id)[0], { user_id: u.user_id, organization_id: "org-1", status: "online" });
    tab1.close();
    await sleep(SETTLE);
    assert.equal(updatesOf(wa, u.user_id).length, 1, "no offline while a tab is left");
    tab2.close();
    await waitUpdates([wa, wb], u.user_id, 2, "offline");
    await sleep(SETTLE);
    assert.equal(updatesOf(wa, u.user_id).length, 2);
    assert.equal(updatesOf(wb, u.user_id).length, 2);
    closeAll(wa, wb);
  });

  it("presence:list answers the caller's organization, the same on both nodes", async () => {
    const x = who("org-list"), y = who("org-list"), z = who("org-list-other");
    const sx = await connect(a, x);
    const sy1 = await connect(b, y);
    const sy2 = await connect(a, y);
    const sz = await connect(b, z);
    for (const s of [sx, sy1]) {
      const ans = await list(s);
      assert.equal(ans.ok, true);
      assert.deepEqual([...ans.users].sort(), [x.user_id, y.user_id].sort(), "each user once");
    }
    assert.deepEqual((await list(sz)).users, [z.user_id]);
    closeAll(sx, sy1, sy2, sz);
    await waitUntil(async () => (await list(await connect(a, who("org-list")))).users.length === 1, ms(5000), "the list to empty");
  });

  it("organizations are kept apart", async () => {
    const w1 = await connect(a, who("org-iso-1", "watch"));
    const w2 = await connect(b, who("org-iso-2", "watch"));
    const u = who("org-iso-2");
    const s = await connect(a, u);
    await waitUpdates([w2], u.user_id, 1, "online");
    await sleep(SETTLE);
    assert.equal(updatesOf(w1, u.user_id).length, 0, "another organization hears nothing");
    assert.ok(!(await list(w1)).users.includes(u.user_id));
    closeAll(w1, w2, s);
  });

  it("the per-user cap counts the sockets on every node", async () => {
    const u = who("org-cap");
    const s1 = await connect(a, u);
    const s2 = await connect(b, u);
    const s3 = await connect(a, u);
    for (const node of [a, b]) {
      const err = await refusedWith(node, "websocket", u);
      assert.equal(err.data?.code, "CONNECTION_LIMIT", `refused on ${node.port}`);
    }
    s2.close();
    await sleep(SETTLE);
    const s4 = await connect(b, u); // a place is free again, on any node
    closeAll(s1, s3, s4);
    assert.ok((await metric(a, "sio_connection_limit_refusals_total")) >= 1);
  });

  it("metrics count the organization's online users", async () => {
    const u1 = who("org-metrics"), u2 = who("org-metrics");
    const w = await connect(a, who("org-metrics", "watch"));
    const s1 = await connect(a, u1);
    const s2 = await connect(b, u2);
    await waitUpdates([w], u2.user_id, 1, "online");
    for (const node of [a, b])
      await waitUntil(async () => (await metric(node, 'sio_presence_online_users{organization="org-metrics"}')) === 3, ms(5000), "3 online in the metrics");
    closeAll(w, s1, s2);
  });

  it("a node killed with SIGKILL: its users go offline within the lease, others stay", async () => {
    const c = await startNode(redis);
    const wid = who("org-kill", "watch");
    const w = await connect(a, wid);
    const gone = who("org-kill"), both = who("org-kill");
    await connect(c, gone);
    await connect(c, both);
    await connect(a, both);
    await waitUpdates([w], gone.user_id, 1, "online");
    await waitUpdates([w], both.user_id, 1, "online");
    const t0 = Date.now();
    await killNode(c);
    await waitUpdates([w], gone.user_id, 2, "offline", LEASE + ms(3000));
    const took = Date.now() - t0;
    assert.ok(took <= LEASE + ms(1000), `offline after ${took} ms (lease ${LEASE} ms)`);
    await sleep(SETTLE);
    assert.equal(updatesOf(w, both.user_id).length, 1, "a user still on another node stays online");
    assert.deepEqual([...(await list(w)).users].sort(), [both.user_id, wid.user_id].sort());
  });

  it("a node restarted on the same port replaces its predecessor's counts at once", async () => {
    let c = await startNode(redis);
    const port = c.port;
    const w = await connect(a, who("org-restart", "watch"));
    const only = who("org-restart"), both = who("org-restart");
    await connect(c, only);
    await connect(c, both);
    const onA = await connect(a, both);
    await waitUpdates([w], only.user_id, 1, "online");
    await waitUpdates([w], both.user_id, 1, "online");
    await killNode(c);
    const t0 = Date.now();
    c = restarted = await startNode(redis, { port });
    // the predecessor is dropped when the new process registers, before its lease lapses
    await waitUpdates([w], only.user_id, 2, "offline", ms(3000));
    assert.ok(Date.now() - t0 < LEASE + ms(1000));
    const back = await connect(c, both);
    await sleep(LEASE + SETTLE); // past the old lease: nothing more may happen to `both`
    assert.equal(updatesOf(w, both.user_id).length, 1, "still online, never offline");
    assert.equal((await list(w)).users.filter((x) => x === both.user_id).length, 1);
    // one socket each on a and on the new node: two leaves make exactly one offline, at once
    onA.close();
    back.close();
    await waitUpdates([w], both.user_id, 2, "offline", ms(3000));
    await sleep(SETTLE);
    assert.equal(updatesOf(w, both.user_id).length, 2);
  });

  it("Redis holds no count once everyone left", async () => {
    closeAll(open);
    await waitUntil(() => redisCli(redis.port, "HLEN", "{sio:presence}:total").trim() === "0", ms(5000), "the totals to empty");
    assert.equal(redisCli(redis.port, "ZCARD", "{sio:presence}:nodes").trim(), "3", "the three live nodes");
  });

  it("a node stopped with SIGTERM leaves at once, taking its users offline", async () => {
    const w = await connect(a, who("org-leave", "watch"));
    const u = who("org-leave");
    await connect(restarted, u);
    await waitUpdates([w], u.user_id, 1, "online");
    const t0 = Date.now();
    await restarted.stop();
    await waitUpdates([w], u.user_id, 2, "offline", ms(3000));
    assert.ok(Date.now() - t0 < LEASE, "before any lease could lapse");
    assert.equal(redisCli(redis.port, "ZCARD", "{sio:presence}:nodes").trim(), "2");
  });
});
