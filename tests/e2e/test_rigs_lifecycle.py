"""Rigs lifecycle through a real rigd: create, get, list, start/stop/restart/
pause/resume, delete, names, validation, quotas, ttl, stateless rigs, restarts
of rigd, scopes and tenant isolation.

Contract: shared/API.md "Rigs" and "Details pinned down / Rigs"; served
behaviour: docs/api.md "Rigs, exec and files". Needs root and the base
template (a missing one fails, it is never skipped).
"""

import datetime
import os
import time

import pytest

import helpers
from helpers import assert_error, assert_status, create_key, create_project, uniq
from rigutil import (RESOURCE_FIELDS, RIG_FIELDS, RIG_ID_RE, RigApi,  # noqa: F401
                     describe, serve_args,
                     proc_start_time, rig_api, rig_daemons,
                     rig_dirs, rig_prereqs, tmp_path, wait_for,
                     wait_no_leftovers)

HOST_CORES = os.cpu_count() or 1
with open("/proc/meminfo") as _f:
    HOST_MEM_MB = int(_f.readline().split()[1]) // 1024


def me(api):
    return assert_status(api.req("GET", "/api/me"), 200)


def default_project(api):
    m = me(api)
    projects = helpers.list_all(helpers.Client(api.d, key=api.key),
                                f"/api/orgs/{m['org']['id']}/projects")
    return m, {p["name"]: p for p in projects}["default"]


def new_project(api):
    m = me(api)
    return create_project(helpers.Client(api.d, key=api.key), m["org"]["id"])


def pid1_start(api, rid):
    out = api.ok(rid, "cat /proc/1/stat")
    return proc_start_time(out)


# -- create, get, list ---------------------------------------------------------------

def test_create_answers_201_with_a_running_rig(rig_api):
    m, prj = default_project(rig_api)
    before = helpers.now_utc().replace(microsecond=0)
    rig = rig_api.create(uniq("web"))
    after = helpers.now_utc()
    assert RIG_FIELDS <= set(rig), f"missing fields {RIG_FIELDS - set(rig)}: {rig!r}"
    assert RIG_ID_RE.match(rig["id"]), rig["id"]
    assert rig["state"] == "running", rig
    assert rig["template"] == "base"
    assert rig["stateless"] is False
    assert rig["org"] == m["org"]["id"]
    assert rig["project"] == prj["id"]
    assert rig["created_by"] == m["principal"]["id"]
    t = helpers.parse_time(rig["created_at"])
    assert before - datetime.timedelta(seconds=2) <= t <= after, rig["created_at"]
    res = rig["resources"]
    assert set(res) >= RESOURCE_FIELDS, res
    assert res["cpus"] == pytest.approx(min(1.0, HOST_CORES))
    assert (res["memory_mb"], res["max_processes"], res["disk_mb"]) == (512, 512, 1024)
    ip = rig["network"]["ip"]  # an IPv4 address of the daemon's rig subnet (test_rigs_network.py)
    assert isinstance(ip, str) and len(ip.split(".")) == 4, rig["network"]
    assert rig["network"].get("egress") == "open"
    assert rig["network"].get("loopback_exempt_ports") == []
    assert rig.get("env") == {}
    assert rig.get("ttl_s") is None and rig.get("expires_at") is None
    # it really runs
    assert rig_api.ok(rig["id"], "echo alive").strip() == "alive"


