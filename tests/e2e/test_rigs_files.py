"""GET/PUT/DELETE /api/rigs/{id}/files through a real rigd: round trips,
listings, deletes, and escape attempts that must never leave the rig.

Contract: shared/API.md "Rigs" (files) and "Details pinned down / Rigs";
served behaviour: docs/api.md "Files". The escape tests put a marker file on
the host, outside the data dir, and try to read or write it through `..`,
absolute paths, symlinks made inside the rig (to `/`, `/proc/self/root`,
`/proc/1/root`, host paths) and a symlink that is swapped while writing.
"""

import os
import re
import secrets
import threading

import pytest

import helpers
from helpers import assert_error, assert_status, uniq
from rigutil import (MIB, describe, rig_api, rig_prereqs, sha256,  # noqa: F401
                     tmp_path, wait_for)

OK_ESCAPE_STATUS = (200, 400, 404)


@pytest.fixture(scope="module")
def rig(rig_api):
    return rig_api.create(uniq("files"))["id"]


@pytest.fixture(scope="module")
def host_marker(tmp_path_factory):
    """A secret file on the host, outside any data dir."""
    d = tmp_path_factory.mktemp("host-marker")
    secret = "HOST-SECRET-" + secrets.token_hex(16)
    p = d / "marker.txt"
    p.write_text(secret)
    os.chmod(d, 0o755)
    os.chmod(p, 0o644)
    return p, secret


def assert_host_untouched(marker, secret, extra_paths=()):
    p = marker
    assert p.read_text() == secret, f"the host marker {p} was changed"
    others = sorted(set(os.listdir(p.parent)) - {p.name})
    assert not others, f"files appeared on the host next to the marker: {others}"
    for x in extra_paths:
        assert not os.path.lexists(x), f"a file appeared on the host at {x}"


# -- plain use -----------------------------------------------------------------

def test_put_creates_parents_and_get_returns_bytes(rig_api, rig):
    r = rig_api.fput(rig, "a/b/c.txt", b"hello files\n")
    body = assert_status(r, 200)
    assert body == {"path": "/home/user/a/b/c.txt", "size": 12}, body
    r = rig_api.fget(rig, "/home/user/a/b/c.txt")
    assert r.status == 200 and r.body == b"hello files\n", describe(r)
    assert (r.headers.get("Content-Type") or "").startswith("application/octet-stream")
    assert r.headers.get("Content-Length") == "12"
    out = rig_api.ok(rig, "cat /home/user/a/b/c.txt; stat -c '%u %g %a' "
                          "/home/user/a/b/c.txt /home/user/a/b /home/user/a")
    assert out == "hello files\n1000 1000 644\n1000 1000 755\n1000 1000 755\n", out
    # replace, then an empty file
    assert assert_status(rig_api.fput(rig, "a/b/c.txt", b"x"), 200)["size"] == 1
    assert rig_api.fget(rig, "a/b/c.txt").body == b"x"
    assert assert_status(rig_api.fput(rig, "empty", b""), 200) == \
        {"path": "/home/user/empty", "size": 0}
    assert rig_api.fget(rig, "empty").body in (b"", None)
    # . and .. by name
    body = assert_status(rig_api.fput(rig, "/home/user/./x/../y.txt", b"dots"), 200)
    assert body["path"] == "/home/user/y.txt", body
    assert rig_api.ok(rig, "cat /home/user/y.txt; test ! -e /home/user/x") == "dots"


def test_tmp_and_dev_shm_are_served(rig_api, rig):
    """docs/api.md: "only the rig's disk and its in-memory /tmp, /dev/shm
    are served"."""
    rig_api.ok(rig, "echo from-exec > /tmp/made-by-exec && echo shm > /dev/shm/s")
    r = rig_api.fget(rig, "/tmp/made-by-exec")
    assert r.status == 200 and r.body == b"from-exec\n", describe(r)
    r = rig_api.fget(rig, "/dev/shm/s")
    assert r.status == 200 and r.body == b"shm\n", describe(r)
    body = assert_status(rig_api.fput(rig, "/tmp/./x/../y.txt", b"tmp"), 200)
    assert body["path"] == "/tmp/y.txt", body
    assert rig_api.ok(rig, "cat /tmp/y.txt") == "tmp"
    assert rig_api.fdel(rig, "/tmp/y.txt").status == 204


