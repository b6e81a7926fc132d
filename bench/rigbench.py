#!/usr/bin/python3
"""Measurement half of the rig runtime benchmarks (rig_start.sh, rig_exec.sh, rig_density.sh).

The shell scripts set up a throw-away rigd (init, serve, cleanup); this helper talks to it over one
keep-alive HTTP/1.1 connection (http.client, TCP_NODELAY), times the peer (bwrap), prints the
summary table and writes the results JSON. Standard library only.

  rigbench.py start   --n N   ...   POST /api/rigs -> first exec ["true"], vs bwrap /bin/true
  rigbench.py exec    --m M   ...   exec ["true"] round trips on one rig, vs bwrap /bin/true
  rigbench.py density --k K   ...   host memory per idle rig (PSS, MemAvailable, cgroup, kernel)
  rigbench.py cleanup         ...   delete every rig the key can see (used by the scripts' traps)

Common options: --url, --data-dir, --templates-dir, --out, --meta (a JSON object merged into the
results). The API key comes from $RIGS_API_KEY (kept off the command line).

Exit status: 0 done; 2 something errored (a non-2xx answer, a failed exec, a leftover after
delete): the numbers are not valid and the details are on stderr; 1 bad usage or set-up.
"""

import argparse
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

IDLE_RECONNECT_S = 5.0  # rigd closes idle keep-alive connections after --header-timeout-ms (10 s)


class BenchError(Exception):
    """Something answered wrong: the run is not valid."""


def log(msg):
    print(f"rigbench: {msg}", file=sys.stderr, flush=True)


def now_ns():
    return time.perf_counter_ns()


# --- HTTP --------------------------------------------------------------------------------------


class Api:
    def __init__(self, url, key):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit(f"rigbench: --url must be http://host:port, not {url!r}")
        self.host, self.port = u.hostname, u.port or 80
        self.key = key
        self.conn = None
        self.last = 0.0
        self.connects = 0

    def _connect(self):
        self.close()
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def warm(self):
        """Opens the connection now if the next request would have to (outside timed parts)."""
        if self.conn is None or time.monotonic() - self.last > IDLE_RECONNECT_S:
            self._connect()

    def call(self, method, path, body=None, ok=(200,)):
        """One request; returns (status, decoded JSON or None, raw bytes). Raises BenchError
        on a status outside ok. The connection is kept alive (reopened only after idling)."""
        self.warm()
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise BenchError(f"{method} {path}: connection failed: {e!r}") from e
        except BaseException:
            self.close()  # interrupted mid-request: the next request needs a fresh connection
            raise
        self.last = time.monotonic()
        if r.will_close:
            self.close()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        if r.status not in ok:
            raise BenchError(
                f"{method} {path} {json.dumps(body) if body is not None else ''} answered "
                f"{r.status}: {raw.decode(errors='replace')[:2000]}")
        return r.status, doc, raw


def list_rigs(api):
    items, cursor = [], ""
    while True:
        q = "/api/rigs?limit=500" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        _, doc, _ = api.call("GET", q)
        items += doc["items"]
        cursor = doc.get("next")
        if not cursor:
            return items


def create_rig(api, name, resources=None):
    body = {"name": name}
    if resources:
        body["resources"] = resources
    _, doc, _ = api.call("POST", "/api/rigs", body, ok=(201,))
    if doc.get("state") != "running":
        raise BenchError(f"POST /api/rigs answered 201 with state {doc.get('state')!r}: {doc}")
    return doc


def exec_true(api, rig_id):
    _, doc, _ = api.call("POST", f"/api/rigs/{rig_id}/exec", {"cmd": ["true"]})
    if not isinstance(doc, dict) or doc.get("exit_code") != 0 or doc.get("timed_out"):
        raise BenchError(f"exec [\"true\"] in {rig_id} did not succeed: {doc}")
    return doc


def delete_rig(api, rig_id):
    api.call("DELETE", f"/api/rigs/{rig_id}", ok=(204,))


# --- statistics --------------------------------------------------------------------------------


def pct(sorted_vals, p):
    """Nearest-rank percentile."""
    if not sorted_vals:
        return None
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[k - 1]


