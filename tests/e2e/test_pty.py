"""Terminals through a real rigd: GET /api/rigs/{id}/pty (WebSocket), the
session list, attaching as an observer or a controller (human takeover), and
`rig shell` driven in tmux.

Contract: shared/API.md "Rigs" (pty) and "Details pinned down / Credentials
and terminals"; served behaviour: docs/api.md "Terminals".
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import helpers
from helpers import assert_error, assert_status, uniq
from rigutil import qpath, rig_api, rig_daemons, rig_prereqs, tmp_path  # noqa: F401
from wsutil import Term, handshake_status

MIB = 1024 * 1024
PROMPT = b"RIGPROMPT> "


@pytest.fixture(scope="module")
def rig(rig_api):
    return rig_api.create(uniq("pty"))


def open_term(api, rid, key=None, query="", **kw):
    path = f"/api/rigs/{qpath(rid)}/pty" + (f"?{query}" if query else "")
    return Term(api.d.port, path, key=key or api.key, **kw)


def ready(t):
    """Sets a recognisable prompt and waits for it (the login shell's own
    prompt is whatever the template's profile says)."""
    t.send("bind 'set enable-bracketed-paste off' 2>/dev/null; export PS1='RIG''PROMPT> '\n")
    return t.expect(PROMPT, timeout=20)


def run(t, cmd, marker, timeout=20):
    """Types cmd and waits for marker in the output after it; returns the
    output between the command's echo and the marker."""
    start = len(t.out)
    t.send(cmd + "\n")
    end = t.expect(marker, timeout=timeout, start=start)
    return bytes(t.out[start:end])


def attach(api, rid, sid, mode=None, key=None):
    q = f"?mode={mode}" if mode else ""
    return Term(api.d.port, f"/api/rigs/{qpath(rid)}/sessions/{sid}/attach{q}",
                key=key or api.key)


def sessions(api, rid, key=None):
    return assert_status(api.d.req("GET", f"/api/rigs/{qpath(rid)}/sessions",
                                   key=key or api.key), 200)["items"]


def test_echo_and_exit_code(rig_api, rig):
    t = open_term(rig_api, rig["id"])
    try:
        hello = t.message("session")
        assert hello["id"].startswith("pty_") and hello["mode"] == "control", hello
        ready(t)
        out = run(t, "echo $((6*7))-$(whoami)-$HOME", b"42-user-/home/user")
        assert b"42-user-/home/user" in out
        out = run(t, "tty; echo TTY-$((1+1))", b"TTY-2\r\n")
        assert b"/dev/pts/" in out, out
        t.send("exit 3\n")
        assert t.wait_exit() == 3
        assert t.closed
    finally:
        t.close()


def test_binary_safe_both_ways(rig_api, rig):
    t = open_term(rig_api, rig["id"])
    try:
        ready(t)
        # every byte value out of the rig (printf of octal escapes, raw mode to
        # keep the terminal from translating)
        run(t, "stty raw -echo; printf 'BIN%s' '<'; printf \"$(printf '\\\\%03o' $(seq 0 255))\"; "
               "printf '>%s' END; stty sane", b">END")
        i = t.out.index(b"BIN<")
        j = t.out.index(b">END", i)
        assert bytes(t.out[i + 4:j]) == bytes(range(256))
        # bytes into the rig: UTF-8 and high bytes reach the shell unchanged
        t.send("stty raw -echo; head -c 6 | od -An -tx1; stty sane\n")
        time.sleep(0.5)
        t.send(b"\xc3\xa9\xff\x00\x01\x7f")
        t.expect(b"c3 a9 ff 00 01 7f")
    finally:
        t.close()


def test_resize(rig_api, rig):
    t = open_term(rig_api, rig["id"], query="cols=100&rows=30")
    try:
        ready(t)
        assert b"30 100" in run(t, "stty size", b"30 100\r\n")
        t.resize(132, 43)
        time.sleep(0.3)
        assert b"43 132" in run(t, "stty size", b"43 132\r\n")
        # a bad control message is answered, not fatal
        t.control({"type": "resize", "cols": 0, "rows": 5})
        t.message("error")
        t.ws.send("not json")
        assert b"43 132" in run(t, "stty size", b"43 132\r\n")
    finally:
        t.close()


def test_one_mib_burst_without_loss(rig_api, rig):
    t = open_term(rig_api, rig["id"])
    try:
        ready(t)
        # 16384 lines of 64 bytes = 1 MiB of a known pattern, in raw mode so
        # the terminal adds no carriage returns
        script = ("stty raw -echo; i=0; while [ $i -lt 16384 ]; do printf "
                  "'%05d:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123\\n' $i; "
                  "i=$((i+1)); done; printf 'BURST-END'; stty sane")
        # a faster generator than a shell loop
        script = ("stty raw -echo; python3 -c \"import sys; w=sys.stdout.write; "
                  "[w('%05d:' % i + 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123\\n') "
                  "for i in range(16384)]; w('BURST-' + 'END'); sys.stdout.flush()\"; stty sane")
        start = len(t.out)
        t.send(script + "\n")
        t.expect(b"BURST-END", timeout=60, start=start)
        data = bytes(t.out[start:])
        lines = re.findall(rb"(\d{5}):abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123\n",
                           data)
        assert len(lines) == 16384, f"{len(lines)} of 16384 lines arrived intact"
        assert [int(x) for x in lines] == list(range(16384))
    finally:
        t.close()


def test_slow_reader_does_not_grow_rigd(rig_api, rig):
    """A client that stops reading while the rig writes without end: rigd stops
    reading the shim (the writer blocks) instead of buffering. A buffering rigd
    would grow by hundreds of MiB per second; one that pushes back plateaus
    once the socket buffers are full (allocator and sanitizer quarantine
    noise stay far below the bounds)."""
    pid = rig_api.d.proc.pid

    def rss():
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024

    t = open_term(rig_api, rig["id"])
    try:
        ready(t)
        before = rss()
        t.send("head -c 17179869184 /dev/zero | tr '\\0' x\n")
        time.sleep(4)  # not reading: the socket buffers fill, then rigd must push back
        first = rss()
        time.sleep(4)
        second = rss()
        assert first - before < 96 * MIB, f"rigd grew by {(first - before) // MIB} MiB"
        assert second - first < 16 * MIB, (
            f"rigd kept growing ({(second - first) // MIB} MiB in 4 s) for a client that reads nothing")
        # interrupt the writer, drain what the buffers hold, and the shell answers again
        t.send("\x03")
        deadline = time.monotonic() + 120
        start = len(t.out)
        t.send("printf SLOW-%s END\n")
        while b"SLOW-END" not in t.out[start:] and time.monotonic() < deadline:
            try:
                t._recv_one(5)
            except TimeoutError:
                pass
            if len(t.out) > 4 * MIB:
                del t.out[:-64]
                start = 0
        assert b"SLOW-END" in t.out[start:]
    finally:
        t.close()


def test_auth_and_errors(rig_api, rig):
    d = rig_api.d
    path = f"/api/rigs/{rig['id']}/pty"
    st, body = handshake_status(d.port, path)
    assert st == 401, body
    st, body = handshake_status(d.port, path, key="rb_" + "0" * 32)
    assert st == 401, body
    st, body = handshake_status(d.port, path, key=rig_api.key, upgrade=False)
    assert st == 400 and body["error"]["code"] == "invalid_request", body
    st, body = handshake_status(d.port, path + "?cols=0", key=rig_api.key)
    assert st == 400, body
    st, body = handshake_status(d.port, "/api/rigs/rig_doesnotexist0000000/pty", key=rig_api.key)
    assert st == 404, body
    # an API key is not accepted in the query string
    st, body = handshake_status(d.port, f"{path}?token={rig_api.key}")
    assert st == 401, body
    admin = helpers.Client(d, key=rig_api.key)
    ro = helpers.create_key(admin, ["rigs:instances:read"])["key"]
    st, body = handshake_status(d.port, path, key=ro)
    assert st == 403, body


def test_cookie_needs_origin(rig_api, rig):
    d = rig_api.d
    cookie = helpers.login(d, d.admin_email, d.admin_password)
    path = f"/api/rigs/{rig['id']}/pty"
    st, body = handshake_status(d.port, path, cookie=cookie)
    assert st == 403 and body["error"]["code"] == "forbidden", body
    st, body = handshake_status(d.port, path, cookie=cookie, origin="http://evil.example")
    assert st == 403, body
    t = Term(d.port, path, cookie=cookie, origin=f"http://127.0.0.1:{d.port}")
    try:
        ready(t)
        run(t, "echo cookie-$((1+1))", b"cookie-2")
    finally:
        t.close()


def test_rig_credential_in_query(rig_api, rig):
    d = rig_api.d
    tok = assert_status(d.req("POST", f"/api/rigs/{rig['id']}/credentials", body={"ttl_s": 60},
                              key=rig_api.key), 201)["token"]
    t = Term(d.port, f"/api/rigs/{rig['id']}/pty?token={tok}")
    try:
        ready(t)
        run(t, "echo cred-$((2+2))", b"cred-4")
        items = sessions(rig_api, rig["id"], key=tok)
        assert any(s["kind"] == "rig_credential" for s in items), items
    finally:
        t.close()
    other = rig_api.create(uniq("pty-other"))
    st, body = handshake_status(d.port, f"/api/rigs/{other['id']}/pty?token={tok}")
    assert st == 404, body
    assert tok not in d.log_text()


def test_stopped_rig(rig_api):
    r = rig_api.create(uniq("pty-stop"))
    t = open_term(rig_api, r["id"])
    try:
        ready(t)
        rig_api.act(r["id"], "stop", "stopped")
        code = t.wait_exit(timeout=30)
        assert isinstance(code, int)
        assert t.closed
    finally:
        t.close()
    st, body = handshake_status(rig_api.d.port, f"/api/rigs/{r['id']}/pty", key=rig_api.key)
    assert st == 409 and body["error"]["code"] == "conflict", body


def test_idle_timeout(rig_daemons):
    api = rig_daemons(["--pty-idle-timeout", "2"])
    r = api.create(uniq("pty-idle"))
    t = open_term(api, r["id"])
    try:
        ready(t)
        m = t.message("exit", timeout=15)
        assert m.get("reason") == "idle timeout", m
        t.until(lambda x: x.closed, 10, "the close")
    finally:
        t.close()


# -- several clients: observe and take over -------------------------------------------


def test_observer_and_takeover(rig_api, rig):
    d = rig_api.d
    owner = open_term(rig_api, rig["id"])
    obs = None
    try:
        sid = owner.message("session")["id"]
        ready(owner)
        run(owner, "echo before-$((10+1))", b"before-11")
        items = sessions(rig_api, rig["id"])
        me = helpers.Client(d, key=rig_api.key).me()["principal"]["id"]
        s = next(x for x in items if x["id"] == sid)
        assert s["principal"] == me and s["kind"] == "user" and s["controller"] == me, s
        assert s["observers"] == 0 and s["started_at"], s

        # an observer gets the scrollback, then the live stream; its typing is ignored
        obs = attach(rig_api, rig["id"], sid)
        assert obs.message("session")["mode"] == "observe"
        obs.expect(b"before-11")
        obs.send("echo observer-typed-$((3*3))\n")
        run(owner, "echo live-$((20+2))", b"live-22")
        obs.expect(b"live-22")
        time.sleep(0.5)
        assert b"observer-typed-9" not in owner.out and b"observer-typed-9" not in obs.out
        s = next(x for x in sessions(rig_api, rig["id"]) if x["id"] == sid)
        assert s["observers"] == 1, s

        # a third client takes control: the owner is told and becomes an observer
        n = len(owner.msgs)
        ctl = attach(rig_api, rig["id"], sid, mode="control")
        try:
            assert ctl.message("session")["mode"] == "control"
            m = owner.message("control", start=n)
            assert m["controller"] == me and m["mode"] == "observe", m
            start = len(ctl.out)
            ctl.send("echo taken-$((5*5))\n")
            ctl.expect(b"taken-25", start=start)
            owner.expect(b"taken-25")
            owner.send("echo owner-ignored-$((4*4))\n")
            time.sleep(0.5)
            assert b"owner-ignored-16" not in ctl.out
            s = next(x for x in sessions(rig_api, rig["id"]) if x["id"] == sid)
            assert s["observers"] == 2, s
            # audited
            admin = helpers.Client(d, key=rig_api.key)
            acts = [e["action"] for e in helpers.list_all(
                admin, f"/api/audit?rig={rig['id']}") if e["action"].startswith("session.")]
            assert {"session.open", "session.attach", "session.takeover"} <= set(acts), acts
            # the session ends for everybody when the shell exits
            ctl.send("exit 5\n")
            assert ctl.wait_exit() == 5
            assert owner.wait_exit() == 5
            assert obs.wait_exit() == 5
        finally:
            ctl.close()
    finally:
        owner.close()
        if obs:
            obs.close()
    assert all(x["id"] != sid for x in sessions(rig_api, rig["id"]))


def test_attach_errors(rig_api, rig):
    d = rig_api.d
    base = f"/api/rigs/{rig['id']}/sessions"
    st, body = handshake_status(d.port, f"{base}/pty_nosuchsession000000/attach", key=rig_api.key)
    assert st == 404, body
    t = open_term(rig_api, rig["id"])
    try:
        sid = t.message("session")["id"]
        st, body = handshake_status(d.port, f"{base}/{sid}/attach?mode=steal", key=rig_api.key)
        assert st == 400, body
        other = rig_api.create(uniq("pty-att"))
        st, body = handshake_status(d.port, f"/api/rigs/{other['id']}/sessions/{sid}/attach",
                                    key=rig_api.key)
        assert st == 404, body
    finally:
        t.close()


def test_last_client_leaving_ends_the_session(rig_api, rig):
    t = open_term(rig_api, rig["id"])
    sid = t.message("session")["id"]
    ready(t)
    t.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(x["id"] != sid for x in sessions(rig_api, rig["id"])):
            break
        time.sleep(0.1)
    assert all(x["id"] != sid for x in sessions(rig_api, rig["id"]))


# -- the CLI: rig shell in tmux, rig sessions, rig creds ---------------------------------------

RIG_BIN = Path(os.environ.get("RIG_BIN") or
               Path(__file__).resolve().parents[2] / "build" / "src" / "rig" / "rig")


def rig_env(api, key=None):
    env = helpers.clean_env({"RIGS_URL": f"http://127.0.0.1:{api.d.port}",
                             "RIGS_API_KEY": key or api.key, "HOME": str(api.d.data_dir)})
    return env


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-L", "rigs-e2e", *args], capture_output=True, text=True,
                          check=check, timeout=30)


