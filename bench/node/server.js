// Node anchor for bench/run.sh: socket.io with default options (ws engine, default ping and
// buffer limits, no CORS). Implements the bench contract on namespace "/":
//   join(room, ack)     -> join room, then ack("ok")
//   bcast(room, payload) -> emit msg(payload) to every member of room (sender included)
//   echo(payload, ack)   -> ack(payload)
'use strict';

const http = require('http');
const { Server } = require('socket.io');

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

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`node anchor listening on 127.0.0.1:${port} (socket.io ${require('socket.io/package.json').version})`);
});

function shutdown() {
  io.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
