#!/usr/bin/env bash
# Benchmark: the app router against nginx as a reverse proxy, both in front of the same small
# HTTP server in a rig, same machine, same run.
#
# The upstream is nginx (one worker) started inside the rig's network namespace, listening on
# the rig's address: both proxies reach it over the rigs' bridge exactly alike. The reverse-proxy
# nginx gets the router's conditions: two workers (rigd runs one loop per core), HTTP/1.1 with
# a keep-alive upstream pool, access log off. wrk (keep-alive) measures requests/s and p99 for a
# small response and for a 1 MiB one.
#
# Usage: bench/router.sh      (as root on Debian 12; installs nginx-light, wrk, curl if missing)
#
# Environment:
#   RIGD_BIN      the built rigd (default <repo>/build/src/rigd/rigd)
#   DURATION      wrk duration per run (default 10s)
#   ROUNDS        alternate nginx and the router this many times, report medians (default 3)
#   SMALL_CONNS   wrk connections for the small response (default 64)
#   LARGE_CONNS   wrk connections for the 1 MiB response (default 8)
#
# Output: a table on stdout with the ratios router/nginx, and bench/results/router.json.
# Targets: requests/s >= 0.9x nginx's, p99 <= 1.5x nginx's.
set -euo pipefail

NAME=router
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
SMALL_CONNS=${SMALL_CONNS:-64}
LARGE_CONNS=${LARGE_CONNS:-8}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: ROUNDS must be a positive integer" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || NEED_PKGS+=(nginx-light)
check_rig_prereqs wrk wrk nsenter util-linux
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

setup_rig_run
UP_PID=
PROXY_PID=
WRK_PID=
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	stop_pid "$WRK_PID" 50
	stop_pid "$PROXY_PID" 50
	stop_pid "$UP_PID" 50
	cleanup_rigs
}
trap_exit cleanup

APPS_PORT=$(free_port) || die "no free port"
start_rig_rigd --apps-listen "127.0.0.1:$APPS_PORT" --rate-limit apps=0
AUTH="Authorization: Bearer $RIGS_API_KEY"

