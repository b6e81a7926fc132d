"""Tenancy: two orgs on one daemon. Org A is `default` (the init admin); org
B is created through POST /api/orgs by another user. Every attempt from A on
B's objects answers 404 `not_found` (never 403: B's objects must not be seen
to exist), and no list of A's shows B's objects."""

import json

import pytest

from helpers import (ADMIN_EXTRA_SCOPES, RIG_SCOPES, Client, assert_error,
                     create_key, create_org, create_project,
                     create_user, list_all, login, uniq)


@pytest.fixture(scope="module")
def world(daemon):
    d = daemon
    a_me = d.admin.me()
    org_a = a_me["org"]
    a_session = d.as_cookie(login(d, d.admin_email, d.admin_password))
    a_member = create_user(d, role="member")
    a_member_key = create_key(d.as_cookie(login(d, a_member["email"],
                                                a_member["password"])),
                              RIG_SCOPES)

    # User B is created in A (only an org admin creates users), then makes
    # org B and works there from now on.
    user_b = create_user(d, role="member")
    b_home = d.as_cookie(login(d, user_b["email"], user_b["password"]))
    org_b = create_org(b_home)
    b_session = d.as_cookie(login(d, user_b["email"], user_b["password"],
                                  org=org_b["name"]))
    assert b_session.me()["org"]["id"] == org_b["id"]
    key_b = create_key(b_session, RIG_SCOPES + ADMIN_EXTRA_SCOPES)
    b = d.as_key(key_b["key"])
    assert b.me()["org"]["id"] == org_b["id"]
    prj_b = create_project(b, org_b["id"])
    user_c = create_user(d, client=b, role="member")
    c_session = d.as_cookie(login(d, user_c["email"], user_c["password"]))
    assert c_session.me()["org"]["id"] == org_b["id"]
    key_c = create_key(c_session, ["rigs:instances:read"])

    b_ids = {"org B": org_b["id"], "project B": prj_b["id"],
             "key B": key_b["id"], "key C": key_c["id"], "user C": user_c["id"]}

    # A's views, taken before any attack (a refused attempt from A may be
    # audited in A with B's id as the target A itself supplied).
    views = {
        "orgs": list_all(d.admin, "/api/orgs"),
        "keys": list_all(d.admin, "/api/keys"),
        "users": list_all(d.admin, "/api/users"),
        "audit": list_all(d.admin, "/api/audit"),
        "members": list_all(d.admin, f"/api/orgs/{org_a['id']}/members"),
    }
    return {
        "org_a": org_a, "a_me": a_me, "a_session": a_session,
        "a_member": a_member, "a_member_key": a_member_key,
        "user_b": user_b, "org_b": org_b, "b_session": b_session,
        "key_b": key_b, "b": b, "prj_b": prj_b, "user_c": user_c,
        "key_c": key_c, "b_ids": b_ids, "views": views,
    }


def test_a_lists_never_show_b(world):
    v = world["views"]
    ids = world["b_ids"]
    org_ids = [o["id"] for o in v["orgs"]]
    assert world["org_a"]["id"] in org_ids
    assert ids["org B"] not in org_ids
    key_ids = [k["id"] for k in v["keys"]]
    assert ids["key B"] not in key_ids and ids["key C"] not in key_ids
    user_ids = [u["id"] for u in v["users"]]
    assert ids["user C"] not in user_ids, "GET /api/users shows org B's user"
    assert world["a_me"]["principal"]["id"] in user_ids
    assert world["user_b"]["id"] in user_ids  # B is also a member of A
    assert world["a_member"]["id"] in user_ids
    member_ids = [m["user"] for m in v["members"]]
    assert ids["user C"] not in member_ids
    assert v["audit"], "A's audit log is empty"
    for e in v["audit"]:
        assert e["org"] != ids["org B"], f"A's audit shows an entry of B: {e}"
    text = json.dumps(v["audit"])
    for what, i in ids.items():
        assert i not in text, f"A's audit mentions {what} ({i})"


def test_a_lists_still_clean_later(daemon, world):
    ids = world["b_ids"]
    for path in ("/api/orgs", "/api/keys", "/api/users"):
        text = json.dumps(list_all(daemon.admin, path))
        for what, i in ids.items():
            assert i not in text, f"GET {path} of A shows {what}"
    text = json.dumps(list_all(world["a_session"], "/api/orgs"))
    assert ids["org B"] not in text


