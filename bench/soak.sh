#!/usr/bin/env bash
# Soak run: keymux under concurrent load while the stub upstream injects random faults (429s, 500s,
# resets before/after the first byte, stalls before/after the first chunk). Fails if any request is
# lost or answered twice, if a lease is left unsettled, or if the heap grows past the tolerance.
# Prints the "SOAK ..." line with the figures at the end.
#
#   bench/soak.sh [SECONDS]     (default 60)
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
./mvnw -B -o -Psoak -pl proxy-server -am verify -Dtest=SoakTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dkeymux.soak.seconds="${1:-60}" >"$LOG" 2>&1
status=$?
grep -E 'Tests run:|FAIL|^SOAK ' "$LOG"
[ "$status" -eq 0 ] || tail -60 "$LOG"
exit "$status"
