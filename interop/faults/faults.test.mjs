// Faults an attacker or an operator can cause, each with the behaviour a production server must
// keep: the accept path at the open-files limit, a peer that stops reading while the server
// closes it, dynamic-namespace churn, chunked polling bodies, shutdown with clients attached,
// and WebSocket frames over maxPayload (announced, or inflated by permessage-deflate).
//
// Every server here is a sio-reference-server started for the test, with the flags it needs.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import crypto from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import WebSocket from "ws";
import { io } from "socket.io-client";

import { startServer, TARGET } from "../lib/server.mjs";
import { sleep, withTimeout, nextEvent } from "../lib/util.mjs";

const C_ONLY = TARGET !== "c"; // these tests use flags and the /stats route of the C servers

/** The server's counters (GET /stats on a connection of its own, closed after). Its own
 *  connection is open while the answer is written: `connections` counts it. */
function stats(server) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: server.port, path: "/stats", agent: false,
      headers: { connection: "close" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`stats: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.setTimeout(3000, () => req.destroy(new Error("stats: timeout")));
  });
}

/** CPU seconds (user + system) the process has used so far, from /proc. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

function openFds(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Sends raw bytes, collects what comes back until the peer closes or `ms` passes. */
function rawExchange(port, data, ms = 3000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    };
    const timer = setTimeout(done, ms);
    sock.on("connect", () => sock.write(data));
    sock.on("data", (d) => chunks.push(d));
    sock.on("error", () => {});
    sock.on("close", () => {
      closed = true;
      done();
    });
  });
}

async function pollingHandshake(server) {
  const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
  const body = await res.text();
  return JSON.parse(body.slice(1)).sid;
}

function chunkedPost(port, sid, body) {
  return rawExchange(
    port,
    `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Content-Type: text/plain;charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
  );
}

