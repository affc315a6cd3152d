#!/usr/bin/env bash
# Runs the admin chat demo on this machine, without containers:
#   redis-server, the Next.js app (production build), three sio-server nodes sharing Redis, and
#   NGINX in front of them on one origin (deploy/nginx.conf). Prints the URL; Ctrl-C (or SIGTERM)
#   stops everything.
#
#   bash deploy/run.sh
#
# Builds what is missing first: sio-server (meson/ninja in build/), the app's npm packages
# (npm ci) and its production build (next build, redone only when the app's sources change).
# Settings, from the environment:
#   LISTEN (127.0.0.1), PORT (8080)          where NGINX listens: the URL to open
#   APP_PORT (3000), SIO_PORTS ("3001 3002 3003"), REDIS_PORT (6390)
#   RUN_DIR (a new temporary directory)      logs, configuration, pids, the app's data
#   DATA_DIR ($RUN_DIR/data)                 the app's keys and JSON store; reuse one to keep them
#   SIO_BIN (build/src/app/sio-server), NGINX (/usr/sbin/nginx), REDIS_SERVER (/usr/bin/redis-server)
#   SIO_EXTRA_ARGS                           more sio-server flags for every node
#   DEPLOY_WATCH_PID                         stop when this process is gone (tests)
# When ready it prints the URL and the line "READY <RUN_DIR>/stack.json" (ports and pids).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
app_dir="$top/examples/admin-chat"

LISTEN=${LISTEN:-127.0.0.1}
PORT=${PORT:-8080}
APP_PORT=${APP_PORT:-3000}
read -r -a SIO_PORTS <<< "${SIO_PORTS:-3001 3002 3003}"
REDIS_PORT=${REDIS_PORT:-6390}
SIO_BIN=${SIO_BIN:-$top/build/src/app/sio-server}
NGINX=${NGINX:-/usr/sbin/nginx}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
RUN_DIR=${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/sio-admin-chat.XXXXXX")}
DATA_DIR=${DATA_DIR:-$RUN_DIR/data}
export NEXT_TELEMETRY_DISABLED=1

[ "${#SIO_PORTS[@]}" = 3 ] || { echo "run.sh: SIO_PORTS must name three ports" >&2; exit 2; }
mkdir -p "$RUN_DIR" "$DATA_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
log() { echo "[run.sh] $*" >&2; }

# ---- stopping: every child is the leader of its own process group ---------------------------
pids=()
stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap - INT TERM
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM -- "-${pids[i]}" 2>/dev/null || true; done
  for _ in $(seq 1 60); do # up to 15 s (sio closes its sessions within --shutdown-timeout)
    local alive=0
    for p in "${pids[@]+"${pids[@]}"}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.25
  done
  for p in "${pids[@]+"${pids[@]}"}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  [ -n "${watch_pid:-}" ] && kill "$watch_pid" 2>/dev/null || true
  log "stopped"
}
trap 'stop_all' EXIT
trap 'log "stopping"; exit 0' INT TERM

# start NAME CMD...: in its own session (so a whole group can be signalled), output to a log
start() {
  local name=$1; shift
  setsid "$@" > "$RUN_DIR/$name.log" 2>&1 < /dev/null &
  pids+=("$!")
  echo "$!" > "$RUN_DIR/$name.pid"
}

wait_http() { # URL NAME PID: until URL answers 2xx, for at most 60 s
  local url=$1 name=$2 pid=$3
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited; the end of $RUN_DIR/$name.log:"; tail -20 "$RUN_DIR/$name.log" >&2; exit 1
    fi
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  log "$name did not answer $url within 60 s"; tail -20 "$RUN_DIR/$name.log" >&2; exit 1
}

if [ -n "${DEPLOY_WATCH_PID:-}" ]; then
  ( while kill -0 "$DEPLOY_WATCH_PID" 2>/dev/null; do sleep 1; done; kill -TERM $$ 2>/dev/null ) &
  watch_pid=$!
fi

# ---- what is missing is built -----------------------------------------------------------------
for t in "$NGINX" "$REDIS_SERVER" curl node; do
  command -v "$t" >/dev/null || { echo "run.sh: $t not found (bash scripts/deps.sh installs it)" >&2; exit 1; }
done
if [ ! -x "$SIO_BIN" ]; then
  log "building sio-server"
  [ -f "$top/build/build.ninja" ] || meson setup "$top/build" >/dev/null
  ninja -C "$top/build" src/app/sio-server >/dev/null
