#!/usr/bin/env bash
# Builds the bench tools, installs the Node anchor, runs every scenario against sio and Node
# alternately and writes a markdown table of medians to bench/results/latest.md.
#
# Environment knobs:
#   ROUNDS=3            rounds per scenario and server (at least 2 recommended)
#   ONLY=echo,fanout1k  run only these scenarios (names as in the table)
#   SERVERS="sio node floor"  servers to run ("floor" is bench/floor, WebSocket scenarios only)
#   HOLD_SERVERS=sio    servers the 19,000-client hold runs against
#   QUICK=1             small sizes, one round: a smoke test, not a measurement
#   SIO_SERVER=path     another sio server binary to measure
#   SIO_BASE=path       a second sio server binary (say, an older commit's) run as server "base"
#                       alongside the others: SERVERS="sio base node floor", HOLD_SERVERS="sio base"
#   NICE=-10            run servers and generator at this niceness (on a shared machine)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${BUILD_DIR:-$ROOT/build-bench}
RESULTS=$BENCH/results
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-"sio node floor"}
HOLD_SERVERS=${HOLD_SERVERS:-sio}
QUICK=${QUICK:-0}
NICE=${NICE:-0}
ONLY=${ONLY:-}
PORT=${BASE_PORT:-47100}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- build ------------------------------------------------------------------------------------
LOADGEN=$BUILD/bench/sio-loadgen
SIO_SERVER=${SIO_SERVER:-$BUILD/bench/sio-bench-server}
FLOOR_SERVER=$BUILD/bench/sio-floor-server
SIO_BASE=${SIO_BASE:-}

build() {
  if [[ ! -f $BUILD/build.ninja ]]; then
    meson setup "$BUILD" "$ROOT" --buildtype=release >"$RESULTS/build.log" 2>&1 ||
      return 1
  fi
  ninja -C "$BUILD" bench/sio-loadgen >>"$RESULTS/build.log" 2>&1 || return 1
  local t
  for t in sio-bench-server sio-floor-server; do
    if ninja -C "$BUILD" -t targets all 2>/dev/null | grep -q "^bench/$t:"; then
      ninja -C "$BUILD" "bench/$t" >>"$RESULTS/build.log" 2>&1 ||
        log "$t did not build (see $RESULTS/build.log)"
    fi
  done
}