def test_binary_round_trip(rig_api, rig):
    data = os.urandom(3 * MIB + 17)
    body = assert_status(rig_api.fput(rig, "bin/random.dat", data), 200)
    assert body["size"] == len(data)
    r = rig_api.fget(rig, "bin/random.dat")
    assert r.status == 200, describe(r)
    assert len(r.body) == len(data) and sha256(r.body) == sha256(data)
    inside = rig_api.ok(rig, "sha256sum /home/user/bin/random.dat").split()[0]
    assert inside == sha256(data)
    # a file written in the rig comes out byte for byte
    rig_api.ok(rig, "head -c 2000000 /dev/urandom > /home/user/bin/made.dat")
    got = rig_api.fget(rig, "bin/made.dat").body
    assert sha256(got) == rig_api.ok(rig, "sha256sum bin/made.dat").split()[0]


def test_existing_file_keeps_owner_and_mode(rig_api, rig):
    rig_api.ok(rig, "echo root > /etc/rig-owned && chmod 600 /etc/rig-owned", user="root")
    assert_status(rig_api.fput(rig, "/etc/rig-owned", b"replaced\n"), 200)
    out = rig_api.ok(rig, "cat /etc/rig-owned; stat -c '%u %a' /etc/rig-owned", user="root")
    assert out == "replaced\n0 600\n", out


def test_directory_listing(rig_api, rig):
    rig_api.ok(rig, "mkdir -p lst/sub && printf 'twelve bytes' > lst/a.txt && "
                    "chmod 640 lst/a.txt && ln -s a.txt lst/latest && mkfifo lst/pipe")
    r = rig_api.fget(rig, "lst")
    body = assert_status(r, 200)
    assert (r.headers.get("Content-Type") or "").startswith("application/json")
    assert body["path"] == "/home/user/lst"
    entries = {e["name"]: e for e in body["entries"]}
    assert set(entries) == {"a.txt", "sub", "latest", "pipe"}, body
    for e in body["entries"]:
        assert set(e) >= {"name", "type", "size", "mode", "mtime"}, e
        helpers.parse_time(e["mtime"])
        assert isinstance(e["size"], int) and isinstance(e["mode"], int), e
    assert entries["a.txt"]["type"] == "file"
    assert entries["a.txt"]["size"] == 12
    assert entries["a.txt"]["mode"] == 0o640
    assert entries["sub"]["type"] == "dir" and entries["sub"]["mode"] == 0o755
    assert entries["latest"]["type"] == "symlink" and entries["latest"]["size"] == 5
    assert entries["pipe"]["type"] == "other"
    # a symlink is followed (inside the rig)
    assert rig_api.fget(rig, "lst/latest").body == b"twelve bytes"
    # the root lists too
    names = {e["name"] for e in assert_status(rig_api.fget(rig, "/"), 200)["entries"]}
    assert {"etc", "home", "usr", "tmp"} <= names, names


def test_delete(rig_api, rig):
    rig_api.ok(rig, "mkdir -p del/full del/empty && echo x > del/f && echo y > del/full/g "
                    "&& ln -s f del/link")
    r = rig_api.fdel(rig, "del/f")
    assert r.status == 204, describe(r)
    assert_error(rig_api.fget(rig, "del/f"), 404, "not_found")
    assert_error(rig_api.fdel(rig, "del/f"), 404, "not_found")
    # a dangling symlink is removed, not its target
    assert rig_api.fdel(rig, "del/link").status == 204
    assert rig_api.fdel(rig, "del/empty").status == 204
    assert_error(rig_api.fdel(rig, "del/full"), 409, "conflict")
    assert rig_api.ok(rig, "cat del/full/g") == "y\n"
    assert rig_api.ok(rig, "ls del") == "full\n"
    assert_error(rig_api.fdel(rig, "/"), 400, "invalid_path")
    # deleting a symlink to a file keeps the file
    rig_api.ok(rig, "echo keep > del/target && ln -s target del/l2")
    assert rig_api.fdel(rig, "del/l2").status == 204
    assert rig_api.ok(rig, "cat del/target") == "keep\n"


