// Room prefixes of another deployment (--room-prefix-user/-org/-conversation, docs/gateway.md):
// the gateway joins, checks membership and broadcasts typing in rooms of those names, and the
// backend API addresses users, organisations and conversations with the same prefixes. The
// conversation prefix is longer than the gateway keeps on its stack, so its heap path runs too.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { TARGET } from "../lib/server.mjs";
import {
  ms, startNode, stopNodes, connectClient, call, got, api, sockets, waitUntil, closeAll, uuid, sleep,
} from "../lib/backend.mjs";

const SKIP = TARGET === "node" && "sio-server only";
const CONV = "conversa-de-atendimento-ao-cliente:"; // 35 characters
const ids = (r) => r.sockets.map((s) => s.id).sort();

describe("gateway: configurable room prefixes", { skip: SKIP, timeout: ms(60000) }, () => {
  let A, alice, bob, carol;
  const conv = uuid();

  before(async () => {
    A = await startNode({
      extra: ["--room-prefix-user", "atendente:", "--room-prefix-org", "empresa:", "--room-prefix-conversation", CONV],
    });
    alice = await connectClient(A, { sub: "a-1", organization_id: "acme" });
    bob = await connectClient(A, { sub: "b-1", organization_id: "acme" });
    carol = await connectClient(A, { sub: "c-1", organization_id: "globex" });
  });

  after(async () => {
    closeAll(alice, bob, carol);
    const errors = await stopNodes();
    if (errors.length) throw errors[0];
  });

  it("connect joins atendente:<user> and empresa:<org>, never the default names", async () => {
    assert.deepEqual(ids(await sockets(A, "?room=atendente:a-1")), [alice.id]);
    assert.deepEqual(ids(await sockets(A, "?room=empresa:acme")), [alice.id, bob.id].sort());
    assert.deepEqual((await sockets(A, "?room=user:a-1")).sockets, []);
    assert.deepEqual((await sockets(A, "?room=org:acme")).sockets, []);
  });

  it("join_conversation joins <prefix><id> (an upper-case id in lower case); typing reaches the other member", async () => {
    for (const [s, id] of [[alice, conv], [bob, conv.toUpperCase()]]) {
      const ack = await call(s, "join_conversation", { conversation_id: id });
      assert.deepEqual(ack, { ok: true, conversation_id: conv, message: `Joined conversation ${conv}` });
    }
    const room = encodeURIComponent(CONV + conv);
    assert.deepEqual(ids(await sockets(A, `?room=${room}`)), [alice.id, bob.id].sort());
    assert.deepEqual((await call(alice, "typing_start", { conversation_id: conv })).ok, true);
    await waitUntil(() => got(bob, "user_typing").length === 1, ms(5000), "bob's user_typing");
    assert.deepEqual(got(bob, "user_typing")[0], [{ conversation_id: conv, user_id: "a-1", typing: true }]);
    assert.equal(got(alice, "user_typing").length, 0, "never to the sender");
  });

  it("the backend API addresses the same rooms: conversations, users, organizations", async () => {
    let r = await api(A, "emit", { event: "message:new", data: { n: 1 }, to: { conversations: [conv] } });
    assert.equal(r.status, 200, r.text);
    r = await api(A, "emit", { event: "message:new", data: { n: 2 }, to: { users: ["b-1"] } });
    assert.equal(r.status, 200, r.text);
    r = await api(A, "emit", { event: "message:new", data: { n: 3 }, to: { organizations: ["globex"] } });
    assert.equal(r.status, 200, r.text);
    const ns = (s) => got(s, "message:new").map(([d]) => d.n).sort();
    await waitUntil(() => ns(alice).length === 1 && ns(bob).length === 2 && ns(carol).length === 1, ms(5000), "the emits");
    await sleep(ms(100));
    assert.deepEqual(ns(alice), [1]);
    assert.deepEqual(ns(bob), [1, 2]);
    assert.deepEqual(ns(carol), [3]);
  });

  it("leave_conversation leaves the room; the one who left may not type there", async () => {
    const ack = await call(bob, "leave_conversation", { conversation_id: conv });
    assert.deepEqual(ack, { ok: true, conversation_id: conv });
    assert.deepEqual(ids(await sockets(A, `?room=${encodeURIComponent(CONV + conv)}`)), [alice.id]);
    const refused = await call(bob, "typing_start", { conversation_id: conv });
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, "FORBIDDEN");
  });
});
