#!/usr/bin/env bash
# The data-path benchmark (issues 12 and 26): the proxy under test alone on core 1 (`taskset -c 1`,
# so keymux's JVM sees one CPU), and nginx, the reference proxy, on that same core 1, as a user would
# deploy either; wrk, the mock upstream and the fixed-rate client on core 0. Everything on 127.0.0.1.
# (Before issue 26 nginx ran on core 0 beside wrk and the mock, which made keymux/nginx read ~2x too
# well: every ratio in BENCHMARKS.md before that section compares against a starved nginx.)
#
#   bench/dataplane.sh [all|warmup|steady|syscalls|rate|streams|many]
#
# Phases (all by default, in this order; each prints its own lines, prefixed by the phase):
#   warmup   a fresh keymux under wrk for WARMUP seconds (default 90) in 5 s windows: req/s and
#            CPU µs per request per window (the warm-up curve), from the first request on
#   steady   CYCLES (default 3) cycles of direct / nginx / keymux, RUN seconds each (default 10),
#            interleaved; req/s, CPU µs per request of nginx's worker and of keymux (utime+stime of
#            every thread, /proc/PID/stat, and the two apart: user and kernel time), ratios
#   syscalls strace -c -f on keymux and on nginx's worker for 5 s of wrk: syscalls per request
#   rate     bench/BenchClient.java at a fixed 1,000 req/s for 20 s over 16 connections, direct /
#            nginx / keymux: latency and TTFB p50/p99 (from the time each request was due), JSON
#            and SSE, and the proxy's CPU per request at that rate (RATE_BODIES="sse sse" runs SSE
#            twice, the second time with SSE's code compiled)
#   streams  a fresh keymux (and nginx, and direct), 2,000 SSE streams opened over 2 s, the mock
#            holding each about 1.4 s (first byte after 400 ms): TTFB p50/p99, all complete?, RSS
#            growth per open stream; then the same 2,000 again on that keymux (no longer fresh)
#   many     a fresh keymux with -Xmx512m, MANY (default 10000, or 9000 where the hard descriptor
#            limit is under 65,536, as on these machines' 20,000) streams opened over 5 s, each held
#            about 7 s by the mock: all complete?
#
# keymux runs the bench config: one task, four keys with limits far above the load, a client key,
# failover, usage injection, limits, metrics and the audit log (to a file) all on.
# KEYMUX_OPTS adds JVM options to keymux (e.g. an -agentpath for async-profiler), KEYMUX_ARGS
# options to its serve command (e.g. --warm-up 30). TRANSPORT=epoll|io_uring|nio picks keymux's
# socket transport (default: keymux's own choice, io_uring where the kernel allows it); Kubernetes'
# default seccomp profile refuses io_uring, so epoll is what most deployments run.
# Needs wrk, nginx, strace (installed with apt when missing and root).
set -euo pipefail
cd "$(dirname "$0")/.."

PHASES=${1:-all}
WARMUP=${WARMUP:-90}
CYCLES=${CYCLES:-3}
RUN=${RUN:-10}
# Each stream holds two sockets in keymux: 10,000 need more than a 20,000 hard limit leaves.
hard_files=$(ulimit -Hn)
if [ "$hard_files" = unlimited ] || [ "$hard_files" -ge 65536 ]; then MANY=${MANY:-10000}; else MANY=${MANY:-9000}; fi
CONNS=${CONNS:-32}
KEYMUX_OPTS=${KEYMUX_OPTS:-}
KEYMUX_ARGS=${KEYMUX_ARGS:-}
TRANSPORT=${TRANSPORT:-}
[ -z "$TRANSPORT" ] || KEYMUX_OPTS="$KEYMUX_OPTS -Dkeymux.transport=$TRANSPORT"
MOCK_PORT=18181       # answers at once
SLOW_MOCK_PORT=18182  # 400 ms to the first byte, ~1.4 s per stream
VSLOW_MOCK_PORT=18183 # 2 s to the first byte, ~7 s per stream
NGINX_PORT=18185
NGINX_SLOW_PORT=18186
KEYMUX_PORT=18187
ADMIN_PORT=18188
CORE_LOAD=0
CORE_KEYMUX=1

missing=()
for tool in wrk nginx strace; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# 10,000 streams hold 20,000 sockets in keymux (the client's and the upstream's) besides the JVM's
# own files: at the usual 20,000 descriptors the last streams failed for EMFILE under io_uring.
ulimit -n 65536 2>/dev/null || echo "note: open files limited to $(ulimit -n)" >&2

JAR=${JAR:-proxy-server/target/keymux.jar}
[ -f "$JAR" ] || ./mvnw -q -B -DskipTests package >&2

