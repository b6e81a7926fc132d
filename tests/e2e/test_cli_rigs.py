"""End-to-end tests of the rig commands of the `rig` CLI: create, ls, get,
start, stop, restart, pause, resume, rm, exec, cat and cp.

Three kinds of tests live here:
- tests that need no server: help pages and usage errors (exit 2 before any
  request);
- tests against a small scripted HTTP server in this file, which check what
  rig sends and how it renders answers the real daemon may not produce on
  demand (a rig stuck in `creating`, a timed-out command, streaming order);
- the full flow against a real `rigd` that this file starts itself (`rigd
  init` on a temp data dir, `rigd serve` on a free loopback port, SIGTERM at
  the end), which needs root and the base template. When `rigd routes` does
  not list /api/rigs those tests are skipped, and for no other reason: a
  missing binary or a failing runtime fails them.

Binaries: $RIG_BIN (default <repo>/build/src/rig/rig) and $RIGD_BIN (default
<repo>/build/src/rigd/rigd).
"""

import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

import helpers

REPO_ROOT = Path(__file__).resolve().parents[2]
RIG_BIN = Path(os.environ.get("RIG_BIN") or REPO_ROOT / "build" / "src" / "rig" / "rig")
RIGD_BIN = Path(os.environ.get("RIGD_BIN") or REPO_ROOT / "build" / "src" / "rigd" / "rigd")
KEY_RE = re.compile(r"^rb_[0-9A-Za-z]{32}$")
ADMIN_EMAIL = "admin@localhost"
ADMIN_PASSWORD = "correct horse battery"
FAKE_KEY = "rb_" + "k" * 32

COMMANDS = [["create"], ["ls"], ["get"], ["start"], ["stop"], ["restart"], ["pause"],
            ["resume"], ["rm"], ["exec"], ["cat"], ["cp"]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rigd_serves_rigs():
    """Whether this rigd build routes /api/rigs. A missing or broken binary
    counts as serving them, so that the flow tests run and fail loudly."""
    try:
        res = subprocess.run([str(RIGD_BIN), "routes"], capture_output=True, text=True,
                             timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return True
    if res.returncode != 0:
        return True
    return "/api/rigs" in res.stdout


needs_rigs = pytest.mark.skipif(not rigd_serves_rigs(),
                                reason="rigd does not serve /api/rigs in this build")


# --------------------------------------------------------------------------
# Running rig


@pytest.fixture(scope="session")
def rig_bin():
    build = REPO_ROOT / "build"
    if not RIG_BIN.exists() and "RIG_BIN" not in os.environ and (build / "build.ninja").exists():
        subprocess.run(["ninja", "-C", str(build), "src/rig/rig"], check=False)
    if not (RIG_BIN.is_file() and os.access(RIG_BIN, os.X_OK)):
        pytest.fail(f"rig binary not found at {RIG_BIN}: build it with "
                    f"`meson setup build && ninja -C build src/rig/rig`, or set RIG_BIN",
                    pytrace=False)
    return RIG_BIN


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def rig_env(home, url=None, key=None, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RIGS_") and not k.startswith("XDG_")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["HOME"] = str(home)
    if url is not None:
        env["RIGS_URL"] = url
    if key is not None:
        env["RIGS_API_KEY"] = key
    env.update(extra)
    return env


def run(rig_bin, args, env, stdin=b"", timeout=60, cwd=None):
    """Runs rig with bytes in and out."""
    return subprocess.run([str(rig_bin)] + list(args), env=env, capture_output=True,
                          input=stdin, timeout=timeout, cwd=cwd)


def out(res):
    return res.stdout.decode(errors="replace")


def err(res):
    return res.stderr.decode(errors="replace")


def ok(res):
    assert res.returncode == 0, \
        f"exit {res.returncode}\nstdout:\n{out(res)}\nstderr:\n{err(res)}"
    return res


# --------------------------------------------------------------------------
# No server needed


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p))
def test_help_pages(rig_bin, home, path):
    env = rig_env(home)
    for flag in ("--help", "-h"):
        res = ok(run(rig_bin, path + [flag], env))
        text = out(res)
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES",
                        "EXIT STATUS", "ENVIRONMENT"):
            assert re.search(rf"^{section}$", text, re.M), \
                f"`rig {' '.join(path)} {flag}` lacks {section}:\n{text}"
        assert re.search(rf"^\s+rig {path[0]} - ", text, re.M)
        assert re.search(rf"^\s+rig {path[0]} ", text.split("SYNOPSIS", 1)[1], re.M)
        assert res.stderr == b""
    assert out(ok(run(rig_bin, ["help"] + path, env))) == text


def test_root_help_lists_rig_commands(rig_bin, home):
    text = out(ok(run(rig_bin, ["--help"], rig_env(home))))
    for (cmd,) in COMMANDS:
        assert re.search(rf"^\s+{cmd}\s", text, re.M), f"{cmd} missing from rig --help"


