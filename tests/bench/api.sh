#!/bin/sh
# api.sh — `make bench-api`: wrk against tessera's /api on a private PostgreSQL (a benchmark,
# not a test). One user holds 10,000 conversations; one conversation holds 5,000 messages;
# 2,000 other users hold 100,000 more conversations and 200,000 messages.
#   GET /api/conversations (first page, 200 items) at 32 and at 8 connections, with the default
#     pool (pool_max 20) and with pool_max $POOL_SMALL (2: a second tessera whose pool is sized
#     to the two CPUs PostgreSQL shares with everything else here), and once with
#     Accept-Encoding: br, gzip (what browsers send; the other rows get identity)
#   GET /api/conversations/{id}/messages (first page, 500 items) at 32 connections
#   PUT /api/preferences/theme over 200 users, 32 connections: tessera's one statement against
#     the old way (tests/bench/api/put_old_way.c, same HTTP stack and pool) in two forms: the
#     issue's "SELECT, then UPDATE or INSERT" (two statements, racy under concurrent PUTs) and
#     what a correct API over PostgreSQL does (session lookup, then BEGIN; SELECT ... FOR
#     UPDATE; UPDATE or INSERT; COMMIT: five round trips), and the ratios; then the one
#     statement against the two without HTTP (put_old_way --statements: 32 threads straight
#     through the pool), the ratio the database alone allows.
# The cluster runs with fsync/synchronous_commit off (PG_FAST=1) so that the PUT ratio shows
# round trips, not the disk. PostgreSQL, the servers and wrk each run in a CPU cgroup of their
# own where the machine allows it (tests/bench/cpu_groups.sh); with the kernel's autogroup on,
# the 8-connection list rows are repeated at the end with PostgreSQL left to the autogroup.
# Env: BUILD (build), DURATION (10s), THREADS (2), POOL_SMALL (2).
set -eu
BUILD=${BUILD:-build}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
POOL_SMALL=${POOL_SMALL:-2}
top=$(pwd)
bin="$top/$BUILD/tessera"
command -v wrk >/dev/null 2>&1 || { echo "api.sh: wrk is not installed (make deps)" >&2; exit 1; }
[ -x "$bin" ] || { echo "api.sh: $bin missing (make all)" >&2; exit 1; }
[ -f "$top/$BUILD/libtessera.a" ] || { echo "api.sh: $BUILD/libtessera.a missing (make all)" >&2; exit 1; }

dir=$(mktemp -d /tmp/tessera-bench-api-XXXXXX)
PGDIR="$dir/pg"
export PGDIR
. "$top/tests/bench/cpu_groups.sh"
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  # Wait for them: a server still draining would keep the caller's bench lock open.
  for p in $pids; do i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done; done
  sh "$top/scripts/pg.sh" destroy >/dev/null 2>&1 || true
  cpu_groups_release
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

cpu_groups_init
url=$(PG_FAST=1 sh "$top/scripts/pg.sh" start)
# The postmaster and its children; backends forked later follow the postmaster's group.
pg_pids() {
  pm=$(sh "$top/scripts/pg.sh" pid)
  echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
}
# shellcheck disable=SC2046
cpu_group_move db $(pg_pids)
psql_() { sh "$top/scripts/pg.sh" psql -qAtX "$@"; }

# -------------------------------------------------------------- the old-way server
# Compiled and linked like tessera itself: the flags are asked of the Makefile, so a library
# added there (or loaded lazily instead of linked) is handled here too.
. "$top/tests/bench/make_flags.sh"
# shellcheck disable=SC2086
cc -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/include" $MAKE_CFLAGS \
  -o "$dir/put_old_way" "$top/tests/bench/api/put_old_way.c" "$top/$BUILD/libtessera.a" $MAKE_LDLIBS

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
P_T=$(port); P_T3=$(port); P_OLD=$(port)
cat > "$dir/tessera.ini" <<INI
[database]
url = $url
[log]
access = off
[static]
root = $dir
INI
"$bin" serve --config "$dir/tessera.ini" --listen "127.0.0.1:$P_T" > "$dir/tessera.out" 2>&1 &
pids="$pids $!"
cpu_group_move server $!
wait_port() {
  i=0
  until grep -q "listening on" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 300 ] || { cat "$1" >&2; echo "api.sh: server did not start" >&2; exit 1; }
    sleep 0.1
  done
}
wait_port "$dir/tessera.out" # migrations have run once it listens
DB_POOL_MAX=$POOL_SMALL "$bin" serve --config "$dir/tessera.ini" --listen "127.0.0.1:$P_T3" > "$dir/tessera3.out" 2>&1 &
pids="$pids $!"
cpu_group_move server $!
wait_port "$dir/tessera3.out"

