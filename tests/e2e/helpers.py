"""Shared helpers for the end-to-end suite: a handle on a running rigd,
HTTP with the standard library only, and small builders for users, orgs,
projects, sessions and keys.

Everything here talks to a real rigd over real loopback sockets.
"""

import datetime
import hashlib
import http.client
import itertools
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections import namedtuple
from pathlib import Path

KEY_RE = re.compile(r"^rb_[0-9A-Za-z]{32}$")
RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

RIG_SCOPES = sorted([
    "rigs:instances:read",
    "rigs:instances:create",
    "rigs:instances:control",
    "rigs:agent:invoke",
])
ADMIN_EXTRA_SCOPES = ["rigs:keys:manage", "rigs:admin"]

DEFAULT_EMAIL = "admin@localhost"
DEFAULT_PASSWORD = "admin-password-1"
USER_PASSWORD = "user-password-1"

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Every rate-limit class off unless a test turns one on: 0 disables a class.
NO_RATE_LIMITS = {"auth": 0, "other": 0, "rigs": 0, "apps": 0}

HTTP_TIMEOUT = 30.0

Resp = namedtuple("Resp", "status headers body")

_counter = itertools.count(1)


def uniq(prefix="t"):
    """A fresh lowercase name valid as an org or project name."""
    return f"{prefix}-{next(_counter)}{secrets.token_hex(3)}"


def uniq_email(prefix="user"):
    return f"{uniq(prefix)}@example.test"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Flags that choose a daemon's rig network; a caller that passes one keeps its own choice.
RIG_NET_FLAGS = ("--bridge", "--rig-subnet", "--no-network")
_net_support = {}


def rig_net_args(rigd_bin):
    """A bridge and rig subnet of its own for one test daemon, so that daemons of
    this suite (and of other suites run at the same time on this host) never share
    one: a random /24 of 10.64.0.0/10 and a bridge named after it. [] when the
    binary has no rig network flags. A daemon that draws a pair in use refuses to
    start saying "in use"; callers retry with a fresh pair."""
    key = str(rigd_bin)
    if key not in _net_support:
        res = subprocess.run([key, "--help"], capture_output=True, text=True,
                             timeout=10, stdin=subprocess.DEVNULL)
        _net_support[key] = "--rig-subnet" in res.stdout
    if not _net_support[key]:
        return []
    slot = secrets.randbelow(16384)
    return ["--bridge", f"rgt{slot}",
            "--rig-subnet", f"10.{64 + slot // 256}.{slot % 256}.0/24"]


