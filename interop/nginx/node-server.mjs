// A Node socket.io 4.8 node with @socket.io/redis-adapter 8.3 (classic: PUBLISH/PSUBSCRIBE), the
// third member of the cluster of nginx.test.mjs. It implements the subset of the
// sio-reference-server test extras that test uses (interop/README.md), with the same command line
// shape and readiness line:
//
//   node nginx/node-server.mjs --port 0 --redis redis://127.0.0.1:6379 [--node-name NAME]
//                              [--ping-interval MS] [--ping-timeout MS]
//
// Events on "/": auth (on connection), message-with-ack, join, leave, to-room, handshake, whoami.
// GET /health answers 200 {"status":"ok"} like sio's. Prints "listening on port <N>" once the
// adapter's Redis clients are connected; exits 0 on SIGTERM/SIGINT.

import http from "node:http";
import process from "node:process";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

function parseArgs(argv) {
  const opts = { port: 0, redis: null, nodeName: null, pingInterval: 300, pingTimeout: 200 };
  const numeric = { "--port": "port", "--ping-interval": "pingInterval", "--ping-timeout": "pingTimeout" };
  const strings = { "--redis": "redis", "--node-name": "nodeName" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in numeric) {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 0) throw new Error(`bad value for ${arg}`);
      opts[numeric[arg]] = value;
    } else if (arg in strings && i + 1 < argv.length) {
      opts[strings[arg]] = argv[++i];
    } else {
      throw new Error(`unknown argument: ${arg}`);
    }
  }
  if (!opts.redis) throw new Error("--redis URL is required");
  return opts;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }

  const pub = createClient({ url: opts.redis });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (err) => process.stderr.write(`redis: ${err.message}\n`));
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = http.createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/health" || req.url === "/healthz")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status":"ok"}');
    } else if (!req.url.startsWith("/socket.io/")) {
      res.writeHead(404);
      res.end();
    }
  });
  const io = new Server(httpServer, {
    path: "/socket.io/",
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    cors: { origin: "*" },
    serveClient: false,
    adapter: createAdapter(pub, sub),
  });

  io.on("connection", (socket) => {
    socket.emit("auth", socket.handshake.auth);
    socket.on("message-with-ack", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
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
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      io.of("/").to(rooms).except(except).emit(event, ...args);
      if (ack) ack();
    });
    socket.on("handshake", (ack) => {
      const { address, headers, query, secure, url } = socket.handshake;
      if (typeof ack === "function") ack({ address, headers, query, secure, url });
    });
    socket.on("whoami", (ack) => {
      if (typeof ack === "function") ack(opts.nodeName ?? String(httpServer.address().port));
    });
  });

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    io.close(); // closes the adapters and the HTTP server
    httpServer.closeAllConnections?.();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);

  httpServer.listen(opts.port, "127.0.0.1", () => {
    process.stdout.write(`listening on port ${httpServer.address().port}\n`);
  });
}

main().catch((err) => {
  process.stderr.write(`node-server: ${err?.stack ?? err}\n`);
  process.exit(1);
});
