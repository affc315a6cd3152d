#!/usr/bin/env bash
# Fails (exit 1, listing each one) when a public function is not called by the API tests: every
# function declared with an export macro (SIO_API, SIO_ERROR_API, ...) in include/sio/*.h must
# appear as a call, "name(", in tests/unit/api/*.c outside comments. Taking a function's address
# does not count: the test must call it and check what it did.
# Usage: scripts/check-api-coverage.sh [source root]
set -euo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"

shopt -s nullglob
headers=(include/sio/*.h)
tests=(tests/unit/api/*.c)
if [ ${#headers[@]} -eq 0 ] || [ ${#tests[@]} -eq 0 ]; then
  echo "check-api-coverage: no headers in include/sio/ or no tests in tests/unit/api/" >&2
  exit 1
fi

# Comments and preprocessor lines out (the macros' own #define lines mention them), then each
# declaration from its export macro to the first "(": the name is the identifier before it.
strip_comments() {
  perl -0777 -pe 's{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g' "$@"
}
declared=$(strip_comments "${headers[@]}" | grep -v '^[[:space:]]*#' |
  perl -0777 -ne 'while (/\bSIO_[A-Z_]*API\b([^;(]*?)\b([A-Za-z_][A-Za-z0-9_]*)\s*\(/g) { print "$2\n" }' |
  sort -u)
if [ -z "$declared" ]; then
  echo "check-api-coverage: no exported functions found in ${headers[*]}" >&2
  exit 1
fi

called=$(strip_comments "${tests[@]}")
missing=0
total=0
for fn in $declared; do
  total=$((total + 1))
  if ! grep -Eq "(^|[^A-Za-z0-9_])${fn}[[:space:]]*\(" <<<"$called"; then
    echo "not called in tests/unit/api/: $fn"
    missing=$((missing + 1))
  fi
done
if [ "$missing" -gt 0 ]; then
  echo "check-api-coverage: $missing of $total public functions are never called" >&2
  exit 1
fi
echo "check-api-coverage: all $total public functions are called"
