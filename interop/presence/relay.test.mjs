// The Redis relay (docs/presence.md, "Relay"): a backend PUBLISHes JSON with redis-cli and the
// rule's event reaches the rule's room on both nodes, exactly once per client; captures fill the
// room; invalid JSON and oversized payloads are dropped and counted; rules come from SIO_RELAY
// too; the relay works without the adapter.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { SKIP, startRedis, stopAll, redisCli, Counter } from "../lib/redis.mjs";
import { closeAll, openSio } from "../lib/clients.mjs";
import { call } from "../lib/gateway.mjs";
import { ms, sleep, startNode, stopNodes, who, connectAs, metric, waitUntil } from "../lib/presence.mjs";

const SETTLE = ms(400);

/** PUBLISH with redis-cli; subscribers: how many relay connections must receive it. */
async function publish(redis, channel, payload, subscribers = 2) {
  const got = Number(redisCli(redis.port, "PUBLISH", channel, payload).trim());
  assert.equal(got, subscribers, `PUBLISH ${channel} reached ${got} subscriber(s)`);
}

describe("relay on two nodes", { skip: SKIP, timeout: ms(60000) }, () => {
  let redis, a, b;
  const open = [];
  const rules = [
    "--relay", "status:*=message.status@conversation:{1}",
    "--relay", "org:*:user:*=notice@user:{2}",
  ];

  before(async () => {
    redis = await startRedis();
    a = await startNode(redis, { extra: [...rules, "--relay-max-bytes", "4096"] });
    b = await startNode(redis, { extra: [...rules, "--relay-max-bytes", "4096"] });
    // both nodes' pattern subscriptions are live once a probe reaches two subscribers
    await waitUntil(() => Number(redisCli(redis.port, "PUBLISH", "status:probe", "0").trim()) === 2, ms(5000), "both nodes' patterns");
  });

  after(async () => {
    closeAll(open);
    const errors = await stopNodes();
    await stopAll();
    if (errors.length) throw errors[0];
  });

  it("a message reaches the conversation's clients on both nodes exactly once", async () => {
    const conv = randomUUID();
    const members = [];
    for (const node of [a, b, a, b]) {
      const s = await connectAs(node, who("org-r"));
      open.push(s);
      const ans = await call(s, "join_conversation", { conversation_id: conv });
      assert.equal(ans.ok, true);
      members.push(s);
    }
    const outsider = await connectAs(b, who("org-r"));
    open.push(outsider);
    const c = new Counter([...members, outsider], "message.status");
    const payload = { message_id: "m1", status: "DELIVERED", at: 1700000000 };
    await publish(redis, `status:${conv}`, JSON.stringify(payload));
    await c.settle(members, SETTLE, ms(5000));
    assert.deepEqual(members.map((s) => c.of(s)), [1, 1, 1, 1], "once per member");
    assert.equal(c.of(outsider), 0, "nobody outside the room");
    assert.deepEqual(c.args(members[1])[0], [payload]);
    // any JSON value is an argument: a string, a number, null, an array
    for (const v of ['"READ"', "42", "null", "[1,2]"]) {
      const d = new Counter(members, "message.status");
      await publish(redis, `status:${conv}`, v);
      await d.settle(members, SETTLE, ms(5000));
      assert.deepEqual(members.map((s) => d.of(s)), [1, 1, 1, 1]);
      assert.deepEqual(d.args(members[0])[0], [JSON.parse(v)]);
      d.stop();
    }
  });

  it("two captures: the second one names the user's room", async () => {
    const u = who("org-r");
    const s1 = await connectAs(a, u);
    const s2 = await connectAs(b, u);
    const other = await connectAs(a, who("org-r"));
    open.push(s1, s2, other);
    const c = new Counter([s1, s2, other], "notice");
    await publish(redis, `org:org-r:user:${u.user_id}`, '{"text":"hi"}');
    await c.settle([s1, s2], SETTLE, ms(5000));
    assert.deepEqual([c.of(s1), c.of(s2), c.of(other)], [1, 1, 0]);
  });

  it("invalid JSON and oversized payloads are dropped and counted", async () => {
    const conv = randomUUID();
    const s = await connectAs(a, who("org-r"));
    open.push(s);
    await call(s, "join_conversation", { conversation_id: conv });
    const c = new Counter([s], "message.status");
    for (const bad of ["{not json", "1, 2", "", "[1"]) await publish(redis, `status:${conv}`, bad);
    await publish(redis, `status:${conv}`, JSON.stringify({ pad: "x".repeat(5000) }));
    await publish(redis, `status:${conv}`, '"after"');
    await c.settle([s], SETTLE, ms(5000));
    assert.equal(c.of(s), 1, "only the valid message");
    assert.deepEqual(c.args(s)[0], ["after"]);
    for (const node of [a, b]) {
      assert.equal(await metric(node, 'sio_relay_messages_total{outcome="invalid_json"}'), 4);
      assert.equal(await metric(node, 'sio_relay_messages_total{outcome="oversized"}'), 1);
      assert.ok((await metric(node, 'sio_relay_messages_total{outcome="forwarded"}')) >= 6);
    }
    assert.equal(a.alive() && b.alive(), true);
  });
});

describe("relay without the adapter, rules from SIO_RELAY", { skip: SKIP, timeout: ms(30000) }, () => {
  let redis, node;
  after(async () => {
    const errors = await stopNodes();
    await stopAll();
    if (errors.length) throw errors[0];
  });

  it("a rule without a room reaches every client of the namespace", async () => {
    redis = await startRedis();
    node = await startNode(null, {
      extra: ["--relay-redis", redis.url],
      env: { SIO_RELAY: "news:*=news ; alerts:*=alert@user:{1}" },
    });
    await waitUntil(() => Number(redisCli(redis.port, "PUBSUB", "NUMPAT").trim()) === 2, ms(5000), "two patterns");
    const s1 = await connectAs(node, who("org-x"));
    const s2 = await openSio(node, "polling", { auth: who("org-y") });
    try {
      const c = new Counter([s1, s2], "news");
      await publish(redis, "news:today", '{"headline":"relay"}', 1);
      await c.settle([s1, s2], SETTLE, ms(5000));
      assert.deepEqual([c.of(s1), c.of(s2)], [1, 1]);
      // a channel outside every pattern reaches nobody
      assert.equal(Number(redisCli(redis.port, "PUBLISH", "news", "1").trim()), 0);
      await sleep(SETTLE);
      assert.equal(c.of(s1), 1);
    } finally {
      closeAll(s1, s2);
    }
  });
});
