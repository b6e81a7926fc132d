"""Attacks from inside a rig, as the rig's root (exec user "root"), through a
real rigd. Every one must fail, and the host must not notice: host
processes, host files, mounts, new namespaces, kernel modules, keyrings, bpf,
hostname, clock, /proc and /sys writes, a fork bomb, a memory bomb, a full
disk; and rig root must be an unprivileged uid on the host.

Contract: shared/API.md "Details pinned down / Rigs" and ARCHITECTURE.md
"The rig"; docs/api.md "What a rig is".
"""

import json
import os
import platform
import secrets
import socket
import subprocess
import threading
import time

import pytest

import helpers
from helpers import assert_error, uniq
from rigutil import (MIB, cgroup_procs, data_dir_usage, describe,  # noqa: F401
                     rig_api, rig_prereqs, tmp_path, wait_for)

EPERM = 1
EAGAIN = 11


@pytest.fixture(scope="module")
def rig(rig_api):
    return rig_api.create(uniq("iso"))["id"]


@pytest.fixture(scope="module")
def host_marker(tmp_path_factory):
    d = tmp_path_factory.mktemp("iso-marker")
    secret = "HOST-SECRET-" + secrets.token_hex(16)
    p = d / "marker.txt"
    p.write_text(secret)
    os.chmod(d, 0o755)
    os.chmod(p, 0o644)
    return p, secret


def both(b):
    return b["stdout"] + b["stderr"]


def test_host_processes_are_invisible(rig_api, rig):
    rigd_pid = rig_api.d.proc.pid
    b = rig_api.root(rig, "ps -eo pid,comm --no-headers")
    comms = [ln.split(None, 1)[1] for ln in b["stdout"].splitlines() if ln.strip()]
    host_count = len([p for p in os.listdir("/proc") if p.isdigit()])
    assert len(comms) < 15 < host_count, f"the rig sees {len(comms)} processes: {comms}"
    # (a process named rig-shim may show up for a moment: the shim forks each
    # exec's process into the rig's PID namespace; test_no_host_process_...
    # checks what such a process reveals)
    for host_only in ("rigd", "pytest", "python3 -m pytest", "systemd",
                      "kthreadd", "sshd"):
        assert host_only not in comms, f"the rig sees {host_only}: {comms}"
    b = rig_api.root(rig, f"cat /proc/{rigd_pid}/cmdline; kill -0 {rigd_pid} && echo VISIBLE")
    assert "rigd" not in b["stdout"] and "VISIBLE" not in b["stdout"], b
    # PID 1 is the rig's own init
    assert rig_api.ok(rig, "cat /proc/1/comm").strip() != "systemd"
    # another rig's processes are invisible too
    other = rig_api.create(uniq("iso-other"))["id"]
    rig_api.ok(other, "sleep 321 >/dev/null 2>&1 &")
    assert "sleep 321" not in rig_api.ok(rig, "ps -eo args", user="root")
    assert rig_api.delete(other).status == 204


PROC_SCAN = r"""
import json, os, time
seen = {}
end = time.time() + 3
open('/tmp/scan-started', 'w').close()
while time.time() < end:
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open(f'/proc/{p}/cmdline', 'rb') as f:
                c = f.read().replace(b'\0', b' ').decode(errors='replace').strip()
            with open(f'/proc/{p}/status') as f:
                uid = [ln for ln in f.read().splitlines() if ln.startswith('Uid:')][0]
        except (OSError, IndexError):
            continue
        seen[c[:300] + ' | ' + ' '.join(uid.split()[1:])] = 1
print(json.dumps(sorted(seen)))
"""


