// A client process of drain.test.mjs: opens `count` socket.io-client connections (WebSocket,
// gateway test identities) to node A; when one is closed by A's drain it records the time and
// connects again to node B. Talks to the test over IPC: "ready", then on "report" the closing
// times and how many reconnected to B.

import process from "node:process";
import { io } from "socket.io-client";

const [urlA, urlB, countText, tag] = process.argv.slice(2);
const count = Number(countText);
const closes = []; // [ms since epoch, reason]
let onB = 0;
const all = [];

function open(url, i) {
  const s = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    timeout: 20000,
    auth: { user_id: `u-${tag}-${i}`, organization_id: "drain-org" },
  });
  all.push(s);
  return s;
}

function onA(i) {
  return new Promise((resolve, reject) => {
    const s = open(urlA, i);
    s.once("connect", resolve);
    s.once("connect_error", reject);
    s.once("disconnect", (reason) => {
      closes.push([Date.now(), reason]);
      const b = open(urlB, i);
      b.once("connect", () => onB++);
    });
  });
}

for (let i = 0; i < count; i += 50) {
  const batch = [];
  for (let k = i; k < Math.min(count, i + 50); k++) batch.push(onA(k));
  await Promise.all(batch);
}
process.send({ type: "ready" });
process.on("message", (m) => {
  if (m.type === "report") process.send({ type: "report", closes, onB });
  if (m.type === "exit") {
    for (const s of all) s.close();
    setTimeout(() => process.exit(0), 100);
  }
});
