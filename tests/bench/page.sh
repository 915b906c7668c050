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

sh scripts/node-deps.sh

echo "== bench-page: $(nproc) CPUs, $(/usr/bin/chromium --version 2>/dev/null | head -1)"
exec sh scripts/with-test-pg.sh node tests/bench/page.mjs
