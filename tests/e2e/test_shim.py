"""The rig shim and the "ns" runtime backend, without rigd.

Rigs are started, stopped and inspected with `rig-shimctl` (the test driver
built next to rig-shim); execs speak the shim protocol (shimproto.h) over the
rig's unix socket directly. Needs root, and the base template
($RIGS_TEMPLATES_DIR or /var/cache/rigs/templates; scripts/test.sh builds it).

Besides what works, the attack tests run as rig root and expect each attempt
to fail: mounts, new namespaces, kernel modules, keyrings, bpf, the host's
files, clock and hostname, and host processes.
"""

import json
import os
import random
import re
import secrets
import socket
import string
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = Path(os.environ.get("RIGS_TEMPLATES_DIR") or
                     "/var/cache/rigs/templates")

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the rig runtime needs root")


def _build_dir():
    rigd = os.environ.get("RIGD_BIN")
    if rigd:
        return Path(rigd).resolve().parents[2]
    return REPO_ROOT / "build"


SHIMCTL = _build_dir() / "src" / "shim" / "rig-shimctl"


@pytest.fixture(scope="module", autouse=True)
def _prerequisites():
    if not (SHIMCTL.is_file() and os.access(SHIMCTL, os.X_OK)):
        pytest.fail(f"rig-shimctl not built at {SHIMCTL}", pytrace=False)
    if not (TEMPLATES_DIR / "base" / "rootfs" / "usr" / "bin" / "bash").exists():
        pytest.skip(f"the base template is not built at {TEMPLATES_DIR}/base "
                    f"(scripts/build-template.sh {TEMPLATES_DIR})")


# ---- the shim protocol ----

def _frame(t, payload=b""):
    return t.encode() + struct.pack("<I", len(payload)) + payload


def _recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("the shim closed the connection")
        b += c
    return bytes(b)


def _recv_frame(s):
    h = _recv_exact(s, 5)
    n = struct.unpack("<I", h[1:])[0]
    return chr(h[0]), (_recv_exact(s, n) if n else b"")


class Result:
    def __init__(self, exit_code=None, timed_out=False, signal=0, out=b"",
                 err=b"", refused=None):
        self.exit_code, self.timed_out, self.signal = exit_code, timed_out, signal
        self.out, self.err, self.refused = out, err, refused

    @property
    def text(self):
        return self.out.decode(errors="replace")

    def __repr__(self):
        return (f"Result(exit={self.exit_code}, timed_out={self.timed_out}, "
                f"refused={self.refused}, out={self.out[:300]!r}, "
                f"err={self.err[:300]!r})")


def _uid_base():
    # Distinct, aligned ranges far from real users: one test run never
    # collides with another's rigs.
    return 0x40000000 + random.randrange(1, 4096) * 65536


def _rig_id():
    alnum = string.ascii_letters + string.digits
    return "rig_" + "".join(secrets.choice(alnum) for _ in range(20))


