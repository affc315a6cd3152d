// Rooms and broadcasts with several clients: join/leave, several rooms at once (each recipient
// gets one copy), except by room and by socket id, whole-namespace broadcast, binary broadcast.
// Every scenario runs with all clients on one transport mode, plus once with mixed transports.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { MODES, openSio, emitAck } from "../lib/clients.mjs";
import { EventLog, nextEvent, isBinary, toBuffer } from "../lib/util.mjs";

let fenceCounter = 0;

/**
 * Runs `broadcasts` (each [rooms, except, event, ...args]) from `sender`, then a whole-namespace
 * "fence" event; once every client has the fence, everything broadcast before it has arrived too
 * (per-connection ordering). Returns, per client, the list of received [event, ...args].
 */
async function broadcastAndCollect(sender, clients, broadcasts) {
  const events = [...new Set(broadcasts.map((b) => b[2]))];
  const logs = clients.map((c) => events.map((e) => new EventLog(c, e)));
  const fenceId = `fence-${++fenceCounter}`;
  const fences = clients.map((c) => {
    // Wait for this particular fence (ignore fences of other tests that might still be in flight).
    return new Promise((resolve) => {
      const h = (id) => {
        if (id === fenceId) {
          c.off("fence", h);
          resolve();
        }
      };
      c.on("fence", h);
    });
  });
  for (const b of broadcasts) await emitAck(sender, "to-room", ...b);
  await emitAck(sender, "to-room", [], [], "fence", fenceId);
  await Promise.race([
    Promise.all(fences),
    new Promise((_, reject) => setTimeout(() => reject(new Error("fence not received by every client")), 5000)),
  ]);
  return logs.map((perEvent) => {
    const got = [];
    perEvent.forEach((log, k) => {
      for (const args of log.items) got.push([events[k], ...args]);
      log.stop();
    });
    return got;
  });
}

async function join(socket, room) {
  await emitAck(socket, "join", room);
}

