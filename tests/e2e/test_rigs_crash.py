"""Crashes of rigd (SIGKILL) around rig operations, through a real rigd: after
a restart on the same data dir no rig is left `creating`, rigs that ran keep
running, and what the host holds (rig directories, rig-shim processes,
cgroups, loop devices, mounts) matches the rigs that exist.

Contract: shared/API.md "The daemon on the host" (rigs outlive rigd, which
reconciles on start), ARCHITECTURE.md "Rigs outlive rigd"; docs/api.md
"What a rig is" (restarts of rigd, rig.reconcile / rig.create.rollback).
"""

import os
import signal
import threading
import time

import helpers
from helpers import assert_status, uniq
from rigutil import (describe, host_view, proc_start_time, rig_daemons,  # noqa: F401
                     rig_dirs, rig_prereqs, shim_rig_ids, store_rigs, tmp_path,
                     wait_for, wait_no_leftovers)


def pid1_start(api, rid):
    return proc_start_time(api.ok(rid, "cat /proc/1/stat"))


def live_rigs(api):
    return {r["id"]: r["state"] for r in api.list()}


def audit_actions(data_dir):
    return [(row.get("action"), row.get("target"), row.get("result"))
            for _, row in helpers.audit_db_rows(data_dir)]


def delete_all(api):
    for rid in list(live_rigs(api)):
        r = api.delete(rid)
        assert r.status == 204, f"DELETE {rid}: {describe(r)}\n{api.diag(rid)}"


def test_kill_rigd_right_after_create(rig_daemons):
    api = rig_daemons()
    survivor = api.create(uniq("survivor"))
    sid = survivor["id"]
    t0 = pid1_start(api, sid)
    caught_creating = 0
    for delay in (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08):
        name = uniq("crash")
        result = {}

        def send():
            try:
                result["r"] = api.create_raw({"name": name}, timeout=15)
            except Exception as e:  # noqa: BLE001 - the daemon dies under it
                result["r"] = e

        th = threading.Thread(target=send)
        th.start()
        time.sleep(delay)
        api.d.kill()
        th.join(20)
        assert not th.is_alive(), "the create request hung after rigd died"
        before = store_rigs(api.data_dir)
        caught_creating += sum(1 for s in before.values() if s == "creating")
        candidates = set(before) | rig_dirs(api.data_dir) | set(shim_rig_ids(api.data_dir))
        api.restart(kill=True)
        # no rig stays creating
        stuck = wait_for(lambda: not [i for i, s in live_rigs(api).items()
                                      if s == "creating"], 10, step=0.2)
        live = live_rigs(api)
        assert stuck, f"rigs left creating after a restart: {live}\n{api.diag()}"
        assert all(s in ("running", "stopped", "error") for s in live.values()), live
        probs = wait_no_leftovers(api.data_dir, live, candidates)
        assert not probs, (f"after kill -9 at +{delay * 1000:.0f} ms of a create:\n"
                           + "\n".join(probs) + f"\nhost: {host_view(api.data_dir)}\n"
                           + api.diag())
        # half-made rigs were rolled back (and audited so)
        rolled = [i for i, s in before.items() if s == "creating" and i not in live]
        acts = audit_actions(api.data_dir)
        for rid in rolled:
            assert ("rig.create.rollback", rid) in [(a, t) for a, t, _ in acts], \
                f"no rig.create.rollback audited for {rid}"
        # the rig of this attempt either runs, or is gone and its name is free
        named = [r for r in api.list() if r["name"] == name]
        if named:
            assert named[0]["state"] == "running", named
            assert api.ok(named[0]["id"], "echo ok") == "ok\n"
            assert api.delete(named[0]["id"]).status == 204
        else:
            again = api.create(name)
            assert api.delete(again["id"]).status == 204
        # the rig that was there all along still runs, with the same PID 1
        assert api.state(sid) == "running", api.diag(sid)
        assert pid1_start(api, sid) == t0, f"{sid} was restarted\n{api.diag(sid)}"
    print(f"rigs caught in state creating by the kills: {caught_creating}")
    delete_all(api)
    assert not wait_no_leftovers(api.data_dir, {}, candidates)


