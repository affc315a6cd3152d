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
# The cluster and backend scenarios (cluster, auth-connect, gateway, emit-api, relay, metrics)
# run after the others; they need redis-server (cluster, relay) and build sio-server.
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
# ---- cluster and backend scenarios (issues 10, 11, 12) ------------------------------------------
# Each needs more than one process per side (Redis, three nodes, a held set of clients plus a
# backend), so each has its own function; rows go to the same table. Names for ONLY: cluster,
# auth-connect, gateway, emit-api, relay, metrics.
GW_SERVER=${GW_SERVER:-$BUILD/src/app/sio-server}
REDIS_SERVER=$(command -v redis-server || true)
TOKENS=$RAW/tokens
EXTRA_PIDS=()

extra_start() { # logfile command...: starts a process at $NICE, its pid in EXTRA_PID
  local logf=$1
  shift
  nice -n "$NICE" "$@" >"$logf" 2>&1 &
  EXTRA_PID=$!
  EXTRA_PIDS+=("$EXTRA_PID")
}

extra_stop() { # stops every process extra_start started
  local p
  for p in "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${EXTRA_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  EXTRA_PIDS=()
}
trap 'stop_server; extra_stop' EXIT

cpu_ticks() { # pid: user+system clock ticks from /proc/PID/stat
  local f
  read -r -a f < <(sed 's/^.*) //' "/proc/$1/stat")
  echo $((f[11] + f[12]))
}

busy_ticks() { # the machine's busy ticks (all but idle and iowait)
  local f
  read -r -a f </proc/stat
  echo $((f[1] + f[2] + f[3] + f[6] + f[7] + f[8]))
}

record() { # name server round line args
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-FAILED}" "$5" >>"$TSV"
}

