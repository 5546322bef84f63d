#!/usr/bin/env bash
# Cache load run (issue 14): what a cache hit costs against a miss, through the real jar, with wrk,
# and a herd of identical requests against a slow upstream.
#
#   bench/cache.sh [SECONDS] [CONNECTIONS] [HERD]
#
#   hit    every request has the same body: after the first, each is answered from memory
#   miss   every request has a new body (wrk's Lua counter): each goes upstream and is stored
#   off    the same body on a task that does not cache (task plain): keymux's plain path, for comparison
#   herd   HERD identical requests at once (curl) while the upstream takes 400 ms: how many
#          reached the upstream (keymux_cache_requests_total{result="miss"}), how many were coalesced
#
# For each of hit/miss/off: requests/s, latency p50/p99 (wrk) and keymux's CPU per request
# (utime+stime of the keymux process over the run / requests). Needs wrk and curl. Everything on
# 127.0.0.1; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-10}
CONNS=${2:-32}
HERD=${3:-100}
# Free ports picked by the kernel (other benchmarks may run on this machine at the same time).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MOCK_PORT=$(free_port)
SLOW_MOCK_PORT=$(free_port)
KEYMUX_PORT=$(free_port)
ADMIN_PORT=$(free_port)

JAR=proxy-server/target/keymux.jar
[ -f "$JAR" ] || ./mvnw -q -B -DskipTests package >&2

# shellcheck source=bench/lib.sh
. bench/lib.sh

java -Xmx256m -cp "$JAR" io.keymux.server.demo.MockUpstreamMain "$MOCK_PORT" 0 bench-upstream-key 2>"$work/mock.log" &
pids+=($!)
java -Xmx256m -cp "$JAR" io.keymux.server.demo.MockUpstreamMain "$SLOW_MOCK_PORT" 400 bench-upstream-key 2>"$work/slow.log" &
pids+=($!)
wait_port "$MOCK_PORT" 600
wait_port "$SLOW_MOCK_PORT" 600

cat >"$work/keymux.yaml" <<YAML
server: { port: $KEYMUX_PORT, admin_port: $ADMIN_PORT, bind: 127.0.0.1 }
admin: { token: bench-admin }
upstreams:
  mock: { base_url: "http://127.0.0.1:$MOCK_PORT", auth: bearer }
  slow: { base_url: "http://127.0.0.1:$SLOW_MOCK_PORT", auth: bearer }
default_upstream: mock
default_task: cached
tasks:
  - { name: cached, cache: { enabled: true, ttl: 1h } }
  - { name: plain }
  - { name: herd, upstream: slow, cache: { enabled: true, ttl: 1h } }
api_keys:
  - { key_id: k1, api_key: bench-upstream-key, task_types: [cached, plain], cost_per_token: 0.000001 }
  - { key_id: k2, api_key: bench-upstream-key, task_types: [herd], upstream: slow, cost_per_token: 0.000001 }
clients:
  - { name: bench, key: bench-client-key }
YAML
java -Xmx512m -jar "$JAR" serve --config "$work/keymux.yaml" >/dev/null 2>"$work/keymux.log" &
keymux_pid=$!
pids+=($keymux_pid)
wait_port "$KEYMUX_PORT" 600 || { cat "$work/keymux.log" >&2; exit 1; }

BODY='{"model":"gpt-4o","temperature":0,"max_tokens":64,"messages":[{"role":"user","content":"classify: the patient reports pain in the lower left molar"}]}'
cat >"$work/same.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-client-key"
wrk.headers["X-Task-Type"] = os.getenv("TASK")
LUA
cat >"$work/distinct.lua" <<'LUA'
local n = 0
local id = tostring(math.random(1, 1000000000))
request = function()
  n = n + 1
  local body = '{"model":"gpt-4o","temperature":0,"max_tokens":64,"messages":[{"role":"user","content":"classify case ' .. id .. '-' .. n .. '"}]}'
  return wrk.format("POST", "/v1/chat/completions",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer bench-client-key", ["X-Task-Type"] = "cached" }, body)
end
LUA

run() { # name script task
  local before after
  TASK=$3 wrk -t2 -c"$CONNS" -d2s -s "$work/$2.lua" "http://127.0.0.1:$KEYMUX_PORT/v1/chat/completions" >/dev/null 2>&1 || true
  kill -0 "$keymux_pid" 2>/dev/null || { echo "keymux exited:" >&2; tail -20 "$work/keymux.log" >&2; exit 1; }
  before=$(cpu_ticks "$keymux_pid")
  TASK=$3 wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$work/$2.lua" \
    "http://127.0.0.1:$KEYMUX_PORT/v1/chat/completions" >"$work/wrk.txt" 2>&1 || true
  after=$(cpu_ticks "$keymux_pid")
  awk -v name="$1" -v ticks=$((after - before)) -v tick_us="$TICK_US" '
    /Requests\/sec/ { rps = $2 } /requests in/ { n = $1 } /Non-2xx/ { e = $NF }
    /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
    END { printf "%-5s %10s req/s  p50 %-9s p99 %-9s keymux CPU %6.1f us/request  non-2xx %s\n",
                 name, rps, p50, p99, ticks * tick_us / (n > 0 ? n : 1), (e == "" ? 0 : e) }' "$work/wrk.txt"
}

kill -0 "$keymux_pid" 2>/dev/null || { echo "keymux exited:" >&2; cat "$work/keymux.log" >&2; exit 1; }
echo "cache: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $SECS s per run, $CONNS connections, $(date -u +%FT%TZ)"
run hit same cached
run miss distinct cached
run off same plain

metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v s="$1" 'index($0, s) == 1 { print $2 }'; }
HBODY=${BODY/classify:/herd $RANDOM:}
start=$(date +%s%N)
seq "$HERD" | xargs -P "$HERD" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
  -H 'Content-Type: application/json' -H 'Authorization: Bearer bench-client-key' -H 'X-Task-Type: herd' \
  --data "$HBODY" "http://127.0.0.1:$KEYMUX_PORT/v1/chat/completions" >"$work/herd.txt"
end=$(date +%s%N)
ok=$(grep -c '^200$' "$work/herd.txt" || true)
echo "herd  $HERD identical requests, upstream 400 ms: $ok answered 200 in $(( (end - start) / 1000000 )) ms;" \
  "reached the upstream: $(metric 'keymux_cache_requests_total{result="miss",task="herd"}'), coalesced:" \
  "$(metric 'keymux_cache_requests_total{result="coalesced",task="herd"}'), hits (arrived after it ended):" \
  "$(metric 'keymux_cache_requests_total{result="hit",task="herd"}')"
echo "cache bytes $(metric 'keymux_cache_bytes'), saved USD (cached task) $(metric 'keymux_cache_saved_cost_usd_total{task="cached"}')"