# The load generator is plain libc; if the project as a whole does not configure right now,
# compile it directly with the project's warning flags rather than give up.
build_loadgen_alone() {
  log "meson build failed (see $RESULTS/build.log); compiling sio-loadgen on its own"
  mkdir -p "$BUILD/bench"
  cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
    -Wmissing-prototypes -Wformat=2 -Wvla -Wundef -Wno-unused-parameter \
    -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -D_GNU_SOURCE \
    -o "$LOADGEN" "$BENCH"/loadgen/*.c -lm
}

mkdir -p "$RESULTS"
log "building in $BUILD"
build || build_loadgen_alone || die "cannot build sio-loadgen"
[[ -x $LOADGEN ]] || die "no $LOADGEN"

# ---- Node anchor ------------------------------------------------------------------------------
command -v node >/dev/null || die "node is required for the Node anchor and the report"
want_sio=$(node -p "require('$BENCH/node/package.json').dependencies['socket.io']")
have_sio=$(node -p "try { require('$BENCH/node/node_modules/socket.io/package.json').version }
                    catch (e) { '' }")
if [[ $have_sio != "$want_sio" ]]; then
  log "installing socket.io $want_sio into bench/node"
  (cd "$BENCH/node" && npm install --no-package-lock --no-audit --no-fund --loglevel=error) ||
    die "npm install failed"
fi

# ---- servers ----------------------------------------------------------------------------------
SERVER_PID=

wait_port() {
  local port=$1 i
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

start_server() { # name port logfile
  case $1 in
    sio) nice -n "$NICE" "$SIO_SERVER" --port "$2" >"$3" 2>&1 & ;;
    base) nice -n "$NICE" "$SIO_BASE" --port "$2" >"$3" 2>&1 & ;;
    node) nice -n "$NICE" node "$BENCH/node/server.js" --port "$2" >"$3" 2>&1 & ;;
    floor) nice -n "$NICE" "$FLOOR_SERVER" --port "$2" >"$3" 2>&1 & ;;
  esac
  SERVER_PID=$!
  wait_port "$2" || { stop_server; return 1; }
}

stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT

available() { # server
  case $1 in
    sio) [[ -x $SIO_SERVER ]] ;;
    base) [[ -n $SIO_BASE && -x $SIO_BASE ]] ;;
    floor) [[ -x $FLOOR_SERVER ]] ;;
    *) true ;;
  esac
}

# The floor server speaks only WebSocket: it has no polling transport and is not held.
applies() { # server scenario
  [[ $1 != floor || ($2 != poll_* && $2 != hold) ]]
}

# ---- scenarios --------------------------------------------------------------------------------
# name | loadgen arguments | warm-up arguments (run first against the same server process, so
# that Node's JIT has compiled the hot paths; "-" for none). Fanout sending is capped at 8 s, so
# the broadcast count only bounds a fast server.
if [[ $QUICK == 1 ]]; then
  ROUNDS=1
  SCENARIOS=(
    "conn|conn --clients 500|-"
    "fanout1k|fanout --clients 100 --messages 200 --duration 3|-"
    "fanout10k|fanout --clients 1000 --messages 50 --duration 3|-"
    "echo|echo --clients 10 --rate 1000 --duration 2|-"
    "echo_slow|echo --clients 10 --rate 100 --duration 2|-"
    "poll_echo|echo --transport polling --clients 20 --rate 200 --duration 2|-"
    "poll_fanout|fanout --transport polling --clients 20 --messages 100 --duration 3|-"
    "hold|hold --clients 1000 --duration 5|-"
  )
else
  SCENARIOS=(
    "conn|conn --clients 5000|conn --clients 1000 --duration 0"
    "fanout1k|fanout --clients 1000 --messages 20000 --duration 8|fanout --clients 100 --duration 1"
    "fanout10k|fanout --clients 10000 --messages 2000 --duration 8|fanout --clients 100 --duration 1"
    "echo|echo --clients 50 --rate 5000 --duration 10|echo --clients 10 --rate 2000 --duration 1"
    "echo_slow|echo --clients 50 --rate 200 --duration 10|echo --clients 10 --rate 2000 --duration 1"
    "poll_echo|echo --transport polling --clients 200 --rate 1000 --duration 10|echo --transport polling --clients 10 --rate 1000 --duration 1"
    "poll_fanout|fanout --transport polling --clients 200 --messages 20000 --duration 8|fanout --transport polling --clients 50 --duration 1"
    "hold|hold --clients 19000 --duration 60|-"
  )
fi

selected() { # name
  [[ -z $ONLY || ",$ONLY," == *",$1,"* ]]
}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RAW=$RESULTS/raw-$STAMP
mkdir -p "$RAW"
TSV=$RAW/results.tsv
: >"$TSV"

run_one() { # scenario-name server round "loadgen arguments" "warm-up arguments"
  local name=$1 srv=$2 round=$3 args warm
  read -ra args <<<"$4"
  read -ra warm <<<"$5"
  local out=$RAW/$name-$srv-$round.txt
  if ! available "$srv"; then
    printf '%s\t%s\t%s\tNOTBUILT\t%s\n' "$name" "$srv" "$round" "$4" >>"$TSV"
    return
  fi
  PORT=$((PORT + 1))
  if ! start_server "$srv" "$PORT" "$RAW/$name-$srv-$round.server.log"; then
    log "$srv did not start on port $PORT"
    printf '%s\t%s\t%s\tFAILED\t%s\n' "$name" "$srv" "$round" "$4" >>"$TSV"
    return
  fi
  log "$name / $srv / round $round"
  if [[ ${warm[0]} != - ]] &&
    ! nice -n "$NICE" "$LOADGEN" "${warm[@]}" --port "$PORT" --label warmup >"$out.warmup" 2>&1; then
    log "warm-up failed, see $out.warmup"
  fi
  [[ ${warm[0]} == - ]] || sleep 1 # let the server drop the warm-up clients
  local line=FAILED
  if nice -n "$NICE" "$LOADGEN" "${args[@]}" --port "$PORT" --server-pid "$SERVER_PID" --label "$srv" \
    >"$out" 2>&1; then
    line=$(grep '^RESULT ' "$out" | tail -n 1 || true)
  else
    log "loadgen failed, see $out"
  fi
  sed 's/^/    /' "$out" | grep -v '^    RESULT ' >&2 || true
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$srv" "$round" "${line:-FAILED}" "$4" >>"$TSV"
  stop_server
  sleep 1 # let the last run's sockets drain before the next server starts
}

T0=$(date +%s)
for spec in "${SCENARIOS[@]}"; do
  IFS='|' read -r name args warmup <<<"$spec"
  selected "$name" || continue
  if [[ $name == hold ]]; then
    for srv in $HOLD_SERVERS; do run_one "$name" "$srv" 1 "$args" "$warmup"; done
    continue
  fi
  for ((r = 1; r <= ROUNDS; r++)); do
    for srv in $SERVERS; do
      if applies "$srv" "$name"; then run_one "$name" "$srv" "$r" "$args" "$warmup"; fi
    done
  done
done
log "runs took $(($(date +%s) - T0)) s"

# ---- report -----------------------------------------------------------------------------------
sio_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1) ]]; then
  sio_rev="$sio_rev (with uncommitted changes)"
fi
mods=$BENCH/node/node_modules
nodever() { node -p "require('$mods/$1/package.json').version"; }
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ram=$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)
BENCH_MACHINE="$(nproc) CPUs ($cpu_model), $ram, Linux $(uname -r)"
BENCH_VERSIONS="node $(node -v), socket.io $(nodever socket.io) (engine.io \
$(nodever engine.io), ws $(nodever ws)), sio $sio_rev"
BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
BENCH_BASE=
if [[ -n $SIO_BASE ]]; then
  base_rev=$(git -C "$(dirname "$SIO_BASE")" rev-parse --short HEAD 2>/dev/null || true)
  BENCH_BASE="$SIO_BASE${base_rev:+, sio $base_rev}"
fi
export BENCH_MACHINE BENCH_VERSIONS BENCH_DATE BENCH_ROUNDS=$ROUNDS BENCH_QUICK=$QUICK BENCH_BASE
node "$BENCH/report.js" "$TSV" >"$RAW/report.md"
cp "$RAW/report.md" "$RESULTS/latest.md"
cat "$RESULTS/latest.md"
log "raw output in $RAW; table in $RESULTS/latest.md"
