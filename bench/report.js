// Turns the results.tsv written by bench/run.sh (scenario, server, round, RESULT line) into a
// markdown table of medians with the ratio sio/Node for every figure.
'use strict';

const fs = require('fs');

// The figures of both cluster rows (paced and under load).
const CLUSTER_FIGURES = [
  ['max_node_cpu_s_per_million', 'server CPU s per million deliveries, busiest node', 'lower'],
  ['node0_cpu_s_per_million', '... node 0 (the sender\'s)', 'lower'],
  ['node1_cpu_s_per_million', '... node 1', 'lower'],
  ['node2_cpu_s_per_million', '... node 2', 'lower'],
  ['user_cpu_s_per_million', 'server CPU s per million deliveries in user space, all nodes', 'lower'],
  ['sys_cpu_s_per_million', '... in the kernel (sends, wake-ups), all nodes', 'lower'],
  ['lat_p50_us', 'delivery time p50 (us)', 'lower'],
  ['lat_p99_us', 'delivery time p99 (us)', 'lower'],
  ['aux_cpu_us_per_bcast', 'Redis CPU us per broadcast', 'lower'],
  ['deliveries_per_s', 'deliveries/s', 'higher'],
  ['lost', 'lost deliveries', 'lower'],
];

const SCENARIOS = {
  conn: {
    title: 'Connect 5,000 WebSocket clients',
    figures: [
      ['connects_per_s', 'connects/s', 'higher'],
      ['cpu_s_per_1000_conn', 'server CPU s per 1000 connects', 'lower'],
      ['rss_kib_per_conn', 'server RSS KiB per idle client', 'lower'],
      ['failed', 'failed connects', 'lower'],
    ],
  },
  fanout1k: {
    title: 'Broadcast to 1,000 WebSocket receivers (100 B)',
    figures: [
      ['deliveries_per_s', 'deliveries/s', 'higher'],
      ['cpu_s_per_million', 'server CPU s per million deliveries', 'lower'],
      ['lost', 'lost deliveries', 'lower'],
      ['ooo', 'out-of-order deliveries', 'lower'],
    ],
  },
  fanout10k: {
    title: 'Broadcast to 10,000 WebSocket receivers (100 B)',
    figures: [
      ['deliveries_per_s', 'deliveries/s', 'higher'],
      ['cpu_s_per_million', 'server CPU s per million deliveries', 'lower'],
      ['lost', 'lost deliveries', 'lower'],
      ['ooo', 'out-of-order deliveries', 'lower'],
    ],
  },
  echo: {
    title: 'Acked echo, 50 WebSocket clients, 5,000 msg/s',
    figures: [
      ['rtt_p50_us', 'RTT p50 (us)', 'lower'],
      ['rtt_p99_us', 'RTT p99 (us)', 'lower'],
      ['rtt_p999_us', 'RTT p99.9 (us)', 'lower'],
      ['rtt_max_us', 'RTT max (us)', 'lower'],
      ['cpu_s_per_1000', 'server CPU s per 1000 messages', 'lower'],
      ['lost', 'unanswered', 'lower'],
    ],
  },
  echo_slow: {
    title: 'Acked echo, 50 WebSocket clients, 200 msg/s',
    figures: [
      ['rtt_p50_us', 'RTT p50 (us)', 'lower'],
      ['rtt_p99_us', 'RTT p99 (us)', 'lower'],
      ['cpu_s_per_1000', 'server CPU s per 1000 messages', 'lower'],
      ['lost', 'unanswered', 'lower'],
    ],
  },
  poll_echo: {
    title: 'Acked echo, 200 polling clients, 1,000 msg/s',
    figures: [
      ['rtt_p50_us', 'RTT p50 (us)', 'lower'],
      ['rtt_p99_us', 'RTT p99 (us)', 'lower'],
      ['rtt_max_us', 'RTT max (us)', 'lower'],
      ['cpu_s_per_1000', 'server CPU s per 1000 messages', 'lower'],
      ['lost', 'unanswered', 'lower'],
    ],
  },
  poll_fanout: {
    title: 'Broadcast to 200 polling receivers (100 B)',
    figures: [
      ['deliveries_per_s', 'deliveries/s', 'higher'],
      ['cpu_s_per_million', 'server CPU s per million deliveries', 'lower'],
      ['lost', 'lost deliveries', 'lower'],
      ['ooo', 'out-of-order deliveries', 'lower'],
      ['deliveries_per_poll', 'deliveries per polling response', 'info'],
    ],
  },
  hold: {
    title: 'Hold 19,000 WebSocket clients for 60 s',
    figures: [
      ['connected', 'connected', 'higher'],
      ['dropped', 'dropped during the hold', 'lower'],
      ['rss_kib_per_conn', 'server RSS KiB per idle client', 'lower'],
      ['connects_per_s', 'connects/s', 'higher'],
    ],
  },
  // cluster and backend scenarios (bench/run.sh, the functions after the main loop)
  cluster: {
    title: 'Cluster: 3 nodes on one Redis, 1,500 receivers spread over them, 50 broadcasts/s',
    figures: CLUSTER_FIGURES,
  },
  cluster_load: {
    title: 'Cluster under load: 3 nodes on one Redis, 1,500 receivers, 1,000 broadcasts, 16 in flight',
    figures: CLUSTER_FIGURES,
  },
  auth_rs256: {
    title: 'Connect 3,000 clients with an RS256 token',
    figures: [
      ['cpu_s_per_1000_conn', 'server CPU s per 1000 connects', 'lower'],
      ['connects_per_s', 'connects/s', 'higher'],
      ['failed', 'failed connects', 'lower'],
    ],
  },
  auth_es256: {
    title: 'Connect 3,000 clients with an ES256 token',
    figures: [
      ['cpu_s_per_1000_conn', 'server CPU s per 1000 connects', 'lower'],
      ['connects_per_s', 'connects/s', 'higher'],
      ['failed', 'failed connects', 'lower'],
    ],
  },
  gw_join: {
    title: 'Gateway join_conversation, 400 clients, 1,000/s',
    figures: [
      ['cpu_s_per_1000', 'server CPU s per 1000 events', 'lower'],
      ['user_cpu_s_per_1000', '... in user space', 'lower'],
      ['sys_cpu_s_per_1000', '... in the kernel (reads, sends, wake-ups)', 'lower'],
      ['received_per_sent', 'replies per event', 'info'],
    ],
  },
  gw_typing: {
    title: 'Gateway typing_start/stop, 400 clients in conversations of 4, 1,000/s',
    figures: [
      ['cpu_s_per_1000', 'server CPU s per 1000 events', 'lower'],
      ['user_cpu_s_per_1000', '... in user space', 'lower'],
      ['sys_cpu_s_per_1000', '... in the kernel (reads, sends, wake-ups)', 'lower'],
      ['received_per_sent', 'user_typing deliveries per event', 'info'],
    ],
  },
  emit_api: {
    title: 'POST /api/emit to one user, 8 keep-alive connections',
    figures: [
      ['requests_per_s', 'requests/s', 'higher'],
      ['cpu_us_per_request', 'server CPU us per request', 'lower'],
      ['lat_p99_us', 'request time p99 (us)', 'lower'],
      ['events_per_request', 'events delivered per request', 'info'],
    ],
  },
  relay: {
    title: 'Relay: PUBLISH status:<user> to message.status, 100 clients',
    figures: [
      ['events_per_s', 'messages delivered/s', 'higher'],
      ['cpu_s_per_1000_events', 'server CPU s per 1000 messages', 'lower'],
      ['events', 'messages delivered', 'info'],
      ['published', 'messages published', 'info'],
      ['redis_cpu_s', 'Redis CPU s', 'info'],
    ],
  },
  metrics: {
    title: 'GET /metrics with 19,900 clients connected, 100 scrapes',
    figures: [
      ['cpu_ms_per_scrape', 'server CPU ms per scrape', 'lower'],
      ['idle_cpu_ms_per_scrape_time', 'server CPU ms idle over as long', 'info'],
      ['scrape_ms', 'scrape time ms', 'lower'],
      ['clients', 'clients connected', 'info'],
    ],
  },
};
// Shown for every scenario: a large "other CPU" means something else disturbed the run.
const COMMON = [
  ['gen_cpu_s', 'load generator CPU s', 'info'],
  ['other_cpu_s', 'CPU s of other processes', 'info'],
];