class Rig:
    def __init__(self, data_dir, name="testrig", **limits):
        self.data_dir = Path(data_dir)
        self.id = _rig_id()
        self.name = name
        self.uid_base = _uid_base()
        self.limits = limits
        self.stateless = limits.pop("stateless", False)
        self.dir = self.data_dir / "rigs" / self.id
        self.sock = str(self.dir / "shim.sock")

    def ctl(self, cmd, *args, check=True, timeout=60):
        argv = [str(SHIMCTL), "--data-dir", str(self.data_dir),
                "--templates-dir", str(TEMPLATES_DIR), cmd, "--id", self.id,
                *args]
        res = subprocess.run(argv, capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL)
        if check and res.returncode != 0:
            raise AssertionError(f"rig-shimctl {cmd} failed ({res.returncode}): "
                                 f"{res.stderr}\nshim.log:\n{self.log()}")
        return res

    def spec_args(self):
        a = ["--name", self.name, "--uid-base", str(self.uid_base)]
        for k, v in self.limits.items():
            a += ["--" + k.replace("_", "-"), str(v)]
        if self.stateless:
            a.append("--stateless")
        return a

    def start(self):
        t = time.monotonic()
        self.ctl("start", *self.spec_args())
        return time.monotonic() - t

    def stop(self):
        return self.ctl("stop", *(["--stateless"] if self.stateless else []))

    def destroy(self):
        return self.ctl("destroy", check=False)

    def status(self):
        return json.loads(self.ctl("status").stdout)

    def log(self):
        try:
            return (self.dir / "shim.log").read_text()[-3000:]
        except OSError:
            return "(no shim.log)"

    def pids(self):
        text = (self.dir / "shim.pid").read_text().split()
        return int(text[1]), int(text[4])  # shim, init

    def exec(self, argv, stdin=b"", user="user", timeout_s=None, pty=False,
             env=None, cwd=None, close_stdin=True, io_timeout=120, on_open=None):
        req = {"op": "exec", "argv": argv, "user": user}
        if timeout_s is not None:
            req["timeout_s"] = timeout_s
        if pty:
            req.update(pty=True, cols=80, rows=24)
        if env is not None:
            req["env"] = env
        if cwd is not None:
            req["cwd"] = cwd
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(io_timeout)
        s.connect(self.sock)
        try:
            s.sendall(_frame("J", json.dumps(req).encode()))
            if on_open:
                on_open(s)
            # stdin goes out from a thread: the command may write before it
            # has read everything.
            def feed():
                try:
                    for i in range(0, len(stdin), 65536):
                        s.sendall(_frame("I", stdin[i:i + 65536]))
                    if close_stdin:
                        s.sendall(_frame("C"))
                except OSError:
                    pass
            th = threading.Thread(target=feed, daemon=True)
            th.start()
            out, err = bytearray(), bytearray()
            while True:
                t, p = _recv_frame(s)
                if t == "O":
                    out += p
                elif t == "E":
                    err += p
                elif t == "X":
                    x = json.loads(p)
                    return Result(x["exit_code"], x["timed_out"], x["signal"],
                                  bytes(out), bytes(err))
                elif t == "J":
                    return Result(refused=json.loads(p))
                else:
                    raise AssertionError(f"unexpected frame {t!r}")
        finally:
            s.close()

    def sh(self, script, user="user", **kw):
        return self.exec(["bash", "-c", script], user=user, **kw)

    def ok(self, script, user="user", **kw):
        r = self.sh(script, user=user, **kw)
        assert r.exit_code == 0 and not r.refused, r
        return r.text


def _host_pids_with_cmdline(cmdline):
    found = []
    want = cmdline.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            c = Path(f"/proc/{d}/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ")
        except OSError:
            continue
        if c == want:
            found.append(int(d))
    return found


def _status_ids(pid):
    text = Path(f"/proc/{pid}/status").read_text()
    uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
    gid = int(re.search(r"^Gid:\s+(\d+)", text, re.M).group(1))
    return uid, gid


def _cgroup_dirs(rig_id):
    dirs = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        f = line.split()
        sep = f.index("-")
        if f[sep + 1] in ("cgroup", "cgroup2"):
            d = Path(f[4]) / "rigs" / rig_id
            if d.exists():
                dirs.append(d)
    return dirs


def _loops_of(rig_dir):
    found = []
    for b in Path("/sys/block").glob("loop*"):
        try:
            if (b / "loop" / "backing_file").read_text().startswith(str(rig_dir) + "/"):
                found.append(b.name)
        except OSError:
            pass
    return found


def _mounts_of(path):
    return [l for l in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(path) in l]


def _assert_gone(rig, shim_pid=None):
    """Nothing of the rig is left on the host."""
    deadline = time.monotonic() + 5
    while True:
        left = []
        if shim_pid and Path(f"/proc/{shim_pid}").exists() and \
                "rig-shim" in Path(f"/proc/{shim_pid}/cmdline").read_text():
            left.append(f"shim {shim_pid}")
        left += [f"loop {l}" for l in _loops_of(rig.dir)]
        left += [f"cgroup {d}" for d in _cgroup_dirs(rig.id)]
        left += [f"mount {m}" for m in _mounts_of(rig.dir)]
        if (rig.dir / "shim.sock").exists():
            left.append("shim.sock")
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"left behind: {left}"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rigs-data")


@pytest.fixture(scope="module")
def rig(data_dir):
    r = Rig(data_dir, name="shimtest")
    r.ctl("create", *r.spec_args())
    r.start()
    yield r
    r.destroy()


# ---- lifecycle ----

