"""The app router end to end: a real HTTP/WebSocket server inside a rig, reached
through rigd's --apps-listen with every visibility against every kind of
caller, preview links, the browser sign-in flow, streaming both ways, framing
attacks and Host games, 502/503, routes changed on the fly, auto-sleep and TLS."""

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse, parse_qs

import pytest

from helpers import (RIG_SCOPES, add_member, assert_status, create_key,
                     create_user, login, org_with_session, session_in, uniq)
from rigutil import rig_api, rig_daemons, rig_prereqs, wait_for  # noqa: F401

DOMAIN = "rigs.localhost"
SERVER = Path(__file__).resolve().parent / "data" / "rig_app_server.py"
MIB = 1024 * 1024
PATTERN = bytes(range(256)) * 4096


def pattern(n):
    out = bytearray()
    while len(out) < n:
        out += PATTERN[: n - len(out)]
    return bytes(out)


def app_name(prefix="app"):
    return uniq(prefix).lower().replace("_", "-")[:60]


# -- a server in the rig ------------------------------------------------------------

def start_server(api, rid, port=8000):
    api.fput(rid, "/home/user/server.py", SERVER.read_bytes())
    api.ok(rid, f"nohup python3 /home/user/server.py {port} >/tmp/server-{port}.log 2>&1 &")
    # ready when it answers inside the rig
    assert wait_for(lambda: api.sh(rid, f"curl -sf http://127.0.0.1:{port}/echo >/dev/null")
                    ["exit_code"] == 0, 30), "the app server in the rig did not start"


def add_app(api, rid, name=None, port=8000, visibility="public", **kw):
    body = {"name": name or app_name(), "port": port, "visibility": visibility}
    body.update(kw)
    r = api.d.req("POST", f"/api/rigs/{rid}/apps", body=body, key=api.key)
    return assert_status(r, 201)


def router_port(d):
    return d.edge_ports["--apps-listen"]


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)


def get(d, app, path="/echo", method="GET", headers=None, body=None, conn=None,
        timeout=60):
    """One request to the router with Host: APP.DOMAIN."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", router_port(d), timeout=timeout)
    h = {"Host": f"{app}.{DOMAIN}"}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    out = Resp(r.status, r.getheaders(), r.read())
    if own:
        c.close()
    return out


def raw(port, data, timeout=10, tls_ctx=None, host=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls_ctx:
        s = tls_ctx.wrap_socket(s, server_hostname=host)
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def requests_log(api, rid):
    return api.sh(rid, "cat /tmp/requests.log 2>/dev/null")["stdout"]


@pytest.fixture(scope="module")
def web(rig_api):
    """A rig running the app server on 8000 and 8001, and a public app."""
    rig = rig_api.create(uniq("web"))
    start_server(rig_api, rig["id"], 8000)
    start_server(rig_api, rig["id"], 8001)
    app = add_app(rig_api, rig["id"])
    return {"rig": rig, "app": app["name"], "api": rig_api}


@pytest.fixture(scope="module")
def people(rig_api):
    """Users of the owner's org and of another org, with full rig keys."""
    d = rig_api.d
    admin = d.admin

    def user_with_key(email):
        u = create_user(d, email=email)
        sess = session_in(d, u["email"], u["password"])
        return {"user": u, "key": create_key(sess, RIG_SCOPES)["key"], "email": u["email"]}

    allowed = user_with_key(f"allowed-{uniq('u').lower()}@example.com")
    member = user_with_key(f"member-{uniq('u').lower()}@example.com")
    stranger = create_user(d, email=f"stranger-{uniq('u').lower()}@example.com")
    org, sess = org_with_session(d, stranger["email"], stranger["password"])
    other_key = create_key(sess, RIG_SCOPES)["key"]
    assert admin is not None
    return {"allowed": allowed, "member": member, "other_tenant_key": other_key}


# -- proxying -----------------------------------------------------------------------

