# Shared by the bench/ scripts (sourced, not run): a work directory removed on exit with every
# process the script started, a port wait, and CPU time of a process from /proc.
#
# A script appends the PIDs it starts to `pids`, may set `keymux_pid`, and writes nginx's pid file
# to "$work/nginx.pid"; all of them are stopped on exit.

work=$(mktemp -d)
pids=()
keymux_pid=
cleanup() {
  [ -n "$keymux_pid" ] && kill "$keymux_pid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wait_port PORT [TRIES]: waits until 127.0.0.1:PORT accepts, trying every 100 ms (default 300 tries).
wait_port() {
  for _ in $(seq 1 "${2:-300}"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 did not open" >&2
  return 1
}

# utime+stime of every thread of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# user_ticks PID: utime alone (field 14), to split a CPU figure into user and kernel time.
user_ticks() { awk '{ print $14 }' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# write_bench_config FILE KEYMUX_PORT ADMIN_PORT MOCK_PORT [MAX_CONNECTIONS]: the data-path bench's
# keymux config: one task with failover, four keys on the mock with limits far above any load, a
# client key; limits, usage, metrics and the audit line all stay on.
write_bench_config() {
  cat >"$1" <<YAML
server: { port: $2, admin_port: $3, bind: 127.0.0.1, max_connections: ${5:-4096} }
upstreams:
  mock: { base_url: "http://127.0.0.1:$4", auth: bearer }
default_upstream: mock
default_task: chat
tasks:
  - name: chat
    max_attempts: 3
    retry_on: [429, 500, 502, 503, 504, connect_error, timeout]
api_keys:
  - { key_id: bench_a, api_key: bench-upstream-key, task_types: [chat], max_rpm: 6000000, max_tpm: 6000000000 }
  - { key_id: bench_b, api_key: bench-upstream-key, task_types: [chat], max_rpm: 6000000, max_tpm: 6000000000 }
  - { key_id: bench_c, api_key: bench-upstream-key, task_types: [chat], max_rpm: 6000000, max_tpm: 6000000000 }
  - { key_id: bench_d, api_key: bench-upstream-key, task_types: [chat], max_rpm: 6000000, max_tpm: 6000000000 }
clients:
  - { name: bench, key: bench-client-key }
YAML
}
