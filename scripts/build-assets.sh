#!/bin/sh
# build-assets.sh — make assets: the dashboard bundle into $BUILD/www, then its precompressed
# siblings and its pre-built image variants, so the first visitor never waits for either.
#   BUILD (default build), MODE=development|production (default development)
set -eu
BUILD=${BUILD:-build}
MODE=${MODE:-development}
WWW="$BUILD/www"
bin="$BUILD/tessera"

# The image widths the app requests (assets/src/images.js avatars, assets/build.mjs HERO).
IMAGE_WIDTHS=32,64,96,384,640,828,1080

sh scripts/node-deps.sh

MODE=$MODE BUILD=$BUILD node assets/build.mjs

if [ "$MODE" = production ]; then
  "$bin" precompress "$WWW" --production
else
  "$bin" precompress "$WWW"
fi
"$bin" images build "$WWW" --widths "$IMAGE_WIDTHS"
