"use client";
import { useEffect, useState, useSyncExternalStore } from "react";
import { useRouter } from "next/navigation";
import type { Socket } from "socket.io-client";
import { api, loadSession, type Session, type User } from "./session";
import { connectionState, getSocket, onConnectionState, rememberTransportFlag, type ConnectionState } from "./socket";

/** The tab's session and its socket; sends the visitor to the login page without one. */
export function useSession(): { session: Session; socket: Socket } | null {
  const router = useRouter();
  const [value, setValue] = useState<{ session: Session; socket: Socket } | null>(null);
  useEffect(() => {
    rememberTransportFlag();
    const s = loadSession();
    if (!s) router.replace("/");
    else setValue({ session: s, socket: getSocket(s.token) });
  }, [router]);
  return value;
}

export function useConnectionState(): ConnectionState {
  return useSyncExternalStore(onConnectionState, connectionState, () => "offline");
}

/** Runs `fn` on every (re)connection of the socket, and now if it is connected. */
export function useOnConnect(socket: Socket | undefined, fn: () => void) {
  useEffect(() => {
    if (!socket) return;
    socket.on("connect", fn);
    if (socket.connected) fn();
    return () => {
      socket.off("connect", fn);
    };
  }, [socket, fn]);
}

let agentsCache: { token: string; agents: Promise<User[]> } | null = null;
/** The agents of the organization (names for presence and typing). */
export function useAgents(token: string | undefined): User[] {
  const [agents, setAgents] = useState<User[]>([]);
  useEffect(() => {
    if (!token) return;
    if (agentsCache?.token !== token) {
      const agents = api<{ agents: User[] }>(token, "/api/agents").then((r) => r.agents).catch(() => ((agentsCache = null), []));
      agentsCache = { token, agents };
    }
    agentsCache.agents.then(setAgents);
  }, [token]);
  return agents;
}
