#!/usr/bin/env bash
# Benchmark: GET /api/me on rigd against nginx serving a static JSON file of the same size.
#
# Usage: bench/api_me.sh            (as root on Debian 12; installs nginx-light, wrk, curl if missing)
#
# Environment:
#   RIGD_BIN     the built rigd (default <repo>/build/src/rigd/rigd); this script builds nothing
#   DURATION     wrk duration per run (default 10s)
#   THREADS      wrk threads (default 2)
#   CONNECTIONS  wrk connections (default 64)
#   ROUNDS       alternate nginx and rigd this many times and report medians (default 1)
#   NGINX_ONLY=1 run only the nginx half (no rigd needed; body size BODY_BYTES, default 256)
#   STRICT=1     exit 1 when the ratio rigd/nginx is below the target
#
# Output: a summary table on stdout, and bench/results/api_me.json
# (bench/results/api_me_nginx.json with NGINX_ONLY=1).
set -euo pipefail

NAME=api_me
TARGET_RATIO=0.5
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-1}
NGINX_ONLY=${NGINX_ONLY:-0}
BODY_BYTES=${BODY_BYTES:-256}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: ROUNDS must be a positive integer" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- prerequisites --------------------------------------------------------------------------------

command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || NEED_PKGS+=(nginx-light)
need_cmd wrk wrk
need_cmd curl curl
install_needed
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ "$NGINX_ONLY" != 1 ]; then
	require_rigd
fi

# --- temp dirs, processes, cleanup ----------------------------------------------------------------

make_workdir
RIGD_PID=
NGINX_PID=
WRK_PID=

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() { # stop wrk, nginx and rigd (5 s each before KILL), rm WORK
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$WRK_PID" 50
	stop_pid "$NGINX_PID" 50
	stop_pid "$RIGD_PID" 50
	rm -rf "$WORK"
	exit "$rc"
}
trap_exit cleanup

# --- rigd -----------------------------------------------------------------------------------------

KEY=rb_00000000000000000000000000000000 # a dummy for NGINX_ONLY (nginx ignores it)
BODY=$WORK/html/api/me
mkdir -p "$WORK/html/api"

