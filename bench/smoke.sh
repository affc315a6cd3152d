#!/usr/bin/env bash
# Functional check of the benchmark tools (meson test suite 'bench'): the load generator against
# sio-bench-server and sio-floor-server at small sizes. It judges correctness only: every client
# connects, every broadcast reaches every receiver in order, every echo is answered, polling
# works, and each server exits 0 on SIGTERM (under the sanitizers: with no report). Speed is
# judged by bench/run.sh, never here.
#
# usage: smoke.sh LOADGEN SIO_BENCH_SERVER FLOOR_SERVER
set -uo pipefail
LOADGEN=$1 SIO=$2 FLOOR=$3
PORT=0
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { printf '%s\n' "$*"; }
bad() { say "FAIL: $*"; fails=$((fails + 1)); }

# field NAME LINE: the value of NAME=... in a RESULT line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# A port the kernel has just handed out and released: fixed ranges collide with other work on
# the machine (client sockets' ephemeral ports, other test runs).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# run NAME LOADGEN-ARGS...: prints the RESULT line, or nothing when the generator failed
run() {
  local name=$1 out
  shift
  out=$("$LOADGEN" "$@" --port "$PORT" --server-pid "$SERVER_PID" --label "$name" --timeout 60 \
    2>"$tmp/err")
  local rc=$?
  grep '^RESULT ' <<<"$out" | tail -n 1
  if [ $rc != 0 ]; then
    say "$out" >&2
    cat "$tmp/err" >&2
  fi
  return $rc
}

check_conn() { # label line clients
  [ -n "$2" ] || { bad "$1: the generator failed"; return; }
  [ "$(field connected "$2")" = "$3" ] || bad "$1: connected $(field connected "$2") of $3"
  [ "$(field failed "$2")" = 0 ] || bad "$1: $(field failed "$2") failed connects"
  [ "$(field dropped "$2")" = 0 ] || bad "$1: $(field dropped "$2") dropped"
}

check_fanout() { # label line receivers
  [ -n "$2" ] || { bad "$1: the generator failed"; return; }
  local b d
  b=$(field broadcasts "$2") d=$(field delivered "$2")
  [ "${b:-0}" -gt 0 ] || bad "$1: no broadcast completed"
  [ "$d" = $((b * $3)) ] || bad "$1: $d deliveries for $b broadcasts to $3 receivers"
  [ "$(field lost "$2")" = 0 ] || bad "$1: $(field lost "$2") lost"
  [ "$(field ooo "$2")" = 0 ] || bad "$1: $(field ooo "$2") out of order"
  [ "$(field dropped "$2")" = 0 ] || bad "$1: $(field dropped "$2") dropped"
}

check_echo() { # label line
  [ -n "$2" ] || { bad "$1: the generator failed"; return; }
  local s a
  s=$(field sent "$2") a=$(field acked "$2")
  [ "${s:-0}" -gt 0 ] || bad "$1: nothing sent"
  [ "$a" = "$s" ] || bad "$1: $a of $s acked"
  [ "$(field dropped "$2")" = 0 ] || bad "$1: $(field dropped "$2") dropped"
}

smoke() { # name binary polling(0/1)
  local name=$1 bin=$2 polling=$3 line
  PORT=$(free_port)
  "$bin" --port "$PORT" >"$tmp/$name.log" 2>&1 &
  SERVER_PID=$!
  if ! wait_port "$PORT"; then
    bad "$name did not start"
    cat "$tmp/$name.log"
    kill "$SERVER_PID" 2>/dev/null
    return
  fi
  line=$(run "$name" conn --clients 300 --duration 1)
  say "$name conn: $line"
  check_conn "$name conn" "$line" 300
  line=$(run "$name" fanout --clients 50 --messages 100 --duration 10)
  say "$name fanout: $line"
  check_fanout "$name fanout" "$line" 50
  line=$(run "$name" echo --clients 10 --rate 500 --duration 2)
  say "$name echo: $line"
  check_echo "$name echo" "$line"
  if [ "$polling" = 1 ]; then
    line=$(run "$name" fanout --transport polling --clients 20 --messages 100 --duration 10)
    say "$name polling fanout: $line"
    check_fanout "$name polling fanout" "$line" 20
    line=$(run "$name" echo --transport polling --clients 10 --rate 200 --duration 2)
    say "$name polling echo: $line"
    check_echo "$name polling echo" "$line"
  fi
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  local rc=$?
  [ $rc = 0 ] || { bad "$name exited with status $rc on SIGTERM"; tail -n 40 "$tmp/$name.log"; }
}

# The cluster form (bench/run.sh ONLY=cluster): two sio-bench-server nodes on one Redis, the
# receivers spread over both, the sender on the first; skipped without redis-server.
smoke_cluster() {
  command -v redis-server >/dev/null || { say "no redis-server: cluster check skipped"; return; }
  local rp p1 p2 line pids=()
  rp=$(free_port) p1=$(free_port) p2=$(free_port)
  redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
  local redis=$!
  wait_port "$rp" || { bad "redis-server did not start"; kill "$redis"; return; }
  for p in "$p1" "$p2"; do
    "$SIO" --port "$p" --redis "redis://127.0.0.1:$rp" >"$tmp/node-$p.log" 2>&1 &
    pids+=($!)
    wait_port "$p" || bad "cluster node on $p did not start"
  done
  sleep 0.5
  line=$("$LOADGEN" fanout --clients 40 --messages 100 --bcast-rate 200 --duration 10 \
    --port "$p1,$p2" --server-pid "${pids[0]},${pids[1]}" --aux-pid "$redis" --label cluster \
    --timeout 60 2>"$tmp/err" | grep '^RESULT ' | tail -n 1)
  say "cluster fanout: $line"
  check_fanout "cluster fanout" "$line" 40
  [ -n "$(field node1_cpu_s_per_million "$line")" ] || bad "cluster fanout: no per-node figure"
  kill -TERM "${pids[@]}"
  for p in "${pids[@]}"; do
    wait "$p" || bad "cluster node exited with status $? on SIGTERM"
  done
  kill "$redis"
  wait "$redis" 2>/dev/null
}

smoke sio "$SIO" 1
smoke floor "$FLOOR" 0
smoke_cluster
if [ $fails != 0 ]; then
  say "$fails check(s) failed"
  exit 1
fi
say "all checks passed"
