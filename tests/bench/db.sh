#!/bin/sh
# db.sh — `make bench-db`: the pool and auth numbers of docs/PERFORMANCE.md
# ("Database pool and auth"). Starts a private PostgreSQL, builds tests/bench/db_bench.c
# against $BUILD/libtessera.a, runs it, then signs in over HTTP in a loop for the end-to-end
# rate. Nothing here is a test: it prints numbers.
set -eu
BUILD=${BUILD:-build}
SECONDS_PER_CASE=${SECONDS_PER_CASE:-3}
top=$(pwd)
PGDIR=$(mktemp -d /tmp/tessera-bench-db-XXXXXX)
export PGDIR
cleanup() {
  [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null || true
  sh "$top/scripts/pg.sh" destroy >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT INT TERM
url=$(PG_FAST=1 sh scripts/pg.sh start)

# Compiled and linked like tessera itself (flags asked of the Makefile).
. "$top/tests/bench/make_flags.sh"
# shellcheck disable=SC2086
cc -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude $MAKE_CFLAGS tests/bench/db_bench.c \
  "$BUILD/libtessera.a" $MAKE_LDLIBS -o "$BUILD/db_bench"

echo "== pool and argon2 (db_bench, ${SECONDS_PER_CASE}s per case)"
"$BUILD/db_bench" "$url" "$SECONDS_PER_CASE"

echo "== sign-in over HTTP (curl, 4 parallel clients, 10 s)"
export TESSERA_DATABASE_URL="$url"
"$BUILD/tessera" migrate --config /dev/null >/dev/null
echo "bench password 1" | "$BUILD/tessera" user add bench@example.com --config /dev/null >/dev/null
"$BUILD/tessera" serve --config /dev/null --listen 127.0.0.1:0 > "$PGDIR/serve.out" 2> "$PGDIR/serve.err" &
srv_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$PGDIR/serve.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$PGDIR/serve.err" >&2; exit 1; }
client() {
  end=$(( $(date +%s) + 10 ))
  n=0
  while [ "$(date +%s)" -lt "$end" ]; do
    curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
      -d '{"email":"bench@example.com","password":"bench password 1"}' "http://127.0.0.1:$port/api/auth/sign-in"
  done
}
pids=
for i in 1 2 3 4; do client > "$PGDIR/c$i" & pids="$pids $!"; done
for p in $pids; do wait "$p"; done
ok=$(cat "$PGDIR"/c? | grep -c '^200$' || true)
all=$(cat "$PGDIR"/c? | wc -l)
echo "sign-in: $ok of $all answered 200 in 10 s = $((ok / 10)) sign-ins/s"