def test_start_is_fast_and_status_reports_pid1(data_dir):
    r = Rig(data_dir, name="fast")
    r.ctl("create", *r.spec_args())
    try:
        took = r.start()
        st = r.status()
        assert st["state"] == "running"
        assert st["init_pid"] > 1 and st["started_at"] > 1_600_000_000
        assert took < 5.0, f"start took {took:.3f} s"
        # Starting a running rig is a no-op; PID 1 keeps its start time.
        r.start()
        assert r.status() == st
    finally:
        r.destroy()


def test_exec_true_and_exit_codes(rig):
    assert rig.exec(["true"]).exit_code == 0
    assert rig.exec(["false"]).exit_code == 1
    assert rig.sh("exit 42").exit_code == 42
    r = rig.sh("kill -9 $$")
    assert (r.exit_code, r.signal, r.timed_out) == (137, 9, False), r
    r = rig.sh("kill -TERM $$")
    assert (r.exit_code, r.signal) == (143, 15), r


def test_missing_command_and_cwd_are_refused(rig):
    r = rig.exec(["no-such-command-xyz"])
    assert r.refused and r.refused["errno"] == 2, r
    assert "no-such-command-xyz" in r.refused["message"]
    r = rig.exec(["true"], cwd="/no/such/dir")
    assert r.refused and r.refused["errno"] == 2, r
    r = rig.exec([], cwd="/")
    assert r.refused and r.refused["errno"] == 22, r


def test_users_and_host_ids(rig):
    assert rig.ok("id -u; id -g; echo $HOME; pwd; echo $USER") == \
        "1000\n1000\n/home/user\n/home/user\nuser\n"
    assert rig.ok("id -u; id -g; echo $HOME", user="root") == "0\n0\n/root\n"
    # The host sees rig user and rig root as uid_base + 1000 and uid_base.
    tag = random.randrange(10000, 99999)
    rig.ok(f"sleep {tag} >/dev/null 2>&1 &")
    rig.ok(f"sleep {tag + 1} >/dev/null 2>&1 &", user="root")
    try:
        # The background sleeps exec a moment after their shells are gone.
        deadline = time.monotonic() + 5
        while (len(_host_pids_with_cmdline(f"sleep {tag}")) != 1 or
               len(_host_pids_with_cmdline(f"sleep {tag + 1}")) != 1) and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        (pu,) = _host_pids_with_cmdline(f"sleep {tag}")
        (pr,) = _host_pids_with_cmdline(f"sleep {tag + 1}")
        assert _status_ids(pu) == (rig.uid_base + 1000, rig.uid_base + 1000)
        assert _status_ids(pr) == (rig.uid_base, rig.uid_base)
    finally:
        rig.sh(f"pkill -f '^sleep {tag}'; pkill -f '^sleep {tag + 1}'", user="root")