# shellcheck source=bench/lib.sh
. bench/lib.sh
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

# ---- the fixed parts: mocks, nginx, bodies ----------------------------------------------------

for spec in "$MOCK_PORT 0" "$SLOW_MOCK_PORT 400" "$VSLOW_MOCK_PORT 2000"; do
  set -- $spec
  taskset -c $CORE_LOAD java -Xmx512m -cp "$JAR" io.keymux.server.demo.MockUpstreamMain "$1" "$2" \
    bench-upstream-key 2>"$work/mock-$1.log" &
  pids+=($!)
done
for p in $MOCK_PORT $SLOW_MOCK_PORT $VSLOW_MOCK_PORT; do wait_port "$p"; done

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 20000;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 600s;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 64; keepalive_requests 10000000; }
  upstream slow { server 127.0.0.1:$SLOW_MOCK_PORT; keepalive 64; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer bench-upstream-key";
      proxy_buffering off;
    }
  }
  server {
    listen 127.0.0.1:$NGINX_SLOW_PORT;
    location / {
      proxy_pass http://slow;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer bench-upstream-key";
      proxy_buffering off;
    }
  }
}
NGINX
# nginx runs on the proxy's core, as keymux does: the ratio compares two proxies with one core each.
taskset -c $CORE_KEYMUX "$NGINX" -c "$work/nginx.conf" -p "$work" -g 'daemon on;'
wait_port "$NGINX_PORT"
nginx_worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)

# A ~1 KB chat completion (the issue's request size).
filler=$(printf 'lorem ipsum dolor sit amet %.0s' $(seq 1 32))
printf '{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"%s"}]}' \
  "$filler" >"$work/json.body"
printf '{"model":"bench","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"%s"}]}' \
  "$filler" >"$work/sse.body"
cat >"$work/post.lua" <<LUA
local f = io.open("$work/" .. (os.getenv("BENCH_BODY") or "json") .. ".body", "r")
wrk.method = "POST"
wrk.body   = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
LUA

start_keymux() { # upstream-port [max_connections]
  write_bench_config "$work/keymux.yaml" $KEYMUX_PORT $ADMIN_PORT "$1" "${2:-4096}"
  # shellcheck disable=SC2086
  taskset -c $CORE_KEYMUX java -Xmx512m $KEYMUX_OPTS -jar "$JAR" serve --config "$work/keymux.yaml" $KEYMUX_ARGS \
    >>"$work/audit.jsonl" 2>"$work/keymux.log" &
  keymux_pid=$!
  # Ready means /readyz answers 200 (after any warm-up keymux does before it).
  local started; started=$(date +%s%N)
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null)" = 200 ]; then
      echo "keymux ready after $(( ($(date +%s%N) - started) / 1000000 )) ms from the process start (idle RSS $(( $(rss_kib "$keymux_pid") / 1024 )) MiB, $(grep -o 'network transport: [a-z_]*' "$work/keymux.log" | tail -1)): $(grep -o 'warm-up: .*' "$work/keymux.log" | tail -1)"
      return 0
    fi
    sleep 0.1
  done
  echo "keymux did not become ready" >&2
  cat "$work/keymux.log" >&2
  return 1
}

stop_keymux() {
  kill "$keymux_pid" 2>/dev/null || true
  wait "$keymux_pid" 2>/dev/null || true
  keymux_pid=
}