def summary(ns_values):
    ms = sorted(v / 1e6 for v in ns_values)
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 50), 3),
        "p90_ms": round(pct(ms, 90), 3),
        "p99_ms": round(pct(ms, 99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
        "min_ms": round(ms[0], 3),
        "max_ms": round(ms[-1], 3),
    }


def print_table(title, rows):
    print()
    print(title)
    print(f"{'what':<34} {'n':>6} {'p50_ms':>9} {'p99_ms':>9} {'mean_ms':>9} {'min_ms':>9} {'max_ms':>9}")
    for name, s in rows:
        print(f"{name:<34} {s['n']:>6} {s['p50_ms']:>9.3f} {s['p99_ms']:>9.3f} {s['mean_ms']:>9.3f} "
              f"{s['min_ms']:>9.3f} {s['max_ms']:>9.3f}")


def ratio(a, b):
    return round(a / b, 2) if b else None


# --- the peer ----------------------------------------------------------------------------------


def bwrap_argv(templates_dir):
    rootfs = os.path.join(templates_dir, "base", "rootfs")
    return ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", rootfs, "/",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "/bin/true"]


def run_timed(argv):
    """Wall time of one run of argv, from spawn to reaped exit (subprocess uses vfork here)."""
    t0 = now_ns()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    t1 = now_ns()
    if p.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {p.returncode}: "
                         f"{p.stderr.decode(errors='replace')[:2000]}")
    return t1 - t0


# --- diagnostics on error ----------------------------------------------------------------------


def shim_log_tail(data_dir, rig_id, lines=30):
    if not data_dir or not rig_id:
        return ""
    path = os.path.join(data_dir, "rigs", rig_id, "shim.log")
    try:
        with open(path, errors="replace") as f:
            tail = f.read().splitlines()[-lines:]
    except OSError as e:
        return f"({path}: {e.strerror})"
    return f"{path} (last {len(tail)} lines):\n" + "\n".join(tail)


def log_shim(data_dir, rig_id):
    tail = shim_log_tail(data_dir, rig_id)
    if tail:
        log(tail)


# --- host inspection ---------------------------------------------------------------------------


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            parts = v.split()
            out[k] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def proc_stat(pid):
    """(comm, ppid, utime+stime ticks) or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    lp, rp = s.index("("), s.rindex(")")
    rest = s[rp + 2:].split()
    return s[lp + 1:rp], int(rest[1]), int(rest[11]) + int(rest[12])


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def shims_of(data_dir):
    """Host pids of rig-shim processes serving rigs of this data dir."""
    needle = os.path.join(data_dir, "rigs") + "/"
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[0] == "rig-shim" and needle in cmdline(pid):
            out.append(pid)
    return out


def smaps_rollup(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0].endswith(":") and parts[2] == "kB":
                    out[parts[0][:-1]] = int(parts[1]) * 1024
    except OSError:
        return None
    return out


def kernel_threads():
    """(count, {name with digits as '#': count}) of the kernel's threads (children of kthreadd)."""
    n, names = 0, {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st and (st[1] == 2 or pid == 2):
            n += 1
            name = re.sub(r"[0-9]+", "#", st[0])
            names[name] = names.get(name, 0) + 1
    return n, names


class Cgroups:
    """Where rigs/<id> lives for the memory controller (v1 or v2)."""

    def __init__(self):
        if os.path.exists("/sys/fs/cgroup/memory/memory.usage_in_bytes"):
            self.version, self.mem = 1, "/sys/fs/cgroup/memory"
            self.others = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/freezer"]
        else:
            self.version, self.mem = 2, "/sys/fs/cgroup"
            self.others = []

    def rig_dirs(self, rig_id):
        return [os.path.join(root, "rigs", rig_id) for root in [self.mem] + self.others]

    def procs(self, rig_id):
        pids = set()
        for top in self.rig_dirs(rig_id):
            for d, _, files in os.walk(top):
                if "cgroup.procs" in files:
                    try:
                        with open(os.path.join(d, "cgroup.procs")) as f:
                            pids.update(int(x) for x in f.read().split())
                    except OSError:
                        pass
        return pids

    def memory(self, rig_id):
        d = os.path.join(self.mem, "rigs", rig_id)

        def rd(name):
            try:
                with open(os.path.join(d, name)) as f:
                    return f.read()
            except OSError:
                return None

        stat = {}
        for line in (rd("memory.stat") or "").splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                stat[k] = int(v)
        if self.version == 1:
            usage, kmem = rd("memory.usage_in_bytes"), rd("memory.kmem.usage_in_bytes")
            return {
                "usage": int(usage) if usage else None,
                "kernel": int(kmem) if kmem else None,
                "anon": stat.get("total_rss", stat.get("rss")),
                "file": stat.get("total_cache", stat.get("cache")),
                "shmem": stat.get("total_shmem", stat.get("shmem")),
            }
        cur = rd("memory.current")
        return {
            "usage": int(cur) if cur else None,
            "kernel": stat.get("kernel"),
            "anon": stat.get("anon"),
            "file": stat.get("file"),
            "shmem": stat.get("shmem"),
        }

    def dying(self):
        """Memory cgroups the kernel still holds after their directories were removed (offline,
        kept alive by memory charged to them): v2 counts them, v1 = /proc/cgroups - dirs."""
        if self.version == 2:
            try:
                with open("/sys/fs/cgroup/cgroup.stat") as f:
                    for line in f:
                        if line.startswith("nr_dying_descendants "):
                            return int(line.split()[1])
            except OSError:
                return None
            return None
        try:
            with open("/proc/cgroups") as f:
                num = next(int(ln.split()[2]) for ln in f if ln.split()[0] == "memory")
        except (OSError, StopIteration, IndexError, ValueError):
            return None
        dirs = sum(1 for _ in os.walk(self.mem))
        return num - dirs

    def leftovers(self, ids):
        return [d for i in ids for d in self.rig_dirs(i) if os.path.isdir(d)]


def loops_of(data_dir):
    needle = os.path.join(os.path.realpath(data_dir), "rigs") + "/"
    out = []
    for dev in os.listdir("/sys/block"):
        try:
            with open(f"/sys/block/{dev}/loop/backing_file") as f:
                if f.read().strip().startswith(needle):
                    out.append(dev)
        except OSError:
            pass
    return out


# --- benchmarks --------------------------------------------------------------------------------


def base_result(args, name):
    res = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                 "cgroup_version": Cgroups().version},
        "valid": True,
    }
    if args.meta:
        res.update(json.loads(args.meta))
    return res


