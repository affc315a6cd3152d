// GET /metrics and GET /status of sio-server (docs/metrics.md), on two nodes on one Redis with a
// JWT secret (so the auth and gateway families are there) and the backend API: every scrape
// parses with parse-prometheus-text-format (and a line-by-line check of the text format 0.0.4),
// and the values move as the traffic the test makes says they must.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { io } from "socket.io-client";
import { TARGET } from "../lib/server.mjs";
import { transportOptions } from "../lib/clients.mjs";
import {
  HAVE_REDIS, ms, startRedis, stopAll, startNode, stopNodes, connectClient, call, got, api, token, uuid, waitUntil,
  sleep, closeAll, scrape, status, rssBytes, WAIT, withTimeout,
} from "../lib/backend.mjs";

const SKIP = !HAVE_REDIS ? "redis-server / redis-cli not installed" : TARGET === "node" && "sio-server only";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (\S+)$/;

/** Checks the text format line by line (what the npm parser tolerates too); returns the families. */
function checkText(text) {
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  const types = new Map();
  const helps = new Set();
  const series = new Set();
  let current = null;
  for (const line of text.slice(0, -1).split("\n")) {
    let m;
    if ((m = /^# HELP (\S+) (.+)$/.exec(line))) {
      assert.match(m[1], NAME);
      assert.ok(!helps.has(m[1]), `HELP ${m[1]} twice`);
      helps.add(m[1]);
    } else if ((m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      assert.ok(!types.has(m[1]), `TYPE ${m[1]} twice (a family must be contiguous)`);
      types.set(m[1], m[2]);
      current = m[1];
    } else if ((m = SAMPLE.exec(line))) {
      assert.equal(m[1], current, `sample of ${m[1]} outside its family: ${line}`);
      assert.ok(Number.isFinite(Number(m[3])), `value of ${line}`);
      const key = m[1] + (m[2] ?? "");
      assert.ok(!series.has(key), `series twice: ${key}`);
      series.add(key);
    } else {
      assert.fail(`not a line of the text format: ${JSON.stringify(line)}`);
    }
  }
  for (const [name, type] of types) {
    assert.ok(helps.has(name), `HELP of ${name}`);
    if (type === "counter") assert.match(name, /_total$/, `counter ${name} ends in _total`);
  }
  return types;
}

/** Scrapes and parses: {fam(name) -> family, v(name, labels) -> number, types}. */
async function metrics(server) {
  const { contentType, text } = await scrape(server);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const types = checkText(text);
  const parsed = parsePrometheusTextFormat(text);
  assert.equal(parsed.length, types.size, "the parser found every family");
  const byName = new Map(parsed.map((f) => [f.name, f]));
  return {
    text,
    types,
    fam: (name) => byName.get(name),
    v(name, labels = {}) {
      const f = byName.get(name);
      assert.ok(f, `family ${name} missing`);
      const s = f.metrics.find((x) => Object.entries(labels).every(([k, val]) => x.labels?.[k] === val) &&
        Object.keys(x.labels ?? {}).length === Object.keys(labels).length);
      assert.ok(s, `${name}${JSON.stringify(labels)} missing`);
      return Number(s.value);
    },
  };
}

/** Resolves with connect_error's data for a connect that must be refused. */
function refused(server, auth, mode = "websocket") {
  const s = io(server.url, { forceNew: true, reconnection: false, timeout: WAIT, auth, ...transportOptions(mode) });
  return withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", () => reject(new Error("connected")));
      s.once("connect_error", (e) => resolve(e.data));
    }),
    WAIT,
    "connect_error",
  ).finally(() => s.close());
}