# wrk for $2 seconds at $1's port; prints "req/s requests non2xx"
wrk_run() { # port seconds [body]
  BENCH_KEY=$([ "$1" = "$KEYMUX_PORT" ] && echo bench-client-key || echo bench-upstream-key) BENCH_BODY=${3:-json} \
    taskset -c $CORE_LOAD wrk -t2 -c"$CONNS" -d"${2}s" --latency -s "$work/post.lua" \
    "http://127.0.0.1:$1/v1/chat/completions" >"$work/wrk.txt" 2>&1 || true
  awk '/Requests\/sec/ { rps = $2 } /requests in/ { n = $1 } /Non-2xx/ { e = $NF }
       END { printf "%s %s %s\n", rps, n, (e == "" ? 0 : e) }' "$work/wrk.txt"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "dataplane: $(nproc) cores, load average $(loadavg), $(java -version 2>&1 | head -1), $(date -u +%FT%TZ)"

want() { [ "$PHASES" = all ] || [[ ",$PHASES," == *",$1,"* ]]; }

# ---- warm-up curve -------------------------------------------------------------------------------
if want warmup || want steady || want syscalls || want rate; then
  start_keymux $MOCK_PORT
fi
if want warmup; then
  echo "warmup: fresh keymux, wrk $CONNS connections, ${WARMUP}s in 5 s windows (seconds since first request: req/s, keymux CPU µs/request)"
  t=0
  while [ $t -lt "$WARMUP" ]; do
    c0=$(cpu_ticks "$keymux_pid")
    read -r rps n errs < <(wrk_run $KEYMUX_PORT 5)
    c1=$(cpu_ticks "$keymux_pid")
    t=$((t + 5))
    awk -v t=$t -v r="$rps" -v n="$n" -v e="$errs" -v c=$(( (c1 - c0) * TICK_US )) \
      'BEGIN { printf "warmup %3ds %9.0f req/s %7.1f us/req non2xx %s\n", t, r, (n > 0 ? c / n : 0), e }'
  done
fi

# ---- steady cycles --------------------------------------------------------------------------------
if want steady; then
  echo "steady: $CYCLES cycles of direct / nginx / keymux, ${RUN}s each (load average $(loadavg))"
  for cycle in $(seq 1 "$CYCLES"); do
    read -r d_rps _ _ < <(wrk_run $MOCK_PORT "$RUN")
    c0=$(cpu_ticks "$nginx_worker"); u0=$(user_ticks "$nginx_worker")
    read -r n_rps n_n _ < <(wrk_run $NGINX_PORT "$RUN")
    c1=$(cpu_ticks "$nginx_worker"); u1=$(user_ticks "$nginx_worker")
    k0=$(cpu_ticks "$keymux_pid"); ku0=$(user_ticks "$keymux_pid")
    read -r k_rps k_n k_e < <(wrk_run $KEYMUX_PORT "$RUN")
    k1=$(cpu_ticks "$keymux_pid"); ku1=$(user_ticks "$keymux_pid")
    awk -v c=$cycle -v d="$d_rps" -v n="$n_rps" -v k="$k_rps" -v nn="$n_n" -v kn="$k_n" -v ke="$k_e" \
      -v nc=$(( (c1 - c0) * TICK_US )) -v kc=$(( (k1 - k0) * TICK_US )) \
      -v nu=$(( (u1 - u0) * TICK_US )) -v ku=$(( (ku1 - ku0) * TICK_US )) 'BEGIN {
      printf "steady cycle %d: direct %.0f  nginx %.0f (%.1f us/req: user %.1f sys %.1f)  keymux %.0f (%.1f us/req: user %.1f sys %.1f, non2xx %s)  keymux/nginx %.2f  keymux/direct %.2f\n",
        c, d, n, nc / nn, nu / nn, (nc - nu) / nn, k, kc / kn, ku / kn, (kc - ku) / kn, ke, k / n, k / d }'
  done
  echo "steady: load average after $(loadavg)"
fi

# ---- syscalls per request ----------------------------------------------------------------------------
if want syscalls; then
  for target in nginx keymux; do
    if [ $target = nginx ]; then pid=$nginx_worker; port=$NGINX_PORT; else pid=$keymux_pid; port=$KEYMUX_PORT; fi
    strace -c -f -p "$pid" -o "$work/strace-$target.txt" 2>/dev/null &
    spid=$!
    sleep 1
    read -r _ n _ < <(wrk_run $port 5)
    kill -INT $spid; wait $spid 2>/dev/null || true
    total=$(awk '$NF == "total" { print $4 }' "$work/strace-$target.txt")
    top=$(awk 'NR > 2 && $NF != "total" && $1 !~ /^-/ { print $(NF) ":" ($5 ~ /^[0-9]+$/ && NF == 6 ? $4 : $4) }' \
      "$work/strace-$target.txt" | head -8 | tr '\n' ' ')
    awk -v t="$total" -v n="$n" -v who=$target -v top="$top" \
      'BEGIN { printf "syscalls %s: %.2f per request (%d calls, %d requests under strace; top: %s)\n", who, t / n, t, n, top }'
    # What each write carries: buffers (iovecs) and bytes per writev/sendto/write, from 2 s of calls.
    strace -f -p "$pid" -e trace=writev,sendto,write -e abbrev=all -s 0 -o "$work/writes-$target.txt" 2>/dev/null &
    spid=$!
    sleep 1
    wrk_run $port 2 >/dev/null
    kill -INT $spid; wait $spid 2>/dev/null || true
    awk -v who=$target '
      match($0, /(writev|sendto|write)\(/) {
        call = substr($0, RSTART, RLENGTH - 1); n[call]++
        if (match($0, /= [0-9]+$/)) bytes[call] += substr($0, RSTART + 2)
        if (call == "writev" && match($0, /\], [0-9]+\)/)) iov += substr($0, RSTART + 3, RLENGTH - 4)
      }
      END { line = ""; for (c in n) line = line sprintf(" %s %d calls, %.0f bytes each%s;", c, n[c], bytes[c] / n[c],
              c == "writev" ? sprintf(", %.1f buffers each", iov / n[c]) : "")
            printf "writes %s:%s\n", who, line }' "$work/writes-$target.txt"
  done
