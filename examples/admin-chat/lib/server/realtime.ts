// The two ways the backend reaches the browsers through sio:
//  - POST /api/emit on a sio node (docs/backend.md), here for message:new;
//  - a PUBLISH on Redis channel status:<conversationId>, which sio-server's relay
//    (--relay 'status:*=message.status@conversation:{1}') emits as message.status to the
//    conversation's room. The "delivery worker" below simulates a messaging provider reporting
//    SENT, DELIVERED and READ.
import { createClient } from "redis";
import { config } from "./config";
import { setStatus, type Message, type Status } from "./store";

type RedisClient = ReturnType<typeof createClient>;
const g = globalThis as unknown as { __adminChatRedis?: Promise<RedisClient>; __adminChatNextNode?: number };

/** Emits `event` through the first sio node that answers; false when none did. */
export async function emitToSio(event: string, data: unknown, to: Record<string, string[]>): Promise<boolean> {
  const urls = config.sioApiUrls;
  const start = (g.__adminChatNextNode = ((g.__adminChatNextNode ?? -1) + 1) % urls.length);
  for (let i = 0; i < urls.length; i++) {
    const url = urls[(start + i) % urls.length];
    try {
      const res = await fetch(`${url}/api/emit`, {
        method: "POST",
        headers: { authorization: `Bearer ${config.sioApiToken}`, "content-type": "application/json" },
        body: JSON.stringify({ event, data, to }),
        signal: AbortSignal.timeout(2000),
      });
      if (res.ok) return true;
      console.error(`emit ${event} via ${url}: HTTP ${res.status} ${await res.text()}`);
      if (res.status < 500) return false; // our request is wrong: another node says the same
    } catch (e) {
      console.error(`emit ${event} via ${url}: ${(e as Error).message}`); // node down: next one
    }
  }
  return false;
}

function redis(): Promise<RedisClient> {
  if (!g.__adminChatRedis) {
    const client = createClient({ url: config.redisUrl, socket: { reconnectStrategy: (n) => Math.min(100 * 2 ** n, 2000) } });
    client.on("error", (e) => console.error(`redis: ${e.message}`));
    g.__adminChatRedis = client.connect().then(() => client);
    g.__adminChatRedis.catch(() => (g.__adminChatRedis = undefined));
  }
  return g.__adminChatRedis;
}

const STEPS: Status[] = ["SENT", "DELIVERED", "READ"];

/** Starts the simulated delivery of an agent's message: each status is saved, then published. */
export function simulateDelivery(m: Message) {
  STEPS.forEach((status, i) => {
    setTimeout(async () => {
      setStatus(m.id, status);
      const payload = { message_id: m.id, conversation_id: m.conversation_id, status, at: new Date().toISOString() };
      try {
        await (await redis()).publish(`status:${m.conversation_id}`, JSON.stringify(payload));
      } catch (e) {
        console.error(`delivery worker: publish ${status}: ${(e as Error).message}`);
      }
    }, config.deliveryDelays[i] ?? 1000 * (i + 1));
  });
}
