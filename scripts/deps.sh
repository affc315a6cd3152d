#!/usr/bin/env bash
# Installs what sio needs on a Debian 12 machine, idempotently:
#  - apt packages (toolchain, libevent, OpenSSL, hiredis, Criterion, jansson, inih, zlib, test
#    peers);
#  - a libwebsockets with libevent support. Debian's libwebsockets-dev 4.1.6 is built without it, so
#    unless the system one defines LWS_WITH_LIBEVENT and carries our correctness patches, we build
#    Debian's own source package with scripts/lws-patches/series applied as a static library into
#    third_party/lws, or $SIO_LWS_PREFIX when set (cached: a second run costs nothing).
#  - the npm packages of interop/ and bench/ (pinned in their package.json files), then those of
#    examples/admin-chat (npm ci from its lockfile).
# Only the Debian archive and the npm registry are contacted.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
LWS_PREFIX="${SIO_LWS_PREFIX:-$top/third_party/lws}"
patch_dir="$top/scripts/lws-patches"
# Bump when the build recipe below changes, so the cached build is redone.
LWS_RECIPE="lws-4.1.6-libevent-pmd-patches-17"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

APT_PKGS=(build-essential meson ninja-build pkg-config cmake clang libclang-rt-14-dev
  libevent-dev libssl-dev libhiredis-dev libcriterion-dev libjansson-dev libinih-dev zlib1g-dev
  dpkg-dev redis-server redis-tools nginx-light nodejs npm chromium
  python3-socketio python3-websocket python3-requests)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from another source than Debian's nodejs package: do not fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The patches to apply, in order: exactly the series file. A .patch file it does not list is an
# error, so a patch cannot be added and silently left out.
lws_patches=()
while read -r p; do
  [ -n "$p" ] && [ "${p#\#}" = "$p" ] || continue
  [ -f "$patch_dir/$p" ] || { echo "deps: $patch_dir/series lists $p, which does not exist" >&2; exit 1; }
  lws_patches+=("$p")
done < "$patch_dir/series"
for f in "$patch_dir"/*.patch; do
  case " ${lws_patches[*]} " in *" $(basename "$f") "*) ;;
    *) echo "deps: $f is not listed in $patch_dir/series" >&2; exit 1 ;; esac
done

# The system one counts only when pkg-config knows it, its headers are where they should be, it
# has libevent support and our correctness patches (meson.build applies the same test), and when
# we have not already built our own.
system_lws_usable() {
  [ ! -f "$LWS_PREFIX/.built" ] && pkg-config --exists libwebsockets &&
    [ -f /usr/include/libwebsockets.h ] && [ -f /usr/include/lws_config.h ] &&
    grep -q '^#define LWS_WITH_LIBEVENT' /usr/include/lws_config.h &&
    grep -q '^#define LWS_SIO_PATCH_HELD_TRANSACTION_HANGUP' /usr/include/lws_config.h &&
    grep -q '^#define LWS_SIO_PATCH_REFUSE_UNMASKED_FRAMES' /usr/include/lws_config.h
}

if system_lws_usable; then
  echo "deps: system libwebsockets has libevent support and our patches"
elif [ "$(cat "$LWS_PREFIX/.built" 2>/dev/null)" = "$LWS_RECIPE" ]; then
  echo "deps: cached libwebsockets in $LWS_PREFIX"
else
  rm -rf "$LWS_PREFIX"
  echo "deps: building libwebsockets with libevent support into $LWS_PREFIX"
  src_list=/etc/apt/sources.list.d/sio-deb-src.sources
  if ! apt-get source --download-only -s libwebsockets >/dev/null 2>&1; then
    # Derive deb-src entries from the existing deb entries.
    if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
      grep -h -v '^#' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
        sed 's/^Types: deb$/Types: deb-src/' | $SUDO tee "$src_list" >/dev/null
    fi
    if [ -f /etc/apt/sources.list ]; then
      grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
        $SUDO tee /etc/apt/sources.list.d/sio-deb-src.list >/dev/null || true
    fi
    $SUDO apt-get update -qq
  fi
  work=$(mktemp -d)
  (cd "$work" && apt-get source --download-only libwebsockets >/dev/null &&
    dpkg-source -x --skip-patches ./*.dsc src >/dev/null)
  # Debian's patches are build-system tweaks for its own packaging; apply them all the same.
  (cd "$work/src" && if [ -f debian/patches/series ]; then
     while read -r p; do [ -n "$p" ] && [ "${p#\#}" = "$p" ] && patch -p1 -s < "debian/patches/$p" || true; done < debian/patches/series
   fi)
  # Our own patches, exactly the series (see each file's header for why).
  for p in "${lws_patches[@]}"; do
    (cd "$work/src" && patch -p1 -s --forward < "$patch_dir/$p") ||
      { echo "deps: $p does not apply" >&2; exit 1; }
  done
  cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$LWS_PREFIX" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DLWS_WITH_LIBEVENT=ON -DLWS_WITH_EVLIB_PLUGINS=OFF -DLWS_WITH_SHARED=OFF -DLWS_WITH_STATIC=ON \
    -DLWS_WITHOUT_TESTAPPS=ON -DLWS_WITH_MINIMAL_EXAMPLES=OFF -DDISABLE_WERROR=ON \
    -DLWS_WITH_HTTP2=OFF -DLWS_WITH_SOCKS5=OFF -DLWS_IPV6=ON \
    -DLWS_WITHOUT_EXTENSIONS=OFF -DLWS_WITH_ZLIB=ON \
    -DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log"; exit 1; }
  ninja -C "$work/build" install >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
  echo "$LWS_RECIPE" > "$LWS_PREFIX/.built"
  rm -rf "$work"
fi

# npm packages for the interop tests and the benchmark anchor (pinned versions, no global installs).
[ "${SIO_DEPS_NO_NPM:-0}" = 1 ] || for d in interop bench; do
  if [ -f "$top/$d/package.json" ]; then
    if [ ! -d "$top/$d/node_modules" ] || [ "$top/$d/package.json" -nt "$top/$d/node_modules/.stamp" ]; then
      echo "deps: npm install in $d/"
      (cd "$top/$d" && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
    fi
  fi
done
# The admin chat example (examples/admin-chat, run by deploy/run.sh and the interop area
# adminchat): exactly its lockfile.
chat="$top/examples/admin-chat"
if [ "${SIO_DEPS_NO_NPM:-0}" != 1 ] && [ -f "$chat/package-lock.json" ]; then
  if [ ! -d "$chat/node_modules" ] || [ "$chat/package-lock.json" -nt "$chat/node_modules/.stamp" ]; then
    echo "deps: npm ci in examples/admin-chat/"
    (cd "$chat" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
  fi
fi
echo "deps: ok"
