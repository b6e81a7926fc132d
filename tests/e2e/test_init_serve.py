"""`rigd init` and `rigd serve` on the host: the key on the last line, a
second init that changes nothing, $RIGS_DATA_DIR, the password file, refusing
an uninitialised data dir, and a clean exit on SIGTERM."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import (KEY_RE, assert_error, assert_status, clean_env,
                     create_key, create_user, free_port, http_request,
                     key_from_init, login, rig_net_args, run_init, sqlite_databases,
                     tree_snapshot, wait_healthy)


def _write(path, text):
    path.write_text(text)
    return path


def test_init_prints_key_last_and_creates_data_dir(rigd_bin, rigd_factory,
                                                     tmp_path):
    data = tmp_path / "nested" / "data"
    pw = _write(tmp_path / "pw", "first-password-1\n")
    res = run_init(rigd_bin, data, email="admin@localhost", password_file=pw)
    assert res.returncode == 0, f"init failed: {res.stdout}\n{res.stderr}"
    key = key_from_init(res)
    assert KEY_RE.match(key), f"last stdout line is not the bare key: {res.stdout!r}"
    # The key is printed once, and the last line is nothing but the key.
    assert res.stdout.rstrip("\n").split("\n")[-1] == key
    assert data.is_dir(), "init did not create the data directory"
    assert sqlite_databases(data), "init left no SQLite database in the data dir"

    d = rigd_factory(init=False, data_dir=data, admin_key=key)
    me = d.as_key(key).me()
    assert me["principal"]["email"] == "admin@localhost"
    assert me["principal"]["kind"] == "user"
    assert me["org"]["name"] == "default"
    assert "rigs:admin" in me["scopes"] and "rigs:keys:manage" in me["scopes"]
    # init created project `default` in org `default`.
    projects = assert_status(
        d.as_key(key).get(f"/api/orgs/{me['org']['id']}/projects"), 200)
    assert "default" in [p["name"] for p in projects["items"]]


def test_second_init_fails_and_changes_nothing(rigd_bin, rigd_factory, tmp_path):
    data = tmp_path / "data"
    pw = _write(tmp_path / "pw", "first-password-1\n")
    first = run_init(rigd_bin, data, email="admin@localhost", password_file=pw)
    assert first.returncode == 0, first.stderr
    key = key_from_init(first)
    before = tree_snapshot(data)
    assert before, "data dir is empty after init"

    pw2 = _write(tmp_path / "pw2", "second-password-2\n")
    second = run_init(rigd_bin, data, email="other@localhost", password_file=pw2)
    assert second.returncode == 1, \
        f"second init exited {second.returncode}: {second.stdout}\n{second.stderr}"
    assert (second.stderr + second.stdout).strip(), "second init printed no message"
    assert not re.search(r"rb_[0-9A-Za-z]{32}", second.stdout), \
        "second init printed a new key"
    after = tree_snapshot(data)
    assert after == before, "second init changed the data directory"

    # The first admin is intact: old key and old password work, new ones do not.
    d = rigd_factory(init=False, data_dir=data, admin_key=key)
    assert d.as_key(key).me()["principal"]["email"] == "admin@localhost"
    login(d, "admin@localhost", "first-password-1")
    r = d.req("POST", "/api/auth/login",
              body={"email": "other@localhost", "password": "second-password-2"})
    assert_error(r, 401, "unauthenticated")


def test_rigs_data_dir_env_is_honoured(rigd_bin, rigd_factory, tmp_path):
    data = tmp_path / "from-env"
    default_dir = Path("/var/lib/rigs")
    existed = default_dir.exists()
    pw = _write(tmp_path / "pw", "env-password-1\n")
    env = clean_env({"RIGS_DATA_DIR": str(data)})
    try:
        res = run_init(rigd_bin, None, email="admin@localhost", password_file=pw,
                       env=env)
        assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
        assert data.is_dir() and sqlite_databases(data), \
            "init did not initialise $RIGS_DATA_DIR"
        if not existed:
            assert not default_dir.exists(), \
                "init wrote /var/lib/rigs although $RIGS_DATA_DIR was set"
    finally:
        if not existed and default_dir.exists():
            shutil.rmtree(default_dir, ignore_errors=True)
    key = key_from_init(res)
    d = rigd_factory(init=False, pass_data_dir=False, data_dir=data,
                     env_extra={"RIGS_DATA_DIR": str(data)}, admin_key=key)
    assert d.as_key(key).me()["principal"]["email"] == "admin@localhost"


def test_password_file_trailing_newline_is_stripped(rigd_factory):
    d = rigd_factory(password="pw-with-newline-9",
                     password_file_text="pw-with-newline-9\n")
    login(d, "admin@localhost", "pw-with-newline-9")
    r = d.req("POST", "/api/auth/login",
              body={"email": "admin@localhost", "password": "pw-with-newline-9\n"})
    assert_error(r, 401, "unauthenticated")


def test_password_file_only_one_newline_is_stripped(rigd_factory):
    d = rigd_factory(password="pw-double-nl\n",
                     password_file_text="pw-double-nl\n\n")
    login(d, "admin@localhost", "pw-double-nl\n")
    r = d.req("POST", "/api/auth/login",
              body={"email": "admin@localhost", "password": "pw-double-nl"})
    assert_error(r, 401, "unauthenticated")


def test_password_file_without_newline(rigd_factory):
    d = rigd_factory(password="no-newline-pw", password_file_text="no-newline-pw")
    login(d, "admin@localhost", "no-newline-pw")


def test_without_password_file_login_is_refused(rigd_factory):
    d = rigd_factory(password=None)
    for pw in ("", "admin-password-1", "x" * 12):
        r = d.req("POST", "/api/auth/login",
                  body={"email": "admin@localhost", "password": pw})
        assert_error(r, 401, "unauthenticated")
    # The key is the way in.
    assert d.admin.me()["principal"]["email"] == "admin@localhost"


def test_email_defaults_to_admin_localhost(rigd_bin, rigd_factory, tmp_path):
    data = tmp_path / "data"
    pw = _write(tmp_path / "pw", "default-email-1\n")
    res = run_init(rigd_bin, data, email=None, password_file=pw)
    assert res.returncode == 0, res.stderr
    key = key_from_init(res)
    d = rigd_factory(init=False, data_dir=data, admin_key=key)
    assert d.as_key(key).me()["principal"]["email"] == "admin@localhost"


def test_sigterm_exits_zero_with_requests_in_flight(rigd_factory):
    d = rigd_factory()
    # An idle keep-alive connection and a half-sent request must not hold
    # the daemon up, and a login (argon2id on the worker pool) that is being
    # processed must still get its whole answer.
    idle = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    partial = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    results = []

    def do_login():
        try:
            r = http_request(d.port, "POST", "/api/auth/login",
                             body={"email": d.admin_email,
                                   "password": d.admin_password}, timeout=15)
            results.append(r.status)
        except OSError as e:  # not yet read by the server when it stopped
            results.append(e)

    threads = [threading.Thread(target=do_login) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        d.kill()
        pytest.fail("rigd did not exit within 10 s of SIGTERM; log:\n"
                    + d.log_text()[-3000:])
    finally:
        for t in threads:
            t.join(timeout=15)
        idle.close()
        partial.close()
    d.exit_code = rc
    assert rc == 0, f"rigd exited {rc} on SIGTERM; log:\n{d.log_text()[-3000:]}"
    assert time.monotonic() - t0 < 10
    # A request that got an answer got a complete, successful one.
    for r in results:
        if isinstance(r, int):
            assert r == 200, f"in-flight login answered {r} during shutdown"
    # Nothing listens any more.
    with pytest.raises(OSError):
        http_request(d.port, "GET", "/healthz", timeout=2)


def test_sigterm_idle_daemon_exits_zero(rigd_factory):
    d = rigd_factory()
    assert_status(d.req("GET", "/healthz"), 200)
    d.stop(timeout=10)


def _serve_refuses(rigd_bin, data_dir):
    port = free_port()
    try:
        res = subprocess.run([str(rigd_bin), "serve", "--data-dir", str(data_dir),
                              "--listen", f"127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=10,
                             env=clean_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"rigd serve kept running on the uninitialised {data_dir}")
    assert res.returncode != 0, "rigd serve accepted an uninitialised data dir"
    msg = (res.stderr + res.stdout).lower()
    assert "init" in msg, f"message does not point at `rigd init`: {msg!r}"
    return res


def test_serve_refuses_uninitialised_empty_dir(rigd_bin, tmp_path):
    data = tmp_path / "empty"
    data.mkdir()
    _serve_refuses(rigd_bin, data)
    assert not sqlite_databases(data), "serve created a database in an empty dir"


def test_serve_refuses_missing_dir(rigd_bin, tmp_path):
    data = tmp_path / "missing"
    _serve_refuses(rigd_bin, data)
    assert not (data.exists() and sqlite_databases(data))


def test_init_accepts_existing_empty_dir(rigd_bin, tmp_path):
    """A data dir that exists but is empty (e.g. made by a package) is fine
    for init."""
    data = tmp_path / "made-by-package"
    data.mkdir()
    pw = _write(tmp_path / "pw", "pkg-password-1\n")
    res = run_init(rigd_bin, data, password_file=pw)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
    assert KEY_RE.match(key_from_init(res))
    assert os.listdir(data)


def test_state_survives_restart(rigd_factory):
    d = rigd_factory()
    u = create_user(d)
    cookie = login(d, u["email"], u["password"])
    keep = create_key(d.admin, ["rigs:instances:read"])
    gone = create_key(d.admin, ["rigs:instances:read"])
    assert_status(d.admin.delete(f"/api/keys/{gone['id']}"), 204)
    d.stop()

    d2 = rigd_factory(init=False, data_dir=d.data_dir, admin_key=d.admin_key)
    assert d2.admin.me()["principal"]["email"] == "admin@localhost"
    assert d2.as_key(keep["key"]).me()["scopes"] == ["rigs:instances:read"]
    assert_error(d2.req("GET", "/api/me", key=gone["key"]), 401,
                 "unauthenticated")
    # Sessions are stored (hashed) in SQLite and outlive the process.
    assert d2.as_cookie(cookie).me()["principal"]["id"] == u["id"]
    login(d2, u["email"], u["password"])


def test_rigs_listen_env_is_honoured(rigd_bin, edge_flags, tmp_path):
    data = tmp_path / "data"
    pw = _write(tmp_path / "pw", "listen-env-pw-1\n")
    res = run_init(rigd_bin, data, password_file=pw)
    assert res.returncode == 0, res.stderr
    key = key_from_init(res)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        edges = [a for f in edge_flags for a in (f, f"127.0.0.1:{free_port()}")]
        proc = subprocess.Popen([str(rigd_bin), "serve", "--data-dir", str(data),
                                 "--rate-limit", "other=0", *edges,
                                 *rig_net_args(rigd_bin)],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                env=clean_env({"RIGS_LISTEN": f"127.0.0.1:{port}"}))
    try:
        ok, why = wait_healthy(port, proc, log_path)
        assert ok, f"{why}; log:\n{log_path.read_text(errors='replace')[-3000:]}"
        r = http_request(port, "GET", "/api/me",
                         headers={"Authorization": f"Bearer {key}"})
        assert_status(r, 200)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail("rigd did not exit within 10 s of SIGTERM")
    assert proc.returncode == 0, \
        f"rigd exited {proc.returncode}; log:\n{log_path.read_text()[-3000:]}"
