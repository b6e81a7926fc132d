"""Helpers for the end-to-end tests of the rigs API (test_rigs_*.py).

Everything goes through a real `rigd serve` started by conftest's factories
(temp data dir, free port, rate limits off). This module adds:

- prerequisite checks (root, the base template, the shim binary): a missing
  one fails the test with a clear message, it is never a reason to skip;
- `RigApi`: the rig endpoints as one credential, which remembers every rig it
  created and deletes them at teardown, follows restarts of rigd on the same
  data dir, and adds the daemon's log and the rig's shim.log to failures;
- host-side views of what rigs leave on the host: rig directories, rig-shim
  processes, cgroups, loop devices and mounts of one data dir;
- fixtures `rig_api` (the module's daemon) and `rig_daemons` (fresh daemons
  with special flags for one test), to be imported by the test modules.
"""

import glob
import hashlib
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

import helpers
from helpers import http_request

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = Path(os.environ.get("RIGS_TEMPLATES_DIR") or
                     "/var/cache/rigs/templates")
TEMPLATE_ROOTFS = TEMPLATES_DIR / "base" / "rootfs"
RIG_ID_RE = re.compile(r"^rig_[0-9A-Za-z]{8,}$")
MIB = 1024 * 1024
EXEC_HTTP_TIMEOUT = 120.0

RIG_FIELDS = {"id", "name", "org", "project", "state", "template", "stateless",
              "resources", "network", "created_by", "created_at"}
RESOURCE_FIELDS = {"cpus", "memory_mb", "max_processes", "disk_mb"}


# -- prerequisites ----------------------------------------------------------------

def shim_bin():
    rigd = Path(os.environ.get("RIGD_BIN") or
                REPO_ROOT / "build" / "src" / "rigd" / "rigd")
    return rigd.resolve().parent.parent / "shim" / "rig-shim"


def check_prerequisites():
    """Fail (never skip) when the rig runtime cannot work on this machine."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the rig runtime needs root: run the suite as root")
    for rel in ("usr/bin/bash", "usr/bin/python3", "usr/bin/busybox",
                "usr/bin/ps"):
        if not (TEMPLATE_ROOTFS / rel).exists():
            problems.append(
                f"the base template is missing or incomplete: no {rel} under "
                f"{TEMPLATE_ROOTFS} (build it with `scripts/build-template.sh "
                f"{TEMPLATES_DIR}`, or set RIGS_TEMPLATES_DIR)")
            break
    if not (shim_bin().is_file() and os.access(shim_bin(), os.X_OK)):
        problems.append(f"rig-shim is not built at {shim_bin()} (ninja -C build)")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


def serve_args():
    """Flags every rigs daemon gets: the templates dir when it is not the
    default one."""
    if str(TEMPLATES_DIR) != "/var/cache/rigs/templates":
        return ["--templates-dir", str(TEMPLATES_DIR)]
    return []


# -- small helpers ----------------------------------------------------------------

def qpath(p):
    return quote(p, safe="")


def tail(path, n=3000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError as e:
        return f"<{path}: {e}>"


def describe(r):
    body = r.body
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body[:1500])
    return f"status={r.status} body={body!r}"


def wait_for(pred, timeout, step=0.1):
    """Poll pred() until it returns a truthy value or timeout runs out; returns
    the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# -- the API as one credential ------------------------------------------------------

