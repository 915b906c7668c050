#!/bin/sh
# node-deps.sh — installs the pinned npm packages (esbuild, playwright-core) with `npm ci`,
# only when node_modules is missing or older than package-lock.json: quiet and quick when
# nothing changed. Never downloads a browser: the tests use Debian's chromium.
set -eu
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
