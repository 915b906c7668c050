#!/bin/sh
# images.sh — `make bench-images`: tessera's /_image against sharp with the Next.js
# optimizer's settings (tests/bench/images/sharp_next.mjs), on real photographs from
# Debian's plasma-workspace-wallpapers (LGPL-3 / CC-BY-SA-4.0, see each metadata.json).
#
# Per image, format (avif, webp) and width (640, 1080): cold-miss time (median of REPS; a
# `touch` of the source makes every tessera request a miss) and output bytes for both, and
# PSNR of each output against the same ImageMagick Lanczos resize of the source. Then hit
# req/s and p99 at 64 connections (wrk), and peak RSS across a 4000 px transcode.
# Like with like: tessera transcodes on every CPU, so sharp gets every CPU too
# (SHARP_CONCURRENCY, default nproc; sharp's glibc default, and so Next.js's, is 1).
# sharp's time is in-process toBuffer() (no file read, no Node start-up, after a warm-up);
# tessera's is a whole HTTP miss (request, file read, transcode, cache write, response): the
# HTTP part is printed as the hit latency so it can be told apart.
# Needs: wrk imagemagick webp libavif-bin plasma-workspace-wallpapers node/npm
# (WITH_BENCH=1 make deps). sharp is installed into tests/bench/images/node_modules.
set -eu

BUILD=${BUILD:-build}
REPS=${REPS:-3}
SHARP_CONCURRENCY=${SHARP_CONCURRENCY:-$(nproc)}
export SHARP_CONCURRENCY
BIN=$(pwd)/$BUILD/tessera
HERE=$(cd "$(dirname "$0")" && pwd)
WALL=/usr/share/wallpapers
WORK=$(mktemp -d /tmp/tessera-bench-images-XXXXXX)
PID=""

cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench-images: $1 is missing (WITH_BENCH=1 make deps)" >&2; exit 1; }; }
for tool in wrk convert compare avifdec dwebp node npm curl; do need "$tool"; done
[ -d "$WALL/Path" ] || { echo "bench-images: install plasma-workspace-wallpapers (WITH_BENCH=1 make deps)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench-images: build $BIN first" >&2; exit 1; }
if [ ! -d "$HERE/images/node_modules/sharp" ]; then
  (cd "$HERE/images" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi

# ---------------------------------------------------------------- the photographs
mkdir -p "$WORK/www" "$WORK/out"
for name in ColorfulCups Path BytheWater OneStandsOut; do
  cp "$WALL/$name/contents/images/2560x1600.jpg" "$WORK/www/$name.jpg"
done
# PNGs with alpha: two of the photographs with a soft elliptical alpha mask (derived).
for name in Canopee:3840x2160 Kokkini:3840x2160; do
  n=${name%%:*}; size=${name#*:}; w=${size%x*}; h=${size#*x}
  convert "$WALL/$n/contents/images/$size.png" \( -size "${w}x${h}" xc:black -fill white \
    -draw "ellipse $((w / 2)),$((h / 2)) $((w * 45 / 100)),$((h * 45 / 100)) 0,360" -blur 0x40 \) \
    -alpha off -compose copy_opacity -composite "$WORK/www/$n-alpha.png"
done
# The 4000 px source for the peak-RSS measurement.
convert "$WALL/IceCold/contents/images/5120x2880.png" -resize 4000x -quality 90 "$WORK/www/big4000.jpg"

# ---------------------------------------------------------------- the server
start_server() {
  cat > "$WORK/tessera.ini" <<EOF
[server]
listen = 127.0.0.1:0
[static]
root = $WORK/www
[images]
cache_dir = $WORK/cache
[log]
access = off
level = warn
EOF
  "$BIN" serve --config "$WORK/tessera.ini" > "$WORK/server.out" 2> "$WORK/server.err" &
  PID=$!
  for _ in $(seq 100); do
    PORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/server.out" | head -1)
    [ -n "$PORT" ] && break
    sleep 0.05
  done
  [ -n "$PORT" ] || { cat "$WORK/server.err" >&2; exit 1; }
  BASE="http://127.0.0.1:$PORT"
}
stop_server() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

psnr() { # reference.png output.{avif,webp} -> dB
  case "$2" in
    *.avif) avifdec "$2" "$2.png" >/dev/null 2>&1 ;;
    *.webp) dwebp "$2" -o "$2.png" >/dev/null 2>&1 ;;
  esac
  compare -metric PSNR "$1" "$2.png" null: 2>&1 | awk '{ printf "%.2f", $1 }'
}