wait_line() { # file pattern seconds: waits until the file has a line matching the pattern
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_redis() { # port logfile
  extra_start "$2" "$REDIS_SERVER" --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
    --client-output-buffer-limit 'pubsub 0 0 0'
  REDIS_PID=$EXTRA_PID
  wait_port "$1"
}

gw_tokens() {
  [[ -f $TOKENS/es256.auth ]] && return 0
  log "making RS256 and ES256 keys and tokens"
  node "$BENCH/node/tokens.js" "$TOKENS" "$([[ $QUICK == 1 ]] && echo 400 || echo 2000)"
}

start_gw() { # server port logfile [extra sio-server flags...]: sio-server or gateway.js with keys
  local srv=$1 port=$2 logf=$3
  shift 3
  local keys=(--jwt-public-key "$TOKENS/rsa.pem" --jwt-public-key "$TOKENS/ec.pem")
  local api=(--api-token "$(cat "$TOKENS/api.token")")
  if [[ $srv == floor ]]; then
    extra_start "$logf" "$FLOOR_SERVER" --port "$port"
  elif [[ $srv == sio ]]; then
    # the Node anchor has no rate limits and no per-user cap, so none here either
    extra_start "$logf" "$GW_SERVER" --port "$port" "${keys[@]}" "${api[@]}" --rate-limit 0 \
      --typing-rate-limit 0 --max-connections-per-user 0 --log-level warn "$@"
  else
    local redis=()
    [[ " $* " == *" --redis "* ]] && redis=(--redis "${*: -1}")
    extra_start "$logf" node "$BENCH/node/gateway.js" --port "$port" "${keys[@]}" "${api[@]}" \
      "${redis[@]}"
  fi
  SRV_PID=$EXTRA_PID
  wait_port "$port"
}

lg() { nice -n "$NICE" "$LOADGEN" "$@"; }

result_of() { grep '^RESULT ' "$1" | tail -n 1 || true; }

# cluster: 3 nodes on one Redis; receivers spread over the nodes, the sender on the first; the
# sender paces broadcasts so that every node keeps up, and the figures are per node.
scn_cluster() { # server round kind(paced|load)
  local srv=$1 r=$2 kind=${3:-paced} out=$RAW/cluster-$1-$2-${3:-paced} rp ports=() pids=() i
  local name=cluster
  local args=(fanout --clients "$CL_CLIENTS" --messages 1000000 --bcast-rate "$CL_RATE"
    --duration "$CL_SECS")
  # load: the method of the fanout rows, across the cluster: broadcasts back to back with
  # CL_WINDOW in flight, so the CPU per delivery is measured with the servers busy
  [[ $kind == load ]] && name=cluster_load args=(fanout --clients "$CL_CLIENTS" --messages
    "$CL_LOAD_MSGS" --window 16 --duration 60)
  rp=$((PORT += 1))
  start_redis "$rp" "$out.redis.log" || { record "$name" "$srv" "$r" FAILED "${args[*]}"; return; }
  for i in 0 1 2; do
    ports+=($((PORT += 1)))
    if [[ $srv == sio ]]; then
      extra_start "$out.node$i.log" "$SIO_SERVER" --port "${ports[i]}" --redis "redis://127.0.0.1:$rp"
    else
      extra_start "$out.node$i.log" node "$BENCH/node/server.js" --port "${ports[i]}" \
        --redis "redis://127.0.0.1:$rp"
    fi
    pids+=("$EXTRA_PID")
    wait_port "${ports[i]}" || log "cluster node $i did not start"
  done
  local pl ppl
  pl=$(IFS=,; echo "${ports[*]}")
  ppl=$(IFS=,; echo "${pids[*]}")
  log "cluster $kind / $srv / round $r"
  sleep 0.5 # the nodes subscribe
  lg fanout --clients 90 --bcast-rate 100 --duration 1 --port "$pl" --label warmup \
    >"$out.warmup" 2>&1 || log "warm-up failed, see $out.warmup"
  sleep 1
  local line=FAILED
  if lg "${args[@]}" --port "$pl" --server-pid "$ppl" --aux-pid "$REDIS_PID" --label "$srv" \
    >"$out.txt" 2>&1; then
    line=$(result_of "$out.txt")
  else
    log "loadgen failed, see $out.txt"
  fi
  sed 's/^/    /' "$out.txt" | grep -v '^    RESULT ' >&2 || true
  record "$name" "$srv" "$r" "$line" "${args[*]} (3 nodes)"
  extra_stop
  sleep 1
}

# auth-connect: connects with a token in the CONNECT auth, RS256 or ES256, one token per user
scn_auth() { # server round alg
  local srv=$1 r=$2 alg=$3 port out=$RAW/auth_$3-$1-$2
  local args=(conn --clients "$AUTH_CLIENTS" --duration 0 --auth-file "$TOKENS/$alg.auth")
  port=$((PORT += 1))
  start_gw "$srv" "$port" "$out.server.log" ||
    { record "auth_$alg" "$srv" "$r" FAILED "${args[*]}"; extra_stop; return; }
  log "auth-connect $alg / $srv / round $r"
  lg conn --clients 500 --duration 0 --auth-file "$TOKENS/$alg.auth" --port "$port" \
    --label warmup >"$out.warmup" 2>&1 || log "warm-up failed, see $out.warmup"
  sleep 1
  local line=FAILED
  if lg "${args[@]}" --port "$port" --server-pid "$SRV_PID" --label "$srv" >"$out.txt" 2>&1; then
    line=$(result_of "$out.txt")
  fi
  sed 's/^/    /' "$out.txt" | grep -v '^    RESULT ' >&2 || true
  record "auth_$alg" "$srv" "$r" "$line" "${args[*]}"
  extra_stop
  sleep 1
}

# gateway: clients join their conversation (--group members each), then send either
# join_conversation again or typing_start/typing_stop in turn, at a fixed total rate
# The floor server runs the same traffic shape with the bench contract's events: a join is a
# bcast to a room of one (one read, one send), typing a bcast_others to the conversation of 4
# (one read, three sends): what the kernel alone costs for each row.
scn_gateway() { # server round kind(join|typing)
  local srv=$1 r=$2 kind=$3 port out=$RAW/gw_$3-$1-$2
  local conv='{"conversation_id":"%C"}'
  local ev=(--event "[\"join_conversation\",$conv]")
  [[ $kind == typing ]] && ev=(--event "[\"typing_start\",$conv]" --event "[\"typing_stop\",$conv]")
  local args=(emit --clients "$GW_CLIENTS" --group 4 --rate "$GW_RATE" --duration "$GW_SECS"
    --auth-file "$TOKENS/es256.auth" --setup-event "[\"join_conversation\",$conv]"
    --setup-reply joined_conversation "${ev[@]}")
  if [[ $srv == floor ]]; then
    local typing='{"conversation_id":"%C","user_id":"00000000-0000-4000-8000-000000000000","typing":true}'
    local group=1 fev=(--event "[\"bcast\",\"%C\",$conv]")
    [[ $kind == typing ]] && group=4 fev=(--event "[\"bcast_others\",\"%C\",$typing]")
    args=(emit --clients "$GW_CLIENTS" --group "$group" --rate "$GW_RATE" --duration "$GW_SECS"
      --setup-event '["join","%C"]' --setup-ack "${fev[@]}")
  fi
  port=$((PORT += 1))
  start_gw "$srv" "$port" "$out.server.log" ||
    { record "gw_$kind" "$srv" "$r" FAILED "${args[*]}"; extra_stop; return; }
  log "gateway $kind / $srv / round $r"
  local warm=("${args[@]}")
  warm[2]=40 warm[8]=1 # fewer clients, 1 s
  lg "${warm[@]}" --port "$port" --label warmup >"$out.warmup" 2>&1 ||
    log "warm-up failed, see $out.warmup"
  sleep 1
  local line=FAILED
  if lg "${args[@]}" --port "$port" --server-pid "$SRV_PID" --label "$srv" >"$out.txt" 2>&1; then
    line=$(result_of "$out.txt")
  fi
  sed 's/^/    /' "$out.txt" | grep -v '^    RESULT ' >&2 || true
  record "gw_$kind" "$srv" "$r" "$line" "${args[*]}"
  extra_stop
  sleep 1
}

# emit-api: 100 clients (one user each) held; an HTTP client posts /api/emit to one user each
# over keep-alive connections. The held clients count what arrives.
scn_emit_api() { # server round
  local srv=$1 r=$2 port out=$RAW/emit_api-$1-$2 token
  token=$(cat "$TOKENS/api.token")
  local args=(--connections 8 --duration "$API_SECS" --users 100)
  port=$((PORT += 1))
  start_gw "$srv" "$port" "$out.server.log" ||
    { record emit_api "$srv" "$r" FAILED "${args[*]}"; extra_stop; return; }
  log "emit-api / $srv / round $r"
  # warm-up (Node's JIT): a short load with no receivers
  nice -n "$NICE" node "$BENCH/node/http_load.js" --port "$port" --token "$token" --connections 8 \
    --duration 1 --users 100 --server-pid "$SRV_PID" --label warmup >"$out.warmup" 2>&1 || true
  lg hold --clients 100 --duration $((API_SECS + 4)) --auth-file "$TOKENS/rs256.auth" \
    --port "$port" --server-pid "$SRV_PID" --label "$srv" >"$out.hold" 2>&1 &
  local hold=$!
  local line=FAILED
  if wait_line "$out.hold" '^phase run' 60 &&
    nice -n "$NICE" node "$BENCH/node/http_load.js" --port "$port" --token "$token" "${args[@]}" \
      --server-pid "$SRV_PID" --label "$srv" >"$out.txt" 2>&1; then
    line=$(result_of "$out.txt")
  fi
  wait "$hold" || true
  local events
  events=$(sed -n 's/^RESULT .* events=\([0-9.e+]*\).*/\1/p' "$out.hold")
  local reqs=${line##* requests=}
  reqs=${reqs%% *}
  [[ $line == RESULT* && -n $events && $reqs -gt 0 ]] &&
    line="$line events=$events events_per_request=$(awk "BEGIN {print $events / $reqs}")"
  cat "$out.txt" "$out.hold" | sed 's/^/    /' | grep -v '^    RESULT ' >&2 || true
  record emit_api "$srv" "$r" "$line" "http_load.js ${args[*]} + hold --clients 100"
  extra_stop
  sleep 1
}

# relay: 100 clients held (one user each); redis-benchmark PUBLISHes JSON to status:<user>; the
# server relays each message as message.status to the room user:<user>
scn_relay() { # server round
  local srv=$1 r=$2 port rp out=$RAW/relay-$1-$2
  local pub=(-n "$RELAY_MSGS" -c 2 -P 16 -r 100 PUBLISH 'status:__rand_int__'
    '{"message_id":"m1","status":"DELIVERED","conversation_id":"00000000-0000-4000-8000-000000000000"}')
  rp=$((PORT += 1))
  port=$((PORT += 1))
  start_redis "$rp" "$out.redis.log" || { record relay "$srv" "$r" FAILED "${pub[*]}"; return; }
  start_gw "$srv" "$port" "$out.server.log" --relay 'status:*=message.status@user:{1}' \
    --redis "redis://127.0.0.1:$rp" ||
    { record relay "$srv" "$r" FAILED "${pub[*]}"; extra_stop; return; }
  log "relay / $srv / round $r"
  sleep 0.5 # the subscription
  redis-benchmark -p "$rp" -n 2000 -c 2 -P 16 -r 100 PUBLISH 'status:__rand_int__' '{"a":1}' \
    >"$out.warmup" 2>&1 || true
  lg hold --clients 100 --duration "$RELAY_SECS" --auth-file "$TOKENS/rs256.auth" \
    --port "$port" --server-pid "$SRV_PID" --label "$srv" >"$out.txt" 2>&1 &
  local hold=$! line=FAILED r0 r1
  if wait_line "$out.txt" '^phase run' 60; then
    r0=$(cpu_ticks "$REDIS_PID")
    nice -n "$NICE" redis-benchmark -p "$rp" "${pub[@]}" >"$out.pub" 2>&1 || log "publisher failed"
    r1=$(cpu_ticks "$REDIS_PID")
  fi
  if wait "$hold"; then line=$(result_of "$out.txt"); fi
  [[ $line == RESULT* ]] && line="$line published=$RELAY_MSGS redis_cpu_s=$(awk "BEGIN {print ($r1 - $r0) / 100}")"
  sed 's/^/    /' "$out.txt" | grep -v '^    RESULT ' >&2 || true
  record relay "$srv" "$r" "$line" "redis-benchmark ${pub[*]:0:8} + hold --clients 100"
  extra_stop
  sleep 1
}

# metrics: clients held over several generator processes, then 100 scrapes of /metrics on one
# keep-alive connection; the server's CPU over the scrapes, and over as long a time idle
scn_metrics() { # round
  local r=$1 port out=$RAW/metrics-sio-$1
  port=$((PORT += 1))
  extra_start "$out.server.log" "$GW_SERVER" --port "$port" --log-level warn
  SRV_PID=$EXTRA_PID
  wait_port "$port" || { record metrics sio "$r" FAILED ""; extra_stop; return; }
  log "metrics / sio / round $r ($MET_CLIENTS clients)"
  lg hold --clients "$MET_CLIENTS" --procs 2 --duration 600 --port "$port" \
    --server-pid "$SRV_PID" --label sio >"$out.hold" 2>&1 &
  local hold=$! line=FAILED urls=() i
  for ((i = 0; i < 100; i++)); do urls+=("http://127.0.0.1:$port/metrics"); done
  if wait_line "$out.hold" '^phase run' 120; then
    sleep 2
    local c0 c1 c2 t0 t1 b0 b1 ready
    ready=$(sed -n 's/^phase run: \([0-9]*\).*/\1/p' "$out.hold")
    c0=$(cpu_ticks "$SRV_PID") b0=$(busy_ticks) t0=$(date +%s%N)
    curl -s "${urls[@]}" >"$out.scrape" || log "curl failed"
    c1=$(cpu_ticks "$SRV_PID") b1=$(busy_ticks) t1=$(date +%s%N)
    # the same time idle, for the pings of the held clients (ticks are 10 ms: repeat x10)
    local idle_ns=$(((t1 - t0) * 10))
    sleep "$(awk "BEGIN {print $idle_ns / 1e9}")"
    c2=$(cpu_ticks "$SRV_PID")
    local bytes
    bytes=$(grep -c '' "$out.scrape" || true)
    line="RESULT scenario=metrics server=sio clients=$ready scrapes=100"
    line+=" cpu_ms_per_scrape=$(awk "BEGIN {print ($c1 - $c0) * 10 / 100}")"
    line+=" idle_cpu_ms_per_scrape_time=$(awk "BEGIN {print ($c2 - $c1) * 10 / 100 / 10}")"
    line+=" scrape_ms=$(awk "BEGIN {print ($t1 - $t0) / 1e6 / 100}")"
    line+=" lines_per_scrape=$(awk "BEGIN {print $bytes / 100}")"
    line+=" other_cpu_s=$(awk "BEGIN {x = ($b1 - $b0 - ($c1 - $c0)) / 100; print (x > 0 ? x : 0)}")"
    echo "$line" >"$out.txt"
  fi
  kill "$hold" 2>/dev/null || true
  wait "$hold" 2>/dev/null || true
  record metrics sio "$r" "$line" "hold --clients $MET_CLIENTS --procs 2; curl 100 x /metrics"
  extra_stop
  sleep 2
}

if [[ $QUICK == 1 ]]; then
  CL_CLIENTS=90 CL_RATE=50 CL_SECS=2 CL_LOAD_MSGS=50 AUTH_CLIENTS=300 GW_CLIENTS=40 GW_RATE=200 GW_SECS=2
  API_SECS=2 RELAY_MSGS=2000 RELAY_SECS=4 MET_CLIENTS=1000
else
  CL_CLIENTS=1500 CL_RATE=50 CL_SECS=8 CL_LOAD_MSGS=1000 AUTH_CLIENTS=3000 GW_CLIENTS=400 GW_RATE=1000 GW_SECS=8
  API_SECS=8 RELAY_MSGS=100000 RELAY_SECS=15 MET_CLIENTS=19900
fi
# Ports above the ephemeral range (32768-60999 by default): the 19,900 clients of `metrics`
# and the many short connections of the other rows leave ports of the range in use.
PORT=${EXTRA_BASE_PORT:-61100}
EXTRA_SERVERS=$(for s in $SERVERS; do [[ $s == floor ]] || printf '%s ' "$s"; done)
want_extra=0
for n in cluster auth-connect gateway emit-api relay metrics; do selected "$n" && want_extra=1; done
if [[ $want_extra == 1 ]]; then
  if ! node -e "require('$BENCH/node/node_modules/@socket.io/redis-adapter');
                require('$BENCH/node/node_modules/jsonwebtoken');
                require('$BENCH/node/node_modules/redis')" 2>/dev/null; then
    log "installing the Node anchor's adapter, Redis client and jsonwebtoken"
    (cd "$BENCH/node" && npm install --no-package-lock --no-audit --no-fund --loglevel=error) ||
      die "npm install failed"
  fi
  if [[ ! -x $GW_SERVER ]] && [[ -f $BUILD/build.ninja ]]; then
    ninja -C "$BUILD" src/app/sio-server >>"$RESULTS/build.log" 2>&1 || log "sio-server did not build"
  fi
  gw_tokens
  for ((r = 1; r <= ROUNDS; r++)); do
    for srv in $EXTRA_SERVERS; do
      if selected cluster; then
        if [[ -z $REDIS_SERVER ]]; then log "no redis-server: cluster skipped"
        elif ! available "$srv"; then record cluster "$srv" "$r" NOTBUILT ""
        else scn_cluster "$srv" "$r" paced; scn_cluster "$srv" "$r" load; fi
      fi
      if selected auth-connect; then scn_auth "$srv" "$r" rs256; scn_auth "$srv" "$r" es256; fi
      if selected gateway; then scn_gateway "$srv" "$r" join; scn_gateway "$srv" "$r" typing; fi
      if selected emit-api; then scn_emit_api "$srv" "$r"; fi
      if selected relay && [[ -n $REDIS_SERVER ]]; then scn_relay "$srv" "$r"; fi
    done
    if selected gateway && [[ " $SERVERS " == *" floor "* ]] && available floor; then
      scn_gateway floor "$r" join
      scn_gateway floor "$r" typing
    fi
    if selected metrics && [[ " $EXTRA_SERVERS " == *" sio "* ]]; then scn_metrics "$r"; fi
  done
fi
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