def test_kill_rigd_during_a_long_exec(rig_daemons):
    api = rig_daemons()
    rig = api.create(uniq("longexec"))
    rid = rig["id"]
    t0 = pid1_start(api, rid)
    results = {}

    def buffered():
        try:
            results["buffered"] = api.exec_raw(
                rid, ["sh", "-c", "touch /tmp/started-b; sleep 30; echo done"],
                timeout=60, http_timeout=60)
        except Exception as e:  # noqa: BLE001
            results["buffered"] = e

    def streamed():
        try:
            results["stream"] = api.exec_stream(
                rid, {"cmd": ["sh", "-c", "touch /tmp/started-s; "
                              "while :; do echo tick; sleep 0.1; done"],
                      "timeout_s": 60}, timeout=60)
        except Exception as e:  # noqa: BLE001
            results["stream"] = e

    threads = [threading.Thread(target=buffered), threading.Thread(target=streamed)]
    for t in threads:
        t.start()
    started = wait_for(lambda: api.sh(rid, "ls /tmp/started-b /tmp/started-s "
                                           ">/dev/null 2>&1 && echo y; true")["stdout"]
                       == "y\n", 15, step=0.1)
    assert started, f"the execs did not start: {results}"
    api.d.kill()
    for t in threads:
        t.join(30)
        assert not t.is_alive(), "an exec request hung after rigd died"
    api.restart(kill=True)
    assert api.state(rid) == "running", api.diag(rid)
    assert pid1_start(api, rid) == t0, f"PID 1 changed\n{api.diag(rid)}"
    assert api.ok(rid, "echo after") == "after\n"
    b = api.exec(rid, ["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert (b["exit_code"], b["stdout"], b["stderr"]) == (4, "out\n", "err\n"), b
    objs = api.exec_stream(rid, {"cmd": ["echo", "streamed"]})
    assert objs[0] == 200, objs
    # several rounds: a second crash with nothing in flight
    api.restart(kill=True)
    assert api.ok(rid, "echo again") == "again\n"
    assert pid1_start(api, rid) == t0
    live = live_rigs(api)
    assert not wait_no_leftovers(api.data_dir, live)
    delete_all(api)
    assert not wait_no_leftovers(api.data_dir, {}, [rid])


def test_kill_rigd_during_stop_and_delete(rig_daemons):
    api = rig_daemons()
    rigs = [api.create(uniq("op"))["id"] for _ in range(4)]
    ops = [("stop", rigs[0]), ("delete", rigs[1]), ("restart", rigs[2]),
           ("pause", rigs[3])]
    def send(verb, rid):
        try:
            if verb == "delete":
                api.req("DELETE", f"/api/rigs/{rid}", timeout=15)
            else:
                api.action(rid, verb, timeout=15)
        except OSError:
            pass  # rigd died under the request: expected

    for verb, rid in ops:
        th = threading.Thread(target=send, args=(verb, rid))
        th.start()
        time.sleep(0.01)
        api.d.kill()
        th.join(20)
        api.restart(kill=True)
        live = live_rigs(api)
        assert all(s in ("running", "paused", "stopped", "error") for s in live.values()), \
            f"after kill -9 during {verb}: {live}"
        probs = wait_no_leftovers(api.data_dir, live, rigs)
        assert not probs, f"after kill -9 during {verb} of {rid}:\n" + "\n".join(probs) + \
            "\n" + api.diag(rid)
        # whatever state it is in, the rig can be driven on
        if rid in live:
            st = live[rid]
            if st in ("stopped", "error"):
                api.act(rid, "start", "running")
            elif st == "paused":
                api.act(rid, "resume", "running")
            assert api.ok(rid, "echo ok") == "ok\n", api.diag(rid)
    delete_all(api)
    assert not wait_no_leftovers(api.data_dir, {}, rigs)


def test_rig_whose_shim_died_while_rigd_was_down_is_stopped(rig_daemons):
    api = rig_daemons()
    victim = api.create(uniq("victim"))["id"]
    other = api.create(uniq("bystander"))["id"]
    t_other = pid1_start(api, other)
    api.ok(victim, "echo kept > /home/user/kept.txt")
    api.d.stop()
    shims = shim_rig_ids(api.data_dir)
    assert len(shims.get(victim, [])) == 1, shims
    os.kill(shims[victim][0], signal.SIGKILL)
    assert wait_for(lambda: victim not in shim_rig_ids(api.data_dir), 10)
    api.restart()
    assert wait_for(lambda: api.state(victim) == "stopped", 10), \
        f"{api.state(victim)}\n{api.diag(victim)}"
    assert api.state(other) == "running"
    assert pid1_start(api, other) == t_other
    probs = wait_no_leftovers(api.data_dir, live_rigs(api), [victim, other])
    assert not probs, "\n".join(probs) + "\n" + api.diag(victim)
    acts = audit_actions(api.data_dir)
    assert any(a == "rig.reconcile" and t == victim for a, t, _ in acts), \
        f"no rig.reconcile audited for {victim}: {[a for a in acts if a[1] == victim]}"
    api.act(victim, "start", "running")
    assert api.ok(victim, "cat /home/user/kept.txt") == "kept\n"
    delete_all(api)


def test_create_and_delete_twenty_rigs_leaves_nothing(rig_daemons):
    api = rig_daemons()
    ids = []
    errors = []
    lock = threading.Lock()

    def make(i):
        try:
            body = {"name": uniq("many")}
            if i % 4 == 1:
                body["stateless"] = True
            r = api.create_raw(body)
            if r.status != 201:
                errors.append(f"create: {describe(r)}")
                return
            rid = r.body["id"]
            with lock:
                ids.append(rid)
            if i % 4 == 2:
                api.act(rid, "stop", "stopped")
            elif i % 4 == 3:
                api.act(rid, "pause", "paused")
            elif i % 4 == 0:
                api.ok(rid, "echo data > /home/user/f; sleep 300 >/dev/null 2>&1 &")
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(ids) == 20
    v = host_view(api.data_dir)
    assert len(v["dirs"]) == 20, v["dirs"]
    assert not wait_no_leftovers(api.data_dir, live_rigs(api), ids)

    def delete(rid):
        # a 409 "busy" can come from rigd's own periodic health check (see
        # test_rigs_lifecycle.py::test_health_check_does_not_make_actions_409)
        for _ in range(50):
            r = api.delete(rid)
            if r.status != 409:
                break
            time.sleep(0.1)
        if r.status != 204:
            errors.append(f"DELETE {rid}: {describe(r)}")

    threads = [threading.Thread(target=delete, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert_status(api.req("GET", "/api/rigs"), 200)
    assert api.list() == []
    probs = wait_no_leftovers(api.data_dir, {}, ids)
    assert not probs, "\n".join(probs)
    v = host_view(api.data_dir, ids)
    assert v == {"dirs": [], "shims": {}, "cgroups": {}, "loops": {}, "mounts": []}, v
    assert not (api.data_dir / "rigs").exists() or not os.listdir(api.data_dir / "rigs")
