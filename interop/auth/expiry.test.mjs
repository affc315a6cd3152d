// Expiry during a session: "auth:expiring" {exp} before exp, "auth:refresh" {token} acked
// {ok:true, exp} (same user only) moving the timers, and without a refresh "error"
// {code:"TOKEN_EXPIRED"} then a server disconnect ("io server disconnect"), over WebSocket and
// polling.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { SECRET, ID, now, jwtSign, startAuthServer, authStats, tryConnect } from "./common.mjs";
import { nextEvent, sleep, withTimeout } from "../lib/util.mjs";

const MODES = ["websocket", "polling"];

describe("auth: expiry and refresh", () => {
  let server;
  before(async () => {
    server = await startAuthServer(["--jwt-secret", SECRET, "--jwt-leeway", "0", "--jwt-expiring-notice", "2"]);
  });
  after(() => server.stop());

  // Connects, recording "auth:expiring" and "error" from the start (a notice may come at once).
  const connect = async (mode, exp) => {
    const events = [];
    const r = await tryConnect(server, mode, { auth: { token: jwtSign({ ...ID, exp }, SECRET, "HS256") } }, 10000, (s) => {
      s.on("auth:expiring", (p) => events.push(["auth:expiring", p]));
      s.on("error", (p) => events.push(["error", p]));
    });
    assert.equal(r.ok, true, r.message);
    r.socket.events = events;
    return r.socket;
  };
  const until = async (cond, ms = 6000) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await sleep(20);
    assert.ok(cond(), "timed out");
  };

  for (const mode of MODES) {
    it(`refresh moves the expiry over ${mode}`, async () => {
      const exp1 = now() + 3;
      const s = await connect(mode, exp1);
      await until(() => s.events.length === 1);
      assert.deepEqual(s.events[0], ["auth:expiring", { exp: exp1 }]);
      // another user's token is refused, the session keeps its expiry
      const other = await s.timeout(3000).emitWithAck("auth:refresh", { token: jwtSign({ sub: "user-2", exp: now() + 60 }, SECRET, "HS256") });
      assert.equal(other.ok, false);
      assert.equal(other.error.code, "TOKEN_INVALID");
      assert.equal(typeof other.error.message, "string");
      const bad = await s.timeout(3000).emitWithAck("auth:refresh", { token: "garbage" });
      assert.deepEqual(bad.ok, false);
      const expired = await s.timeout(3000).emitWithAck("auth:refresh", { token: jwtSign({ ...ID, exp: now() - 1 }, SECRET, "HS256") });
      assert.equal(expired.error.code, "TOKEN_EXPIRED");
      // the same user: accepted
      const exp2 = now() + 4;
      const ok = await s.timeout(3000).emitWithAck("auth:refresh", { token: jwtSign({ ...ID, exp: exp2 }, SECRET, "HS256") });
      assert.deepEqual(ok, { ok: true, exp: exp2 });
      // the old expiry passes without a disconnect; the new notice comes, then the expiry
      const disconnected = nextEvent(s, "disconnect", 10000);
      await sleep(exp1 * 1000 + 300 - Date.now());
      assert.equal(s.connected, true, "still connected after the first exp");
      const [reason] = await disconnected;
      assert.equal(reason, "io server disconnect");
      assert.ok(Date.now() >= exp2 * 1000, "not before the new exp");
      assert.deepEqual(s.events.slice(1), [
        ["auth:expiring", { exp: exp2 }],
        ["error", { code: "TOKEN_EXPIRED", message: "authentication token expired" }],
      ]);
    });

    it(`no refresh: TOKEN_EXPIRED then io server disconnect over ${mode}`, async () => {
      const exp1 = now() + 1; // less than the notice window: the notice comes at once
      const s = await connect(mode, exp1);
      const [reason] = await nextEvent(s, "disconnect", 5000);
      assert.equal(reason, "io server disconnect");
      assert.deepEqual(s.events, [
        ["auth:expiring", { exp: exp1 }],
        ["error", { code: "TOKEN_EXPIRED", message: "authentication token expired" }],
      ]);
      // the client does not reconnect by itself after a server disconnect
      assert.equal(s.active, false);
    });
  }

  it("counts notices, refreshes and expiries", async () => {
    const st = await authStats(server);
    assert.ok(st.expiring_notices >= 6, JSON.stringify(st));
    assert.equal(st.refreshes_ok, 2);
    assert.equal(st.refreshes_refused, 6);
    assert.equal(st.expired_disconnects, 4);
  });
});

describe("auth: a token without exp", () => {
  let server;
  before(async () => {
    server = await startAuthServer(["--jwt-secret", SECRET, "--jwt-expiring-notice", "1"]);
  });
  after(() => server.stop());
  it("stays connected with no notice", async () => {
    const r = await tryConnect(server, "websocket", { auth: { token: jwtSign(ID, SECRET, "HS256") } });
    assert.equal(r.ok, true);
    let notices = 0;
    r.socket.on("auth:expiring", () => notices++);
    await withTimeout(new Promise((resolve) => setTimeout(resolve, 1500)), 3000, "wait");
    assert.equal(notices, 0);
    assert.equal(r.socket.connected, true);
    r.socket.close();
  });
});