def write_json(path, res):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    log(f"wrote {path}")


class Tracker:
    """The rigs this run made, deleted at the end (or after an error) outside the timed part."""

    def __init__(self, api):
        self.api, self.ids = api, []

    def delete_all(self):
        times, errors = [], []
        while self.ids:
            rid = self.ids.pop()
            t0 = now_ns()
            try:
                delete_rig(self.api, rid)
                times.append(now_ns() - t0)
            except BenchError as e:
                errors.append(str(e))
        return times, errors


def bench_start(args, api):
    n = args.n
    res = base_result(args, "rig_start")
    bw = bwrap_argv(args.templates_dir)
    res.update({"n": n, "peer_argv": bw, "order": "interleaved: rig i, then bwrap run i"})
    tr = Tracker(api)
    total, create, first_exec, peer, spawn = [], [], [], [], []
    failing_rig = None
    try:
        # Warm-up, not counted: one rig and one bwrap run (first-touch of binaries and template).
        wid = create_rig(api, "bench-start-warmup")["id"]
        tr.ids.append(wid)
        failing_rig = wid
        exec_true(api, wid)
        run_timed(bw)
        for i in range(n):
            api.warm()
            t0 = now_ns()
            rig = create_rig(api, f"bench-start-{i}")
            t1 = now_ns()
            tr.ids.append(rig["id"])
            failing_rig = rig["id"]
            exec_true(api, rig["id"])
            t2 = now_ns()
            total.append(t2 - t0)
            create.append(t1 - t0)
            first_exec.append(t2 - t1)
            peer.append(run_timed(bw))
            spawn.append(run_timed(["/bin/true"]))
        failing_rig = None
    except BenchError:
        log_shim(args.data_dir, failing_rig)
        raise
    finally:
        del_times, del_errors = tr.delete_all()
        if del_errors:
            res["valid"] = False
            res["delete_errors"] = del_errors

    s_total, s_peer = summary(total), summary(peer)
    res.update({
        "rigd": {"create_to_first_exec": s_total, "create": summary(create),
                 "first_exec": summary(first_exec)},
        "bwrap": s_peer,
        "host_spawn_true": summary(spawn),
        "delete": summary(del_times),
        "ratio_p50": ratio(s_total["p50_ms"], s_peer["p50_ms"]),
        "ratio_p99": ratio(s_total["p99_ms"], s_peer["p99_ms"]),
        "targets": {"rigd_p50_ms_below": 25, "ratio_p50_at_most": 4},
        "http_connections": api.connects,
    })
    res["meets_targets"] = bool(s_total["p50_ms"] < 25 and res["ratio_p50"] <= 4)
    print_table(f"rig start: POST /api/rigs -> first successful exec [\"true\"], {n} rigs "
                f"sequential, keep-alive; peer bwrap --unshare-all /bin/true (interleaved)", [
                    ("rigd create -> first exec", s_total),
                    ("  POST /api/rigs (201)", res["rigd"]["create"]),
                    ("  first exec [\"true\"] (200)", res["rigd"]["first_exec"]),
                    ("bwrap /bin/true", s_peer),
                    ("spawn /bin/true (harness floor)", res["host_spawn_true"]),
                    ("DELETE /api/rigs/{id} (untimed)", res["delete"]),
                ])
    verdict = "meets both" if res["meets_targets"] else "misses"
    print(f"ratio rigd/bwrap p50 {res['ratio_p50']}x, p99 {res['ratio_p99']}x "
          f"(targets: rigd p50 < 25 ms and <= 4x bwrap): {verdict}")
    return res


