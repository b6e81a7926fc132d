#!/usr/bin/env bash
# Benchmark: rig start. Time from POST /api/rigs to the first successful POST /api/rigs/{id}/exec
# {"cmd":["true"]}, for N rigs created one after the other over one keep-alive connection, against
# bwrap (bubblewrap) cold-starting /bin/true with all namespaces on the same template rootfs.
#
# Usage: bench/rig_start.sh [N]      (as root on Debian 12; installs bubblewrap, curl if missing)
#
# Environment:
#   N              rigs to start (default 100); a positional argument wins
#   RIGD_BIN       the built rigd (default <repo>/build/src/rigd/rigd); this script builds nothing
#   TEMPLATES_DIR  rig templates (default /var/cache/rigs/templates; needs base/rootfs)
#
# Output: a summary table on stdout, and bench/results/rig_start.json.
# Exit status: 0 done; 2 an answer was not 2xx or an exec failed (details and the rigd log tail on
# stderr; the numbers are not valid); 1 set-up failure. Timing is never asserted.
set -euo pipefail

NAME=rig_start
N=${1:-${N:-100}}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: N must be a positive integer" >&2; exit 1; }

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RIGD_BIN=${RIGD_BIN:-$REPO/build/src/rigd/rigd}
TEMPLATES_DIR=${TEMPLATES_DIR:-/var/cache/rigs/templates}
RESULTS_DIR=$BENCH_DIR/results
PY=/usr/bin/python3

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# --- prerequisites --------------------------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "run as root (rigd's rig runtime needs it)"
need_pkgs=()
command -v bwrap >/dev/null 2>&1 || need_pkgs+=(bubblewrap)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
[ -x "$PY" ] || die "$PY not found"
[ -x "$RIGD_BIN" ] || die "rigd not found at $RIGD_BIN (build it: meson setup build && ninja -C build, or set RIGD_BIN)"
[ -d "$TEMPLATES_DIR/base/rootfs" ] || die "no template at $TEMPLATES_DIR/base/rootfs (scripts/build-template.sh $TEMPLATES_DIR)"

# --- temp dirs, processes, cleanup ----------------------------------------------------------------

WORK=$(mktemp -d "/tmp/rigs-bench-${NAME//_/-}.XXXXXX")
DATA=$WORK/data
RIGD_PID=
HELPER_PID=
RIGD_URL=
export RIGS_API_KEY=

# shellcheck disable=SC2317 # called from the EXIT trap
stop_pid() { # pid: TERM, wait up to 20 s (the helper deletes its rigs first), then KILL
	local pid=$1 _
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # called from the EXIT trap
leftover_pids() { # rig-shim processes serving rigs of $DATA, and every process in those rigs' cgroups
	local d id c
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = rig-shim ] || continue
		tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF "$DATA/rigs/" && echo "${d#/proc/}"
	done
	for id in "$DATA"/rigs/rig_*; do
		id=${id##*/}
		for c in /sys/fs/cgroup/{memory,pids,cpu,freezer,}/rigs/"$id"; do
			if [ -d "$c" ]; then find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
		done
	done
	return 0
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local rc=$? pids pid id c
	trap - EXIT INT TERM
	stop_pid "$HELPER_PID"
	if [ -n "$RIGD_PID" ] && kill -0 "$RIGD_PID" 2>/dev/null && [ -n "$RIGS_API_KEY" ]; then
		"$PY" "$BENCH_DIR/rigbench.py" cleanup --url "$RIGD_URL" || true
	fi
	stop_pid "$RIGD_PID"
	# Rigs outlive rigd: anything still running now was not deleted through the API.
	pids=$(leftover_pids | sort -un | xargs)
	if [ -n "$pids" ]; then
		log "rig processes left after cleanup (killed): $pids"
		for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
		sleep 0.5
		for id in "$DATA"/rigs/rig_*; do
			id=${id##*/}
			for c in /sys/fs/cgroup/{memory,pids,cpu,freezer,}/rigs/"$id"; do
				if [ -d "$c" ]; then find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
			done
		done
		[ "$rc" -ne 0 ] || rc=2
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { # a TCP port on 127.0.0.1 with no listener, below the usual ephemeral range
	local p _
	for _ in $(seq 1 500); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

wait_http() { # url pid name: wait up to 15 s for a 200
	local url=$1 pid=$2 name=$3 _
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || return 1
		if [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 200 ]; then
			return 0
		fi
		sleep 0.1
	done
	log "$name did not answer 200 at $url within 15 s"
	return 1
}

# --- rigd -----------------------------------------------------------------------------------------

"$RIGD_BIN" init --data-dir "$DATA" >"$WORK/init.out" 2>"$WORK/init.err" ||
	die "rigd init failed: $(cat "$WORK/init.err")"
RIGS_API_KEY=$(grep -v '^[[:space:]]*$' "$WORK/init.out" | tail -n 1 | tr -d '[:space:]')
[[ $RIGS_API_KEY =~ ^rb_[0-9A-Za-z]{32}$ ]] || die "the last line of rigd init is not a key"

RIGD_PORT=$(free_port) || die "no free port"
RIGD_URL=http://127.0.0.1:$RIGD_PORT
# Its own session: a Ctrl-C to this script's process group must not stop rigd before the helper
# has deleted its rigs (rigs outlive rigd).
setsid "$RIGD_BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$RIGD_PORT" \
	--rate-limit rigs=0 --rate-limit other=0 --templates-dir "$TEMPLATES_DIR" \
	--quota-project-rigs $((N + 10)) </dev/null >"$WORK/rigd.out" 2>"$WORK/rigd.log" &
RIGD_PID=$!
if ! wait_http "$RIGD_URL/healthz" "$RIGD_PID" rigd; then
	tail -n 30 "$WORK/rigd.log" >&2 || true
	die "rigd serve did not come up"
fi
RIGD_VERSION=$(curl -s "$RIGD_URL/healthz" | sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
BWRAP_VERSION=$(bwrap --version | awk '{ print $NF }')

# --- measure --------------------------------------------------------------------------------------

mkdir -p "$RESULTS_DIR"
# The commit of the source tree, a hint of what rigd was built from (this script builds nothing).
SOURCE=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
META=$(printf '{"source": "%s", "versions": {"rigd": "%s", "bwrap": "%s"}}' "$SOURCE" "$RIGD_VERSION" "$BWRAP_VERSION")
log "starting $N rigs (and $N bwrap runs) against rigd $RIGD_VERSION at $RIGD_URL"
# In the background so that a signal to this script is handled (and cleans up) at once.
"$PY" "$BENCH_DIR/rigbench.py" start --n "$N" --url "$RIGD_URL" --data-dir "$DATA" \
	--templates-dir "$TEMPLATES_DIR" --out "$RESULTS_DIR/$NAME.json" --meta "$META" &
HELPER_PID=$!
rc=0
wait "$HELPER_PID" || rc=$?
HELPER_PID=
if [ "$rc" -ne 0 ]; then
	log "the run failed (exit $rc); rigd log tail:"
	tail -n 30 "$WORK/rigd.log" >&2 || true
	exit "$rc"
fi
kill -0 "$RIGD_PID" 2>/dev/null || { log "rigd died: $(tail -n 20 "$WORK/rigd.log")"; exit 2; }
exit 0
