// Presence on one node without Redis (docs/presence.md): the same events and list, counted on
// this node only.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeAll } from "../lib/clients.mjs";
import { TARGET } from "../lib/server.mjs";
import { ms, sleep, startNode, stopNodes, who, connectAs, updatesOf, waitUpdates, list, metric } from "../lib/presence.mjs";

describe("presence on one node without Redis", { skip: TARGET === "node" && "sio-server only", timeout: ms(30000) }, () => {
  let node;
  before(async () => {
    node = await startNode(null);
  });
  after(async () => {
    const errors = await stopNodes();
    if (errors.length) throw errors[0];
  });

  it("tabs count once; list, metrics and organizations as with Redis", async () => {
    const wid = who("org-l", "watch");
    const w = await connectAs(node, wid);
    const other = await connectAs(node, who("org-l2", "watch"));
    const u = who("org-l");
    const t1 = await connectAs(node, u);
    const t2 = await connectAs(node, u);
    await waitUpdates([w], u.user_id, 1, "online");
    assert.deepEqual((await list(t2)).users, [u.user_id, wid.user_id].sort());
    assert.deepEqual((await list(other)).users.length, 1);
    assert.equal(await metric(node, 'sio_presence_online_users{organization="org-l"}'), 2);
    t1.close();
    await sleep(ms(300));
    assert.equal(updatesOf(w, u.user_id).length, 1);
    t2.close();
    await waitUpdates([w], u.user_id, 2, "offline");
    assert.deepEqual(updatesOf(w, u.user_id)[1], { user_id: u.user_id, organization_id: "org-l", status: "offline" });
    assert.equal(updatesOf(other, u.user_id).length, 0);
    assert.equal(await metric(node, 'sio_presence_redis_up'), 1);
    closeAll(w, other);
  });
});
