"""End-to-end tests of the `rig` CLI.

Two kinds of tests live here:
- tests that need no daemon: help pages, usage errors, exit codes for an
  unreachable server, and the mapping of HTTP errors to messages and exit
  codes (against a tiny canned-response server started in this file);
- tests against a real `rigd` that this file starts itself (fixture
  `rigd_server`): `rigd init` on a temp data dir, `rigd serve` on a free
  loopback port, SIGTERM at the end. A missing rigd binary fails these tests
  with a clear message; it never skips them.

Binaries: $RIG_BIN (default <repo>/build/src/rig/rig) and $RIGD_BIN (default
<repo>/build/src/rigd/rigd).
"""

import json
import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import helpers

REPO_ROOT = Path(__file__).resolve().parents[2]
RIG_BIN = Path(os.environ.get("RIG_BIN") or REPO_ROOT / "build" / "src" / "rig" / "rig")
RIGD_BIN = Path(os.environ.get("RIGD_BIN") or REPO_ROOT / "build" / "src" / "rigd" / "rigd")
KEY_RE = re.compile(r"^rb_[0-9A-Za-z]{32}$")
ADMIN_EMAIL = "admin@localhost"
ADMIN_PASSWORD = "correct horse battery"

# Every command of the CLI, as typed after `rig`.
COMMANDS = [
    [],
    ["login"], ["logout"], ["me"],
    ["keys"], ["keys", "create"], ["keys", "ls"], ["keys", "rm"], ["keys", "rotate"],
    ["orgs"], ["orgs", "create"], ["orgs", "ls"], ["orgs", "switch"], ["orgs", "members"],
    ["orgs", "add-member"], ["orgs", "rm-member"],
    ["projects"], ["projects", "create"], ["projects", "ls"],
    ["users"], ["users", "create"], ["users", "ls"],
    ["audit"], ["help"],
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# Running rig


@pytest.fixture(scope="session")
def rig_bin():
    """The rig binary; built with ninja when a configured build dir exists."""
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
    """A clean environment: nothing from the caller's RIGS_* or XDG settings."""
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


def run(rig_bin, args, env, stdin_text=None, timeout=30):
    return subprocess.run([str(rig_bin)] + list(args), env=env, capture_output=True,
                          text=True, input=stdin_text if stdin_text is not None else "",
                          timeout=timeout)


def ok(res):
    assert res.returncode == 0, \
        f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


# --------------------------------------------------------------------------
# No daemon needed


def test_version(rig_bin, home):
    res = ok(run(rig_bin, ["--version"], rig_env(home)))
    assert re.match(r"^rig \d+\.\d+\.\d+", res.stdout)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "rig")
def test_help_pages(rig_bin, home, path):
    env = rig_env(home)
    for flag in ("--help", "-h"):
        res = ok(run(rig_bin, path + [flag], env))
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS"):
            assert re.search(rf"^{section}$", res.stdout, re.M), \
                f"`rig {' '.join(path)} {flag}` lacks {section}:\n{res.stdout}"
        assert res.stderr == ""
    name = " ".join(["rig"] + path)
    assert re.search(rf"^\s+{re.escape(name)} - ", res.stdout, re.M)
    # `rig help PATH` prints the same page as `rig PATH --help`.
    if path != ["help"]:
        via_help = ok(run(rig_bin, ["help"] + path, env))
        assert via_help.stdout == res.stdout


def test_help_lists_exit_codes_and_environment(rig_bin, home):
    res = ok(run(rig_bin, ["--help"], rig_env(home)))
    for code in range(6):
        assert re.search(rf"^\s+{code}  ", res.stdout, re.M), f"exit code {code} undocumented"
    assert "RIGS_URL" in res.stdout and "RIGS_API_KEY" in res.stdout
    for cmd in ("login", "logout", "me", "keys", "orgs", "projects", "users", "audit"):
        assert re.search(rf"^\s+{cmd}\s", res.stdout, re.M)
    leaf = ok(run(rig_bin, ["keys", "create", "--help"], rig_env(home)))
    for section in ("OPTIONS", "EXAMPLES", "ENVIRONMENT"):
        assert re.search(rf"^{section}$", leaf.stdout, re.M)
    assert "--scope" in leaf.stdout and "--expires" in leaf.stdout


