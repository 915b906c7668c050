#!/bin/sh
# static.sh — `make bench-static`: wrk against tessera and Debian's nginx serving the same
# folder side by side on loopback (64 connections, 10 s each; a benchmark, not a test).
#   cases: 2 KiB file, 100 KiB file (identity), 50 KiB minified JS with .br/.gz siblings
#   (Accept-Encoding: gzip, deflate, br) against nginx brotli_static/gzip_static, and the same
#   JS without siblings: tessera's in-memory variants against nginx `gzip on` level 6.
# Env: BUILD (build), DURATION (10s), CONNECTIONS (64), THREADS (2), ROUNDS (1: best of N).
set -eu
BUILD=${BUILD:-build}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
top=$(pwd)
bin="$top/$BUILD/tessera"
for tool in wrk nginx; do
  command -v "$tool" >/dev/null 2>&1 || { echo "static.sh: $tool is not installed (make deps)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "static.sh: $bin missing (make all)" >&2; exit 1; }

dir=$(mktemp -d /tmp/tessera-bench-static-XXXXXX)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done # nginx removes its pid file on the way out
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
mkdir -p "$dir/www" "$dir/www-nosib"
chmod 755 "$dir" "$dir/www" "$dir/www-nosib" # nginx workers run as another user

# -------------------------------------------------------------- the files
head -c 2048 /dev/urandom | base64 -w 76 | head -c 2048 > "$dir/www/file-2k.txt"
head -c 102400 /dev/urandom | base64 -w 76 | head -c 102400 > "$dir/www/file-100k.txt"
js=/usr/share/javascript/jquery/jquery.min.js
if [ -f "$js" ]; then head -c 51200 "$js" > "$dir/www/app.js"
else awk 'BEGIN{for(i=0;i<1200;i++)printf "function f%d(a,b){return a*%d+b.length}var v%d=f%d(1,\"x\");",i,i,i,i}' | head -c 51200 > "$dir/www/app.js"; fi
cp "$dir/www/app.js" "$dir/www-nosib/app.js"
"$bin" precompress "$dir/www" >/dev/null
for f in app.js.br app.js.gz; do [ -f "$dir/www/$f" ] || { echo "static.sh: precompress wrote no $f" >&2; exit 1; }; done
chmod 644 "$dir"/www/* "$dir"/www-nosib/*
rm -f "$dir/www/file-2k.txt.br" "$dir/www/file-2k.txt.gz" "$dir/www/file-100k.txt.br" "$dir/www/file-100k.txt.gz"

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
P_NGX=$(port); P_NGX_GZ=$(port); P_T=$(port); P_T_MEM=$(port)

# -------------------------------------------------------------- servers
sed -e "s#@DIR@#$dir#g" -e "s#@PORT_STATIC@#$P_NGX#g" -e "s#@PORT_GZIP@#$P_NGX_GZ#g" \
  "$top/tests/bench/static/nginx.conf.in" > "$dir/nginx.conf"
nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
pids="$pids $!"

cat > "$dir/tessera.ini" <<INI
[log]
access = off
[static]
root = $dir/www
INI
"$bin" serve --config "$dir/tessera.ini" --listen "127.0.0.1:$P_T" > "$dir/tessera.out" 2>&1 &
tpid=$!
pids="$pids $tpid"
sed "s#root = $dir/www#root = $dir/www-nosib#" "$dir/tessera.ini" > "$dir/tessera-mem.ini"
"$bin" serve --config "$dir/tessera-mem.ini" --listen "127.0.0.1:$P_T_MEM" > "$dir/tessera-mem.out" 2>&1 &
pids="$pids $!"

for p in $P_NGX $P_NGX_GZ $P_T $P_T_MEM; do
  for i in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p/app.js" && break; sleep 0.05; done
done
idle_rss=$(awk '/VmRSS/{print $2}' "/proc/$tpid/status")

# -------------------------------------------------------------- load
# Prints "req/s p99_ms" for one wrk run.
run_wrk() { # url [header]
  if [ -n "${2:-}" ]; then out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$2" "$1")
  else out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1"); fi
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}')
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/{printf "%s ", $0}')
  [ -n "$errs" ] && echo "  wrk: $errs" >&2
  echo "$rps $p99"
}
check_encoding() { # url expected-encoding
  got=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip, deflate, br' "$1" | awk 'tolower($1)=="content-encoding:"{print $2}' | tr -d '\r')
  [ "$got" = "$2" ] || echo "  warning: $1 answered Content-Encoding '${got:-identity}', expected $2" >&2
}
AE='Accept-Encoding: gzip, deflate, br'
check_encoding "http://127.0.0.1:$P_T/app.js" br
check_encoding "http://127.0.0.1:$P_NGX/app.js" br
check_encoding "http://127.0.0.1:$P_T_MEM/app.js" br
check_encoding "http://127.0.0.1:$P_NGX_GZ/app.js" gzip

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, best of $ROUNDS; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-38s %12s %9s %12s %9s %7s\n' case "tessera r/s" "p99 ms" "nginx r/s" "p99 ms" ratio
# Best of ROUNDS alternating runs (tessera, nginx, tessera, ...): other load on the machine
# only ever lowers a figure, so the best run is the least disturbed one.
best() { # "rps p99" "rps p99" -> the pair with the higher rps
  echo "$1 $2" | awk '{ if ($1 >= $3) print $1, $2; else print $3, $4 }'
}
bench_case() { # label tessera-url nginx-url [header]
  t="0 0"; n="0 0"
  for r in $(seq 1 "$ROUNDS"); do
    t=$(best "$t" "$(run_wrk "$2" "${4:-}")"); n=$(best "$n" "$(run_wrk "$3" "${4:-}")")
  done
  set -- "$1" $t $n
  printf '%-38s %12s %9s %12s %9s %7s\n' "$1" "$2" "$3" "$4" "$5" "$(awk -v a="$2" -v b="$4" 'BEGIN{printf "%.2f", a/b}')"
}
bench_case "2 KiB file (identity)" "http://127.0.0.1:$P_T/file-2k.txt" "http://127.0.0.1:$P_NGX/file-2k.txt"
bench_case "100 KiB file (identity)" "http://127.0.0.1:$P_T/file-100k.txt" "http://127.0.0.1:$P_NGX/file-100k.txt"
bench_case "50 KiB JS, br sibling vs brotli_static" "http://127.0.0.1:$P_T/app.js" "http://127.0.0.1:$P_NGX/app.js" "$AE"
bench_case "50 KiB JS, in memory vs gzip on (6)" "http://127.0.0.1:$P_T_MEM/app.js" "http://127.0.0.1:$P_NGX_GZ/app.js" "$AE"

size=$(stat -c %s "$bin")
busy_rss=$(awk '/VmRSS/{print $2}' "/proc/$tpid/status")
echo "tessera binary: $size bytes ($(awk -v s="$size" 'BEGIN{printf "%.0f", s/1024}') KiB, not stripped); idle RSS ${idle_rss} KiB, after the runs ${busy_rss} KiB"
echo "sizes: app.js $(stat -c %s "$dir/www/app.js") B, .br $(stat -c %s "$dir/www/app.js.br") B, .gz $(stat -c %s "$dir/www/app.js.gz") B"
