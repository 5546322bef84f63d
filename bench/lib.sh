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
TICK_US=$((1000000 / $(getconf CLK_TCK)))
