#!/bin/sh
# install-deps.sh — installs the Debian 12 packages tessera needs to build, test, run and
# benchmark, only those missing. Idempotent and quiet when everything is there.
set -eu

PACKAGES="make gcc clang pkg-config libcivetweb-dev zlib1g-dev libbrotli-dev libwebp-dev libavif-dev
libpng-dev libexif-dev libswscale-dev libjpeg62-turbo-dev libpq-dev libinih-dev libjansson-dev libargon2-dev libcriterion-dev
libcurl4-openssl-dev postgresql postgresql-client pgbouncer chromium ca-certificates"
# Benchmarks only (make bench): peers and load tools.
BENCH_PACKAGES="nginx-light libnginx-mod-http-brotli-static wrk imagemagick webp libavif-bin plasma-workspace-wallpapers"

want="$PACKAGES"
[ "${WITH_BENCH:-0}" = 1 ] && want="$want $BENCH_PACKAGES"

missing=""
for p in $want; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: node and npm (Node.js 20) are needed for the dashboard build and browser tests" >&2
  missing="$missing nodejs npm"
fi

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "install-deps: missing packages:$missing" >&2
  echo "install-deps: run as root (or install sudo), or install them yourself: apt-get install$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# One update per run, and only when something is missing.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