def test_no_host_process_is_ever_visible(rig_api, rig):
    """While execs start, the rig's root scans /proc: it must never see a
    process that is still the host's (unmapped uid 65534 = nobody, as host
    root looks from a user namespace) nor the shim's argv, which names the
    host's data dir."""
    res = {}

    def scan():
        res["b"] = rig_api.exec(rig, ["python3", "-c", PROC_SCAN], user="root",
                                timeout=30)

    t = threading.Thread(target=scan)
    t.start()
    wait_for(lambda: rig_api.ok(rig, "test -e /tmp/scan-started && echo y || true")
             == "y\n", 10, step=0.05)
    for i in range(40):
        rig_api.exec(rig, ["true"], user="root" if i % 2 else "user")
    t.join(60)
    seen = json.loads(res["b"]["stdout"])
    data_dir = str(rig_api.data_dir)
    leaks = [s for s in seen if data_dir in s or "--config" in s
             or s.endswith("| 65534 65534 65534 65534")]
    assert not leaks, ("the rig saw host processes (uid 65534 = unmapped host "
                       "uid) or the shim's argv with the host's data dir:\n"
                       + "\n".join(leaks))


def test_host_files_are_unreachable(rig_api, rig, host_marker):
    marker, secret = host_marker
    m = str(marker)
    script = (f"cat {m}; cat /proc/1/root{m}; cat /proc/self/root{m}; "
              f"for p in /proc/[0-9]*; do cat $p/root{m} $p/cwd{m} 2>/dev/null; done; "
              f"cat /../../..{m}; ls -la {marker.parent}; "
              f"find / -xdev -name {marker.name} 2>/dev/null; "
              f"find /tmp /home /root -name {marker.name} 2>/dev/null; "
              f"python3 -c \"import os; print(open('/proc/1/root/../../..{m}').read())\"; "
              f"true")
    b = rig_api.root(rig, script, timeout=60)
    assert secret not in both(b), f"the rig read the host marker: {b!r}"
    assert marker.read_text() == secret


def _host_root_dev():
    with open("/proc/self/mountinfo") as f:
        for ln in f:
            parts = ln.split()
            if parts[4] == "/":
                return parts[2], ln.split(" - ")[1].split()[1]
    raise AssertionError("no / in mountinfo")


def test_mounts_fail(rig_api, rig):
    majmin, src = _host_root_dev()
    maj, mi = majmin.split(":")
    script = (
        "mkdir -p /mnt/t /mnt/p /mnt/h /mnt/b; r=0; "
        "mount -t tmpfs none /mnt/t && { echo MOUNTED-tmpfs; r=1; }; "
        "mount -t proc proc /mnt/p && { echo MOUNTED-proc; r=1; }; "
        "mount --bind / /mnt/b && { echo MOUNTED-bind; r=1; }; "
        f"mknod /tmp/hostdisk b {maj} {mi} && echo MKNOD-ok; "
        "mount /tmp/hostdisk /mnt/h && { echo MOUNTED-disk; r=1; }; "
        f"test -e {src} && mount {src} /mnt/h && {{ echo MOUNTED-src; r=1; }}; "
        "mount -o remount,rw /proc/sys 2>/dev/null && echo REMOUNTED; "
        "grep -E ' /mnt/(t|p|h|b) ' /proc/self/mountinfo; "
        "exit $r")
    b = rig_api.root(rig, script)
    assert "MOUNTED" not in b["stdout"] and "REMOUNTED" not in b["stdout"], b
    assert "MKNOD-ok" not in b["stdout"], f"rig root made a block device: {b!r}"
    assert "/mnt/" not in b["stdout"], b
    assert b["exit_code"] == 0, b


def test_new_namespaces_fail(rig_api, rig):
    script = ("r=0; "
              "unshare -U true && { echo UNSHARE-U; r=1; }; "
              "unshare -m true && { echo UNSHARE-m; r=1; }; "
              "unshare -r true && { echo UNSHARE-r; r=1; }; "
              "unshare -p -f true && { echo UNSHARE-p; r=1; }; "
              "unshare -n true && { echo UNSHARE-n; r=1; }; "
              "exit $r")
    for user in ("root", "user"):
        b = rig_api.sh(rig, script, user=user)
        assert b["exit_code"] == 0 and "UNSHARE" not in b["stdout"], (user, b)


