// Every refusal code as connect_error data.code, every token source, and the hostile set
// (malformed, 100 KB, alg none, HS256 signed with the RSA public key, a kid pointing nowhere),
// over WebSocket and polling; the counters of <stats-path>/auth.

import { createHmac } from "node:crypto";
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  SECRET, ID, exp, now, keyPair, jwtSign, startAuthServer, authStats, expectAccepted,
  expectRefused, tryConnect,
} from "./common.mjs";

const MODES = ["websocket", "polling"];
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");

describe("auth: refusals and token sources", () => {
  const rsa = keyPair("rsa");
  let server;
  before(async () => {
    server = await startAuthServer([
      "--jwt-secret", SECRET, "--jwt-public-key", rsa.file, "--jwt-issuer", "https://issuer.test",
      "--jwt-audience", "chat", "--jwt-leeway", "5",
    ]);
  });
  after(() => server.stop());
  const good = (extra = {}) => ({ ...ID, iss: "https://issuer.test", aud: "chat", ...exp(), ...extra });

  for (const mode of MODES) {
    it(`token sources over ${mode}: auth, query token, query access_token, Authorization header`, async () => {
      const t = jwtSign(good(), SECRET, "HS256");
      for (const how of ["auth", "query", "access_token", "header"]) {
        await expectAccepted(assert, server, mode, t, how);
      }
      // the first source wins: a bad auth token is not rescued by a good header
      const r = await tryConnect(server, mode, { auth: { token: "bad" }, extraHeaders: { Authorization: `Bearer ${t}` } });
      assert.equal(r.ok, false);
      assert.equal(r.data.code, "TOKEN_INVALID");
    });

    it(`every refusal code over ${mode}`, async () => {
      await expectRefused(assert, server, mode, undefined, "TOKEN_MISSING");
      await expectRefused(assert, server, mode, "", "TOKEN_MISSING");
      await expectRefused(assert, server, mode, "not-a-token", "TOKEN_INVALID");
      await expectRefused(assert, server, mode, jwtSign(good(), "wrong", "HS256"), "TOKEN_INVALID");
      await expectRefused(assert, server, mode, jwtSign(good({ exp: now() - 60 }), SECRET, "HS256"), "TOKEN_EXPIRED");
      await expectRefused(assert, server, mode, jwtSign(good({ nbf: now() + 600 }), SECRET, "HS256"), "TOKEN_NOT_YET_VALID");
      await expectRefused(assert, server, mode, jwtSign(good({ aud: "billing" }), SECRET, "HS256"), "TOKEN_AUDIENCE");
      await expectRefused(assert, server, mode, jwtSign(good({ iss: "https://evil.test" }), SECRET, "HS256"), "TOKEN_ISSUER");
      // alg none, in any spelling
      for (const alg of ["none", "None", "NONE"]) {
        await expectRefused(assert, server, mode, `${b64({ alg, typ: "JWT" })}.${b64(good())}.`, "TOKEN_ALGORITHM");
      }
      // algorithm confusion: HS256 keyed with the RSA public key's PEM text
      const confused = signHs256WithKey(good(), rsa.pem);
      await expectRefused(assert, server, mode, confused, "TOKEN_INVALID");
    });

    it(`hostile tokens over ${mode}`, async () => {
      await expectRefused(assert, server, mode, "a".repeat(100 * 1024), "TOKEN_INVALID");
      await expectRefused(assert, server, mode, `${b64({ alg: "HS256" })}.${"x".repeat(100 * 1024)}.sig`, "TOKEN_INVALID");
      await expectRefused(assert, server, mode, "eyJ.eyJ.", "TOKEN_INVALID");
      await expectRefused(assert, server, mode, "a.b.c.d", "TOKEN_INVALID");
      await expectRefused(assert, server, mode, `${b64({ alg: "HS256" })}.${b64([1, 2])}.x`, "TOKEN_INVALID");
      const r = await tryConnect(server, mode, { auth: { token: { nested: true } } });
      assert.equal(r.data?.code, "TOKEN_INVALID");
      // a token whose header has duplicate members
      const dup = Buffer.from('{"alg":"HS256","alg":"none"}').toString("base64url");
      await expectRefused(assert, server, mode, `${dup}.${b64(good())}.x`, "TOKEN_INVALID");
    });
  }

  it("counts refusals by code", async () => {
    const st = await authStats(server);
    assert.ok(st.refused.TOKEN_MISSING >= 4, JSON.stringify(st));
    for (const code of ["TOKEN_INVALID", "TOKEN_EXPIRED", "TOKEN_NOT_YET_VALID", "TOKEN_ALGORITHM", "TOKEN_AUDIENCE", "TOKEN_ISSUER"]) {
      assert.ok(st.refused[code] >= 2, `${code}: ${JSON.stringify(st)}`);
    }
    assert.ok(st.accepted >= 8);
  });
});

describe("auth: --jwt-algorithms narrows the keys", () => {
  const rsa = keyPair("rsa");
  let server;
  before(async () => {
    server = await startAuthServer(["--jwt-secret", SECRET, "--jwt-public-key", rsa.file, "--jwt-algorithms", "RS256"]);
  });
  after(() => server.stop());
  it("refuses HS256 and PS256, accepts RS256", async () => {
    const p = { ...ID, ...exp() };
    await expectAccepted(assert, server, "websocket", jwtSign(p, rsa.privateKey, "RS256"));
    await expectRefused(assert, server, "websocket", jwtSign(p, SECRET, "HS256"), "TOKEN_ALGORITHM");
    await expectRefused(assert, server, "polling", jwtSign(p, rsa.privateKey, "PS256"), "TOKEN_ALGORITHM");
  });
});

describe("auth: RSA public key only", () => {
  const rsa = keyPair("rsa");
  let server;
  before(async () => {
    server = await startAuthServer(["--jwt-public-key", rsa.file]);
  });
  after(() => server.stop());
  it("refuses HS256 signed with the public key as the secret", async () => {
    const t = signHs256WithKey({ ...ID, ...exp() }, rsa.pem);
    for (const mode of MODES) await expectRefused(assert, server, mode, t, "TOKEN_ALGORITHM");
  });
});

function signHs256WithKey(payload, keyText) {
  const input = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", keyText).update(input).digest("base64url")}`;
}
