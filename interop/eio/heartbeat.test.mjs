// Heartbeat: the server pings every pingInterval (300 ms) and the client answers; a client notices
// a dead server (SIGSTOP) through the missing pings within pingInterval + pingTimeout (+ slack).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../lib/server.mjs";
import { MODES, openEio } from "../lib/clients.mjs";
import { EventLog, sleep, withTimeout, nextEvent } from "../lib/util.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const SLACK = 700;

describe("heartbeat", () => {
  for (const mode of MODES) {
    it(`${mode}: an idle session stays open and receives regular pings`, { timeout: 15000 }, async () => {
      const server = await startServer("eio");
      try {
        const socket = await openEio(server, mode);
        const pings = new EventLog(socket, "ping");
        let closed = null;
        socket.on("close", (reason) => {
          closed = reason;
        });
        await sleep(2000);
        assert.equal(closed, null, `session closed while idle: ${closed}; server stderr: ${server.stderr().slice(-1000)}`);
        // 2000 ms / 300 ms interval: expect about 6 pings; require at least 4.
        assert.ok(pings.items.length >= 4, `only ${pings.items.length} pings in 2 s`);
        // The session still carries messages after several heartbeat rounds.
        const echo = nextEvent(socket, "message");
        socket.send("after idle");
        assert.deepEqual(await echo, ["after idle"]);
        socket.close();
      } finally {
        await server.stop();
      }
    });

    it(`${mode}: the client detects a frozen server with reason "ping timeout"`, { timeout: 15000 }, async () => {
      const server = await startServer("eio");
      try {
        const socket = await openEio(server, mode);
        // Start right after a ping so the measurement covers a full heartbeat period.
        await nextEvent(socket, "ping", 2000);
        const closed = new Promise((resolve) => socket.once("close", (reason) => resolve(reason)));
        const t0 = Date.now();
        server.signal("SIGSTOP");
        const reason = await withTimeout(closed, PING_INTERVAL + PING_TIMEOUT + SLACK + 2000, "client close");
        const elapsed = Date.now() - t0;
        assert.equal(reason, "ping timeout");
        assert.ok(elapsed <= PING_INTERVAL + PING_TIMEOUT + SLACK,
          `client noticed the dead server after ${elapsed} ms (limit ${PING_INTERVAL + PING_TIMEOUT + SLACK} ms)`);
        socket.close();
      } finally {
        server.signal("SIGCONT");
        await server.stop();
      }
    });
  }

  it("the server survives being frozen and serves new sessions after SIGCONT", { timeout: 15000 }, async () => {
    const server = await startServer("eio");
    try {
      const stale = await openEio(server, "websocket");
      server.signal("SIGSTOP");
      await sleep(PING_INTERVAL + PING_TIMEOUT + 300);
      server.signal("SIGCONT");
      const fresh = await openEio(server, "polling");
      const echo = nextEvent(fresh, "message");
      fresh.send("alive");
      assert.deepEqual(await echo, ["alive"]);
      fresh.close();
      stale.close();
    } finally {
      await server.stop();
    }
  });
});