class RigApi:
    """The rig endpoints of one rigd (followed across restarts) as one key."""

    def __init__(self, d, start=None, key=None, extra_args=(), owner=None):
        self.d = d
        self._start = start
        self.key = key or d.admin_key
        self.extra_args = list(extra_args)
        self.created = []
        self.owner = owner or self
        self.old_logs = []

    # -- credentials and daemons ------------------------------------------------
    def as_key(self, key):
        """The same daemon as another key; rigs it creates are cleaned up by
        this object's owner."""
        return RigApi(self.d, self._start, key=key, owner=self.owner)

    @property
    def data_dir(self):
        return self.d.data_dir

    def req(self, method, path, body=None, raw=None, headers=None,
            timeout=helpers.HTTP_TIMEOUT):
        return self.owner.d.req(method, path, body=body, raw=raw, key=self.key,
                                headers=headers, timeout=timeout)

    def restart(self, kill=False, extra_args=None):
        """Stop rigd (SIGTERM and exit 0, or SIGKILL) and serve the same data
        dir again; the previous log is kept beside the new one."""
        o = self.owner
        assert o._start is not None, "this RigApi cannot restart its daemon"
        if kill:
            o.d.kill()
        else:
            o.d.stop(timeout=15)
        o._keep_log()
        if extra_args is not None:
            o.extra_args = list(extra_args)
        o.d = o._start(o.extra_args, init=False, data_dir=o.d.data_dir,
                       admin_key=o.d.admin_key)
        return o.d

    def _keep_log(self):
        p = self.d.log_path
        if p.exists():
            kept = p.with_name(f"{p.name}.before-restart-{len(self.old_logs) + 1}")
            p.rename(kept)
            self.d.log_path = kept
            self.old_logs.append(kept)

    def diag(self, rid=None):
        """rigd's log and the rig's shim.log, for failure messages."""
        o = self.owner
        out = []
        for p in o.old_logs:
            out.append(f"--- earlier rigd log {p.name} (tail) ---\n{tail(p, 1500)}")
        out.append(f"--- rigd log {o.d.log_path} (tail) ---\n{tail(o.d.log_path)}")
        if rid:
            sl = o.d.data_dir / "rigs" / rid / "shim.log"
            out.append(f"--- {sl} (tail) ---\n{tail(sl, 2000)}")
        return "\n".join(out)

    # -- rigs ------------------------------------------------------------------
    def create_raw(self, body, timeout=60):
        r = self.req("POST", "/api/rigs", body=body, timeout=timeout)
        if r.status == 201 and isinstance(r.body, dict) and "id" in r.body:
            self.owner.created.append((r.body["id"], self.key))
        return r

    def create(self, name=None, **fields):
        """POST /api/rigs; asserts 201 and returns the rig."""
        body = {"name": name or helpers.uniq("rig")}
        body.update(fields)
        r = self.create_raw(body)
        assert r.status == 201, \
            f"create {body!r}: expected 201, got {describe(r)}\n{self.diag()}"
        return r.body

    def get(self, rid):
        return self.req("GET", f"/api/rigs/{qpath(rid)}")

    def state(self, rid):
        r = self.get(rid)
        assert r.status == 200, f"GET {rid}: {describe(r)}\n{self.diag(rid)}"
        return r.body["state"]

    def list(self, query=""):
        return helpers.list_all(helpers.Client(self.owner.d, key=self.key),
                                "/api/rigs" + query)

    def action(self, rid, verb, timeout=60):
        return self.req("POST", f"/api/rigs/{qpath(rid)}/{verb}", timeout=timeout)

    def act(self, rid, verb, state):
        """An action that must succeed (200) and leave the rig in `state`."""
        r = self.action(rid, verb)
        assert r.status == 200, \
            f"{verb} {rid}: expected 200, got {describe(r)}\n{self.diag(rid)}"
        assert r.body.get("state") == state, \
            f"{verb} {rid}: expected state {state}, got {r.body!r}"
        return r.body

    def delete(self, rid, timeout=60):
        r = self.req("DELETE", f"/api/rigs/{qpath(rid)}", timeout=timeout)
        if r.status in (204, 404):
            self.forget(rid)
        return r

    def forget(self, rid):
        """This rig is gone (deleted by a ttl, say): no cleanup for it."""
        self.owner.created = [c for c in self.owner.created if c[0] != rid]

    # -- exec -------------------------------------------------------------------
    def exec_raw(self, rid, cmd, timeout=None, http_timeout=EXEC_HTTP_TIMEOUT,
                 **fields):
        body = {"cmd": cmd}
        if timeout is not None:
            body["timeout_s"] = timeout
        body.update(fields)
        return self.req("POST", f"/api/rigs/{qpath(rid)}/exec", body=body,
                        timeout=http_timeout)

    def exec(self, rid, cmd, **kw):
        """A buffered exec that must answer 200; returns its body."""
        r = self.exec_raw(rid, cmd, **kw)
        assert r.status == 200 and isinstance(r.body, dict), \
            f"exec {cmd!r} in {rid}: expected 200, got {describe(r)}\n" \
            f"{self.diag(rid)}"
        return r.body

    def sh(self, rid, script, user="user", **kw):
        return self.exec(rid, ["sh", "-c", script], user=user, **kw)

    def root(self, rid, script, **kw):
        return self.sh(rid, script, user="root", **kw)

    def ok(self, rid, script, user="user", **kw):
        """A shell script that must exit 0; returns its stdout."""
        b = self.sh(rid, script, user=user, **kw)
        assert b["exit_code"] == 0, \
            f"`{script}` as {user} in {rid} exited {b['exit_code']}: {b!r}"
        return b["stdout"]

    def exec_stream(self, rid, body, timeout=EXEC_HTTP_TIMEOUT):
        """NDJSON exec: (status, headers, [raw lines]) read incrementally."""
        conn = http.client.HTTPConnection("127.0.0.1", self.owner.d.port,
                                          timeout=timeout)
        try:
            conn.request("POST", f"/api/rigs/{qpath(rid)}/exec",
                         body=json.dumps(body).encode(),
                         headers={"Authorization": f"Bearer {self.key}",
                                  "Content-Type": "application/json",
                                  "Accept": "application/x-ndjson"})
            resp = conn.getresponse()
            lines = []
            if resp.status != 200:
                return resp.status, resp.headers, [resp.read()]
            while True:
                line = resp.readline()
                if not line:
                    break
                lines.append(line)
            return resp.status, resp.headers, lines
        finally:
            conn.close()

    # -- files ------------------------------------------------------------------
    def fget(self, rid, path, timeout=60):
        return self.req("GET", f"/api/rigs/{qpath(rid)}/files?path={qpath(path)}",
                        timeout=timeout)

    def fput(self, rid, path, data, timeout=60):
        return self.req("PUT", f"/api/rigs/{qpath(rid)}/files?path={qpath(path)}",
                        raw=data, timeout=timeout,
                        headers={"Content-Type": "application/octet-stream"})

    def fdel(self, rid, path):
        return self.req("DELETE",
                        f"/api/rigs/{qpath(rid)}/files?path={qpath(path)}")

    # -- teardown ----------------------------------------------------------------
    def cleanup(self):
        """Delete every rig this object (and its as_key children) created;
        then make sure nothing of them is left running on the host."""
        o = self.owner
        problems = []
        if o.created and not o.d.alive() and o._start is not None:
            try:
                o.restart(kill=True)
            except BaseException as e:  # noqa: BLE001 - best effort
                problems.append(f"could not restart rigd to clean up: {e}")
        for rid, key in list(o.created):
            r = None
            for _ in range(50):
                try:
                    r = http_request(o.d.port, "DELETE", f"/api/rigs/{rid}",
                                     headers={"Authorization": f"Bearer {key}"},
                                     timeout=60)
                except OSError as e:
                    problems.append(f"DELETE {rid}: {e}")
                    break
                if r.status != 409:
                    break
                time.sleep(0.2)
            if r is not None and r.status not in (204, 404):
                problems.append(f"DELETE {rid}: {describe(r)}")
            o.forget(rid)
        force_clean_host(o.d.data_dir)
        return problems


