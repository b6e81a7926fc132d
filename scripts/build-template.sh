#!/usr/bin/env bash
# Builds a rig template: TEMPLATES_DIR/NAME/rootfs, a read-only Debian 12 (bookworm) tree that rigs
# use as the lower layer of their root filesystem (see API.md, "Details pinned down / Rigs").
#
#   scripts/build-template.sh TEMPLATES_DIR [NAME]      (NAME defaults to "base")
#
# The tree is built in a temporary directory next to the target and renamed into place at the
# end, so a template is either absent or complete. TEMPLATES_DIR/NAME/recipe.sha256 records the
# hash of this recipe; when it matches, nothing is rebuilt. The Debian mirror is the one apt uses
# on this machine (or $RIGS_DEBIAN_MIRROR). Needs root, debootstrap and network access to it.
set -euo pipefail

usage() {
  echo "usage: $0 TEMPLATES_DIR [NAME]" >&2
  exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
TEMPLATES_DIR=$1
NAME=${2:-base}
if ! [[ $NAME =~ ^[a-z0-9-]{1,31}$ ]]; then
  echo "template name must match ^[a-z0-9-]{1,31}\$: $NAME" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "build-template.sh needs root (debootstrap, chroot)" >&2
  exit 1
fi

SUITE=bookworm
# Everything API.md promises, plus what the recipe itself needs (passwd for useradd, libc-bin).
PACKAGES=bash,coreutils,grep,sed,procps,iproute2,curl,ca-certificates,python3,busybox,passwd,libc-bin
RIG_UID=1000

# The recipe is this script: any change to it (packages, user, trimming) makes a new template.
RECIPE=$( { cat "$0"; echo "$NAME $SUITE $PACKAGES"; } | sha256sum | cut -d' ' -f1)

mkdir -p "$TEMPLATES_DIR"
chmod 0755 "$TEMPLATES_DIR"
TEMPLATES_DIR=$(cd "$TEMPLATES_DIR" && pwd -P)
TARGET=$TEMPLATES_DIR/$NAME

# One builder per template at a time (parallel test runs may all ask for it).
exec 9>"$TEMPLATES_DIR/.$NAME.lock"
flock 9

if [ -f "$TARGET/recipe.sha256" ] && [ "$(cat "$TARGET/recipe.sha256")" = "$RECIPE" ] &&
  [ -x "$TARGET/rootfs/usr/bin/bash" ]; then
  echo "template '$NAME' is cached at $TARGET (recipe ${RECIPE:0:12})"
  exit 0
fi

# The mirror apt is configured with (deb822 .sources first, then one-line sources.list).
find_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # A stanza whose Suites include $SUITE and whose URIs do not point at the security archive.
    uri=$(awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; ok = 0; enabled = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { n = split(substr($i, 8), s, /[ \t]+/); for (j = 1; j <= n; j++) if (s[j] == suite) ok = 1 }
          if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
        }
        if (ok && enabled && uris != "" && uris !~ /security/) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f")
    if [ -n "$uri" ]; then
      echo "$uri"
      return
    fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite && $i !~ /security/) { print $i; exit }
      }' "$f")
    if [ -n "$uri" ]; then
      echo "$uri"
      return
    fi
  done
  echo "http://deb.debian.org/debian"
}
MIRROR=${RIGS_DEBIAN_MIRROR:-$(find_mirror)}

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "==> installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi

START=$(date +%s)
TMP=$(mktemp -d "$TEMPLATES_DIR/.$NAME.tmp.XXXXXX")
ROOT=$TMP/rootfs

# debootstrap mounts /proc and /sys inside the target; never let rm cross into them.
cleanup() {
  local m
  if [ -n "${TMP:-}" ] && [ -d "$TMP" ]; then
    for m in $(awk -v p="$TMP/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
      umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$TMP"
  fi
}
trap cleanup EXIT

echo "==> building template '$NAME' (Debian $SUITE from $MIRROR) in $TMP"
echo "    debootstrap --variant=minbase: this downloads ~60 MB and takes about a minute"
LOG=$TMP/debootstrap.log
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"$LOG" 2>&1; then
  echo "debootstrap failed; last lines of its log:" >&2
  tail -n 30 "$LOG" >&2
  [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
  exit 1
fi
echo "    debootstrap done after $(($(date +%s) - START)) s"

echo "==> creating user 'user' ($RIG_UID:$RIG_UID, /home/user, /bin/bash)"
chroot "$ROOT" /usr/sbin/groupadd -g "$RIG_UID" user
chroot "$ROOT" /usr/sbin/useradd -u "$RIG_UID" -g "$RIG_UID" -m -d /home/user -s /bin/bash user
chown "$RIG_UID:$RIG_UID" "$ROOT/home/user"
chmod 0755 "$ROOT/home/user"

echo "==> configuring hostname, hosts and resolv.conf"
# Regular files (never symlinks into the host), so the runtime can rewrite them per rig.
rm -f "$ROOT/etc/hostname" "$ROOT/etc/hosts" "$ROOT/etc/resolv.conf"
echo "rig" >"$ROOT/etc/hostname"
cat >"$ROOT/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	rig
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
cat >"$ROOT/etc/resolv.conf" <<'EOF'
# Default resolvers of the rigs base template; the runtime may replace this file per rig.
nameserver 1.1.1.1
nameserver 8.8.8.8
EOF
chmod 0644 "$ROOT/etc/hostname" "$ROOT/etc/hosts" "$ROOT/etc/resolv.conf"

echo "==> trimming apt caches, docs, man pages and logs"
# Keep later `apt-get install` inside a rig small too.
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/rigs-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF
cat >"$ROOT/etc/apt/apt.conf.d/90rigs-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/lib/apt/lists/* \
  "$ROOT"/var/cache/debconf/*-old "$ROOT"/var/lib/dpkg/*-old "$ROOT"/debootstrap
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/lintian/*
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
find "$ROOT/var/log" -type f -delete
rm -f "$ROOT/etc/machine-id" && : >"$ROOT/etc/machine-id"
find "$ROOT" -xdev -name '__pycache__' -type d -prune -exec rm -rf {} +

if [ ! -x "$ROOT/usr/bin/bash" ] || [ ! -x "$ROOT/usr/bin/python3" ] || [ ! -x "$ROOT/usr/bin/curl" ]; then
  echo "template is incomplete (bash, python3 or curl missing)" >&2
  exit 1
fi

echo "$RECIPE" >"$TMP/recipe.sha256"
rm -f "$LOG"
chmod 0755 "$TMP"

# Swap the finished tree in. Rigs running on an older build keep their mounts of it; rebuild a
# template only while no rig uses it.
if [ -e "$TARGET" ]; then
  OLD=$(mktemp -d "$TEMPLATES_DIR/.$NAME.old.XXXXXX")
  mv -T "$TARGET" "$OLD/t"
  mv -T "$TMP" "$TARGET"
  rm -rf --one-file-system "$OLD"
else
  mv -T "$TMP" "$TARGET"
fi
TMP=
SIZE=$(du -sh --one-file-system "$TARGET/rootfs" | cut -f1)
echo "==> template '$NAME' ready at $TARGET/rootfs ($SIZE, $(($(date +%s) - START)) s)"
