"use client";
import Link from "next/link";
import { useCallback, useEffect, useState } from "react";
import Shell from "@/components/Shell";
import { useOnConnect, useSession } from "@/lib/hooks";
import { api } from "@/lib/session";

type Item = {
  id: string;
  subject: string;
  customer: string;
  unread: number;
  last_message: { text: string; author: string; created_at: string } | null;
};

export default function ConversationsPage() {
  const ctx = useSession();
  const [items, setItems] = useState<Item[] | null>(null);
  const [error, setError] = useState("");
  const token = ctx?.session.token;
  const socket = ctx?.socket;

  const load = useCallback(() => {
    if (!token) return;
    api<{ conversations: Item[] }>(token, "/api/conversations")
      .then((r) => (setItems(r.conversations), setError("")))
      .catch((e) => setError(e.message));
  }, [token]);
  useEffect(load, [load]);
  useOnConnect(socket, load); // anything missed while disconnected

  useEffect(() => {
    if (!socket) return;
    socket.on("message:new", load); // sent to the organization's room too
    return () => {
      socket.off("message:new", load);
    };
  }, [socket, load]);

  if (!ctx) return null;
  return (
    <Shell session={ctx.session} socket={ctx.socket}>
      <h2>Conversations</h2>
      {error && <p className="error">{error}</p>}
      {!items && !error && <p className="muted">Loading…</p>}
      <ul className="conversations" data-testid="conversation-list">
        {items?.map((c) => (
          <li key={c.id}>
            <Link href={`/conversations/${c.id}`} data-testid="conversation-link" data-conversation-id={c.id}>
              <div className="row">
                <strong>{c.customer}</strong>
                {c.unread > 0 && <span className="unread" data-testid="unread">{c.unread}</span>}
              </div>
              <div className="subject">{c.subject}</div>
              {c.last_message && (
                <div className="muted small ellipsis">
                  {c.last_message.author}: {c.last_message.text}
                </div>
              )}
            </Link>
          </li>
        ))}
      </ul>
    </Shell>
  );
}
