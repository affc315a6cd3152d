import { timingSafeEqual } from "node:crypto";
import { config } from "@/lib/server/config";
import { fail, json, UUID } from "@/lib/server/http";
import { getConversation } from "@/lib/server/store";

export const dynamic = "force-dynamic";

function bearerOk(req: Request): boolean {
  if (!config.authorizeToken) return false;
  const got = Buffer.from(req.headers.get("authorization") ?? "");
  const want = Buffer.from(`Bearer ${config.authorizeToken}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * sio-server's join authorisation (--authorize-url, docs/gateway.md): 204 when the user's
 * organization owns the conversation, 403 otherwise.
 */
export async function POST(req: Request) {
  if (!bearerOk(req)) return fail(401, "UNAUTHORIZED", "bad service token");
  const body = await req.json().catch(() => null);
  const id = typeof body?.conversation_id === "string" ? body.conversation_id : "";
  const c = UUID.test(id) ? getConversation(id) : undefined;
  if (!c || !body?.organization_id || c.organization_id !== body.organization_id) return json({ allowed: false }, 403);
  return new Response(null, { status: 204 });
}
