"""Rig credentials (POST /api/rigs/{id}/credentials) through a real rigd:
minting, what a credential may and may not do, expiry, restart, audit, and
that the token string is never kept anywhere (data dir, rigd's log, the rig).

Contract: shared/API.md "Credentials, SSH, ..." and "Details pinned down /
Credentials and terminals"; served behaviour: docs/api.md "Rig credentials".
"""

import os
import re
import time

import pytest

import helpers
from helpers import assert_error, assert_status, create_key, parse_time, uniq
from rigutil import qpath, rig_api, rig_daemons, rig_prereqs, tmp_path  # noqa: F401
from wsutil import Term

TOKEN_RE = re.compile(r"^rc_[A-Za-z0-9_-]{60,400}$")
CT = "rigs:instances:control"


@pytest.fixture(scope="module")
def rigs(rig_api):
    """Two running rigs of the admin's default project."""
    a = rig_api.create(uniq("cred-a"))
    b = rig_api.create(uniq("cred-b"))
    return a, b


def mint(api, rid, body=None, key=None):
    r = api.d.req("POST", f"/api/rigs/{qpath(rid)}/credentials",
                  body=body if body is not None else {"ttl_s": 300},
                  key=key or api.key)
    return r


def token_of(api, rid, ttl=300):
    b = assert_status(mint(api, rid, {"ttl_s": ttl}), 201)
    assert TOKEN_RE.match(b["token"]), b
    return b["token"]


def test_mint_shape_and_ttl(rig_api, rigs):
    a, _ = rigs
    before = helpers.now_utc()
    b = assert_status(mint(rig_api, a["id"], {"ttl_s": 120}), 201)
    assert set(b) >= {"token", "expires_at"}, b
    assert TOKEN_RE.match(b["token"]), b
    exp = parse_time(b["expires_at"])
    delta = (exp - before).total_seconds()
    assert 118 <= delta <= 125, (b, before)
    # default 300 s, also with an empty body and by name
    b = assert_status(rig_api.d.req("POST", f"/api/rigs/{a['id']}/credentials",
                                    key=rig_api.key), 201)
    assert 295 <= (parse_time(b["expires_at"]) - before).total_seconds() <= 305, b
    b = assert_status(mint(rig_api, a["name"], {}), 201)
    assert 295 <= (parse_time(b["expires_at"]) - before).total_seconds() <= 305, b
    assert_status(mint(rig_api, a["id"], {"ttl_s": 900}), 201)
    assert_status(mint(rig_api, a["id"], {"ttl_s": 1}), 201)
    for bad in (0, 901, -5, "60", 1.5, True):
        assert_error(mint(rig_api, a["id"], {"ttl_s": bad}), 400, "invalid_request")
    assert_error(mint(rig_api, "rig_doesnotexist0000000", {}), 404, "not_found")
    # two mints differ
    assert token_of(rig_api, a["id"]) != token_of(rig_api, a["id"])


def test_mint_needs_control_scope(rig_api, rigs):
    a, _ = rigs
    admin = helpers.Client(rig_api.d, key=rig_api.key)
    ro = create_key(admin, ["rigs:instances:read"])["key"]
    assert_error(mint(rig_api, a["id"], key=ro), 403, "forbidden")
    ct = create_key(admin, ["rigs:instances:read", CT])["key"]
    assert_status(mint(rig_api, a["id"], key=ct), 201)