def _caps(text):
    return {k: int(v, 16) for k, v in re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", text, re.M)}


def test_capabilities_and_seccomp(rig):
    user = rig.ok("cat /proc/self/status")
    assert _caps(user)["CapEff"] == 0 and _caps(user)["CapPrm"] == 0
    assert re.search(r"^NoNewPrivs:\s+1$", user, re.M)
    assert re.search(r"^Seccomp:\s+2$", user, re.M)
    root = rig.ok("cat /proc/self/status", user="root")
    eff = _caps(root)["CapEff"]
    assert eff & (1 << 21)  # CAP_SYS_ADMIN (over the rig's own namespaces)
    for cap in (16, 17, 22, 25, 34, 38, 39):  # module, rawio, boot, time, syslog, perfmon, bpf
        assert not eff & (1 << cap), hex(eff)
    pid1 = rig.ok("cat /proc/1/status", user="root")
    assert _caps(pid1)["CapEff"] == 0
    assert re.search(r"^Seccomp:\s+2$", pid1, re.M)


def test_env_defaults_and_overrides(rig):
    out = rig.ok("echo $PATH; echo $LANG; echo $HOSTNAME; echo $FOO",
                 env={"FOO": "bar"})
    path, lang, host, foo = out.splitlines()
    assert "/usr/bin" in path and lang == "C.UTF-8"
    assert host == rig.name and foo == "bar"
    assert rig.ok("echo $HOME", env={"HOME": "/tmp"}) == "/tmp\n"


def test_hostname_and_pid1(rig):
    assert rig.ok("hostname").strip() == rig.name
    out = rig.ok("ps -eo pid=,comm=")
    procs = [l.split(None, 1) for l in out.strip().splitlines()]
    assert procs[0] == ["1", "rig-init"], out
    names = {p[1] for p in procs}
    # Only the rig's own processes: PID 1, the pre-forked next exec, the shell
    # and ps.
    assert names <= {"rig-init", "rig-exec", "bash", "ps"}, out
    assert len(procs) <= 5, out


def test_stdin_is_piped(rig):
    assert rig.exec(["cat"], stdin=b"hello\nworld\n").out == b"hello\nworld\n"
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = rig.exec(["sha256sum"], stdin=data)
    import hashlib
    assert r.text.split()[0] == hashlib.sha256(data).hexdigest()
    # No stdin: the command sees EOF at once.
    assert rig.exec(["wc", "-c"]).text.strip() == "0"


def test_large_stdout_arrives_intact(rig):
    n = 5 * 1024 * 1024
    r = rig.exec(["python3", "-c",
                  f"import sys; sys.stdout.buffer.write(bytes(range(256)) * {n // 256})"])
    assert r.exit_code == 0, r
    assert len(r.out) == n and r.out == bytes(range(256)) * (n // 256)
    r = rig.sh("head -c 1000000 /dev/zero >&2; echo done")
    assert r.err == b"\0" * 1000000 and r.out == b"done\n"


def test_timeout_kills_the_whole_tree(rig):
    t = time.monotonic()
    r = rig.sh("sleep 101 & sleep 101; echo never", timeout_s=1)
    took = time.monotonic() - t
    assert r.timed_out and r.exit_code == 137, r
    assert took < 10, took
    assert "sleep 101" not in rig.ok("ps -eo args")


def test_background_process_survives(rig):
    t = time.monotonic()
    rig.ok("sleep 102 >/dev/null 2>&1 &")
    # A background job that keeps the output pipes open does not hold the
    # exec either.
    r = rig.sh("echo started; sleep 103 &")
    assert r.exit_code == 0 and r.out == b"started\n", r
    assert time.monotonic() - t < 10
    args = rig.ok("ps -eo args")
    assert "sleep 102" in args and "sleep 103" in args
    rig.sh("pkill -f '^sleep 10[23]'", user="root")


def test_concurrent_execs(rig):
    results = []
    t = time.monotonic()
    threads = [threading.Thread(target=lambda i=i: results.append(
        rig.sh(f"sleep 1; echo {i}"))) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert time.monotonic() - t < 3.5
    assert sorted(r.text for r in results) == ["0\n", "1\n", "2\n", "3\n"]


def test_pty(rig):
    r = rig.exec(["bash", "-c", "tty; stty size; id -un; ls -l $(tty) | cut -d' ' -f3"],
                 pty=True)
    assert r.exit_code == 0, r
    lines = r.out.decode().replace("\r", "").split("\n")
    assert lines[0].startswith("/dev/pts/"), lines
    assert lines[1] == "24 80" and lines[2] == "user" and lines[3] == "user", lines

    def resize(s):
        s.sendall(_frame("R", b'{"cols":100,"rows":30}'))
    r = rig.exec(["bash", "-c", "read x; stty size"], pty=True,
                 stdin=b"go\n", on_open=resize)
    assert b"30 100" in r.out, r


def test_kill_frame_signals_the_exec(rig):
    def kill(s):
        time.sleep(0.3)
        s.sendall(_frame("K", b'{"signal":15}'))
    r = rig.exec(["sleep", "30"], on_open=kill, close_stdin=False)
    assert (r.exit_code, r.signal) == (143, 15), r


def test_pause_blocks_exec_and_resume_restores_it(rig):
    rig.ctl("pause")
    try:
        assert rig.status()["state"] == "paused"
        r = rig.exec(["true"])
        assert r.refused and r.refused["errno"] == 16, r
    finally:
        rig.ctl("resume")
    assert rig.status()["state"] == "running"
    assert rig.exec(["true"]).exit_code == 0


def test_client_leaving_a_paused_exec(rig):
    """A client that goes away while the rig is paused: its exec dies at the
    resume and the shim keeps serving meanwhile."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(rig.sock)
    s.sendall(_frame("J", json.dumps({"op": "exec", "argv": ["sleep", "104"]}).encode()))
    s.sendall(_frame("C"))
    time.sleep(0.3)
    rig.ctl("pause")
    try:
        s.close()
        time.sleep(0.3)
        assert rig.status()["state"] == "paused"
    finally:
        rig.ctl("resume")
    deadline = time.monotonic() + 5
    while "sleep 104" in rig.ok("ps -eo args") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "sleep 104" not in rig.ok("ps -eo args")


def test_stop_while_paused(data_dir):
    r = Rig(data_dir, name="pausedstop")
    try:
        r.start()
        shim_pid, _ = r.pids()
        r.ok("sleep 1000 >/dev/null 2>&1 &")
        r.ctl("pause")
        t = time.monotonic()
        r.stop()
        assert time.monotonic() - t < 10
        _assert_gone(r, shim_pid)
    finally:
        r.destroy()


def test_root_fd_resolves_inside_the_rig(rig):
    assert rig.ctl("cat", "--path", "/etc/hostname").stdout.strip() == rig.name
    # An escape attempt resolves inside the rig's root.
    rig.ok("echo inside > /tmp/../home/user/f")
    out = rig.ctl("cat", "--path", "../../../../home/user/f").stdout
    assert out == "inside\n"


def test_home_persists_and_stateless_does_not(data_dir):
    r = Rig(data_dir, name="persist")
    r.ctl("create", *r.spec_args())
    try:
        r.start()
        r.ok("echo kept > ~/file; echo gone > /tmp/file")
        r.ok("echo rootfs > /etc/rigtest", user="root")
        r.stop()
        r.start()
        assert r.ok("cat ~/file /etc/rigtest") == "kept\nrootfs\n"
        assert r.sh("cat /tmp/file").exit_code != 0
    finally:
        r.destroy()
    assert not r.dir.exists()

    s = Rig(data_dir, name="stateless", stateless=True)
    try:
        s.start()
        s.ok("echo x > ~/file")
        s.stop()
        # Nothing of a stopped stateless rig stays on the host.
        assert not s.dir.exists()
        s.start()
        assert s.sh("cat ~/file").exit_code != 0
        s.stop()
        _assert_gone(s)
        assert not s.dir.exists()
    finally:
        s.destroy()


def test_stop_leaves_nothing_behind(data_dir):
    r = Rig(data_dir, name="gone")
    try:
        r.start()
        shim_pid, init_pid = r.pids()
        r.ok("sleep 1000 >/dev/null 2>&1 &")
        assert _loops_of(r.dir) and _cgroup_dirs(r.id)
        r.stop()
        assert not Path(f"/proc/{init_pid}").exists()
        _assert_gone(r, shim_pid)
        assert r.status()["state"] == "missing"
        # Stop is idempotent.
        r.stop()
    finally:
        r.destroy()


def test_killed_shim_takes_the_rig_with_it(data_dir):
    r = Rig(data_dir, name="crash")
    try:
        r.start()
        shim_pid, init_pid = r.pids()
        os.kill(shim_pid, 9)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{init_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not Path(f"/proc/{init_pid}").exists()
        assert r.status()["state"] == "missing"
        # Mounts and the loop device died with the namespaces; stop cleans
        # the rest (cgroup, socket) and the rig starts again.
        r.stop()
        _assert_gone(r, shim_pid)
        r.start()
        assert r.exec(["true"]).exit_code == 0
    finally:
        r.destroy()


def test_reconcile_kills_a_shim_whose_directory_is_gone(tmp_path):
    r = Rig(tmp_path, name="lost")
    try:
        r.start()
        shim_pid, init_pid = r.pids()
        subprocess.run(["rm", "-rf", str(r.dir)], check=True)
        r.ctl("reconcile")
        deadline = time.monotonic() + 5
        while Path(f"/proc/{init_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not Path(f"/proc/{init_pid}").exists()
        _assert_gone(r, shim_pid)
    finally:
        r.destroy()


def test_deep_data_dir(tmp_path):
    # Longer than a unix socket path may be: the socket is still reachable.
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    r = Rig(deep, name="deep")
    try:
        r.start()
        assert len(r.sock) > 108
        assert r.ctl("exec", "--", "hostname").stdout == "deep\n"
        assert r.status()["state"] == "running"
        r.stop()
        _assert_gone(r)
    finally:
        r.destroy()


def test_reconcile_removes_unknown_rigs(tmp_path):
    # A data dir of its own: reconcile removes every rig it is not told to keep.
    keep = Rig(tmp_path, name="keep")
    drop = Rig(tmp_path, name="drop")
    try:
        keep.start()
        drop.start()
        keep.ctl("reconcile", "--keep", keep.id)
        assert keep.status()["state"] == "running"
        assert not drop.dir.exists()
        _assert_gone(drop)
    finally:
        keep.destroy()
        drop.destroy()


# ---- attacks from inside, as rig root: each must fail ----

def test_no_mounts(rig):
    r = rig.sh("mount -t tmpfs x /mnt", user="root")
    assert r.exit_code != 0, r
    r = rig.sh("mount --bind /home /mnt", user="root")
    assert r.exit_code != 0, r
    for dev in ("/dev/vda", "/dev/sda", "/dev/loop0"):
        r = rig.sh(f"mount {dev} /mnt", user="root")
        assert r.exit_code != 0, r
    assert "/mnt " not in rig.ok("cat /proc/mounts")


def test_no_new_namespaces(rig):
    for cmd in ("unshare -U true", "unshare -r true", "unshare -m true",
                "unshare -n true", "unshare -p -f true"):
        r = rig.sh(cmd, user="root")
        assert r.exit_code != 0, (cmd, r)
    r = rig.sh("unshare -U true")
    assert r.exit_code != 0, r


SYSCALL_PROBE = r"""
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
calls = {
    "init_module": (175, 0, 0, 0),
    "finit_module": (313, 0, 0, 0),
    "delete_module": (176, 0, 0),
    "kexec_load": (246, 0, 0, 0, 0),
    "keyctl": (250, 0, 0),
    "add_key": (248, 0, 0, 0, 0, 0),
    "request_key": (249, 0, 0, 0, 0),
    "bpf": (321, 0, 0, 0),
    "perf_event_open": (298, 0, 0, 0, 0, 0),
    "userfaultfd": (323, 0),
    "open_by_handle_at": (304, 0, 0, 0),
    "setns": (308, 0, 0),
    "settimeofday": (164, 0, 0),
    "reboot": (169, 0, 0, 0, 0),
    "swapon": (167, 0, 0),
    "pivot_root": (155, 0, 0),
    "syslog": (103, 0, 0, 0),
    "clock_settime": (227, 0, 0),
    "personality": (135, 0x0040000),
}
bad = []
for name, (nr, *args) in calls.items():
    ctypes.set_errno(0)
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    e = ctypes.get_errno()
    if r != -1 or e != errno.EPERM:
        bad.append(f"{name}: r={r} errno={e}")
print("\n".join(bad) if bad else "all denied")
"""


def test_dangerous_syscalls_are_denied(rig):
    for user in ("root", "user"):
        assert rig.exec(["python3", "-c", SYSCALL_PROBE], user=user).text == \
            "all denied\n"
    r = rig.sh("busybox insmod /lib/modules/x.ko", user="root")
    assert r.exit_code != 0, r


def test_no_host_files(rig, tmp_path):
    marker = tmp_path / "host-marker"
    secret = secrets.token_hex(16)
    marker.write_text(secret)
    os.chmod(tmp_path, 0o755)
    marker.chmod(0o644)
    probes = [f"cat {marker}", f"cat /proc/1/root{marker}",
              f"cat /proc/self/root{marker}",
              f"grep -rs {secret} /proc/1/root/tmp /tmp /home 2>/dev/null",
              f"ls /proc/*/root{marker}"]
    for p in probes:
        for user in ("root", "user"):
            r = rig.sh(p, user=user)
            assert secret.encode() not in r.out + r.err, (p, r)
    # Nothing of the host's root is visible at all.
    assert rig.sh("ls /work /var/cache/rigs", user="root").exit_code != 0


def test_hostname_and_clock_stay_the_host_s(rig):
    host = socket.gethostname()
    r = rig.sh("hostname evil-rig && hostname", user="root")
    assert r.out == b"evil-rig\n"
    assert socket.gethostname() == host
    rig.sh(f"hostname {rig.name}", user="root")
    before = time.time()
    r = rig.sh("date -s '2001-01-01 00:00:00'", user="root")
    assert r.exit_code != 0, r
    assert abs(time.time() - before) < 60


def test_no_host_processes(rig):
    out = rig.ok("ls /proc | grep -E '^[0-9]+$' | wc -l; cat /proc/*/comm", user="root")
    n, *comms = out.split("\n")
    assert int(n) < 10, out
    assert not {"process_api", "kthreadd", "python3", "pytest", "rig-shim"} & set(comms)


PROC_SCAN = r"""
import json, os, time
seen = set()
end = time.time() + 2
open('/tmp/scan-started', 'w').close()
while time.time() < end:
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open(f'/proc/{p}/cmdline', 'rb') as f:
                c = f.read().replace(b'\0', b' ').decode(errors='replace').strip()
            with open(f'/proc/{p}/status') as f:
                uid = [l for l in f.read().splitlines() if l.startswith('Uid:')][0]
        except (OSError, IndexError):
            continue
        seen.add(c[:200] + ' | ' + ' '.join(uid.split()[1:]))
print(json.dumps(sorted(seen)))
"""


def test_no_host_process_ever_shows_up(rig):
    """While execs start, nothing in the rig's /proc is ever a host process
    (an unmapped uid shows as 65534) or names the host's data dir."""
    res = {}
    th = threading.Thread(target=lambda: res.setdefault(
        "r", rig.exec(["python3", "-c", PROC_SCAN], user="root")))
    th.start()
    deadline = time.monotonic() + 10
    while rig.sh("test -e /tmp/scan-started").exit_code != 0:
        assert time.monotonic() < deadline
    for i in range(40):
        rig.exec(["true"], user="root" if i % 2 else "user")
    th.join(30)
    seen = json.loads(res["r"].out)
    leaks = [x for x in seen if "65534" in x.split("|")[1] or "--config" in x
             or str(rig.data_dir) in x]
    assert not leaks, leaks


def test_sys_is_read_only(rig):
    r = rig.sh("echo 1 > /sys/kernel/mm/transparent_hugepage/enabled", user="root")
    assert r.exit_code != 0, r


# ---- limits ----

def test_disk_full_stops_at_disk_mb(data_dir):
    r = Rig(data_dir, name="diskfull", disk_mb=256)
    st = os.statvfs(data_dir)
    host_free = st.f_bavail * st.f_frsize
    try:
        r.start()
        res = r.sh("dd if=/dev/zero of=~/big bs=1M 2>&1; sync; du -m ~/big | cut -f1",
                   timeout_s=120)
        assert res.exit_code == 0, res
        assert "No space left on device" in res.text, res
        size_mb = int(res.text.strip().splitlines()[-1])
        assert 150 < size_mb <= 256, res
        img = (r.dir / "disk.img").stat()
        assert img.st_blocks * 512 <= 300 * 1024 * 1024
        st = os.statvfs(data_dir)
        assert host_free - st.f_bavail * st.f_frsize < 400 * 1024 * 1024
        # The rig keeps working (and can free space).
        r.ok("rm ~/big; echo ok > ~/small")
    finally:
        r.destroy()


def test_fork_bomb_is_bounded(data_dir):
    r = Rig(data_dir, name="forkbomb", max_processes=64)
    try:
        r.start()
        t = time.monotonic()
        res = r.sh("bomb() { bomb | bomb & }; bomb & sleep 30", timeout_s=5)
        assert res.timed_out, res
        # The host stayed responsive meanwhile and afterwards.
        assert time.monotonic() - t < 15
        t = time.monotonic()
        subprocess.run(["true"], check=True)
        assert time.monotonic() - t < 3
        # The timeout took the whole bomb down; the rig works.
        assert r.exec(["true"]).exit_code == 0
    finally:
        r.destroy()


def test_memory_bomb_is_killed_and_the_shim_survives(data_dir):
    r = Rig(data_dir, name="membomb", memory_mb=128)
    try:
        r.start()
        shim_pid, _ = r.pids()
        res = r.exec(["python3", "-c",
                      "a = []\nwhile True: a.append(bytearray(8 << 20))"],
                     timeout_s=60)
        assert res.exit_code == 137 and not res.timed_out, res
        assert Path(f"/proc/{shim_pid}").exists()
        assert r.status()["state"] == "running"
        assert r.exec(["true"]).exit_code == 0
    finally:
        r.destroy()