def test_url_and_public_app_with_keep_alive(web):
    d = web["api"].d
    app = web["app"]
    r = d.req("GET", f"/api/rigs/{web['rig']['id']}/apps/{app}", key=web["api"].key)
    assert assert_status(r, 200)["url"] == f"http://{app}.{DOMAIN}"
    c = http.client.HTTPConnection("127.0.0.1", router_port(d), timeout=30)
    first = None
    for i in range(5):
        r = get(d, app, f"/echo?i={i}", conn=c)
        assert r.status == 200, r.body
        assert r.json()["path"] == f"/echo?i={i}"
        if first is None:
            first = c.sock
        assert c.sock is first, "the router closed a keep-alive connection"
    c.close()


def test_forwarded_headers_and_rigs_credentials_never_reach_the_rig(web):
    d = web["api"].d
    key = web["api"].key
    r = get(d, web["app"], headers={
        "Authorization": f"Bearer {key}",
        "Cookie": "theme=dark; rigs_session=rs_secret; rigs_app=x; rigs_preview=y; lang=en",
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "gopher",
    })
    assert r.status == 200
    hs = {k.lower(): v for k, v in r.json()["headers"]}
    assert "authorization" not in hs
    assert hs["cookie"] == "theme=dark; lang=en"
    assert hs["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert hs["x-forwarded-proto"] == "http"
    assert hs["x-forwarded-host"] == f"{web['app']}.{DOMAIN}"
    assert hs["host"] == f"{web['app']}.{DOMAIN}"
    assert key not in r.body.decode()
    # an Authorization that is not a Rigs token belongs to the app and passes
    r = get(d, web["app"], headers={"Authorization": "Basic dXNlcjpwdw=="})
    hs = {k.lower(): v for k, v in r.json()["headers"]}
    assert hs["authorization"] == "Basic dXNlcjpwdw=="


@pytest.mark.parametrize("path,n", [("/big", 24 * MIB), ("/chunked", 7 * MIB + 3),
                                    ("/close", 5 * MIB + 1)])
def test_downloads_stream_whole(web, path, n):
    r = get(web["api"].d, web["app"], f"{path}?n={n}")
    assert r.status == 200
    assert len(r.body) == n and hashlib.sha256(r.body).digest() == \
        hashlib.sha256(pattern(n)).digest()


def test_uploads_stream_with_length_and_chunked(web):
    d = web["api"].d
    data = os.urandom(3 * MIB) * 7  # 21 MiB
    r = get(d, web["app"], "/echo", method="POST", body=data)
    assert r.status == 200 and r.json()["length"] == len(data)
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()

    def chunks():
        for i in range(0, len(data), 1 << 20):
            yield data[i:i + (1 << 20)]
    c = http.client.HTTPConnection("127.0.0.1", router_port(d), timeout=60)
    c.request("PUT", "/echo", body=chunks(), encode_chunked=True,
              headers={"Host": f"{web['app']}.{DOMAIN}", "Transfer-Encoding": "chunked"})
    r = c.getresponse()
    body = json.loads(r.read())
    assert r.status == 200 and body["length"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    # the same connection serves the next request
    c.request("GET", "/echo", headers={"Host": f"{web['app']}.{DOMAIN}"})
    assert c.getresponse().status == 200
    c.close()


def test_head_and_no_body_statuses(web):
    r = get(web["api"].d, web["app"], "/big?n=1000", method="HEAD")
    assert r.status == 200 and r.body == b"" and r.header("Content-Length") == "1000"


def test_response_streams_before_it_ends(web):
    d = web["api"].d
    s = socket.create_connection(("127.0.0.1", router_port(d)), timeout=10)
    s.sendall(f"GET /slow HTTP/1.1\r\nHost: {web['app']}.{DOMAIN}\r\n\r\n".encode())
    t0 = time.monotonic()
    got = b""
    while b"first" not in got:
        got += s.recv(4096)
    early = time.monotonic() - t0
    while b"0\r\n\r\n" not in got:
        got += s.recv(4096)
    total = time.monotonic() - t0
    s.close()
    assert b"last" in got
    assert total >= 1.9 and early < total - 1.0, \
        f"the first chunk waited for the whole body ({early:.2f}s of {total:.2f}s)"


def test_slow_reader_is_pushed_back_not_buffered(web):
    """A client that reads nothing of a 1 GiB answer: rigd stops reading the
    rig instead of holding the answer (its memory plateaus)."""
    d = web["api"].d

    def rss():
        with open(f"/proc/{d.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024
    s = socket.create_connection(("127.0.0.1", router_port(d)), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    before = rss()
    s.sendall(f"GET /big?n={1 << 30} HTTP/1.1\r\nHost: {web['app']}.{DOMAIN}\r\n\r\n".encode())
    time.sleep(3)
    first = rss()
    time.sleep(3)
    second = rss()
    s.close()
    assert first - before < 96 * MIB, f"rigd grew by {(first - before) // MIB} MiB"
    assert second - first < 16 * MIB, "rigd kept buffering for a client that reads nothing"
    # the router still serves
    assert get(d, web["app"]).status == 200


def ws_handshake(port, host, path="/ws", extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n").encode() + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            break
        head += d
    return s, head, key


def ws_send(s, data, op=1):
    mask = os.urandom(4)
    hdr = bytes([0x80 | op])
    hdr += bytes([0x80 | len(data)]) if len(data) < 126 else \
        bytes([0x80 | 126]) + struct.pack("!H", len(data))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def ws_recv(s):
    def read(n):
        buf = b""
        while len(buf) < n:
            d = s.recv(n - len(buf))
            assert d, "the WebSocket closed"
            buf += d
        return buf
    h = read(2)
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", read(2))[0]
    return h[0] & 0x0F, read(n)


def test_websocket_echo_through_the_router(web):
    d = web["api"].d
    s, head, key = ws_handshake(router_port(d), f"{web['app']}.{DOMAIN}")
    assert head.startswith(b"HTTP/1.1 101"), head
    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert accept in head
    for msg in (b"hello", b"x" * 5000, "snow \u2603".encode()):
        ws_send(s, msg)
        assert ws_recv(s) == (1, msg)
    ws_send(s, b"\x01\x02", op=2)
    assert ws_recv(s) == (2, b"\x01\x02")
    s.close()


def test_502_when_nothing_listens_and_503_when_stopped(rig_api):
    rig = rig_api.create(uniq("down"))
    app = add_app(rig_api, rig["id"], port=8999)["name"]
    r = get(rig_api.d, app, "/", headers={"Accept": "text/html"})
    assert r.status == 502 and b"8999" in r.body
    rig_api.act(rig["id"], "stop", "stopped")
    r = get(rig_api.d, app, "/")
    assert r.status == 503
    assert r.json()["error"]["code"] == "unavailable"
    assert "stopped" in r.json()["error"]["message"]


def test_routes_change_on_the_fly(web):
    api, d, rid = web["api"], web["api"].d, web["rig"]["id"]
    name = add_app(api, rid, port=8000)["name"]
    assert get(d, name).status == 200
    before = requests_log(api, rid).count("/echo?port")
    assert_status(d.req("PATCH", f"/api/rigs/{rid}/apps/{name}", body={"port": 8001},
                        key=api.key), 200)
    r = get(d, name, "/echo?port")
    assert r.status == 200
    assert_status(d.req("DELETE", f"/api/rigs/{rid}/apps/{name}", key=api.key), 204)
    assert get(d, name).status == 404
    assert requests_log(api, rid).count("/echo?port") == before + 1


# -- framing attacks and Host games ---------------------------------------------------

def test_request_smuggling_is_refused(web):
    api, d, rid = web["api"], web["api"].d, web["rig"]["id"]
    host = f"{web['app']}.{DOMAIN}".encode()
    attacks = [
        b"POST /echo HTTP/1.1\r\nHost: " + host + b"\r\nContent-Length: 44\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled-a HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: " + host + b"\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 4\r\n\r\n5c\r\nGET /smuggled-b HTTP/1.1\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: " + host + b"\r\nContent-Length: 5\r\n"
        b"Content-Length: 40\r\n\r\nhelloGET /smuggled-c HTTP/1.1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: " + host + b"\r\nTransfer-Encoding: gzip, chunked\r\n"
        b"\r\n0\r\n\r\nGET /smuggled-d HTTP/1.1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: " + host + b"\r\nTransfer-Encoding:\r\n chunked\r\n"
        b"\r\n0\r\n\r\nGET /smuggled-e HTTP/1.1\r\n\r\n",
    ]
    for a in attacks:
        out = raw(router_port(d), a)
        assert re.match(rb"HTTP/1.1 (400|501) ", out), out[:200]
        assert out.count(b"HTTP/1.1") == 1, "the router answered a smuggled request"
    assert "smuggled" not in requests_log(api, rid)


@pytest.mark.parametrize("host,status", [
    (f"evil.{DOMAIN}.attacker", 404),
    (f"x.evil.{DOMAIN}", 404),
    ("127.0.0.1", 404),
    ("[::1]:7080", 404),
    (DOMAIN, 404),
    (f".{DOMAIN}", 404),
    (f"-bad.{DOMAIN}", 404),
])
def test_host_games_never_route(web, host, status):
    out = raw(router_port(web["api"].d),
              f"GET /echo?game HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    assert out.startswith(f"HTTP/1.1 {status}".encode()), out[:200]


def test_missing_double_or_absolute_hosts_refused(web):
    api, d = web["api"], web["api"].d
    host = f"{web['app']}.{DOMAIN}"
    for req in (b"GET /echo?game HTTP/1.1\r\nConnection: close\r\n\r\n",
                f"GET /echo?game HTTP/1.1\r\nHost: {host}\r\nHost: x.{DOMAIN}\r\n\r\n".encode(),
                f"GET http://{host}/echo?game HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
                b"GET /echo?game HTTP/1.0\r\n\r\n"):
        out = raw(router_port(d), req)
        assert out.startswith(b"HTTP/1.1 400"), out[:200]
    # the app host in any letter case, with a port and a trailing dot, routes
    for h in (host.upper(), f"{host}:80", f"{host}."):
        assert get(d, web["app"], headers={"Host": h}).status == 200
    assert "?game" not in requests_log(api, web["rig"]["id"])


# -- visibility ---------------------------------------------------------------------------

def test_visibility_matrix(rig_api, web, people):
    api, d, rid = web["api"], web["api"].d, web["rig"]["id"]
    other_rig = rig_api.create(uniq("other"))
    cred = assert_status(d.req("POST", f"/api/rigs/{rid}/credentials", body={},
                               key=api.key), 201)["token"]
    other_cred = assert_status(d.req("POST", f"/api/rigs/{other_rig['id']}/credentials",
                                     body={}, key=api.key), 201)["token"]
    callers = {
        "anonymous": None,
        "owner": api.key,
        "rig credential": cred,
        "another rig's credential": other_cred,
        "allowed user": people["allowed"]["key"],
        "member": people["member"]["key"],
        "other tenant": people["other_tenant_key"],
        "revoked-looking key": "rb_" + "A" * 32,
    }
    expect = {
        "public": {k: 200 for k in callers},
        "private": {"anonymous": 401, "owner": 200, "rig credential": 200,
                    "another rig's credential": 403, "allowed user": 403, "member": 403,
                    "other tenant": 403, "revoked-looking key": 401},
        "privileged": {"anonymous": 401, "owner": 200, "rig credential": 200,
                       "another rig's credential": 403, "allowed user": 200, "member": 403,
                       "other tenant": 403, "revoked-looking key": 401},
    }
    before = requests_log(api, rid).count("/echo?vis")
    allowed_through = 0
    for vis, table in expect.items():
        name = add_app(api, rid, visibility=vis,
                       allowed_emails=[people["allowed"]["email"].upper()])["name"]
        for who, key in callers.items():
            h = {"Authorization": f"Bearer {key}"} if key else {}
            r = get(d, name, "/echo?vis", headers=h)
            assert r.status == table[who], f"{vis} app, {who}: {r.status} {r.body[:200]}"
            if r.status == 200:
                allowed_through += 1
            else:
                assert r.json()["error"]["code"] in ("unauthenticated", "forbidden")
                if r.status == 401:
                    assert r.header("WWW-Authenticate")
    # the rig saw exactly the requests that were let through
    assert requests_log(api, rid).count("/echo?vis") == before + allowed_through


def test_browser_sign_in_flow(web, people):
    api, d, rid = web["api"], web["api"].d, web["rig"]["id"]
    name = add_app(api, rid, visibility="privileged",
                   allowed_emails=[people["allowed"]["email"]])["name"]
    r = get(d, name, "/echo?from=browser", headers={"Accept": "text/html,*/*"})
    assert r.status == 302
    loc = urlparse(r.header("Location"))
    assert loc.netloc == f"127.0.0.1:{d.port}" and loc.path == "/api/auth/app-login"
    q = parse_qs(loc.query)
    assert q["app"] == [name] and q["next"] == ["/echo?from=browser"]
    # not signed in: the API shows a sign-in page
    page = d.req("GET", f"{loc.path}?{loc.query}")
    assert page.status == 200 and b"<form" in page.body
    # signed in as the allowed user: back to the app with a one-time code
    u = people["allowed"]["user"]
    cookie = login(d, u["email"], u["password"])
    back = d.req("GET", f"{loc.path}?{loc.query}", cookie=cookie)
    assert back.status == 302, back
    bl = urlparse(back.headers.get("Location"))
    assert bl.netloc == f"{name}.{DOMAIN}" and bl.path == "/.rigs/callback"
    assert cookie not in bl.query, "the session itself must never leave the API"
    r = get(d, name, f"{bl.path}?{bl.query}")
    assert r.status == 302 and r.header("Location") == "/echo?from=browser"
    set_cookie = r.header("Set-Cookie")
    assert set_cookie.startswith("rigs_app=") and "HttpOnly" in set_cookie
    app_cookie = set_cookie.split(";")[0]
    r = get(d, name, "/echo?from=browser", headers={"Cookie": app_cookie})
    assert r.status == 200
    assert "rigs_app" not in json.dumps(r.json()["headers"])
    # an API session that reaches the app's host (a cookie for the whole domain) counts too
    assert get(d, name, "/echo", headers={"Cookie": f"rigs_session={cookie}"}).status == 200
    # the code is single use; the cookie is for this app only
    assert get(d, name, f"{bl.path}?{bl.query}").status == 403
    other = add_app(api, rid, visibility="private")["name"]
    assert get(d, other, "/", headers={"Cookie": app_cookie}).status == 401
    # a member who is not allowed signs in and is refused
    m = people["member"]["user"]
    mcookie = login(d, m["email"], m["password"])
    back = d.req("GET", f"{loc.path}?{loc.query}", cookie=mcookie)
    ml = urlparse(back.headers.get("Location"))
    r = get(d, name, f"{ml.path}?{ml.query}")
    mc = r.header("Set-Cookie").split(";")[0]
    assert get(d, name, "/echo", headers={"Cookie": mc}).status == 403
    assert get(d, name, "/echo", headers={"Cookie": f"rigs_session={mcookie}"}).status == 403
    assert get(d, name, "/echo", headers={"Cookie": "rigs_session=rs_forged"}).status == 401


def preview_of(api, rid, name, expires_in_s=3600):
    return assert_status(api.d.req("POST", f"/api/rigs/{rid}/apps/{name}/previews",
                                   body={"expires_in_s": expires_in_s}, key=api.key), 201)


def test_preview_links(web):
    api, d, rid = web["api"], web["api"].d, web["rig"]["id"]
    name = add_app(api, rid, visibility="private")["name"]
    other = add_app(api, rid, visibility="private")["name"]
    p = preview_of(api, rid, name)
    u = urlparse(p["url"])
    assert u.netloc == f"{name}.{DOMAIN}" and parse_qs(u.query)["rigs_preview"] == [p["token"]]
    r = get(d, name, f"/echo?a=1&rigs_preview={p['token']}")
    assert r.status == 302 and r.header("Location") == "/echo?a=1"
    ck = r.header("Set-Cookie").split(";")[0]
    assert ck == f"rigs_preview={p['token']}"
    c = http.client.HTTPConnection("127.0.0.1", router_port(d), timeout=30)
    assert get(d, name, "/echo", headers={"Cookie": ck}, conn=c).status == 200
    # bound to its app
    assert get(d, other, f"/echo?rigs_preview={p['token']}").status == 401
    assert get(d, other, "/echo", headers={"Cookie": ck}).status == 401
    # revocation ends it on the next request of an open connection
    assert_status(d.req("DELETE", f"/api/previews/{p['token']}", key=api.key), 204)
    assert get(d, name, "/echo", headers={"Cookie": ck}, conn=c).status == 401
    c.close()
    assert get(d, name, f"/echo?rigs_preview={p['token']}").status == 401
    # expiry ends it too
    p = preview_of(api, rid, name, expires_in_s=2)
    ck = f"rigs_preview={p['token']}"
    assert get(d, name, "/echo", headers={"Cookie": ck}).status == 200
    time.sleep(3.2)
    assert get(d, name, "/echo", headers={"Cookie": ck}).status == 401


# -- sleeping rigs and TLS ------------------------------------------------------------------

def test_auto_slept_rig_wakes_on_request(rig_api):
    rig = rig_api.create(uniq("sleepy"), auto_sleep_s=10)
    start_server(rig_api, rig["id"], 8000)
    name = add_app(rig_api, rig["id"])["name"]
    assert wait_for(lambda: rig_api.state(rig["id"]) == "paused", 60), \
        "the idle rig was not put to sleep"
    r = get(rig_api.d, name, "/echo?wake", timeout=90)
    assert r.status == 200, r.body
    assert rig_api.state(rig["id"]) == "running"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN=*.{DOMAIN}", "-addext", f"subjectAltName=DNS:*.{DOMAIN}",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


def test_https_router(rig_daemons, tls_files):
    from helpers import free_port
    cert, key = tls_files
    port = free_port()
    api = rig_daemons(["--apps-tls-listen", f"127.0.0.1:{port}", "--tls-cert", str(cert),
                       "--tls-key", str(key)])
    rig = api.create(uniq("tls"))
    start_server(api, rig["id"], 8000)
    app = add_app(api, rig["id"])
    assert app["url"] == f"https://{app['name']}.{DOMAIN}"
    ctx = ssl.create_default_context(cafile=str(cert))
    host = f"{app['name']}.{DOMAIN}"
    out = raw(port, f"GET /echo HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(),
              tls_ctx=ctx, host=host)
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    body = json.loads(out.split(b"\r\n\r\n", 1)[1])
    hs = {k.lower(): v for k, v in body["headers"]}
    assert hs["x-forwarded-proto"] == "https"


def test_router_refuses_to_start_on_a_taken_port(rigd_factory):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    with pytest.raises(BaseException) as e:
        rigd_factory(["--apps-listen", f"127.0.0.1:{port}"])
    s.close()
    assert "app router" in str(e.value) or "--apps-listen" in str(e.value)


def test_refused_request_with_a_body_keeps_the_connection(web):
    """A 401 for a POST whose body arrived whole: the body is skipped, the
    connection serves the next request, and the rig saw neither."""
    api, d, rid = web["api"], web["api"].d, web["rig"]["id"]
    name = add_app(api, rid, visibility="private")["name"]
    c = http.client.HTTPConnection("127.0.0.1", router_port(d), timeout=30)
    r = get(d, name, "/echo?refused-body", method="POST", body=b"x" * 1000, conn=c)
    assert r.status == 401
    r = get(d, name, "/echo?after-refusal", headers={"Authorization": f"Bearer {api.key}"},
            conn=c)
    assert r.status == 200
    c.close()
    log = requests_log(api, rid)
    assert "refused-body" not in log and "after-refusal" in log


def test_sigterm_lets_a_proxied_answer_finish(rig_daemons):
    api = rig_daemons()
    rig = api.create(uniq("drain"))
    start_server(api, rig["id"], 8000)
    name = add_app(api, rig["id"])["name"]
    d = api.d
    s = socket.create_connection(("127.0.0.1", router_port(d)), timeout=20)
    s.sendall(f"GET /slow HTTP/1.1\r\nHost: {name}.{DOMAIN}\r\n\r\n".encode())
    got = b""
    while b"first" not in got:
        got += s.recv(4096)
    d.proc.send_signal(15)
    while b"0\r\n\r\n" not in got:
        chunk = s.recv(4096)
        assert chunk, f"the answer was cut by SIGTERM: {got!r}"
        got += chunk
    assert b"last" in got
    s.close()
    assert d.proc.wait(timeout=30) == 0


def test_failed_credentials_at_the_router_are_audited(web):
    api, d, rid = web["api"], web["api"].d, web["rig"]["id"]
    name = add_app(api, rid, visibility="private")["name"]
    r = get(d, name, "/echo", headers={"Authorization": "Bearer rb_" + "Z" * 32})
    assert r.status == 401
    items = assert_status(d.req("GET", f"/api/audit?action=auth.failed&limit=500",
                                key=api.key), 200)["items"]
    mine = [e for e in items if e.get("target") == rid]
    assert mine, f"no auth.failed entry for the rig in {items[-3:]}"
    assert mine[-1]["result"] == "denied" and mine[-1]["kind"] == "anonymous"
    assert mine[-1]["ip"] == "127.0.0.1"
    assert "rb_" + "Z" * 32 not in json.dumps(items)


def test_metrics_count_router_answers(web):
    d = web["api"].d

    def count(status):
        text = d.req("GET", "/metrics", key=d.admin_key).body
        text = text.decode() if isinstance(text, bytes) else text
        m = re.search(rf'^rigs_router_requests_total{{status="{status}"}} (\d+)$', text, re.M)
        return int(m.group(1)) if m else 0
    before200, before404 = count(200), count(404)
    assert get(d, web["app"]).status == 200
    assert get(d, "no-such-app-here").status == 404
    assert count(200) >= before200 + 1 and count(404) >= before404 + 1


def test_sign_in_cannot_be_bent(web, people):
    """A code redeemed at another app, an open redirect through `next`, and a
    tampered or foreign app cookie all fail."""
    api, d, rid = web["api"], web["api"].d, web["rig"]["id"]
    a = add_app(api, rid, visibility="private")["name"]
    b = add_app(api, rid, visibility="private")["name"]
    cookie = login(d, d.admin_email, d.admin_password)

    def code_for(app, nxt):
        r = d.req("GET", f"/api/auth/app-login?app={app}&next={nxt}", cookie=cookie)
        assert r.status == 302, r
        u = urlparse(r.headers.get("Location"))
        return f"{u.path}?{u.query}"
    # a code is bound to its app
    assert get(d, b, code_for(a, "/")).status == 403
    # `next` never leaves the app's host
    for nxt in ("//evil.example/x", "%2F%2Fevil.example", "https://evil.example/",
                "/%5Cevil.example"):
        r = get(d, a, code_for(a, nxt))
        assert r.status == 302 and r.header("Location") == "/", (nxt, r.header("Location"))
    r = get(d, a, code_for(a, "/echo%3Fq%3D1"))
    assert r.header("Location") == "/echo?q=1"
    good = r.header("Set-Cookie").split(";")[0]
    assert get(d, a, "/echo", headers={"Cookie": good}).status == 200
    name, value = good.split("=", 1)
    flipped = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    for bad in (f"{name}={flipped}", f"{name}={value[:-4]}", f"{name}=x", f"{name}="):
        assert get(d, a, "/echo", headers={"Cookie": bad}).status == 401, bad
    # the cookie of app a means nothing at app b
    assert get(d, b, "/echo", headers={"Cookie": good}).status == 401