api() { # method path [json]: the API's answer on stdout; dies on a non-2xx
	local out code
	out=$(curl -s -w '\n%{http_code}' -X "$1" -H "$AUTH" ${3:+-d "$3"} "$RIGD_URL$2")
	code=${out##*$'\n'}
	[[ $code == 2* ]] || die "$1 $2 answered $code: ${out%$'\n'*}"
	printf '%s\n' "${out%$'\n'*}"
}

log "creating a rig"
RIG=$(api POST /api/rigs '{"name":"routerbench","cpus":2,"memory_mb":1024}')
RIG_ID=$(echo "$RIG" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
RIG_IP=$(echo "$RIG" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["network"]["ip"])')
[ -n "$RIG_IP" ] || die "the rig has no address (is rigd running with --no-network?)"
RIG_PID=
for f in /sys/fs/cgroup/pids/rigs/"$RIG_ID"/cgroup.procs /sys/fs/cgroup/rigs/"$RIG_ID"/cgroup.procs; do
	[ -r "$f" ] && RIG_PID=$(head -n 1 "$f") && break
done
[ -n "$RIG_PID" ] || RIG_PID=$(find /sys/fs/cgroup -path "*rigs/$RIG_ID*" -name cgroup.procs -exec cat {} + 2>/dev/null | head -n 1)
[ -n "$RIG_PID" ] || die "cannot find a process of rig $RIG_ID"

# --- the upstream: nginx in the rig's network namespace -------------------------------------------

WWW=$WORK/www
mkdir -p "$WWW" "$WORK/up/tmp" "$WORK/proxy/tmp"
head -c 64 /dev/zero | tr '\0' s >"$WWW/small.txt"
head -c $((1 << 20)) /dev/urandom >"$WWW/large.bin"
chmod 755 "$WORK" "$WWW"
chmod 644 "$WWW"/*
common_http() { # the http{} settings both nginx instances share
	cat <<EOF
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    open_file_cache max=64 inactive=60s;
EOF
}
temp_paths() { # $1: dir
	for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $1/tmp/$t;"; done
}
cat >"$WORK/up/nginx.conf" <<EOF
user www-data;
worker_processes 1;
pid $WORK/up/nginx.pid;
error_log $WORK/up/error.log warn;
events { worker_connections 4096; }
http {
$(common_http)
$(temp_paths "$WORK/up")
    server { listen $RIG_IP:8080; root $WWW; location / { } }
}
EOF
nsenter -t "$RIG_PID" -n "$NGINX" -c "$WORK/up/nginx.conf" -p "$WORK/up" -g 'daemon off;' \
	</dev/null >"$WORK/up/stdout.log" 2>&1 &
UP_PID=$!
api POST "/api/rigs/$RIG_ID/apps" '{"name":"bench","port":8080,"visibility":"public"}' >/dev/null

# --- the peer: nginx as a reverse proxy on the host -----------------------------------------------

PROXY_PORT=$(free_port) || die "no free port"
cat >"$WORK/proxy/nginx.conf" <<EOF
user www-data;
worker_processes 2;
pid $WORK/proxy/nginx.pid;
error_log $WORK/proxy/error.log warn;
events { worker_connections 4096; }
http {
$(common_http)
$(temp_paths "$WORK/proxy")
    upstream rig { server $RIG_IP:8080; keepalive 128; }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / {
            proxy_pass http://rig;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
}
EOF
"$NGINX" -c "$WORK/proxy/nginx.conf" -p "$WORK/proxy" -g 'daemon off;' </dev/null \
	>"$WORK/proxy/stdout.log" 2>&1 &
PROXY_PID=$!

HOST="bench.rigs.localhost"
for _ in $(seq 1 100); do
	a=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:$APPS_PORT/small.txt" || true)
	b=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://127.0.0.1:$PROXY_PORT/small.txt" || true)
	[ "$a$b" = 200200 ] && break
	sleep 0.1
done
[ "$a$b" = 200200 ] || die "not both proxies answer 200 (router $a, nginx $b): $(cat "$WORK/up/error.log" "$WORK/proxy/error.log" 2>/dev/null)"
for p in "$APPS_PORT" "$PROXY_PORT"; do
	got=$(curl -s -H "Host: $HOST" "http://127.0.0.1:$p/large.bin" | sha256sum | cut -c1-64)
	[ "$got" = "$(sha256sum <"$WWW/large.bin" | cut -c1-64)" ] || die "port $p served a different large.bin"
done

# --- measure ----------------------------------------------------------------------------------------

run_wrk() { # tag conns url: one wrk run; sets RPS P99 BAD ERR
	local f=$WORK/wrk_$1.txt
	log "wrk -t2 -c$2 -d$DURATION --latency $3"
	wrk -t2 -c"$2" -d"$DURATION" --latency -H "Host: $HOST" "$3" >"$f" 2>&1 &
	WRK_PID=$!
	wait "$WRK_PID" || die "wrk failed: $(cat "$f")"
	WRK_PID=
	RPS=$(rps_of "$f") P99=$(p99_ms_of "$f") BAD=$(non2xx_of "$f") ERR=$(errors_of "$f")
	[ "$BAD" = 0 ] && [ "$ERR" = 0 ] || die "$1: $BAD non-2xx answers, $ERR socket errors: $(cat "$f")"
}

declare -A ALL
for round in $(seq 1 "$ROUNDS"); do
	for size in small large; do
		conns=$SMALL_CONNS file=small.txt
		[ "$size" = large ] && conns=$LARGE_CONNS file=large.bin
		run_wrk "nginx_${size}_$round" "$conns" "http://127.0.0.1:$PROXY_PORT/$file"
		ALL[nginx_${size}_rps]+=" $RPS" ALL[nginx_${size}_p99]+=" $P99"
		run_wrk "router_${size}_$round" "$conns" "http://127.0.0.1:$APPS_PORT/$file"
		ALL[router_${size}_rps]+=" $RPS" ALL[router_${size}_p99]+=" $P99"
		kill -0 "$RIGD_PID" 2>/dev/null || die "rigd died during the run: $(tail -n 20 "$WORK/rigd.log")"
	done
done

declare -A M
for k in "${!ALL[@]}"; do M[$k]=$(echo "${ALL[$k]}" | median); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's#.*nginx/##')
printf '\n%-22s %14s %14s %8s\n' "app router vs nginx" "nginx" "router" "ratio"
for size in small large; do
	label="64 B"
	[ "$size" = large ] && label="1 MiB"
	printf '%-22s %14s %14s %7sx\n' "$label requests/s" "${M[nginx_${size}_rps]}" "${M[router_${size}_rps]}" \
		"$(ratio "${M[router_${size}_rps]}" "${M[nginx_${size}_rps]}")"
	printf '%-22s %14s %14s %7sx\n' "$label p99 ms" "${M[nginx_${size}_p99]}" "${M[router_${size}_p99]}" \
		"$(ratio "${M[router_${size}_p99]}" "${M[nginx_${size}_p99]}")"
done
echo "(medians of $ROUNDS rounds of $DURATION; targets: requests/s >= 0.90x, p99 <= 1.50x; nginx $NGINX_VERSION)"

mkdir -p "$RESULTS_DIR"
{
	printf '{"meta": %s,\n "rounds": %s, "duration": "%s",\n' "$(bench_meta nginx "$NGINX_VERSION")" "$ROUNDS" "$DURATION"
	for size in small large; do
		printf ' "%s": {"nginx_rps": %s, "router_rps": %s, "rps_ratio": %s, "nginx_p99_ms": %s, "router_p99_ms": %s, "p99_ratio": %s},\n' \
			"$size" "${M[nginx_${size}_rps]}" "${M[router_${size}_rps]}" \
			"$(ratio "${M[router_${size}_rps]}" "${M[nginx_${size}_rps]}")" \
			"${M[nginx_${size}_p99]}" "${M[router_${size}_p99]}" \
			"$(ratio "${M[router_${size}_p99]}" "${M[nginx_${size}_p99]}")"
	done
	printf ' "targets": {"rps_ratio_min": 0.9, "p99_ratio_max": 1.5}}\n'
} >"$RESULTS_DIR/$NAME.json"