def test_create_with_every_field(rig_api):
    body = dict(stateless=True, template="base",
                resources={"cpus": 0.5, "memory_mb": 256, "max_processes": 100,
                           "disk_mb": 512},
                network={"egress": {"allow": ["10.0.0.0/8", "pypi.org"]},
                         "loopback_exempt_ports": [8080]},
                env={"APP_ENV": "dev", "_X1": "y"}, ttl_s=3600)
    rig = rig_api.create(uniq("full"), **body)
    assert rig["stateless"] is True
    assert rig["resources"] == {"cpus": 0.5, "memory_mb": 256,
                                "max_processes": 100, "disk_mb": 512}
    assert rig["network"]["egress"] == {"allow": ["10.0.0.0/8", "pypi.org"]}
    assert rig["network"]["loopback_exempt_ports"] == [8080]
    assert rig["env"] == {"APP_ENV": "dev", "_X1": "y"}
    assert rig["ttl_s"] == 3600
    exp = helpers.parse_time(rig["expires_at"]) - helpers.parse_time(rig["created_at"])
    assert exp.total_seconds() == 3600
    # the env reaches every process of the rig
    out = rig_api.ok(rig["id"], "echo $APP_ENV/$_X1")
    assert out.strip() == "dev/y"


def test_get_by_id_and_by_name(rig_api):
    name = uniq("named")
    rig = rig_api.create(name)
    by_id = assert_status(rig_api.get(rig["id"]), 200)
    by_name = assert_status(rig_api.get(name), 200)
    assert by_id == by_name
    for k in RIG_FIELDS:
        assert by_id[k] == rig[k], (k, by_id, rig)
    assert_error(rig_api.get("rig_doesnotexist00000000"), 404, "not_found")
    assert_error(rig_api.get(uniq("nosuch")), 404, "not_found")
    # a name is looked up in the default project only: a rig of another
    # project is reached by id
    prj = new_project(rig_api)
    other = rig_api.create(uniq("elsewhere"), project=prj["name"])
    assert other["project"] == prj["id"]
    assert_status(rig_api.get(other["id"]), 200)
    assert_error(rig_api.get(other["name"]), 404, "not_found")


