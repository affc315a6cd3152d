// The backend API's authentication and validation (docs/backend.md), on one sio-server node:
// who may call it (service token, JWT with the API role), and the answer to every malformed or
// oversized body: a status, and for 4xx from the API {"ok":false,"error":{"code","message"}}.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { TARGET } from "../lib/server.mjs";
import {
  ms, startNode, stopNodes, connectClient, got, api, request, token, waitUntil, closeAll, API_TOKEN, SECRET, scrape,
} from "../lib/backend.mjs";

const SKIP = TARGET === "node" && "sio-server only";
const EMIT = { event: "note", data: { x: 1 }, to: { users: ["u-target"] } };

function assertError(r, status, code, what) {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.json?.ok, false, `${what}: ${r.text}`);
  assert.equal(r.json.error.code, code, what);
  assert.equal(typeof r.json.error.message, "string", what);
  assert.ok(r.json.error.message.length > 0, what);
  assert.match(r.headers["content-type"], /^application\/json/, what);
}

describe("backend API: authentication and request validation", { skip: SKIP, timeout: ms(60000) }, () => {
  let A, target;

  before(async () => {
    A = await startNode({ extra: ["--api-max-body", "65536"] });
    target = await connectClient(A, { sub: "u-target", organization_id: "org-1" });
  });

  after(async () => {
    closeAll(target);
    const errors = await stopNodes();
    if (errors.length) throw errors[0];
  });

  it("no Authorization header, another scheme, an empty bearer, a wrong secret: 401 UNAUTHORIZED with WWW-Authenticate", async () => {
    for (const [auth, what] of [
      [undefined, "no header"],
      [`Basic ${Buffer.from(`x:${API_TOKEN}`).toString("base64")}`, "Basic"],
      ["Bearer ", "empty bearer"],
      [`Bearer ${API_TOKEN}x`, "secret with a byte more"],
      [`Bearer ${API_TOKEN.slice(0, -1)}`, "secret with a byte less"],
      [`Bearer ${API_TOKEN.toUpperCase()}`, "secret in another case"],
      [`Bearer ${"a".repeat(7000)}`, "7 KB bearer"],
    ]) {
      for (const route of ["emit", "disconnect"]) {
        const r = await request(A, "POST", `/api/${route}`, { body: EMIT, auth });
        assertError(r, 401, "UNAUTHORIZED", `${what} on ${route}`);
        assert.equal(r.headers["www-authenticate"], "Bearer", what);
      }
      const r = await request(A, "GET", "/api/sockets", { auth });
      assertError(r, 401, "UNAUTHORIZED", `${what} on sockets`);
    }
    await new Promise((r) => setTimeout(r, ms(200)));
    assert.equal(got(target, "note").length, 0, "a refused emit reached a client");
  });

  it("headers over --max-header-bytes (8192): the connection is closed without an answer; the server keeps serving", async () => {
    await assert.rejects(request(A, "POST", "/api/emit", { body: EMIT, auth: `Bearer ${"a".repeat(10000)}` }), /socket hang up|ECONNRESET/);
    assert.equal((await api(A, "emit", { ...EMIT, event: "after-big-header" })).status, 200);
  });

  it("the scheme is case-insensitive and the service token is accepted", async () => {
    const r = await api(A, "emit", EMIT, `bearer ${API_TOKEN}`);
    assert.equal(r.status, 200, r.text);
    await waitUntil(() => got(target, "note").length === 1, ms(3000), "the note");
    assert.deepEqual(got(target, "note")[0], [{ x: 1 }]);
  });

  it("JWTs: the API role 200; another role or none 403 FORBIDDEN; expired, forged or garbage 401", async () => {
    const admin = token({ sub: "backend", role: "admin" });
    let r = await api(A, "emit", EMIT, `Bearer ${admin}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, true);
    r = await request(A, "GET", "/api/sockets?room=user:u-target", { auth: `Bearer ${admin}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.sockets.length, 1);

    for (const [tok, what] of [
      [token({ sub: "staff-7", role: "operator" }), "role operator"],
      [token({ sub: "staff-7", role: "Admin" }), "role Admin (case matters)"],
      [token({ sub: "staff-7", role: "" }), "empty role"],
    ]) {
      assertError(await api(A, "emit", EMIT, `Bearer ${tok}`), 403, "FORBIDDEN", what);
      assertError(await request(A, "GET", "/api/sockets", { auth: `Bearer ${tok}` }), 403, "FORBIDDEN", what);
    }
    const noRole = (await import("jsonwebtoken")).default.sign({ sub: "x", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET);
    assertError(await api(A, "emit", EMIT, `Bearer ${noRole}`), 403, "FORBIDDEN", "no role claim");

    for (const [tok, what] of [
      [token({ sub: "backend", role: "admin" }, -3600), "expired"],
      [token({ sub: "backend", role: "admin" }, 600, "another-secret-0123456789abcdefghij"), "signed with another secret"],
      ["not.a.jwt", "garbage"],
      [admin.slice(0, -2), "truncated signature"],
    ]) {
      assertError(await api(A, "emit", EMIT, `Bearer ${tok}`), 401, "UNAUTHORIZED", what);
    }
  });

  it("a body over --api-max-body: 413, nothing emitted", async () => {
    const before = got(target, "big").length;
    const big = { event: "big", data: "x".repeat(70000), to: { users: ["u-target"] } };
    const r = await api(A, "emit", big);
    assert.equal(r.status, 413, r.text);
    // exactly at the limit: accepted
    const pad = 65536 - JSON.stringify({ event: "big", data: "", to: { users: ["u-target"] } }).length;
    const r2 = await api(A, "emit", { event: "big", data: "y".repeat(pad), to: { users: ["u-target"] } });
    assert.equal(r2.status, 200, r2.text);
    await waitUntil(() => got(target, "big").length === before + 1, ms(3000), "the exactly-at-limit emit");
    assert.equal(got(target, "big").at(-1)[0].length, pad);
  });

  it("malformed bodies: 400 BAD_REQUEST with a message, nothing emitted", async () => {
    const cases = [
      ["", "empty body"],
      ["{bad json", "bad JSON"],
      ['{"event":"a","event":"b","to":{"users":["u-target"]}}', "duplicate keys"],
      ["[1,2]", "an array"],
      ['"text"', "a string"],
      ["null", "null"],
      [{ data: 1, to: { users: ["u-target"] } }, "event missing"],
      [{ event: "", to: { users: ["u-target"] } }, "event empty"],
      [{ event: 5, to: { users: ["u-target"] } }, "event a number"],
      [{ event: ["a"], to: { users: ["u-target"] } }, "event a list"],
      [{ event: "connect", to: { users: ["u-target"] } }, "reserved event connect"],
      [{ event: "connect_error", to: { users: ["u-target"] } }, "reserved event connect_error"],
      [{ event: "disconnect", to: { users: ["u-target"] } }, "reserved event disconnect"],
      [{ event: "disconnecting", to: { users: ["u-target"] } }, "reserved event disconnecting"],
      [{ event: "newListener", to: { users: ["u-target"] } }, "reserved event newListener"],
      [{ event: "removeListener", to: { users: ["u-target"] } }, "reserved event removeListener"],
      [{ event: "note" }, "to missing"],
      [{ event: "note", to: {} }, "to empty"],
      [{ event: "note", to: { users: [] } }, "to with empty lists"],
      [{ event: "note", to: null }, "to null"],
      [{ event: "note", to: "u-target" }, "to a string"],
      [{ event: "note", to: ["u-target"] }, "to a list"],
      [{ event: "note", to: { users: [""] } }, "an empty user"],
      [{ event: "note", to: { users: [null] } }, "a null user"],
      [{ event: "note", to: { users: [{ id: 1 }] } }, "an object user"],
      [{ event: "note", to: { users: true } }, "users a boolean"],
      [{ event: "note", to: { rooms: 5 } }, "rooms a number"],
      [{ event: "note", to: { user: ["u-target"] } }, "misspelt key user"],
      [{ event: "note", to: { users: ["u-target"] }, except: 5 }, "except a number"],
      [{ event: "note", to: { users: ["u-target"] }, except: [true] }, "except a list of booleans"],
      [{ event: "note", to: { users: ["u-target"] }, args: "a" }, "args not a list"],
      [{ event: "note", to: { users: ["u-target"] }, args: { a: 1 } }, "args an object"],
      [{ event: "note", to: { users: ["u-target"] }, data: 1, args: [1] }, "both data and args"],
      [{ event: "note", to: { users: ["u-target"] }, namespace: 7 }, "namespace a number"],
      [{ event: "note", to: { users: Array.from({ length: 1100 }, (_, i) => `u${i}`) } }, "over 1024 targets"],
    ];
    const before = got(target, "note").length;
    for (const [body, what] of cases) assertError(await api(A, "emit", body), 400, "BAD_REQUEST", what);

    const bad = [
      ["{", "bad JSON"],
      [{}, "nothing to disconnect"],
      [{ users: [] }, "empty users"],
      [{ users: 5 }, "users a number"],
      [{ rooms: [false] }, "rooms of booleans"],
      [{ users: ["u-target"], reason: 3 }, "reason a number"],
      [{ users: ["u-target"], close: "yes" }, "close a string"],
      [{ users: ["u-target"], namespace: "/nope" }, "unknown namespace"],
    ];
    for (const [body, what] of bad) assertError(await api(A, "disconnect", body), 400, "BAD_REQUEST", `disconnect: ${what}`);
    assertError(await request(A, "GET", "/api/sockets?namespace=/nope", { auth: `Bearer ${API_TOKEN}` }), 400, "BAD_REQUEST", "sockets of /nope");
    assertError(await request(A, "GET", `/api/sockets?room=${"r".repeat(600)}`, { auth: `Bearer ${API_TOKEN}` }), 400, "BAD_REQUEST", "room too long");

    await new Promise((r) => setTimeout(r, ms(200)));
    assert.equal(got(target, "note").length, before, "a refused request emitted");
    assert.ok(target.connected, "the target was disconnected by a refused request");
  });

  it("wrong methods: 405; unknown API paths: 404", async () => {
    let r = await request(A, "GET", "/api/emit", { auth: `Bearer ${API_TOKEN}` });
    assert.equal(r.status, 405);
    r = await request(A, "POST", "/api/sockets", { body: {}, auth: `Bearer ${API_TOKEN}` });
    assert.equal(r.status, 405);
    r = await request(A, "POST", "/api/emitx", { body: EMIT, auth: `Bearer ${API_TOKEN}` });
    assert.equal(r.status, 404);
  });

  it("the API's counters on /metrics moved: accepted requests by route, refusals by reason", async () => {
    const { text } = await scrape(A);
    const value = (re) => Number(re.exec(text)?.[1]);
    assert.ok(value(/^sio_api_requests_total\{route="emit"\} (\S+)$/m) >= 3, text);
    assert.ok(value(/^sio_api_requests_total\{route="sockets"\} (\S+)$/m) >= 1);
    assert.ok(value(/^sio_api_refusals_total\{reason="unauthorized"\} (\S+)$/m) >= 20);
    assert.ok(value(/^sio_api_refusals_total\{reason="bad_request"\} (\S+)$/m) >= 40);
  });
});

describe("backend API: JWT only (no --api-token) and a custom --api-role", { skip: SKIP, timeout: ms(30000) }, () => {
  let A;
  before(async () => {
    const { startServer } = await import("../lib/server.mjs");
    const { SIO_APP } = await import("../lib/backend.mjs");
    A = await startServer("sio-server", { bin: SIO_APP, args: ["--jwt-secret", SECRET, "--api-role", "backend"] });
  });
  after(async () => {
    await A?.stop();
  });

  it("only a JWT with role \"backend\" is let in", async () => {
    const body = { event: "x", data: 1, to: { rooms: ["r"] } };
    assert.equal((await api(A, "emit", body, `Bearer ${token({ sub: "svc", role: "backend" })}`)).status, 200);
    assertError(await api(A, "emit", body, `Bearer ${token({ sub: "svc", role: "admin" })}`), 403, "FORBIDDEN", "admin");
    assertError(await api(A, "emit", body, `Bearer ${API_TOKEN}`), 401, "UNAUTHORIZED", "a service token nobody configured");
  });

  it("shuts down cleanly", async () => {
    await A.stop();
  });
});