function statusOf(text) {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** A masked client frame (RFC 6455 5.2). */
function wsFrame(opcode, payload, { fin = true, announce } = {}) {
  const len = announce ?? payload.length;
  let head;
  if (len < 126) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

/** Opens a raw WebSocket (Engine.IO v4) and resolves once the 101 answer arrived. */
function rawWebSocket(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const key = crypto.randomBytes(16).toString("base64");
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.off("data", onData);
      const head = buf.subarray(0, end).toString("latin1");
      if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`upgrade refused: ${head}`));
      resolve({ sock, rest: buf.subarray(end + 4) });
    };
    sock.on("data", onData);
    sock.on("error", reject);
    sock.write(
      `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

/** Server frames in buf (unmasked): [{opcode, payload}], plus the bytes left over. */
function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    let len = buf[off + 1] & 0x7f;
    let hl = 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      hl = 4;
    } else if (len === 127) {
      if (buf.length - off < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      hl = 10;
    }
    if (buf.length - off < hl + len) break;
    frames.push({ opcode: buf[off] & 0x0f, payload: buf.subarray(off + hl, off + hl + len) });
    off += hl + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** Collects server frames of a raw WebSocket; waitFor(pred) resolves with the frames so far. */
function frameReader(sock, initial) {
  let buf = initial ?? Buffer.alloc(0);
  const all = [];
  let closed = false;
  const waiters = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pred(all, closed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(all);
      }
    }
  };
  const feed = (d) => {
    buf = Buffer.concat([buf, d]);
    const r = parseFrames(buf);
    all.push(...r.frames);
    buf = r.rest;
    check();
  };
  sock.on("data", feed);
  sock.on("close", () => {
    closed = true;
    check();
  });
  if (buf.length) feed(Buffer.alloc(0));
  return {
    frames: all,
    isClosed: () => closed,
    waitFor(pred, ms, what) {
      if (pred(all, closed)) return Promise.resolve(all);
      return withTimeout(new Promise((resolve) => waiters.push({ pred, resolve })), ms, what);
    },
  };
}

const closeCode = (f) => (f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005);

describe("faults", { skip: C_ONLY && "C servers only (flags and /stats)" }, () => {
  it("at the open-files limit the accept path backs off, logs once and recovers", { timeout: 60000 }, async () => {
    const limit = 64;
    const server = await startServer("sio", {
      wrap: ["prlimit", `--nofile=${limit}`, "--"],
      args: ["--accept-backoff", "100"],
    });
    const sockets = [];
    try {
      const before = cpuSeconds(server.pid);
      // More connections than descriptors: the rest wait in the backlog.
      for (let i = 0; i < limit + 16; i++) {
        const s = net.connect(server.port, "127.0.0.1");
        s.on("error", () => {});
        sockets.push(s);
      }
      await sleep(3000);
      const used = cpuSeconds(server.pid) - before;
      // A spinning accept loop burns ~3 s of CPU here; backing off costs a few ms.
      assert.ok(used < 0.6, `server used ${used.toFixed(2)} s of CPU in 3 s at the descriptor limit`);
      const acceptLines = server.stderr().split("\n").filter((l) => /accept/.test(l));
      assert.ok(acceptLines.length >= 1 && acceptLines.length <= 2,
        `expected one log line for the episode, got ${acceptLines.length}: ${acceptLines.slice(0, 3).join(" | ")}`);
      // Descriptors free up: service resumes by itself.
      for (const s of sockets) s.destroy();
      sockets.length = 0;
      const client = io(server.url, { transports: ["websocket"], reconnection: false, forceNew: true });
      try {
        await nextEvent(client, "connect", 5000);
      } finally {
        client.close();
      }
      const st = await stats(server);
      assert.ok(st.accept_pauses >= 1, `accept_pauses ${st.accept_pauses}`);
      assert.ok(st.accept_failures >= 1, `accept_failures ${st.accept_failures}`);
      assert.ok(/resumed after/.test(server.stderr()), "the end of the episode is logged");
    } finally {
      for (const s of sockets) s.destroy();
      await server.stop();
    }
  });

  it("a closing WebSocket whose peer stopped reading is dropped at the close deadline", { timeout: 60000 }, async () => {
    const server = await startServer("sio", {
      pingInterval: 20000,
      pingTimeout: 20000,
      args: ["--close-deadline", "1000", "--max-buffered-bytes", "1000000"],
    });
    try {
      const { sock } = await rawWebSocket(server.port);
      sock.write(wsFrame(1, Buffer.from("40")));
      await sleep(200);
      const fdsIdle = openFds(server.pid);
      sock.pause(); // the client stops reading: kernel buffers fill, then the server's queue
      const big = "x".repeat(400000);
      const frame = wsFrame(1, Buffer.from(`42["message","${big}"]`));
      for (let i = 0; i < 120; i++) {
        if (!sock.write(frame)) await new Promise((r) => sock.once("drain", r));
        const st = await stats(server);
        if (st.sessions === 0) break; // closed as a slow consumer
      }
      let st = await stats(server);
      assert.equal(st.sessions, 0, "the slow consumer was closed");
      // Its connection must not linger: within the deadline (plus slack) it is gone.
      const t0 = Date.now();
      while (Date.now() - t0 < 5000) {
        st = await stats(server);
        if (st.close_deadline_drops >= 1 && st.connections === 1) break;
        await sleep(100);
      }
      assert.equal(st.close_deadline_drops, 1, JSON.stringify(st));
      assert.equal(st.closes_slow_consumer, 1, JSON.stringify(st));
      assert.ok(st.packets_in >= 2 && st.bytes_in > 400000, JSON.stringify(st));
      assert.equal(st.connections, 1, JSON.stringify(st)); // the /stats request itself
      // The stats requests' own keep-alive connections come and go: give them a moment.
      for (let i = 0; i < 20 && openFds(server.pid) >= fdsIdle; i++) await sleep(50);
      assert.ok(openFds(server.pid) < fdsIdle, `descriptor released (${openFds(server.pid)} open, ${fdsIdle} with the client)`);
      sock.destroy();
    } finally {
      await server.stop();
    }
  });

  it("empty dynamic namespaces are removed: churn never locks new ones out", { timeout: 60000 }, async () => {
    const server = await startServer("sio", { args: ["--max-dynamic-namespaces", "20"] });
    try {
      for (let round = 0; round < 3; round++) {
        const manager = io(server.url, { transports: ["websocket"], reconnection: false, forceNew: true }).io;
        const sockets = [];
        for (let i = 0; i < 15; i++) sockets.push(manager.socket(`/dyn-${round * 100 + i}`));
        for (const s of sockets) s.connect();
        const results = await Promise.all(
          sockets.map((s) => Promise.race([nextEvent(s, "connect", 5000).then(() => "ok"), nextEvent(s, "connect_error", 5000).then(([e]) => e.message)])),
        );
        assert.deepEqual(results, Array(15).fill("ok"), `round ${round}`);
        for (const s of sockets) s.disconnect();
        manager.engine.close();
        await sleep(300);
      }
      const st = await stats(server);
      assert.equal(st.namespaces_created, 45);
      assert.equal(st.namespaces_removed, 45);
      assert.equal(st.dynamic_namespaces, 0);
      assert.equal(st.namespaces_refused, 0);
      assert.equal(st.sockets_connected, 48); // and "/" of each round's io()
    } finally {
      await server.stop();
    }
  });

  it("the cap bounds dynamic namespaces alive at once; room frees up when one empties", { timeout: 30000 }, async () => {
    const server = await startServer("sio", { args: ["--max-dynamic-namespaces", "3"] });
    try {
      const manager = io(server.url, { transports: ["websocket"], reconnection: false, forceNew: true }).io;
      const ok = [1, 2, 3].map((i) => manager.socket(`/dyn-${i}`));
      for (const s of ok) s.connect();
      await Promise.all(ok.map((s) => nextEvent(s, "connect", 5000)));
      const refused = manager.socket("/dyn-4");
      refused.connect();
      const [err] = await nextEvent(refused, "connect_error", 5000);
      assert.equal(err.message, "Invalid namespace");
      ok[0].disconnect();
      await sleep(200);
      const again = manager.socket("/dyn-5");
      again.connect();
      await nextEvent(again, "connect", 5000);
      const st = await stats(server);
      assert.ok(st.namespaces_refused >= 1, JSON.stringify(st));
      manager.engine.close();
    } finally {
      await server.stop();
    }
  });

  it("a connection over the per-connection namespace limit still gets its earlier CONNECT replies", { timeout: 30000 }, async () => {
    const server = await startServer("sio", { pingInterval: 20000, pingTimeout: 20000 });
    try {
      const { sock, rest } = await rawWebSocket(server.port);
      const reader = frameReader(sock, rest);
      const frames = [];
      for (let i = 0; i < 65; i++) frames.push(wsFrame(1, Buffer.from(`40/dyn-${i},`)));
      sock.write(Buffer.concat(frames)); // in one burst: the replies are still queued at the 65th
      await reader.waitFor((_, closed) => closed, 5000, "the server to close the connection");
      const replies = reader.frames.filter((f) => f.opcode === 1 && /^40\/dyn-\d+,\{"sid"/.test(f.payload.toString()));
      assert.equal(replies.length, 64, `CONNECT replies received: ${replies.length}`);
    } finally {
      await server.stop();
    }
  });

  it("chunked polling POST bodies are read; over maxPayload is 413, a bad chunk size 400", { timeout: 30000 }, async () => {
    const server = await startServer("sio", { maxPayload: 1000, pingInterval: 20000, pingTimeout: 20000 });
    try {
      let sid = await pollingHandshake(server);
      let r = await chunkedPost(server.port, sid, "2\r\n40\r\n0\r\n\r\n");
      assert.equal(statusOf(r.text), 200, r.text.slice(0, 200));
      assert.ok(r.text.endsWith("ok"), r.text.slice(-100));
      // split into several chunks, with an extension and a trailer
      r = await chunkedPost(server.port, sid, '6;x=1\r\n42["me\r\n10\r\nssage","chunked"\r\n1\r\n]\r\n0\r\nX-T: 1\r\n\r\n');
      assert.equal(statusOf(r.text), 200, r.text.slice(0, 200));
      const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      const payload = await res.text();
      assert.match(payload, /^40\{"sid":/, payload);
      assert.match(payload, /\x1e42\["message-back","chunked"\]$/, payload);

      sid = await pollingHandshake(server);
      const big = "4" + "a".repeat(1500);
      r = await chunkedPost(server.port, sid, `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`);
      assert.equal(statusOf(r.text), 413, r.text.slice(0, 200));

      sid = await pollingHandshake(server);
      r = await chunkedPost(server.port, sid, "zz\r\n40\r\n0\r\n\r\n");
      assert.equal(statusOf(r.text), 400, r.text.slice(0, 200));
      // the server is fine
      const st = await stats(server);
      assert.equal(st.chunked_bodies, 4);
    } finally {
      await server.stop();
    }
  });

  for (const transport of ["polling", "websocket"]) {
    it(`SIGTERM: a ${transport} client sees "transport close", the server exits 0`, { timeout: 30000 }, async () => {
      const server = await startServer("sio", { pingInterval: 20000, pingTimeout: 20000 });
      const client = io(server.url, { transports: [transport], reconnection: false, forceNew: true });
      try {
        await nextEvent(client, "connect", 5000);
        await sleep(300); // a long-poll GET is held now
        const gone = nextEvent(client, "disconnect", 5000);
        server.signal("SIGTERM");
        const [reason] = await gone;
        assert.equal(reason, "transport close");
        const { code } = await withTimeout(server.exited(), 5000, "server exit");
        assert.equal(code, 0);
      } finally {
        client.close();
        await server.stop();
      }
    });
  }

  it("a frame header announcing more than maxPayload is refused at once with 1009", { timeout: 30000 }, async () => {
    const server = await startServer("sio", { maxPayload: 10000, pingInterval: 20000, pingTimeout: 20000 });
    try {
      const { sock, rest } = await rawWebSocket(server.port);
      const reader = frameReader(sock, rest);
      const t0 = Date.now();
      sock.write(wsFrame(1, Buffer.alloc(0), { announce: 10 * 1024 * 1024 }).subarray(0, 14)); // header + mask only
      await reader.waitFor((f) => f.some((x) => x.opcode === 8), 3000, "a close frame");
      assert.ok(Date.now() - t0 < 2000, `refused after ${Date.now() - t0} ms`);
      const close = reader.frames.find((x) => x.opcode === 8);
      assert.equal(closeCode(close), 1009);
      sock.destroy();
    } finally {
      await server.stop();
    }
  });

  it("a permessage-deflate message inflating past maxPayload is closed with 1009", { timeout: 30000 }, async () => {
    const server = await startServer("sio", { maxPayload: 10000, args: ["--per-message-deflate"] });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: true });
      await nextEvent(ws, "open", 5000);
      assert.ok(ws.extensions.includes("permessage-deflate"), `extensions: ${ws.extensions}`);
      ws.send("40");
      const closed = nextEvent(ws, "close", 5000);
      ws.send("4" + "0".repeat(200000)); // compresses to a few hundred bytes
      const [code] = await closed;
      assert.equal(code, 1009);
    } finally {
      await server.stop();
    }
  });
});
