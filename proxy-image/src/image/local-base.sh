#!/usr/bin/env bash
# Builds the offline JRE 17 base image from Debian packages (no image registry needed) and saves it
# as a `docker save`-style tar for Jib's tar:// base:
#   proxy-image/src/image/local-base.sh            # prints the tar's path
# The tar is cached in ~/.cache/keymux/base (proxy-image's pom looks there) and rebuilt only when missing or when
# this script changes. Needs root (debootstrap, chroot) and podman. The image: Debian bookworm
# minbase, openjdk-17-jre-headless, user and group keymux (10001), no apt lists, docs or man pages.
set -euo pipefail

cache="$HOME/.cache/keymux/base"
name=localhost/keymux-base-jre17:bookworm
tar="$cache/keymux-base-jre17-bookworm.tar"
stamp="$cache/keymux-base-jre17-bookworm.sha256"
self_sum=$(sha256sum "$0" | cut -d' ' -f1)

log() { printf 'local-base: %s\n' "$*" >&2; }

if [ -s "$tar" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$self_sum" ]; then
  echo "$tar"
  exit 0
fi

for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { log "$tool is missing (apt-get install debootstrap podman)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 1; }

# The Debian mirror apt already uses (deb822 or one-line sources), else deb.debian.org.
mirror=$(grep -hs -m1 -oP '^URIs:\s*\Khttp\S+/debian(?=/?$)' /etc/apt/sources.list.d/*.sources || true)
[ -n "$mirror" ] || mirror=$(grep -hs -m1 -oP '^deb\s+\Khttp\S+/debian(?=/?\s)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list || true)
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
started=$(date +%s)
log "debootstrap bookworm from $mirror (about a minute)"
debootstrap --variant=minbase --include=openjdk-17-jre-headless bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# Slim it: nothing a JVM reads at run time.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/* "$rootfs"/var/log/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/i18n/*
chroot "$rootfs" useradd -u 10001 -U -M -d /tmp -s /usr/sbin/nologin keymux
# A CDS archive of the JDK's own classes, if the package did not ship one (the app archive sits on top).
jvm=/usr/lib/jvm/java-17-openjdk-amd64
[ -f "$rootfs$jvm/lib/server/classes.jsa" ] || chroot "$rootfs" "$jvm/bin/java" -Xshare:dump >/dev/null

tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
podman import -q --change "ENV JAVA_HOME=$jvm" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' "$work/rootfs.tar" "$name" >/dev/null
rm -f "$tar.tmp"
podman save -q --format docker-archive -o "$tar.tmp" "$name" >/dev/null
mv "$tar.tmp" "$tar"
echo "$self_sum" >"$stamp"
log "$name saved to $tar ($(du -h "$tar" | cut -f1), $(( $(date +%s) - started )) s)"
echo "$tar"