# -------------------------------------------------------------- data
export DATABASE_URL="$url"
echo "bench password" | "$bin" user add bench@example.test --name Bench >/dev/null
TOKEN=$("$bin" session new bench@example.test)
export TOKEN
psql_ <<SQL
INSERT INTO conversations (user_id, title, updated_at)
  SELECT u.id, 'conversation ' || g, now() - g * interval '1 minute'
  FROM users u, generate_series(1, 10000) g WHERE u.email = 'bench@example.test';
-- Everyone else: 2,000 users with 50 conversations of 2 messages each, so that the planner's
-- statistics describe a table of many users (about 55 rows each on average), as in
-- production, and not a table that belongs to the bench user alone.
INSERT INTO users (email, name) SELECT 'other' || g || '@example.test', 'other' FROM generate_series(1, 2000) g;
INSERT INTO conversations (user_id, title, updated_at)
  SELECT u.id, 'conversation ' || g, now() - g * interval '1 hour'
  FROM users u, generate_series(1, 50) g WHERE u.email LIKE 'other%';
INSERT INTO messages (conversation_id, role, content)
  SELECT c.id, CASE WHEN g = 1 THEN 'user' ELSE 'assistant' END, 'hello ' || g
  FROM conversations c JOIN users u ON u.id = c.user_id AND u.email LIKE 'other%', generate_series(1, 2) g;
INSERT INTO messages (conversation_id, role, content, created_at)
  SELECT c.id, CASE WHEN g % 2 = 0 THEN 'user' ELSE 'assistant' END,
         'message ' || g || ' ' || repeat('lorem ipsum ', 4), now() - (5000 - g) * interval '1 second'
  FROM (SELECT id FROM conversations ORDER BY updated_at DESC LIMIT 1) c, generate_series(1, 5000) g;
-- 200 more users for the PUT runs, each with a session (token_hash = SHA-256 of the token's
-- 32 bytes, as auth.h specifies).
INSERT INTO users (email, name) SELECT 'put' || g || '@example.test', 'put' FROM generate_series(1, 200) g;
CREATE TEMP TABLE tok AS SELECT u.id, md5(random()::text) || md5(random()::text) AS token
  FROM users u WHERE u.email LIKE 'put%';
INSERT INTO sessions (token_hash, user_id, expires_at)
  SELECT sha256(decode(token, 'hex')), id, now() + interval '1 day' FROM tok;
\copy (SELECT token FROM tok) TO '$dir/tokens.txt'
VACUUM ANALYZE;
SQL
TOKENS="$dir/tokens.txt"
export TOKENS
CID=$(psql_ -c "SELECT id FROM conversations ORDER BY updated_at DESC LIMIT 1")

"$dir/put_old_way" "$dir/tessera.ini" "$P_OLD" > "$dir/old.out" 2>&1 &
pids="$pids $!"
cpu_group_move server $!
wait_port "$dir/old.out"

export LUA_DIR="$top/tests/bench/api"
# run NAME CONNECTIONS SCRIPT URL -> prints one row, leaves "req/s p99" in $last
run() {
  out=$(wrk -t"$THREADS" -c"$2" -d"$DURATION" -s "$LUA_DIR/$3" "$4" 2>&1) || { echo "$out" >&2; exit 1; }
  line=$(echo "$out" | grep '^RESULT' | tail -1)
  set -- "$1" "$2" $line
  printf "%-44s %4s conns  %8s req/s  p50 %6s ms  p99 %6s ms  errors %s\n" "$1" "$2" "$4" "$5" "$6" "$7"
  last="$4"
}

