#!/usr/bin/env bash
# Fails (exit 1, listing each offender) when a module includes what its layer may not
# (docs/architecture.md, module map):
#   - protocol/ includes only libc headers, include/ (<sio/...>) and other protocol/ headers;
#   - only src/http/ includes libwebsockets (<libwebsockets.h>, <lws_config.h>);
#   - src/common/ includes only libc, include/ and its own headers (no libevent: the libevent
#     clock of common/timer.h is in src/engine/);
#   - only src/adapter/redis/ includes hiredis (<hiredis/...>), and only as a RESP reader and
#     formatter over its own libevent connections;
#   - src/adapter/redis/ includes only libc, include/, src/common/, protocol/, src/net/, its own
#     headers, libevent (<event2/...>), hiredis and OpenSSL (TLS through bufferevent_openssl);
#   - src/net/ (outbound connections, shared by the two clients) includes only libc, include/, its
#     own headers, libevent and OpenSSL;
#   - the JWT verifier and the authenticator's pure parts (src/auth/ jwt, jwk, claims, token and
#     their headers) include only libc, include/, src/common/, jansson, OpenSSL and src/auth/
#     headers: no loop, no HTTP client (those are for auth.c and protect.c);
#   - src/httpc/ (the HTTP client) includes only libc, include/, src/common/, protocol/, src/net/,
#     its own headers, libevent (<event2/...>) and OpenSSL;
#   - src/gateway/ (the chat gateway) is written on the public API: it includes only libc,
#     include/, its own headers, src/httpc/, libevent (<event2/...>) and jansson;
#   - the rest of src/adapter/ includes only libc, include/, src/common/ and its own headers;
#   - src/socketio/ never includes src/http/ nor libevent; its room index (rooms.[ch]) includes only libc,
#     include/, src/common/ and its own header, so it stays free of sockets and the loop.
# Direct #include lines are checked, in src/, protocol/ and include/. A known violation that is
# waiting for its fix is listed in scripts/layering-exceptions.txt ("<file> <include> <reason>");
# it is reported as tolerated, and one that no longer occurs is reported as stale (remove it).
# Usage: scripts/check-layering.sh [source root]
set -euo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"
exceptions=scripts/layering-exceptions.txt

# C11 and POSIX headers: what "libc" means here.
libc_headers=" assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h
  locale.h math.h setjmp.h signal.h stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h stdint.h
  stdio.h stdlib.h stdnoreturn.h string.h tgmath.h threads.h time.h uchar.h wchar.h wctype.h
  strings.h unistd.h fcntl.h poll.h pthread.h dirent.h netdb.h sys/types.h sys/stat.h
  sys/time.h sys/socket.h sys/uio.h sys/mman.h sys/random.h netinet/in.h arpa/inet.h
  sys/un.h netinet/tcp.h "

libc_headers=" $(echo $libc_headers) " # one space between names
is_libc() { [[ "$libc_headers" == *" $1 "* ]]; }

# Prints "<file> <include>" for each direct include of the files given.
includes() {
  for f in "$@"; do
    sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"][^>"]+[>"]).*/\1/p' "$f" |
      while read -r inc; do printf '%s %s\n' "$f" "$inc"; done
  done
}

