#!/bin/sh
# tests/browser/run.sh — the dashboard's browser tests: playwright-core driving Debian's
# /usr/bin/chromium against tessera in production mode with a real PostgreSQL.
# scripts/test.sh exports TESSERA_TEST_PG_URL, TESSERA_BIN and TESSERA_SOURCE_DIR; run alone,
# this script starts a throw-away PostgreSQL itself.
set -eu
cd "${TESSERA_SOURCE_DIR:-$(dirname "$0")/../..}"
top=$(pwd)
BUILD=${BUILD:-build}
export TESSERA_SOURCE_DIR="$top"
export TESSERA_BIN="${TESSERA_BIN:-$top/$BUILD/tessera}"

[ -x /usr/bin/chromium ] || { echo "browser tests: /usr/bin/chromium missing (apt-get install chromium)" >&2; exit 1; }
[ -x "$TESSERA_BIN" ] || { echo "browser tests: $TESSERA_BIN not built" >&2; exit 1; }

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ -z "${TESSERA_TEST_PG_URL:-}" ]; then
  PGDIR=$(mktemp -d /tmp/tessera-browser-pg-XXXXXX)
  export PGDIR
  trap 'sh "$top/scripts/pg.sh" destroy >/dev/null 2>&1; rm -rf "$PGDIR"' EXIT INT TERM
  TESSERA_TEST_PG_URL=$(PG_FAST=1 sh scripts/pg.sh start)
  export TESSERA_TEST_PG_URL
fi

# One file at a time (each starts its own server and browser) with a bound on each, where
# this Node's runner has the flags (Node 20.11 and later; Debian's Node 18 runs without them).
flags=""
for f in --test-concurrency=1 --test-timeout=300000; do
  node --help | grep -q -- "${f%%=*}=" && flags="$flags $f"
done
node --test $flags tests/browser/
