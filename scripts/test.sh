#!/bin/sh
# test.sh — runs every suite: unit, integration (real server, real PostgreSQL), browser.
# A private throw-away PostgreSQL is started for the run and removed afterwards.
set -u
BUILD=${BUILD:-build}
top=$(pwd)
status=0

echo "== unit tests"
"$BUILD/unit-tests" --jobs 2 || status=1

echo "== integration tests"
PGDIR=$(mktemp -d /tmp/tessera-test-pg-XXXXXX)
export PGDIR
cleanup() { sh "$top/scripts/pg.sh" destroy >/dev/null 2>&1; rm -rf "$PGDIR"; }
trap cleanup EXIT INT TERM
if url=$(PG_FAST=1 sh scripts/pg.sh start); then
  export TESSERA_TEST_PG_URL="$url"
  export TESSERA_TEST_PGDIR="$PGDIR"
  export TESSERA_BIN="$top/$BUILD/tessera"
  export TESSERA_SOURCE_DIR="$top"
  "$BUILD/integration-tests" --jobs 2 || status=1
  if [ -f tests/browser/run.sh ]; then
    echo "== browser tests"
    BUILD=$BUILD sh tests/browser/run.sh || status=1
  fi
else
  echo "test.sh: could not start PostgreSQL" >&2
  status=1
fi
exit $status