# Prints "<file> <header> <rule>" for each violation.
violations() {
  local f inc name dir
  while read -r f inc; do
    name=${inc:1:${#inc}-2}
    dir=$(dirname "$f")
    case "$name" in
      libwebsockets.h | lws_config.h | libwebsockets/*)
        [[ "$f" == src/http/* ]] || echo "$f $name only src/http/ includes libwebsockets" ;;
      hiredis/*)
        [[ "$f" == src/adapter/redis/* ]] || echo "$f $name only src/adapter/redis/ includes hiredis" ;;
    esac
    case "$f" in
      protocol/*)
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* ]] ||
            echo "$f $name protocol/ includes only libc, include/ and protocol/ headers"
        else
          [ -f "protocol/$name" ] ||
            echo "$f $name protocol/ includes only libc, include/ and protocol/ headers"
        fi ;;
      src/common/*)
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* ]] ||
            echo "$f $name src/common/ includes only libc, include/ and its own headers"
        else
          [ -f "$dir/$name" ] ||
            echo "$f $name src/common/ includes only libc, include/ and its own headers"
        fi ;;
      src/adapter/redis/*)
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* || "$name" == event2/* || "$name" == hiredis/* ||
                                "$name" == openssl/* ]] ||
            echo "$f $name src/adapter/redis/ includes only libc, include/, src/common/, protocol/, src/net/, libevent, hiredis, OpenSSL and its own headers"
        else
          [[ ( "$name" == common/* || "$name" == net/* ) && -f "src/$name" ]] || [ -f "protocol/$name" ] ||
            [ -f "$dir/$name" ] ||
            echo "$f $name src/adapter/redis/ includes only libc, include/, src/common/, protocol/, src/net/, libevent, hiredis, OpenSSL and its own headers"
        fi ;;
      src/net/*)
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* || "$name" == event2/* || "$name" == openssl/* ]] ||
            echo "$f $name src/net/ includes only libc, include/, libevent, OpenSSL and its own headers"
        else
          [[ "$name" == net/* && -f "src/$name" ]] || [ -f "$dir/$name" ] ||
            echo "$f $name src/net/ includes only libc, include/, libevent, OpenSSL and its own headers"
        fi ;;
      src/auth/jwt.[ch] | src/auth/jwk.c | src/auth/claims.c | src/auth/token.c | src/auth/session.h | src/auth/jwt_internal.h)
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* || "$name" == jansson.h || "$name" == openssl/* ]] ||
            echo "$f $name the pure auth files include only libc, include/, src/common/, jansson, OpenSSL and src/auth/ headers"
        else
          [[ "$name" == common/* && -f "src/$name" ]] || [[ "$name" == auth/* && -f "src/$name" ]] || [ -f "$dir/$name" ] ||
            echo "$f $name the pure auth files include only libc, include/, src/common/, jansson, OpenSSL and src/auth/ headers"
        fi ;;
      src/httpc/*)
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* || "$name" == event2/* || "$name" == openssl/* ]] ||
            echo "$f $name src/httpc/ includes only libc, include/, src/common/, protocol/, src/net/, libevent, OpenSSL and its own headers"
        else
          [[ ( "$name" == common/* || "$name" == net/* ) && -f "src/$name" ]] || [ -f "protocol/$name" ] ||
            [ -f "$dir/$name" ] ||
            echo "$f $name src/httpc/ includes only libc, include/, src/common/, protocol/, src/net/, libevent, OpenSSL and its own headers"
        fi ;;
      src/gateway/*)
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* || "$name" == event2/* || "$name" == jansson.h ]] ||
            echo "$f $name src/gateway/ includes only libc, include/, src/httpc/, libevent, jansson and its own headers"
        else
          [[ "$name" == gateway/* || "$name" == httpc/httpc.h ]] ||
            echo "$f $name src/gateway/ includes only libc, include/, src/httpc/, libevent, jansson and its own headers"
        fi ;;
      src/adapter/*)
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* ]] ||
            echo "$f $name src/adapter/ includes only libc, include/, src/common/ and its own headers"
        else
          [[ "$name" == common/* && -f "src/$name" ]] || [ -f "$dir/$name" ] ||
            echo "$f $name src/adapter/ includes only libc, include/, src/common/ and its own headers"
        fi ;;
      src/socketio/rooms.[ch])
        if [[ "$inc" == \<* ]]; then
          is_libc "$name" || [[ "$name" == sio/* ]] ||
            echo "$f $name src/socketio/rooms includes only libc, include/, src/common/ and rooms.h"
        else
          [[ "$name" == common/* && -f "src/$name" ]] || [ "$name" = rooms.h ] ||
            echo "$f $name src/socketio/rooms includes only libc, include/, src/common/ and rooms.h"
        fi ;;
      src/socketio/*)
        [[ "$name" == http/* ]] && echo "$f $name src/socketio/ never includes src/http/"
        [[ "$name" == event2/* ]] &&
          echo "$f $name src/socketio/ never includes libevent (its timers come from an sio_clock)" ;;
    esac
  done
  return 0
}

mapfile -t files < <(find src protocol include -type f \( -name '*.c' -o -name '*.h' \) | sort)
found=$(includes "${files[@]}" | violations | sort -u)

declare -A allowed=()
if [ -f "$exceptions" ]; then
  while read -r f name reason; do
    [ -z "$f" ] || [ "${f#\#}" != "$f" ] && continue
    if [ -z "$name" ] || [ -z "$reason" ]; then
      echo "layering: $exceptions: '$f $name': an exception needs a file, an include and a reason" >&2
      exit 1
    fi
    allowed["$f $name"]=$reason
  done < "$exceptions"
fi

status=0
declare -A seen=()
while read -r f name rule; do
  [ -n "$f" ] || continue
  seen["$f $name"]=1
  if [ -n "${allowed["$f $name"]+x}" ]; then
    echo "layering: tolerated: $f includes $name (${allowed["$f $name"]})"
  else
    echo "layering: VIOLATION: $f includes $name: $rule"
    status=1
  fi
done <<< "$found"
for k in "${!allowed[@]}"; do
  if [ -z "${seen[$k]+x}" ]; then
    echo "layering: stale exception (no longer violated, remove it): $k"
    status=1
  fi
done
[ "$status" = 0 ] && echo "layering: ok"
exit "$status"
