"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import Shell from "@/components/Shell";
import { useAgents, useConnectionState, useOnConnect, useSession } from "@/lib/hooks";
import { api, ApiError } from "@/lib/session";

type Status = "PENDING" | "SENT" | "DELIVERED" | "READ";
type Message = {
  id: string;
  conversation_id: string;
  client_id?: string;
  author: { type: "agent" | "customer"; id: string; name: string };
  text: string;
  created_at: string;
  status: Status;
  history?: { status: Status; at: string }[];
};
type Queued = { client_id: string; text: string; queued_at: string };
type StatusEvent = { message_id: string; conversation_id: string; status: Status; at?: string };

const RANK: Record<Status, number> = { PENDING: 0, SENT: 1, DELIVERED: 2, READ: 3 };
const TICKS: Record<Status, string> = { PENDING: "…", SENT: "✓", DELIVERED: "✓✓", READ: "✓✓" };
const TYPING_IDLE_MS = 2000; // typing_stop after this long without a keystroke
const TYPING_REFRESH_MS = 3000; // typing_start again while typing (the server forgets after 5 s)

function withStatus(m: Message, status: Status, at: string): Message {
  if (RANK[status] <= RANK[m.status]) return m;
  return { ...m, status, history: [...(m.history ?? []), { status, at }] };
}

