// Per-file server lifecycle for node:test suites.
//
//   const ctx = useServer("sio");          // inside describe(): starts in before(), stops in after()
//   ... tests use ctx.server ...
//   shutdownCheck(ctx);                    // last inside the same describe(): a real test that stops
//                                          // the server and fails on a bad exit / sanitizer report

import { before, after, it } from "node:test";
import { startServer, TARGET } from "./server.mjs";

export function useServer(kind, options = {}) {
  const ctx = { server: null, kind };
  before(async () => {
    ctx.server = await startServer(kind, options);
  });
  after(async () => {
    // No-op when shutdownCheck already stopped it; otherwise still reports a bad exit.
    await ctx.server?.stop();
  });
  return ctx;
}

export function shutdownCheck(ctx) {
  it(`${ctx.kind} server (${TARGET}) shuts down cleanly: exit status 0, no sanitizer report`, { timeout: 15000 }, async () => {
    await ctx.server.stop();
  });
}
