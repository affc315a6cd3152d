// Node anchor of the gateway scenarios of bench/run.sh: what `sio-server` with a JWT key does,
// written the way the Node services it replaces are (socket.io 4.8, default options):
//   - a `jsonwebtoken` middleware verifying the CONNECT auth `token` (RS256 and ES256, with the
//     PEM public keys given), socket.data = {user_id, organization_id, role};
//   - on connect: join `user:<id>` and `org:<id>`, emit `connected`;
//   - `join_conversation {conversation_id}`: a UUID, else `error` BAD_REQUEST; join
//     `conversation:<id>` and emit `joined_conversation`;
//   - `typing_start` / `typing_stop {conversation_id}`: `user_typing {conversation_id, user_id,
//     typing}` to the conversation room except the sender, from members only;
//   - `POST /api/emit {event, data, to:{rooms, users, conversations, organizations}}` with
//     `Authorization: Bearer <--api-token>`;
//   - with --redis URL: PSUBSCRIBE status:* and emit each JSON message as `message.status` to
//     the room `user:<what * matched>` (sio-server: --relay 'status:*=message.status@user:{1}').
// No rate limits, typing timers or presence: sio-server does those too, so the comparison
// flatters Node.
'use strict';

const fs = require('fs');
const http = require('http');
const jwt = require('jsonwebtoken');
const { Server } = require('socket.io');

const argv = process.argv.slice(2);
const opt = { port: 3000, keys: [], apiToken: null, redis: null };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--port') opt.port = Number(argv[++i]);
  else if (a === '--jwt-public-key') opt.keys.push(fs.readFileSync(argv[++i], 'utf8'));
  else if (a === '--api-token') opt.apiToken = argv[++i];
  else if (a === '--redis') opt.redis = argv[++i];
  else {
    console.error('usage: node gateway.js --port P --jwt-public-key PEM... [--api-token T] [--redis URL]');
    process.exit(2);
  }
}

// the key for a token: by algorithm family, as a multi-key Node service would pick it
const keyFor = {};
for (const pem of opt.keys) {
  const k = require('crypto').createPublicKey(pem);
  if (k.asymmetricKeyType === 'rsa') keyFor.RS256 = pem;
  else if (k.asymmetricKeyType === 'ec') keyFor.ES256 = pem;
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function readBody(req, cb) {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > 1 << 20) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => cb(Buffer.concat(chunks).toString('utf8')));
}

function reply(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const httpServer = http.createServer((req, res) => {
  if (req.url !== '/api/emit' || req.method !== 'POST') return reply(res, 404, { ok: false });
  if (!opt.apiToken || req.headers.authorization !== `Bearer ${opt.apiToken}`)
    return reply(res, 401, { ok: false, error: { code: 'UNAUTHORIZED' } });
  readBody(req, (text) => {
    let m;
    try {
      m = JSON.parse(text);
    } catch (e) {
      return reply(res, 400, { ok: false, error: { code: 'BAD_REQUEST' } });
    }
    if (typeof m.event !== 'string' || !m.to) return reply(res, 400, { ok: false, error: { code: 'BAD_REQUEST' } });
    const rooms = [
      ...(m.to.rooms || []),
      ...(m.to.users || []).map((u) => `user:${u}`),
      ...(m.to.conversations || []).map((c) => `conversation:${c}`),
      ...(m.to.organizations || []).map((o) => `org:${o}`),
    ];
    if (!rooms.length) return reply(res, 400, { ok: false, error: { code: 'BAD_REQUEST' } });
    io.to(rooms).emit(m.event, m.data);
    reply(res, 200, { ok: true });
  });
});
const io = new Server(httpServer);

io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (!token) return next(Object.assign(new Error('token missing'), { data: { code: 'TOKEN_MISSING' } }));
  jwt.verify(token, (header, cb) => cb(null, keyFor[header.alg]), { algorithms: ['RS256', 'ES256'] }, (err, claims) => {
    if (err) return next(Object.assign(new Error('invalid token'), { data: { code: 'TOKEN_INVALID' } }));
    socket.data = {
      user_id: String(claims.sub),
      organization_id: String(claims.organization_id),
      role: claims.role,
    };
    next();
  });
});

io.on('connection', (socket) => {
  const { user_id, organization_id, role } = socket.data;
  socket.join([`user:${user_id}`, `org:${organization_id}`]);
  socket.emit('connected', { message: 'Connected', user_id, organization_id, role });

  socket.on('join_conversation', (data) => {
    const id = data && data.conversation_id;
    if (typeof id !== 'string' || !UUID.test(id))
      return socket.emit('error', { code: 'BAD_REQUEST', message: 'conversation_id must be a UUID' });
    socket.join(`conversation:${id}`);
    socket.emit('joined_conversation', { conversation_id: id, message: 'Joined conversation' });
  });
  socket.on('leave_conversation', (data) => {
    const id = data && data.conversation_id;
    if (typeof id !== 'string') return;
    socket.leave(`conversation:${id}`);
    socket.emit('left_conversation', { conversation_id: id });
  });
  const typing = (on) => (data) => {
    const id = data && data.conversation_id;
    const room = `conversation:${id}`;
    if (typeof id !== 'string' || !socket.rooms.has(room)) return;
    socket.to(room).emit('user_typing', { conversation_id: id, user_id, typing: on });
  };
  socket.on('typing_start', typing(true));
  socket.on('typing_stop', typing(false));
});

let sub = null;
async function start() {
  if (opt.redis) {
    const { createClient } = require('redis');
    sub = createClient({ url: opt.redis });
    await sub.connect();
    await sub.pSubscribe('status:*', (message, channel) => {
      let data;
      try {
        data = JSON.parse(message);
      } catch (e) {
        return;
      }
      io.to(`user:${channel.slice(7)}`).emit('message.status', data);
    });
  }
  httpServer.listen(opt.port, '127.0.0.1', () => console.log(`node gateway listening on 127.0.0.1:${opt.port}`));
}
start().catch((e) => {
  console.error(e);
  process.exit(1);
});

function shutdown() {
  io.close();
  if (sub) sub.disconnect().catch(() => {});
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
