#!/usr/bin/env bash
# Many concurrent SSE streams through one keymux with -Xmx512m (issue 26): COUNT streams opened over
# OPEN_SECONDS, each on its own connection, each held about 7 s by the mock upstream (first byte
# after 2 s). keymux runs as `bin/keymux serve` runs it (its default JVM flags and class archive),
# plus JAVA_OPTS=-Xmx512m, alone on core 1; the mock and the client on core 0.
#
#   bench/many-streams.sh                 # COUNT from the descriptor limit: 9,000 at 20,000
#   COUNT=2000 bench/many-streams.sh
#   KEYMUX_OPTS=-XX:NativeMemoryTracking=summary NMT=1 bench/many-streams.sh   # + an NMT summary at the peak
#   IMAGE=ghcr.io/keymux/keymux:0.1.0-SNAPSHOT bench/many-streams.sh
#       keymux as the image in a 512 MiB container (MEM) instead, with the image's own JVM flags (heap
#       50% of the limit) and KEYMUX_OPTS after them; needs podman (CONTAINERS_CONF as in
#       ../shared/CONTAINERS.md, whose nofile limit of 20,000 the container gets)
#
# Checks that every stream completed (200, read to its end) and that keymux settled exact usage for
# each: one audit line per stream, each with the prompt and completion tokens the mock reports for
# that body (a probe asks the mock directly), and keymux.tokens on /metrics equal to their sum.
# Prints RSS before, peak RSS (VmRSS every 50 ms) and (peak - before) / most streams open at once.
# keymux needs two descriptors per stream (client and upstream side), so the script raises its own
# soft limit to the hard one and sizes COUNT to (hard limit - 2,000) / 2, at most 10,000.
set -euo pipefail
cd "$(dirname "$0")/.."

ulimit -n "$(ulimit -Hn)"
hard=$(ulimit -n)
default_count=$(( (hard - 2000) / 2 ))
[ "$default_count" -le 10000 ] || default_count=10000
COUNT=${COUNT:-$default_count}
OPEN_SECONDS=${OPEN_SECONDS:-5}
KEYMUX_OPTS=${KEYMUX_OPTS:-}
IMAGE=${IMAGE:-}
MEM=${MEM:-512m}
MOCK_PORT=18281
KEYMUX_PORT=18287
ADMIN_PORT=18288
CORE_LOAD=0
CORE_KEYMUX=1
JAR=proxy-server/target/keymux.jar
[ -f "$JAR" ] || ./mvnw -q -B -DskipTests package >&2

# shellcheck source=bench/lib.sh
. bench/lib.sh
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

taskset -c $CORE_LOAD java -Xmx512m -cp "$JAR" io.keymux.server.demo.MockUpstreamMain $MOCK_PORT 2000 \
  bench-upstream-key 2>"$work/mock.log" &
pids+=($!)
wait_port $MOCK_PORT

filler=$(printf 'lorem ipsum dolor sit amet %.0s' $(seq 1 32))
body='{"model":"bench","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"'"$filler"'"}]}'
printf '%s' "$body" >"$work/sse.body"
# What the mock reports for this body once keymux has added stream_options.include_usage (it counts
# bytes, so where the field goes does not matter): asked of the mock directly, not of keymux.
probe=$(curl -sN -H 'Authorization: Bearer bench-upstream-key' -H 'Content-Type: application/json' \
  --data-binary "${body%\}},\"stream_options\":{\"include_usage\":true}}" "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" \
  | grep -o '"usage":{"prompt_tokens":[0-9]*,"completion_tokens":[0-9]*')
want_prompt=$(sed 's/.*"prompt_tokens":\([0-9]*\).*/\1/' <<<"$probe")
want_completion=$(sed 's/.*"completion_tokens":\([0-9]*\)/\1/' <<<"$probe")

write_bench_config "$work/keymux.yaml" $KEYMUX_PORT $ADMIN_PORT $MOCK_PORT 20000
if [ -z "$IMAGE" ]; then
  JAVA_OPTS="-Xmx512m $KEYMUX_OPTS" taskset -c $CORE_KEYMUX bin/keymux serve --config "$work/keymux.yaml" \
    >"$work/audit.jsonl" 2>"$work/keymux.log" &
  keymux_pid=$!
else
  # The image as the chart runs it, its own JVM flags (heap from the limit), KEYMUX_OPTS after them.
  chmod 755 "$work"; mkdir -m 755 "$work/cfg"; cp "$work/keymux.yaml" "$work/cfg/config.yaml"; chmod 644 "$work/cfg/config.yaml"
  container="keymux-many-$$"
  podman run -d --name "$container" --network=host --memory "$MEM" --cpuset-cpus $CORE_KEYMUX --read-only --tmpfs /tmp \
    --user 10001:10001 --cap-drop=ALL --security-opt no-new-privileges -e "JAVA_OPTS=$KEYMUX_OPTS" \
    -v "$work/cfg:/etc/keymux:ro" "$IMAGE" >/dev/null
  trap 'podman rm -f "$container" >/dev/null 2>&1 || true; cleanup' EXIT
  for _ in $(seq 1 100); do
    keymux_pid=$(podman inspect -f '{{.State.Pid}}' "$container"); [ "$keymux_pid" != 0 ] && break; sleep 0.1
  done