# Warm-up: the pool's connections and their prepared statements exist before measuring.
wrk -t2 -c32 -d2s -s "$LUA_DIR/get.lua" "http://127.0.0.1:$P_T/api/conversations" >/dev/null 2>&1
wrk -t2 -c32 -d2s -s "$LUA_DIR/get.lua" "http://127.0.0.1:$P_T3/api/conversations" >/dev/null 2>&1

echo "== tessera /api ($(nproc) CPUs, wrk $DURATION, 10,000 conversations, 5,000 messages)"
cpu_groups_describe
run "GET /api/conversations (200 items)" 32 get.lua "http://127.0.0.1:$P_T/api/conversations"
run "GET /api/conversations (200 items)" 8 get.lua "http://127.0.0.1:$P_T/api/conversations"
run "GET /api/conversations, pool_max $POOL_SMALL" 32 get.lua "http://127.0.0.1:$P_T3/api/conversations"
run "GET /api/conversations, pool_max $POOL_SMALL" 8 get.lua "http://127.0.0.1:$P_T3/api/conversations"
ACCEPT_ENCODING="br, gzip" run "GET /api/conversations, br (as browsers ask)" 8 get.lua "http://127.0.0.1:$P_T/api/conversations"
run "GET /api/conversations?limit=20" 32 get.lua "http://127.0.0.1:$P_T/api/conversations?limit=20"
run "GET .../messages (500 items)" 32 get.lua "http://127.0.0.1:$P_T/api/conversations/$CID/messages"
# The three PUT servers run in A B C C B A order so that drift in the machine's load favours
# none; each figure below is the sum of its two runs.
put() { PUT_PATH=$2; export PUT_PATH; run "$1" 32 put.lua "http://127.0.0.1:$3"; }
for path in /api/preferences/theme /two/api/preferences/theme /txn/api/preferences/theme; do
  p=$P_OLD; [ "$path" = /api/preferences/theme ] && p=$P_T
  PUT_PATH=$path wrk -t2 -c32 -d2s -s "$LUA_DIR/put.lua" "http://127.0.0.1:$p" >/dev/null 2>&1
done
put "PUT /api/preferences/theme (1 statement)" /api/preferences/theme "$P_T"; one=$last
put "PUT old way, 2 statements, no transaction" /two/api/preferences/theme "$P_OLD"; two=$last
put "PUT old way, session + transaction (5)" /txn/api/preferences/theme "$P_OLD"; txn=$last
put "PUT old way, session + transaction (5)" /txn/api/preferences/theme "$P_OLD"; txn="$txn + $last"
put "PUT old way, 2 statements, no transaction" /two/api/preferences/theme "$P_OLD"; two="$two + $last"
put "PUT /api/preferences/theme (1 statement)" /api/preferences/theme "$P_T"; one="$one + $last"
echo "PUT one statement / two statements (no transaction): $(python3 -c "print(f'{($one) / ($two):.2f}x')")"
echo "PUT one statement / session + transaction:           $(python3 -c "print(f'{($one) / ($txn):.2f}x')")"
# The same PUT without HTTP: what the database alone allows the ratio to be.
"$dir/put_old_way" --statements "$dir/tessera.ini" "$TOKENS" "${DURATION%s}" 32 &
sp=$!
cpu_group_move server "$sp"
wait "$sp"
if [ -n "$CPU_CG" ] && [ "$(autogroup_state)" = 1 ]; then
  # shellcheck disable=SC2046
  cpu_group_to_root $(pg_pids)
  echo "-- PostgreSQL back in the root CPU group: each backend its own autogroup (PostgreSQL started from a shell)"
  run "GET /api/conversations (200 items)" 8 get.lua "http://127.0.0.1:$P_T/api/conversations"
  run "GET /api/conversations, pool_max $POOL_SMALL" 8 get.lua "http://127.0.0.1:$P_T3/api/conversations"
fi
echo "statements sent by tessera: $(curl -s "http://127.0.0.1:$P_T/metrics" | grep '^tessera_db_pool_statements_total')"