# -- the host side of one data dir ---------------------------------------------------

def rig_dirs(data_dir):
    p = Path(data_dir) / "rigs"
    if not p.is_dir():
        return set()
    return {c.name for c in p.iterdir()}


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _links(pid):
    """cwd and open-file targets of a process (empty if it is gone)."""
    out = []
    try:
        out.append(os.readlink(f"/proc/{pid}/cwd"))
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    except OSError:
        pass
    return out


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def shim_procs(data_dir):
    """{pid: [argv..., cwd and open files]} of rig-shim processes of this data
    dir: named rig-shim (comm or argv[0]), not themselves children of a
    rig-shim (an exec's helper), and naming the data dir in their argv, their
    cwd or an open file (the shim blanks its argv but lives in its rig dir)."""
    needle = str(data_dir).rstrip("/") + "/"
    cands = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        argv = _cmdline(p)
        a0 = os.path.basename(argv[0]).decode(errors="replace") if argv else ""
        if not (_comm(p).startswith("rig-shim") or a0.startswith("rig-shim")):
            continue
        cands[int(p)] = [a.decode(errors="replace") for a in argv if a]
    out = {}
    for pid, argv in cands.items():
        if _ppid(pid) in cands:
            continue
        refs = argv + _links(pid)
        if any(needle in r or r == needle.rstrip("/") for r in refs):
            out[pid] = refs
    return out