fi

# ---- fixed rate ---------------------------------------------------------------------------------------
client() { taskset -c $CORE_LOAD java -XX:+UseSerialGC -Xmx256m bench/BenchClient.java "$@"; }
if want rate; then
  for body in ${RATE_BODIES:-json sse}; do
    for target in direct nginx keymux; do
      case $target in direct) port=$MOCK_PORT key=bench-upstream-key ;; nginx) port=$NGINX_PORT key=x ;;
        keymux) port=$KEYMUX_PORT key=bench-client-key ;; esac
      case $target in direct) pid= ;; nginx) pid=$nginx_worker ;; keymux) pid=$keymux_pid ;; esac
      c0=${pid:+$(cpu_ticks "$pid")}
      client rate $port /v1/chat/completions $key "$work/$body.body" 1000 20 16 >"$work/rate.txt"
      c1=${pid:+$(cpu_ticks "$pid")}
      # The proxy's CPU per request at this rate (20,000 requests): where the loop wakes for each.
      cpu=${pid:+$(( (c1 - c0) * TICK_US / 20000 ))}
      awk -v who=$target -v body=$body -v cpu="$cpu" '/errors/ { ok = $0 } /^latency_us/ { l50 = $3; l99 = $7 } /^ttfb_us/ { t50 = $3; t99 = $7 }
        END { printf "rate %s %-6s 1000/s: latency p50 %d us p99 %d us, ttfb p50 %d us p99 %d us%s (%s)\n", body, who, l50, l99, t50, t99,
              cpu == "" ? "" : sprintf(", proxy CPU %d us/req", cpu), ok }' "$work/rate.txt"
    done
  done
fi
if [ -n "$keymux_pid" ]; then stop_keymux; fi

# ---- many streams on a fresh process ----------------------------------------------------------------------
streams() { # label port pid count seconds
  local base peak sampler
  base=$(rss_kib "$3")
  ( peak=0; while kill -0 "$3" 2>/dev/null; do r=$(rss_kib "$3" 2>/dev/null || echo 0); [ "$r" -gt "$peak" ] && peak=$r && echo $peak >"$work/peak"; sleep 0.05; done ) &
  sampler=$!
  client streams "$2" /v1/chat/completions "$6" "$work/sse.body" "$4" "$5" >"$work/streams.txt"
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null || true
  peak=$(cat "$work/peak" 2>/dev/null || echo "$base")
  awk -v who="$1" -v base="$base" -v peak="$peak" '/complete/ { head = $0 } /^ttfb_us/ { t50 = $3; t99 = $7 } /^max_open/ { open = $2 }
    END { printf "streams %s: %s; ttfb p50 %.1f ms p99 %.1f ms; rss %d -> %d KiB, %.1f KiB per open stream\n",
      who, head, t50 / 1000, t99 / 1000, base, peak, (open > 0 ? (peak - base) / open : 0) }' "$work/streams.txt"
  rm -f "$work/peak"
}
if want streams; then
  echo "streams: 2000 SSE streams over 2 s, first byte after 400 ms at the mock (load average $(loadavg))"
  client streams $SLOW_MOCK_PORT /v1/chat/completions bench-upstream-key "$work/sse.body" 2000 2 >/dev/null # warms the mock's JVM
  streams direct $SLOW_MOCK_PORT "${pids[1]}" 2000 2 bench-upstream-key
  streams nginx $NGINX_SLOW_PORT "$nginx_worker" 2000 2 x
  start_keymux $SLOW_MOCK_PORT
  streams keymux-fresh $KEYMUX_PORT "$keymux_pid" 2000 2 bench-client-key
  sleep 3 # the first round's streams end
  # The same process again: what is left once the first round compiled the stream path.
  streams keymux-second $KEYMUX_PORT "$keymux_pid" 2000 2 bench-client-key
  stop_keymux
fi
if want many; then
  echo "many: $MANY SSE streams over 5 s at keymux (-Xmx512m, fresh), each held ~7 s by the mock (load average $(loadavg))"
  start_keymux $VSLOW_MOCK_PORT 20000
  streams keymux-many $KEYMUX_PORT "$keymux_pid" "$MANY" 5 bench-client-key
  grep -c '"status":200' "$work/audit.jsonl" >/dev/null || true
  stop_keymux
fi
