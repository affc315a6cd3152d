// One socket.io-client connection for the whole app, authenticated with the login's token
// (sio-server verifies it against /api/jwks). Same origin by default: NGINX sends /socket.io/ to
// the sio nodes and everything else to this app. `?transport=polling` on any page forces
// long-polling for the rest of the tab's session (`?transport=auto` goes back).
import { io, type Socket } from "socket.io-client";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

const TRANSPORT_KEY = "adminchat.transports";
let socket: Socket | null = null;
let socketToken: string | null = null;
let state: ConnectionState = "offline";
const listeners = new Set<() => void>();

function setState(next: ConnectionState) {
  if (typeof navigator !== "undefined" && !navigator.onLine && next !== "connected") next = "offline";
  if (state === next) return;
  state = next;
  listeners.forEach((l) => l());
}

/** Reads the ?transport= flag of the current URL into the tab's session. */
export function rememberTransportFlag() {
  const flag = new URLSearchParams(window.location.search).get("transport");
  if (flag === "polling") sessionStorage.setItem(TRANSPORT_KEY, "polling");
  else if (flag === "auto") sessionStorage.removeItem(TRANSPORT_KEY);
}

function transports(): string[] {
  return sessionStorage.getItem(TRANSPORT_KEY) === "polling" ? ["polling"] : ["websocket", "polling"];
}

export function getSocket(token: string): Socket {
  if (socket && socketToken === token) return socket;
  closeSocket();
  socketToken = token;
  const s = io(process.env.NEXT_PUBLIC_SOCKET_URL || window.location.origin, {
    auth: { token },
    transports: transports(),
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 4000,
  });
  socket = s;
  setState("connecting");
  s.on("connect", () => setState("connected"));
  s.on("disconnect", () => setState(s.active ? "reconnecting" : "offline"));
  s.on("connect_error", (err: Error & { data?: { code?: string } }) => {
    if (err.data?.code) console.warn(`socket refused: ${err.data.code}`);
    setState(s.active ? "reconnecting" : "offline");
  });
  s.io.on("reconnect_attempt", () => setState("reconnecting"));
  s.io.on("reconnect_failed", () => setState("offline"));
  s.on("error", (e: { code?: string; message?: string }) => console.warn(`sio error ${e?.code}: ${e?.message}`));
  return s;
}

export function closeSocket() {
  socket?.close();
  socket = null;
  socketToken = null;
  setState("offline");
}

export function connectionState(): ConnectionState {
  return state;
}

export function onConnectionState(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

if (typeof window !== "undefined") {
  window.addEventListener("offline", () => setState("offline"));
  window.addEventListener("online", () => {
    if (socket && !socket.connected) setState("reconnecting");
  });
}
