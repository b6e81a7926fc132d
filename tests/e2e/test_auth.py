"""Authentication: the session cookie and its attributes, Origin checks on
cookie-authenticated unsafe methods, bearer tokens good and bad, revocation
and expiry, /api/me shapes and switching org."""

import secrets
import time

import pytest

from helpers import (RIG_SCOPES, Client, assert_error, assert_status,
                     create_key, create_org, create_user, login, now_utc,
                     parse_time, session_cookie, set_cookies, uniq)


@pytest.fixture(scope="module")
def member(daemon):
    return create_user(daemon, role="member")


def _login_resp(d, email, password, **extra):
    body = {"email": email, "password": password}
    body.update(extra)
    return d.req("POST", "/api/auth/login", body=body)


def _check_me_shape(me):
    assert set(me) >= {"principal", "org", "project", "scopes"}, me
    p = me["principal"]
    assert set(p) == {"id", "kind", "email", "name"}, f"principal keys: {p!r}"
    assert p["id"].startswith("usr_")
    assert p["kind"] == "user"
    assert isinstance(p["name"], str)
    assert set(me["org"]) == {"id", "name"}, f"org keys: {me['org']!r}"
    assert me["org"]["id"].startswith("org_")
    if me["project"] is not None:
        assert set(me["project"]) == {"id", "name"}, me["project"]
        assert me["project"]["id"].startswith("prj_")
    assert isinstance(me["scopes"], list)
    assert me["scopes"] == sorted(me["scopes"]), "scopes are not sorted"
    assert len(set(me["scopes"])) == len(me["scopes"])


# -- login and the cookie -------------------------------------------------------

def test_login_sets_session_cookie_with_attributes(daemon):
    r = _login_resp(daemon, daemon.admin_email, daemon.admin_password)
    body = assert_status(r, 200)
    c = session_cookie(r)
    assert c is not None, f"no rigs_session cookie in {set_cookies(r)}"
    value, attrs = c
    assert len(value) >= 16, f"session token too short: {value!r}"
    assert attrs.get("httponly") is True, attrs
    assert str(attrs.get("samesite", "")).lower() == "lax", attrs
    assert attrs.get("path") == "/", attrs
    assert "secure" not in attrs, "Secure cookie over plain HTTP cannot be sent back"
    # The body is the same as /api/me.
    _check_me_shape(body)
    assert body["principal"]["email"] == daemon.admin_email
    assert body["project"] is None
    me = daemon.as_cookie(value).me()
    assert me["principal"] == body["principal"]
    assert me["org"] == body["org"]


def test_login_tokens_are_fresh(daemon):
    a = login(daemon, daemon.admin_email, daemon.admin_password)
    b = login(daemon, daemon.admin_email, daemon.admin_password)
    assert a != b


def test_wrong_password_401(daemon, member):
    r = _login_resp(daemon, member["email"], "wrong-password-1")
    assert_error(r, 401, "unauthenticated")
    assert session_cookie(r) is None or not session_cookie(r)[0]


def test_unknown_email_401(daemon):
    r = _login_resp(daemon, "nobody-here@example.test", "whatever-password")
    assert_error(r, 401, "unauthenticated")
    assert session_cookie(r) is None or not session_cookie(r)[0]


