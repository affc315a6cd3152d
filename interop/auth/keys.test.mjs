// sio-server with each key source (secret, PEM RSA / EC / Ed25519 public keys, JWKS file, JWKS
// URL with a key rotation), tokens of every algorithm family from jsonwebtoken and jose, over
// WebSocket and polling.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  SECRET, ID, exp, keyPair, writeJwks, jwtSign, joseSign, startAuthServer, authStats,
  expectAccepted, expectRefused, startJwksServer,
} from "./common.mjs";
import { sleep } from "../lib/util.mjs";

const MODES = ["websocket", "polling"];
const secretKey = new TextEncoder().encode(SECRET);

describe("auth: key sources and algorithms", () => {
  const rsa = keyPair("rsa");
  const p256 = keyPair("ec-256");
  const p384 = keyPair("ec-384");
  const ed = keyPair("ed25519");
  let server;

  describe("secret", () => {
    before(async () => {
      server = await startAuthServer(["--jwt-secret", SECRET]);
    });
    after(() => server.stop());
    for (const mode of MODES) {
      it(`HS256/384/512 from jsonwebtoken and jose over ${mode}`, async () => {
        for (const alg of ["HS256", "HS384", "HS512"]) {
          await expectAccepted(assert, server, mode, jwtSign({ ...ID, ...exp() }, SECRET, alg));
          await expectAccepted(assert, server, mode, await joseSign({ ...ID, ...exp() }, secretKey, alg));
        }
        await expectRefused(assert, server, mode, jwtSign({ ...ID, ...exp() }, "other", "HS256"), "TOKEN_INVALID");
      });
    }
  });

  describe("PEM public keys (repeatable flag)", () => {
    before(async () => {
      server = await startAuthServer([
        "--jwt-public-key", rsa.file, "--jwt-public-key", p256.file,
        "--jwt-public-key", p384.file, "--jwt-public-key", ed.file,
      ]);
    });
    after(() => server.stop());
    for (const mode of MODES) {
      it(`RS, PS, ES and EdDSA over ${mode}`, async () => {
        const p = { ...ID, ...exp() };
        for (const alg of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]) {
          await expectAccepted(assert, server, mode, jwtSign(p, rsa.privateKey, alg));
        }
        await expectAccepted(assert, server, mode, await joseSign(p, rsa.privateKey, "PS256"));
        await expectAccepted(assert, server, mode, jwtSign(p, p256.privateKey, "ES256"));
        await expectAccepted(assert, server, mode, await joseSign(p, p384.privateKey, "ES384"));
        await expectAccepted(assert, server, mode, await joseSign(p, ed.privateKey, "EdDSA"));
        // a key of another pair
        const stranger = keyPair("ec-256");
        await expectRefused(assert, server, mode, jwtSign(p, stranger.privateKey, "ES256"), "TOKEN_INVALID");
      });
    }
  });

  describe("JWKS file", () => {
    const k1 = keyPair("rsa", "k1");
    const k2 = keyPair("ed25519", "k2");
    before(async () => {
      server = await startAuthServer(["--jwks-file", writeJwks([k1, k2])]);
    });
    after(() => server.stop());
    for (const mode of MODES) {
      it(`kid-selected keys over ${mode}`, async () => {
        const p = { ...ID, ...exp() };
        await expectAccepted(assert, server, mode, jwtSign(p, k1.privateKey, "RS256", { keyid: "k1" }));
        await expectAccepted(assert, server, mode, await joseSign(p, k2.privateKey, "EdDSA", { kid: "k2" }));
        await expectAccepted(assert, server, mode, await joseSign(p, k1.privateKey, "PS512", { kid: "k1" }));
        // a kid pointing nowhere
        await expectRefused(assert, server, mode, jwtSign(p, k1.privateKey, "RS256", { keyid: "nowhere" }), "TOKEN_INVALID");
      });
    }
  });

  describe("JWKS URL", () => {
    const k1 = keyPair("ec-256", "k1");
    const k2 = keyPair("rsa", "k2");
    const k3 = keyPair("rsa", "k3");
    let jwks;
    before(async () => {
      jwks = await startJwksServer([k1]);
      server = await startAuthServer([
        "--jwks-url", jwks.url, "--jwks-min-refetch", "1", "--jwt-secret", SECRET,
      ]);
    });
    after(async () => {
      await server.stop();
      await jwks.close();
    });

    it("fetches at start, refetches on a new kid (rate-limited), keeps the last good set", async () => {
      const p = { ...ID, ...exp() };
      await expectAccepted(assert, server, "websocket", jwtSign(p, k1.privateKey, "ES256", { keyid: "k1" }));
      assert.equal(jwks.requests, 1);
      // rotation: k2 appears at the URL; a token with kid k2 makes the server fetch again
      jwks.jwks = [k1, k2];
      await sleep(1100);
      await expectAccepted(assert, server, "polling", jwtSign(p, k2.privateKey, "RS256", { keyid: "k2" }));
      assert.equal(jwks.requests, 2);
      // within the minimum interval an unknown kid is refused without a fetch
      await expectRefused(assert, server, "websocket", jwtSign(p, k3.privateKey, "RS256", { keyid: "k3" }), "TOKEN_INVALID");
      assert.equal(jwks.requests, 2);

      // garbage at the URL: the fetch fails, the last good set stays
      jwks.mode = "garbage";
      await sleep(1100);
      await expectRefused(assert, server, "websocket", jwtSign(p, k3.privateKey, "RS256", { keyid: "k3" }), "TOKEN_INVALID");
      assert.equal(jwks.requests, 3);
      await expectAccepted(assert, server, "websocket", jwtSign(p, k2.privateKey, "RS256", { keyid: "k2" }));
      await expectAccepted(assert, server, "polling", jwtSign(p, SECRET, "HS256"));

      // a URL that hangs: the waiting connection is answered at the fetch timeout, the others
      // are not held up meanwhile
      jwks.mode = "hang";
      await sleep(1100);
      const started = Date.now();
      const waiting = expectRefused(assert, server, "websocket", jwtSign(p, k3.privateKey, "RS256", { keyid: "k3" }), "TOKEN_INVALID");
      await sleep(200);
      await expectAccepted(assert, server, "websocket", jwtSign(p, k1.privateKey, "ES256", { keyid: "k1" }));
      assert.ok(Date.now() - started < 2000, "not held up by the hanging fetch");
      await waiting;
      assert.ok(Date.now() - started >= 4000, "answered after the fetch timed out");

      // the URL recovers with k3
      jwks.mode = "ok";
      jwks.jwks = [k1, k2, k3];
      await sleep(1100);
      await expectAccepted(assert, server, "polling", jwtSign(p, k3.privateKey, "RS256", { keyid: "k3" }));
      const st = await authStats(server);
      assert.ok(st.jwks_fetch_failures >= 2, JSON.stringify(st));
      assert.equal(st.keys, 4);
    });
  });
});
