// Node anchor for bench/run.sh: socket.io with default options (ws engine, default ping and
// buffer limits, no CORS); with --redis URL, @socket.io/redis-adapter (classic) on that Redis,
// so that several of them are one cluster. Implements the bench contract on namespace "/":
//   join(room, ack)     -> join room, then ack("ok")
//   bcast(room, payload) -> emit msg(payload) to every member of room (sender included)
//   echo(payload, ack)   -> ack(payload)
'use strict';

const http = require('http');
const { Server } = require('socket.io');

function argValue(argv, name) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function parsePort(argv) {
  const i = argv.indexOf('--port');
  const port = i >= 0 ? Number(argv[i + 1]) : 3000;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error('usage: node server.js --port PORT');
    process.exit(2);
  }
  return port;
}

const port = parsePort(process.argv);
const httpServer = http.createServer();
const io = new Server(httpServer);
const redisUrl = argValue(process.argv, '--redis');
let redisClients = [];

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(String(room));
    if (typeof ack === 'function') ack('ok');
  });
  socket.on('bcast', (room, payload) => {
    io.to(String(room)).emit('msg', payload);
  });
  socket.on('echo', (payload, ack) => {
    if (typeof ack === 'function') ack(payload);
  });
});

async function start() {
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    redisClients = [pub, sub];
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  httpServer.listen(port, '127.0.0.1', () => {
    console.log(`node anchor listening on 127.0.0.1:${port} (socket.io ${require('socket.io/package.json').version})` +
      (redisUrl ? ` with the Redis adapter on ${redisUrl}` : ''));
  });
}
start().catch((e) => {
  console.error(e);
  process.exit(1);
});

function shutdown() {
  io.close();
  for (const c of redisClients) c.disconnect().catch(() => {});
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