def reap_test_bridges():
    """Removes the bridges (and their nftables tables) that test daemons made
    (rgtN) when no live rigd holds them and no rig is plugged into them: what
    daemons killed by tests leave behind (a rigd that exits normally removes
    its own). A live rigd holds an abstract socket named after its bridge."""
    def ip_j(*args):
        res = subprocess.run(["ip", "-j", *args], capture_output=True, text=True,
                             timeout=10, stdin=subprocess.DEVNULL)
        return json.loads(res.stdout or "[]") if res.returncode == 0 else []
    masters = {link.get("master") for link in ip_j("link", "show")}
    for link in ip_j("link", "show", "type", "bridge"):
        name = link.get("ifname", "")
        if not re.fullmatch(r"rgt[0-9]{1,5}", name) or name in masters:
            continue
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            lock.bind("\0rigs/bridge/" + name)
        except OSError:
            lock.close()
            continue
        try:
            for cmd in (["nft", "delete", "table", "inet", name],
                        ["nft", "delete", "table", "bridge", name],
                        ["ip", "link", "del", name]):
                subprocess.run(cmd, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        finally:
            lock.close()


def clean_env(extra=None):
    """The caller's environment without RIGS_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGS_")}
    if extra:
        env.update(extra)
    return env


def parse_time(s):
    """Parse an RFC 3339 UTC timestamp; fail the test if it is not one."""
    assert isinstance(s, str) and RFC3339_RE.match(s), \
        f"not an RFC 3339 timestamp: {s!r}"
    assert s.endswith("Z") or s.endswith("+00:00"), f"not UTC: {s!r}"
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def _describe(r):
    body = r.body
    if isinstance(body, (bytes, bytearray)):
        body = body[:2000]
    return f"status={r.status} content-type={r.headers.get('Content-Type')!r} body={body!r}"


def assert_status(r, status):
    assert r.status == status, f"expected {status}, got {_describe(r)}"
    return r.body


def assert_error(r, status, code):
    """Status and the contract's error body {"error": {"code", "message"}}."""
    assert r.status == status, f"expected {status} {code}, got {_describe(r)}"
    ctype = r.headers.get("Content-Type") or ""
    assert ctype.split(";")[0].strip().lower() == "application/json", \
        f"error body is not application/json: {_describe(r)}"
    assert isinstance(r.body, dict) and isinstance(r.body.get("error"), dict), \
        f"error body is not {{'error': {{...}}}}: {_describe(r)}"
    err = r.body["error"]
    assert err.get("code") == code, f"expected code {code!r}, got {_describe(r)}"
    assert isinstance(err.get("message"), str) and err["message"], \
        f"error message missing: {_describe(r)}"
    return err


def _decode(headers, data):
    ctype = (headers.get("Content-Type") or "").lower()
    if data and "json" in ctype:
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def http_request(port, method, path, body=None, headers=None, raw=None,
                 host="127.0.0.1", source=None, timeout=HTTP_TIMEOUT):
    """One request on a fresh connection; returns Resp(status, headers, body).

    body is JSON-encoded; raw (bytes) is sent as is. headers may override
    anything, including Host and Content-Type.
    """
    h = dict(headers or {})
    data = None
    if raw is not None:
        data = raw if isinstance(raw, (bytes, bytearray)) else raw.encode()
    elif body is not None:
        data = json.dumps(body).encode()
    if data is not None and not any(k.lower() == "content-type" for k in h):
        h["Content-Type"] = "application/json"
    src = (source, 0) if source else None
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=src)
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        return Resp(resp.status, resp.headers, _decode(resp.headers, payload))
    finally:
        conn.close()


