// Thin wrappers around the official clients: open a connection in one of the three transport
// modes and wait (bounded) until it is usable.

import { Socket as EioSocket } from "engine.io-client";
import { io as sioConnect } from "socket.io-client";
import { withTimeout, nextEvent } from "./util.mjs";

/** The three ways a client can reach the server. */
export const MODES = ["websocket", "polling", "upgrade"];

export function transportOptions(mode) {
  switch (mode) {
    case "websocket":
      return { transports: ["websocket"], upgrade: false };
    case "polling":
      return { transports: ["polling"], upgrade: false };
    case "upgrade":
      return { transports: ["polling", "websocket"], upgrade: true };
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

/** The transport name a connection in `mode` must end up on. */
export function finalTransport(mode) {
  return mode === "polling" ? "polling" : "websocket";
}

/**
 * Opens an engine.io-client socket. In "upgrade" mode it waits for the upgrade to WebSocket
 * unless `waitUpgrade` is false.
 */
export async function openEio(server, mode, { waitUpgrade = true, ...extra } = {}) {
  const socket = new EioSocket(server.url, {
    path: "/engine.io/",
    ...transportOptions(mode),
    ...extra,
  });
  const upgraded = mode === "upgrade" ? nextEvent(socket, "upgrade", 10000) : null;
  upgraded?.catch(() => {});
  await withTimeout(
    new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", (err) => reject(new Error(`engine.io-client error before open: ${err?.message ?? err}`)));
      socket.once("close", (reason) => reject(new Error(`closed before open: ${reason}`)));
    }),
    5000,
    `engine.io ${mode} open`,
  );
  if (upgraded && waitUpgrade) {
    await upgraded;
  }
  socket.upgraded = upgraded;
  return socket;
}

/**
 * Opens a socket.io-client socket on `nsp` and waits for "connect" (and, in "upgrade" mode, for
 * the engine to be on WebSocket unless `waitUpgrade` is false). Reconnection is off unless asked.
 */
export async function openSio(server, mode, { nsp = "/", waitUpgrade = true, waitConnect = true, ...extra } = {}) {
  const socket = sioConnect(server.url + nsp, {
    path: "/socket.io/",
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ...transportOptions(mode),
    ...extra,
  });
  if (!waitConnect) return socket;
  await withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err?.message ?? err}`)));
    }),
    5000,
    `socket.io ${mode} connect to ${nsp}`,
  );
  if (mode === "upgrade" && waitUpgrade) await waitForUpgrade(socket);
  return socket;
}

/** Waits until the socket.io-client's engine is on WebSocket. */
export async function waitForUpgrade(socket, ms = 10000) {
  const engine = socket.io.engine;
  if (engine.transport?.name === "websocket") return;
  await withTimeout(new Promise((resolve) => engine.once("upgrade", resolve)), ms, "upgrade to websocket");
}

export function closeAll(...sockets) {
  for (const s of sockets.flat()) {
    try {
      if (s && typeof s.close === "function") s.close();
    } catch {
      // already closed
    }
  }
}

/** Emits with an ack and resolves with all ack arguments (rejects after `ms` without an ack). */
export function emitAck(socket, event, ...args) {
  const ms = 5000;
  return new Promise((resolve, reject) => {
    socket.timeout(ms).emit(event, ...args, (err, ...answer) => {
      if (err) reject(new Error(`no ack for "${event}" within ${ms} ms on ${socket.nsp}`));
      else resolve(answer);
    });
  });
}
