#!/bin/sh
# fuzz.sh FILE... — builds each libFuzzer target with clang (ASan+UBSan) against the server
# sources and runs it for FUZZ_SECONDS (default 30) on its seed corpus.
set -eu
BUILD=${BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}
mkdir -p "$BUILD"
pkgs="zlib libbrotlienc libbrotlidec libwebp libwebpdemux libwebpmux libavif libpng libjpeg libpq inih jansson libargon2 libexif libswscale libavutil"
cflags="-g -O1 -std=c17 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags $pkgs) -fsanitize=fuzzer,address,undefined"
libs="-lcivetweb $(pkg-config --libs $pkgs) -lpthread -lm"
srcs=$(ls server/*/*.c)
make -s BUILD=build "build/gen/migrations_embedded.c" >/dev/null
for target in "$@"; do
  name=$(basename "$target" .c)
  echo "== $name"
  clang $cflags -DTESSERA_VERSION=\"fuzz\" -o "$BUILD/$name" "$target" $srcs build/gen/migrations_embedded.c $libs
  corpus="$BUILD/corpus-$name"
  mkdir -p "$corpus"
  seeds="tests/fuzz/seeds/$name"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  "$BUILD/$name" -max_total_time="$SECONDS_EACH" -print_final_stats=1 "$corpus" 2>&1 | tail -3
done