def test_list_project_filter_and_pagination(rig_api):
    prj = new_project(rig_api)
    ids = [rig_api.create(uniq("pg"), project=prj["id"])["id"] for _ in range(3)]
    elsewhere = rig_api.create(uniq("pg-default"))
    # by project name and by id
    for ref in (prj["name"], prj["id"]):
        items = rig_api.list(f"?project={ref}")
        assert [r["id"] for r in items] == ids, (ref, items)
        assert all(r["project"] == prj["id"] for r in items)
    # pages of one, oldest first, each rig once
    seen, cursor = [], None
    for _ in range(10):
        q = f"/api/rigs?project={prj['id']}&limit=1"
        if cursor:
            q += f"&cursor={helpers.urlquote(cursor)}"
        page = assert_status(rig_api.req("GET", q), 200)
        assert len(page["items"]) <= 1, page
        seen += [r["id"] for r in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids
    # the unfiltered list has them all, with the other project's rig
    every = [r["id"] for r in rig_api.list()]
    assert set(ids) | {elsewhere["id"]} <= set(every)
    assert len(every) == len(set(every)), every
    assert_error(rig_api.req("GET", "/api/rigs?project=no-such-project"), 404,
                 "not_found")
    assert_error(rig_api.req("GET", "/api/rigs?limit=0"), 400, "invalid_request")
    assert_error(rig_api.req("GET", "/api/rigs?limit=501"), 400, "invalid_request")


# -- lifecycle ---------------------------------------------------------------------

def test_transitions_and_refusals(rig_api):
    rig = rig_api.create(uniq("life"))
    rid = rig["id"]

    def refused(verb):
        r = rig_api.action(rid, verb)
        assert_error(r, 409, "conflict")

    def exec_refused():
        r = rig_api.exec_raw(rid, ["true"])
        assert r.status == 409, f"exec on a {rig_api.state(rid)} rig: {describe(r)}"
        assert_error(r, 409, "conflict")

    refused("start")
    refused("resume")
    rig_api.act(rid, "pause", "paused")
    assert rig_api.state(rid) == "paused"
    exec_refused()
    refused("pause")
    refused("start")
    rig_api.act(rid, "resume", "running")
    assert rig_api.ok(rid, "echo back").strip() == "back"
    rig_api.act(rid, "stop", "stopped")
    assert rig_api.state(rid) == "stopped"
    exec_refused()
    refused("stop")
    refused("pause")
    refused("resume")
    rig_api.act(rid, "start", "running")
    assert rig_api.ok(rid, "echo again").strip() == "again"
    rig_api.act(rid, "restart", "running")
    rig_api.act(rid, "stop", "stopped")
    rig_api.act(rid, "restart", "running")
    rig_api.act(rid, "pause", "paused")
    rig_api.act(rid, "stop", "stopped")
    rig_api.act(rid, "start", "running")
    assert rig_api.ok(rid, "echo last").strip() == "last"
    rig_api.act(rid, "pause", "paused")
    rig_api.act(rid, "restart", "running")
    assert rig_api.ok(rid, "echo restarted").strip() == "restarted"


def test_health_check_does_not_make_actions_409(rig_api):
    """One client drives one rig, one action after the other, for 12 s (rigd
    checks its rigs' health every 10 s in the background). Nothing else acts
    on the rig, so every action must succeed: a 409 "busy with another
    operation" here comes from rigd's own bookkeeping, not from a client."""
    prj = new_project(rig_api)
    rigs = [rig_api.create(uniq("hc"), project=prj["id"],
                           resources={"memory_mb": 64})["id"] for _ in range(50)]
    refused, n = [], 0
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        for verb in ("pause", "resume"):
            for rid in rigs:
                r = rig_api.action(rid, verb)
                n += 1
                if r.status != 200:
                    refused.append((rid, verb, r.status, r.body))
                    # retry, so that the next action finds the state it expects
                    for _ in range(100):
                        time.sleep(0.02)
                        if rig_api.action(rid, verb).status == 200:
                            break
    assert not refused, f"{len(refused)} of {n} sequential actions refused: {refused[:5]}"
    for x in rigs:
        assert rig_api.delete(x).status == 204


def test_delete_then_404_and_gone_from_lists(rig_api):
    name = uniq("del")
    rig = rig_api.create(name)
    rid = rig["id"]
    r = rig_api.delete(rid)
    assert r.status == 204, f"{describe(r)}\n{rig_api.diag(rid)}"
    assert r.body in (b"", None), r.body
    assert_error(rig_api.get(rid), 404, "not_found")
    assert_error(rig_api.get(name), 404, "not_found")
    assert rid not in [x["id"] for x in rig_api.list()]
    for verb in ("start", "stop", "restart", "pause", "resume"):
        assert_error(rig_api.action(rid, verb), 404, "not_found")
    assert_error(rig_api.exec_raw(rid, ["true"]), 404, "not_found")
    assert_error(rig_api.delete(rid), 404, "not_found")
    assert rid not in rig_dirs(rig_api.data_dir)
    # the name is free again
    again = rig_api.create(name)
    assert again["id"] != rid
    # a stopped and a paused rig delete too
    stopped = rig_api.create(uniq("del-stopped"))
    rig_api.act(stopped["id"], "stop", "stopped")
    assert rig_api.delete(stopped["id"]).status == 204
    paused = rig_api.create(uniq("del-paused"))
    rig_api.act(paused["id"], "pause", "paused")
    r = rig_api.delete(paused["id"])
    assert r.status == 204, f"{describe(r)}\n{rig_api.diag(paused['id'])}"
    for x in (stopped, paused):
        assert_error(rig_api.get(x["id"]), 404, "not_found")
        assert x["id"] not in rig_dirs(rig_api.data_dir)


def test_name_conflict_per_project(rig_api):
    name = uniq("dup")
    first = rig_api.create(name)
    r = rig_api.create_raw({"name": name})
    assert_error(r, 409, "conflict")
    r = rig_api.create_raw({"name": name, "project": "default"})
    assert_error(r, 409, "conflict")
    prj = new_project(rig_api)
    other = rig_api.create(name, project=prj["name"])
    assert other["id"] != first["id"] and other["project"] == prj["id"]
    names = [(x["project"], x["name"]) for x in rig_api.list()]
    assert names.count((first["project"], name)) == 1
    assert names.count((prj["id"], name)) == 1


BAD_BODIES = [
    ("no name", {}),
    ("empty name", {"name": ""}),
    ("name not a string", {"name": 5}),
    ("upper case", {"name": "Web"}),
    ("leading dash", {"name": "-web"}),
    ("trailing dash", {"name": "web-"}),
    ("underscore", {"name": "we_b"}),
    ("dot", {"name": "we.b"}),
    ("64 chars", {"name": "a" * 64}),
    ("template unknown", {"template": "ubuntu"}),
    ("template not a string", {"template": 1}),
    ("cpus too small", {"resources": {"cpus": 0.05}}),
    ("cpus zero", {"resources": {"cpus": 0}}),
    ("cpus over the host", {"resources": {"cpus": HOST_CORES + 1}}),
    ("cpus a string", {"resources": {"cpus": "1"}}),
    ("memory too small", {"resources": {"memory_mb": 63}}),
    ("memory over the host", {"resources": {"memory_mb": HOST_MEM_MB * 4 + 1024}}),
    ("memory fractional", {"resources": {"memory_mb": 100.5}}),
    ("processes too few", {"resources": {"max_processes": 15}}),
    ("processes too many", {"resources": {"max_processes": 65537}}),
    ("disk too small", {"resources": {"disk_mb": 255}}),
    ("disk too large", {"resources": {"disk_mb": 1048577}}),
    ("disk negative", {"resources": {"disk_mb": -1}}),
    ("resources not an object", {"resources": [1]}),
    ("env name starts with digit", {"env": {"1A": "x"}}),
    ("env name with dash", {"env": {"A-B": "x"}}),
    ("env name with =", {"env": {"A=B": "x"}}),
    ("env empty name", {"env": {"": "x"}}),
    ("env value not a string", {"env": {"A": 1}}),
    ("env not an object", {"env": ["A=1"]}),
    ("egress unknown word", {"network": {"egress": "closed"}}),
    ("egress a number", {"network": {"egress": 5}}),
    ("egress allow not a list", {"network": {"egress": {"allow": "10.0.0.0/8"}}}),
    ("egress allow item not a string", {"network": {"egress": {"allow": [5]}}}),
    ("egress allow bad cidr", {"network": {"egress": {"allow": ["10.0.0.0/33"]}}}),
    ("egress allow over 256", {"network": {"egress": {"allow": ["10.0.0.1"] * 257}}}),
    ("exempt port 0", {"network": {"loopback_exempt_ports": [0]}}),
    ("exempt port 65536", {"network": {"loopback_exempt_ports": [65536]}}),
    ("ttl zero", {"ttl_s": 0}),
    ("ttl over a year", {"ttl_s": 31536001}),
    ("stateless not a bool", {"stateless": "yes"}),
]


@pytest.mark.parametrize("what,body", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_create_validation(rig_api, what, body):
    body = dict(body)
    if "name" not in body and what != "no name":
        body["name"] = uniq("bad")
    before = {r["id"] for r in rig_api.list()}
    r = rig_api.create_raw(body)
    assert_error(r, 400, "invalid_request")
    after = {r["id"] for r in rig_api.list()}
    assert after == before, f"a refused create left a rig: {after - before}"


def test_malformed_json_is_400(rig_api):
    r = rig_api.req("POST", "/api/rigs", raw=b'{"name": "x"',
                    headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_request")


def test_quotas(rig_daemons):
    api = rig_daemons(["--quota-project-rigs", "2",
                       "--quota-project-memory-mb", "700"])
    a = api.create(uniq("q"), resources={"memory_mb": 512})
    # 512 + 256 > 700
    r = api.create_raw({"name": uniq("q"), "resources": {"memory_mb": 256}})
    assert_error(r, 422, "quota_exceeded")
    b = api.create(uniq("q"), resources={"memory_mb": 128})
    # the third rig is over the count, whatever its memory
    r = api.create_raw({"name": uniq("q"), "resources": {"memory_mb": 64}})
    assert_error(r, 422, "quota_exceeded")
    # stopped rigs count too
    api.act(b["id"], "stop", "stopped")
    r = api.create_raw({"name": uniq("q"), "resources": {"memory_mb": 64}})
    assert_error(r, 422, "quota_exceeded")
    # refused creates leave nothing
    assert {x["id"] for x in api.list()} == {a["id"], b["id"]}
    # quotas are per project
    prj = new_project(api)
    c = api.create(uniq("q"), project=prj["id"], resources={"memory_mb": 512})
    assert c["project"] == prj["id"]
    # deleting frees the room
    assert api.delete(b["id"]).status == 204
    api.create(uniq("q"), resources={"memory_mb": 128})


def test_ttl_deletes_the_rig(rig_api):
    rig = rig_api.create(uniq("ttl"), ttl_s=2)
    rid = rig["id"]
    assert rig["ttl_s"] == 2
    exp = helpers.parse_time(rig["expires_at"]) - helpers.parse_time(rig["created_at"])
    assert exp.total_seconds() == 2
    gone = wait_for(lambda: rig_api.get(rid).status == 404, 15, step=0.25)
    assert gone, f"rig with ttl_s=2 still there after 15 s: " \
        f"{describe(rig_api.get(rid))}\n{rig_api.diag(rid)}"
    assert rid not in [x["id"] for x in rig_api.list()]
    live = {x["id"]: x["state"] for x in rig_api.list()}
    probs = [p for p in wait_no_leftovers(rig_api.data_dir, live, [rid]) if rid in p]
    assert not probs, f"the expired rig left: {probs}"
    # the sweep deleted it the normal way
    rig_api.forget(rid)


def _files_under(path):
    out = []
    for dirpath, dirs, files in os.walk(path):
        out += [os.path.join(dirpath, f) for f in files + dirs]
    return out


def test_stateless_rig_forgets_everything(rig_api):
    rig = rig_api.create(uniq("sl"), stateless=True)
    rid = rig["id"]
    rig_api.ok(rid, "echo hi > /home/user/keep.txt && cat /home/user/keep.txt")
    rig_api.ok(rid, "echo hi > /etc/rigs-marker", user="root")
    rig_dir = rig_api.data_dir / "rigs" / rid
    rig_api.act(rid, "stop", "stopped")
    # nothing of the rig's disk is left on the host once it is stopped
    imgs = [p for p in _files_under(rig_dir)
            if os.path.isfile(p) and os.stat(p).st_size >= 1024 * 1024]
    assert not imgs, f"a stopped stateless rig keeps disk data on the host: {imgs}"
    rig_api.act(rid, "start", "running")
    out = rig_api.sh(rid, "ls /home/user/keep.txt /etc/rigs-marker 2>&1; true")
    assert "No such file" in out["stdout"] and out["stdout"].count("No such file") == 2, \
        f"a stateless rig kept files across stop/start: {out!r}"
    rig_api.ok(rid, "echo again > /home/user/keep.txt")
    rig_api.act(rid, "restart", "running")
    out = rig_api.sh(rid, "test -e /home/user/keep.txt && echo kept || echo gone")
    assert out["stdout"].strip() == "gone", out
    r = rig_api.delete(rid)
    assert r.status == 204, describe(r)
    assert not rig_dir.exists(), \
        f"rigs/{rid} left after delete: {_files_under(rig_dir)}"


def test_normal_rig_keeps_files(rig_api):
    rig = rig_api.create(uniq("keep"))
    rid = rig["id"]
    rig_api.ok(rid, "echo persisted > /home/user/keep.txt")
    rig_api.ok(rid, "echo sys > /etc/rigs-marker", user="root")
    rig_api.act(rid, "stop", "stopped")
    rig_api.act(rid, "start", "running")
    assert rig_api.ok(rid, "cat /home/user/keep.txt").strip() == "persisted"
    assert rig_api.ok(rid, "cat /etc/rigs-marker").strip() == "sys"
    assert rig_api.ok(rid, "stat -c %u /home/user/keep.txt").strip() == "1000"
    rig_api.act(rid, "restart", "running")
    assert rig_api.ok(rid, "cat /home/user/keep.txt").strip() == "persisted"
    rig_dir = rig_api.data_dir / "rigs" / rid
    assert rig_api.delete(rid).status == 204
    assert not rig_dir.exists(), \
        f"rigs/{rid} left after delete: {_files_under(rig_dir)}"


def test_rigd_restart_leaves_rigs_running(rig_daemons):
    api = rig_daemons()
    running = api.create(uniq("keep-running"))
    paused = api.create(uniq("keep-paused"))
    stopped = api.create(uniq("keep-stopped"))
    rid = running["id"]
    api.ok(rid, "sleep 600 >/dev/null 2>&1 &")
    t0 = pid1_start(api, rid)
    tp = pid1_start(api, paused["id"])
    api.act(paused["id"], "pause", "paused")
    api.act(stopped["id"], "stop", "stopped")
    for _ in range(2):
        api.restart()
        assert api.state(rid) == "running", api.diag(rid)
        assert api.state(paused["id"]) == "paused", api.diag(paused["id"])
        assert api.state(stopped["id"]) == "stopped", api.diag(stopped["id"])
        assert pid1_start(api, rid) == t0, \
            f"PID 1 of {rid} was restarted with rigd\n{api.diag(rid)}"
        ps = api.ok(rid, "ps -eo args")
        assert "sleep 600" in ps, f"a process of the rig died with rigd: {ps}"
    api.act(paused["id"], "resume", "running")
    assert pid1_start(api, paused["id"]) == tp
    api.act(stopped["id"], "start", "running")
    live = {x["id"]: x["state"] for x in api.list()}
    assert not wait_no_leftovers(api.data_dir, live)


# -- scopes and tenants ---------------------------------------------------------------

def test_read_only_key(rig_api):
    rig = rig_api.create(uniq("ro"))
    rid = rig["id"]
    k = create_key(helpers.Client(rig_api.d, key=rig_api.key),
                   ["rigs:instances:read"])
    ro = rig_api.as_key(k["key"])
    assert_status(ro.get(rid), 200)
    assert_status(ro.get(rig["name"]), 200)
    assert rid in [x["id"] for x in ro.list()]
    assert_error(ro.create_raw({"name": uniq("ro")}), 403, "forbidden")
    assert_error(ro.exec_raw(rid, ["touch", "/home/user/ro-was-here"]), 403, "forbidden")
    for verb in ("stop", "start", "restart", "pause", "resume"):
        assert_error(ro.action(rid, verb), 403, "forbidden")
    assert_error(ro.delete(rid), 403, "forbidden")
    assert_error(ro.fput(rid, "ro.txt", b"x"), 403, "forbidden")
    assert_error(ro.fget(rid, "/etc/hostname"), 403, "forbidden")
    assert_error(ro.fdel(rid, "/etc/hostname"), 403, "forbidden")
    assert rig_api.state(rid) == "running"
    out = rig_api.sh(rid, "ls /home/user/ro-was-here /home/user/ro.txt 2>&1; true")
    assert out["stdout"].count("No such file") == 2, out


def _all_verbs_404(api, rig):
    rid = rig["id"]
    for label, r in [
        ("get by id", api.get(rid)),
        ("get by name", api.get(rig["name"])),
        ("start", api.action(rid, "start")),
        ("stop", api.action(rid, "stop")),
        ("restart", api.action(rid, "restart")),
        ("pause", api.action(rid, "pause")),
        ("resume", api.action(rid, "resume")),
        ("exec", api.exec_raw(rid, ["touch", "/home/user/pwned"])),
        ("files get", api.fget(rid, "/etc/hostname")),
        ("files get dir", api.fget(rid, "/home/user")),
        ("files put", api.fput(rid, "/home/user/pwned2", b"x")),
        ("files delete", api.fdel(rid, "/home/user/victim.txt")),
        ("delete", api.delete(rid)),
    ]:
        assert r.status == 404, f"{label} of another tenant's rig: {describe(r)}"
        assert_error(r, 404, "not_found")


def test_another_org_sees_nothing(rig_api):
    rig = rig_api.create(uniq("tenant"))
    rid = rig["id"]
    rig_api.ok(rid, "echo mine > /home/user/victim.txt")
    org2, sess2 = helpers.org_with_session(rig_api.d)
    k2 = create_key(sess2, helpers.RIG_SCOPES)
    other = rig_api.as_key(k2["key"])
    m2 = assert_status(other.req("GET", "/api/me"), 200)
    assert m2["org"]["id"] == org2["id"] != rig["org"]
    # the other org may have a rig of the same name: still not ours
    _all_verbs_404(other, rig)
    assert rid not in [x["id"] for x in other.list()]
    assert_error(other.req("GET", f"/api/rigs?project={rig['project']}"), 404,
                 "not_found")
    theirs = other.create(rig["name"])
    assert theirs["org"] == org2["id"] and theirs["id"] != rid
    assert [x["id"] for x in other.list()] == [theirs["id"]]
    assert rid not in [x["id"] for x in other.list(f"?project={theirs['project']}")]
    assert_status(other.get(rig["name"]), 200)["id"] == theirs["id"]
    # the victim is untouched
    assert rig_api.state(rid) == "running"
    out = rig_api.sh(rid, "cat /home/user/victim.txt; ls /home/user")
    assert out["stdout"] == "mine\nvictim.txt\n", out
    assert theirs["id"] not in [x["id"] for x in rig_api.list()]


def test_project_bound_key_of_another_project(rig_api):
    rig = rig_api.create(uniq("prjbound"))
    rid = rig["id"]
    rig_api.ok(rid, "echo mine > /home/user/victim.txt")
    prj = new_project(rig_api)
    k = create_key(helpers.Client(rig_api.d, key=rig_api.key), helpers.RIG_SCOPES,
                   project=prj["id"])
    bound = rig_api.as_key(k["key"])
    _all_verbs_404(bound, rig)
    assert rid not in [x["id"] for x in bound.list()]
    assert_error(bound.req("GET", "/api/rigs?project=default"), 404, "not_found")
    assert_error(bound.create_raw({"name": uniq("x"), "project": "default"}), 404,
                 "not_found")
    mine = bound.create(uniq("bound"))
    assert mine["project"] == prj["id"]
    assert [x["id"] for x in bound.list()] == [mine["id"]]
    assert rig_api.state(rid) == "running"
    out = rig_api.sh(rid, "cat /home/user/victim.txt; ls /home/user")
    assert out["stdout"] == "mine\nvictim.txt\n", out


def test_long_data_dir_path(rig_prereqs, rigd_factory, tmp_path_factory):
    """A data dir with a long (but ordinary) path still runs rigs: the
    rig's unix socket must not be bound by its absolute path if that path
    is over the 107-byte limit of socket addresses."""
    base = tmp_path_factory.mktemp("long")
    deep = base / ("a-rather-long-directory-name-for-the-rigs-data-" + "x" * 20)
    deep.mkdir()
    d = rigd_factory(serve_args(), data_dir=deep / "data")
    api = RigApi(d)
    assert len(str(d.data_dir)) >= 80, d.data_dir
    try:
        r = api.create_raw({"name": uniq("long")})
        assert r.status == 201, \
            f"create with data dir {d.data_dir} ({len(str(d.data_dir))} bytes): " \
            f"{describe(r)}\n{api.diag()}"
        assert api.ok(r.body["id"], "echo ok").strip() == "ok"
    finally:
        problems = api.cleanup()
    assert not problems, problems