def test_help_documents_options(rig_bin, home):
    env = rig_env(home)
    create = out(ok(run(rig_bin, ["create", "--help"], env)))
    for opt in ("--project", "--stateless", "--cpus", "--memory", "--max-processes", "--disk",
                "--egress", "--env", "--ttl", "--auto-sleep", "--no-wait", "--json"):
        assert opt in create
    exe = out(ok(run(rig_bin, ["exec", "--help"], env)))
    for opt in ("--user", "--cwd", "--env", "--timeout", "--stdin", "124"):
        assert opt in exe
    assert "--all" in out(ok(run(rig_bin, ["ls", "--help"], env)))
    assert "--force" in out(ok(run(rig_bin, ["rm", "--help"], env)))


@pytest.mark.parametrize("args,needle", [
    (["create"], "missing NAME"),
    (["create", "a", "b"], "unexpected argument 'b'"),
    (["create", "x", "--cpus", "lots"], "invalid --cpus"),
    (["create", "x", "--cpus", "-1"], "invalid --cpus"),
    (["create", "x", "--memory", "0"], "invalid --memory"),
    (["create", "x", "--disk", "big"], "invalid --disk"),
    (["create", "x", "--max-processes", "many"], "invalid --max-processes"),
    (["create", "x", "--egress", "10.0.0.0/8,,pypi.org"], "invalid --egress"),
    (["create", "x", "--env", "=v"], "invalid --env"),
    (["create", "x", "--env", "NOVALUE"], "invalid --env"),
    (["create", "x", "--ttl", "soon"], "invalid --ttl"),
    (["create", "x", "--auto-sleep", "later"], "invalid --auto-sleep"),
    (["create", "x", "--frob"], "unknown option '--frob'"),
    (["ls", "extra"], "unexpected argument 'extra'"),
    (["ls", "--project"], "needs a value"),
    (["get"], "missing NAME|ID"),
    (["get", "a", "b"], "unexpected argument 'b'"),
    (["start"], "missing NAME|ID"),
    (["stop", "a", "b"], "unexpected argument 'b'"),
    (["restart"], "missing NAME|ID"),
    (["pause"], "missing NAME|ID"),
    (["resume", "--frob", "r"], "unknown option '--frob'"),
    (["rm"], "missing NAME|ID"),
    (["rm", "--frob", "r"], "unknown option '--frob'"),
    (["exec"], "missing NAME|ID"),
    (["exec", "r"], "missing CMD"),
    (["exec", "r", "--"], "missing CMD"),
    (["exec", "a", "b", "--", "ls"], "unexpected argument 'b'"),
    (["exec", "r", "--user", "admin", "--", "ls"], "invalid --user"),
    (["exec", "r", "--timeout", "0", "--", "ls"], "invalid --timeout"),
    (["exec", "r", "--timeout", "soon", "--", "ls"], "invalid --timeout"),
    (["exec", "r", "--cwd", "tmp", "--", "ls"], "invalid --cwd"),
    (["exec", "r", "--env", "X", "--", "ls"], "invalid --env"),
    (["exec", "r", "--frob", "--", "ls"], "unknown option '--frob'"),
    (["cat", "r"], "missing PATH"),
    (["cat"], "missing NAME|ID"),
    (["cp", "a"], "missing DST"),
    (["cp", "a", "b"], "one of SRC and DST must be a file in a rig"),
    (["cp", "r:a", "s:b"], "both SRC and DST are in rigs"),
    (["cp", "-", "r:"], "name the file in the rig"),
    (["cp", "-", "r:/tmp/"], "name the file in the rig"),
    (["cp", "r:", "out"], "name the file in the rig"),
])
def test_usage_errors_exit_2(rig_bin, home, args, needle):
    # A key and an unreachable URL: usage errors come before any request.
    env = rig_env(home, url=f"http://127.0.0.1:{free_port()}", key=FAKE_KEY)
    res = run(rig_bin, args, env)
    assert res.returncode == 2, (res, err(res))
    assert needle in err(res)
    assert "--help" in err(res)
    assert res.stdout == b""


def test_exec_stdin_must_be_utf8(rig_bin, home):
    env = rig_env(home, url=f"http://127.0.0.1:{free_port()}", key=FAKE_KEY)
    res = run(rig_bin, ["exec", "r", "-i", "--", "cat"], env, stdin=b"\xff\xfe binary")
    assert res.returncode == 2
    assert "not valid UTF-8" in err(res) and "rig cp" in err(res)


def test_cp_missing_local_file(rig_bin, home, tmp_path):
    env = rig_env(home, url=f"http://127.0.0.1:{free_port()}", key=FAKE_KEY)
    res = run(rig_bin, ["cp", str(tmp_path / "nope"), "r:/tmp/x"], env)
    assert res.returncode == 2 and "cannot open" in err(res)
    res = run(rig_bin, ["cp", str(tmp_path), "r:/tmp/x"], env)
    assert res.returncode == 2 and "is a directory" in err(res)


def test_unreachable_server_exit_3(rig_bin, home):
    url = f"http://127.0.0.1:{free_port()}"
    env = rig_env(home, url=url, key=FAKE_KEY)
    for args in (["get", "r"], ["exec", "r", "--", "true"], ["cat", "r", "/etc/hostname"],
                 ["create", "r"], ["start", "r"]):
        res = run(rig_bin, args, env)
        assert res.returncode == 3, (args, err(res))
        assert f"cannot reach rigd at {url}" in err(res)