@pytest.mark.parametrize("args,needle", [
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["keys", "frobnicate"], "unknown command 'frobnicate'"),
    (["keys"], "missing command"),
    ([], "missing command"),
    (["--frob"], "unknown option '--frob'"),
    (["me", "--frob"], "unknown option '--frob'"),
    (["keys", "create"], "missing NAME"),
    (["keys", "create", "a", "b"], "unexpected argument 'b'"),
    (["keys", "create", "x", "--expires", "soon"], "invalid --expires"),
    (["keys", "create", "x", "--scope"], "needs a value"),
    (["orgs", "add-member", "o", "u"], "missing --role"),
    (["orgs", "add-member", "o", "u", "--role", "owner"], "invalid role"),
    (["users", "create", "a@b.c"], "missing --role"),
    (["audit", "--limit", "0"], "invalid --limit"),
    (["audit", "--since", "yesterday"], "invalid --since"),
    (["help", "nope"], "unknown command 'nope'"),
])
def test_usage_errors_exit_2(rig_bin, home, args, needle):
    # A key and an unreachable URL: usage errors must be caught before any request.
    env = rig_env(home, url=f"http://127.0.0.1:{free_port()}", key="rb_" + "a" * 32)
    res = run(rig_bin, args, env)
    assert res.returncode == 2, res
    assert needle in res.stderr
    assert "--help" in res.stderr
    assert res.stdout == ""


def test_no_key_exit_5(rig_bin, home):
    res = run(rig_bin, ["me"], rig_env(home, url=f"http://127.0.0.1:{free_port()}"))
    assert res.returncode == 5
    assert "not authenticated" in res.stderr and "rig login" in res.stderr
    assert "RIGS_API_KEY" in res.stderr


def test_unreachable_server_exit_3(rig_bin, home):
    url = f"http://127.0.0.1:{free_port()}"
    res = run(rig_bin, ["keys", "ls"], rig_env(home, url=url, key="rb_" + "a" * 32))
    assert res.returncode == 3
    assert f"cannot reach rigd at {url}" in res.stderr
    assert "rigd serve" in res.stderr and "RIGS_URL" in res.stderr


def test_unresolvable_host_exit_3(rig_bin, home):
    res = run(rig_bin, ["me"], rig_env(home, url="http://no-such-host.invalid:7070",
                                       key="rb_" + "a" * 32))
    assert res.returncode == 3
    assert "cannot reach rigd" in res.stderr


def test_bad_url_is_a_usage_error(rig_bin, home):
    res = run(rig_bin, ["me"], rig_env(home, url="ftp://example.com", key="rb_" + "a" * 32))
    assert res.returncode == 2
    assert "invalid server URL" in res.stderr


