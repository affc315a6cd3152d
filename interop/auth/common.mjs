// Shared by the auth interop tests: sio-server started with JWT flags, key pairs written as PEM
// files, tokens from jsonwebtoken and jose, a JWKS URL server, and connection functions.

import { generateKeyPairSync, createPublicKey } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import jwt from "jsonwebtoken";
import * as jose from "jose";
import { io } from "socket.io-client";
import { startServer } from "../lib/server.mjs";
import { transportOptions } from "../lib/clients.mjs";
import { withTimeout } from "../lib/util.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SIO_APP = process.env.SIO_APP ?? path.resolve(here, "..", "..", "build", "src", "app", "sio-server");
export const SECRET = "interop-secret-0123456789abcdef";
export const now = () => Math.floor(Date.now() / 1000);

const dir = mkdtempSync(path.join(os.tmpdir(), "sio-auth-"));

/** A key pair of `type` ("rsa", "ec-256", "ec-384", "ed25519"), its PEM public key file, JWK. */
export function keyPair(type, kid) {
  const opts =
    type === "rsa" ? ["rsa", { modulusLength: 2048 }]
    : type === "ec-256" ? ["ec", { namedCurve: "P-256" }]
    : type === "ec-384" ? ["ec", { namedCurve: "P-384" }]
    : ["ed25519", {}];
  const { publicKey, privateKey } = generateKeyPairSync(...opts);
  const pem = publicKey.export({ type: "spki", format: "pem" });
  const file = path.join(dir, `${type}-${kid ?? "nokid"}-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, pem);
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, use: "sig" };
  return { type, kid, publicKey, privateKey, pem, file, jwk };
}

export function writeJwks(keys) {
  const file = path.join(dir, `jwks-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ keys: keys.map((k) => k.jwk) }));
  return file;
}

/** A token from jsonwebtoken. */
export function jwtSign(payload, key, alg, extra = {}) {
  return jwt.sign(payload, key, { algorithm: alg, ...extra });
}

/** A token from jose. */
export async function joseSign(payload, privateKey, alg, header = {}) {
  return new jose.SignJWT(payload).setProtectedHeader({ alg, ...header }).sign(privateKey);
}

/** The identity every test token carries. */
export const ID = { sub: "user-1", organization_id: "org-1", role: "support" };
export const exp = (s = 600) => ({ exp: now() + s });

export async function startAuthServer(args) {
  return startServer("sio", { bin: SIO_APP, args: ["--stats-path", "/stats", ...args] });
}

export async function authStats(server) {
  const r = await fetch(`${server.url}/stats/auth`);
  return r.json();
}

/**
 * Connects with socket.io-client; resolves {ok:true, socket} or {ok:false, message, data}.
 * opts: socket.io-client options (auth, query, extraHeaders); mode: websocket | polling.
 */
export function tryConnect(server, mode, opts = {}, ms = 10000, onSocket = null) {
  const socket = io(server.url, { reconnection: false, forceNew: true, ...transportOptions(mode), ...opts });
  onSocket?.(socket); // listeners that must not miss what comes right after the connect
  return withTimeout(
    new Promise((resolve) => {
      socket.once("connect", () => resolve({ ok: true, socket }));
      socket.once("connect_error", (err) => {
        socket.close();
        resolve({ ok: false, message: err.message, data: err.data });
      });
    }),
    ms,
    "connect or connect_error",
  );
}

/** Asserts that a token connects; closes the socket. */
export async function expectAccepted(assert, server, mode, token, how = "auth") {
  const r = await tryConnect(server, mode, tokenOptions(token, how));
  assert.equal(r.ok, true, `refused: ${r.message} ${JSON.stringify(r.data)}`);
  r.socket.close();
}

/** Asserts a refusal with `code`. */
export async function expectRefused(assert, server, mode, token, code, how = "auth") {
  const r = await tryConnect(server, mode, tokenOptions(token, how));
  if (r.ok) r.socket.close();
  assert.equal(r.ok, false, `accepted, expected ${code}`);
  assert.equal(r.data?.code, code, `message: ${r.message}`);
  assert.equal(typeof r.message, "string");
}

export function tokenOptions(token, how) {
  if (token === undefined) return {};
  switch (how) {
    case "auth":
      return { auth: { token } };
    case "query":
      return { query: { token } };
    case "access_token":
      return { query: { access_token: token } };
    case "header":
      return { extraHeaders: { Authorization: `Bearer ${token}` } };
    default:
      throw new Error(how);
  }
}

/** A JWKS server on 127.0.0.1: serve(jwks) sets the answer; mode "ok" | "hang" | "garbage". */
export async function startJwksServer(initial) {
  const state = { jwks: initial, mode: "ok", requests: 0, hung: [] };
  const srv = http.createServer((req, res) => {
    state.requests++;
    if (state.mode === "hang") {
      state.hung.push(res);
      return;
    }
    if (state.mode === "garbage") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{\"keys\": [ this is not json");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: state.jwks.map((k) => k.jwk) }));
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${srv.address().port}/.well-known/jwks.json`;
  state.close = () =>
    new Promise((resolve) => {
      for (const r of state.hung) r.destroy();
      srv.closeAllConnections?.();
      srv.close(resolve);
    });
  return state;
}

export { createPublicKey };