def shim_rig_ids(data_dir):
    """{rig id: [shim pids]} from the shims' argv, cwd and open files."""
    ids = {}
    for pid, refs in shim_procs(data_dir).items():
        m = re.search(r"/rigs/(rig_[0-9A-Za-z]+)(/|$| )", " ".join(refs))
        ids.setdefault(m.group(1) if m else "?", []).append(pid)
    return ids


CGROUP_ROOTS = ("/sys/fs/cgroup/*/rigs", "/sys/fs/cgroup/rigs")


def cgroups_of(rid):
    """Every cgroup directory named after this rig id, in every hierarchy."""
    out = []
    for root in CGROUP_ROOTS:
        for base in glob.glob(root):
            p = os.path.join(base, rid)
            if os.path.isdir(p):
                out.append(p)
    return out


def cgroup_procs(rid):
    """Host pids of the processes in the rig's cgroup (any hierarchy)."""
    pids = set()
    for cg in cgroups_of(rid):
        for dirpath, _dirs, files in os.walk(cg):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except OSError:
                    pass
    return pids


def loop_devices(data_dir):
    """{loop device: backing file} of loop devices backed by files in the
    data dir."""
    needle = str(data_dir).rstrip("/") + "/"
    out = {}
    for bf in glob.glob("/sys/block/loop*/loop/backing_file"):
        try:
            with open(bf) as f:
                target = f.read().strip()
        except OSError:
            continue
        if target.startswith(needle):
            out[bf.split("/")[3]] = target
    return out


def host_mounts(data_dir):
    """Lines of the host's (this process's) mountinfo that mention the data dir."""
    needle = str(data_dir).rstrip("/")
    with open("/proc/self/mountinfo") as f:
        return [ln.rstrip("\n") for ln in f if needle in ln]


def store_rigs(data_dir):
    """{id: state} from the rigs table of the data dir's store (read only)."""
    out = {}
    for db in helpers.sqlite_databases(data_dir):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            names = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='rigs'")]
            if names:
                for rid, state in con.execute("SELECT id, state FROM rigs"):
                    out[rid] = state
        except sqlite3.Error:
            pass
        finally:
            con.close()
    return out


def host_view(data_dir, ids=()):
    """What the host holds for this data dir (and for the given rig ids)."""
    ids = set(ids) | rig_dirs(data_dir) | set(shim_rig_ids(data_dir))
    loops = loop_devices(data_dir)
    for f in loops.values():
        m = re.search(r"/rigs/(rig_[0-9A-Za-z]+)/", f)
        if m:
            ids.add(m.group(1))
    return {
        "dirs": sorted(rig_dirs(data_dir)),
        "shims": shim_rig_ids(data_dir),
        "cgroups": {rid: cgroups_of(rid) for rid in sorted(ids)
                    if cgroups_of(rid)},
        "loops": loops,
        "mounts": host_mounts(data_dir),
    }