def test_no_key_exit_5(rig_bin, home):
    res = run(rig_bin, ["exec", "r", "--", "true"],
              rig_env(home, url=f"http://127.0.0.1:{free_port()}"))
    assert res.returncode == 5 and "rig login" in err(res)


# --------------------------------------------------------------------------
# A scripted server


class Script:
    """A loopback HTTP server whose answers come from `handler(req)`, a
    function set by the test. req has method, path, query, headers, body; the
    handler returns (status, body) or (status, body, headers), where body is
    bytes, a JSON-able object, or an iterable of byte chunks sent as they are
    produced (then the connection closes to end the body)."""

    def __init__(self):
        self.handler = lambda req: (404, {"error": {"code": "not_found",
                                                    "message": "nothing here"}})
        self.seen = []
        script = self

        class Req:
            pass

        class Handler(BaseHTTPRequestHandler):
            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _any(self):
                r = Req()
                r.method = self.command
                u = urlparse(self.path)
                r.path, r.query = u.path, parse_qs(u.query)
                r.headers = dict(self.headers)
                r.body = self._read_body()
                script.seen.append(r)
                answer = script.handler(r)
                status, body = answer[0], answer[1]
                headers = dict(answer[2]) if len(answer) > 2 else {}
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                    headers.setdefault("Content-Type", "application/json")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in body:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                self.close_connection = True

            do_GET = do_POST = do_DELETE = do_PUT = _any

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


@pytest.fixture
def script():
    s = Script()
    yield s
    s.srv.shutdown()
    s.srv.server_close()


def api_error(status, code, message):
    return status, {"error": {"code": code, "message": message}}


def fake_rig(state="running", **kw):
    rig = {"id": "rig_abc123", "name": "web", "org": "org_1", "project": "prj_1",
           "state": state, "template": "base", "stateless": False,
           "resources": {"cpus": 1.5, "memory_mb": 2048, "max_processes": 256,
                         "disk_mb": 4096},
           "network": {"ip": "10.88.0.5", "egress": "open"}, "created_by": "usr_1",
           "created_at": "2024-05-01T12:00:00Z"}
    rig.update(kw)
    return rig


