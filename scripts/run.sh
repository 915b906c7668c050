#!/bin/sh
# run.sh — make run: private PostgreSQL under var/, migrations, a demo user, then serve.
set -eu
BUILD=${BUILD:-build}
mkdir -p var
url=$(sh scripts/pg.sh start)
export DATABASE_URL="$url"
bin="$BUILD/tessera"
if [ -f scripts/seed-demo.sh ]; then
  BUILD=$BUILD sh scripts/seed-demo.sh
fi
listen=${LISTEN:-127.0.0.1:8080}
"$bin" serve --config config/tessera.ini --root "$BUILD/www" --listen "$listen" &
pid=$!
# A background job of a non-interactive shell ignores Ctrl-C, so pass the stop on.
trap 'kill -TERM "$pid" 2>/dev/null' INT TERM
# Once the server answers, say how to sign in (the password was made by seed-demo.sh).
if [ -s var/demo-password ]; then
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "http://$listen/healthz" 2>/dev/null; then
      echo
      echo "  Dashboard: http://$listen/"
      echo "  Sign in as demo@tessera.local with password $(cat var/demo-password)"
      echo "  (the password is kept in var/demo-password; Ctrl-C stops the server)"
      echo
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
fi
status=0
wait "$pid" || status=$?
# A trapped signal interrupts wait; wait again for the server's own (graceful) exit.
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || status=$?; done
exit "$status"