SYSCALLS = {
    "x86_64": {"init_module": 175, "finit_module": 313, "delete_module": 176,
               "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
               "kexec_load": 246, "perf_event_open": 298, "userfaultfd": 323,
               "settimeofday": 164, "clock_settime": 227, "unshare": 272,
               "mount": 165, "setns": 308, "reboot": 169, "swapon": 167,
               "open_by_handle_at": 304, "sethostname": 170},
    "aarch64": {"init_module": 105, "finit_module": 273, "delete_module": 106,
                "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280,
                "kexec_load": 104, "perf_event_open": 241, "userfaultfd": 282,
                "settimeofday": 170, "clock_settime": 112, "unshare": 97,
                "mount": 40, "setns": 268, "reboot": 142, "swapon": 224,
                "open_by_handle_at": 265, "sethostname": 161},
}

SYSCALL_PROBE = r"""
import ctypes, json, os, sys
NR = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
buf = ctypes.create_string_buffer(256)
tv = (ctypes.c_long * 2)(946684800, 0)
out = {}
def call(label, name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(NR[name]), *args)
    out[label] = [r, ctypes.get_errno()]
fd = os.open("/dev/null", os.O_RDONLY)
L = ctypes.c_long
call("init_module", "init_module", buf, L(0), b"")
call("finit_module", "finit_module", L(fd), b"", L(0))
call("delete_module", "delete_module", b"ext4", L(0))
call("keyctl", "keyctl", L(0), L(-3), L(1))
call("add_key", "add_key", b"user", b"rigs-test", b"x", L(1), L(-3))
call("request_key", "request_key", b"user", b"rigs-test", None, L(0))
call("bpf", "bpf", L(0), buf, L(72))
call("kexec_load", "kexec_load", L(0), L(0), None, L(0))
call("perf_event_open", "perf_event_open", buf, L(0), L(-1), L(-1), L(0))
call("userfaultfd", "userfaultfd", L(0))
call("unshare_user", "unshare", L(0x10000000))
call("unshare_mnt", "unshare", L(0x00020000))
call("mount", "mount", b"none", b"/mnt", b"tmpfs", L(0), None)
call("settimeofday", "settimeofday", tv, None)
call("clock_settime", "clock_settime", L(0), tv)
call("swapon", "swapon", b"/dev/null", L(0))
call("reboot", "reboot", L(0xfee1dead), L(672274793), L(0x4321fedc), None)
call("open_by_handle_at", "open_by_handle_at", L(fd), buf, L(0))
print(json.dumps(out))
"""


def test_dangerous_syscalls_fail_with_eperm(rig_api, rig):
    machine = platform.machine()
    assert machine in SYSCALLS, f"no syscall table for {machine}"
    b = rig_api.exec(rig, ["python3", "-c", SYSCALL_PROBE, json.dumps(SYSCALLS[machine])],
                     user="root")
    assert b["exit_code"] == 0, b
    res = json.loads(b["stdout"])
    bad = {k: v for k, v in res.items() if v[0] != -1}
    assert not bad, f"calls that succeeded as rig root: {bad}"
    must_eperm = ["init_module", "finit_module", "delete_module", "keyctl", "add_key",
                  "request_key", "bpf", "kexec_load", "unshare_user", "unshare_mnt",
                  "mount", "settimeofday", "clock_settime", "reboot", "swapon"]
    wrong = {k: res[k] for k in must_eperm if res[k][1] != EPERM}
    assert not wrong, f"expected EPERM, got (ret, errno): {wrong}; all: {res}"


def test_module_loading_fails(rig_api, rig):
    b = rig_api.root(rig, "printf 'not a module' > /tmp/x.ko; busybox insmod /tmp/x.ko; "
                          "echo rc=$?; busybox modprobe ext4; echo rc2=$?")
    assert "rc=0" not in b["stdout"] and "rc2=0" not in b["stdout"], b