def test_errors(rig_api, rig):
    rig_api.ok(rig, "mkdir -p err/dir && echo f > err/file && ln -s file err/link")
    assert_error(rig_api.fget(rig, "err/missing"), 404, "not_found")
    assert_error(rig_api.fput(rig, "err/dir", b"x"), 409, "conflict")
    assert_error(rig_api.fput(rig, "err/file/below", b"x"), 404, "not_found")
    assert_error(rig_api.fput(rig, "err/link", b"x"), 400, "invalid_path")
    assert rig_api.ok(rig, "cat err/file") == "f\n"
    for method in ("GET", "PUT", "DELETE"):
        r = rig_api.req(method, f"/api/rigs/{rig}/files", raw=b"")
        assert_error(r, 400, "invalid_request")
        r = rig_api.req(method, f"/api/rigs/{rig}/files?path=", raw=b"")
        assert_error(r, 400, "invalid_request")
        r = rig_api.req(method, f"/api/rigs/{rig}/files?path=/{'a' * 4100}", raw=b"")
        assert_error(r, 400, "invalid_request")
    assert_error(rig_api.fget("rig_nosuchrig000000000000", "/etc/hostname"), 404,
                 "not_found")


def test_files_on_paused_and_stopped_rigs(rig_api):
    rid = rig_api.create(uniq("files-state"))["id"]
    rig_api.act(rid, "pause", "paused")
    assert_status(rig_api.fput(rid, "p.txt", b"while paused"), 200)
    assert rig_api.fget(rid, "p.txt").body == b"while paused"
    rig_api.act(rid, "stop", "stopped")
    assert_error(rig_api.fget(rid, "p.txt"), 409, "conflict")
    assert_error(rig_api.fput(rid, "q.txt", b"x"), 409, "conflict")
    assert_error(rig_api.fdel(rid, "p.txt"), 409, "conflict")
    rig_api.act(rid, "start", "running")
    assert rig_api.fget(rid, "p.txt").body == b"while paused"
    assert rig_api.delete(rid).status == 204


# -- escapes ---------------------------------------------------------------------

def _check_get(rig_api, rig, path, secret):
    r = rig_api.fget(rig, path, timeout=20)
    assert r.status in OK_ESCAPE_STATUS, f"GET {path}: {describe(r)}"
    raw = r.body if isinstance(r.body, (bytes, bytearray)) else str(r.body).encode()
    assert secret.encode() not in raw, f"GET {path} read the host marker!"
    if r.status == 400:
        assert_error(r, 400, "invalid_path")
    if r.status == 404:
        assert_error(r, 404, "not_found")
    return r


def _check_put(rig_api, rig, path, content):
    r = rig_api.fput(rig, path, content, timeout=20)
    assert r.status in OK_ESCAPE_STATUS, f"PUT {path}: {describe(r)}"
    if r.status == 400:
        assert_error(r, 400, "invalid_path")
    elif r.status == 404:
        assert_error(r, 404, "not_found")
    else:
        p = r.body["path"]
        assert p.startswith("/") and "/../" not in p and not p.endswith("/.."), r.body
        # it landed inside the rig, at the path the answer names
        got = rig_api.root(rig, f"cat '{p}'")
        assert got["stdout"] == content.decode(), \
            f"PUT {path} answered {r.body} but the rig has {got!r}"
    return r


def _rig_dir_state(rig_api, rig):
    d = rig_api.data_dir / "rigs" / rig
    names = sorted(os.listdir(d))
    cfg = sha256((d / "config.json").read_bytes()) if (d / "config.json").exists() else None
    sub = {n: sorted(os.listdir(d / n)) for n in names if (d / n).is_dir()}
    return names, cfg, sub


