#!/usr/bin/env bash
# Idle memory of keymux's image in a 512 MiB container (issue 26; BENCHMARKS.md, "Idle memory, round
# two"): the image as the chart runs it (--memory 512m, read-only root, user 10001, no capabilities,
# the engine's default seccomp profile, so epoll), one task and two keys, no traffic. Waits for
# /readyz 200 (the warm-up is over), then reads the JVM's RSS after each of WAITS seconds.
#   bench/idle-memory.sh LABEL [JVM_FLAG...]     # flags go in JAVA_OPTS, after the image's own
#   WAITS="5 30 60" NMT=1 bench/idle-memory.sh nmt -XX:NativeMemoryTracking=summary
#   ENVS="-e MALLOC_ARENA_MAX=2" CPUS=1 bench/idle-memory.sh arena2-1cpu
# Prints one line per wait: time to ready, VmRSS with its anonymous and file-backed parts
# (/proc/PID/smaps_rollup), threads, the container's memory cgroup usage; then the heap's generations
# (jcmd GC.heap_info). NMT=1 also writes jcmd VM.native_memory summary to $OUT/nmt-LABEL.txt, SMAPS=1
# /proc/PID/smaps and the log to $OUT. jcmd is the host's: the image has a JRE only.
# Needs podman (CONTAINERS_CONF as in ../shared/CONTAINERS.md) and the image (bin/build-image).
set -euo pipefail
cd "$(dirname "$0")/.."
label=${1:?usage: bench/idle-memory.sh LABEL [JVM_FLAG...]}
shift
opts="$*"
IMAGE=${IMAGE:-ghcr.io/keymux/keymux:$(grep -m1 -oP '(?<=<version>)[^<]+' pom.xml)}
MEM=${MEM:-512m}
WAITS=${WAITS:-5 30}
OUT=${OUT:-/tmp}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KP=$(port); AP=$(port); MP=$(port)
work=$(mktemp -d); chmod 755 "$work"; mkdir "$work/cfg"; chmod 755 "$work/cfg"
# The upstream is never called: idle means no traffic.
cat >"$work/cfg/config.yaml" <<YAML
server: { port: $KP, admin_port: $AP, bind: 127.0.0.1 }
upstreams:
  mock: { base_url: "http://127.0.0.1:$MP", auth: bearer }
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
chmod 644 "$work/cfg/config.yaml"
name="keymux-idle-$$"
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck disable=SC2086
podman run -d --name "$name" --network=host --memory "$MEM" ${CPUS:+--cpus $CPUS} --read-only --tmpfs /tmp \
  --user 10001:10001 --cap-drop=ALL --security-opt no-new-privileges ${ENVS:-} -e "JAVA_OPTS=$opts" \
  -v "$work/cfg:/etc/keymux:ro" "$IMAGE" >/dev/null
t0=$(date +%s%N)
ready=
for _ in $(seq 1 900); do
  if curl -sf -o /dev/null "http://127.0.0.1:$AP/readyz"; then ready=$(( ($(date +%s%N) - t0) / 1000000 )); break; fi
  sleep 0.1
done
[ -n "$ready" ] || { podman logs "$name" | tail -20 >&2; echo "$label: not ready" >&2; exit 1; }
pid=$(podman inspect -f '{{.State.Pid}}' "$name")
cgroup_usage() {
  local path; path=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
  if [ -n "$path" ]; then cat "/sys/fs/cgroup/memory$path/memory.usage_in_bytes"
  else cat "/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")/memory.current"; fi 2>/dev/null \
    | awk '{ print int($1 / 1048576) }'
}
elapsed=0
for w in $WAITS; do
  sleep $((w - elapsed)); elapsed=$w
  rss=$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$pid/status")
  threads=$(awk '/Threads/ { print $2 }' "/proc/$pid/status")
  read -r anon file < <(awk '/^Rss:/ { r = $2 } /^Anonymous:/ { a = $2 } END { print int(a / 1024), int((r - a) / 1024) }' \
    "/proc/$pid/smaps_rollup")
  printf '%-28s ready %5d ms  +%3ds  RSS %4d MiB (anon %d, file %d)  threads %d  cgroup %s MiB\n' \
    "$label" "$ready" "$w" "$rss" "$anon" "$file" "$threads" "$(cgroup_usage)"
done
jcmd "$pid" GC.heap_info 2>/dev/null | grep -E 'generation|garbage-first|Metaspace' | tr -s ' ' | sed "s/^/$label heap:/" || true
[ -z "${NMT:-}" ] || jcmd "$pid" VM.native_memory summary scale=KB >"$OUT/nmt-$label.txt" 2>&1 || true
if [ -n "${SMAPS:-}" ]; then cp "/proc/$pid/smaps" "$OUT/smaps-$label.txt"; podman logs "$name" >"$OUT/log-$label.txt" 2>&1; fi