def leftovers(data_dir, live, ids=()):
    """Problems: host resources of this data dir (or of `ids`) that belong to
    no rig in `live` ({id: state}). Running and paused rigs may own one shim,
    one loop device and their cgroups; stopped rigs keep only their dir."""
    v = host_view(data_dir, ids)
    probs = []
    active = {rid for rid, st in live.items() if st in ("running", "paused")}
    for rid in v["dirs"]:
        if rid not in live and rid != "?":
            probs.append(f"directory rigs/{rid} of a rig that does not exist")
    for rid, pids in v["shims"].items():
        if rid not in active:
            probs.append(f"rig-shim {pids} for {rid} ({live.get(rid, 'no rig')})")
        elif len(pids) != 1:
            probs.append(f"{len(pids)} rig-shims for {rid}: {pids}")
    for rid in active:
        if rid not in v["shims"]:
            probs.append(f"no rig-shim for {live[rid]} rig {rid}")
    for rid, cgs in v["cgroups"].items():
        if rid not in active:
            probs.append(f"cgroups of {rid} ({live.get(rid, 'no rig')}): {cgs}")
    per_rig = {}
    for dev, f in v["loops"].items():
        m = re.search(r"/rigs/(rig_[0-9A-Za-z]+)/", f)
        rid = m.group(1) if m else None
        if rid not in active:
            probs.append(f"loop device {dev} backed by {f} "
                         f"({live.get(rid, 'no rig')})")
        per_rig.setdefault(rid, []).append(dev)
    for rid, devs in per_rig.items():
        if rid in active and len(devs) > 1:
            probs.append(f"{len(devs)} loop devices for {rid}: {devs}")
    for ln in v["mounts"]:
        m = re.search(r"/rigs/(rig_[0-9A-Za-z]+)", ln)
        if not m or m.group(1) not in active:
            probs.append(f"host mount: {ln}")
    return probs


def wait_no_leftovers(data_dir, live, ids=(), timeout=10):
    """leftovers() after giving the host up to `timeout` s to settle."""
    deadline = time.monotonic() + timeout
    while True:
        probs = leftovers(data_dir, live, ids)
        if not probs or time.monotonic() >= deadline:
            return probs
        time.sleep(0.2)


def force_clean_host(data_dir):
    """Last resort at teardown: kill what is left of this data dir's rigs (by
    pid: shims and the processes in their cgroups), then drop their cgroups
    and loop devices. Only resources named after this data dir are touched."""
    ids = set(rig_dirs(data_dir)) | set(shim_rig_ids(data_dir))
    for pids in shim_rig_ids(data_dir).values():
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    for rid in ids:
        for pid in cgroup_procs(rid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    if ids:
        time.sleep(0.3)
    for rid in ids:
        for cg in sorted(cgroups_of(rid), key=len, reverse=True):
            for dirpath, dirs, _f in sorted(os.walk(cg), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
    for dev in loop_devices(data_dir):
        subprocess.run(["losetup", "-d", f"/dev/{dev}"], capture_output=True)


def data_dir_usage(data_dir):
    """Bytes allocated on disk under data_dir (sparse files count by blocks)."""
    total = 0
    for dirpath, _d, files in os.walk(data_dir):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


def proc_start_time(stat_text):
    """Field 22 (starttime) of a /proc/<pid>/stat line."""
    rest = stat_text.rsplit(")", 1)[1].split()
    return int(rest[19])  # fields 3.. follow the comm; 22 - 3 = 19


def sha256(b):
    return hashlib.sha256(b).hexdigest()


# -- fixtures (import them into the test modules) ------------------------------------

@pytest.fixture(scope="session")
def rig_prereqs():
    check_prerequisites()


@pytest.fixture(scope="module")
def rig_api(rig_prereqs, module_factory):
    """RigApi on a daemon of this module; its rigs are deleted at teardown."""
    d = module_factory(serve_args())
    api = RigApi(d, start=module_factory, extra_args=serve_args())
    yield api
    problems = api.cleanup()
    if problems:
        pytest.fail("rig cleanup: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def rig_daemons(rig_prereqs, rigd_factory):
    """start(extra_args=()) -> RigApi on a fresh daemon for one test; every
    rig of those daemons is deleted at teardown (before rigd stops)."""
    apis = []

    def start(extra_args=()):
        args = serve_args() + list(extra_args)
        d = rigd_factory(args)
        api = RigApi(d, start=rigd_factory, extra_args=args)
        apis.append(api)
        return api

    yield start
    problems = []
    for api in apis:
        problems += api.cleanup()
    if problems:
        pytest.fail("rig cleanup: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def tmp_path(tmp_path_factory):
    """A short per-test temp dir. Overrides pytest's tmp_path (whose name
    grows with the test's name) in the modules that import it, so that the
    data dirs of conftest's rigd_factory stay short: the unix socket of a
    rig lives at <data dir>/rigs/<id>/shim.sock, and socket paths are
    limited to 107 bytes. test_long_data_dir_path checks long ones on
    purpose."""
    return tmp_path_factory.mktemp("t")
