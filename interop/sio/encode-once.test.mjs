// A broadcast is encoded once, whatever the number of receivers: the server's encode counter
// (test extra "stats", sio-reference-server only) grows by the same amount for 1 and for 40
// receivers, and every receiver still gets the message.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useServer, shutdownCheck } from "../lib/harness.mjs";
import { openSio, emitAck, closeAll } from "../lib/clients.mjs";
import { TARGET } from "../lib/server.mjs";
import { nextEvent } from "../lib/util.mjs";

describe("encode-once broadcast", { skip: TARGET !== "c" && "counter exists on the C server only" }, () => {
  const ctx = useServer("sio");

  async function encodedFor(receivers) {
    const room = `once-${receivers}`;
    const clients = [];
    for (let i = 0; i < receivers; i++) clients.push(await openSio(ctx.server, "websocket"));
    try {
      for (const c of clients) await emitAck(c, "join", room);
      const sender = clients[0];
      const got = clients.map((c) => nextEvent(c, "news", 5000));
      const [before] = await emitAck(sender, "stats");
      await emitAck(sender, "to-room", [room], [], "news", { text: "hello", n: receivers });
      const [after] = await emitAck(sender, "stats");
      const received = await Promise.all(got);
      for (const args of received) assert.deepEqual(args, [{ text: "hello", n: receivers }]);
      return after.packetsEncoded - before.packetsEncoded;
    } finally {
      closeAll(...clients);
    }
  }

  it("the packet count does not depend on the number of receivers", { timeout: 30000 }, async () => {
    const one = await encodedFor(1);
    const many = await encodedFor(40);
    // the broadcast itself, the to-room ack and the first stats ack: 3 in both cases
    assert.equal(one, 3);
    assert.equal(many, one);
  });

  shutdownCheck(ctx);
});