def test_credential_acts_on_its_rig(rig_api, rigs):
    a, _ = rigs
    tok = token_of(rig_api, a["id"])
    d = rig_api.d
    r = assert_status(d.req("GET", f"/api/rigs/{a['id']}", key=tok), 200)
    assert r["id"] == a["id"]
    # by name too (in the rig's project)
    assert assert_status(d.req("GET", f"/api/rigs/{a['name']}", key=tok), 200)["id"] == a["id"]
    r = assert_status(d.req("POST", f"/api/rigs/{a['id']}/exec",
                            body={"cmd": ["sh", "-c", "echo hi-$USER"]}, key=tok), 200)
    assert r["stdout"] == "hi-user\n", r
    assert_status(d.req("PUT", f"/api/rigs/{a['id']}/files?path=/home/user/c.txt",
                        raw=b"via credential", key=tok,
                        headers={"Content-Type": "application/octet-stream"}), 200)
    r = d.req("GET", f"/api/rigs/{a['id']}/files?path=/home/user/c.txt", key=tok)
    assert r.status == 200 and r.body == b"via credential", r
    assert_status(d.req("DELETE", f"/api/rigs/{a['id']}/files?path=/home/user/c.txt",
                        key=tok), 204)


def test_credential_is_404_on_another_rig(rig_api, rigs):
    a, b = rigs
    tok = token_of(rig_api, a["id"])
    d = rig_api.d
    for ref in (b["id"], b["name"], "rig_doesnotexist0000000"):
        assert_error(d.req("GET", f"/api/rigs/{qpath(ref)}", key=tok), 404, "not_found")
        assert_error(d.req("POST", f"/api/rigs/{qpath(ref)}/exec",
                           body={"cmd": ["true"]}, key=tok), 404, "not_found")
        assert_error(d.req("GET", f"/api/rigs/{qpath(ref)}/files?path=/home/user",
                           key=tok), 404, "not_found")


def test_credential_is_403_on_account_endpoints(rig_api, rigs):
    a, _ = rigs
    tok = token_of(rig_api, a["id"])
    d = rig_api.d
    for method, path, body in (
            ("GET", "/api/me", None),
            ("GET", "/api/keys", None),
            ("POST", "/api/keys", {"name": "x", "scopes": [CT]}),
            ("GET", "/api/orgs", None),
            ("POST", "/api/orgs", {"name": uniq("o")}),
            ("GET", "/api/users", None),
            ("GET", "/api/audit", None),
            ("GET", "/api/orgs/default/projects", None),
            ("GET", "/api/orgs/default/members", None),
            ("POST", "/api/auth/logout", None),
            ("GET", "/api/rigs", None),
            ("POST", "/api/rigs", {"name": uniq("x")}),
            # not even on its own rig: no lifecycle, no minting more credentials
            ("POST", f"/api/rigs/{a['id']}/stop", None),
            ("DELETE", f"/api/rigs/{a['id']}", None),
            ("POST", f"/api/rigs/{a['id']}/credentials", {"ttl_s": 900})):
        assert_error(d.req(method, path, body=body, key=tok), 403, "forbidden")
    assert rig_api.state(a["id"]) == "running"


def test_invalid_and_expired_credentials(rig_api, rigs):
    a, _ = rigs
    d = rig_api.d
    tok = token_of(rig_api, a["id"], ttl=1)
    # a tampered token (last character changed) is not a credential
    bad = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    assert_error(d.req("GET", f"/api/rigs/{a['id']}", key=bad), 401, "unauthenticated")
    assert_error(d.req("GET", f"/api/rigs/{a['id']}", key="rc_" + "A" * 100), 401,
                 "unauthenticated")
    time.sleep(2.1)
    assert_error(d.req("GET", f"/api/rigs/{a['id']}", key=tok), 401, "unauthenticated")
    assert_error(d.req("POST", f"/api/rigs/{a['id']}/exec", body={"cmd": ["true"]}, key=tok),
                 401, "unauthenticated")


def test_credential_dies_with_its_rig(rig_api):
    r = rig_api.create(uniq("cred-gone"))
    tok = token_of(rig_api, r["id"])
    assert rig_api.delete(r["id"]).status == 204
    assert_error(rig_api.d.req("GET", f"/api/rigs/{r['id']}", key=tok), 404, "not_found")


