import { fail, json } from "@/lib/server/http";
import { conversationsOf, messagesOf, unreadCount } from "@/lib/server/store";
import { caller } from "@/lib/server/tokens";

export const dynamic = "force-dynamic";

/** The organization's conversations, latest activity first, with the caller's unread counts. */
export function GET(req: Request) {
  const me = caller(req);
  if (!me) return fail(401, "UNAUTHORIZED", "log in first");
  const list = conversationsOf(me.organization_id).map((c) => {
    const msgs = messagesOf(c.id);
    const last = msgs[msgs.length - 1];
    return { ...c, last_message: last ? { text: last.text, author: last.author.name, created_at: last.created_at } : null, unread: unreadCount(me.sub, c.id) };
  });
  list.sort((a, b) => (b.last_message?.created_at ?? b.created_at).localeCompare(a.last_message?.created_at ?? a.created_at));
  return json({ ok: true, conversations: list });
}
