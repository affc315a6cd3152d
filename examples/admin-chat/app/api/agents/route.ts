import { AGENTS, publicAgent } from "@/lib/server/agents";
import { fail, json } from "@/lib/server/http";
import { caller } from "@/lib/server/tokens";

export const dynamic = "force-dynamic";

/** The agents of the caller's organization (names for presence and typing). */
export function GET(req: Request) {
  const me = caller(req);
  if (!me) return fail(401, "UNAUTHORIZED", "log in first");
  return json({ ok: true, agents: AGENTS.filter((a) => a.organization_id === me.organization_id).map(publicAgent) });
}