start_server
echo "bench-images: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), REPS=$REPS, sharp concurrency $SHARP_CONCURRENCY, $(node -e "console.log('sharp ' + require('$HERE/images/node_modules/sharp').versions.sharp + ', libvips ' + require('$HERE/images/node_modules/sharp').versions.vips)")"
echo
echo "| image | format | w | tessera miss ms | sharp ms | time ratio | tessera bytes | sharp bytes | bytes ratio | tessera PSNR | sharp PSNR |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for src in "$WORK"/www/ColorfulCups.jpg "$WORK"/www/Path.jpg "$WORK"/www/BytheWater.jpg "$WORK"/www/OneStandsOut.jpg \
           "$WORK"/www/Canopee-alpha.png "$WORK"/www/Kokkini-alpha.png; do
  file=$(basename "$src")
  for w in 640 1080; do
    convert "$src" -auto-orient -resize "${w}x" "$WORK/out/ref-$file-$w.png"
    for fmt in avif webp; do
      out="$WORK/out/tessera-$file-$w.$fmt"
      times=""
      for _ in $(seq "$REPS"); do
        touch "$src" # a new mtime is a new cache key: a true miss every time
        t=$(curl -s -o "$out" -D "$WORK/h" -w '%{time_total}' -H "Accept: image/$fmt" "$BASE/_image?url=/$file&w=$w&q=75")
        grep -qi '^X-Cache: MISS' "$WORK/h" || { echo "bench-images: expected a MISS" >&2; exit 1; }
        times="$times $(echo "$t" | awk '{ printf "%.1f", $1 * 1000 }')"
      done
      t_ms=$(echo "$times" | tr ' ' '\n' | grep . | median)
      jobs="$src:$w:75:$fmt" # one warm-up job: libvips start-up is not a per-request cost
      for _ in $(seq "$REPS"); do jobs="$jobs $src:$w:75:$fmt"; done
      # shellcheck disable=SC2086
      s_ms=$(node "$HERE/images/sharp_next.mjs" "$WORK/out" $jobs | grep -v maxrss | tail -n +2 | awk '{ print $4 }' | median)
      s_out="$WORK/out/sharp-$file-$w.$fmt"
      t_bytes=$(stat -c %s "$out"); s_bytes=$(stat -c %s "$s_out")
      t_psnr=$(psnr "$WORK/out/ref-$file-$w.png" "$out"); s_psnr=$(psnr "$WORK/out/ref-$file-$w.png" "$s_out")
      echo "| $file | $fmt | $w | $t_ms | $s_ms | $(awk "BEGIN { printf \"%.2f\", $t_ms / $s_ms }") | $t_bytes | $s_bytes | $(awk "BEGIN { printf \"%.2f\", $t_bytes / $s_bytes }") | $t_psnr | $s_psnr |"
    done
  done
done

# ---------------------------------------------------------------- hits
echo
curl -s -o /dev/null -H 'Accept: image/avif' "$BASE/_image?url=/Path.jpg&w=640&q=75"
wrk -t2 -c64 -d10s --latency -H 'Accept: image/avif' "$BASE/_image?url=/Path.jpg&w=640&q=75" > "$WORK/wrk.txt"
echo "cache hit (Path.jpg w=640 avif, $(curl -s -o /dev/null -w '%{size_download}' -H 'Accept: image/avif' "$BASE/_image?url=/Path.jpg&w=640&q=75") bytes), wrk -t2 -c64 -d10s: $(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt") req/s, p99 $(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")"
hit_ms=$(for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' -H 'Accept: image/webp' "$BASE/_image?url=/Path.jpg&w=1080&q=75"; done | awk '{ printf "%.1f\n", $1 * 1000 }' | median)
echo "HTTP part of a miss (one hit of the largest output, Path.jpg w=1080 webp, median of 5): $hit_ms ms"
stop_server

# ---------------------------------------------------------------- peak RSS, 4000 px source
start_server
t=$(curl -s -o "$WORK/out/big.avif" -w '%{time_total}' -H 'Accept: image/avif' "$BASE/_image?url=/big4000.jpg&w=1080&q=75")
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$PID/status")
stop_server
s_rss=$(node "$HERE/images/sharp_next.mjs" "$WORK/out" "$WORK/www/big4000.jpg:1080:75:avif" | awk '/maxrss/ { print $2 }')
echo "peak RSS, 4000x2250 JPEG -> 1080 AVIF: tessera $((rss / 1024)) MB (whole server process, transcode $(echo "$t" | awk '{ printf "%.0f", $1 * 1000 }') ms); sharp/node $((s_rss / 1024)) MB"
