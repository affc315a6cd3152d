"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import type { ReactNode } from "react";
import type { Socket } from "socket.io-client";
import { useConnectionState } from "@/lib/hooks";
import { saveSession, type Session } from "@/lib/session";
import { closeSocket } from "@/lib/socket";
import OnlineAgents from "./OnlineAgents";

const LABELS = { connecting: "connecting…", connected: "connected", reconnecting: "reconnecting…", offline: "offline" };

export function ConnectionBadge() {
  const state = useConnectionState();
  return (
    <span className={`badge conn-${state}`} data-testid="connection" data-state={state}>
      {LABELS[state]}
    </span>
  );
}

export default function Shell({ session, socket, children }: { session: Session; socket: Socket; children: ReactNode }) {
  const router = useRouter();
  const logout = () => {
    closeSocket();
    saveSession(null);
    router.replace("/");
  };
  return (
    <div className="shell">
      <header className="topbar">
        <Link href="/conversations" className="brand">Support desk</Link>
        <span className="org">{session.user.organization_name}</span>
        <span className="spacer" />
        <ConnectionBadge />
        <span className="me" data-testid="me">{session.user.name}</span>
        <button className="link" onClick={logout}>Log out</button>
      </header>
      <div className="body">
        <aside className="sidebar">
          <OnlineAgents session={session} socket={socket} />
        </aside>
        <main className="main">{children}</main>
      </div>
    </div>
  );
}
