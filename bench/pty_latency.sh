#!/usr/bin/env bash
# Benchmark: keystroke round-trip latency of a terminal. N times: type one character and wait for
# its echo. Through rigd's terminal WebSocket (GET /api/rigs/{id}/pty: a login shell in a rig)
# against the same through `ssh -tt` to a local OpenSSH server (a login shell on the host), on
# loopback. Both shells are bash with readline echoing what is typed; every 40 keystrokes the line
# is cleared with Ctrl-U (not timed), so neither side wraps lines.
#
# Usage: bench/pty_latency.sh [N]    (as root on Debian 12; installs openssh-server/-client and
#                                     python3-websocket if missing)
#
# Environment:
#   N              keystrokes per side (default 1000); a positional argument wins
#   WARMUP         uncounted keystrokes first (default 50)
#   RIGD_BIN       the built rigd (default <repo>/build/src/rigd/rigd); this script builds nothing
#   TEMPLATES_DIR  rig templates (default /var/cache/rigs/templates; needs base/rootfs)
#
# The sshd is started by this script on a free loopback port with a config, a host key and a
# client key it writes into a temporary directory (key authentication only), and stopped on exit.
#
# Output: a summary table on stdout and bench/results/pty_latency.json. Exit status: 0 done;
# 1 set-up failure; 2 a round trip failed. Timing is never asserted.
set -euo pipefail