def test_hostname_changes_only_the_rig(rig_api, rig):
    host = socket.gethostname()
    new = "rig-renamed-" + secrets.token_hex(3)
    b = rig_api.root(rig, f"hostname {new}; hostname")
    assert socket.gethostname() == host, "the rig renamed the host"
    with open("/proc/sys/kernel/hostname") as f:
        assert f.read().strip() == host
    # if the rig may rename itself, it is its own UTS namespace
    if b["stdout"].strip().endswith(new):
        other = rig_api.create(uniq("iso-uts"))["id"]
        assert rig_api.ok(other, "hostname").strip() != new
        assert rig_api.delete(other).status == 204


def test_clock_cannot_be_set(rig_api, rig):
    before = time.time()
    b = rig_api.root(rig, "date -s '2001-02-03 04:05:06'; echo rc=$?; "
                          "busybox date -s '2001-02-03 04:05:06'; echo rc2=$?; "
                          "hwclock --systohc 2>&1; date +%Y")
    lines = b["stdout"].splitlines()
    assert "rc=0" not in lines, f"date -s succeeded: {b!r}"
    # busybox date reports the failure but exits 0
    assert "rc2=0" not in lines or "can't set date" in b["stderr"], b
    assert b["stdout"].strip().endswith(time.strftime("%Y", time.gmtime())), b
    assert abs(time.time() - before) < 60, "the host clock moved"


def test_proc_and_sys_writes_fail(rig_api, rig):
    def host_read(p):
        try:
            with open(p) as f:
                return f.read().strip()
        except OSError:
            return None
    sysrq = host_read("/proc/sys/kernel/sysrq") or "0"
    ksm = host_read("/sys/kernel/mm/ksm/run") or "0"
    # writes that are harmless even if they went through (same values; sysrq
    # 'h' only prints help), so a failure of the rig cannot hurt the host
    script = ("r=0; "
              "echo h > /proc/sysrq-trigger && { echo W-sysrq-trigger; r=1; }; "
              f"echo {sysrq} > /proc/sys/kernel/sysrq && {{ echo W-sysrq; r=1; }}; "
              "echo 1 > /proc/sys/vm/drop_caches && { echo W-drop_caches; r=1; }; "
              f"echo {ksm} > /sys/kernel/mm/ksm/run && {{ echo W-ksm; r=1; }}; "
              "touch /sys/rigs-test && { echo W-sys-touch; r=1; }; "
              "echo 1 > /sys/fs/cgroup/rigs-test 2>/dev/null && { echo W-cgroup; r=1; }; "
              "exit $r")
    b = rig_api.root(rig, script)
    assert b["exit_code"] == 0 and "W-" not in b["stdout"], b
    assert not os.path.exists("/sys/rigs-test")


def _poll_healthz(d, stop, out):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            r = helpers.http_request(d.port, "GET", "/healthz", timeout=10)
            out.append((r.status, time.monotonic() - t0))
        except OSError as e:
            out.append((repr(e), time.monotonic() - t0))
        time.sleep(0.2)


FORK_COUNT = r"""
import os, time, signal, errno
pids, err = [], None
for i in range(200):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    pids.append(pid)
print(len(pids), err)
for p in pids:
    os.kill(p, signal.SIGKILL)
for p in pids:
    os.waitpid(p, 0)
"""


