// The demo's store: one JSON file (DATA_DIR/store.json), held in memory by the single
// `next start` process and rewritten after every change with an atomic write-rename, so a crash
// leaves the previous or the new file, never half of one. No native modules, nothing to install.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { config } from "./config";
import { writeFileAtomic } from "./files";

export type Status = "PENDING" | "SENT" | "DELIVERED" | "READ";
export type Author = { type: "agent" | "customer"; id: string; name: string };
export type Message = {
  id: string;
  conversation_id: string;
  client_id?: string;
  author: Author;
  text: string;
  created_at: string;
  status: Status;
};
export type Conversation = { id: string; organization_id: string; subject: string; customer: string; created_at: string };
type Data = {
  conversations: Conversation[];
  messages: Message[];
  /** user id → conversation id → ISO time of the last message that user has seen */
  reads: Record<string, Record<string, string>>;
};

const g = globalThis as unknown as { __adminChatStore?: Data };
const file = () => path.join(config.dataDir, "store.json");

function seed(): Data {
  const t0 = Date.now() - 3600_000;
  const at = (min: number) => new Date(t0 + min * 60_000).toISOString();
  const data: Data = { conversations: [], messages: [], reads: {} };
  const add = (org: string, customer: string, subject: string, lines: string[], start: number) => {
    const c: Conversation = { id: randomUUID(), organization_id: org, subject, customer, created_at: at(start) };
    data.conversations.push(c);
    lines.forEach((text, i) =>
      data.messages.push({
        id: randomUUID(), conversation_id: c.id, author: { type: "customer", id: `customer:${customer}`, name: customer },
        text, created_at: at(start + i + 1), status: "READ",
      }),
    );
  };
  add("acme", "Dana Whitfield", "Order #4411 arrived damaged", ["Hi, my order arrived with a cracked lid.", "Can I get a replacement?"], 0);
  add("acme", "Ravi Patel", "Invoice address change", ["Please put our new billing address on the next invoice."], 10);
  add("acme", "Jonas Berg", "Cannot log in to the portal", ["The reset link says it expired.", "I tried twice."], 20);
  add("globex", "Mia Costa", "Bulk pricing question", ["Do you offer a discount above 500 units?"], 5);
  return data;
}

export function db(): Data {
  if (!g.__adminChatStore) {
    if (existsSync(file())) g.__adminChatStore = JSON.parse(readFileSync(file(), "utf8")) as Data;
    else {
      g.__adminChatStore = seed();
      save();
    }
  }
  return g.__adminChatStore;
}

function save() {
  writeFileAtomic(file(), JSON.stringify(g.__adminChatStore, null, 1));
}

export function conversationsOf(org: string): Conversation[] {
  return db().conversations.filter((c) => c.organization_id === org);
}

export function getConversation(id: string): Conversation | undefined {
  const key = id.toLowerCase();
  return db().conversations.find((c) => c.id === key);
}

export function messagesOf(conversationId: string): Message[] {
  return db().messages.filter((m) => m.conversation_id === conversationId);
}

/** Saves a message; the same client_id from the same author returns the first one (retries). */
export function addMessage(conversationId: string, author: Author, text: string, clientId?: string): { message: Message; created: boolean } {
  const d = db();
  if (clientId) {
    const dup = d.messages.find((m) => m.client_id === clientId && m.author.id === author.id);
    if (dup) return { message: dup, created: false };
  }
  const message: Message = {
    id: randomUUID(), conversation_id: conversationId, client_id: clientId, author, text,
    created_at: new Date().toISOString(), status: "PENDING",
  };
  d.messages.push(message);
  markRead(author.id, conversationId, message.created_at, false);
  save();
  return { message, created: true };
}

const RANK: Record<Status, number> = { PENDING: 0, SENT: 1, DELIVERED: 2, READ: 3 };

export function setStatus(messageId: string, status: Status) {
  const m = db().messages.find((x) => x.id === messageId);
  if (m && RANK[status] > RANK[m.status]) {
    m.status = status;
    save();
  }
}

export function markRead(userId: string, conversationId: string, at: string, persist = true) {
  const d = db();
  const mine = (d.reads[userId] ??= {});
  if (!mine[conversationId] || mine[conversationId] < at) mine[conversationId] = at;
  if (persist) save();
}

/** Messages of the conversation newer than what the user has seen, their own excepted. */
export function unreadCount(userId: string, conversationId: string): number {
  const seen = db().reads[userId]?.[conversationId] ?? "";
  return messagesOf(conversationId).filter((m) => m.author.id !== userId && m.created_at > seen).length;
}