def test_mint_and_use_are_audited(rig_api, rigs):
    a, _ = rigs
    d = rig_api.d
    tok = token_of(rig_api, a["id"])
    assert_status(d.req("POST", f"/api/rigs/{a['id']}/exec", body={"cmd": ["true"]},
                        key=tok), 200)
    admin = helpers.Client(d, key=rig_api.key)
    me = admin.me()
    mints = helpers.list_all(admin, "/api/audit?action=credential.mint")
    assert mints and mints[0]["target"] == a["id"], mints[:2]
    assert mints[0]["kind"] == "user" and mints[0]["result"] == "ok", mints[0]
    assert mints[0]["principal"] == me["principal"]["id"]
    execs = helpers.list_all(admin, f"/api/audit?action=rig.exec&rig={a['id']}")
    assert any(e["kind"] == "rig_credential" and e["principal"] == me["principal"]["id"]
               for e in execs), execs[:3]
    for e in helpers.list_all(admin, "/api/audit"):
        assert tok not in repr(e)


def test_restart_invalidates_credentials(rig_daemons):
    api = rig_daemons()
    r = api.create(uniq("cred-rs"))
    tok = token_of(api, r["id"])
    assert_status(api.d.req("GET", f"/api/rigs/{r['id']}", key=tok), 200)
    api.restart()
    assert_error(api.d.req("GET", f"/api/rigs/{r['id']}", key=tok), 401, "unauthenticated")
    tok2 = token_of(api, r["id"])
    assert_status(api.d.req("GET", f"/api/rigs/{r['id']}", key=tok2), 200)


# -- the token is kept nowhere ----------------------------------------------------


def file_contains(path, needle, chunk=1 << 20):
    """True when the file's bytes contain needle; holes of sparse files (rig
    disk images) are skipped."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        off = 0
        while off < size:
            try:
                off = os.lseek(fd, off, os.SEEK_DATA)
                end = os.lseek(fd, off, os.SEEK_HOLE)
            except OSError:
                return False
            tail = b""
            while off < end:
                b = os.pread(fd, min(chunk, end - off), off)
                if not b:
                    break
                if needle in tail + b:
                    return True
                tail = b[-len(needle):]
                off += len(b)
        return False
    finally:
        os.close(fd)


def files_containing(root, needle):
    hits = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and not os.path.islink(p) and file_contains(p, needle):
                hits.append(p)
    return hits


def test_token_is_kept_nowhere(rig_daemons):
    api = rig_daemons()
    r = api.create(uniq("cred-leak"))
    b = assert_status(mint(api, r["id"], {"ttl_s": 600}), 201)
    tok = b["token"]
    d = api.d
    # use it every way it may be used, including failures that get logged
    assert_status(d.req("GET", f"/api/rigs/{r['id']}", key=tok), 200)
    assert_status(d.req("POST", f"/api/rigs/{r['id']}/exec",
                        body={"cmd": ["sh", "-c", "echo x > /home/user/f; sync"]}, key=tok), 200)
    assert_status(d.req("PUT", f"/api/rigs/{r['id']}/files?path=/home/user/g", raw=b"y",
                        key=tok, headers={"Content-Type": "application/octet-stream"}), 200)
    assert_error(d.req("GET", "/api/keys", key=tok), 403, "forbidden")
    assert_error(d.req("GET", f"/api/rigs/{r['id']}/nope?token={tok}", key=tok), 404,
                 "not_found")
    # the terminal, with the token in the query string (which rigd must not log)
    t = Term(d.port, f"/api/rigs/{r['id']}/pty?token={tok}")
    try:
        t.message("session")
        t.send("echo term-$((3+4))\n")
        t.expect(b"term-7")
    finally:
        t.close()
    needle = tok.encode()
    # the rig's own filesystems (tmpfs ones are not on the disk image)
    out = api.root(r["id"], "grep -rlF -f /dev/stdin /home /tmp /root /var /etc /run "
                   "2>/dev/null; true", stdin=tok + "\n")
    assert out["stdout"] == "", out
    api.action(r["id"], "stop")
    hits = files_containing(d.data_dir, needle)
    assert hits == [], f"the token is in {hits}"
    assert tok not in d.log_text()
