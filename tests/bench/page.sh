#!/bin/sh
# tests/bench/page.sh — make bench-page: page loads of the dashboard in Debian's Chromium,
# throttled (150 ms RTT, 1.6/0.75 Mbps, 4x CPU) and on loopback. A benchmark, not a test:
# it prints figures and whether each goal is met, and fails only if it cannot run.
#   BUILD (default build), RUNS (default 5)
set -eu
top=$(pwd)
BUILD=${BUILD:-build}
export TESSERA_SOURCE_DIR="$top"
export TESSERA_BIN="${TESSERA_BIN:-$top/$BUILD/tessera}"

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ -z "${TESSERA_TEST_PG_URL:-}" ]; then
  PGDIR=$(mktemp -d /tmp/tessera-bench-pg-XXXXXX)
  export PGDIR
  trap 'sh "$top/scripts/pg.sh" destroy >/dev/null 2>&1; rm -rf "$PGDIR"' EXIT INT TERM
  TESSERA_TEST_PG_URL=$(PG_FAST=1 sh scripts/pg.sh start)
  export TESSERA_TEST_PG_URL
fi

echo "== bench-page: $(nproc) CPUs, $(/usr/bin/chromium --version 2>/dev/null | head -1)"
node tests/bench/page.mjs