def test_b_sees_its_own(daemon, world):
    b = world["b"]
    users = [u["id"] for u in list_all(b, "/api/users")]
    assert world["user_c"]["id"] in users and world["user_b"]["id"] in users
    assert world["a_me"]["principal"]["id"] not in users
    assert world["a_member"]["id"] not in users
    # A key sees only its own org (docs/design.md, GET /api/orgs).
    orgs = [o["id"] for o in list_all(b, "/api/orgs")]
    assert orgs == [world["org_b"]["id"]]
    # B's session sees both orgs it belongs to.
    orgs = [o["id"] for o in list_all(world["b_session"], "/api/orgs")]
    assert set(orgs) == {world["org_a"]["id"], world["org_b"]["id"]}
    keys = [k["id"] for k in list_all(b, "/api/keys")]
    assert world["key_b"]["id"] in keys and world["key_c"]["id"] in keys
    audit = list_all(b, "/api/audit")
    assert audit and all(e["org"] == world["org_b"]["id"] for e in audit)


def _attackers(daemon, world):
    return {
        "A admin key": daemon.admin,
        "A admin session": world["a_session"],
        "A member key": daemon.as_key(world["a_member_key"]["key"]),
    }


ATTACKS = [
    ("GET", "/api/orgs/{org_b}/projects", None),
    ("GET", "/api/orgs/{org_b_name}/projects", None),
    ("POST", "/api/orgs/{org_b}/projects", {"name": "stolen"}),
    ("POST", "/api/orgs/{org_b_name}/projects", {"name": "stolen"}),
    ("GET", "/api/orgs/{org_b}/members", None),
    ("GET", "/api/orgs/{org_b_name}/members", None),
    ("POST", "/api/orgs/{org_b}/members", {"user": "{me}", "role": "admin"}),
    ("POST", "/api/orgs/{org_b}/members", {"user": "{user_c}", "role": "admin"}),
    ("DELETE", "/api/orgs/{org_b}/members/{user_c}", None),
    ("DELETE", "/api/orgs/{org_b}/members/{user_b}", None),
    ("DELETE", "/api/keys/{key_b}", None),
    ("DELETE", "/api/keys/{key_c}", None),
    ("POST", "/api/keys/{key_b}/rotate", None),
    ("POST", "/api/keys/{key_c}/rotate", None),
    ("POST", "/api/keys", {"name": "stolen", "scopes": ["rigs:instances:read"],
                           "org": "{org_b}"}),
    ("POST", "/api/keys", {"name": "stolen", "scopes": ["rigs:instances:read"],
                           "project": "{prj_b}"}),
]


def _fill(obj, subst):
    if isinstance(obj, str):
        return obj.format(**subst)
    if isinstance(obj, dict):
        return {k: _fill(v, subst) for k, v in obj.items()}
    return obj


# A key without rigs:keys:manage may not create keys at all (403 whatever
# the target), so POST /api/keys is an attack only for the admin's
# credentials.
CASES = [(who, m, p, b)
         for who in ("A admin key", "A admin session", "A member key")
         for m, p, b in ATTACKS
         if not (who == "A member key" and m == "POST" and p == "/api/keys")]


@pytest.mark.parametrize("who,method,path,body", CASES,
                         ids=[f"{w}: {m} {p} {sorted((b or {}).items())}"
                              for w, m, p, b in CASES])
def test_cross_tenant_is_404(daemon, world, who, method, path, body):
    client = _attackers(daemon, world)[who]
    me = client.me()["principal"]["id"]
    subst = {"org_b": world["org_b"]["id"], "org_b_name": world["org_b"]["name"],
             "user_c": world["user_c"]["id"], "user_b": world["user_b"]["id"],
             "key_b": world["key_b"]["id"], "key_c": world["key_c"]["id"],
             "prj_b": world["prj_b"]["id"], "me": me}
    r = client.req(method, _fill(path, subst), body=_fill(body, subst))
    # A non-member gets 404 before any scope check (docs/design.md), so
    # even a credential without the verb's scope gets 404 here.
    assert r.status != 403, f"{method} {path} by {who} answered 403: B is revealed"
    assert_error(r, 404, "not_found")


