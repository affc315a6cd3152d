// Node implementations of the two reference servers, built on the official `engine.io` and
// `socket.io` packages. They follow the same command line, readiness line and behaviour as
// eio-reference-server / sio-reference-server (see interop/README.md), so every interop test can be
// checked against the Node implementation with INTEROP_TARGET=node.
//
//   node lib/node-reference-servers.mjs eio --port 0 [--ping-interval MS] [--ping-timeout MS]
//                                                  [--max-payload BYTES]
//   node lib/node-reference-servers.mjs sio --port 0 [same options] [--connect-timeout MS]
//                                          [--cluster-api] [--async-auth-ms MS] [--stalled-middleware]
//                                          [--node-name NAME]
//
// Prints "listening on port <N>" once ready; exits 0 on SIGTERM/SIGINT.

import http from "node:http";
import process from "node:process";
import { Server as EngineServer } from "engine.io";
import { Server as SocketServer } from "socket.io";

function parseArgs(argv) {
  const opts = {
    kind: null,
    port: 0,
    pingInterval: 300,
    pingTimeout: 200,
    maxPayload: 1000000,
    connectTimeout: 1000,
    asyncAuthMs: -1,
    clusterApi: false,
    stalledMiddleware: false,
    nodeName: null,
  };
  const numeric = {
    "--port": "port",
    "--ping-interval": "pingInterval",
    "--ping-timeout": "pingTimeout",
    "--max-payload": "maxPayload",
    "--connect-timeout": "connectTimeout",
    "--async-auth-ms": "asyncAuthMs",
  };
  const switches = { "--cluster-api": "clusterApi", "--stalled-middleware": "stalledMiddleware" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "eio" || arg === "sio") {
      opts.kind = arg;
    } else if (arg === "--node-name" && i + 1 < argv.length) {
      opts.nodeName = argv[++i];
    } else if (arg in switches) {
      opts[switches[arg]] = true;
    } else if (arg in numeric) {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 0) throw new Error(`bad value for ${arg}`);
      opts[numeric[arg]] = value;
    } else {
      throw new Error(`unknown argument: ${arg}`);
    }
  }
  if (!opts.kind) throw new Error("first argument must be 'eio' or 'sio'");
  return opts;
}

const CORS = { origin: "*" };

function startEngineServer(httpServer, opts) {
  const engine = new EngineServer({
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    maxHttpBufferSize: opts.maxPayload,
    cors: CORS,
  });
  engine.attach(httpServer, { path: "/engine.io/" });
  engine.on("connection", (socket) => {
    // Echo every message back as it came: strings as text, Buffers as binary.
    socket.on("message", (data) => socket.send(data));
  });
  return () => engine.close();
}

function emitAuthOnConnection(nsp) {
  nsp.on("connection", (socket) => {
    socket.emit("auth", socket.handshake.auth);
    socket.on("message-with-ack", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
  });
}

function startSocketServer(httpServer, opts) {
  const io = new SocketServer(httpServer, {
    path: "/socket.io/",
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    maxHttpBufferSize: opts.maxPayload,
    connectTimeout: opts.connectTimeout,
    cors: CORS,
    serveClient: false,
  });

  io.on("connection", (socket) => {
    socket.emit("auth", socket.handshake.auth);

    socket.on("message", (...args) => {
      socket.emit("message-back", ...args);
    });

    socket.on("message-with-ack", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });

    // ---- test extras (contract: interop/README.md) ----
    socket.on("handshake", (ack) => {
      const { address, headers, query, secure, url } = socket.handshake;
      if (typeof ack === "function") ack({ address, headers, query, secure, url });
    });

    socket.on("whoami", (ack) => {
      if (typeof ack === "function") ack(opts.nodeName ?? String(httpServer.address().port));
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

    socket.on("volatile", (count, ack) => {
      for (let i = 0; i < count; i++) socket.volatile.emit("volatile-msg", i);
      socket.emit("volatile-done", count);
      if (typeof ack === "function") ack();
    });

    socket.on("server-ack", (timeoutMs, ...args) => {
      socket.timeout(timeoutMs).emit("ask", ...args, (err, ...answer) => {
        if (err) socket.emit("ask-result", { ok: false, error: "timeout" });
        else socket.emit("ask-result", { ok: true, args: answer });
      });
    });

    socket.on("disconnect-me", (close) => {
      socket.disconnect(close === true);
    });

    socket.on("drop-transport", () => {
      const transport = socket.conn.transport;
      if (transport.name === "websocket" && transport.socket && transport.socket._socket) {
        // Drop the TCP connection without a WebSocket close handshake.
        transport.socket._socket.destroy();
      } else {
        // Polling: end the Engine.IO session without any Socket.IO DISCONNECT packet.
        socket.conn.close();
      }
    });

    if (opts.clusterApi) {
      socket.on("fetch", async (room, ack) => {
        if (typeof room === "function") [room, ack] = [undefined, room];
        const sockets = await (typeof room === "string" ? io.in(room) : io).fetchSockets();
        ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data })));
      });
      socket.on("set-data", (value, ack) => {
        socket.data = value;
        if (typeof ack === "function") ack();
      });
      socket.on("all-rooms", async (ack) => {
        // allRooms() is a cluster adapter's (redis-adapter); the in-memory one only has the map
        const adapter = io.of("/").adapter;
        ack([...(typeof adapter.allRooms === "function" ? await adapter.allRooms() : adapter.rooms.keys())]);
      });
      socket.on("server-count", async (ack) => ack(await io.of("/").adapter.serverCount()));
    }
  });

  emitAuthOnConnection(io.of("/custom"));
  emitAuthOnConnection(io.of(/^\/dyn-\d+$/));

  const priv = io.of("/private");
  priv.use((socket, next) => {
    const auth = socket.handshake.auth || {};
    if (auth.token === "secret") return next();
    const err = new Error("unauthorized");
    err.data = { code: 401 };
    next(err);
  });
  emitAuthOnConnection(priv);

  const tokenCheck = (socket, next) => {
    if ((socket.handshake.auth || {}).token === "ok") return next();
    const err = new Error("unauthorized");
    err.data = { code: 401 };
    next(err);
  };
  if (opts.asyncAuthMs >= 0) {
    const async = io.of("/async-auth");
    async.use((socket, next) => setTimeout(() => tokenCheck(socket, next), opts.asyncAuthMs));
    emitAuthOnConnection(async);
    const sync = io.of("/sync-auth");
    sync.use(tokenCheck);
    emitAuthOnConnection(sync);
  }
  if (opts.stalledMiddleware) {
    const stalled = io.of("/stalled");
    stalled.use(() => {}); // never calls next
    emitAuthOnConnection(stalled);
  }

  return () => io.close();
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  const httpServer = http.createServer();
  const stop = opts.kind === "eio" ? startEngineServer(httpServer, opts) : startSocketServer(httpServer, opts);

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    stop();
    httpServer.closeAllConnections?.();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);

  httpServer.listen(opts.port, "127.0.0.1", () => {
    process.stdout.write(`listening on port ${httpServer.address().port}\n`);
  });
}

main();
