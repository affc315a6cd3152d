// Makes the keys and tokens of the gateway scenarios of bench/run.sh:
//   node tokens.js DIR COUNT
// writes DIR/rsa.pem and DIR/ec.pem (public keys: RSA 2048 and EC P-256), DIR/rs256.auth and
// DIR/es256.auth (COUNT lines `{"token":"..."}`, one user each: sub is the index written with
// 12 digits, as redis-benchmark's __rand_int__ writes it; organization_id groups 10 users), and
// DIR/api.token (a service secret for the emit API).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const jwt = require('jsonwebtoken');

const [dir, countArg] = process.argv.slice(2);
const count = Number(countArg || 1000);
fs.mkdirSync(dir, { recursive: true });
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
fs.writeFileSync(path.join(dir, 'rsa.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
fs.writeFileSync(path.join(dir, 'ec.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }));
for (const [alg, key] of [
  ['RS256', rsa.privateKey],
  ['ES256', ec.privateKey],
]) {
  const lines = [];
  for (let i = 0; i < count; i++) {
    const sub = String(i).padStart(12, '0');
    const token = jwt.sign({ sub, organization_id: `org${Math.floor(i / 10)}`, role: 'agent' }, key, {
      algorithm: alg,
      expiresIn: '1d',
    });
    lines.push(JSON.stringify({ token }));
  }
  fs.writeFileSync(path.join(dir, `${alg.toLowerCase()}.auth`), lines.join('\n') + '\n');
}
fs.writeFileSync(path.join(dir, 'api.token'), crypto.randomBytes(24).toString('hex') + '\n');
