#!/bin/sh
# fuzz.sh FILE... — builds each libFuzzer target with clang (ASan+UBSan) against the server
# sources and runs it for FUZZ_SECONDS (default 30) on its seed corpus.
set -eu
BUILD=${BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}
mkdir -p "$BUILD"
# The Makefile passes its package flags and link line, so both builds link the same way.
: "${FUZZ_CFLAGS:?run through make fuzz}" "${FUZZ_LIBS:?run through make fuzz}"
cflags="-g -O1 -std=c17 -D_GNU_SOURCE -Iinclude $FUZZ_CFLAGS -fsanitize=fuzzer,address,undefined"
libs="$FUZZ_LIBS"
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