def bench_exec(args, api):
    m = args.m
    res = base_result(args, "rig_exec")
    bw = bwrap_argv(args.templates_dir)
    res.update({"m": m, "warmup": args.warmup, "peer_argv": bw,
                "order": "interleaved: exec i, then bwrap run i"})
    tr = Tracker(api)
    lat, peer, server_ms = [], [], []
    rid = None
    try:
        rid = create_rig(api, "bench-exec")["id"]
        tr.ids.append(rid)
        for _ in range(args.warmup):
            exec_true(api, rid)
            run_timed(bw)
        for _ in range(m):
            api.warm()
            t0 = now_ns()
            doc = exec_true(api, rid)
            lat.append(now_ns() - t0)
            server_ms.append(doc.get("duration_ms", 0))
            peer.append(run_timed(bw))
    except BenchError:
        log_shim(args.data_dir, rid)
        raise
    finally:
        _, del_errors = tr.delete_all()
        if del_errors:
            res["valid"] = False
            res["delete_errors"] = del_errors
    s_exec, s_peer = summary(lat), summary(peer)
    res.update({
        "rigd_exec": s_exec,
        "rigd_exec_duration_ms_mean": round(sum(server_ms) / len(server_ms), 3) if server_ms else None,
        "bwrap": s_peer,
        "ratio_p50": ratio(s_exec["p50_ms"], s_peer["p50_ms"]),
        "ratio_p99": ratio(s_exec["p99_ms"], s_peer["p99_ms"]),
        "http_connections": api.connects,
    })
    print_table(f"rig exec: {m} sequential POST /api/rigs/{{id}}/exec [\"true\"] on one running rig, "
                f"keep-alive; peer bwrap --unshare-all /bin/true (interleaved)", [
                    ("rigd exec [\"true\"] round trip", s_exec),
                    ("bwrap /bin/true", s_peer),
                ])
    print(f"ratio rigd/bwrap p50 {res['ratio_p50']}x, p99 {res['ratio_p99']}x; mean duration_ms "
          f"reported by rigd {res['rigd_exec_duration_ms_mean']}; HTTP connections used "
          f"{api.connects}")
    return res


def rig_pids(data_dir, rig_id):
    try:
        with open(os.path.join(data_dir, "rigs", rig_id, "shim.pid")) as f:
            words = f.read().split()
        return int(words[1]), int(words[4])
    except (OSError, IndexError, ValueError):
        return None, None


