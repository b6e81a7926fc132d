#!/usr/bin/env bash
# Installs the Debian 12 packages Rigs needs to build, run, test and benchmark. Idempotent: only
# missing packages are installed, so a second run costs a second.
set -euo pipefail

PKGS=(
  # build
  gcc clang libclang-rt-14-dev meson ninja-build pkg-config git
  libh2o-evloop-dev libwslay-dev libsqlite3-dev libsodium-dev libjansson-dev libssl-dev
  libcurl4-openssl-dev libseccomp-dev libmnl-dev libnftables-dev
  # rig runtime: template build, disks
  debootstrap e2fsprogs util-linux iproute2 nftables
  # tests and tools
  python3 python3-pytest python3-yaml python3-websocket sqlite3 curl tmux clang-format cppcheck
  # benchmark peers
  nginx-light wrk bubblewrap iperf3
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# nginx-light's package starts a system nginx on port 80; benchmarks run their own instance.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
pkill -x nginx >/dev/null 2>&1 || true
