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

sh scripts/node-deps.sh

# One file at a time (each starts its own server and browser) with a bound on each, where
# this Node's runner has the flags (Node 20.11 and later; Debian's Node 18 runs without them).
flags=""
for f in --test-concurrency=1 --test-timeout=300000; do
  node --help | grep -q -- "${f%%=*}=" && flags="$flags $f"
done
exec sh scripts/with-test-pg.sh node --test $flags tests/browser/
