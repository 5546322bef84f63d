#!/usr/bin/env bash
# Makes keymux's AppCDS archive in the base image's own JRE (an archive only maps into the JVM build
# that wrote it), as proxy-image's package phase does before Jib packs it:
#   src/image/train-cds.sh BASE APP_DIR
# BASE: a Jib base reference (tar://FILE, docker://NAME or a registry name); APP_DIR holds
# keymux.jar and receives keymux.jsa. Runs two containers of BASE with the jar mounted where the
# image has it (/app/keymux.jar), as user 10001 on a read-only root: a training `keymux serve`
# (train.yaml: its warm-up drives the request path) that lists the classes it loads, then
# `java -Xshare:dump` of that list. The jar's mtime is set to Jib's (1 s after the epoch), because
# the JVM checks the jar's size and mtime against the archive's. Needs podman or docker
# (KEYMUX_CONTAINER_CLI picks one).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="$1"
app="$(cd "$2" && pwd)"
log() { printf 'train-cds: %s\n' "$*" >&2; }

cli="${KEYMUX_CONTAINER_CLI:-}"
if [ -z "$cli" ]; then
  if command -v podman >/dev/null; then cli=podman; elif command -v docker >/dev/null; then cli=docker; else
    log "neither podman nor docker found: the class archive must be made in the image's JRE"; exit 1; fi
fi

case "$base" in
  tar://*)
    image=$("$cli" load -q -i "${base#tar://}" | sed -n 's/^Loaded image[^:]*: *//p' | tail -1)
    [ -n "$image" ] || { log "could not load ${base#tar://}"; exit 1; } ;;
  docker://*) image="${base#docker://}" ;;
  registry://*) image="${base#registry://}" ;;
  *) image="$base" ;;
esac

jar="$app/keymux.jar"
[ -f "$jar" ] || { log "$jar is missing"; exit 1; }
touch -d @1 "$jar"
work=$(mktemp -d)
name="keymux-cds-$$"
cleanup() { "$cli" rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cp "$here/train.yaml" "$work/train.yaml"
chmod 0777 "$work"; chmod 0644 "$work/train.yaml"
run=("$cli" run --network=none --read-only --tmpfs /tmp --user 10001:10001 --cap-drop=ALL
     --security-opt no-new-privileges -v "$jar:/app/keymux.jar:ro" -v "$work:/out" -w /tmp --entrypoint java)

started=$(date +%s)
log "training run in $image"
"${run[@]}" -d --name "$name" "$image" -XX:DumpLoadedClassList=/out/classes.lst -XX:-UsePerfData \
  -Djava.io.tmpdir=/tmp -jar /app/keymux.jar serve --warm-up-first --config /out/train.yaml >/dev/null
# --warm-up-first: `keymux listening` comes once the warm-up has loaded the whole path's classes.
# The logs are read whole before grep: with pipefail, `logs | grep -q` fails when grep's early
# exit cuts the pipe.
listening() { local out; out=$("$cli" logs "$name" 2>&1) || return 1; grep -q 'keymux listening' <<<"$out"; }
deadline=$(( $(date +%s) + 120 ))
until listening; do
  [ "$("$cli" inspect -f '{{.State.Running}}' "$name")" = true ] || break
  [ "$(date +%s)" -lt "$deadline" ] || break
  sleep 0.2
done
listening || { "$cli" logs "$name" >&2; log "the training run did not start"; exit 1; }
"$cli" stop -t 30 "$name" >/dev/null
"$cli" rm -f "$name" >/dev/null
[ -s "$work/classes.lst" ] || { log "no class list written"; exit 1; }

"${run[@]}" --rm "$image" -Xshare:dump -XX:SharedClassListFile=/out/classes.lst \
  -XX:SharedArchiveFile=/out/keymux.jsa -cp /app/keymux.jar >"$work/dump.log" 2>&1 \
  || { tail -20 "$work/dump.log" >&2; log "-Xshare:dump failed"; exit 1; }
cp "$work/keymux.jsa" "$app/keymux.jsa"
log "$app/keymux.jsa: $(grep -c -v '^#' "$work/classes.lst") classes, $(du -h "$app/keymux.jsa" | cut -f1), $(( $(date +%s) - started )) s"
