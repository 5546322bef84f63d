#!/usr/bin/env bash
# Load run: the same mock upstream reached directly, through nginx and through keymux, on this
# machine, with wrk. Prints requests/s and latency for each and keymux's ratios to the others.
#
#   bench/load.sh [SECONDS] [CONNECTIONS] [stream|json]
#
# Needs wrk and nginx (Debian packages `wrk`, `nginx`); installs them if missing and root.
# Traffic goes to 127.0.0.1 only; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${1:-10}
CONNECTIONS=${2:-32}
MODE=${3:-json}
MOCK_PORT=18081
NGINX_PORT=18082
KEYMUX_PORT=18083
ADMIN_PORT=18084

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$tool" ]; then
    echo "installing $tool" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

JAR=proxy-server/target/keymux.jar
[ -f "$JAR" ] || ./mvnw -q -B -DskipTests package >&2

# shellcheck source=bench/lib.sh
. bench/lib.sh

java -Xmx512m -cp "$JAR" io.keymux.server.demo.MockUpstreamMain "$MOCK_PORT" bench-upstream-key 2>"$work/mock.log" &
pids+=($!)
wait_port "$MOCK_PORT" 100

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 64; }
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
}
NGINX
"$NGINX" -c "$work/nginx.conf" -p "$work" -g 'daemon on;'
wait_port "$NGINX_PORT" 100

cat >"$work/keymux.yaml" <<YAML
server: { port: $KEYMUX_PORT, admin_port: $ADMIN_PORT, bind: 127.0.0.1 }
upstreams:
  mock: { base_url: "http://127.0.0.1:$MOCK_PORT", auth: bearer }
default_upstream: mock
default_task: chat
tasks:
  - name: chat
api_keys:
  - { key_id: bench_a, api_key: bench-upstream-key, task_types: [chat] }
  - { key_id: bench_b, api_key: bench-upstream-key, task_types: [chat] }
clients:
  - { name: bench, key: bench-client-key }
YAML
java -Xmx512m -jar "$JAR" serve --config "$work/keymux.yaml" >/dev/null 2>"$work/keymux.log" &
pids+=($!)
# keymux binds only after its warm-up (serve --warm-up, 10 s by default).
wait_port "$KEYMUX_PORT" 600

if [ "$MODE" = stream ]; then
  body='{"model":"bench","stream":true,"messages":[{"role":"user","content":"hello there"}]}'
else
  body='{"model":"bench","messages":[{"role":"user","content":"hello there"}]}'
fi
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body   = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
LUA

run() { # name url key
  BENCH_KEY=$3 wrk -t2 -c"$CONNECTIONS" -d2s -s "$work/post.lua" "$2" >/dev/null 2>&1 || true   # warm-up
  BENCH_KEY=$3 wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$work/post.lua" "$2" >"$work/$1.txt" 2>&1
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$work/$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$work/$1.txt")
  errors=$(awk '/Non-2xx/ {print $NF}' "$work/$1.txt")
  printf '%-8s %12s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${errors:-0}"
  eval "rps_$1=$rps"
}

echo "load: ${SECONDS_PER_RUN}s per target, $CONNECTIONS connections, 2 wrk threads, mode $MODE, $(nproc) cores"
run direct "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" bench-upstream-key
run nginx  "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" unused
run keymux "http://127.0.0.1:$KEYMUX_PORT/v1/chat/completions" bench-client-key
awk -v d="$rps_direct" -v n="$rps_nginx" -v k="$rps_keymux" 'BEGIN {
  printf "keymux/direct %.2f   keymux/nginx %.2f   nginx/direct %.2f\n", k/d, k/n, n/d }'