def test_fork_bomb_is_bounded(rig_api):
    rid = rig_api.create(uniq("forkbomb"), resources={"max_processes": 64,
                                                      "memory_mb": 512})["id"]
    # the limit is where it should be
    b = rig_api.exec(rid, ["python3", "-c", FORK_COUNT], timeout=60)
    n, err = b["stdout"].split()
    assert err == str(EAGAIN), f"fork never failed: {b!r}"
    assert 30 <= int(n) < 64, f"forked {n} processes with max_processes=64"
    # the bomb, while the host and rigd stay responsive
    stop, health, counts = threading.Event(), [], []
    poller = threading.Thread(target=_poll_healthz, args=(rig_api.d, stop, health))
    poller.start()
    res = {}

    def bomb():
        res["r"] = rig_api.exec_raw(rid, ["bash", "-c", ":(){ :|:& };:; sleep 100"],
                                    timeout=8, http_timeout=90)

    t = threading.Thread(target=bomb)
    t.start()
    while t.is_alive():
        counts.append(len(cgroup_procs(rid)))
        time.sleep(0.1)
    stop.set()
    poller.join(30)
    r = res["r"]
    assert r.status == 200, describe(r)
    assert r.body["timed_out"] is True, r.body
    assert health, "no health checks ran"
    assert all(s == 200 and dt < 5 for s, dt in health), \
        f"rigd did not stay responsive during the fork bomb: {health}"
    assert max(counts) <= 64 + 2, f"the rig held {max(counts)} processes (limit 64)"
    # the rig recovers
    def alive():
        r = rig_api.exec_raw(rid, ["echo", "alive"], timeout=10)
        return r.status == 200 and r.body.get("stdout") == "alive\n"

    ok = wait_for(alive, 30, step=0.5)
    assert ok, f"the rig did not recover from the fork bomb\n{rig_api.diag(rid)}"
    assert rig_api.state(rid) == "running"
    assert rig_api.delete(rid).status == 204


MEMORY_BOMB = r"""
import sys
chunks = []
for i in range(64):
    chunks.append(b"x" * (16 << 20))
    print((i + 1) * 16, flush=True)
print("ALLOCATED 1 GiB", flush=True)
"""


def test_memory_bomb_is_killed_and_the_rig_survives(rig_api):
    rid = rig_api.create(uniq("membomb"), resources={"memory_mb": 128})["id"]
    b = rig_api.exec(rid, ["python3", "-c", MEMORY_BOMB], timeout=60)
    assert "ALLOCATED" not in b["stdout"], f"1 GiB fit in a 128 MiB rig: {b!r}"
    assert b["exit_code"] != 0, b
    reached = [int(x) for x in b["stdout"].split() if x.isdigit()]
    assert not reached or max(reached) <= 160, f"allocated {max(reached)} MiB"
    assert rig_api.d.alive(), "rigd died"
    assert rig_api.state(rid) == "running"
    assert rig_api.ok(rid, "echo alive") == "alive\n"
    # the limit is memory, without swap: a 100 MiB allocation still works
    out = rig_api.ok(rid, "python3 -c \"b = b'y' * (100 << 20); print(len(b))\"")
    assert out.strip() == str(100 << 20)
    assert rig_api.delete(rid).status == 204


def test_full_disk_stops_at_disk_mb(rig_api):
    rid = rig_api.create(uniq("diskfill"), resources={"disk_mb": 256})["id"]
    st0 = os.statvfs(rig_api.data_dir)
    free0 = st0.f_bavail * st0.f_frsize
    usage0 = data_dir_usage(rig_api.data_dir)
    b = rig_api.sh(rid, "dd if=/dev/zero of=/home/user/fill bs=1M 2>&1; echo rc=$?; "
                        "stat -c %s /home/user/fill", timeout=120)
    assert "rc=0" not in b["stdout"], f"dd never hit a full disk: {b!r}"
    assert "No space left" in b["stdout"], b
    size = int(b["stdout"].strip().splitlines()[-1])
    assert 128 * MIB <= size <= 256 * MIB, f"filled {size / MIB:.0f} MiB of a 256 MiB disk"
    grown = data_dir_usage(rig_api.data_dir) - usage0
    assert grown < 300 * MIB, f"the data dir grew by {grown / MIB:.0f} MiB for a 256 MiB rig"
    # the host's free space (other test runs may share the filesystem: generous)
    st1 = os.statvfs(rig_api.data_dir)
    used = free0 - st1.f_bavail * st1.f_frsize
    assert used < 1024 * MIB, f"the host lost {used / MIB:.0f} MiB to a 256 MiB rig"
    # root cannot go beyond it either (no reserved blocks to steal beyond disk_mb)
    b = rig_api.root(rid, "dd if=/dev/zero of=/root/more bs=1M count=300 2>&1; "
                          "stat -c %s /root/more", timeout=120)
    more = int(b["stdout"].strip().splitlines()[-1])
    assert size + more <= 256 * MIB, (size, more)
    # the files API says so too
    r = rig_api.fput(rid, "big.bin", os.urandom(4 * MIB))
    assert_error(r, 422, "quota_exceeded")
    # and recovers once space is freed
    rig_api.root(rid, "rm -f /home/user/fill /root/more")
    assert rig_api.fput(rid, "small.bin", b"x" * 1000).status == 200
    assert rig_api.ok(rid, "echo alive") == "alive\n"
    assert rig_api.delete(rid).status == 204