async function scenario(openClient) {
  // a: r1          b: r2          c: r1 + r2          d: no room
  const [a, b, c, d] = await Promise.all([0, 1, 2, 3].map((i) => openClient(i)));
  const names = ["a", "b", "c", "d"];
  try {
    await join(a, "r1");
    await join(b, "r2");
    await join(c, "r1");
    await join(c, "r2");
    const clients = [a, b, c, d];
    const expectGot = (got, expected, label) => {
      got.forEach((list, i) => {
        assert.deepEqual(list, expected[names[i]] ?? [], `${label}: client ${names[i]} received ${JSON.stringify(list)}`);
      });
    };

    // One room.
    let got = await broadcastAndCollect(d, clients, [[["r1"], [], "ev", "one-room"]]);
    expectGot(got, { a: [["ev", "one-room"]], c: [["ev", "one-room"]] }, "to r1");

    // Two rooms: c is in both and must get one copy.
    got = await broadcastAndCollect(d, clients, [[["r1", "r2"], [], "ev", "two-rooms", { n: 2 }]]);
    expectGot(
      got,
      { a: [["ev", "two-rooms", { n: 2 }]], b: [["ev", "two-rooms", { n: 2 }]], c: [["ev", "two-rooms", { n: 2 }]] },
      "to r1+r2",
    );

    // Except a room.
    got = await broadcastAndCollect(d, clients, [[["r1"], ["r2"], "ev", "r1-minus-r2"]]);
    expectGot(got, { a: [["ev", "r1-minus-r2"]] }, "to r1 except r2");

    // Except a socket id (every socket is in the room named after its id).
    got = await broadcastAndCollect(d, clients, [[["r1", "r2"], [c.id], "ev", "minus-c"]]);
    expectGot(got, { a: [["ev", "minus-c"]], b: [["ev", "minus-c"]] }, "to r1+r2 except c.id");

    // Whole namespace except rooms; the sender itself is included when not excluded.
    got = await broadcastAndCollect(d, clients, [[[], ["r1"], "ev", "all-but-r1"]]);
    expectGot(got, { b: [["ev", "all-but-r1"]], d: [["ev", "all-but-r1"]] }, "to all except r1");

    // To a socket id (private message).
    got = await broadcastAndCollect(d, clients, [[[b.id], [], "ev", "dm"]]);
    expectGot(got, { b: [["ev", "dm"]] }, "to b.id");

    // Binary in a broadcast.
    const blob = Buffer.from([0, 1, 2, 250]);
    got = await broadcastAndCollect(d, clients, [[["r2"], [], "bin", blob, { inner: Buffer.from("x") }]]);
    for (const i of [1, 2]) {
      assert.equal(got[i].length, 1, `binary broadcast to ${names[i]}`);
      const [, data, obj] = got[i][0];
      assert.ok(isBinary(data) && toBuffer(data).equals(blob), `binary payload for ${names[i]}`);
      assert.ok(isBinary(obj.inner) && toBuffer(obj.inner).equals(Buffer.from("x")));
    }
    assert.equal(got[0].length + got[3].length, 0, "binary broadcast leaked outside r2");

    // Leave: c leaves r1.
    await emitAck(c, "leave", "r1");
    got = await broadcastAndCollect(d, clients, [[["r1"], [], "ev", "after-leave"]]);
    expectGot(got, { a: [["ev", "after-leave"]] }, "to r1 after c left");

    // Several broadcasts keep their order for each recipient.
    got = await broadcastAndCollect(d, clients, [
      [["r2"], [], "seq", 1],
      [["r1", "r2"], [], "seq", 2],
      [["r2"], [b.id], "seq", 3],
      [[], [], "seq", 4],
    ]);
    expectGot(
      got,
      {
        a: [["seq", 2], ["seq", 4]],
        b: [["seq", 1], ["seq", 2], ["seq", 4]],
        c: [["seq", 1], ["seq", 2], ["seq", 3], ["seq", 4]],
        d: [["seq", 4]],
      },
      "ordered broadcasts",
    );

    // A disconnected member is no longer a recipient (and does not break the broadcast).
    a.close();
    got = await broadcastAndCollect(d, [b, c, d], [[["r1", "r2"], [], "ev", "after-a-left"]]);
    assert.deepEqual(got, [[["ev", "after-a-left"]], [["ev", "after-a-left"]], []]);
  } finally {
    [a, b, c, d].forEach((s) => s.close());
  }
}

describe("rooms and broadcasts", () => {
  const ctx = useServer("sio");

  for (const mode of MODES) {
    it(`transport: ${mode}: join/leave, several rooms, except room/id, binary, ordering`, { timeout: 30000 }, async () => {
      await scenario(() => openSio(ctx.server, mode));
    });
  }

  it("mixed transports (websocket, polling, upgrade, polling) in the same rooms", { timeout: 30000 }, async () => {
    const modes = ["websocket", "polling", "upgrade", "polling"];
    await scenario((i) => openSio(ctx.server, modes[i]));
  });

  it("a broadcast reaches 20 clients exactly once each", { timeout: 30000 }, async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => openSio(ctx.server, MODES[i % 3])));
    try {
      await Promise.all(clients.map((c) => emitAck(c, "join", "crowd")));
      const logs = clients.map((c) => new EventLog(c, "crowd-ev"));
      await emitAck(clients[0], "to-room", ["crowd"], [], "crowd-ev", "hello", 42);
      await Promise.all(logs.map((l) => l.waitFor(1, 5000)));
      const fence = clients.map((c) => nextEvent(c, "crowd-fence"));
      await emitAck(clients[0], "to-room", ["crowd"], [], "crowd-fence");
      await Promise.all(fence);
      logs.forEach((l, i) => {
        assert.deepEqual(l.items, [["hello", 42]], `client ${i}`);
        l.stop();
      });
    } finally {
      clients.forEach((c) => c.close());
    }
  });

  shutdownCheck(ctx);
});
