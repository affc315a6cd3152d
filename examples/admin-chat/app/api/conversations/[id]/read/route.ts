import { fail, json, UUID } from "@/lib/server/http";
import { getConversation, markRead } from "@/lib/server/store";
import { caller } from "@/lib/server/tokens";

export const dynamic = "force-dynamic";

/** The caller has seen the conversation up to `at` (ISO time; now when absent). */
export async function POST(req: Request, ctx: { params: Promise<{ id: string }> }) {
  const me = caller(req);
  if (!me) return fail(401, "UNAUTHORIZED", "log in first");
  const { id } = await ctx.params;
  const c = UUID.test(id) ? getConversation(id) : undefined;
  if (!c || c.organization_id !== me.organization_id) return fail(404, "NOT_FOUND", "no such conversation");
  const body = await req.json().catch(() => null);
  const at = typeof body?.at === "string" && !Number.isNaN(Date.parse(body.at)) ? body.at : new Date().toISOString();
  markRead(me.sub, c.id, at);
  return json({ ok: true });
}
