// RS256 tokens with node:crypto: a key pair made at first start and kept in DATA_DIR/keys.json,
// published as a JWKS (/api/jwks) that sio-server reads with --jwks-url.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { config } from "./config";
import { writeFileAtomic } from "./files";

type Keys = { kid: string; privateKey: KeyObject; publicKey: KeyObject };
export type Claims = { sub: string; organization_id: string; role: string; name: string; iat: number; exp: number };

const g = globalThis as unknown as { __adminChatKeys?: Keys };

function keys(): Keys {
  if (g.__adminChatKeys) return g.__adminChatKeys;
  const file = path.join(config.dataDir, "keys.json");
  let saved: { kid: string; privateKeyPem: string };
  if (existsSync(file)) {
    saved = JSON.parse(readFileSync(file, "utf8"));
  } else {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    saved = { kid: randomBytes(8).toString("hex"), privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string };
    writeFileAtomic(file, JSON.stringify(saved), 0o600);
  }
  const privateKey = createPrivateKey(saved.privateKeyPem);
  g.__adminChatKeys = { kid: saved.kid, privateKey, publicKey: createPublicKey(privateKey) };
  return g.__adminChatKeys;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export function issueToken(c: Omit<Claims, "iat" | "exp">): { token: string; exp: number } {
  const k = keys();
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + config.tokenTtl;
  const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: k.kid }));
  const body = b64url(JSON.stringify({ ...c, iat, exp }));
  const sig = sign("sha256", Buffer.from(`${head}.${body}`), k.privateKey);
  return { token: `${head}.${body}.${b64url(sig)}`, exp };
}

/** The claims of a token this app issued and that has not expired, else null. */
export function verifyToken(token: string): Claims | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const head = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    if (head.alg !== "RS256" || head.kid !== keys().kid) return null;
    const ok = verify("sha256", Buffer.from(`${parts[0]}.${parts[1]}`), keys().publicKey, Buffer.from(parts[2], "base64url"));
    if (!ok) return null;
    const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as Claims;
    if (typeof claims.exp !== "number" || claims.exp <= Date.now() / 1000) return null;
    return claims;
  } catch {
    return null;
  }
}

export function jwks() {
  const k = keys();
  const jwk = k.publicKey.export({ format: "jwk" });
  return { keys: [{ ...jwk, kid: k.kid, alg: "RS256", use: "sig" }] };
}

/** The caller of a route handler, from `Authorization: Bearer <token>`. */
export function caller(req: Request): Claims | null {
  const h = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m ? verifyToken(m[1].trim()) : null;
}