def test_dotdot_and_absolute_paths_stay_inside(rig_api, rig, host_marker):
    marker, secret = host_marker
    before = _rig_dir_state(rig_api, rig)
    rels = ["../" * 12 + str(marker).lstrip("/"), "/.." * 12 + str(marker),
            str(marker), "/home/user/../../../../../.." + str(marker),
            "./../../.." + str(marker), "..", "../..", "/../.."]
    for p in rels:
        _check_get(rig_api, rig, p, secret)
    hostdir = marker.parent
    written = []
    for i, p in enumerate(["../" * 12 + str(hostdir).lstrip("/"),
                           "/.." * 12 + str(hostdir), str(hostdir),
                           "/home/user/../../../../.." + str(hostdir)]):
        _check_put(rig_api, rig, f"{p}/pwn-dotdot-{i}", b"escaped?")
        written.append(hostdir / f"pwn-dotdot-{i}")
    # relative to the rig's own directory on the host
    for i, p in enumerate(["../../../config.json", "../../../../shim.pid",
                           "../../../../../rigs.db", "/../../disk.img"]):
        _check_put(rig_api, rig, p, b"clobber?")
    assert_host_untouched(marker, secret, written)
    assert _rig_dir_state(rig_api, rig) == before, "the rig's host dir changed"


SYMLINKS = {
    "to-root": "/",
    "to-proc-self-root": "/proc/self/root",
    "to-proc-1-root": "/proc/1/root",
    "to-proc-self-cwd": "/proc/self/cwd",
    "to-up": "../../../../../../../../..",
}


def test_symlinks_stay_inside(rig_api, rig, host_marker):
    marker, secret = host_marker
    hostdir = marker.parent
    links = dict(SYMLINKS)
    links["to-hostdir"] = str(hostdir)
    links["to-marker"] = str(marker)
    script = "mkdir -p /home/user/ln && cd /home/user/ln && " + " && ".join(
        f"ln -sfn '{t}' '{n}'" for n, t in links.items())
    rig_api.ok(rig, script, user="root")
    before = _rig_dir_state(rig_api, rig)
    rel_marker = str(marker).lstrip("/")
    rel_dir = str(hostdir).lstrip("/")
    written = []
    for n in links:
        base = f"/home/user/ln/{n}"
        _check_get(rig_api, rig, base, secret)
        _check_get(rig_api, rig, f"{base}/{rel_marker}", secret)
        _check_get(rig_api, rig, f"{base}/../../{rel_marker}", secret)
        _check_get(rig_api, rig, f"{base}/etc/hostname", secret)
        _check_put(rig_api, rig, f"{base}/{rel_dir}/pwn-{n}", b"escaped?")
        written.append(hostdir / f"pwn-{n}")
        _check_put(rig_api, rig, f"{base}/pwn-{n}-top", b"escaped?")
        written.append(f"/pwn-{n}-top")
    # a chain: a link to a dir holding a link to /
    rig_api.ok(rig, "mkdir -p /home/user/chain && ln -sfn /home/user/ln /home/user/chain/c",
               user="root")
    _check_get(rig_api, rig, f"/home/user/chain/c/to-root/{rel_marker}", secret)
    _check_put(rig_api, rig, f"/home/user/chain/c/to-root/{rel_dir}/pwn-chain", b"x")
    written.append(hostdir / "pwn-chain")
    # links through /proc magic are refused or stay inside, never outside
    r = rig_api.fget(rig, "/home/user/ln/to-proc-1-root/etc/hostname")
    assert r.status in (200, 400), describe(r)
    assert_host_untouched(marker, secret, written)
    assert _rig_dir_state(rig_api, rig) == before, "the rig's host dir changed"
    # listing through the link to / lists the rig's root, not the host's
    r = rig_api.fget(rig, "/home/user/ln/to-root")
    if r.status == 200:
        names = {e["name"] for e in r.body["entries"]}
        host_only = set(os.listdir("/")) - set(os.listdir("/var/cache/rigs/templates/base/rootfs"))
        assert not (names & host_only), f"lists the host's /: {names & host_only}"


