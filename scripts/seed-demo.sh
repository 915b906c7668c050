#!/bin/sh
# seed-demo.sh — make run's demo data: the user demo@tessera.local (password generated once and
# kept in var/demo-password), several conversations with messages, and preferences, all made
# through tessera's own CLI and API. Re-runnable: existing conversations are left as they are.
# Needs DATABASE_URL (scripts/run.sh exports it) and a built $BUILD/tessera.
set -eu
BUILD=${BUILD:-build}
bin="$BUILD/tessera"
EMAIL=demo@tessera.local
PWFILE=var/demo-password
mkdir -p var

"$bin" migrate --config config/tessera.ini >/dev/null

# The password lives in var/demo-password: generated once (18 random bytes, base64 without
# shell-hostile characters), then reused, so every run prints a password that works.
if [ ! -s "$PWFILE" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' > "$PWFILE")
fi
if ! "$bin" user add "$EMAIL" --name "Demo User" --config config/tessera.ini <"$PWFILE" >/dev/null 2>var/demo-user.err; then
  # Already there (an earlier run, perhaps with a lost password file): make the password
  # the one in the file rather than print one that would not work.
  if ! "$bin" user add "$EMAIL" --update-password --config config/tessera.ini <"$PWFILE" >/dev/null 2>>var/demo-user.err; then
    echo "seed-demo: could not create or update $EMAIL:" >&2
    cat var/demo-user.err >&2
    rm -f var/demo-user.err
    exit 1
  fi
fi
rm -f var/demo-user.err

# A private server on a free loopback port, only for the seeding.
log=$(mktemp /tmp/tessera-seed-XXXXXX.log)
"$bin" serve --config config/tessera.ini --root "$BUILD/www" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT INT TERM

base=""
for _ in $(seq 1 300); do
  base=$(sed -n 's/.*listening on \(http:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$log" | head -1)
  [ -n "$base" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "seed-demo: the server did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { cat "$log" >&2; echo "seed-demo: the server did not start within 30 s" >&2; exit 1; }

token=$("$bin" session new "$EMAIL" --config config/tessera.ini | tail -1)
node scripts/seed-demo.mjs "$base" "$token"
# The seeding session is not needed any more.
curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $token" "$base/api/auth/sign-out" || true