def pane(target):
    return tmux("capture-pane", "-p", "-t", target).stdout


def wait_pane(target, needle, timeout=20):
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = pane(target)
        if needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never showed in the tmux pane:\n{text}")


def test_rig_shell_in_tmux(rig_api, rig, tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed (scripts/deps.sh installs it)")
    assert RIG_BIN.is_file(), f"rig not built at {RIG_BIN}"
    env = rig_env(rig_api)
    status_file = tmp_path / "status"
    script = tmp_path / "run.sh"
    script.write_text(f"#!/bin/sh\n{RIG_BIN} shell {rig['name']}\necho \"RIG-EXIT:$?\" > {status_file}\n"
                      "sleep 30\n")
    script.chmod(0o755)
    name = uniq("sh")
    tmux("kill-server", check=False)
    envargs = []
    for k in ("RIGS_URL", "RIGS_API_KEY", "HOME"):
        envargs += ["-e", f"{k}={env[k]}"]
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", *envargs, str(script))
    try:
        target = f"{name}:0"
        tmux("send-keys", "-t", target, "PS1='SH''> '", "Enter")
        wait_pane(target, "\nSH>")
        tmux("send-keys", "-t", target, "echo out-$((6*7)); stty size", "Enter")
        text = wait_pane(target, "out-42")
        wait_pane(target, "40 120")
        # a resize of the tmux window reaches the rig (SIGWINCH)
        tmux("resize-window", "-t", target, "-x", "100", "-y", "30", check=False)
        time.sleep(0.5)
        tmux("send-keys", "-t", target, "stty size", "Enter")
        wait_pane(target, "30 100")
        tmux("send-keys", "-t", target, "exit 7", "Enter")
        deadline = time.monotonic() + 20
        while not status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status_file.read_text().strip() == "RIG-EXIT:7", pane(target)
        assert "out-42" in text
    finally:
        tmux("kill-session", "-t", name, check=False)


def test_rig_sessions_and_creds_cli(rig_api, rig):
    env = rig_env(rig_api)
    t = open_term(rig_api, rig["id"])
    try:
        sid = t.message("session")["id"]
        res = subprocess.run([str(RIG_BIN), "sessions", rig["name"]], env=env,
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 0 and sid in res.stdout and "CONTROLLER" in res.stdout, res
        res = subprocess.run([str(RIG_BIN), "sessions", rig["name"], "--json"], env=env,
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 0 and any(s["id"] == sid for s in json.loads(res.stdout)), res
    finally:
        t.close()
    res = subprocess.run([str(RIG_BIN), "creds", rig["name"], "--ttl", "120"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res
    tok = res.stdout.strip()
    assert tok.startswith("rc_"), res
    assert_status(rig_api.d.req("GET", f"/api/rigs/{rig['id']}", key=tok), 200)
    res = subprocess.run([str(RIG_BIN), "creds", rig["name"], "--ttl", "901"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2, res
    # a piped shell: input as typed, Ctrl-D at its end, the exit status comes back
    res = subprocess.run([str(RIG_BIN), "shell", rig["name"]], env=env, input="exit 4\n",
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 4, res
    res = subprocess.run([str(RIG_BIN), "shell", "no-such-rig"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "not found" in res.stderr, res
