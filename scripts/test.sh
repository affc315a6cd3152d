#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, fuzz-corpus replay and interop
# (real engine.io-client / socket.io-client in Node and in headless Chromium) on a release-style
# build, then the same under AddressSanitizer + UndefinedBehaviorSanitizer (leaks reported).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh

setup() { # dir, extra meson args...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
  else meson setup "$dir" "$@" >/dev/null; fi
}

export INTEROP_REQUIRED=1
echo "== build (debugoptimized, -Werror)"
setup build
ninja -C build
echo "== tests: unit, fuzz-replay, interop, bench tools"
meson test -C build --print-errorlogs --suite unit --suite fuzz-replay --suite interop --suite bench

if [ "${SIO_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== build with ASan + UBSan"
  setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
  ninja -C build-asan
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:quarantine_size_mb=16
  export SIO_SANITIZED=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export LSAN_OPTIONS=suppressions=$top/scripts/lsan.supp
  echo "== tests under sanitizers: unit, fuzz-replay, interop, bench tools"
  meson test -C build-asan --print-errorlogs --timeout-multiplier 3 \
    --suite unit --suite fuzz-replay --suite interop --suite bench
fi
echo "== all tests passed"