NAME=pty_latency
N=${1:-${N:-1000}}
WARMUP=${WARMUP:-50}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: N must be a positive integer" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root "rigd's rig runtime and sshd need it"
[ -x /usr/sbin/sshd ] || NEED_PKGS+=(openssh-server)
need_cmd ssh openssh-client
$PY -c 'import websocket' 2>/dev/null || NEED_PKGS+=(python3-websocket)
if [ ${#NEED_PKGS[@]} -gt 0 ]; then
	install_needed --no-install-recommends
	# The package starts a system sshd on port 22: this benchmark runs its own.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now ssh >/dev/null 2>&1 || true; fi
fi
require_rigd
require_template

make_workdir pty
RIGD_PID=
SSHD_PID=
stop_wait() { # pid: TERM, then wait for it (no timeout)
	if [ -n "$1" ] && kill -TERM "$1" 2>/dev/null; then wait "$1" 2>/dev/null || true; fi
}
cleanup() { # stop rigd and sshd, rm WORK
	stop_wait "$RIGD_PID"
	stop_wait "$SSHD_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- rigd and a rig -----------------------------------------------------------------------------

KEY=$("$RIGD_BIN" init --data-dir "$DATA" 2>"$WORK/init.log" | tail -n 1) || die "rigd init failed: $(cat "$WORK/init.log")"
RIGD_PORT=$(free_port)
"$RIGD_BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$RIGD_PORT" --templates-dir "$TEMPLATES_DIR" \
	--rate-limit rigs=0 --rate-limit other=0 >"$WORK/rigd.log" 2>&1 &
RIGD_PID=$!

# --- sshd with its own config, host key and client key -----------------------------------------

SSH_PORT=$(free_port)
mkdir -p /run/sshd "$WORK/ssh"
chmod 700 "$WORK/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/host_key" >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/client_key" >/dev/null
cp "$WORK/ssh/client_key.pub" "$WORK/ssh/authorized_keys"
cat >"$WORK/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSH_PORT
HostKey $WORK/ssh/host_key
AuthorizedKeysFile $WORK/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PrintMotd no
PrintLastLog no
Compression no
PidFile none
EOF
/usr/sbin/sshd -D -e -f "$WORK/ssh/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!

# --- the measurement ----------------------------------------------------------------------------

mkdir -p "$RESULTS_DIR"
export RIGD_PORT SSH_PORT KEY N WARMUP WORK
set +e
$PY - "$RESULTS_DIR/$NAME.json" <<'PYEOF'
import json, os, subprocess, sys, time, http.client, select
import websocket

port, sport, key = int(os.environ["RIGD_PORT"]), int(os.environ["SSH_PORT"]), os.environ["KEY"]
n, warm, work = int(os.environ["N"]), int(os.environ["WARMUP"]), os.environ["WORK"]
PROMPT = b"BENCH> "
SET_PROMPT = b"bind 'set enable-bracketed-paste off' 2>/dev/null; PS1='BENCH''> '\n"

def req(method, path, body=None):
    deadline = time.monotonic() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request(method, path, body=json.dumps(body) if body else None,
                      headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def measure(send, wait_for, drain):
    """Types 'x' and waits for its echo; Ctrl-U every 40 keystrokes (untimed)."""
    lat = []
    for i in range(warm + n):
        if i % 40 == 0:
            send(b"\x15")
            time.sleep(0.02)
            drain()
        t0 = time.perf_counter_ns()
        send(b"x")
        wait_for(b"x")
        dt = (time.perf_counter_ns() - t0) / 1e6
        if i >= warm:
            lat.append(dt)
    return {"p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "mean_ms": sum(lat) / len(lat),
            "min_ms": min(lat), "max_ms": max(lat), "n": len(lat)}

# rigd: a rig and its terminal
st, rig = req("POST", "/api/rigs", {"name": "bench-pty"})
if st != 201:
    print(f"pty_latency: cannot create a rig: {st} {rig}", file=sys.stderr); sys.exit(2)
ws = websocket.create_connection(f"ws://127.0.0.1:{port}/api/rigs/{rig['id']}/pty?cols=200&rows=50",
                                 header=[f"Authorization: Bearer {key}"], suppress_origin=True,
                                 timeout=30)
ws.sock.setsockopt(6, 1, 1)  # TCP_NODELAY
buf = bytearray()
def ws_send(b): ws.send_binary(b)
def ws_wait(needle):
    while needle not in buf:
        op, data = ws.recv_data()
        if op == websocket.ABNF.OPCODE_BINARY:
            buf.extend(data)
    del buf[:buf.index(needle) + len(needle)]
def ws_drain():
    ws.settimeout(0.05)
    try:
        while True:
            ws.recv_data()
    except websocket.WebSocketTimeoutException:
        pass
    ws.settimeout(30)
    buf.clear()
ws_send(SET_PROMPT); ws_wait(PROMPT)
rigd = measure(ws_send, ws_wait, ws_drain)
ws.close()

# ssh: a login shell on the host through the local sshd
ssh = subprocess.Popen(["ssh", "-tt", "-q", "-p", str(sport), "-i", f"{work}/ssh/client_key",
                        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                        "-o", "BatchMode=yes", "-o", "IPQoS=none", "root@127.0.0.1",
                        "TERM=xterm COLUMNS=200 exec bash --norc -i"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       bufsize=0)
sbuf = bytearray()
def ssh_send(b):
    ssh.stdin.write(b); ssh.stdin.flush()
def ssh_wait(needle, timeout=30):
    deadline = time.monotonic() + timeout
    while needle not in sbuf:
        r, _, _ = select.select([ssh.stdout], [], [], max(0, deadline - time.monotonic()))
        if not r:
            raise SystemExit(f"pty_latency: ssh: no {needle!r}; got {bytes(sbuf[-300:])!r}")
        d = os.read(ssh.stdout.fileno(), 65536)
        if not d:
            raise SystemExit("pty_latency: ssh ended")
        sbuf.extend(d)
    del sbuf[:sbuf.index(needle) + len(needle)]
time.sleep(1)
def ssh_drain():
    while select.select([ssh.stdout], [], [], 0.05)[0]:
        if not os.read(ssh.stdout.fileno(), 65536):
            break
    sbuf.clear()
ssh_send(SET_PROMPT); ssh_wait(PROMPT)
sshr = measure(ssh_send, ssh_wait, ssh_drain)
ssh_send(b"\x15exit\n"); ssh.wait(timeout=10)
req("DELETE", f"/api/rigs/{rig['id']}")

out = {"benchmark": "pty_latency", "keystrokes": n, "rigd_pty_websocket": rigd, "ssh_localhost": sshr,
       "ratio_p50": rigd["p50_ms"] / sshr["p50_ms"], "ratio_p99": rigd["p99_ms"] / sshr["p99_ms"]}
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=2)
print(f"{'side':<28}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'max ms':>10}")
for label, r in (("rigd pty WebSocket", rigd), ("ssh -tt to local sshd", sshr)):
    print(f"{label:<28}{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}{r['mean_ms']:>10.3f}{r['max_ms']:>10.3f}")
print(f"ratio rigd/ssh: p50 {out['ratio_p50']:.2f}x, p99 {out['ratio_p99']:.2f}x  ({n} keystrokes each)")
PYEOF
rc=$?
set -e
if [ $rc -ne 0 ]; then
	log "the measurement failed (exit $rc); rigd log tail:"
	tail -n 20 "$WORK/rigd.log" >&2
	tail -n 20 "$WORK/sshd.log" >&2
	exit 2
fi
