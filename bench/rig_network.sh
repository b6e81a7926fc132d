#!/usr/bin/env bash
# Benchmark: what rig networking costs.
#
#  1. Create latency added by networking: POST /api/rigs -> 201 on two rigds running side by side,
#     one with `--no-network` (the rig gets a loopback interface only: no address, veth or rules)
#     and one with networking (address from the store, nftables rules, veth plugged by the shim),
#     N creates each, alternating between the two so that both see the same host load. Deletes
#     are timed too.
#  2. Throughput over the veth: iperf3 (TCP, one stream) from a rig of the networked rigd to a
#     test host (a network namespace behind the host, like the e2e suite's), against the same
#     from the host itself, in the same run, alternating; the ratio is rig / host. The rig's side
#     runs the host's iperf3 binary in the rig's network namespace (nsenter -n): the path measured
#     is the rig's (veth, bridge, nftables, conntrack, NAT), without its CPU limit.
#
# Usage: bench/rig_network.sh [N]     (as root on Debian 12; installs iperf3 and curl if missing)
#
# Environment:
#   N              rigs per rigd (default 30); a positional argument wins
#   SECONDS_PER    iperf3 seconds per run (default 5)
#   ROUNDS         iperf3 rounds, alternating host and rig (default 3; medians reported)
#   RIGD_BIN       the built rigd (default <repo>/build/src/rigd/rigd); this script builds nothing
#   TEMPLATES_DIR  rig templates (default /var/cache/rigs/templates; needs base/rootfs)
#
# Output: a summary on stdout and bench/results/rig_network.json.
# Exit status: 0 done; 2 a request failed (details on stderr; the numbers are not valid); 1 set-up.
set -euo pipefail

NAME=rig_network
N=${1:-${N:-30}}
SECONDS_PER=${SECONDS_PER:-5}
ROUNDS=${ROUNDS:-3}
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

[ "$(id -u)" -eq 0 ] || die "run as root (rigd's rig runtime needs it)"
need_pkgs=()
command -v iperf3 >/dev/null 2>&1 || need_pkgs+=(iperf3)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
[ -x "$RIGD_BIN" ] || die "rigd not found at $RIGD_BIN (build it, or set RIGD_BIN)"
[ -d "$TEMPLATES_DIR/base/rootfs" ] || die "no template at $TEMPLATES_DIR/base/rootfs (scripts/build-template.sh $TEMPLATES_DIR)"

# --- names of this run ----------------------------------------------------------------------------

TAG=$(printf '%04x' $((RANDOM % 65536)))
SLOT=$((RANDOM % 250 + 2))
BRIDGE=rgb$TAG
SUBNET=10.126.$SLOT.0/24
TH_NS=rgbench-$TAG
TH_VETH=rbh$TAG
TH_HOST=10.198.$SLOT.1
TH_PEER=10.198.$SLOT.2
WORK=$(mktemp -d "/tmp/rigs-bench-net.XXXXXX")
PIDS=()
IPERF_PID=

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	[ -z "$IPERF_PID" ] || kill "$IPERF_PID" 2>/dev/null || true
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	ip link del "$TH_VETH" 2>/dev/null || true
	ip netns del "$TH_NS" 2>/dev/null || true
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
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

# start_rigd DIR PORT ARGS...: init and serve a rigd in its own session; prints nothing
start_rigd() {
	local dir=$1 port=$2
	shift 2
	"$RIGD_BIN" init --data-dir "$dir" >"$dir.init" 2>&1 || die "rigd init: $(cat "$dir.init")"
	setsid "$RIGD_BIN" serve --data-dir "$dir" --listen "127.0.0.1:$port" --rate-limit rigs=0 \
		--rate-limit other=0 --templates-dir "$TEMPLATES_DIR" --quota-project-rigs $((N + 10)) \
		"$@" </dev/null >"$dir.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 150); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	die "rigd did not come up: $(tail -n 5 "$dir.log")"
}

# --- the test host --------------------------------------------------------------------------------

ip netns add "$TH_NS"
ip link add "$TH_VETH" type veth peer name eth0 netns "$TH_NS"
ip addr add "$TH_HOST/30" dev "$TH_VETH"
ip link set "$TH_VETH" up
ip netns exec "$TH_NS" ip addr add "$TH_PEER/30" dev eth0
ip netns exec "$TH_NS" ip link set eth0 up
ip netns exec "$TH_NS" ip link set lo up
ip netns exec "$TH_NS" ip route add default via "$TH_HOST"
ip netns exec "$TH_NS" iperf3 -s -p 5201 >/dev/null 2>&1 &
IPERF_PID=$!

# --- two rigds ------------------------------------------------------------------------------------

PORT_OFF=$(free_port) || die "no free port"
start_rigd "$WORK/off" "$PORT_OFF" --no-network
PORT_ON=$(free_port) || die "no free port"
start_rigd "$WORK/on" "$PORT_ON" --bridge "$BRIDGE" --rig-subnet "$SUBNET"
KEY_OFF=$(grep -v '^[[:space:]]*$' "$WORK/off.init" | tail -n 1 | tr -d '[:space:]')
KEY_ON=$(grep -v '^[[:space:]]*$' "$WORK/on.init" | tail -n 1 | tr -d '[:space:]')

