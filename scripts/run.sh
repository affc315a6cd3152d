#!/usr/bin/env bash
# Installs what is missing, builds, and starts sio-server on its built-in defaults
# (port 3000, path /socket.io/). Extra arguments go to the server (see --help).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
SIO_DEPS_NO_NPM=1 bash scripts/deps.sh
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build
exec ./build/src/app/sio-server "$@"