class Canned:
    """A loopback HTTP server answering every request with one canned response
    and recording the requests it saw."""

    def __init__(self):
        self.status, self.body, self.headers = 200, b"{}", {}
        self.seen = []
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                canned.seen.append((self.command, self.path, dict(self.headers),
                                    self.rfile.read(n)))
                self.send_response(canned.status)
                for k, v in canned.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)

            do_GET = do_POST = do_DELETE = do_PUT = _any

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def answer(self, status, body, headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = dict(headers or {})
        self.headers.setdefault("Content-Type", "application/json")


@pytest.fixture
def canned():
    c = Canned()
    yield c
    c.srv.shutdown()
    c.srv.server_close()


def err(code, message):
    return {"error": {"code": code, "message": message}}


@pytest.mark.parametrize("status,body,headers,args,exit_code,needles", [
    (401, err("unauthenticated", "bad key"), {}, ["me"], 5,
     ["not authenticated", "rig login", "RIGS_API_KEY", "bad key"]),
    (403, err("forbidden", "missing scope rigs:admin"), {}, ["audit"], 1,
     ["forbidden: missing scope rigs:admin", "lacks scope rigs:admin", "rig keys create"]),
    (404, err("not_found", "no such key"), {}, ["keys", "rm", "key_x"], 1,
     ["not found: no such key"]),
    (409, err("conflict", "name taken"), {}, ["orgs", "create", "acme"], 1,
     ["conflict: name taken"]),
    (422, err("quota_exceeded", "too many projects"), {}, ["orgs", "create", "a"], 1,
     ["quota exceeded: too many projects"]),
    (429, err("rate_limited", "slow down"), {"Retry-After": "17"}, ["keys", "ls"], 1,
     ["rate limited: slow down", "retry after 17 seconds"]),
    (400, err("invalid_request", "bad name"), {}, ["orgs", "create", "A"], 1,
     ["invalid request: bad name"]),
    (500, err("internal", "internal error"), {}, ["me"], 4, ["HTTP 500", "internal error"]),
    (502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}, ["me"], 4, ["HTTP 502"]),
    (200, b"<html>not rigd</html>", {"Content-Type": "text/html"}, ["me"], 3,
     ["not JSON", "RIGS_URL"]),
])
def test_error_mapping(rig_bin, home, canned, status, body, headers, args, exit_code, needles):
    canned.answer(status, body, headers)
    res = run(rig_bin, args, rig_env(home, url=canned.url, key="rb_" + "k" * 32))
    assert res.returncode == exit_code, res
    for n in needles:
        assert n in res.stderr, f"{n!r} not in {res.stderr!r}"
    assert ("k" * 32) not in res.stderr + res.stdout, "the key leaked into the output"


def test_requests_carry_bearer_and_escape_paths(rig_bin, home, canned):
    canned.answer(204, b"")
    key = "rb_" + "b" * 32
    ok(run(rig_bin, ["keys", "rm", "key_a/b?c"], rig_env(home, url=canned.url + "/", key=key)))
    method, path, headers, _ = canned.seen[-1]
    assert method == "DELETE"
    assert path == "/api/keys/key_a%2Fb%3Fc"
    assert headers.get("Authorization") == f"Bearer {key}"
    assert "Origin" not in headers, "bearer requests need no Origin"


def test_saved_key_not_sent_to_another_url(rig_bin, home, canned):
    cfg = home / ".config" / "rigs"
    cfg.mkdir(parents=True)
    (cfg / "config.json").write_text(json.dumps(
        {"url": "http://127.0.0.1:1", "api_key": "rb_" + "s" * 32}))
    os.chmod(cfg / "config.json", 0o600)
    res = run(rig_bin, ["me"], rig_env(home, url=canned.url))
    assert res.returncode == 5
    assert "only sent to the server it was saved for" in res.stderr
    assert canned.seen == []


def test_env_wins_over_config_file(rig_bin, home, canned):
    cfg = home / "xdg" / "rigs"
    cfg.mkdir(parents=True)
    (cfg / "config.json").write_text(json.dumps(
        {"url": canned.url, "api_key": "rb_" + "f" * 32}))
    canned.answer(200, {"principal": {"id": "usr_1", "kind": "user", "name": "a"},
                        "org": {"id": "org_1", "name": "default"}, "project": None,
                        "scopes": []})
    env = rig_env(home, XDG_CONFIG_HOME=str(home / "xdg"))
    ok(run(rig_bin, ["me"], env))
    assert canned.seen[-1][2]["Authorization"] == "Bearer rb_" + "f" * 32
    env["RIGS_API_KEY"] = "rb_" + "e" * 32
    ok(run(rig_bin, ["me"], env))
    assert canned.seen[-1][2]["Authorization"] == "Bearer rb_" + "e" * 32


