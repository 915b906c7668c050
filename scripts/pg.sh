#!/bin/sh
# pg.sh start|stop|restart|status|url|pid|psql [args] — a private PostgreSQL 15 for make run and
# the tests. Data in $PGDIR (default var/pg), Unix socket only, in a private directory.
# PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user.
set -eu

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/pg_ctl" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

PGDIR=${PGDIR:-var/pg}
mkdir -p "$PGDIR"
PGDIR=$(cd "$PGDIR" && pwd)

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The postgres user must be able to reach the data directory; /root and similar are closed
# to it, so then the cluster lives in a private temp directory recorded in $PGDIR/location.
data_dir() {
  if [ -f "$PGDIR/location" ]; then cat "$PGDIR/location"; return; fi
  if [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$PGDIR" 2>/dev/null; then
    d="$PGDIR/cluster"
  else
    d=$(mktemp -d /tmp/tessera-pg-XXXXXX)
  fi
  echo "$d" > "$PGDIR/location"
  echo "$d"
}

DATA=$(data_dir)
# Unix socket paths are limited to 107 bytes; a short private directory beside the data.
SOCK="$DATA/s"
if [ ${#SOCK} -gt 80 ]; then
  SOCK="/tmp/tessera-pgs-$(echo "$DATA" | md5sum | cut -c1-10)"
fi
URL="postgresql:///tessera?host=$SOCK&user=tessera"

init_cluster() {
  mkdir -p "$DATA"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DATA"
  chmod 700 "$DATA"
  as_owner "$PGBIN/initdb" -D "$DATA/data" --username=tessera --auth=trust -E UTF8 --locale=C >"$DATA/initdb.log" 2>&1 \
    || { cat "$DATA/initdb.log" >&2; exit 1; }
  cat >> "$DATA/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$SOCK'
unix_socket_permissions = 0700
max_connections = 300
shared_buffers = 128MB
CONF
  if [ "${PG_FAST:-0}" = 1 ]; then
    # Test clusters are thrown away: durability buys nothing there.
    printf "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n" >> "$DATA/data/postgresql.conf"
  fi
}

is_running() { as_owner "$PGBIN/pg_ctl" -D "$DATA/data" status >/dev/null 2>&1; }

start() {
  [ -f "$DATA/data/PG_VERSION" ] || init_cluster
  mkdir -p "$SOCK"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$SOCK"
  chmod 700 "$SOCK"
  if ! is_running; then
    as_owner "$PGBIN/pg_ctl" -D "$DATA/data" -l "$DATA/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$DATA/server.log" >&2; exit 1; }
  fi
  # The application database; creating it twice is harmless.
  "$PGBIN/psql" "postgresql:///postgres?host=$SOCK&user=tessera" -qAtc \
    "SELECT 1 FROM pg_database WHERE datname = 'tessera'" | grep -q 1 \
    || "$PGBIN/createdb" -h "$SOCK" -U tessera tessera
}

case "${1:-}" in
  start) start; echo "$URL" ;;
  stop) if is_running; then as_owner "$PGBIN/pg_ctl" -D "$DATA/data" -m fast -w stop >/dev/null; fi ;;
  restart) as_owner "$PGBIN/pg_ctl" -D "$DATA/data" -m fast -w -t 60 restart -l "$DATA/server.log" >/dev/null ;;
  status) is_running && echo running || { echo stopped; exit 1; } ;;
  url) echo "$URL" ;;
  pid) head -1 "$DATA/data/postmaster.pid" ;; # the postmaster's, while running
  psql) shift; exec "$PGBIN/psql" "$URL" "$@" ;;
  destroy)
    if is_running; then as_owner "$PGBIN/pg_ctl" -D "$DATA/data" -m immediate -w stop >/dev/null; fi
    rm -rf "$DATA" "$SOCK" "$PGDIR/location" ;;
  *) echo "usage: pg.sh start|stop|restart|status|url|pid|psql|destroy" >&2; exit 2 ;;
esac
