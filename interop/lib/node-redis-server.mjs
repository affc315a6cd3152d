#!/usr/bin/env node
// A Node socket.io 4.8 server on @socket.io/redis-adapter 8.3 (npm `redis` 4.7 clients) that
// answers the same test events as `sio-reference-server --cluster-api` (interop/README.md), so a
// test can put it in one cluster with sio nodes:
//
//   node lib/node-redis-server.mjs --port 0 --redis URL[,URL...] [--redis-mode classic|sharded]
//        [--redis-cluster] [--redis-subscription-mode static|dynamic|dynamic-private]
//        [--redis-requests-timeout MS]
//
// Prints "listening on port N" when ready; on SIGTERM closes everything and exits 0.

import { createServer } from "node:http";
import process from "node:process";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient, createCluster } from "redis";

const opts = { port: 0, redis: null, mode: "classic", cluster: false, subscriptionMode: "dynamic", requestsTimeout: 5000 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--port") opts.port = Number(argv[++i]);
  else if (a === "--redis") opts.redis = argv[++i];
  else if (a === "--redis-mode") opts.mode = argv[++i];
  else if (a === "--redis-cluster") opts.cluster = true;
  else if (a === "--redis-subscription-mode") opts.subscriptionMode = argv[++i];
  else if (a === "--redis-requests-timeout") opts.requestsTimeout = Number(argv[++i]);
  else {
    console.error(`unknown argument ${a}`);
    process.exit(2);
  }
}
if (!opts.redis) {
  console.error("--redis is required");
  process.exit(2);
}

const urls = opts.redis.split(",");
const pub = opts.cluster ? createCluster({ rootNodes: urls.map((url) => ({ url })) }) : createClient({ url: urls[0] });
const sub = pub.duplicate();
// Redis going away is part of some tests: the clients reconnect by themselves
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([pub.connect(), sub.connect()]);

const adapter =
  opts.mode === "sharded"
    ? createShardedAdapter(pub, sub, { subscriptionMode: opts.subscriptionMode })
    : createAdapter(pub, sub, { requestsTimeout: opts.requestsTimeout });

const httpServer = createServer();
const io = new Server(httpServer, {
  // the heartbeat of the sio nodes in lib/redis.mjs (HEARTBEAT)
  pingInterval: 5000,
  pingTimeout: 20000,
  cors: { origin: "*" },
  adapter,
});

const callback = (args) => (typeof args[args.length - 1] === "function" ? args.pop() : null);
const acked = (ack) => (err, responses) => ack({ timeout: !!err, responses: responses ?? [] });

// server-side events from other servers: forwarded to this node's clients; acks answered
for (const event of ["ping", "note"]) {
  io.on(event, (...args) => {
    const cb = callback(args);
    io.local.emit("server-event", event, ...args);
    if (cb) cb("pong-node");
  });
}

io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth ?? {});
  socket.on("message-with-ack", (...args) => {
    const ack = callback(args);
    if (ack) ack(...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("leave", (room, ack) => {
    socket.leave(room);
    if (typeof ack === "function") ack();
  });
  socket.on("to-room", (rooms, except, event, ...args) => {
    const ack = callback(args);
    io.to(rooms).except(except).emit(event, ...args);
    if (ack) ack();
  });
  socket.on("fetch", async (room, ack) => {
    if (typeof room === "function") [room, ack] = [undefined, room];
    try {
      const sockets = await (typeof room === "string" ? io.in(room) : io).fetchSockets();
      ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data ?? {} })));
    } catch (err) {
      ack({ error: err.message });
    }
  });
  socket.on("set-data", (value, ack) => {
    socket.data = value;
    if (typeof ack === "function") ack();
  });
  socket.on("all-rooms", async (ack) => {
    try {
      ack([...(await io.of("/").adapter.allRooms())]);
    } catch (err) {
      ack({ error: err.message });
    }
  });
  socket.on("server-count", async (ack) => ack(await io.of("/").adapter.serverCount()));
  socket.on("sockets-join", (rooms, except, room, ack) => {
    io.in(rooms).except(except).socketsJoin(room);
    if (typeof ack === "function") ack();
  });
  socket.on("sockets-leave", (rooms, except, room, ack) => {
    io.in(rooms).except(except).socketsLeave(room);
    if (typeof ack === "function") ack();
  });
  socket.on("disconnect-sockets", (rooms, except, close, ack) => {
    if (typeof ack === "function") ack();
    io.in(rooms).except(except).disconnectSockets(close);
  });
  socket.on("to-room-ack", (rooms, except, timeoutMs, event, ...args) => {
    const ack = callback(args);
    io.to(rooms).except(except).timeout(timeoutMs).emit(event, ...args, acked(ack));
  });
  socket.on("sse", (event, ...args) => {
    const ack = callback(args);
    io.serverSideEmit(event, ...args, acked(ack));
  });
});

httpServer.listen(opts.port, "127.0.0.1", () => {
  process.stdout.write(`listening on port ${httpServer.address().port}\n`);
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  const hard = setTimeout(() => process.exit(0), 2000);
  hard.unref();
  io.close();
  await Promise.allSettled([pub.disconnect(), sub.disconnect()]);
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
