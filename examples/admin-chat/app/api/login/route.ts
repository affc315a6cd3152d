import { findAgent, publicAgent } from "@/lib/server/agents";
import { fail, json } from "@/lib/server/http";
import { issueToken } from "@/lib/server/tokens";

export const dynamic = "force-dynamic";

export async function POST(req: Request) {
  const body = await req.json().catch(() => null);
  const agent = typeof body?.username === "string" ? findAgent(body.username.trim().toLowerCase()) : undefined;
  if (!agent || body?.password !== agent.password) return fail(401, "UNAUTHORIZED", "unknown user or wrong password");
  const { token, exp } = issueToken({ sub: agent.id, organization_id: agent.organization_id, role: "agent", name: agent.name });
  return json({ ok: true, token, exp, user: publicAgent(agent) });
}