def ndjson(*objs):
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def test_exec_streams_as_output_arrives(rig_bin, home, script):
    """stdout reaches rig's stdout before the command has finished, stderr
    goes to stderr, and the exit code becomes rig's."""
    seen_first = threading.Event()

    def stream():
        yield ndjson({"stream": "stdout", "data": "first line\n"})
        # The rest comes only once rig has shown the first line.
        assert seen_first.wait(20), "rig did not print output as it arrived"
        yield ndjson({"stream": "stderr", "data": "warn: é\n"})
        part = json.dumps({"stream": "stdout", "data": "split across chunks\n"}).encode()
        yield part[:7]
        time.sleep(0.05)
        yield part[7:] + b"\n"
        yield ndjson({"exit_code": 7, "timed_out": False, "duration_ms": 12})

    script.handler = lambda req: (200, stream(), {"Content-Type": "application/x-ndjson"})
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    proc = subprocess.Popen([str(rig_bin), "exec", "web", "--user", "root", "--cwd", "/tmp",
                             "--env", "A=1", "--timeout", "5", "--", "sh", "-c", "exit 7"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "no output from rig while the command runs"
        first = os.read(proc.stdout.fileno(), 100)
        assert first == b"first line\n"
        seen_first.set()
        rest, errs = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 7
    assert rest == b"split across chunks\n"
    assert errs.decode() == "warn: é\n"
    req = script.seen[0]
    assert req.method == "POST" and req.path == "/api/rigs/web/exec"
    assert "application/x-ndjson" in req.headers["Accept"]
    assert req.headers["Authorization"] == f"Bearer {FAKE_KEY}"
    assert json.loads(req.body) == {"cmd": ["sh", "-c", "exit 7"], "env": {"A": "1"},
                                    "cwd": "/tmp", "user": "root", "timeout_s": 5}


def test_exec_stdin_and_timeout(rig_bin, home, script):
    script.handler = lambda req: (200, ndjson(
        {"stream": "stdout", "data": "partial"},
        {"exit_code": 137, "timed_out": True, "duration_ms": 1000}),
        {"Content-Type": "application/x-ndjson"})
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    res = run(rig_bin, ["exec", "web", "-i", "--timeout", "1", "--", "cat"], env,
              stdin="héllo\nwörld\n".encode())
    assert res.returncode == 124
    assert res.stdout == b"partial"
    assert "timed out after 1 s" in err(res)
    assert json.loads(script.seen[0].body)["stdin"] == "héllo\nwörld\n"
    # Without -i no stdin is sent.
    ok_handler = lambda req: (200, ndjson({"exit_code": 0}),  # noqa: E731
                              {"Content-Type": "application/x-ndjson"})
    script.handler = ok_handler
    ok(run(rig_bin, ["exec", "web", "--", "true"], env, stdin=b"ignored"))
    assert "stdin" not in json.loads(script.seen[-1].body)


def test_exec_error_line_and_broken_stream(rig_bin, home, script):
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    script.handler = lambda req: (200, ndjson(
        {"error": {"code": "invalid_request", "message": "no such command: nope"}}),
        {"Content-Type": "application/x-ndjson"})
    res = run(rig_bin, ["exec", "web", "--", "nope"], env)
    assert res.returncode == 1 and "no such command: nope" in err(res)
    script.handler = lambda req: (200, ndjson({"stream": "stdout", "data": "a"}),
                                  {"Content-Type": "application/x-ndjson"})
    res = run(rig_bin, ["exec", "web", "--", "sleep", "9"], env)
    assert res.returncode == 3 and "without its exit status" in err(res)


def test_exec_on_stopped_or_missing_rig(rig_bin, home, script):
    state = {"rig": "stopped"}

    def handler(req):
        if req.path.endswith("/exec"):
            if state["rig"] is None:
                return api_error(404, "not_found", "rig not found")
            return api_error(409, "conflict", f"cannot exec in a rig that is {state['rig']}")
        if state["rig"] is None:
            return api_error(404, "not_found", "rig not found")
        return 200, fake_rig(state["rig"], name="r")

    script.handler = handler
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    res = run(rig_bin, ["exec", "r", "--", "true"], env)
    assert res.returncode == 1
    assert "rig r is stopped: start it with `rig start r`" in err(res)
    state["rig"] = "paused"
    res = run(rig_bin, ["exec", "r", "--", "true"], env)
    assert res.returncode == 1 and "resume it with `rig resume r`" in err(res)
    state["rig"] = None
    res = run(rig_bin, ["exec", "r", "--", "true"], env)
    assert res.returncode == 1 and "no rig 'r'" in err(res) and "rig ls" in err(res)


def test_create_waits_while_creating(rig_bin, home, script):
    polls = []

    def handler(req):
        if req.method == "POST":
            return 201, fake_rig("creating", ip=None)
        polls.append(time.monotonic())
        return 200, fake_rig("creating" if len(polls) < 4 else "running")

    script.handler = handler
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    res = ok(run(rig_bin, ["create", "web", "--cpus", "1.5", "--memory", "2048", "--disk",
                           "4096", "--max-processes", "256", "--egress", "10.0.0.0/8,pypi.org",
                           "--env", "A=b=c", "--ttl", "1h", "--stateless", "--project", "web",
                           "--auto-sleep", "15m"],
                 env))
    assert re.search(r"^state:\s+running$", out(res), re.M)
    assert re.search(r"^ip:\s+10\.88\.0\.5$", out(res), re.M)
    assert re.search(r"^id:\s+rig_abc123$", out(res), re.M)
    assert len(polls) == 4
    gaps = [b - a for a, b in zip(polls, polls[1:])]
    assert all(0.08 <= g < 1.0 for g in gaps), gaps
    assert "creating rig web..." in err(res)
    body = json.loads(script.seen[0].body)
    assert body == {"name": "web", "project": "web", "stateless": True,
                    "resources": {"cpus": 1.5, "memory_mb": 2048, "max_processes": 256,
                                  "disk_mb": 4096},
                    "network": {"egress": {"allow": ["10.0.0.0/8", "pypi.org"]}},
                    "env": {"A": "b=c"}, "ttl_s": 3600, "auto_sleep_s": 900}
    assert script.seen[1].path == "/api/rigs/rig_abc123"

    # --no-wait returns at once, --json prints the object.
    script.seen.clear()
    polls.clear()
    res = ok(run(rig_bin, ["create", "web", "--no-wait", "--json", "--egress", "none"], env))
    assert json.loads(out(res))["state"] == "creating"
    assert [r.method for r in script.seen] == ["POST"]
    assert json.loads(script.seen[0].body) == {"name": "web", "network": {"egress": "none"}}


def test_create_ending_in_error_exits_4(rig_bin, home, script):
    script.handler = lambda req: ((201, fake_rig("creating")) if req.method == "POST" else
                                  (200, fake_rig("error", error="no space left on device")))
    res = run(rig_bin, ["create", "web"], rig_env(home, url=script.url, key=FAKE_KEY))
    assert res.returncode == 4
    assert "failed to start: no space left on device" in err(res)
    assert "rig rm web" in err(res)


def test_create_conflict_and_quota(rig_bin, home, script):
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    script.handler = lambda req: api_error(409, "conflict", "a rig with this name already exists")
    res = run(rig_bin, ["create", "web"], env)
    assert res.returncode == 1 and "conflict: a rig with this name already exists" in err(res)
    script.handler = lambda req: api_error(422, "quota_exceeded", "project already has 10 rigs")
    res = run(rig_bin, ["create", "web"], env)
    assert res.returncode == 1 and "quota exceeded: project already has 10 rigs" in err(res)
    script.handler = lambda req: api_error(503, "unavailable", "no runtime")
    res = run(rig_bin, ["create", "web"], env)
    assert res.returncode == 4 and "no runtime" in err(res)


def test_ls_table_all_and_project(rig_bin, home, script):
    pages = {None: {"items": [fake_rig()], "next": "c1"},
             "c1": {"items": [fake_rig("stopped", id="rig_def", name="db",
                                       created_at="2000-01-01T00:00:00Z")], "next": None}}

    def handler(req):
        if req.path == "/api/orgs/org_1/projects":
            return 200, {"items": [{"id": "prj_1", "name": "default"}], "next": None}
        return 200, pages[req.query.get("cursor", [None])[0]]

    script.handler = handler
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    one = ok(run(rig_bin, ["ls"], env))
    lines = out(one).splitlines()
    assert lines[0].split() == ["NAME", "ID", "STATE", "PROJECT", "CPUS", "MEMORY", "IP", "AGE"]
    assert lines[1].split()[:7] == ["web", "rig_abc123", "running", "default", "1.5", "2G",
                                    "10.88.0.5"]
    assert len(lines) == 2 and "--all" in err(one)
    every = json.loads(out(ok(run(rig_bin, ["ls", "--all", "--json", "--project", "p x"],
                                  env))))
    assert [r["name"] for r in every] == ["web", "db"]
    assert script.seen[-1].query["project"] == ["p x"]
    table = out(ok(run(rig_bin, ["ls", "--all"], env)))
    assert re.search(r"^db\s+rig_def\s+stopped\s+default\s+1\.5\s+2G\s+10\.88\.0\.5\s+\d+d$",
                     table, re.M)


def test_get_and_actions(rig_bin, home, script):
    def handler(req):
        if req.method == "POST":
            action = req.path.rsplit("/", 1)[1]
            time.sleep(0.5)  # long enough for a progress line
            return 200, fake_rig({"start": "running", "stop": "stopped", "restart": "running",
                                  "pause": "paused", "resume": "running"}[action])
        return 200, fake_rig(ttl_s=3600, expires_at="2024-05-01T13:00:00Z")

    script.handler = handler
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    text = out(ok(run(rig_bin, ["get", "web"], env)))
    for label, value in (("id", "rig_abc123"), ("state", "running"), ("cpus", "1.5"),
                         ("memory", "2G"), ("disk", "4G"), ("egress", "open"),
                         ("ip", "10.88.0.5"), ("ttl", "3600s")):
        assert re.search(rf"^{label}:\s+{re.escape(value)}$", text, re.M), (label, text)
    assert json.loads(out(ok(run(rig_bin, ["get", "web", "--json"], env))))["id"] == "rig_abc123"
    for action, state in (("stop", "stopped"), ("start", "running"), ("pause", "paused"),
                          ("resume", "running"), ("restart", "running")):
        res = ok(run(rig_bin, [action, "web"], env))
        assert out(res) == f"rig web is {state}.\n"
        assert script.seen[-1].method == "POST"
        assert script.seen[-1].path == f"/api/rigs/web/{action}"
        assert re.search(r"ing rig web\.\.\.", err(res)), err(res)


def test_action_conflict_and_missing(rig_bin, home, script):
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    script.handler = lambda req: api_error(409, "conflict", "cannot start a rig that is running")
    res = run(rig_bin, ["start", "web"], env)
    assert res.returncode == 1 and "cannot start a rig that is running" in err(res)
    script.handler = lambda req: api_error(404, "not_found", "rig not found")
    res = run(rig_bin, ["stop", "web"], env)
    assert res.returncode == 1 and "no rig 'web'" in err(res) and "use the id" in err(res)
    script.handler = lambda req: api_error(403, "forbidden", "missing scope")
    res = run(rig_bin, ["stop", "web"], env)
    assert res.returncode == 1 and "rigs:instances:control" in err(res)
    script.handler = lambda req: api_error(401, "unauthenticated", "bad key")
    res = run(rig_bin, ["get", "web"], env)
    assert res.returncode == 5 and "rig login" in err(res)
    assert FAKE_KEY[3:] not in err(res) + out(res)


def test_rm_without_a_terminal_does_not_ask(rig_bin, home, script):
    script.handler = lambda req: (204, b"")
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    res = ok(run(rig_bin, ["rm", "a/b"], env))
    assert out(res) == "Deleted rig a/b.\n"
    assert script.seen[-1].method == "DELETE"
    assert script.seen[-1].path == "/api/rigs/a%2Fb"
    ok(run(rig_bin, ["rm", "--force", "web"], env))


def test_rm_asks_on_a_terminal(rig_bin, home, script):
    import pty
    script.handler = lambda req: (204, b"")
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    for answer, code in ((b"n\n", 1), (b"y\n", 0)):
        master, slave = pty.openpty()
        proc = subprocess.Popen([str(rig_bin), "rm", "web"], env=env, stdin=slave,
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        seen = b""
        try:
            while b"[y/N]" not in seen:
                r, _, _ = select.select([master], [], [], 10)
                assert r, f"no prompt: {seen!r}"
                seen += os.read(master, 1024)
            os.write(master, answer)
            assert proc.wait(timeout=10) == code
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
    assert [r.method for r in script.seen] == ["DELETE"]


def test_cat_file_and_directory(rig_bin, home, script):
    payload = bytes(range(256)) * 1000

    def handler(req):
        if req.query["path"] == ["/home/user"]:
            return 200, {"path": "/home/user", "entries": [
                {"name": "z.txt", "type": "file", "size": 3, "mode": 0o100644,
                 "mtime": "2024-05-01T12:00:00Z"},
                {"name": "a dir", "type": "dir", "size": 4096, "mode": 0o40755,
                 "mtime": "2024-05-01T12:00:00Z"}]}
        if req.query["path"] == ["/missing"]:
            return api_error(404, "not_found", "no such file in the rig: /missing")
        return 200, payload, {"Content-Type": "application/octet-stream"}

    script.handler = handler
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    res = ok(run(rig_bin, ["cat", "web", "/bin/thing"], env))
    assert res.stdout == payload
    assert script.seen[-1].path == "/api/rigs/web/files"
    listing = out(ok(run(rig_bin, ["cat", "web", "/home/user"], env))).splitlines()
    assert listing[0].split() == ["TYPE", "MODE", "SIZE", "MODIFIED", "NAME"]
    assert listing[1].split() == ["dir", "0755", "4096", "2024-05-01T12:00:00Z", "a", "dir"]
    assert listing[2].split() == ["file", "0644", "3", "2024-05-01T12:00:00Z", "z.txt"]
    raw = json.loads(out(ok(run(rig_bin, ["cat", "web", "/home/user", "--json"], env))))
    assert raw["path"] == "/home/user" and len(raw["entries"]) == 2
    res = run(rig_bin, ["cat", "web", "/missing"], env)
    assert res.returncode == 1 and "no such file in the rig: /missing" in err(res)


def test_cp_upload_streams_and_download_is_atomic(rig_bin, home, script, tmp_path):
    stored = {}

    def handler(req):
        path = req.query["path"][0]
        if req.method == "PUT":
            stored[path] = (req.body, req.headers)
            return 200, {"path": path, "size": len(req.body)}
        if path in stored:
            return 200, stored[path][0], {"Content-Type": "application/octet-stream"}
        if path == "/home/user":
            return 200, {"path": path, "entries": []}
        return api_error(404, "not_found", f"no such file in the rig: {path}")

    script.handler = handler
    env = rig_env(home, url=script.url, key=FAKE_KEY)
    data = os.urandom(300_000)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    ok(run(rig_bin, ["cp", str(src), "web:/tmp/"], env))
    body, headers = stored["/tmp/blob.bin"]
    assert body == data and headers.get("Content-Length") == str(len(data))
    # From a pipe: the size is unknown, so the body goes chunked.
    ok(run(rig_bin, ["cp", "-", "web:/tmp/piped"], env, stdin=data))
    body, headers = stored["/tmp/piped"]
    assert body == data and headers.get("Transfer-Encoding") == "chunked"

    dst = tmp_path / "down.bin"
    ok(run(rig_bin, ["cp", "web:/tmp/blob.bin", str(dst)], env))
    assert dst.read_bytes() == data
    ddir = tmp_path / "into"
    ddir.mkdir()
    ok(run(rig_bin, ["cp", "web:/tmp/blob.bin", str(ddir)], env))
    assert (ddir / "blob.bin").read_bytes() == data
    res = ok(run(rig_bin, ["cp", "web:/tmp/piped", "-"], env))
    assert res.stdout == data
    # Failures leave nothing behind, and an existing file untouched.
    dst.write_bytes(b"keep")
    res = run(rig_bin, ["cp", "web:/nope", str(dst)], env)
    assert res.returncode == 1 and "no such file in the rig: /nope" in err(res)
    assert dst.read_bytes() == b"keep"
    res = run(rig_bin, ["cp", "web:/home/user", str(tmp_path / "d")], env)
    assert res.returncode == 1 and "is a directory" in err(res)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin", "down.bin", "home",
                                                         "into"]


# --------------------------------------------------------------------------
# Against a real rigd


class Server:
    def __init__(self, url, key, proc, log_path):
        self.url, self.key, self.proc, self.log_path = url, key, proc, log_path

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _wait_healthy(url, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def rigd_server(tmp_path_factory, edge_flags):
    """`rigd init` + `rigd serve` on free ports, rate limits off; SIGTERM at
    the end."""
    if not (RIGD_BIN.is_file() and os.access(RIGD_BIN, os.X_OK)):
        pytest.fail(f"rigd binary not found at {RIGD_BIN}: build it with "
                    f"`meson setup build && ninja -C build`, or set RIGD_BIN", pytrace=False)
    root = tmp_path_factory.mktemp("rigd-cli-rigs")
    data = root / "data"
    pw = root / "password"
    pw.write_text(ADMIN_PASSWORD + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGS_")}
    init = subprocess.run([str(RIGD_BIN), "init", "--data-dir", str(data), "--email",
                           ADMIN_EMAIL, "--password-file", str(pw)], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if init.returncode != 0:
        pytest.fail(f"rigd init failed ({init.returncode}):\n{init.stdout}\n{init.stderr}",
                    pytrace=False)
    key = init.stdout.strip().splitlines()[-1].strip()
    assert KEY_RE.match(key), f"last line of rigd init is not a key: {init.stdout!r}"
    log_path = root / "rigd.log"
    for _ in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [str(RIGD_BIN), "serve", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}"]
        for flag in edge_flags:
            cmd += [flag, f"127.0.0.1:{free_port()}"]
        for cls in ("auth", "rigs", "apps", "other"):
            cmd += ["--rate-limit", f"{cls}=0"]
        cmd += helpers.rig_net_args(RIGD_BIN)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL)
        if _wait_healthy(url, proc):
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail(f"rigd serve did not become healthy:\n{log_path.read_text()[-4000:]}",
                    pytrace=False)
    srv = Server(url, key, proc, log_path)
    yield srv
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def live(rigd_server, rig_bin, tmp_path_factory):
    """A running rig made with `rig create`, shared by the flow tests below
    (which run in file order); deleted at the end whatever happened."""
    home = tmp_path_factory.mktemp("home-rigs")
    env = rig_env(home, url=rigd_server.url, key=rigd_server.key)
    name = f"cli-{os.getpid() % 100000}"
    res = run(rig_bin, ["create", name, "--json", "--memory", "512", "--env", "GREETING=hi"],
              env, timeout=300)
    assert res.returncode == 0, \
        f"rig create failed ({res.returncode}):\n{err(res)}\nrigd log:\n{rigd_server.log()}"
    rig = json.loads(out(res))

    class Live:
        pass

    lv = Live()
    lv.env, lv.name, lv.rig, lv.server, lv.home = env, name, rig, rigd_server, home
    yield lv
    run(rig_bin, ["rm", "--force", rig["id"]], env, timeout=120)


@needs_rigs
def test_live_create_waits_until_running(live):
    assert live.rig["name"] == live.name
    assert live.rig["state"] == "running", live.rig
    assert live.rig["id"].startswith("rig_")
    assert live.rig["resources"]["memory_mb"] == 512
    assert live.rig.get("env", {"GREETING": "hi"}) == {"GREETING": "hi"}


@needs_rigs
def test_live_create_duplicate_is_a_conflict(rig_bin, live):
    res = run(rig_bin, ["create", live.name], live.env, timeout=120)
    assert res.returncode == 1 and "conflict" in err(res)


@needs_rigs
def test_live_ls_and_get(rig_bin, live):
    items = json.loads(out(ok(run(rig_bin, ["ls", "--json"], live.env))))
    mine = [r for r in items if r["id"] == live.rig["id"]]
    assert len(mine) == 1 and mine[0]["state"] == "running"
    every = json.loads(out(ok(run(rig_bin, ["ls", "--all", "--json"], live.env))))
    assert live.rig["id"] in [r["id"] for r in every]
    table = out(ok(run(rig_bin, ["ls"], live.env)))
    assert table.splitlines()[0].split() == ["NAME", "ID", "STATE", "PROJECT", "CPUS",
                                             "MEMORY", "IP", "AGE"]
    assert re.search(rf"^{live.name}\s+{live.rig['id']}\s+running\s+default\s", table, re.M)
    by_name = json.loads(out(ok(run(rig_bin, ["get", live.name, "--json"], live.env))))
    by_id = json.loads(out(ok(run(rig_bin, ["get", live.rig["id"], "--json"], live.env))))
    assert by_name["id"] == by_id["id"] == live.rig["id"]
    text = out(ok(run(rig_bin, ["get", live.name], live.env)))
    assert re.search(r"^state:\s+running$", text, re.M)
    assert re.search(r"^memory:\s+512M$", text, re.M)
    assert re.search(rf"^project:\s+default \({re.escape(live.rig['project'])}\)$", text, re.M)
    in_default = json.loads(out(ok(run(rig_bin, ["ls", "--project", "default", "--json"],
                                       live.env))))
    assert live.rig["id"] in [r["id"] for r in in_default]
    res = run(rig_bin, ["ls", "--project", "no-such-project"], live.env)
    assert res.returncode == 1 and "not found" in err(res)
    res = run(rig_bin, ["get", "no-such-rig"], live.env)
    assert res.returncode == 1 and "no rig 'no-such-rig'" in err(res)


@needs_rigs
def test_live_exec_streams_and_exit_codes(rig_bin, live):
    res = ok(run(rig_bin, ["exec", live.name, "--", "sh", "-c",
                           "echo out; echo err >&2; echo x$X; id -un"],
                 live.env))
    assert res.stdout == b"out\nx\nuser\n"
    assert res.stderr == b"err\n"
    res = ok(run(rig_bin, ["exec", live.name, "--env", "X=y", "--user", "root", "--cwd", "/tmp",
                           "--", "sh", "-c", "echo $X; id -un; pwd"], live.env))
    assert res.stdout == b"y\nroot\n/tmp\n"
    assert run(rig_bin, ["exec", live.name, "--", "false"], live.env).returncode == 1
    assert run(rig_bin, ["exec", live.name, "--", "sh", "-c", "exit 7"],
               live.env).returncode == 7
    # Large output streams through unchanged.
    res = ok(run(rig_bin, ["exec", live.name, "--", "sh", "-c",
                           "head -c 3000000 /dev/zero | tr '\\0' x"], live.env))
    assert res.stdout == b"x" * 3000000
    res = run(rig_bin, ["exec", live.name, "--timeout", "1", "--", "sleep", "30"], live.env)
    assert res.returncode == 124 and "timed out" in err(res)


@needs_rigs
def test_live_exec_output_arrives_before_the_end(rig_bin, live):
    proc = subprocess.Popen([str(rig_bin), "exec", live.name, "--", "sh", "-c",
                             "echo early; sleep 3; echo late"], env=live.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        start = time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready and os.read(proc.stdout.fileno(), 100) == b"early\n"
        assert time.monotonic() - start < 2.5, "the first line waited for the command's end"
        rest, _ = proc.communicate(timeout=30)
        assert rest == b"late\n" and proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@needs_rigs
def test_live_exec_stdin(rig_bin, live):
    text = "line one\nlïne twö\n"
    res = ok(run(rig_bin, ["exec", live.name, "-i", "--", "sh", "-c", "cat; echo end"],
                 live.env, stdin=text.encode()))
    assert res.stdout.decode() == text + "end\n"
    res = ok(run(rig_bin, ["exec", live.name, "--stdin", "--", "wc", "-l"], live.env,
                 stdin=b"a\nb\nc\n"))
    assert res.stdout.strip() == b"3"


@needs_rigs
def test_live_cp_round_trip_and_cat(rig_bin, live, tmp_path):
    data = os.urandom(3 * 1024 * 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    ok(run(rig_bin, ["cp", str(src), f"{live.name}:/home/user/sub/big.bin"], live.env,
           timeout=120))
    res = ok(run(rig_bin, ["exec", live.name, "--", "sha256sum", "/home/user/sub/big.bin"],
                 live.env))
    assert res.stdout.split()[0].decode() == digest
    back = tmp_path / "back.bin"
    ok(run(rig_bin, ["cp", f"{live.name}:/home/user/sub/big.bin", str(back)], live.env,
           timeout=120))
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest
    # Standard input and output.
    ok(run(rig_bin, ["cp", "-", f"{live.name}:notes.txt"], live.env, stdin=b"hello rig\n"))
    res = ok(run(rig_bin, ["cp", f"{live.name}:/home/user/notes.txt", "-"], live.env))
    assert res.stdout == b"hello rig\n"
    # cat: a file, then a directory listing.
    res = ok(run(rig_bin, ["cat", live.name, "/home/user/notes.txt"], live.env))
    assert res.stdout == b"hello rig\n"
    res = ok(run(rig_bin, ["cat", live.name, "/home/user/sub/big.bin"], live.env, timeout=120))
    assert hashlib.sha256(res.stdout).hexdigest() == digest
    listing = out(ok(run(rig_bin, ["cat", live.name, "/home/user"], live.env)))
    assert re.search(r"^dir\s+\d{4}\s+\d+\s+\S+\s+sub$", listing, re.M), listing
    assert re.search(r"^file\s+\d{4}\s+10\s+\S+\s+notes\.txt$", listing, re.M), listing
    raw = json.loads(out(ok(run(rig_bin, ["cat", live.name, "/home/user", "--json"],
                                live.env))))
    assert {"notes.txt", "sub"} <= {e["name"] for e in raw["entries"]}
    res = run(rig_bin, ["cat", live.name, "/home/user/missing"], live.env)
    assert res.returncode == 1 and "not found" in err(res)
    res = run(rig_bin, ["cp", f"{live.name}:/home/user", str(tmp_path / "x")], live.env)
    assert res.returncode == 1 and "is a directory" in err(res)
    assert not (tmp_path / "x").exists()


@needs_rigs
def test_live_stop_start(rig_bin, live):
    res = ok(run(rig_bin, ["stop", live.name], live.env, timeout=120))
    assert out(res) == f"rig {live.name} is stopped.\n"
    res = run(rig_bin, ["exec", live.name, "--", "true"], live.env)
    assert res.returncode == 1
    assert f"rig {live.name} is stopped: start it with `rig start {live.name}`" in err(res)
    again = run(rig_bin, ["stop", live.name], live.env, timeout=120)
    assert again.returncode == 1 and "conflict" in err(again)
    res = ok(run(rig_bin, ["start", live.name], live.env, timeout=120))
    assert out(res) == f"rig {live.name} is running.\n"
    res = ok(run(rig_bin, ["exec", live.name, "--", "cat", "/home/user/notes.txt"], live.env))
    assert res.stdout == b"hello rig\n", "files survive a stop"
    got = json.loads(out(ok(run(rig_bin, ["get", live.name, "--json"], live.env))))
    assert got["state"] == "running"


@needs_rigs
def test_live_pause_resume(rig_bin, live):
    res = ok(run(rig_bin, ["pause", live.name], live.env, timeout=120))
    assert out(res) == f"rig {live.name} is paused.\n"
    res = run(rig_bin, ["exec", live.name, "--", "true"], live.env)
    assert res.returncode == 1 and f"rig resume {live.name}" in err(res)
    res = ok(run(rig_bin, ["resume", live.name, "--json"], live.env, timeout=120))
    assert json.loads(out(res))["state"] == "running"
    ok(run(rig_bin, ["exec", live.name, "--", "true"], live.env))


@needs_rigs
def test_live_restart(rig_bin, live):
    res = ok(run(rig_bin, ["restart", live.name], live.env, timeout=120))
    assert out(res) == f"rig {live.name} is running.\n"
    ok(run(rig_bin, ["exec", live.name, "--", "true"], live.env))


@needs_rigs
def test_live_rm(rig_bin, live):
    res = ok(run(rig_bin, ["rm", live.name], live.env, timeout=120))
    assert out(res) == f"Deleted rig {live.name}.\n"
    res = run(rig_bin, ["get", live.name], live.env)
    assert res.returncode == 1 and "no rig" in err(res)
    items = json.loads(out(ok(run(rig_bin, ["ls", "--all", "--json"], live.env))))
    assert live.rig["id"] not in [r["id"] for r in items]
    res = run(rig_bin, ["rm", live.name], live.env)
    assert res.returncode == 1
