"use client";
import { useEffect, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { loadSession, saveSession, type Session } from "@/lib/session";
import { rememberTransportFlag } from "@/lib/socket";

const DEMO = [
  ["alice", "Acme Corp"],
  ["bob", "Acme Corp"],
  ["dave", "Acme Corp"],
  ["carol", "Globex"],
];

export default function LoginPage() {
  const router = useRouter();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    rememberTransportFlag();
    if (loadSession()) router.replace("/conversations");
  }, [router]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const res = await fetch("/api/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      const data = await res.json();
      if (!res.ok) throw new Error(data?.error?.message ?? `HTTP ${res.status}`);
      saveSession({ token: data.token, exp: data.exp, user: data.user } as Session);
      router.replace("/conversations");
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  }

  return (
    <div className="login">
      <form onSubmit={submit} className="card">
        <h1>Support desk</h1>
        <label>
          User
          <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus autoComplete="username" />
        </label>
        <label>
          Password
          <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>Log in</button>
        <p className="muted small">
          Demo accounts (password <code>demo</code>): {DEMO.map(([u, o]) => `${u} (${o})`).join(", ")}
        </p>
      </form>
    </div>
  );
}
