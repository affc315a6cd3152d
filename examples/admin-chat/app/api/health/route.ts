import { json } from "@/lib/server/http";
import { db } from "@/lib/server/store";
import { jwks } from "@/lib/server/tokens";

export const dynamic = "force-dynamic";

/** Ready once the keys and the store exist (deploy/run.sh waits for this before starting sio). */
export function GET() {
  jwks();
  db();
  return json({ ok: true });
}