def test_b_is_intact_after_attacks(daemon, world):
    # Run the attacks once more here so the check does not depend on order.
    for who, client in _attackers(daemon, world).items():
        for method, path, body in ATTACKS:
            subst = {"org_b": world["org_b"]["id"],
                     "org_b_name": world["org_b"]["name"],
                     "user_c": world["user_c"]["id"],
                     "user_b": world["user_b"]["id"],
                     "key_b": world["key_b"]["id"],
                     "key_c": world["key_c"]["id"],
                     "prj_b": world["prj_b"]["id"],
                     "me": client.me()["principal"]["id"]}
            client.req(method, _fill(path, subst), body=_fill(body, subst))
    b = world["b"]
    assert b.me()["org"]["id"] == world["org_b"]["id"]
    daemon.as_key(world["key_c"]["key"]).me()
    members = {m["user"]: m["role"]
               for m in list_all(b, f"/api/orgs/{world['org_b']['id']}/members")}
    assert members == {world["user_b"]["id"]: "admin",
                       world["user_c"]["id"]: "member"}
    names = [p["name"] for p in
             list_all(b, f"/api/orgs/{world['org_b']['id']}/projects")]
    assert sorted(names) == sorted(["default", world["prj_b"]["name"]])
    keys = [k["id"] for k in list_all(b, "/api/keys")]
    assert world["key_b"]["id"] in keys and world["key_c"]["id"] in keys


def test_switch_into_foreign_org_404(daemon, world):
    c = world["a_session"]
    r = c.post("/api/auth/switch", {"org": world["org_b"]["id"]})
    assert_error(r, 404, "not_found")
    assert c.me()["org"]["id"] == world["org_a"]["id"]


def test_login_into_foreign_org_refused(daemon, world):
    r = daemon.req("POST", "/api/auth/login",
                   body={"email": daemon.admin_email,
                         "password": daemon.admin_password,
                         "org": world["org_b"]["name"]})
    assert r.status in (401, 404), r
    assert_error(r, r.status, "unauthenticated" if r.status == 401
                 else "not_found")


def test_unknown_org_same_answer_as_foreign(daemon, world):
    a = daemon.admin
    r1 = a.get(f"/api/orgs/{world['org_b']['id']}/projects")
    r2 = a.get("/api/orgs/org_doesnotexist000/projects")
    assert_error(r1, 404, "not_found")
    assert_error(r2, 404, "not_found")


def test_b_cannot_reach_a_either(daemon, world):
    b = world["b"]
    org_a = world["org_a"]["id"]
    # User B is a plain member of A: under /api/orgs/{A} its key acts with
    # B's member role there (docs/design.md, scopes), so it reads but cannot
    # administer; a project-bound key of B never leaves org B.
    names = [p["name"] for p in list_all(b, f"/api/orgs/{org_a}/projects")]
    assert "default" in names
    assert_error(b.post(f"/api/orgs/{org_a}/projects", {"name": uniq("x")}),
                 403, "forbidden")
    bound = create_key(world["b_session"], ["rigs:instances:read"],
                       project="default")
    bc = daemon.as_key(bound["key"])
    assert_error(bc.get(f"/api/orgs/{org_a}/projects"), 404, "not_found")
    assert_error(bc.get(f"/api/orgs/{org_a}/members"), 404, "not_found")
    assert_error(b.delete(f"/api/keys/{world['a_member_key']['id']}"), 404,
                 "not_found")
    daemon.as_key(world["a_member_key"]["key"]).me()
    text = json.dumps(list_all(b, "/api/keys"))
    assert world["a_member_key"]["id"] not in text


def test_member_of_both_orgs_acts_per_org(daemon, world):
    """User B is a member (not admin) in A and the admin of B: its session
    in A has no admin rights there."""
    home = Client(daemon, cookie=login(daemon, world["user_b"]["email"],
                                       world["user_b"]["password"],
                                       org=world["org_a"]["name"]))
    me = home.me()
    assert me["org"]["id"] == world["org_a"]["id"]
    assert me["scopes"] == RIG_SCOPES
    r = home.post(f"/api/orgs/{world['org_a']['id']}/projects", {"name": uniq("p")})
    assert_error(r, 403, "forbidden")
