# shellcheck shell=bash
# Shared parts of the bench/*.sh scripts. Source it after setting NAME (the benchmark's name, used
# in messages, the temp dir name and bench/results/$NAME.json); it defines the paths below and the
# functions, and starts nothing.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RIGD_BIN=${RIGD_BIN:-$REPO/build/src/rigd/rigd}
TEMPLATES_DIR=${TEMPLATES_DIR:-/var/cache/rigs/templates}
RESULTS_DIR=$BENCH_DIR/results
PY=/usr/bin/python3
NEED_PKGS=()
: "${NAME:?set NAME before sourcing bench/lib.sh}"

# --- messages -------------------------------------------------------------------------------------

log() { printf '%s: %s\n' "$NAME" "$*" >&2; } # a message on stderr, prefixed with the benchmark's name

die() { # a set-up failure: the message on stderr, then exit 1
	log "error: $*"
	exit 1
}

# --- prerequisites --------------------------------------------------------------------------------

require_root() { [ "$(id -u)" -eq 0 ] || die "run as root ($1)"; } # why: die unless root

need_cmd() { command -v "$1" >/dev/null 2>&1 || NEED_PKGS+=("$2"); } # cmd pkg: queue pkg if cmd is missing

# shellcheck disable=SC2120 # its arguments are optional
install_needed() { # [apt-get install options]: apt-get install the queued NEED_PKGS (none: nothing)
	[ ${#NEED_PKGS[@]} -gt 0 ] || return 0
	[ "$(id -u)" -eq 0 ] || die "missing ${NEED_PKGS[*]}; run as root or install them with apt-get"
	log "installing ${NEED_PKGS[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" "${NEED_PKGS[@]}" >/dev/null
}

require_python() { [ -x "$PY" ] || die "$PY not found"; } # die unless $PY is there

require_rigd() { # die unless the built rigd is there
	[ -x "$RIGD_BIN" ] || die "rigd not found at $RIGD_BIN (build it: meson setup build && ninja -C build, or set RIGD_BIN)"
}

require_template() { # die unless the base template is there
	[ -d "$TEMPLATES_DIR/base/rootfs" ] || die "no template at $TEMPLATES_DIR/base/rootfs (scripts/build-template.sh $TEMPLATES_DIR)"
}

# shellcheck disable=SC2120 # its arguments are optional
check_rig_prereqs() { # [cmd pkg]...: the rig benchmarks' checks (root, these and curl installed, python, rigd, template)
	require_root "rigd's rig runtime needs it"
	while [ $# -ge 2 ]; do
		need_cmd "$1" "$2"
		shift 2
	done
	need_cmd curl curl
	install_needed
	require_python
	require_rigd
	require_template
}

# --- temp dirs, processes, cleanup ----------------------------------------------------------------

# shellcheck disable=SC2120 # its arguments are optional
make_workdir() { # [tag]: a fresh /tmp/rigs-bench-<tag>.XXXXXX in WORK (tag: NAME with - for _), DATA in it
	WORK=$(mktemp -d "/tmp/rigs-bench-${1:-${NAME//_/-}}.XXXXXX")
	DATA=$WORK/data
}

trap_exit() { # fn: run fn on exit; Ctrl-C exits 130, TERM 143 (both through fn)
	# shellcheck disable=SC2064 # the name is meant to be expanded now
	trap "$1" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# shellcheck disable=SC2317 # called from the EXIT trap
stop_pid() { # pid [tenths]: TERM, wait up to tenths/10 s (default 20 s: the helper deletes its rigs first), then KILL
	local pid=$1 tenths=${2:-200} _
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 "$tenths"); do
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
cleanup_rigs() { # EXIT trap of the rig benchmarks: stop the helper, delete rigs, stop rigd, kill leftovers (exit 2), rm WORK
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

setup_rig_run() { # the rig benchmarks' WORK, DATA and process variables, cleanup_rigs on exit, rigd init
	make_workdir
	RIGD_PID=
	HELPER_PID=
	RIGD_URL=
	export RIGS_API_KEY=
	trap_exit cleanup_rigs
	rigd_init
}

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

# shellcheck disable=SC2120 # its arguments are optional
rigd_init() { # [show]: rigd init on $DATA; RIGS_API_KEY = the admin key (last non-blank stdout line); show: name a bad one
	"$RIGD_BIN" init --data-dir "$DATA" >"$WORK/init.out" 2>"$WORK/init.err" ||
		die "rigd init failed: $(cat "$WORK/init.err")"
	RIGS_API_KEY=$(grep -v '^[[:space:]]*$' "$WORK/init.out" | tail -n 1 | tr -d '[:space:]')
	local shown=
	[ -z "${1:-}" ] || shown=": '$RIGS_API_KEY'"
	[[ $RIGS_API_KEY =~ ^rb_[0-9A-Za-z]{32}$ ]] || die "the last line of rigd init is not a key$shown"
}

# shellcheck disable=SC2120 # its arguments are optional
start_rigd() { # [--setsid] [serve options]: rigd serve on $DATA and a free port, wait for /healthz; sets RIGD_PORT, RIGD_URL, RIGD_PID, RIGD_VERSION
	local pre=()
	if [ "${1:-}" = --setsid ]; then
		pre=(setsid)
		shift
	fi
	RIGD_PORT=$(free_port) || die "no free port"
	RIGD_URL=http://127.0.0.1:$RIGD_PORT
	"${pre[@]}" "$RIGD_BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$RIGD_PORT" "$@" \
		</dev/null >"$WORK/rigd.out" 2>"$WORK/rigd.log" &
	RIGD_PID=$!
	if ! wait_http "$RIGD_URL/healthz" "$RIGD_PID" rigd; then
		tail -n 30 "$WORK/rigd.log" >&2 || true
		die "rigd serve did not come up"
	fi
	RIGD_VERSION=$(curl -s "$RIGD_URL/healthz" | sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
}

# shellcheck disable=SC2120 # its arguments are optional
start_rig_rigd() { # [serve options]: start_rigd as the rig benchmarks run it (own session, no rate limits, TEMPLATES_DIR)
	# Its own session: a Ctrl-C to this script's process group must not stop rigd before the helper
	# has deleted its rigs (rigs outlive rigd).
	start_rigd --setsid --rate-limit rigs=0 --rate-limit other=0 --templates-dir "$TEMPLATES_DIR" "$@"
}

# --- measure --------------------------------------------------------------------------------------

# shellcheck disable=SC2120 # its arguments are optional
bench_meta() { # [name version]...: rigbench.py's --meta JSON: the source commit, rigd's and these versions
	local versions="\"rigd\": \"$RIGD_VERSION\""
	while [ $# -ge 2 ]; do
		versions+=", \"$1\": \"$2\""
		shift 2
	done
	# The commit of the source tree, a hint of what rigd was built from (the scripts build nothing).
	printf '{"source": "%s", "versions": {%s}}' \
		"$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)" "$versions"
}

run_helper() { # subcommand [options]: rigbench.py against rigd, writing results/$NAME.json with --meta $META; exits with its status
	local rc=0
	mkdir -p "$RESULTS_DIR"
	# In the background so that a signal to this script is handled (and cleans up) at once.
	"$PY" "$BENCH_DIR/rigbench.py" "$@" --url "$RIGD_URL" --data-dir "$DATA" \
		--templates-dir "$TEMPLATES_DIR" --out "$RESULTS_DIR/$NAME.json" --meta "$META" &
	HELPER_PID=$!
	wait "$HELPER_PID" || rc=$?
	HELPER_PID=
	if [ "$rc" -ne 0 ]; then
		log "the run failed (exit $rc); rigd log tail:"
		tail -n 30 "$WORK/rigd.log" >&2 || true
		exit "$rc"
	fi
	kill -0 "$RIGD_PID" 2>/dev/null || { log "rigd died: $(tail -n 20 "$WORK/rigd.log")"; exit 2; }
	exit 0
}

# --- wrk output ----------------------------------------------------------------------------------

rps_of() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }

p99_ms_of() { # the 99% line of wrk's latency distribution, in milliseconds
	awk '$1 == "99%" {
		v = $2; n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000;
		else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000;
		printf "%.3f\n", n; exit }' "$1"
}

non2xx_of() { awk '/Non-2xx or 3xx responses:/ { print $NF; f = 1 } END { if (!f) print 0 }' "$1"; }

errors_of() { # socket errors: connect + read + write + timeout
	awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10; f = 1 } END { if (!f) print 0 }' "$1"
}

requests_of() { awk '/requests in/ { print $1; exit }' "$1"; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