if [ "$NGINX_ONLY" != 1 ]; then
	rigd_init show
	KEY=$RIGS_API_KEY
	start_rigd --rate-limit other=0
	code=$(curl -s -o "$BODY" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$RIGD_URL/api/me")
	[ "$code" = 200 ] || die "GET /api/me answered $code: $(cat "$BODY")"
else
	# A JSON document of exactly BODY_BYTES bytes (padding inside a string).
	head='{"principal":{"id":"usr_x","kind":"user","name":"admin"},"pad":"'
	tail='"}'
	pad=$((BODY_BYTES - ${#head} - ${#tail}))
	[ "$pad" -ge 0 ] || die "BODY_BYTES too small"
	{
		printf '%s' "$head"
		head -c "$pad" /dev/zero | tr '\0' x
		printf '%s' "$tail"
	} >"$BODY"
	RIGD_VERSION=
fi
BODY_SIZE=$(stat -c %s "$BODY")

# --- nginx ----------------------------------------------------------------------------------------

NGINX_PORT=$(free_port) || die "no free port"
NGX=$WORK/nginx
mkdir -p "$NGX/tmp"
user_line=
if [ "$(id -u)" -eq 0 ]; then
	user_line="user www-data;"
	chmod 755 "$WORK" "$WORK/html" "$WORK/html/api"
	chmod 644 "$BODY"
fi
cat >"$NGX/nginx.conf" <<EOF
$user_line
worker_processes 2;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    open_file_cache max=64 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path $NGX/tmp/client_body;
    proxy_temp_path $NGX/tmp/proxy;
    fastcgi_temp_path $NGX/tmp/fastcgi;
    uwsgi_temp_path $NGX/tmp/uwsgi;
    scgi_temp_path $NGX/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/html;
        location / {
        }
    }
}
EOF
"$NGINX" -e "$NGX/error.log" -c "$NGX/nginx.conf" -p "$NGX" -g 'daemon off;' \
	</dev/null >"$NGX/stdout.log" 2>&1 &
NGINX_PID=$!
if ! wait_http "http://127.0.0.1:$NGINX_PORT/api/me" "$NGINX_PID" nginx; then
	cat "$NGX/stdout.log" "$NGX/error.log" >&2 2>/dev/null || true
	die "nginx did not come up"
fi
NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's#.*nginx/##')
got=$(curl -s "http://127.0.0.1:$NGINX_PORT/api/me" | wc -c)
[ "$got" -eq "$BODY_SIZE" ] || die "nginx served $got bytes, expected $BODY_SIZE"

# --- wrk ------------------------------------------------------------------------------------------

run_wrk() { # name url -> $WORK/wrk_<name>.txt
	log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $2"
	# In the background so that a signal to this script is handled (and cleans up) at once.
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
		-H "Authorization: Bearer $KEY" "$2" >"$WORK/wrk_$1.txt" 2>&1 &
	WRK_PID=$!
	wait "$WRK_PID" || die "wrk against $1 failed: $(cat "$WORK/wrk_$1.txt")"
	WRK_PID=
}

wrk_round() { # name url: one wrk run; sets RPS, P99, BAD, ERR and REQ from its output
	local f=$WORK/wrk_$1.txt
	run_wrk "$1" "$2"
	RPS=$(rps_of "$f")
	P99=$(p99_ms_of "$f")
	{ [ -n "$RPS" ] && [ -n "$P99" ]; } || die "cannot parse wrk output: $(cat "$f")"
	BAD=$(non2xx_of "$f") ERR=$(errors_of "$f") REQ=$(requests_of "$f")
}

# Alternate the servers ROUNDS times; report medians (steadier on a busy machine).
N_RPS_ALL='' N_P99_ALL='' R_RPS_ALL='' R_P99_ALL=''
N_BAD=0 N_ERR=0 N_REQ=0 R_BAD=0 R_ERR=0 R_REQ=0
for round in $(seq 1 "$ROUNDS"); do
	wrk_round "nginx_$round" "http://127.0.0.1:$NGINX_PORT/api/me"
	N_RPS_ALL+=" $RPS" N_P99_ALL+=" $P99"
	N_BAD=$((N_BAD + BAD)) N_ERR=$((N_ERR + ERR)) N_REQ=$((N_REQ + REQ))
	[ "$NGINX_ONLY" != 1 ] || continue
	wrk_round "rigd_$round" "$RIGD_URL/api/me"
	R_RPS_ALL+=" $RPS" R_P99_ALL+=" $P99"
	R_BAD=$((R_BAD + BAD)) R_ERR=$((R_ERR + ERR)) R_REQ=$((R_REQ + REQ))
	kill -0 "$RIGD_PID" 2>/dev/null || die "rigd died during the run: $(tail -n 20 "$WORK/rigd.log")"
done
json_array() { echo "[$(echo "$1" | xargs | sed 's/ /, /g')]"; }
N_RPS=$(echo "$N_RPS_ALL" | median)
N_P99=$(echo "$N_P99_ALL" | median)
if [ "$NGINX_ONLY" != 1 ]; then
	R_RPS=$(echo "$R_RPS_ALL" | median)
	R_P99=$(echo "$R_P99_ALL" | median)
fi

# --- report ---------------------------------------------------------------------------------------

mkdir -p "$RESULTS_DIR"
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
HOST_JSON=$(printf '{"cpus": %s, "kernel": "%s"}' "$(nproc)" "$(uname -r)")

echo
printf 'GET /api/me, %s body bytes, wrk -t%s -c%s -d%s, %s round(s) (medians)\n' \
	"$BODY_SIZE" "$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS"
printf '%-8s %14s %10s %12s %10s\n' server requests/s p99_ms requests errors
printf '%-8s %14.0f %10.3f %12s %10s\n' nginx "$N_RPS" "$N_P99" "$N_REQ" "$((N_BAD + N_ERR))"

json_common() { # the fields both JSON files share after "benchmark" (and "mode"), up to "nginx"
	cat <<EOF
  "date": "$NOW",
  "duration": "$DURATION",
  "threads": $THREADS,
  "connections": $CONNECTIONS,
  "body_bytes": $BODY_SIZE,
  "host": $HOST_JSON,
  "rounds": $ROUNDS,
  "nginx": {"version": "$NGINX_VERSION", "requests_per_sec": $N_RPS, "p99_ms": $N_P99,
            "requests": $N_REQ, "non_2xx": $N_BAD, "socket_errors": $N_ERR,
            "rounds_requests_per_sec": $(json_array "$N_RPS_ALL"), "rounds_p99_ms": $(json_array "$N_P99_ALL")},
EOF
}

if [ "$NGINX_ONLY" = 1 ]; then
	OUT=$RESULTS_DIR/api_me_nginx.json
	{
		printf '{\n  "benchmark": "api_me",\n  "mode": "nginx_only",\n'
		json_common
		printf '  "rigd": null\n}\n'
	} >"$OUT"
	log "wrote $OUT"
	[ $((N_BAD + N_ERR)) -eq 0 ] || die "nginx answered errors: $(cat "$WORK"/wrk_nginx_*.txt)"
	exit 0
fi

printf '%-8s %14.0f %10.3f %12s %10s\n' rigd "$R_RPS" "$R_P99" "$R_REQ" "$((R_BAD + R_ERR))"
RATIO=$(awk -v r="$R_RPS" -v n="$N_RPS" 'BEGIN { printf "%.2f", (n > 0 ? r / n : 0) }')
P99_RATIO=$(awk -v r="$R_P99" -v n="$N_P99" 'BEGIN { printf "%.2f", (n > 0 ? r / n : 0) }')
MEETS=$(awk -v r="$RATIO" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t ? "true" : "false") }')
VALID=true
[ $((R_BAD + R_ERR + N_BAD + N_ERR)) -eq 0 ] || VALID=false
verdict=$([ "$MEETS" = true ] && echo "meets target" || echo "BELOW TARGET")
printf 'ratio %sx (target >= %sx): %s; p99 rigd/nginx %sx\n' "$RATIO" "$TARGET_RATIO" "$verdict" "$P99_RATIO"

OUT=$RESULTS_DIR/api_me.json
{
	printf '{\n  "benchmark": "api_me",\n'
	json_common
	cat <<EOF
  "rigd": {"version": "$RIGD_VERSION", "requests_per_sec": $R_RPS, "p99_ms": $R_P99,
           "requests": $R_REQ, "non_2xx": $R_BAD, "socket_errors": $R_ERR,
           "rounds_requests_per_sec": $(json_array "$R_RPS_ALL"), "rounds_p99_ms": $(json_array "$R_P99_ALL")},
  "ratio": $RATIO,
  "p99_ratio": $P99_RATIO,
  "target_ratio": $TARGET_RATIO,
  "meets_target": $MEETS,
  "valid": $VALID
}
EOF
} >"$OUT"
log "wrote $OUT"

if [ "$VALID" != true ]; then
	log "some responses were errors; the numbers are not valid (rigd log tail follows)"
	grep -E 'Non-2xx|Socket errors' "$WORK"/wrk_*.txt >&2 || true
	tail -n 20 "$WORK/rigd.log" >&2 || true
	exit 2
fi
if [ "${STRICT:-0}" = 1 ] && [ "$MEETS" != true ]; then
	exit 1
fi
exit 0
