// HTTP load of the emit-api scenario of bench/run.sh: keep-alive connections, each sending
// `POST PATH` with a JSON body one after the other for a while; samples the server's CPU from
// /proc and prints a RESULT line in the load generator's format.
//   node http_load.js --port P --path /api/emit --token T --connections C --duration S
//                     --users U --server-pid PID [--label NAME]
// The body targets user `<i mod U>` (12 digits, as bench/node/tokens.js names them).
'use strict';

const fs = require('fs');
const http = require('http');

const argv = process.argv.slice(2);
const o = { port: 0, path: '/api/emit', token: '', connections: 8, duration: 5, users: 100, pid: 0, label: 'unknown' };
for (let i = 0; i < argv.length; i += 2) {
  const [k, v] = [argv[i], argv[i + 1]];
  if (k === '--port') o.port = Number(v);
  else if (k === '--path') o.path = v;
  else if (k === '--token') o.token = v;
  else if (k === '--connections') o.connections = Number(v);
  else if (k === '--duration') o.duration = Number(v);
  else if (k === '--users') o.users = Number(v);
  else if (k === '--server-pid') o.pid = Number(v);
  else if (k === '--label') o.label = v;
  else {
    console.error(`http_load.js: unknown option ${k}`);
    process.exit(2);
  }
}

const HZ = 100; // USER_HZ on Linux
function procCpu(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / HZ;
}
function machineBusy() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - f[3] - f[4]) / HZ;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
let sent = 0, ok = 0, bad = 0, stop = false, active = 0;
const lat = [];

function one(i) {
  if (stop) {
    if (--active === 0) finish();
    return;
  }
  const user = String(sent % o.users).padStart(12, '0');
  const body = JSON.stringify({
    event: 'message:new',
    data: { id: `m${sent}`, conversation_id: '00000000-0000-4000-8000-000000000000', text: 'hello from the backend' },
    to: { users: [user] },
  });
  sent++;
  const t0 = process.hrtime.bigint();
  const req = http.request(
    {
      host: '127.0.0.1', port: o.port, path: o.path, method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: `Bearer ${o.token}` },
    },
    (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode >= 200 && res.statusCode < 300) ok++;
        else if (bad++ === 0) console.error(`http_load.js: status ${res.statusCode}`);
        if (lat.length < 1e6) lat.push(Number(process.hrtime.bigint() - t0) / 1000);
        one(i);
      });
    },
  );
  req.on('error', (e) => {
    bad++;
    console.error(`http_load.js: ${e.message}`);
    setTimeout(() => one(i), 10);
  });
  req.end(body);
}

let c0, m0, g0, t0;
function finish() {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const srv = procCpu(o.pid) - c0, gen = selfCpu() - g0;
  const other = Math.max(0, machineBusy() - m0 - srv - gen);
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0);
  console.log(`${o.label} http: ${ok} requests answered 2xx in ${secs.toFixed(2)} s (${(ok / secs).toFixed(0)}/s), ${bad} failed; server ${(srv * 1e6 / ok).toFixed(1)} us CPU per request`);
  console.log(`RESULT scenario=http server=${o.label} connections=${o.connections} requests=${ok} failed=${bad}` +
    ` requests_per_s=${(ok / secs).toFixed(1)} cpu_us_per_request=${(srv * 1e6 / ok).toFixed(2)}` +
    ` lat_p50_us=${q(0.5).toFixed(0)} lat_p99_us=${q(0.99).toFixed(0)} gen_cpu_s=${gen.toFixed(3)} other_cpu_s=${other.toFixed(3)}`);
  agent.destroy();
  process.exit(bad ? 1 : 0);
}

c0 = procCpu(o.pid);
m0 = machineBusy();
g0 = selfCpu();
t0 = process.hrtime.bigint();
setTimeout(() => (stop = true), o.duration * 1000);
for (let i = 0; i < o.connections; i++) {
  active++;
  one(i);
}
