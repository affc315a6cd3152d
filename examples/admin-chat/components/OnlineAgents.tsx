"use client";
import { useCallback, useEffect, useState } from "react";
import type { Socket } from "socket.io-client";
import { useAgents, useConnectionState, useOnConnect } from "@/lib/hooks";
import type { Session } from "@/lib/session";

type PresenceUpdate = { user_id: string; organization_id: string; status: "online" | "offline" };

/** The organization's agents with who is online: presence:list on connect, then presence:update. */
export default function OnlineAgents({ session, socket }: { session: Session; socket: Socket }) {
  const agents = useAgents(session.token);
  const connected = useConnectionState() === "connected";
  const [online, setOnline] = useState<Set<string>>(new Set());

  const refresh = useCallback(() => {
    socket.timeout(5000).emit("presence:list", {}, (err: Error | null, res?: { ok: boolean; users?: unknown[] }) => {
      if (err || !res?.ok || !Array.isArray(res.users)) return;
      const ids = res.users.map((u) => (typeof u === "string" ? u : (u as { user_id?: string })?.user_id)).filter(Boolean) as string[];
      setOnline(new Set(ids));
    });
  }, [socket]);
  useOnConnect(socket, refresh);

  useEffect(() => {
    const onUpdate = (u: PresenceUpdate) => {
      if (u.organization_id !== session.user.organization_id) return;
      setOnline((prev) => {
        const next = new Set(prev);
        if (u.status === "online") next.add(u.user_id);
        else next.delete(u.user_id);
        return next;
      });
    };
    socket.on("presence:update", onUpdate);
    return () => {
      socket.off("presence:update", onUpdate);
    };
  }, [socket, session.user.organization_id]);

  return (
    <section className="presence">
      <h3>Agents</h3>
      <ul>
        {agents.map((a) => {
          const me = a.id === session.user.id;
          const on = me ? connected : connected && online.has(a.id);
          return (
            <li key={a.id} data-testid={`agent-${a.id}`} data-online={on ? "true" : "false"}>
              <span className={`dot ${on ? "on" : "off"}`} aria-label={on ? "online" : "offline"} />
              {a.name}
              {me && <span className="muted"> (you)</span>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