def test_me_with_cookie(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    me = daemon.as_cookie(cookie).me()
    _check_me_shape(me)
    assert me["principal"]["id"] == member["id"]
    assert me["principal"]["email"] == member["email"]
    assert me["project"] is None
    assert me["scopes"] == RIG_SCOPES


def test_garbage_cookie_401(daemon):
    r = daemon.req("GET", "/api/me", cookie="garbage" + secrets.token_hex(16))
    assert_error(r, 401, "unauthenticated")


def test_logout_kills_the_session(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    c = daemon.as_cookie(cookie)
    c.me()
    r = c.post("/api/auth/logout")
    assert_status(r, 204)
    # The cookie is cleared in the browser too.
    cleared = session_cookie(r)
    assert cleared is not None, "logout did not clear the cookie"
    value, attrs = cleared
    assert value == "" or attrs.get("max-age") == "0" or "expires" in attrs, \
        f"logout cookie does not expire: {set_cookies(r)}"
    assert_error(c.get("/api/me"), 401, "unauthenticated")


def test_logout_with_bearer_is_noop_204(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    kc = daemon.as_key(k["key"])
    assert_status(kc.post("/api/auth/logout"), 204)
    kc.me()


# -- Origin checks ----------------------------------------------------------------

def test_cookie_post_without_origin_403(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    r = daemon.req("POST", "/api/keys", cookie=cookie,
                   body={"name": uniq("k"), "scopes": ["rigs:instances:read"]})
    assert_error(r, 403, "forbidden")
    r = daemon.req("POST", "/api/orgs", cookie=cookie, body={"name": uniq("o")})
    assert_error(r, 403, "forbidden")
    # Logout without Origin is refused too, and the session lives on.
    r = daemon.req("POST", "/api/auth/logout", cookie=cookie)
    assert_error(r, 403, "forbidden")
    daemon.as_cookie(cookie).me()


def test_cookie_delete_without_origin_403(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    k = create_key(daemon.as_cookie(cookie), ["rigs:instances:read"])
    r = daemon.req("DELETE", f"/api/keys/{k['id']}", cookie=cookie)
    assert_error(r, 403, "forbidden")
    daemon.as_key(k["key"]).me()  # not revoked


@pytest.mark.parametrize("origin", [
    "http://evil.example",
    "https://127.0.0.1:{port}",
    "http://127.0.0.1:{other}",
    "http://localhost:{port}",
    "http://127.0.0.1",
    "null",
    "",
])
def test_cookie_post_with_wrong_origin_403(daemon, member, origin):
    cookie = login(daemon, member["email"], member["password"])
    o = origin.format(port=daemon.port, other=daemon.port + 1)
    r = daemon.req("POST", "/api/keys", cookie=cookie, headers={"Origin": o},
                   body={"name": uniq("k"), "scopes": ["rigs:instances:read"]})
    assert_error(r, 403, "forbidden")


def test_cookie_post_with_own_origin_ok(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    r = daemon.req("POST", "/api/keys", cookie=cookie,
                   headers={"Origin": f"http://127.0.0.1:{daemon.port}"},
                   body={"name": uniq("k"), "scopes": ["rigs:instances:read"]})
    assert_status(r, 201)


def test_origin_follows_the_host_header(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    host = f"localhost:{daemon.port}"
    r = daemon.req("POST", "/api/keys", cookie=cookie,
                   headers={"Host": host, "Origin": f"http://{host}"},
                   body={"name": uniq("k"), "scopes": ["rigs:instances:read"]})
    assert_status(r, 201)
    r = daemon.req("POST", "/api/keys", cookie=cookie,
                   headers={"Host": host,
                            "Origin": f"http://127.0.0.1:{daemon.port}"},
                   body={"name": uniq("k"), "scopes": ["rigs:instances:read"]})
    assert_error(r, 403, "forbidden")


def test_allowed_origin_flag(rigd_factory):
    d = rigd_factory(["--allowed-origin", "https://ui.example"])
    cookie = login(d, d.admin_email, d.admin_password)
    body = {"name": uniq("k"), "scopes": ["rigs:instances:read"]}
    r = d.req("POST", "/api/keys", cookie=cookie, body=body,
              headers={"Origin": "https://ui.example"})
    assert_status(r, 201)
    r = d.req("POST", "/api/keys", cookie=cookie, body=body,
              headers={"Origin": "https://other.example"})
    assert_error(r, 403, "forbidden")
    r = d.req("POST", "/api/keys", cookie=cookie, body=body,
              headers={"Origin": "http://ui.example"})
    assert_error(r, 403, "forbidden")
    # The API's own origin still works.
    r = d.req("POST", "/api/keys", cookie=cookie, body=dict(body, name=uniq("k")),
              headers={"Origin": d.origin})
    assert_status(r, 201)


def test_bearer_needs_no_origin(daemon):
    me = daemon.admin.me()
    org = me["org"]["id"]
    r = daemon.req("POST", f"/api/orgs/{org}/projects", key=daemon.admin_key,
                   body={"name": uniq("p")})
    assert_status(r, 201)
    # Nor is a foreign Origin held against it.
    r = daemon.req("POST", f"/api/orgs/{org}/projects", key=daemon.admin_key,
                   body={"name": uniq("p")},
                   headers={"Origin": "http://evil.example"})
    assert_status(r, 201)


def test_cookie_get_needs_no_origin(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    r = daemon.req("GET", "/api/me", cookie=cookie)
    assert_status(r, 200)
    r = daemon.req("GET", "/api/keys", cookie=cookie)
    assert_status(r, 200)


# -- bearer tokens ----------------------------------------------------------------

@pytest.mark.parametrize("auth", [
    "Bearer xyz",
    "Bearer rb_" + "!" * 32,
    "Bearer rb_" + "-" * 32,
    "Bearer rb_" + "a" * 31,
    "Bearer rb_" + "a" * 33,
    "Bearer rb_",
    "Bearer ",
    "Bearer",
    "Basic YWRtaW5AbG9jYWxob3N0OmFkbWluLXBhc3N3b3JkLTE=",
    "",
    "bearer",
    "Token rb_" + "a" * 32,
])
def test_garbage_tokens_401(daemon, auth):
    r = daemon.req("GET", "/api/me", headers={"Authorization": auth})
    assert_error(r, 401, "unauthenticated")


def test_unknown_well_formed_key_401(daemon):
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    fake = "rb_" + "".join(secrets.choice(alphabet) for _ in range(32))
    assert_error(daemon.req("GET", "/api/me", key=fake), 401, "unauthenticated")


def test_no_credentials_401(daemon):
    for method, path in [("GET", "/api/me"), ("GET", "/api/keys"),
                         ("GET", "/api/orgs"), ("POST", "/api/orgs"),
                         ("POST", "/api/keys")]:
        r = daemon.req(method, path, body={} if method == "POST" else None)
        assert_error(r, 401, "unauthenticated")


def test_key_with_admin_key_suffix_tampered_401(daemon):
    k = daemon.admin_key
    last = "A" if k[-1] != "A" else "B"
    assert_error(daemon.req("GET", "/api/me", key=k[:-1] + last), 401,
                 "unauthenticated")
    assert_error(daemon.req("GET", "/api/me", key=k.lower() if k != k.lower()
                            else k.upper()), 401, "unauthenticated")


def test_revoked_key_401_on_next_request(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    kc = daemon.as_key(k["key"])
    kc.me()
    assert_status(daemon.admin.delete(f"/api/keys/{k['id']}"), 204)
    assert_error(kc.get("/api/me"), 401, "unauthenticated")


def test_expired_key_401(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"], expires_in_s=1)
    exp = parse_time(k["expires_at"])
    delta = (exp - now_utc()).total_seconds()
    assert -5 < delta < 10, f"expires_at {k['expires_at']} is not ~1 s from now"
    kc = daemon.as_key(k["key"])
    # An expiring key works until it expires (checked on a longer-lived one:
    # a 1 s key may already be gone by the time a slow machine asks).
    longer = create_key(daemon.admin, ["rigs:instances:read"], expires_in_s=60)
    assert_status(daemon.as_key(longer["key"]).get("/api/me"), 200)
    time.sleep(2.5)
    assert_error(kc.get("/api/me"), 401, "unauthenticated")
    assert_status(daemon.as_key(longer["key"]).get("/api/me"), 200)


# -- /api/me shapes ------------------------------------------------------------------

def test_me_shape_admin_key(daemon):
    me = daemon.admin.me()
    _check_me_shape(me)
    assert me["principal"]["email"] == daemon.admin_email
    assert me["org"]["name"] == "default"
    for s in RIG_SCOPES + ["rigs:admin", "rigs:keys:manage"]:
        assert s in me["scopes"], f"admin key lacks {s}: {me['scopes']}"


def test_me_shape_scoped_key(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    me = daemon.as_key(k["key"]).me()
    _check_me_shape(me)
    assert me["scopes"] == ["rigs:instances:read"]
    assert me["project"] is None


def test_me_shape_project_bound_key(daemon):
    me = daemon.admin.me()
    k = create_key(daemon.admin, ["rigs:instances:read"], project="default")
    kme = daemon.as_key(k["key"]).me()
    _check_me_shape(kme)
    assert kme["project"] is not None
    assert kme["project"]["name"] == "default"
    assert kme["org"] == me["org"]


# -- switching org ------------------------------------------------------------------

def test_switch_org(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    c = daemon.as_cookie(cookie)
    home = c.me()["org"]
    other = create_org(c)
    assert c.me()["org"] == home, "creating an org switched the session"

    body = assert_status(c.post("/api/auth/switch", {"org": other["name"]}), 200)
    _check_me_shape(body)
    assert body["org"] == {"id": other["id"], "name": other["name"]}
    me = c.me()
    assert me["org"]["id"] == other["id"]
    # Admin of the new org: the admin scopes now.
    assert "rigs:admin" in me["scopes"] and "rigs:keys:manage" in me["scopes"]

    # Back by id.
    body = assert_status(c.post("/api/auth/switch", {"org": home["id"]}), 200)
    assert body["org"]["id"] == home["id"]
    assert c.me()["scopes"] == RIG_SCOPES

    # Login can name the org.
    cookie2 = login(daemon, member["email"], member["password"], org=other["name"])
    assert daemon.as_cookie(cookie2).me()["org"]["id"] == other["id"]


def test_switch_to_foreign_org_404(daemon, member):
    admin_cookie = login(daemon, daemon.admin_email, daemon.admin_password)
    mine = create_org(daemon.as_cookie(login(daemon, member["email"],
                                             member["password"])))
    c = daemon.as_cookie(admin_cookie)
    assert_error(c.post("/api/auth/switch", {"org": mine["id"]}), 404, "not_found")
    assert_error(c.post("/api/auth/switch", {"org": mine["name"]}), 404,
                 "not_found")
    assert_error(c.post("/api/auth/switch", {"org": "no-such-org-xyz"}), 404,
                 "not_found")
    assert c.me()["org"]["name"] == "default"


def test_switch_needs_origin(daemon, member):
    cookie = login(daemon, member["email"], member["password"])
    r = daemon.req("POST", "/api/auth/switch", cookie=cookie,
                   body={"org": "default"})
    assert_error(r, 403, "forbidden")


def test_sessions_are_independent(daemon, member):
    a = login(daemon, member["email"], member["password"])
    b = login(daemon, member["email"], member["password"])
    assert_status(Client(daemon, cookie=a).post("/api/auth/logout"), 204)
    assert_error(daemon.req("GET", "/api/me", cookie=a), 401, "unauthenticated")
    assert_status(daemon.req("GET", "/api/me", cookie=b), 200)