def test_audit_follows_cursors_with_all(rig_bin, home):
    pages = {
        None: {"items": [{"id": "aud_3", "action": "key.create"}], "next": "c1"},
        "c1": {"items": [{"id": "aud_2", "action": "auth.login"}], "next": "c2"},
        "c2": {"items": [{"id": "aud_1", "action": "org.create"}], "next": None},
    }
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            from urllib.parse import parse_qs, urlparse
            q = parse_qs(urlparse(self.path).query)
            seen.append(q)
            body = json.dumps(pages[q.get("cursor", [None])[0]]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        env = rig_env(home, url=f"http://127.0.0.1:{srv.server_address[1]}",
                      key="rb_" + "a" * 32)
        one = ok(run(rig_bin, ["audit", "--json", "--action", "x y"], env))
        assert [e["id"] for e in json.loads(one.stdout)] == ["aud_3"]
        assert "--all" in one.stderr
        assert seen[-1]["action"] == ["x y"] and seen[-1]["limit"] == ["50"]
        every = ok(run(rig_bin, ["audit", "--all", "--json", "--since", "1h"], env))
        assert [e["id"] for e in json.loads(every.stdout)] == ["aud_3", "aud_2", "aud_1"]
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", seen[-1]["since"][0])
    finally:
        srv.shutdown()
        srv.server_close()


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
def rigd_server(tmp_path_factory):
    """`rigd init` + `rigd serve` on a free port; SIGTERM at the end."""
    if not (RIGD_BIN.is_file() and os.access(RIGD_BIN, os.X_OK)):
        pytest.fail(f"rigd binary not found at {RIGD_BIN}: build it with "
                    f"`meson setup build && ninja -C build`, or set RIGD_BIN", pytrace=False)
    root = tmp_path_factory.mktemp("rigd-cli")
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
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([str(RIGD_BIN), "serve", "--data-dir", str(data),
                                     "--listen", f"127.0.0.1:{port}",
                                     "--apps-listen", f"127.0.0.1:{free_port()}",
                                     *helpers.rig_net_args(RIGD_BIN)], env=env,
                                    stdout=log, stderr=log, stdin=subprocess.DEVNULL)
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
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def api_status(url, key, path="/api/me"):
    req = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def unique(prefix):
    return f"{prefix}-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"


def test_me_json_with_env_key(rig_bin, home, rigd_server):
    env = rig_env(home, url=rigd_server.url, key=rigd_server.key)
    me = json.loads(ok(run(rig_bin, ["me", "--json"], env)).stdout)
    assert me["principal"]["kind"] == "user"
    assert me["principal"]["email"] == ADMIN_EMAIL
    assert me["org"]["name"] == "default"
    assert "rigs:admin" in me["scopes"] and "rigs:keys:manage" in me["scopes"]
    table = ok(run(rig_bin, ["me"], env)).stdout
    assert ADMIN_EMAIL in table and "default" in table and rigd_server.url in table
    assert rigd_server.key not in table


def test_garbage_key_exit_5(rig_bin, home, rigd_server):
    env = rig_env(home, url=rigd_server.url, key="rb_" + "0" * 32)
    res = run(rig_bin, ["me"], env)
    assert res.returncode == 5
    assert "not authenticated" in res.stderr and "rig login" in res.stderr
    res = run(rig_bin, ["keys", "ls"], rig_env(home, url=rigd_server.url, key="garbage"))
    assert res.returncode == 5


def test_login_with_password_saves_private_config(rig_bin, home, rigd_server):
    env = rig_env(home)
    res = ok(run(rig_bin, ["login", "--url", rigd_server.url, "--email", ADMIN_EMAIL,
                           "--password-stdin"], env, stdin_text=ADMIN_PASSWORD + "\n"))
    assert "Logged in" in res.stdout
    cfg_dir = home / ".config" / "rigs"
    cfg_file = cfg_dir / "config.json"
    assert stat.S_IMODE(cfg_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cfg_dir.stat().st_mode) == 0o700
    cfg = json.loads(cfg_file.read_text())
    assert cfg["url"] == rigd_server.url
    assert KEY_RE.match(cfg["api_key"])
    assert cfg["api_key"] not in res.stdout + res.stderr, "login must not print the key"
    assert ADMIN_PASSWORD not in res.stdout + res.stderr

    # The saved key works without any RIGS_* variable, and carries the session's scopes.
    me = json.loads(ok(run(rig_bin, ["me", "--json"], env)).stdout)
    assert me["principal"]["email"] == ADMIN_EMAIL
    assert "rigs:admin" in me["scopes"]
    keys = json.loads(ok(run(rig_bin, ["keys", "ls", "--json"], env)).stdout)
    mine = [k for k in keys if k["id"] == cfg.get("key_id")]
    assert mine and mine[0]["name"].startswith("rig-cli@")

    # Logging out revokes the key that login created and forgets it.
    out = ok(run(rig_bin, ["logout"], env))
    assert "Revoked" in out.stdout
    assert api_status(rigd_server.url, cfg["api_key"]) == 401
    assert "api_key" not in json.loads(cfg_file.read_text())
    assert run(rig_bin, ["me"], env).returncode == 5
    ok(run(rig_bin, ["logout"], env))  # idempotent


def test_login_wrong_password_exit_5(rig_bin, home, rigd_server):
    res = run(rig_bin, ["login", "--url", rigd_server.url, "--email", ADMIN_EMAIL,
                        "--password-stdin"], rig_env(home), stdin_text="wrong-password\n")
    assert res.returncode == 5
    assert "login failed" in res.stderr
    assert not (home / ".config" / "rigs" / "config.json").exists()


def test_login_without_tty_needs_password_stdin(rig_bin, home, rigd_server):
    res = run(rig_bin, ["login", "--url", rigd_server.url, "--email", ADMIN_EMAIL],
              rig_env(home), stdin_text=ADMIN_PASSWORD + "\n")
    assert res.returncode == 2
    assert "--password-stdin" in res.stderr


def _read_until(fd, needle, timeout=15):
    """Reads a pty master until needle shows up; returns everything read."""
    out = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {needle!r}; got {out!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out.decode(errors="replace")


def test_login_on_a_terminal_does_not_echo_the_password(rig_bin, home, rigd_server):
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(rig_bin), "login", "--url", rigd_server.url], env=rig_env(home),
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    try:
        seen = _read_until(master, "Email: ")
        os.write(master, (ADMIN_EMAIL + "\n").encode())
        seen += _read_until(master, "Password: ")
        os.write(master, (ADMIN_PASSWORD + "\n").encode())
        seen += _read_until(master, "Logged in")
        assert proc.wait(timeout=30) == 0, seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert ADMIN_EMAIL in seen, "the email is echoed as typed"
    assert ADMIN_PASSWORD not in seen, f"the password was echoed: {seen!r}"
    cfg = json.loads((home / ".config" / "rigs" / "config.json").read_text())
    assert KEY_RE.match(cfg["api_key"]) and cfg["api_key"] not in seen
    ok(run(rig_bin, ["logout"], rig_env(home)))


def test_login_with_key(rig_bin, home, rigd_server):
    env = rig_env(home)
    res = ok(run(rig_bin, ["login", "--url", rigd_server.url + "/", "--key", "-"], env,
                 stdin_text=rigd_server.key + "\n"))
    assert rigd_server.key not in res.stdout
    cfg = json.loads((home / ".config" / "rigs" / "config.json").read_text())
    assert cfg == {"url": rigd_server.url, "api_key": rigd_server.key}
    ok(run(rig_bin, ["me"], env))
    # Logging out does not revoke a key the user brought.
    ok(run(rig_bin, ["logout"], env))
    assert api_status(rigd_server.url, rigd_server.key) == 200
    bad = run(rig_bin, ["login", "--url", rigd_server.url, "--key", "rb_" + "1" * 32], env)
    assert bad.returncode == 5


def test_keys_round_trip(rig_bin, home, rigd_server):
    env = rig_env(home, url=rigd_server.url, key=rigd_server.key)
    name = unique("ci")
    res = ok(run(rig_bin, ["keys", "create", name, "--scope", "rigs:instances:read",
                           "--expires", "1d", "--json"], env))
    created = json.loads(res.stdout)
    assert KEY_RE.match(created["key"])
    assert created["name"] == name and created["scopes"] == ["rigs:instances:read"]
    assert created["expires_at"]
    assert "shown only this once" in res.stderr

    listed = json.loads(ok(run(rig_bin, ["keys", "ls", "--json"], env)).stdout)
    item = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in item and item["name"] == name
    table = ok(run(rig_bin, ["keys", "ls"], env)).stdout
    assert re.search(rf"^{re.escape(created['id'])}\s+{re.escape(name)}\s", table, re.M)
    assert created["key"] not in table

    # The new key works, and lacks rigs:admin.
    env_new = rig_env(home, url=rigd_server.url, key=created["key"])
    ok(run(rig_bin, ["me"], env_new))
    denied = run(rig_bin, ["audit"], env_new)
    assert denied.returncode == 1 and "rigs:admin" in denied.stderr

    rotated = json.loads(ok(run(rig_bin, ["keys", "rotate", created["id"], "--json"],
                                env)).stdout)
    assert rotated["id"] == created["id"] and KEY_RE.match(rotated["key"])
    assert rotated["key"] != created["key"]
    assert run(rig_bin, ["me"], env_new).returncode == 5
    env_rot = rig_env(home, url=rigd_server.url, key=rotated["key"])
    ok(run(rig_bin, ["me"], env_rot))

    rm = ok(run(rig_bin, ["keys", "rm", created["id"]], env))
    assert created["id"] in rm.stdout
    assert run(rig_bin, ["me"], env_rot).returncode == 5
    gone = run(rig_bin, ["keys", "rm", created["id"]], env)
    assert gone.returncode == 1 and "not found" in gone.stderr


def test_keys_create_default_scopes_and_text_output(rig_bin, home, rigd_server):
    env = rig_env(home, url=rigd_server.url, key=rigd_server.key)
    res = ok(run(rig_bin, ["keys", "create", unique("plain")], env))
    m = re.search(r"^key:\s+(rb_\S+)$", res.stdout, re.M)
    assert m and KEY_RE.match(m.group(1))
    me = json.loads(ok(run(rig_bin, ["me", "--json"],
                           rig_env(home, url=rigd_server.url, key=m.group(1)))).stdout)
    assert "rigs:instances:read" in me["scopes"]
    assert "rigs:admin" not in me["scopes"]


def test_orgs_and_projects(rig_bin, home, rigd_server):
    env = rig_env(home, url=rigd_server.url, key=rigd_server.key)
    org = unique("org")
    created = json.loads(ok(run(rig_bin, ["orgs", "create", org, "--json"], env)).stdout)
    assert created["name"] == org and created["role"] == "admin"
    again = run(rig_bin, ["orgs", "create", org], env)
    assert again.returncode == 1 and "conflict" in again.stderr

    orgs = json.loads(ok(run(rig_bin, ["orgs", "ls", "--json"], env)).stdout)
    assert isinstance(orgs, list) and any(o["name"] == "default" for o in orgs)
    table = ok(run(rig_bin, ["orgs", "ls"], env)).stdout
    assert re.search(r"^\*\s+org_\S+\s+default\s", table, re.M)

    prj = unique("prj")
    ok(run(rig_bin, ["projects", "create", prj], env))
    names = [p["name"] for p in json.loads(ok(run(rig_bin, ["projects", "ls", "--json"],
                                                  env)).stdout)]
    assert prj in names and "default" in names
    by_org = json.loads(ok(run(rig_bin, ["projects", "ls", "--org", "default", "--json"],
                               env)).stdout)
    assert prj in [p["name"] for p in by_org]
    assert prj in ok(run(rig_bin, ["projects", "ls"], env)).stdout
    dup = run(rig_bin, ["projects", "create", prj], env)
    assert dup.returncode == 1 and "conflict" in dup.stderr

    sw = run(rig_bin, ["orgs", "switch", org], env)
    assert sw.returncode == 1 and "bound to one org" in sw.stderr
    assert "rig keys create" in sw.stderr
    ok(run(rig_bin, ["orgs", "switch", "default"], env))


def test_users_and_members(rig_bin, home, rigd_server):
    env = rig_env(home, url=rigd_server.url, key=rigd_server.key)
    email = unique("bob") + "@example.com"
    user = json.loads(ok(run(rig_bin, ["users", "create", email, "--role", "member",
                                       "--password-stdin", "--json"], env,
                             stdin_text="bobs-password\n")).stdout)
    assert user["email"] == email and user["role"] == "member"
    users = json.loads(ok(run(rig_bin, ["users", "ls", "--json"], env)).stdout)
    assert email in [u["email"] for u in users]
    assert email in ok(run(rig_bin, ["users", "ls"], env)).stdout

    members = json.loads(ok(run(rig_bin, ["orgs", "members", "default", "--json"],
                                env)).stdout)
    assert {ADMIN_EMAIL, email} <= {m["email"] for m in members}
    ok(run(rig_bin, ["orgs", "add-member", "default", email, "--role", "admin"], env))
    members = json.loads(ok(run(rig_bin, ["orgs", "members", "default", "--json"],
                                env)).stdout)
    assert next(m for m in members if m["email"] == email)["role"] == "admin"
    ok(run(rig_bin, ["orgs", "rm-member", "default", email], env))
    members = json.loads(ok(run(rig_bin, ["orgs", "members", "default", "--json"],
                                env)).stdout)
    assert email not in [m["email"] for m in members]

    # The new user can log in with the password given on stdin.
    bob_home = home / "bob"
    bob_home.mkdir()
    ok(run(rig_bin, ["users", "create", "x" + email, "--role", "member", "--password-stdin"],
           env, stdin_text="another-password\n"))
    ok(run(rig_bin, ["login", "--url", rigd_server.url, "--email", "x" + email,
                     "--password-stdin"], rig_env(bob_home), stdin_text="another-password\n"))
    me = json.loads(ok(run(rig_bin, ["me", "--json"], rig_env(bob_home))).stdout)
    assert me["principal"]["email"] == "x" + email
    assert "rigs:admin" not in me["scopes"]


def test_audit(rig_bin, home, rigd_server):
    env = rig_env(home, url=rigd_server.url, key=rigd_server.key)
    ok(run(rig_bin, ["keys", "create", unique("audited"), "--json"], env))
    entries = json.loads(ok(run(rig_bin, ["audit", "--json", "--action", "key.create",
                                          "--since", "1h"], env)).stdout)
    assert entries and all(e["action"] == "key.create" for e in entries)
    assert all(e["result"] in ("ok", "denied", "error") for e in entries)
    small = json.loads(ok(run(rig_bin, ["audit", "--json", "--limit", "1"], env)).stdout)
    assert len(small) == 1
    every = json.loads(ok(run(rig_bin, ["audit", "--json", "--all", "--limit", "2"],
                              env)).stdout)
    assert len(every) >= 3
    assert len({e["id"] for e in every}) == len(every)
    table = ok(run(rig_bin, ["audit", "--limit", "5"], env)).stdout
    assert table.splitlines()[0].split()[:4] == ["AT", "PRINCIPAL", "KIND", "ACTION"]
