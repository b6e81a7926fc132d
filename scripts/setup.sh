#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine as root: installs the packages, builds, installs rigd and rig
# on the PATH, initialises the default data dir (printing the admin key once) and starts
# `rigd serve` on 127.0.0.1:7070.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=${RIGS_DATA_DIR:-/var/lib/rigs}
LISTEN=${RIGS_LISTEN:-127.0.0.1:7070}
LOG=${RIGS_LOG:-/var/log/rigd.log}

echo "==> [1/5] installing Debian packages"
./scripts/deps.sh

echo "==> [2/5] building the base template (Debian 12, about a minute the first time)"
./scripts/build-template.sh /var/cache/rigs/templates

echo "==> [3/5] building"
[ -f build/build.ninja ] || meson setup build --prefix=/usr/local >/dev/null
ninja -C build

echo "==> [4/5] installing rigd and rig into /usr/local/bin"
meson install -C build --quiet --no-rebuild

echo "==> [5/5] starting rigd"
if [ ! -f "$DATA_DIR/secret.key" ]; then
  rigd init --data-dir "$DATA_DIR"
  echo "    (the line above is the admin API key: export RIGS_API_KEY=<key> or run 'rig login --key <key>')"
else
  echo "    $DATA_DIR is already initialised; keeping it"
fi
if curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1; then
  echo "    rigd already answers on $LISTEN"
else
  setsid nohup rigd serve --data-dir "$DATA_DIR" --listen "$LISTEN" >>"$LOG" 2>&1 < /dev/null &
  for _ in $(seq 50); do
    curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://$LISTEN/healthz" >/dev/null || { echo "rigd did not start; see $LOG" >&2; exit 1; }
  echo "    rigd is serving on http://$LISTEN (log: $LOG)"
fi
