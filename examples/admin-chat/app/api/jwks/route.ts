import { json } from "@/lib/server/http";
import { jwks } from "@/lib/server/tokens";

export const dynamic = "force-dynamic";

/** The public key sio-server verifies tokens with (--jwks-url). */
export function GET() {
  return json(jwks());
}
