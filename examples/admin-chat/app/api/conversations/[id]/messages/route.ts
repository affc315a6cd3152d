import { findAgent } from "@/lib/server/agents";
import { fail, json, UUID } from "@/lib/server/http";
import { emitToSio, simulateDelivery } from "@/lib/server/realtime";
import { addMessage, getConversation } from "@/lib/server/store";
import { caller } from "@/lib/server/tokens";

export const dynamic = "force-dynamic";

/**
 * Saves an agent's message, tells the organization's connected agents through sio
 * (message:new to the conversation's and the organization's rooms: a client in both gets it
 * once) and starts the simulated delivery. A retried client_id returns the saved message.
 */
export async function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  const me = caller(req);
  if (!me) return fail(401, "UNAUTHORIZED", "log in first");
  const { id } = await ctx.params;
  const c = UUID.test(id) ? getConversation(id) : undefined;
  if (!c) return fail(404, "NOT_FOUND", "no such conversation");
  if (c.organization_id !== me.organization_id) return fail(403, "FORBIDDEN", "this conversation belongs to another organization");
  const body = await req.json().catch(() => null);
  const text = typeof body?.text === "string" ? body.text.trim() : "";
  if (!text || text.length > 4000) return fail(400, "BAD_REQUEST", "text must be 1 to 4000 characters");
  const clientId = typeof body?.client_id === "string" && body.client_id.length <= 64 ? body.client_id : undefined;
  const author = { type: "agent" as const, id: me.sub, name: findAgent(me.sub)?.name ?? me.sub };
  const { message, created } = addMessage(c.id, author, text, clientId);
  let realtime = true;
  if (created) {
    realtime = await emitToSio("message:new", message, { conversations: [c.id], organizations: [c.organization_id] });
    simulateDelivery(message);
  }
  return json({ ok: true, message, realtime }, created ? 201 : 200);
}
