#!/bin/sh
# with-test-pg.sh CMD [ARG...] — runs CMD with TESSERA_TEST_PG_URL naming a PostgreSQL admin
# URL. When the caller already set one (scripts/test.sh does), CMD runs against it; otherwise
# a throw-away cluster is started (scripts/pg.sh, fsync off) and removed when CMD ends.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${TESSERA_TEST_PG_URL:-}" ]; then
  exec "$@"
fi
PGDIR=$(mktemp -d /tmp/tessera-pg-XXXXXX)
export PGDIR
trap 'sh "$top/scripts/pg.sh" destroy >/dev/null 2>&1; rm -rf "$PGDIR"' EXIT INT TERM
TESSERA_TEST_PG_URL=$(PG_FAST=1 sh "$top/scripts/pg.sh" start)
export TESSERA_TEST_PG_URL
"$@"