export default function ConversationPage() {
  const { id: rawId } = useParams<{ id: string }>();
  const id = rawId.toLowerCase();
  const ctx = useSession();
  const token = ctx?.session.token;
  const me = ctx?.session.user;
  const socket = ctx?.socket;
  const connection = useConnectionState();
  const agents = useAgents(token);

  const [subject, setSubject] = useState("");
  const [loadError, setLoadError] = useState("");
  const [messages, setMessages] = useState<Message[]>([]);
  const [join, setJoin] = useState<{ state: string; code?: string }>({ state: "joining" });
  const [typing, setTyping] = useState<Record<string, number>>({});
  const [text, setText] = useState("");
  const outboxKey = me ? `adminchat.outbox.${me.id}.${id}` : "";
  const [outbox, setOutbox] = useState<Queued[]>([]);
  const earlyStatus = useRef(new Map<string, StatusEvent[]>());
  const flushing = useRef(false);
  const typingState = useRef({ active: false, lastStart: 0, idle: undefined as ReturnType<typeof setTimeout> | undefined });

  const nameOf = (userId: string) => agents.find((a) => a.id === userId)?.name ?? userId;

  const upsert = useCallback((m: Message) => {
    setMessages((prev) => {
      const i = prev.findIndex((x) => x.id === m.id);
      let next = i >= 0 ? prev.map((x, j) => (j === i ? { ...m, history: x.history, status: RANK[x.status] > RANK[m.status] ? x.status : m.status } : x)) : [...prev, m];
      for (const ev of earlyStatus.current.get(m.id) ?? []) next = next.map((x) => (x.id === m.id ? withStatus(x, ev.status, ev.at ?? "") : x));
      earlyStatus.current.delete(m.id);
      return next.sort((a, b) => a.created_at.localeCompare(b.created_at));
    });
  }, []);

  const markRead = useCallback((at?: string) => {
    if (token) api(token, `/api/conversations/${id}/read`, { method: "POST", body: at ? { at } : {} }).catch(() => {});
  }, [token, id]);

  // the history, again after each reconnection (events sent meanwhile are not replayed)
  const load = useCallback(() => {
    if (!token) return;
    api<{ conversation: { subject: string; customer: string }; messages: Message[] }>(token, `/api/conversations/${id}`)
      .then((r) => {
        setSubject(`${r.conversation.customer} · ${r.conversation.subject}`);
        r.messages.forEach(upsert);
        setLoadError("");
        markRead();
      })
      .catch((e: ApiError) => setLoadError(e.status === 403 ? "This conversation belongs to another organization." : e.message));
  }, [token, id, upsert, markRead]);
  useEffect(load, [load]);

  // the outbox (replies not yet accepted by the backend) survives reloads; the ref is the truth
  const outboxRef = useRef<Queued[]>([]);
  useEffect(() => {
    if (!outboxKey) return;
    outboxRef.current = JSON.parse(localStorage.getItem(outboxKey) ?? "[]");
    setOutbox(outboxRef.current);
  }, [outboxKey]);
  const saveOutbox = useCallback((fn: (q: Queued[]) => Queued[]) => {
    outboxRef.current = fn(outboxRef.current);
    localStorage.setItem(outboxKey, JSON.stringify(outboxRef.current));
    setOutbox(outboxRef.current);
  }, [outboxKey]);

  // sends the queued replies in order while connected; stops at the first failure
  const flush = useCallback(async () => {
    if (!token || flushing.current) return;
    flushing.current = true;
    try {
      while (outboxRef.current.length && socket?.connected) {
        const q = outboxRef.current[0];
        try {
          const r = await api<{ message: Message }>(token, `/api/conversations/${id}/messages`, { method: "POST", body: { text: q.text, client_id: q.client_id } });
          upsert(r.message);
        } catch (e) {
          if (!(e instanceof ApiError && e.status >= 400 && e.status < 500)) break; // down: keep it
          // refused for good (e.g. 403): drop it
        }
        saveOutbox((prev) => prev.filter((x) => x.client_id !== q.client_id));
      }
    } finally {
      flushing.current = false;
    }
  }, [token, socket, id, upsert, saveOutbox]);

  // join on every connection: a reconnection is a new session with no rooms
  const joinRoom = useCallback(() => {
    if (!socket) return;
    setJoin({ state: "joining" });
    socket.timeout(8000).emit("join_conversation", { conversation_id: id }, (err: Error | null, res?: { ok: boolean; error?: { code: string } }) => {
      if (err) setJoin({ state: "error", code: "TIMEOUT" });
      else if (res?.ok) {
        setJoin({ state: "joined" });
        load();
        flush();
      } else setJoin({ state: "error", code: res?.error?.code ?? "ERROR" });
    });
  }, [socket, id, load, flush]);
  useOnConnect(socket, joinRoom);
  useEffect(() => {
    if (!socket) return;
    const left = () => setJoin((j) => (j.state === "joined" ? { state: "disconnected" } : j));
    socket.on("disconnect", left);
    return () => {
      socket.off("disconnect", left);
    };
  }, [socket]);

  useEffect(() => {
    if (!socket) return;
    const onMessage = (m: Message) => {
      if (m.conversation_id !== id) return;
      upsert(m);
      if (m.author.id !== me?.id) markRead(m.created_at);
    };
    const onStatus = (ev: StatusEvent) => {
      if (ev.conversation_id !== id) return;
      setMessages((prev) => {
        if (!prev.some((m) => m.id === ev.message_id)) {
          earlyStatus.current.set(ev.message_id, [...(earlyStatus.current.get(ev.message_id) ?? []), ev]);
          return prev;
        }
        return prev.map((m) => (m.id === ev.message_id ? withStatus(m, ev.status, ev.at ?? new Date().toISOString()) : m));
      });
    };
    const onTyping = (ev: { conversation_id: string; user_id: string; typing: boolean }) => {
      if (ev.conversation_id !== id || ev.user_id === me?.id) return;
      setTyping((prev) => {
        const next = { ...prev };
        if (ev.typing) next[ev.user_id] = Date.now();
        else delete next[ev.user_id];
        return next;
      });
    };
    socket.on("message:new", onMessage);
    socket.on("message.status", onStatus);
    socket.on("user_typing", onTyping);
    return () => {
      socket.off("message:new", onMessage);
      socket.off("message.status", onStatus);
      socket.off("user_typing", onTyping);
    };
  }, [socket, id, me?.id, upsert, markRead]);

  // a typing hint whose typing:false was lost (a node died) fades out by itself
  useEffect(() => {
    const t = setInterval(() => setTyping((prev) => {
      const live = Object.entries(prev).filter(([, at]) => Date.now() - at < 7000);
      return live.length === Object.keys(prev).length ? prev : Object.fromEntries(live);
    }), 1000);
    return () => clearInterval(t);
  }, []);

  // nobody is typing any more after a disconnection; leave the room when the page goes away
  useEffect(() => {
    if (connection !== "connected") setTyping({});
  }, [connection]);
  const stopTyping = useCallback(() => {
    const t = typingState.current;
    clearTimeout(t.idle);
    if (t.active && socket?.connected) socket.emit("typing_stop", { conversation_id: id });
    t.active = false;
  }, [socket, id]);
  useEffect(() => () => {
    stopTyping();
    socket?.emit("leave_conversation", { conversation_id: id });
  }, [socket, id, stopTyping]);

  function onInput(value: string) {
    setText(value);
    const t = typingState.current;
    if (!socket?.connected || join.state !== "joined") return;
    const now = Date.now();
    if (!value) return stopTyping();
    if (!t.active || now - t.lastStart > TYPING_REFRESH_MS) {
      socket.emit("typing_start", { conversation_id: id });
      t.active = true;
      t.lastStart = now;
    }
    clearTimeout(t.idle);
    t.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function send(e: FormEvent) {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    stopTyping();
    setText("");
    saveOutbox((prev) => [...prev, { client_id: crypto.randomUUID(), text: body, queued_at: new Date().toISOString() }]);
    void flush();
  }

  if (!ctx || !me) return null;
  const typers = Object.keys(typing).map(nameOf);
  const forbidden = join.state === "error";
  return (
    <Shell session={ctx.session} socket={ctx.socket}>
      <div className="conv-head">
        <Link href="/conversations" className="link">← Conversations</Link>
        <h2>{subject || "Conversation"}</h2>
        <span className="muted small" data-testid="join-state" data-state={join.state} data-code={join.code ?? ""}>
          {join.state === "joined" ? "live" : join.state === "joining" ? "joining…" : join.state === "disconnected" ? "waiting for the connection" : `not joined: ${join.code}`}
        </span>
      </div>
      {loadError && <p className="error" data-testid="load-error">{loadError}</p>}
      {forbidden && <p className="error" data-testid="join-error">Realtime updates refused: {join.code}</p>}
      <ol className="messages" data-testid="messages">
        {messages.map((m) => {
          const mine = m.author.id === me.id;
          return (
            <li
              key={m.id}
              className={`msg ${mine ? "mine" : m.author.type}`}
              data-testid="message"
              data-message-id={m.id}
              data-status={m.status}
              data-status-history={(m.history ?? []).map((h) => h.status).join(",")}
            >
              <div className="meta">
                {m.author.name} · {new Date(m.created_at).toLocaleTimeString()}
              </div>
              <div className="text">{m.text}</div>
              {m.author.type === "agent" && (
                <span className={`ticks t-${m.status.toLowerCase()}`} data-testid="ticks"
                  title={(m.history ?? []).map((h) => `${h.status.toLowerCase()} ${new Date(h.at).toLocaleTimeString()}`).join(" · ") || m.status.toLowerCase()}>
                  {TICKS[m.status]}
                </span>
              )}
            </li>
          );
        })}
        {outbox.map((q) => (
          <li key={q.client_id} className="msg mine queued" data-testid="outbox-item">
            <div className="meta">{me.name} · waiting for the connection</div>
            <div className="text">{q.text}</div>
            <span className="ticks">…</span>
          </li>
        ))}
      </ol>
      <div className="typing" data-testid="typing" aria-live="polite">
        {typers.length > 0 && `${typers.join(", ")} ${typers.length > 1 ? "are" : "is"} typing…`}
      </div>
      <form className="composer" onSubmit={send}>
        <input
          data-testid="composer"
          value={text}
          onChange={(e) => onInput(e.target.value)}
          placeholder={connection === "connected" ? "Write a reply" : "Offline: replies are kept and sent on reconnection"}
          disabled={forbidden || !!loadError}
        />
        <button type="submit" disabled={forbidden || !!loadError || !text.trim()}>Send</button>
      </form>
    </Shell>
  );
}