function parseResult(line) {
  const out = {};
  for (const tok of line.trim().split(/\s+/).slice(1)) {
    const i = tok.indexOf('=');
    if (i > 0) out[tok.slice(0, i)] = tok.slice(i + 1);
  }
  return out;
}

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(v) {
  if (v === undefined) return '';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

function main() {
  const rows = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
  // runs[scenario][server] = { ok: [parsed], failed: n, notBuilt: bool }
  const runs = {};
  const args = {};
  for (const row of rows) {
    const [scn, srv, , result, cmd] = row.split('\t');
    // the floor runs some rows with arguments of its own (the gateway rows): listed apart
    if (cmd) args[srv === 'floor' && args[scn] && args[scn] !== cmd ? `${scn} (floor)` : scn] = cmd;
    const r = ((runs[scn] ??= {})[srv] ??= { ok: [], failed: 0, notBuilt: false });
    if (result === 'NOTBUILT') r.notBuilt = true;
    else if (result.startsWith('RESULT ')) r.ok.push(parseResult(result));
    else r.failed++;
  }

  const cell = (r, key) => {
    if (!r) return { text: 'not run' };
    if (r.notBuilt) return { text: 'n/a (not built)' };
    const vals = r.ok.map((x) => Number(x[key])).filter((x) => Number.isFinite(x));
    let text = vals.length ? fmt(median(vals)) : r.ok.length ? 'n/a' : 'failed';
    if (r.failed) text += ` (${r.failed} failed run${r.failed > 1 ? 's' : ''})`;
    return { text, value: vals.length ? median(vals) : undefined };
  };

  const out = [];
  out.push('# sio vs Node socket.io benchmark', '');
  if (process.env.BENCH_QUICK === '1')
    out.push('**QUICK=1 smoke test: small sizes, titles do not match; not a measurement.**', '');
  out.push(`- Date: ${process.env.BENCH_DATE || ''}`);
  out.push(`- Machine: ${process.env.BENCH_MACHINE || ''}`);
  out.push(`- Versions: ${process.env.BENCH_VERSIONS || ''}`);
  out.push(
    `- Each cell is the median of ${process.env.BENCH_ROUNDS || '?'} runs (the hold: one run);` +
      ' servers alternate run by run and are restarted for every run.',
  );
  out.push('- Ratio is sio/Node: above 1 is better for "higher" figures, below 1 for "lower".');
  const floor = Object.values(runs).some((r) => r.floor);
  const base = Object.values(runs).some((r) => r.base);
  if (base)
    out.push(`- sio base: a second sio build run alongside (${process.env.BENCH_BASE || 'SIO_BASE'}).`);
  if (floor)
    out.push(
      '- Floor: bench/floor, a bare epoll server that does only what the WebSocket scenarios need' +
        ' (no polling, no pings, no checks): what the kernel and the loop cost here.',
    );
  out.push('');
  out.push(
    '| Scenario | Figure | Better | sio | Node | sio/Node |' +
      (floor ? ' floor |' : '') +
      (base ? ' sio base |' : ''),
  );
  out.push('|---|---|---|---:|---:|---:|' + (floor ? '---:|' : '') + (base ? '---:|' : ''));
  for (const [scn, def] of Object.entries(SCENARIOS)) {
    if (!runs[scn]) continue;
    for (const [key, label, better] of [...def.figures, ...COMMON]) {
      const a = cell(runs[scn].sio, key);
      const b = cell(runs[scn].node, key);
      let ratio = '';
      if (a.value !== undefined && b.value !== undefined && b.value !== 0)
        ratio = (a.value / b.value).toFixed(2);
      const better_txt = better === 'info' ? '' : better;
      let row = `| ${def.title} | ${label} | ${better_txt} | ${a.text} | ${b.text} | ${ratio} |`;
      if (floor) row += ` ${runs[scn].floor ? cell(runs[scn].floor, key).text : ''} |`;
      if (base) row += ` ${runs[scn].base ? cell(runs[scn].base, key).text : ''} |`;
      out.push(row);
    }
  }
  out.push('', 'Load generator arguments (plus `--port --server-pid --label`):', '');
  for (const [scn, cmd] of Object.entries(args)) out.push(`- ${scn}: \`sio-loadgen ${cmd}\``);
  out.push('');
  process.stdout.write(out.join('\n'));
}

main();