mkdir -p "$RESULTS_DIR"
SOURCE=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
log "N=$N rigs per rigd, iperf3 ${ROUNDS}x${SECONDS_PER}s; bridge $BRIDGE, subnet $SUBNET"

KEY_OFF=$KEY_OFF KEY_ON=$KEY_ON "$PY" - "$N" "$PORT_OFF" "$PORT_ON" "$WORK/on" "$TH_NS" "$TH_PEER" \
	"$SECONDS_PER" "$ROUNDS" "$RESULTS_DIR/$NAME.json" "$SOURCE" <<'PYEOF'
import http.client, json, os, statistics, subprocess, sys, time

n, port_off, port_on = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
data_on, ns, peer, secs, rounds, out, source = sys.argv[4:11]
secs, rounds = int(secs), int(rounds)


class Api:
    def __init__(self, port, key):
        self.port, self.key, self.c = port, key, None

    def req(self, method, path, body=None):
        for attempt in (0, 1):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.c.request(method, path, body=json.dumps(body) if body is not None else None,
                               headers={"Authorization": f"Bearer {self.key}",
                                        "Content-Type": "application/json"})
                r = self.c.getresponse()
                data = r.read()
                return r.status, json.loads(data) if data else None
            except (http.client.HTTPException, OSError):
                self.c = None
                if attempt:
                    raise


def timed(api, method, path, body, want):
    t0 = time.perf_counter()
    st, b = api.req(method, path, body)
    ms = (time.perf_counter() - t0) * 1000
    if st != want:
        sys.exit(f"rig_network: {method} {path} answered {st}: {b}")
    return ms, b


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


off, on = Api(port_off, os.environ["KEY_OFF"]), Api(port_on, os.environ["KEY_ON"])
for api in (off, on):  # one warm-up rig each (first-use costs: template, disk pool)
    _, b = timed(api, "POST", "/api/rigs", {"name": "warm"}, 201)
    timed(api, "DELETE", f"/api/rigs/{b['id']}", None, 204)
lat = {"off": {"create": [], "delete": []}, "on": {"create": [], "delete": []}}
ids = {"off": [], "on": []}
for i in range(n):
    for name, api in (("off", off), ("on", on)) if i % 2 == 0 else (("on", on), ("off", off)):
        ms, b = timed(api, "POST", "/api/rigs", {"name": f"r{i}"}, 201)
        lat[name]["create"].append(ms)
        ids[name].append(b["id"])
for i in range(n):
    for name, api in (("off", off), ("on", on)):
        ms, _ = timed(api, "DELETE", f"/api/rigs/{ids[name][i]}", None, 204)
        lat[name]["delete"].append(ms)


def stats(v):
    return {"p50": round(statistics.median(v), 2), "p90": round(pct(v, 90), 2),
            "min": round(min(v), 2), "max": round(max(v), 2)}


lat_stats = {k: {op: stats(v) for op, v in d.items()} for k, d in lat.items()}

# Throughput: a rig of the networked rigd (open egress) and the host, to the test host.
_, rig = timed(on, "POST", "/api/rigs", {"name": "iperf"}, 201)
pidfile = open(f"{data_on}/rigs/{rig['id']}/shim.pid").read().split()
pid1 = pidfile[pidfile.index("init") + 1]


def iperf(prefix):
    res = subprocess.run(prefix + ["iperf3", "-c", peer, "-p", "5201", "-t", str(secs), "-J"],
                         capture_output=True, text=True, timeout=secs + 30)
    if res.returncode != 0:
        sys.exit(f"rig_network: iperf3 failed: {res.stdout[-500:]} {res.stderr[-500:]}")
    return json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9


thr = {"host": [], "rig": []}
time.sleep(0.5)
for _ in range(rounds):
    thr["host"].append(iperf([]))
    thr["rig"].append(iperf(["nsenter", "-t", pid1, "-n"]))
timed(on, "DELETE", f"/api/rigs/{rig['id']}", None, 204)
gb = {k: round(statistics.median(v), 2) for k, v in thr.items()}
ratio = round(gb["rig"] / gb["host"], 3)
added = round(lat_stats["on"]["create"]["p50"] - lat_stats["off"]["create"]["p50"], 2)

result = {"benchmark": "rig_network", "source": source, "n": n,
          "latency_ms": lat_stats, "create_added_by_network_ms_p50": added,
          "throughput_gbit_s": {"host": thr["host"], "rig": thr["rig"], "median": gb},
          "throughput_ratio_rig_over_host": ratio, "iperf_seconds": secs, "rounds": rounds}
with open(out, "w") as f:
    json.dump(result, f, indent=2)
print(f"create and delete, {n} rigs per rigd (alternating), ms")
print(f"{'rigd':<14}{'create p50':>11}{'p90':>9}{'delete p50':>12}{'p90':>9}")
for k, label in (("off", "--no-network"), ("on", "network")):
    c, d = lat_stats[k]["create"], lat_stats[k]["delete"]
    print(f"{label:<14}{c['p50']:>11.1f}{c['p90']:>9.1f}{d['p50']:>12.1f}{d['p90']:>9.1f}")
print(f"networking adds {added:.1f} ms to a create (p50)")
print(f"iperf3 TCP to a test host, {rounds}x{secs}s, Gbit/s (median): host {gb['host']}, "
      f"rig {gb['rig']}; ratio rig/host {ratio}")
PYEOF
