// Generates tests/unit/auth/fixtures/node_tokens.h: tokens signed by the npm packages
// jsonwebtoken 9.0.3 and jose 6, and the public keys (PEM and JWKS) that verify them.
// The unit tests only read the generated header; nothing here runs during a build.
//
// To regenerate (fresh keys every run, so commit the new header as a whole):
//   mkdir -p /tmp/jwtgen && cd /tmp/jwtgen && npm init -y >/dev/null &&
//   npm install jsonwebtoken@9.0.3 jose@6 &&
//   cp <repo>/tests/unit/auth/gen-fixtures.mjs . &&
//   node gen-fixtures.mjs > <repo>/tests/unit/auth/fixtures/node_tokens.h &&
//   clang-format -i <repo>/tests/unit/auth/fixtures/node_tokens.h
// The X.509 certificate fixture is made with the openssl command.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import * as jose from 'jose';

const NOW = 1700000100; // the clock the C tests pass in
const claims = {
  sub: 'user-42',
  organization_id: 'org-7',
  role: 'admin',
  iss: 'https://issuer.example',
  aud: 'sio-test',
  iat: 1700000000,
  nbf: 1699999990,
  exp: 1700003600,
};

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
const ed25519 = crypto.generateKeyPairSync('ed25519');
const ed448 = crypto.generateKeyPairSync('ed448');
const rsa1024 = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
const k256 = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
const secret = crypto.randomBytes(64);

const pem = (k) => k.publicKey.export({ type: 'spki', format: 'pem' });
const jwk = (k, extra) => ({ ...k.publicKey.export({ format: 'jwk' }), ...extra });

// A self-signed certificate around the RSA key, to check that certificates load too.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jwtcert-'));
fs.writeFileSync(path.join(tmp, 'key.pem'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
const cert = execFileSync('openssl', ['req', '-x509', '-new', '-key', path.join(tmp, 'key.pem'),
  '-subj', '/CN=jwt-test', '-days', '3650'], { encoding: 'utf8' });
fs.rmSync(tmp, { recursive: true });

const families = {
  HS: { key: secret, jwk: { kty: 'oct', k: secret.toString('base64url'), kid: 'hs' } },
  RS: { key: rsa.privateKey, kid: 'rsa' },
  PS: { key: rsa.privateKey, kid: 'rsa' },
  ES256: { key: p256.privateKey, kid: 'p256' },
  ES384: { key: p384.privateKey, kid: 'p384' },
  ES512: { key: p521.privateKey, kid: 'p521' },
  EdDSA: { key: ed25519.privateKey, kid: 'ed25519' },
};
const familyOf = (alg) => families[alg] || families[alg.slice(0, 2)];

const tokens = [];
const algs = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512'];
for (const alg of algs) {
  // jsonwebtoken, no kid: the verifier has to try every key its pinning allows.
  const f = familyOf(alg);
  tokens.push(['jsonwebtoken', alg, false,
    jwt.sign(claims, f.key, { algorithm: alg, noTimestamp: true })]);
}
for (const alg of [...algs, 'EdDSA']) {
  const f = familyOf(alg);
  const kid = alg.startsWith('HS') ? 'hs' : f.kid;
  const key = alg.startsWith('HS') ? new Uint8Array(secret) : f.key;
  const t = await new jose.SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'at+jwt' }).sign(key);
  tokens.push(['jose', alg, true, t]);
}
// Ed448: neither package signs it, so build the token by hand with node:crypto.
{
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'EdDSA', kid: 'ed448' })}.${b64(claims)}`;
  const sig = crypto.sign(null, Buffer.from(input), ed448.privateKey).toString('base64url');
  tokens.push(['node:crypto', 'EdDSA', true, `${input}.${sig}`]);
}

const jwks = {
  keys: [
    families.HS.jwk,
    jwk(rsa, { kid: 'rsa', use: 'sig' }),
    jwk(p256, { kid: 'p256', alg: 'ES256' }),
    jwk(p384, { kid: 'p384', alg: 'ES384' }),
    jwk(p521, { kid: 'p521', alg: 'ES512' }),
    jwk(ed25519, { kid: 'ed25519', alg: 'EdDSA' }),
    jwk(ed448, { kid: 'ed448' }),
    // An encryption key with a kid of its own: must be skipped, not refused.
    jwk(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), { kid: 'enc', use: 'enc' }),
  ],
};

// HS384/HS512 over the RFC 7515 A.1 signing input, with the A.1 key.
const a1Key = Buffer.from('AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow', 'base64url');
const a1Payload = 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ';
const a1Style = (alg, md) => {
  const h = Buffer.from(`{"typ":"JWT",\r\n "alg":"${alg}"}`).toString('base64url');
  const sig = crypto.createHmac(md, a1Key).update(`${h}.${a1Payload}`).digest('base64url');
  return `${h}.${a1Payload}.${sig}`;
};

const c = (s) => s.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1)
  .map((l) => `    "${l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}\\n"`).join('\n');
const str = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const out = [];
out.push('/* Generated by tests/unit/auth/gen-fixtures.mjs (jsonwebtoken 9.0.3, jose ' +
  JSON.parse(fs.readFileSync(new URL('./node_modules/jose/package.json', import.meta.url))).version +
  '). Do not edit. */');
out.push('#ifndef SIO_TEST_AUTH_NODE_TOKENS_H\n#define SIO_TEST_AUTH_NODE_TOKENS_H\n');
out.push('#include <stdbool.h>\n#include <stdint.h>\n');
out.push(`/* A clock inside every token's nbf..exp window. */\n#define NODE_NOW INT64_C(${NOW})\n`);
out.push(`static const char node_secret_b64url[] = ${str(secret.toString('base64url'))};\n`);
for (const [name, k] of [['rsa', rsa], ['p256', p256], ['p384', p384], ['p521', p521],
  ['ed25519', ed25519], ['ed448', ed448], ['rsa1024', rsa1024], ['secp256k1', k256]]) {
  out.push(`static const char node_${name}_pem[] =\n${c(pem(k))};\n`);
}
out.push(`static const char node_rsa_cert_pem[] =\n${c(cert)};\n`);
const rj = jwk(rsa, {});
out.push(`static const char node_rsa_n[] = ${str(rj.n)};\n`);
const j1024 = jwk(rsa1024, {});
out.push(`static const char node_rsa1024_n[] = ${str(j1024.n)};\n`);
out.push(`static const char node_jwks[] = ${str(JSON.stringify(jwks))};\n`);
out.push(`static const char node_a1_hs384[] = ${str(a1Style('HS384', 'sha384'))};\n`);
out.push(`static const char node_a1_hs512[] = ${str(a1Style('HS512', 'sha512'))};\n`);
out.push('struct node_token {\n    const char *lib;\n    const char *alg;\n    bool has_kid;\n' +
  '    const char *token;\n};\n');
out.push('static const struct node_token node_tokens[] = {');
for (const [lib, alg, hasKid, t] of tokens) {
  out.push(`    {"${lib}", "${alg}", ${hasKid}, ${str(t)}},`);
}
out.push('};\n\n#endif');
process.stdout.write(out.join('\n') + '\n');