fi
if [ ! -d "$app_dir/node_modules/next" ]; then
  log "npm ci in examples/admin-chat"
  (cd "$app_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The production build, keyed by the app's sources.
src_hash=$(cd "$app_dir" && find app components lib package.json package-lock.json next.config.mjs tsconfig.json \
  -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$app_dir/.next/source-hash" 2>/dev/null)" != "$src_hash" ]; then
  log "next build (the app's sources changed)"
  t0=$(date +%s)
  (cd "$app_dir" && node node_modules/next/dist/bin/next build) > "$RUN_DIR/next-build.log" 2>&1 ||
    { tail -40 "$RUN_DIR/next-build.log" >&2; exit 1; }
  echo "$src_hash" > "$app_dir/.next/source-hash"
  log "next build took $(( $(date +%s) - t0 )) s"
fi

# Secrets shared by the app and the nodes, new for every run. Given to sio-server through
# SIO_API_TOKEN / SIO_AUTHORIZE_TOKEN (the environment forms of --api-token and
# --authorize-token), which ps does not show.
api_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
authorize_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

# ---- Redis ------------------------------------------------------------------------------------
start redis "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$RUN_DIR" --logfile ""
for _ in $(seq 1 100); do
  redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
  kill -0 "${pids[-1]}" 2>/dev/null || { tail -5 "$RUN_DIR/redis.log" >&2; exit 1; }
  sleep 0.1
done

# ---- the app (first: sio reads its JWKS at start-up) ------------------------------------------
sio_urls=$(printf 'http://127.0.0.1:%s,' "${SIO_PORTS[@]}")
start app env -C "$app_dir" DATA_DIR="$DATA_DIR" SIO_API_URLS="${sio_urls%,}" SIO_API_TOKEN="$api_token" \
  SIO_AUTHORIZE_TOKEN="$authorize_token" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" NODE_ENV=production \
  node node_modules/next/dist/bin/next start -H 127.0.0.1 -p "$APP_PORT"
wait_http "http://127.0.0.1:$APP_PORT/api/health" app "${pids[1]}"

# ---- three sio-server nodes -------------------------------------------------------------------
relay=(--relay 'status:*=message.status@conversation:{1}')
sio_help=$("$SIO_BIN" --help 2>&1 || true)
if ! grep -q -- '--relay ' <<< "$sio_help"; then
  log "warning: this sio-server has no --relay: message.status (delivery ticks) will not reach the browsers"
  relay=()
fi
read -r -a extra <<< "${SIO_EXTRA_ARGS:-}"
for i in 0 1 2; do
  port=${SIO_PORTS[i]}
  SIO_API_TOKEN="$api_token" SIO_AUTHORIZE_TOKEN="$authorize_token" \
    start "sio-$((i + 1))" "$SIO_BIN" --host 127.0.0.1 --port "$port" --node-id "sio-$((i + 1))" \
    --redis "redis://127.0.0.1:$REDIS_PORT" \
    --jwks-url "http://127.0.0.1:$APP_PORT/api/jwks" --jwt-algorithms RS256 \
    --authorize-url "http://127.0.0.1:$APP_PORT/api/authorize" \
    "${relay[@]+"${relay[@]}"}" "${extra[@]+"${extra[@]}"}"
done
for i in 0 1 2; do wait_http "http://127.0.0.1:${SIO_PORTS[i]}/health" "sio-$((i + 1))" "${pids[2 + i]}"; done

# ---- NGINX: deploy/nginx.conf with the ports replaced, inside a generated main configuration --
sed -e "s/listen 127\.0\.0\.1:8080;/listen $LISTEN:$PORT;/" \
    -e "s/server 127\.0\.0\.1:3001 /server 127.0.0.1:${SIO_PORTS[0]} /" \
    -e "s/server 127\.0\.0\.1:3002 /server 127.0.0.1:${SIO_PORTS[1]} /" \
    -e "s/server 127\.0\.0\.1:3003 /server 127.0.0.1:${SIO_PORTS[2]} /" \
    -e "s/server 127\.0\.0\.1:3000;/server 127.0.0.1:$APP_PORT;/" \
    "$top/deploy/nginx.conf" > "$RUN_DIR/admin-chat.conf"
mkdir -p "$RUN_DIR/temp"
temps=""
for m in client_body proxy fastcgi uwsgi scgi; do
  if [ "$m" = client_body ] || [ "$m" = proxy ] || ! "$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
    temps+="    ${m}_temp_path temp/$m;"$'\n'
  fi
done
cat > "$RUN_DIR/nginx.conf" <<EOF
# generated by deploy/run.sh; paths are relative to the -p prefix ($RUN_DIR)
master_process off;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 4096; }
http {
$temps    include admin-chat.conf;
}
EOF
start nginx "$NGINX" -p "$RUN_DIR/" -c nginx.conf -e "$RUN_DIR/error.log" -g "daemon off;"
wait_http "http://$LISTEN:$PORT/api/health" nginx "${pids[-1]}"

cat > "$RUN_DIR/stack.json" <<EOF
{"url": "http://$LISTEN:$PORT", "app": {"port": $APP_PORT, "pid": ${pids[1]}},
 "redis": {"port": $REDIS_PORT, "pid": ${pids[0]}},
 "sio": [{"name": "sio-1", "port": ${SIO_PORTS[0]}, "pid": ${pids[2]}},
         {"name": "sio-2", "port": ${SIO_PORTS[1]}, "pid": ${pids[3]}},
         {"name": "sio-3", "port": ${SIO_PORTS[2]}, "pid": ${pids[4]}}],
 "nginx": {"port": $PORT, "pid": ${pids[5]}}, "run_dir": "$RUN_DIR"}
EOF
echo "Admin chat: http://$LISTEN:$PORT  (log in as alice, bob or dave of Acme, carol of Globex; password demo)"
echo "Logs and configuration in $RUN_DIR. Ctrl-C stops everything."
echo "READY $RUN_DIR/stack.json"

# Until a signal. A sio node that dies is reported once (its clients reconnect to the others);
# Redis, the app or NGINX dying stops the demo.
names=(redis app sio-1 sio-2 sio-3 nginx)
declare -A reported=()
while :; do
  for i in "${!pids[@]}"; do
    kill -0 "${pids[i]}" 2>/dev/null && continue
    case ${names[i]} in
      sio-*) [ -n "${reported[$i]:-}" ] || log "${names[i]} exited; NGINX sends its clients to the other nodes"
             reported[$i]=1 ;;
      *) log "${names[i]} exited (see $RUN_DIR/${names[i]}.log); stopping"; exit 1 ;;
    esac
  done
  sleep 1 & wait $! || true
done