fi
for _ in $(seq 1 900); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null)" = 200 ] && break
  sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$ADMIN_PORT/readyz" || {
  [ -z "$IMAGE" ] || podman logs "$container" >"$work/keymux.log" 2>&1; cat "$work/keymux.log" >&2; exit 1; }
sleep 2
base=$(rss_kib "$keymux_pid")
echo "many-streams: $COUNT streams over ${OPEN_SECONDS}s, open files $hard, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "many-streams: keymux $(tr '\0' ' ' <"/proc/$keymux_pid/cmdline" | sed 's/ -jar .*//')"
echo "many-streams: the mock reports prompt_tokens $want_prompt, completion_tokens $want_completion per stream"

( peak=0; while kill -0 "$keymux_pid" 2>/dev/null; do r=$(rss_kib "$keymux_pid" 2>/dev/null || echo 0)
    [ "$r" -gt "$peak" ] && peak=$r && echo $peak >"$work/peak"; sleep 0.05; done ) &
sampler=$!
if [ -n "${NMT:-}" ]; then
  ( sleep $((OPEN_SECONDS + 3)); jcmd "$keymux_pid" VM.native_memory summary scale=MB >"$work/nmt.txt" 2>&1
    awk '/VmRSS/ { print "rss at the NMT summary: " int($2 / 1024) " MiB" }' "/proc/$keymux_pid/status" >>"$work/nmt.txt" ) &
  nmt=$!
fi
taskset -c $CORE_LOAD java -XX:+UseSerialGC -Xmx256m bench/BenchClient.java streams $KEYMUX_PORT /v1/chat/completions \
  bench-client-key "$work/sse.body" "$COUNT" "$OPEN_SECONDS" >"$work/streams.txt"
kill $sampler 2>/dev/null; wait $sampler 2>/dev/null || true
[ -z "${nmt:-}" ] || wait "$nmt" || true
peak=$(cat "$work/peak" 2>/dev/null || echo "$base")
after=$(rss_kib "$keymux_pid")
sleep 1 # the audit writer drains its queue every few milliseconds; give it the last lines
[ -z "$IMAGE" ] || podman logs "$container" >"$work/audit.jsonl" 2>"$work/keymux.log"
peak_cgroup=
if [ -n "$IMAGE" ]; then
  # cgroup v1's peak, or v2's
  peak_cgroup=$( { cat "/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' "/proc/$keymux_pid/cgroup")/memory.max_usage_in_bytes" \
    || cat "/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$keymux_pid/cgroup")/memory.peak"; } 2>/dev/null \
    | awk -v mem="$MEM" '{ print ", cgroup peak " int($1 / 1048576) " MiB of " mem }')
  echo "many-streams: container $(podman inspect -f 'running={{.State.Running}} oomkilled={{.State.OOMKilled}}' "$container")"
fi

awk -v base="$base" -v peak="$peak" -v after="$after" -v cg="$peak_cgroup" '/complete/ { head = $0 } /^ttfb_us/ { t50 = $3; t99 = $7 } /^max_open/ { open = $2 }
  END { printf "many-streams: %s; ttfb p50 %.0f ms p99 %.0f ms\n", head, t50 / 1000, t99 / 1000
        printf "many-streams: rss before %d MiB, peak %d MiB, after %d MiB%s; %.1f KiB per open stream\n",
          base / 1024, peak / 1024, after / 1024, cg, (open > 0 ? (peak - base) / open : 0) }' "$work/streams.txt"
done=$(awk '/complete/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "complete,") print $i }' "$work/streams.txt")
lines=$(grep -c '"path":"/v1/chat/completions"' "$work/audit.jsonl" || true)
ok=$(grep '"path":"/v1/chat/completions"' "$work/audit.jsonl" | grep '"status":200' \
  | grep -c "\"prompt_tokens\":$want_prompt,\"completion_tokens\":$want_completion," || true)
tokens=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^keymux_tokens_total/ && !/cached/ { s += $NF } END { printf "%.0f", s }')
want_tokens=$(( done * (want_prompt + want_completion) ))
echo "many-streams: audit lines $lines, with status 200 and exact usage $ok; keymux_tokens_total $tokens (expected $want_tokens)"
[ -z "${NMT:-}" ] || grep -E '^(Total|-|rss)' "$work/nmt.txt" | sed -E 's/ +\(/ (/; s/^-? */many-streams: nmt /'
if [ "$done" = "$COUNT" ] && [ "$ok" = "$COUNT" ] && [ "$lines" = "$COUNT" ] && [ "$tokens" = "$want_tokens" ]; then
  echo "many-streams: PASS"
else
  echo "many-streams: FAIL"
  grep -v '"status":200' "$work/audit.jsonl" | head -3
  exit 1
fi
