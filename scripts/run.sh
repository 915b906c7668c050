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
exec "$bin" serve --config config/tessera.ini --root "$BUILD/www" --listen "${LISTEN:-127.0.0.1:8080}"
