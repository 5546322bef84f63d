#!/usr/bin/env bash
# Memory of keymux's image in a 512 MiB container under the bench load (BENCHMARKS.md, "Memory in a
# 512 MiB pod"): the image as the chart runs it (--memory 512m, read-only root, user 10001, no
# capabilities), the mock upstream on the host, wrk POSTing JSON, then SSE, chat completions.
#   bench/image-memory.sh [SECONDS_PER_MODE] [CONNECTIONS] [IMAGE]
# Prints the JVM's RSS and the cgroup's peak usage after each mode, and whether the kernel OOM-killed it.
# Needs podman (CONTAINERS_CONF as in ../shared/CONTAINERS.md), wrk, and the image (bin/build-image).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_MODE=${1:-30}
CONNECTIONS=${2:-64}
IMAGE=${3:-ghcr.io/keymux/keymux:$(grep -m1 -oP '(?<=<version>)[^<]+' pom.xml)}
JAR=proxy-server/target/keymux.jar
[ -f "$JAR" ] || { echo "build $JAR first (./mvnw -q -B -DskipTests package)" >&2; exit 1; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOCK_PORT=$(port); KEYMUX_PORT=$(port); ADMIN_PORT=$(port)
work=$(mktemp -d); chmod 755 "$work"
name="keymux-mem-$$"
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; [ -n "${mock:-}" ] && kill "$mock" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

java -Xmx512m -cp "$JAR" io.keymux.server.demo.MockUpstreamMain "$MOCK_PORT" bench-upstream-key 2>"$work/mock.log" &
mock=$!
mkdir "$work/cfg"; chmod 755 "$work/cfg"
cat >"$work/cfg/config.yaml" <<YAML
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
chmod 644 "$work/cfg/config.yaml"
podman run -d --name "$name" --network=host --memory 512m --read-only --tmpfs /tmp --user 10001:10001 \
  --cap-drop=ALL --security-opt no-new-privileges -v "$work/cfg:/etc/keymux:ro" "$IMAGE" >/dev/null
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$ADMIN_PORT/readyz" && break; sleep 0.1; done

cg() { podman exec "$name" sh -c "cat /sys/fs/cgroup/$1 2>/dev/null || cat /sys/fs/cgroup/memory/$2"; }
report() {
  local rss peak
  rss=$(podman exec "$name" sh -c "grep VmRSS /proc/1/status" | awk '{print int($2/1024)}')
  peak=$(cg memory.peak memory.max_usage_in_bytes 2>/dev/null | awk '{print int($1/1048576)}')
  printf '%-7s JVM RSS %4d MiB   cgroup peak %4s MiB   running %s\n' "$1" "$rss" "${peak:-?}" \
    "$(podman inspect -f '{{.State.Running}} oomkilled={{.State.OOMKilled}}' "$name")"
}
report ready
for mode in json stream; do
  if [ "$mode" = stream ]; then stream=true; else stream=false; fi
  cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body   = '{"model":"bench","stream":$stream,"messages":[{"role":"user","content":"hello there"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-client-key"
LUA
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_MODE}s" -s "$work/post.lua" "http://127.0.0.1:$KEYMUX_PORT/v1/chat/completions" \
    | awk -v m="$mode" '/Requests\/sec/ {printf "%-7s %s req/s\n", m, $2} /Non-2xx/ {print m, "non-2xx", $NF}'
  report "$mode"
done
