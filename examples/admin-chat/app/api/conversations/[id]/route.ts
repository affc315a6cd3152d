import { fail, json, UUID } from "@/lib/server/http";
import { getConversation, messagesOf } from "@/lib/server/store";
import { caller } from "@/lib/server/tokens";

export const dynamic = "force-dynamic";

export async function GET(req: Request, ctx: { params: Promise<{ id: string }> }) {
  const me = caller(req);
  if (!me) return fail(401, "UNAUTHORIZED", "log in first");
  const { id } = await ctx.params;
  const c = UUID.test(id) ? getConversation(id) : undefined;
  if (!c) return fail(404, "NOT_FOUND", "no such conversation");
  if (c.organization_id !== me.organization_id) return fail(403, "FORBIDDEN", "this conversation belongs to another organization");
  return json({ ok: true, conversation: c, messages: messagesOf(c.id).map(({ client_id, ...m }) => ({ ...m, client_id })) });
}
