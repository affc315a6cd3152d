// Shared code of the gateway tests (interop/gateway/): sio-server started with --gateway, whose
// test-only identity comes from the CONNECT auth object {user_id, organization_id, role}.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { openSio, closeAll } from "./clients.mjs";
import { withTimeout, sleep } from "./util.mjs";

/** Waits are multiplied by this under sanitizers (scripts/test.sh sets SIO_SANITIZED=1). */
export const SLOW = process.env.SIO_SANITIZED === "1" ? 4 : 1;
export const WAIT = 5000 * SLOW;

export const uuid = () => randomUUID();

let serial = 0;
/** A fresh identity (unique user, so the per-user cap of one test never meets another's). */
export function identity(org = "org-a", role = "operator") {
  serial += 1;
  return { user_id: `u-${process.pid}-${serial}-${Date.now()}`, organization_id: org, role };
}

/**
 * Connects with `auth` as identity and resolves {socket, connected} once the gateway's
 * `connected` event came. Every event the socket receives is recorded in socket.received.
 */
export async function connectUser(server, mode, auth, extra = {}) {
  const socket = await openSio(server, mode, { auth, waitConnect: false, timeout: WAIT, ...extra });
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push([event, ...args]));
  const connected = await withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connected", resolve);
      socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
    }),
    WAIT,
    "the connected event",
  );
  if (mode === "upgrade") {
    const engine = socket.io.engine;
    if (engine.transport?.name !== "websocket")
      await withTimeout(new Promise((resolve) => engine.once("upgrade", resolve)), 2 * WAIT, "upgrade");
  }
  return { socket, connected };
}

/** Resolves with the connect_error of a socket that must be refused. */
export async function refusedWith(server, mode, auth) {
  const socket = await openSio(server, mode, { auth, waitConnect: false, timeout: WAIT });
  try {
    return await withTimeout(
      new Promise((resolve, reject) => {
        socket.once("connect_error", resolve);
        socket.once("connect", () => reject(new Error("unexpectedly connected")));
      }),
      WAIT,
      "connect_error",
    );
  } finally {
    closeAll(socket);
  }
}

/** Emits with an ack; resolves with the ack's first argument. */
export function call(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(WAIT).emit(event, ...args, (err, answer) => {
      if (err) reject(new Error(`no ack for "${event}" within ${WAIT} ms`));
      else resolve(answer);
    });
  });
}

/** Resolves with the first argument of the next `event` on socket, bounded. */
export function next(socket, event, ms = WAIT) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (arg) => resolve(arg);
    socket.once(event, handler);
  });
  return withTimeout(p, ms, `event "${event}"`).finally(() => socket.off(event, handler));
}

/** The events of `name` recorded on socket so far (first arguments). */
export const got = (socket, name) => socket.received.filter(([e]) => e === name).map(([, a]) => a);

/** Waits ms and fails if socket received any `name` event matching pred meanwhile. */
export async function expectNone(socket, name, ms = 300 * SLOW, pred = () => true) {
  const before = got(socket, name).length;
  await sleep(ms);
  const late = got(socket, name).slice(before).filter(pred);
  assert.deepEqual(late, [], `unexpected "${name}" events`);
}

/** Polls cond every 20 ms until it holds; fails after ms. */
export async function waitUntil(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Joins conversation id and checks the answer. */
export async function join(socket, id) {
  const joined = next(socket, "joined_conversation");
  const ack = await call(socket, "join_conversation", { conversation_id: id });
  assert.equal(ack.ok, true, `join refused: ${JSON.stringify(ack)}`);
  assert.equal((await joined).conversation_id, id);
  return ack;
}

/** Asserts that `event` with `payload` is answered by error `code`, in the ack and the event. */
export async function expectError(socket, code, event, ...payload) {
  const errorEvent = next(socket, "error");
  const ack = await call(socket, event, ...payload);
  assert.equal(ack.ok, false, `expected ${code}, got ${JSON.stringify(ack)}`);
  assert.equal(ack.error.code, code);
  assert.equal(typeof ack.error.message, "string");
  const ev = await errorEvent;
  assert.equal(ev.code, code);
  assert.equal(typeof ev.message, "string");
  return ack;
}

export { closeAll };