def bench_density(args, api):
    k, mem_mb = args.k, args.memory_mb
    res = base_result(args, "rig_density")
    res.update({"k": k, "memory_mb": mem_mb, "settle_s": args.settle})
    cg = Cgroups()
    tr = Tracker(api)
    MiB = 1024 * 1024
    failing_rig = None
    time.sleep(args.settle)
    mem0 = meminfo()
    kt0 = kernel_threads()
    dying0 = cg.dying()
    rigd0 = smaps_rollup(args.rigd_pid) if args.rigd_pid else None
    create_t = []
    try:
        for i in range(k):
            api.warm()
            t0 = now_ns()
            rig = create_rig(api, f"bench-idle-{i}", {"memory_mb": mem_mb})
            create_t.append(now_ns() - t0)
            tr.ids.append(rig["id"])
            failing_rig = rig["id"]
        failing_rig = None
        # Wait until every rig shows as running.
        deadline = time.monotonic() + 120
        while True:
            rigs = [r for r in list_rigs(api) if r["id"] in set(tr.ids)]
            not_running = [r for r in rigs if r["state"] != "running"]
            if len(rigs) == k and not not_running:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"after 120 s {len(rigs)} of {k} rigs listed, not running: "
                                 f"{[(r['id'], r['state'], r.get('error')) for r in not_running][:10]}")
            time.sleep(0.5)

        # Let the rigs go idle, then look at them twice (the window's CPU use shows idleness).
        time.sleep(args.settle)

        def snapshot():
            per_rig = {}
            for rid in tr.ids:
                shim, init = rig_pids(args.data_dir, rid)
                if shim is None:
                    raise BenchError(f"{rid}: no readable shim.pid under {args.data_dir}/rigs/{rid}")
                pids = {shim} | cg.procs(rid)
                per_rig[rid] = (shim, init, pids)
            # Descendants of the shims too (a process outside the rig's cgroups would be missed).
            by_parent = {}
            for pid in all_pids():
                st = proc_stat(pid)
                if st:
                    by_parent.setdefault(st[1], []).append(pid)
            for rid, (shim, init, pids) in per_rig.items():
                todo = [shim]
                while todo:
                    for c in by_parent.get(todo.pop(), []):
                        if c not in pids:
                            pids.add(c)
                            todo.append(c)
            return per_rig

        snap = snapshot()
        ticks0 = {pid: (proc_stat(pid) or (0, 0, 0))[2] for _, _, ps in snap.values() for pid in ps}
        t_win0 = time.monotonic()
        time.sleep(args.window)
        t_win = time.monotonic() - t_win0
        snap = snapshot()
        mem1 = meminfo()
        kt1 = kernel_threads()
        rigd1 = smaps_rollup(args.rigd_pid) if args.rigd_pid else None

        roll_keys = ["Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Private_Clean",
                     "Private_Dirty", "Shared_Clean", "Shared_Dirty"]
        totals = {key: 0 for key in roll_keys}
        by_kind = {}
        nproc, cpu_ticks, missing_shims = 0, 0, []
        cg_sum = {"usage": 0, "kernel": 0, "anon": 0, "file": 0, "shmem": 0}
        cg_usage = []
        for rid, (shim, init, pids) in snap.items():
            if not proc_stat(shim):
                missing_shims.append(rid)
            for pid in pids:
                st = proc_stat(pid)
                roll = smaps_rollup(pid)
                if st is None or roll is None:
                    continue
                nproc += 1
                cpu_ticks += st[2] - ticks0.get(pid, st[2])
                kind = by_kind.setdefault(st[0], {"processes": 0, "pss": 0, "rss": 0})
                kind["processes"] += 1
                kind["pss"] += roll.get("Pss", 0)
                kind["rss"] += roll.get("Rss", 0)
                for key in roll_keys:
                    totals[key] += roll.get(key, 0)
            m = cg.memory(rid)
            for key in cg_sum:
                cg_sum[key] += m.get(key) or 0
            if m.get("usage") is not None:
                cg_usage.append(m["usage"])
        if missing_shims:
            raise BenchError(f"{len(missing_shims)} rigs listed as running have no live shim: "
                             f"{missing_shims[:10]}")

        hz = os.sysconf("SC_CLK_TCK")
        d = {key: mem0.get(key, 0) - mem1.get(key, 0) for key in ("MemAvailable", "MemFree")}
        d.update({key: mem1.get(key, 0) - mem0.get(key, 0) for key in
                  ("Slab", "SReclaimable", "SUnreclaim", "KernelStack", "PageTables", "Cached",
                   "Buffers", "Shmem", "AnonPages")})
        pss_per = totals["Pss"] / k
        res.update({
            "processes": nproc,
            "processes_per_rig": round(nproc / k, 2),
            "pss_total_bytes": totals["Pss"],
            "pss_per_rig_mib": round(pss_per / MiB, 3),
            "rss_per_rig_mib": round(totals["Rss"] / k / MiB, 3),
            "private_per_rig_mib": round((totals["Private_Clean"] + totals["Private_Dirty"]) / k / MiB, 3),
            "smaps_rollup_per_rig_bytes": {key: totals[key] // k for key in roll_keys},
            "by_process": {name: {"processes": v["processes"],
                                  "pss_per_rig_mib": round(v["pss"] / k / MiB, 3),
                                  "rss_per_rig_mib": round(v["rss"] / k / MiB, 3)}
                           for name, v in sorted(by_kind.items())},
            "cgroup_per_rig_mib": {key: round(v / k / MiB, 3) for key, v in cg_sum.items()},
            "cgroup_usage_max_mib": round(max(cg_usage) / MiB, 3) if cg_usage else None,
            "meminfo_delta_per_rig_mib": {key: round(v / k / MiB, 3) for key, v in d.items()},
            "memavailable_drop_per_rig_mib": round(d["MemAvailable"] / k / MiB, 3),
            "kernel_threads_per_rig": round((kt1[0] - kt0[0]) / k, 2),
            "kernel_threads_by_name_delta": {
                p: kt1[1].get(p, 0) - kt0[1].get(p, 0)
                for p in sorted(set(kt0[1]) | set(kt1[1])) if kt1[1].get(p, 0) != kt0[1].get(p, 0)},
            "rigd_pss_growth_per_rig_kib": round((rigd1["Pss"] - rigd0["Pss"]) / k / 1024, 1)
            if rigd0 and rigd1 else None,
            "idle_cpu_per_rig_pct": round(100.0 * cpu_ticks / hz / t_win / k, 4),
            "create": summary(create_t),
            "target_mib_per_rig_below": 2,
        })
    except BenchError:
        log_shim(args.data_dir, failing_rig)
        raise
    finally:
        del_times, del_errors = tr.delete_all()
        if del_errors:
            res["valid"] = False
            res["delete_errors"] = del_errors
    res["delete"] = summary(del_times)

    # Nothing of the rigs may remain on the host.
    ids = [rid for rid in os.listdir(os.path.join(args.data_dir, "rigs"))] \
        if os.path.isdir(os.path.join(args.data_dir, "rigs")) else []
    time.sleep(1)
    left = {"rig_shim_pids": shims_of(args.data_dir), "rig_dirs": ids,
            "cgroups": cg.leftovers(list(set(ids) | set(snap))),
            "loop_devices": loops_of(args.data_dir)}
    mem2 = meminfo()
    dying2 = cg.dying()
    res["leftovers"] = left
    if dying0 is not None and dying2 is not None:
        res["dying_memory_cgroups"] = {"before": dying0, "after_delete": dying2,
                                       "per_deleted_rig": round((dying2 - dying0) / k, 2)}
    res["memavailable_after_delete_vs_before_mib"] = round(
        (mem0["MemAvailable"] - mem2["MemAvailable"]) / MiB, 1)
    res["meminfo_after_delete_vs_before_mib"] = {
        key: round((mem2.get(key, 0) - mem0.get(key, 0)) / MiB, 1)
        for key in ("MemAvailable", "MemFree", "AnonPages", "Cached", "Buffers", "Shmem", "Slab",
                    "SReclaimable", "SUnreclaim", "KernelStack", "PageTables")}
    res["meets_target"] = bool(res["pss_per_rig_mib"] < 2)

    md = res["meminfo_delta_per_rig_mib"]
    cgm = res["cgroup_per_rig_mib"]
    print()
    print(f"rig density: {k} idle rigs (memory_mb {mem_mb}), host memory per rig outside its workload")
    print(f"{'measure':<58} {'MiB/rig':>10}")
    rows = [
        (f"PSS, rig-shim + rig processes ({res['processes_per_rig']} processes/rig)", res["pss_per_rig_mib"]),
    ]
    for name, v in res["by_process"].items():
        rows.append((f"  {name} ({v['processes'] / k:g}/rig)", v["pss_per_rig_mib"]))
    rows += [
        ("RSS of the same processes (shared pages counted in full)", res["rss_per_rig_mib"]),
        ("private (clean + dirty) of the same processes", res["private_per_rig_mib"]),
        (f"cgroup v{cg.version} memory usage (rig cgroup, shim not in it)", cgm["usage"]),
        ("  of it kernel (kmem)" if cg.version == 1 else "  of it kernel", cgm["kernel"]),
        ("  of it anon / file", f"{cgm['anon']} / {cgm['file']}"),
        ("host MemAvailable drop / K", md["MemAvailable"]),
        ("host Slab (unreclaimable) growth / K", f"{md['Slab']} ({md['SUnreclaim']})"),
        ("host KernelStack + PageTables growth / K", round(md["KernelStack"] + md["PageTables"], 3)),
        ("host Cached + Buffers growth / K", round(md["Cached"] + md["Buffers"], 3)),
    ]
    for name, v in rows:
        print(f"{name:<58} {v:>10}")
    if res["rigd_pss_growth_per_rig_kib"] is not None:
        print(f"rigd's own PSS grew {res['rigd_pss_growth_per_rig_kib']} KiB per rig (not counted above)")
    print(f"kernel threads per rig: {res['kernel_threads_per_rig']} "
          f"{res['kernel_threads_by_name_delta']}; idle CPU per rig over {args.window:g} s: "
          f"{res['idle_cpu_per_rig_pct']}% of a core")
    print(f"create p50 {res['create']['p50_ms']} ms, delete p50 {res['delete'].get('p50_ms')} ms; "
          f"MemAvailable after delete vs before: {res['memavailable_after_delete_vs_before_mib']} MiB")
    if "dying_memory_cgroups" in res:
        dm = res["dying_memory_cgroups"]
        print(f"memory cgroups the kernel still holds after their removal (dying): {dm['before']} "
              f"before, {dm['after_delete']} after the deletes ({dm['per_deleted_rig']} per deleted rig)")
    verdict = "meets target" if res["meets_target"] else "misses target"
    print(f"PSS per idle rig {res['pss_per_rig_mib']} MiB (target < 2 MiB): {verdict}")
    if any(left.values()):
        res["valid"] = False
        raise BenchError(f"left behind after deleting every rig: {left}", res)
    return res


def cmd_cleanup(args, api):
    rigs = list_rigs(api)
    for r in rigs:
        for _ in range(50):
            try:
                delete_rig(api, r["id"])
                break
            except BenchError as e:
                if " answered 409" not in str(e):
                    log(f"cleanup: {e}")
                    break
                time.sleep(0.2)  # busy with an operation: retry
    if rigs:
        log(f"cleanup: deleted {len(rigs)} rig(s)")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["start", "exec", "density", "cleanup"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--data-dir", default="")
    ap.add_argument("--templates-dir", default="/var/cache/rigs/templates")
    ap.add_argument("--out", default="")
    ap.add_argument("--meta", default="")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--m", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--memory-mb", type=int, default=64)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--window", type=float, default=5.0)
    ap.add_argument("--rigd-pid", type=int, default=0)
    args = ap.parse_args()
    for name in ("n", "m", "k"):
        if getattr(args, name) < 1:
            raise SystemExit(f"rigbench: --{name} must be at least 1")
    key = os.environ.get("RIGS_API_KEY", "")
    if not key:
        raise SystemExit("rigbench: set RIGS_API_KEY")
    # SIGTERM from the script's trap: unwind through the finally blocks (rigs get deleted).
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    api = Api(args.url, key)
    fn = {"start": bench_start, "exec": bench_exec, "density": bench_density,
          "cleanup": cmd_cleanup}[args.what]
    try:
        res = fn(args, api)
    except BenchError as e:
        log(f"error: {e.args[0]}")
        if len(e.args) > 1 and args.out:
            write_json(args.out, e.args[1])
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        api.close()
    if res is not None and args.out:
        write_json(args.out, res)
    return 0 if res is None or res.get("valid", True) else 2


if __name__ == "__main__":
    sys.exit(main())
