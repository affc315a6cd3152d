// Settings of the demo backend, all from the environment (deploy/run.sh sets them).
import path from "node:path";

function list(v: string | undefined): string[] {
  return (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

export const config = {
  /** Where keys.json and store.json live. */
  dataDir: path.resolve(/*turbopackIgnore: true*/ process.env.DATA_DIR ?? "data"),
  /** Base URLs of sio nodes for POST /api/emit, tried in turn (any node reaches the cluster). */
  sioApiUrls: list(process.env.SIO_API_URLS ?? "http://127.0.0.1:3001"),
  /** The secret sio-server was given with --api-token. */
  sioApiToken: process.env.SIO_API_TOKEN ?? "",
  /** The secret sio-server sends to /api/authorize (--authorize-token). */
  authorizeToken: process.env.SIO_AUTHORIZE_TOKEN ?? "",
  /** Redis of the delivery worker; sio relays status:<conversationId> as message.status. */
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  /** Delays (ms after the POST) of SENT, DELIVERED and READ. */
  deliveryDelays: list(process.env.DELIVERY_DELAYS_MS ?? "400,1200,2400").map(Number),
  /** Lifetime of issued tokens, seconds. */
  tokenTtl: Number(process.env.TOKEN_TTL_S ?? 8 * 3600),
};