def test_swapped_symlink_race(rig_api, rig, host_marker):
    """An exec loop flips /home/user/race between a directory and `/` while
    we PUT through it 200 times (and GET 100 times): every write lands in
    the rig."""
    marker, secret = host_marker
    hostdir = marker.parent
    rel_dir = str(hostdir).lstrip("/")
    rel_marker = str(marker).lstrip("/")
    rig_api.ok(rig, f"mkdir -p /home/user/racedir/{rel_dir} && rm -f /home/user/race-stop "
                    f"&& ln -sfn /home/user/racedir /home/user/race", user="root")
    flips = {}

    flipper_py = (
        "import os\n"
        "n = 0\n"
        "open('/home/user/race-started', 'w').close()\n"
        "while not os.path.exists('/home/user/race-stop'):\n"
        "    for target in ('/', '/home/user/racedir'):\n"
        "        try: os.unlink('/home/user/race.new')\n"
        "        except FileNotFoundError: pass\n"
        "        os.symlink(target, '/home/user/race.new')\n"
        "        os.rename('/home/user/race.new', '/home/user/race')\n"
        "    n += 1\n"
        "print(n)\n")

    def flipper():
        try:
            flips["result"] = rig_api.exec(rig, ["python3", "-c", flipper_py],
                                           user="root", timeout=90,
                                           http_timeout=120)
        except BaseException as e:  # noqa: BLE001
            flips["result"] = e

    t = threading.Thread(target=flipper)
    t.start()
    written = []
    try:
        started = wait_for(lambda: rig_api.fget(rig, "/home/user/race-started").status
                           == 200, 30)
        assert started, f"the flipper did not start: {flips}"
        for i in range(200):
            name = f"pwn-race-{i}"
            r = rig_api.fput(rig, f"/home/user/race/{rel_dir}/{name}", b"race")
            assert r.status in OK_ESCAPE_STATUS, describe(r)
            if r.status == 400:
                assert_error(r, 400, "invalid_path")
            if r.status == 200:
                p = r.body["path"]
                assert p.startswith("/") and "/../" not in p, r.body
            written.append(hostdir / name)
            if i % 2 == 0:
                g = rig_api.fget(rig, f"/home/user/race/{rel_marker}")
                raw = g.body if isinstance(g.body, bytes) else str(g.body).encode()
                assert secret.encode() not in raw, "the race read the host marker"
                assert g.status in OK_ESCAPE_STATUS, describe(g)
    finally:
        rig_api.exec_raw(rig, ["touch", "/home/user/race-stop"])
        t.join(150)
    res = flips.get("result")
    assert isinstance(res, dict) and res["exit_code"] == 0, f"flipper: {res!r}"
    assert int(res["stdout"].strip() or 0) > 100, f"the link hardly flipped: {res!r}"
    assert_host_untouched(marker, secret, written)
    # whatever was written is in the rig: under racedir or at the rig's own path
    out = rig_api.root(rig, f"ls /home/user/racedir/{rel_dir} /{rel_dir} 2>/dev/null | "
                            f"grep -c pwn-race; true")
    assert int(out["stdout"].strip() or 0) >= 1, out


@pytest.mark.parametrize("path", [
    "/proc/self/status", "/proc/1/environ", "/proc/version", "/proc",
    "/proc/self/root/etc/hostname", "/proc/1/root/etc/hostname",
    "/sys/kernel/mm/transparent_hugepage/enabled", "/sys", "/sys/fs/cgroup",
    "/dev/zero", "/dev/null", "/dev/urandom",
])
def test_special_filesystems_refused_for_get(rig_api, rig, path):
    r = rig_api.fget(rig, path, timeout=20)
    assert_error(r, 400, "invalid_path")


@pytest.mark.parametrize("path", [
    "/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/proc/self/attr/current",
    "/sys/kernel/uevent_helper", "/sys/new-file", "/dev/null", "/dev/full",
])
def test_special_filesystems_refused_for_put(rig_api, rig, path):
    r = rig_api.fput(rig, path, b"1", timeout=20)
    assert_error(r, 400, "invalid_path")


def test_proc_through_a_symlink_is_refused(rig_api, rig):
    rig_api.ok(rig, "ln -sfn /proc /home/user/procl && ln -sfn /sys /home/user/sysl")
    for p in ("procl/self/status", "procl/1/root/etc/hostname", "sysl/kernel"):
        assert_error(rig_api.fget(rig, p, timeout=20), 400, "invalid_path")
    assert_error(rig_api.fput(rig, "procl/sys/kernel/hostname", b"x"), 400,
                 "invalid_path")
    for p in ("procl/self/status", "/proc/self/status", "/sys/new-file"):
        r = rig_api.fdel(rig, p)
        assert r.status in (400, 404), describe(r)
        if r.status == 400:
            assert_error(r, 400, "invalid_path")
    assert re.match(r"^[a-z0-9-]+\n$", rig_api.ok(rig, "hostname"))