def raw_exchange(port, head, body_chunks=(), timeout=HTTP_TIMEOUT,
                 method="POST"):
    """Send a request head and body chunks on a raw socket, tolerating the
    server closing early (it may answer 413 before reading everything), then
    parse whatever response it sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(head)
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        try:
            payload = resp.read()
        except (http.client.IncompleteRead, ConnectionResetError) as e:
            payload = getattr(e, "partial", b"")
        return Resp(resp.status, resp.headers, _decode(resp.headers, payload))
    finally:
        sock.close()


def set_cookies(r):
    return r.headers.get_all("Set-Cookie") or []


def parse_set_cookie(value):
    """'n=v; A; B=c' -> (n, v, {a: c or True}) with lowercased attribute names."""
    parts = [p.strip() for p in value.split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name.strip(), val.strip(), attrs


def session_cookie(r):
    """The rigs_session cookie set by a response, parsed, or None."""
    for v in set_cookies(r):
        name, val, attrs = parse_set_cookie(v)
        if name == "rigs_session":
            return val, attrs
    return None


class Client:
    """Requests as one credential: a bearer key or a session cookie. Unsafe
    methods with a cookie carry the API's own Origin unless told otherwise."""

    def __init__(self, d, key=None, cookie=None):
        self.d = d
        self.key = key
        self.cookie = cookie

    def req(self, method, path, body=None, headers=None, raw=None, **kw):
        h = dict(headers or {})
        if self.cookie and method.upper() in UNSAFE_METHODS and \
                not any(k.lower() == "origin" for k in h):
            h["Origin"] = self.d.origin
        return self.d.req(method, path, body=body, key=self.key, headers=h,
                          cookie=self.cookie, raw=raw, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.req("PUT", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.req("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def me(self):
        return assert_status(self.get("/api/me"), 200)


class Rigd:
    """A running `rigd serve` on a loopback port."""

    def __init__(self, bin_path, data_dir, port, proc, log_path, admin_key,
                 admin_email, admin_password, init_stdout=""):
        self.bin = str(bin_path)
        self.data_dir = Path(data_dir)
        self.port = port
        self.proc = proc
        self.log_path = Path(log_path)
        self.admin_key = admin_key
        self.admin_email = admin_email
        self.admin_password = admin_password
        self.init_stdout = init_stdout
        self.base = f"http://127.0.0.1:{port}"
        self.origin = self.base
        self.admin = Client(self, key=admin_key)
        self.exit_code = None

    # -- HTTP ---------------------------------------------------------------
    def req(self, method, path, body=None, key=None, headers=None, cookie=None,
            raw=None, source=None, timeout=HTTP_TIMEOUT):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        if cookie is not None:
            h["Cookie"] = f"rigs_session={cookie}"
        return http_request(self.port, method, path, body=body, headers=h,
                            raw=raw, source=source, timeout=timeout)

    def as_key(self, key):
        return Client(self, key=key)

    def as_cookie(self, cookie):
        return Client(self, cookie=cookie)

    # -- process ------------------------------------------------------------
    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM; the daemon must exit 0 within `timeout` seconds."""
        if self.exit_code is not None:
            return self.exit_code
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_code = "timeout"
                raise AssertionError(
                    f"rigd did not exit within {timeout}s of SIGTERM; log:\n"
                    + self.log_text()[-4000:])
        self.exit_code = self.proc.returncode
        assert self.exit_code == 0, \
            f"rigd exited {self.exit_code} after SIGTERM; log:\n" + \
            self.log_text()[-4000:]
        return 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.exit_code is None:
            self.exit_code = self.proc.returncode


# -- host commands ------------------------------------------------------------

def run_init(bin_path, data_dir=None, email=DEFAULT_EMAIL, password_file=None,
             env=None, timeout=60):
    args = [str(bin_path), "init"]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    if email is not None:
        args += ["--email", email]
    if password_file is not None:
        args += ["--password-file", str(password_file)]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else clean_env(),
                          stdin=subprocess.DEVNULL)


def key_from_init(res):
    lines = res.stdout.rstrip("\n").split("\n")
    return lines[-1] if lines else ""


def run_audit_verify(bin_path, data_dir, timeout=60):
    return subprocess.run([str(bin_path), "audit", "verify", "--data-dir",
                           str(data_dir)], capture_output=True, text=True,
                          timeout=timeout, env=clean_env(),
                          stdin=subprocess.DEVNULL)


def wait_healthy(port, proc, log_path, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False, f"rigd exited with {proc.returncode}"
        try:
            r = http_request(port, "GET", "/healthz", timeout=2)
            if r.status == 200:
                return True, None
            last = f"/healthz answered {r.status}"
        except OSError as e:
            last = repr(e)
        time.sleep(0.05)
    return False, f"no 200 from /healthz within {timeout}s (last: {last})"


# -- files in the data dir ------------------------------------------------------

def sqlite_files(data_dir):
    """SQLite databases in the data dir (by magic) and their -wal/-shm/-journal."""
    out = []
    for p in sorted(Path(data_dir).rglob("*")):
        if not p.is_file():
            continue
        if p.name.endswith(("-wal", "-shm", "-journal")):
            out.append(p)
            continue
        try:
            with open(p, "rb") as f:
                if f.read(16) == b"SQLite format 3\x00":
                    out.append(p)
        except OSError:
            pass
    return out


def sqlite_databases(data_dir):
    return [p for p in sqlite_files(data_dir)
            if not p.name.endswith(("-wal", "-shm", "-journal"))]


def tree_snapshot(root):
    """{relative path: (size, mtime_ns, sha256)} of every file under root."""
    snap = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file():
            st = p.stat()
            snap[str(p.relative_to(root))] = (
                st.st_size, st.st_mtime_ns,
                hashlib.sha256(p.read_bytes()).hexdigest())
    return snap


# -- governance builders ---------------------------------------------------------

def login(d, email, password, org=None, source=None):
    """Log in; return the rigs_session cookie value."""
    body = {"email": email, "password": password}
    if org is not None:
        body["org"] = org
    r = d.req("POST", "/api/auth/login", body=body, source=source)
    assert_status(r, 200)
    c = session_cookie(r)
    assert c and c[0], f"login set no rigs_session cookie: {set_cookies(r)}"
    return c[0]


def create_user(d, client=None, email=None, password=USER_PASSWORD,
                role="member", name=None):
    """POST /api/users as an org admin (default: the init key)."""
    client = client or d.admin
    body = {"email": email or uniq_email(), "password": password, "role": role}
    if name is not None:
        body["name"] = name
    u = assert_status(client.post("/api/users", body), 201)
    u["password"] = password
    return u


def create_org(client, name=None):
    return assert_status(client.post("/api/orgs", {"name": name or uniq("org")}),
                         201)


def create_project(client, org, name=None):
    return assert_status(
        client.post(f"/api/orgs/{org}/projects", {"name": name or uniq("prj")}),
        201)


def create_key(client, scopes, name=None, project=None, expires_in_s=None,
               org=None):
    body = {"name": name or uniq("key"), "scopes": list(scopes)}
    if project is not None:
        body["project"] = project
    if expires_in_s is not None:
        body["expires_in_s"] = expires_in_s
    if org is not None:
        body["org"] = org
    k = assert_status(client.post("/api/keys", body), 201)
    assert KEY_RE.match(k.get("key") or ""), f"bad key in {k!r}"
    return k


def add_member(client, org, user, role="member"):
    r = client.post(f"/api/orgs/{org}/members", {"user": user, "role": role})
    assert r.status in (200, 201), _describe(r)
    return r.body


def list_all(client, path, limit=500):
    """Follow `next` through a list endpoint; return every item."""
    items, cursor, seen = [], None, set()
    sep = "&" if "?" in path else "?"
    for _ in range(10000):
        q = f"{path}{sep}limit={limit}"
        if cursor is not None:
            q += f"&cursor={urlquote(cursor)}"
        body = assert_status(client.get(q), 200)
        assert set(body) >= {"items", "next"}, f"not a list body: {body!r}"
        items.extend(body["items"])
        cursor = body["next"]
        if cursor is None:
            return items
        assert cursor not in seen, f"cursor repeats: {cursor!r}"
        seen.add(cursor)
    raise AssertionError("list never ended")


def urlquote(s):
    from urllib.parse import quote
    return quote(str(s), safe="")


def session_in(d, email, password, org=None):
    """A cookie client logged in (into `org` when given)."""
    return d.as_cookie(login(d, email, password, org=org))


def admin_session(d, org=None):
    return session_in(d, d.admin_email, d.admin_password, org=org)


def org_with_session(d, email=None, password=None, name=None):
    """Create an org as a user (default: the init admin) through a session
    and return (org, a session acting in it). A key or session acts in one
    org at a time, so managing the new org goes through a session in it."""
    email = email or d.admin_email
    password = password or d.admin_password
    home = session_in(d, email, password)
    org = create_org(home, name)
    return org, session_in(d, email, password, org=org["name"])


# -- the audit table, read directly (for entries no org's API view shows) -------

def audit_table(data_dir):
    """(db path, table, columns) of the audit log: a table whose name
    contains 'audit' and that has `action` and `result` columns."""
    import sqlite3
    for db in sqlite_databases(data_dir):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            names = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' "
                "AND name LIKE '%audit%'")]
            for t in names:
                cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
                if "action" in cols and "result" in cols:
                    return db, t, cols
        finally:
            con.close()
    raise AssertionError(f"no audit table with action/result columns in "
                         f"{sqlite_databases(data_dir)}")


def audit_db_rows(data_dir, after_rowid=0):
    """[(rowid, {column: value})] of audit rows with rowid > after_rowid."""
    import sqlite3
    db, table, cols = audit_table(data_dir)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute(f'SELECT rowid, * FROM "{table}" WHERE rowid > ? '
                           f'ORDER BY rowid', (after_rowid,)).fetchall()
    finally:
        con.close()
    return [(r[0], dict(zip(cols, r[1:]))) for r in rows]
