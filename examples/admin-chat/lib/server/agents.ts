// The seeded support agents. A demo: one shared password, kept in the code.
export type Agent = { id: string; name: string; organization_id: string; password: string };

export const ORGANIZATIONS: Record<string, string> = { acme: "Acme Corp", globex: "Globex" };

export const AGENTS: Agent[] = [
  { id: "alice", name: "Alice Martin", organization_id: "acme", password: "demo" },
  { id: "bob", name: "Bob Okafor", organization_id: "acme", password: "demo" },
  { id: "dave", name: "Dave Lindqvist", organization_id: "acme", password: "demo" },
  { id: "carol", name: "Carol Nakamura", organization_id: "globex", password: "demo" },
];

export function findAgent(id: string): Agent | undefined {
  return AGENTS.find((a) => a.id === id);
}

export function publicAgent(a: Agent) {
  return { id: a.id, name: a.name, organization_id: a.organization_id, organization_name: ORGANIZATIONS[a.organization_id] };
}