def _status_uids(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("Uid:"):
                return [int(x) for x in ln.split()[1:]]
    return None


def _uid_base(pid):
    with open(f"/proc/{pid}/uid_map") as f:
        inside, outside, count = f.read().split()[:3]
    return int(inside), int(outside), int(count)


def _rig_pid(rid, needle):
    for pid in cgroup_procs(rid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().replace(b"\0", b" ").strip() == needle.encode():
                    return pid
        except OSError:
            pass
    return None


def test_rig_root_is_unprivileged_on_the_host(rig_api, rig):
    rig_api.root(rig, "sleep 331 >/dev/null 2>&1 & touch /home/user/rootfile; "
                      "mkdir -p /root && touch /root/rootfile2")
    rig_api.ok(rig, "sleep 332 >/dev/null 2>&1 & touch /home/user/userfile")
    root_pid = wait_for(lambda: _rig_pid(rig, "sleep 331"), 5)
    user_pid = wait_for(lambda: _rig_pid(rig, "sleep 332"), 5)
    assert root_pid and user_pid, \
        f"rig processes not found in the rig's cgroup from the host: {cgroup_procs(rig)}"
    inside, base, count = _uid_base(root_pid)
    assert inside == 0 and count == 65536 and base >= 1000000, (inside, base, count)
    assert _status_uids(root_pid) == [base] * 4, _status_uids(root_pid)
    assert _status_uids(user_pid) == [base + 1000] * 4, _status_uids(user_pid)
    # files made by rig root belong to the uid_base on the host
    st = os.stat(f"/proc/{root_pid}/root/home/user/rootfile")
    assert st.st_uid == base, st
    assert os.stat(f"/proc/{user_pid}/root/home/user/userfile").st_uid == base + 1000
    # no process in the rig's pid namespace is host root
    host_pidns = os.readlink("/proc/self/ns/pid")
    for pid in cgroup_procs(rig):
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") == host_pidns:
                continue
            uids = _status_uids(pid)
        except OSError:
            continue
        assert uids and min(uids) >= base, f"pid {pid} runs as {uids} on the host"
    # another rig gets its own range
    other = rig_api.create(uniq("iso-uid"))["id"]
    rig_api.ok(other, "sleep 333 >/dev/null 2>&1 &")
    opid = wait_for(lambda: _rig_pid(other, "sleep 333"), 5)
    _, obase, _ = _uid_base(opid)
    assert abs(obase - base) >= 65536, (base, obase)
    rig_api.ok(rig, "pkill -f '^sleep 33' || true", user="root")
    assert rig_api.delete(other).status == 204


def test_host_is_fine_afterwards(rig_api, rig):
    """rigd still answers and the rig still works after the attacks."""
    assert rig_api.d.alive()
    r = helpers.http_request(rig_api.d.port, "GET", "/healthz")
    assert r.status == 200
    assert rig_api.ok(rig, "echo fine") == "fine\n"
    out = subprocess.run(["true"], timeout=10)
    assert out.returncode == 0