describe("GET /metrics and GET /status", { skip: SKIP, timeout: ms(90000) }, () => {
  let redis, A, B;
  const socks = [];
  const tag = `${process.pid}-${Date.now()}`;
  const conv = uuid();
  let m0;

  before(async () => {
    redis = await startRedis();
    const gw = ["--rate-limit", "8", "--typing-rate-limit", "3", "--typing-timeout", "400"];
    A = await startNode({ redis, nodeId: "node-a", extra: gw });
    B = await startNode({ redis, nodeId: "node-b", extra: gw });
    await waitUntil(async () => (await metrics(A)).v("sio_adapter_up") === 1, ms(5000), "A's adapter up");
    m0 = await metrics(A);
  });

  after(async () => {
    closeAll(socks);
    const errors = await stopNodes();
    await stopAll();
    if (errors.length) throw errors[0];
  });

  it("a fresh scrape parses; every family has HELP and TYPE; counters end in _total", async () => {
    const families = [
      ["sio_sessions", "gauge"], ["sio_connections", "gauge"], ["sio_sockets", "gauge"],
      ["sio_sessions_opened_total", "counter"], ["sio_sessions_closed_total", "counter"], ["sio_upgrades_total", "counter"],
      ["sio_packets_in_total", "counter"], ["sio_bytes_in_total", "counter"], ["sio_packets_out_total", "counter"],
      ["sio_bytes_out_total", "counter"], ["sio_packets_encoded_total", "counter"], ["sio_broadcasts_total", "counter"],
      ["sio_deliveries_total", "counter"], ["sio_namespace_connections_total", "counter"],
      ["sio_middleware_refusals_total", "counter"], ["sio_middleware_timeouts_total", "counter"],
      ["sio_handshakes_refused_total", "counter"], ["sio_ack_timeouts_total", "counter"],
      ["sio_adapter_messages_total", "counter"], ["sio_adapter_up", "gauge"], ["sio_cluster_requests_total", "counter"],
      ["sio_cluster_timeouts_total", "counter"], ["sio_accept_failures_total", "counter"],
      ["sio_close_deadline_drops_total", "counter"], ["sio_event_loop_lag_seconds", "gauge"],
      ["sio_event_loop_lag_max_seconds", "gauge"], ["process_resident_memory_bytes", "gauge"],
      ["process_start_time_seconds", "gauge"], ["sio_auth_failures_total", "counter"], ["sio_auth_accepted_total", "counter"],
      ["sio_auth_refreshes_total", "counter"], ["sio_auth_expired_disconnects_total", "counter"],
      ["sio_auth_jwks_fetches_total", "counter"], ["sio_auth_keys", "gauge"], ["sio_api_requests_total", "counter"],
      ["sio_api_refusals_total", "counter"], ["sio_gateway_events_total", "counter"], ["sio_gateway_errors_total", "counter"],
      ["sio_rate_limit_hits_total", "counter"], ["sio_typing_expiries_total", "counter"],
      ["sio_authorize_decisions_total", "counter"], ["sio_connection_limit_refusals_total", "counter"],
      ["sio_online_users", "gauge"],
      // presence (docs/presence.md): the gateway runs, so presence runs too
      ["sio_presence_users", "gauge"], ["sio_presence_organizations", "gauge"],
      ["sio_presence_online_users", "gauge"], ["sio_presence_transitions_total", "counter"],
      ["sio_presence_updates_total", "counter"], ["sio_presence_lists_total", "counter"],
      ["sio_presence_resyncs_total", "counter"], ["sio_presence_swept_nodes_total", "counter"],
      ["sio_presence_redis_errors_total", "counter"], ["sio_presence_redis_up", "gauge"],
    ];
    for (const [name, type] of families) {
      assert.equal(m0.types.get(name), type, `${name} is a ${type}`);
      assert.equal(m0.fam(name).type, type.toUpperCase());
    }
    assert.deepEqual([...m0.types.keys()].sort(), families.map(([n]) => n).sort(), "no family unaccounted for (docs/metrics.md)");
    assert.equal(m0.v("sio_sockets", { namespace: "/" }), 0);
    assert.equal(m0.v("sio_auth_keys"), 1);
    assert.equal(m0.v("sio_adapter_up"), 1);
    for (const reason of ["transport error", "transport close", "forced close", "ping timeout", "parse error",
      "server shutting down", "slow consumer", "payload too large"]) {
      assert.equal(m0.v("sio_sessions_closed_total", { reason }), 0);
    }
  });

  it("sessions by transport, sockets by namespace, users; closes by reason; packets and bytes", async () => {
    const u = (n) => ({ sub: `m-${n}-${tag}`, organization_id: "org-m", role: "operator" });
    socks.push(await connectClient(A, u(1), "websocket"), await connectClient(A, u(1), "websocket"),
      await connectClient(A, u(2), "polling"), await connectClient(B, u(3), "websocket"));
    const up = await connectClient(A, u(4), "polling", { transports: ["polling", "websocket"], upgrade: true });
    await waitUntil(() => up.io.engine.transport.name === "websocket", WAIT, "the upgrade");
    socks.push(up);
    let m = await metrics(A);
    assert.equal(m.v("sio_sessions", { transport: "websocket" }), 3);
    assert.equal(m.v("sio_sessions", { transport: "polling" }), 1);
    assert.equal(m.v("sio_sockets", { namespace: "/" }), 4);
    assert.equal(m.v("sio_online_users"), 3, "u1 has two sockets: one user");
    assert.equal(m.v("sio_sessions_opened_total") - m0.v("sio_sessions_opened_total"), 4);
    assert.equal(m.v("sio_namespace_connections_total") - m0.v("sio_namespace_connections_total"), 4);
    assert.equal(m.v("sio_upgrades_total") - m0.v("sio_upgrades_total"), 1);
    assert.equal(m.v("sio_auth_accepted_total") - m0.v("sio_auth_accepted_total"), 4);
    assert.ok(m.v("sio_connections") >= 4);
    assert.equal((await metrics(B)).v("sio_sockets", { namespace: "/" }), 1);

    // traffic in: pings with acks; out: pongs, acks, connected events
    const before = m;
    for (let i = 0; i < 3; i++) await call(socks[0], "ping", {});
    m = await metrics(A);
    assert.ok(m.v("sio_packets_in_total") - before.v("sio_packets_in_total") >= 3);
    assert.ok(m.v("sio_bytes_in_total") - before.v("sio_bytes_in_total") >= 3 * 10);
    assert.ok(m.v("sio_packets_out_total") - before.v("sio_packets_out_total") >= 6, "pong events and acks");
    assert.ok(m.v("sio_bytes_out_total") - before.v("sio_bytes_out_total") >= 6 * 10);
    assert.equal(m.v("sio_gateway_events_total", { event: "ping" }) - before.v("sio_gateway_events_total", { event: "ping" }), 3);

    // closes: a WebSocket client and a polling client close; the counters say why
    const [ws, , poll] = [socks[0], socks[1], socks[2]];
    ws.close();
    poll.close();
    const closed = (x) => x.fam("sio_sessions_closed_total").metrics.reduce((a, s) => a + Number(s.value), 0);
    // the Socket.IO disconnects come first, the engine sessions' ends right after
    await waitUntil(async () => closed(await metrics(A)) - closed(m0) >= 2, WAIT, "two sessions closed");
    m = await metrics(A);
    assert.equal(closed(m) - closed(m0), 2);
    assert.equal(m.v("sio_sockets", { namespace: "/" }), 2);
    assert.equal(m.v("sio_sessions_closed_total", { reason: "transport close" }) - m0.v("sio_sessions_closed_total", { reason: "transport close" }), 2,
      m.text.split("\n").filter((l) => l.startsWith("sio_sessions_closed_total")).join("\n"));
    assert.equal(m.v("sio_sessions", { transport: "websocket" }), 2);
    assert.equal(m.v("sio_sessions", { transport: "polling" }), 0);
    assert.equal(m.v("sio_online_users"), 2);
  });

  it("auth failures by code after refused connects", async () => {
    const before = await metrics(A);
    const id = { sub: `refused-${tag}`, organization_id: "org-m" };
    assert.equal((await refused(A, {})).code, "TOKEN_MISSING");
    assert.equal((await refused(A, { token: "garbage" }, "polling")).code, "TOKEN_INVALID");
    assert.equal((await refused(A, { token: token(id, -3600) })).code, "TOKEN_EXPIRED");
    assert.equal((await refused(A, { token: token(id, -3600) }, "polling")).code, "TOKEN_EXPIRED");
    const m = await metrics(A);
    const d = (code) => m.v("sio_auth_failures_total", { code }) - before.v("sio_auth_failures_total", { code });
    assert.deepEqual([d("TOKEN_MISSING"), d("TOKEN_INVALID"), d("TOKEN_EXPIRED"), d("TOKEN_NOT_YET_VALID")], [1, 1, 2, 0]);
    assert.equal(m.v("sio_middleware_refusals_total") - before.v("sio_middleware_refusals_total"), 4);
    assert.equal(m.v("sio_auth_accepted_total"), before.v("sio_auth_accepted_total"));
  });

  it("gateway events, errors, rate-limit hits and typing expiries", async () => {
    const before = await metrics(A);
    const a = await connectClient(A, { sub: `gw-a-${tag}`, organization_id: "org-g" });
    const b = await connectClient(A, { sub: `gw-b-${tag}`, organization_id: "org-g" });
    socks.push(a, b);
    assert.equal((await call(a, "join_conversation", { conversation_id: conv })).ok, true);
    assert.equal((await call(b, "join_conversation", { conversation_id: conv })).ok, true);
    assert.equal((await call(a, "join_conversation", { conversation_id: "not-a-uuid" })).error.code, "BAD_REQUEST");
    a.emit("typing_start", { conversation_id: conv });
    await waitUntil(() => got(b, "user_typing").length === 2, ms(3000), "typing true then expired false");
    // the typing bucket (3 per 5 s): a 4th typing event is RATE_LIMITED
    for (let i = 0; i < 3; i++) a.emit("typing_stop", { conversation_id: conv });
    const typingErr = await call(a, "typing_start", { conversation_id: conv });
    assert.equal(typingErr.error?.code, "RATE_LIMITED", JSON.stringify(typingErr));
    // the event bucket (8 per minute, all events): b has used 1
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await call(b, "leave_conversation", { conversation_id: conv }).catch(() => "none"));
    assert.ok(answers.some((x) => x?.error?.code === "RATE_LIMITED"), JSON.stringify(answers));
    const m = await metrics(A);
    const d = (name, labels) => m.v(name, labels) - before.v(name, labels);
    assert.equal(d("sio_gateway_events_total", { event: "join_conversation" }), 3);
    assert.ok(d("sio_gateway_events_total", { event: "typing_start" }) >= 2);
    assert.ok(d("sio_gateway_events_total", { event: "typing_stop" }) >= 3);
    assert.equal(d("sio_gateway_events_total", { event: "leave_conversation" }), 8);
    assert.equal(d("sio_gateway_errors_total", { code: "BAD_REQUEST" }), 1);
    assert.ok(d("sio_gateway_errors_total", { code: "RATE_LIMITED" }) >= 2);
    assert.ok(d("sio_rate_limit_hits_total", { bucket: "typing" }) >= 1);
    assert.ok(d("sio_rate_limit_hits_total", { bucket: "events" }) >= 1);
    assert.equal(d("sio_typing_expiries_total"), 1);
    assert.equal(d("sio_gateway_errors_total", { code: "FORBIDDEN" }), 0);
  });

  it("broadcasts and deliveries, adapter messages out on one node and in on the other, API requests", async () => {
    const [a0, b0] = [await metrics(A), await metrics(B)];
    const r = await api(A, "emit", { event: "news", data: 1, to: { organizations: ["org-m", "org-g"] } });
    assert.equal(r.status, 200, r.text);
    const local = r.json.local_recipients;
    assert.ok(local >= 3, JSON.stringify(r.json));
    await waitUntil(() => got(socks[3], "news").length === 1, WAIT, "the emit on B's client");
    const [a1, b1] = [await metrics(A), await metrics(B)];
    assert.equal(a1.v("sio_broadcasts_total") - a0.v("sio_broadcasts_total"), 1);
    assert.equal(a1.v("sio_deliveries_total") - a0.v("sio_deliveries_total"), local);
    assert.equal(a1.v("sio_packets_encoded_total") - a0.v("sio_packets_encoded_total"), 1, "encoded once");
    assert.ok(a1.v("sio_adapter_messages_total", { direction: "out" }) > a0.v("sio_adapter_messages_total", { direction: "out" }));
    assert.ok(b1.v("sio_adapter_messages_total", { direction: "in" }) > b0.v("sio_adapter_messages_total", { direction: "in" }));
    assert.equal(b1.v("sio_deliveries_total") - b0.v("sio_deliveries_total"), 1, "B's one client of org-m");
    assert.equal(b1.v("sio_adapter_messages_total", { direction: "dropped" }), b0.v("sio_adapter_messages_total", { direction: "dropped" }));
    assert.equal(a1.v("sio_api_requests_total", { route: "emit" }) - a0.v("sio_api_requests_total", { route: "emit" }), 1);
    // a cluster request (/api/sockets) counts on the node that asked
    const s = await (await import("../lib/backend.mjs")).sockets(A, "?room=org:org-m");
    assert.equal(s.complete, true);
    const a2 = await metrics(A);
    assert.equal(a2.v("sio_cluster_requests_total") - a1.v("sio_cluster_requests_total"), 1);
    assert.equal(a2.v("sio_cluster_timeouts_total"), a1.v("sio_cluster_timeouts_total"));
  });

  it("GET /status: node id, version, uptime, connections, sockets, rooms, cluster up with 2 servers", async () => {
    const sa = await status(A);
    const sb = await status(B);
    assert.equal(sa.node, "node-a");
    assert.equal(sb.node, "node-b");
    assert.match(sa.version, /^\d+\.\d+\.\d+$/);
    assert.ok(Number.isInteger(sa.uptime_s) && sa.uptime_s >= 0);
    assert.deepEqual(sa.cluster, { up: true, servers: 2 });
    assert.deepEqual(sb.cluster, { up: true, servers: 2 });
    const m = await metrics(A);
    assert.equal(sa.sockets, m.v("sio_sockets", { namespace: "/" }));
    assert.equal(sa.sessions, m.v("sio_sessions", { transport: "websocket" }) + m.v("sio_sessions", { transport: "polling" }));
    assert.ok(sa.connections >= sa.sessions);
    // rooms: each socket's own, user:, org:, and the conversation
    const alive = socks.filter((s) => s.connected && s.io.uri.includes(`:${A.port}`));
    assert.equal(sa.sockets, alive.length);
    assert.ok(sa.rooms >= alive.length + 2, JSON.stringify(sa));
    assert.equal(sb.sockets, 1);
    // users: presence's cluster-wide count, the same on both nodes
    assert.ok(Number.isInteger(sa.users) && sa.users >= 1, JSON.stringify(sa));
    assert.equal(sa.users, m.v("sio_presence_users"));
    const startTime = m.v("process_start_time_seconds");
    assert.ok(Math.abs(Date.now() / 1000 - sa.uptime_s - startTime) <= 3, "start time and uptime agree");
  });

  it("RSS matches /proc; the loop-lag gauges see a stopped loop and the max resets after a scrape", async () => {
    const m = await metrics(A);
    const rss = m.v("process_resident_memory_bytes");
    const proc = rssBytes(A.pid);
    assert.ok(rss > 1e6 && Math.abs(rss - proc) / proc < 0.5, `rss ${rss} vs /proc ${proc}`);
    assert.ok(m.v("sio_event_loop_lag_seconds") >= 0 && m.v("sio_event_loop_lag_seconds") < 0.5 * ms(1));
    A.signal("SIGSTOP");
    await sleep(1200);
    A.signal("SIGCONT");
    await sleep(ms(700)); // the probe fires late once, then on time
    const late = await metrics(A);
    assert.ok(late.v("sio_event_loop_lag_max_seconds") >= 0.4, `lag max ${late.v("sio_event_loop_lag_max_seconds")}`);
    await sleep(ms(1100));
    const after = await metrics(A);
    assert.ok(after.v("sio_event_loop_lag_max_seconds") < 0.4 * ms(1), "the max restarts from the last probe after a scrape");
  });

  it("Redis killed: sio_adapter_up 0 and /status cluster.up false; local service goes on", async () => {
    await redis.kill();
    await waitUntil(async () => (await metrics(A)).v("sio_adapter_up") === 0, ms(10000), "sio_adapter_up 0");
    const sa = await status(A);
    assert.equal(sa.cluster.up, false);
    assert.equal(sa.cluster.servers, 1);
    const r = await api(A, "emit", { event: "local-only", data: 1, to: { organizations: ["org-g"] } });
    assert.equal(r.status, 200);
    await waitUntil(() => got(socks.at(-1), "local-only").length === 1, WAIT, "a local emit while Redis is down");
  });
});

describe("GET /status of a single node without Redis", { skip: TARGET === "node" && "sio-server only", timeout: ms(30000) }, () => {
  let S;
  before(async () => {
    S = await startNode({ nodeId: "alone" });
  });
  after(async () => {
    await stopNodes();
  });
  it("cluster of one; /metrics parses", async () => {
    const st = await status(S);
    assert.equal(st.node, "alone");
    assert.deepEqual(st.cluster, { up: true, servers: 1 });
    const m = await metrics(S);
    assert.equal(m.v("sio_adapter_up"), 1);
    assert.equal(m.v("sio_adapter_messages_total", { direction: "out" }), 0);
  });
  it("shuts down cleanly", async () => {
    const errors = await stopNodes();
    if (errors.length) throw errors[0];
  });
});
