"""Users, orgs, projects, members, role scopes and list pagination."""

import pytest

from helpers import (ADMIN_EXTRA_SCOPES, RIG_SCOPES, admin_session,
                     assert_error, assert_status, create_key, create_org,
                     create_project, create_user, list_all, login, now_utc,
                     org_with_session, parse_time, uniq, uniq_email, urlquote)


@pytest.fixture(scope="module")
def org_a(daemon):
    return daemon.admin.me()["org"]


@pytest.fixture(scope="module")
def member(daemon):
    u = create_user(daemon, role="member")
    u["client"] = daemon.as_cookie(login(daemon, u["email"], u["password"]))
    return u


# -- users -------------------------------------------------------------------------

def test_create_user(daemon, org_a):
    email = uniq_email("new")
    t0 = now_utc()
    r = daemon.admin.post("/api/users", {"email": email,
                                         "password": "long-enough-1",
                                         "role": "member", "name": "New Person"})
    u = assert_status(r, 201)
    assert u["id"].startswith("usr_")
    assert u["email"] == email
    assert u["name"] == "New Person"
    assert u["role"] == "member"
    assert abs((parse_time(u["created_at"]) - t0).total_seconds()) < 120
    assert "password" not in u
    listed = {x["id"]: x for x in list_all(daemon.admin, "/api/users")}
    assert listed[u["id"]]["email"] == email
    assert listed[u["id"]]["role"] == "member"
    # The new user can log in and is a member of the admin's org.
    me = daemon.as_cookie(login(daemon, email, "long-enough-1")).me()
    assert me["principal"]["id"] == u["id"]
    assert me["org"]["id"] == org_a["id"]


def test_create_admin_user(daemon):
    u = create_user(daemon, role="admin")
    assert u["role"] == "admin"
    me = daemon.as_cookie(login(daemon, u["email"], u["password"])).me()
    for s in RIG_SCOPES + ADMIN_EXTRA_SCOPES:
        assert s in me["scopes"]


def test_user_without_name_gets_one(daemon):
    u = create_user(daemon)
    assert isinstance(u["name"], str)


def test_duplicate_email_409(daemon):
    u = create_user(daemon)
    r = daemon.admin.post("/api/users", {"email": u["email"],
                                         "password": "long-enough-1",
                                         "role": "member"})
    assert_error(r, 409, "conflict")
    r = daemon.admin.post("/api/users", {"email": u["email"].upper(),
                                         "password": "long-enough-1",
                                         "role": "member"})
    assert_error(r, 409, "conflict")


@pytest.mark.parametrize("role", ["owner", "Admin", "", "superuser"])
def test_bad_role_400(daemon, role):
    r = daemon.admin.post("/api/users", {"email": uniq_email(),
                                         "password": "long-enough-1",
                                         "role": role})
    assert_error(r, 400, "invalid_request")


def test_role_wrong_type_400(daemon):
    r = daemon.admin.post("/api/users", {"email": uniq_email(),
                                         "password": "long-enough-1", "role": 1})
    assert_error(r, 400, "invalid_request")


def test_short_password_400(daemon):
    r = daemon.admin.post("/api/users", {"email": uniq_email(),
                                         "password": "seven77", "role": "member"})
    assert_error(r, 400, "invalid_request")
    # Eight characters are enough.
    r = daemon.admin.post("/api/users", {"email": uniq_email(),
                                         "password": "eight888", "role": "member"})
    assert_status(r, 201)


@pytest.mark.parametrize("email", ["no-at-sign", "two@@example.test",
                                   "a@b@example.test", ""])
def test_bad_email_400(daemon, email):
    r = daemon.admin.post("/api/users", {"email": email,
                                         "password": "long-enough-1",
                                         "role": "member"})
    assert_error(r, 400, "invalid_request")


def test_member_cannot_create_users(daemon, member):
    body = {"email": uniq_email(), "password": "long-enough-1", "role": "member"}
    assert_error(member["client"].post("/api/users", body), 403, "forbidden")
    k = create_key(member["client"], RIG_SCOPES)
    assert_error(daemon.as_key(k["key"]).post("/api/users", body), 403,
                 "forbidden")
    assert_error(member["client"].get("/api/users"), 403, "forbidden")
    # Nothing was created.
    emails = [u["email"] for u in list_all(daemon.admin, "/api/users")]
    assert body["email"] not in emails


# -- orgs ----------------------------------------------------------------------------

def test_create_org(daemon):
    name = uniq("org")
    t0 = now_utc()
    o = assert_status(daemon.admin.post("/api/orgs", {"name": name}), 201)
    assert o["id"].startswith("org_")
    assert o["name"] == name
    assert o["role"] == "admin"
    assert abs((parse_time(o["created_at"]) - t0).total_seconds()) < 120
    # The creator is its admin: a session in it manages it.
    oc = admin_session(daemon, org=name)
    me = oc.me()
    assert me["org"] == {"id": o["id"], "name": name}
    assert "rigs:admin" in me["scopes"]
    projects = list_all(oc, f"/api/orgs/{o['id']}/projects")
    assert [p["name"] for p in projects] == ["default"]
    # Reachable by name too.
    projects = list_all(oc, f"/api/orgs/{name}/projects")
    assert [p["name"] for p in projects] == ["default"]
    # The admin's session lists it among its orgs with role admin.
    orgs = {x["id"]: x for x in list_all(oc, "/api/orgs")}
    assert orgs[o["id"]]["role"] == "admin"


def test_org_by_member_makes_them_admin(daemon, member):
    o = create_org(member["client"])
    orgs = {x["id"]: x for x in list_all(member["client"], "/api/orgs")}
    assert orgs[o["id"]]["role"] == "admin"
    # A session acts in one org at a time: manage the new one from inside.
    oc = daemon.as_cookie(login(daemon, member["email"], member["password"],
                                org=o["name"]))
    members = list_all(oc, f"/api/orgs/{o['id']}/members")
    assert [(m["user"], m["role"]) for m in members] == [(member["id"], "admin")]
    # Still a plain member at home.
    home = [x for x in orgs.values() if x["name"] == "default"]
    assert home and home[0]["role"] == "member"


def test_duplicate_org_name_409(daemon, member):
    o = create_org(daemon.admin)
    assert_error(daemon.admin.post("/api/orgs", {"name": o["name"]}), 409,
                 "conflict")
    # Org names are unique per deployment, not per user.
    assert_error(member["client"].post("/api/orgs", {"name": o["name"]}), 409,
                 "conflict")
    assert_error(daemon.admin.post("/api/orgs", {"name": "default"}), 409,
                 "conflict")


@pytest.mark.parametrize("name", ["Bad_Name", "UPPER", "-lead", "trail-", "",
                                  "a" * 64, "has space", "dots.dots",
                                  "\u00e9t\u00e9"])
def test_invalid_org_name_400(daemon, name):
    assert_error(daemon.admin.post("/api/orgs", {"name": name}), 400,
                 "invalid_request")


def test_org_name_limits_accepted(daemon):
    long_name = ("l" + uniq("x").replace("-", "") + "0" * 63)[:63]
    o = assert_status(daemon.admin.post("/api/orgs", {"name": long_name}), 201)
    assert o["name"] == long_name


@pytest.mark.parametrize("body", [{"name": 5}, {"name": None}, {}, {"name": ["a"]}])
def test_org_body_types_400(daemon, body):
    assert_error(daemon.admin.post("/api/orgs", body), 400, "invalid_request")


# -- projects --------------------------------------------------------------------------

def test_create_project(daemon, org_a):
    name = uniq("prj")
    r = daemon.admin.post(f"/api/orgs/{org_a['id']}/projects", {"name": name})
    p = assert_status(r, 201)
    assert p["id"].startswith("prj_")
    assert p["name"] == name
    assert p["org"] in (org_a["id"], org_a["name"])
    parse_time(p["created_at"])
    names = [x["name"] for x in list_all(daemon.admin,
                                         f"/api/orgs/{org_a['id']}/projects")]
    assert name in names


def test_duplicate_project_409(daemon, org_a):
    p = create_project(daemon.admin, org_a["id"])
    r = daemon.admin.post(f"/api/orgs/{org_a['id']}/projects", {"name": p["name"]})
    assert_error(r, 409, "conflict")
    r = daemon.admin.post(f"/api/orgs/{org_a['name']}/projects", {"name": "default"})
    assert_error(r, 409, "conflict")
    # Same name in another org is fine.
    other, oc = org_with_session(daemon)
    create_project(oc, other["id"], name=p["name"])


@pytest.mark.parametrize("name", ["Bad", "-x", "x-", "", "a" * 64, "a_b"])
def test_invalid_project_name_400(daemon, org_a, name):
    r = daemon.admin.post(f"/api/orgs/{org_a['id']}/projects", {"name": name})
    assert_error(r, 400, "invalid_request")


def test_member_cannot_create_projects_but_lists_them(daemon, org_a, member):
    r = member["client"].post(f"/api/orgs/{org_a['id']}/projects",
                              {"name": uniq("p")})
    assert_error(r, 403, "forbidden")
    names = [p["name"] for p in list_all(member["client"],
                                          f"/api/orgs/{org_a['id']}/projects")]
    assert "default" in names


def test_projects_of_unknown_org_404(daemon):
    assert_error(daemon.admin.get("/api/orgs/no-such-org-abc/projects"), 404,
                 "not_found")
    assert_error(daemon.admin.post("/api/orgs/no-such-org-abc/projects",
                                   {"name": "x"}), 404, "not_found")


# -- members -------------------------------------------------------------------------

def test_members_add_update_remove(daemon):
    org, oc = org_with_session(daemon)
    u = create_user(daemon)
    path = f"/api/orgs/{org['id']}/members"
    r = oc.post(path, {"user": u["email"], "role": "member"})
    m = assert_status(r, 201)
    assert m["user"] == u["id"]
    assert m["email"] == u["email"]
    assert m["org"] in (org["id"], org["name"])
    assert m["role"] == "member"
    listed = {x["user"]: x for x in list_all(oc, path)}
    assert listed[u["id"]]["role"] == "member"
    assert listed[u["id"]]["email"] == u["email"]
    assert "name" in listed[u["id"]]

    # The new member sees the org and may switch into it.
    uc = daemon.as_cookie(login(daemon, u["email"], u["password"]))
    assert org["id"] in [o["id"] for o in list_all(uc, "/api/orgs")]
    assert_status(uc.post("/api/auth/switch", {"org": org["id"]}), 200)

    # Adding again updates the role: 200.
    r = oc.post(path, {"user": u["id"], "role": "admin"})
    m = assert_status(r, 200)
    assert m["role"] == "admin"
    assert {x["user"]: x["role"] for x in list_all(oc, path)}[u["id"]] \
        == "admin"
    assert "rigs:admin" in uc.me()["scopes"]

    # Remove.
    assert_status(oc.delete(f"{path}/{u['id']}"), 204)
    assert u["id"] not in [x["user"] for x in list_all(oc, path)]
    assert_error(oc.delete(f"{path}/{u['id']}"), 404, "not_found")
    assert org["id"] not in [o["id"] for o in list_all(
        daemon.as_cookie(login(daemon, u["email"], u["password"])), "/api/orgs")]


def test_member_add_by_unknown_user_404(daemon):
    org, oc = org_with_session(daemon)
    path = f"/api/orgs/{org['id']}/members"
    assert_error(oc.post(path, {"user": "nobody@example.test",
                                "role": "member"}), 404, "not_found")
    assert_error(oc.post(path, {"user": "usr_doesnotexist",
                                "role": "member"}), 404, "not_found")


def test_member_bad_role_400(daemon):
    org, oc = org_with_session(daemon)
    u = create_user(daemon)
    r = oc.post(f"/api/orgs/{org['id']}/members",
                          {"user": u["id"], "role": "owner"})
    assert_error(r, 400, "invalid_request")


def test_members_need_admin(daemon, org_a, member):
    u = create_user(daemon)
    r = member["client"].post(f"/api/orgs/{org_a['id']}/members",
                              {"user": u["id"], "role": "admin"})
    assert_error(r, 403, "forbidden")
    r = member["client"].delete(f"/api/orgs/{org_a['id']}/members/{u['id']}")
    assert_error(r, 403, "forbidden")
    # But a member may read the member list.
    ids = [m["user"] for m in list_all(member["client"],
                                       f"/api/orgs/{org_a['id']}/members")]
    assert member["id"] in ids and u["id"] in ids


def test_last_admin_cannot_be_removed(daemon, member):
    org, mc = org_with_session(daemon, member["email"], member["password"])
    path = f"/api/orgs/{org['id']}/members"
    r = mc.delete(f"{path}/{member['id']}")
    assert_error(r, 409, "conflict")
    # With a second admin, the first may go.
    other = create_user(daemon)
    assert_status(mc.post(path, {"user": other["email"], "role": "admin"}), 201)
    oc = daemon.as_cookie(login(daemon, other["email"], other["password"],
                                org=org["name"]))
    assert_status(oc.delete(f"{path}/{member['id']}"), 204)
    assert_error(oc.delete(f"{path}/{other['id']}"), 409, "conflict")
    assert [(m["user"], m["role"]) for m in list_all(oc, path)] == \
        [(other["id"], "admin")]


# -- scopes by role ------------------------------------------------------------------

def test_member_scopes_are_exactly_the_rig_scopes(daemon, member):
    assert member["client"].me()["scopes"] == RIG_SCOPES
    k = create_key(member["client"], RIG_SCOPES)
    assert daemon.as_key(k["key"]).me()["scopes"] == RIG_SCOPES


def test_admin_scopes(daemon):
    cookie = login(daemon, daemon.admin_email, daemon.admin_password)
    scopes = daemon.as_cookie(cookie).me()["scopes"]
    for s in RIG_SCOPES + ADMIN_EXTRA_SCOPES:
        assert s in scopes, f"admin session lacks {s}: {scopes}"


def test_demotion_narrows_keys_at_once(daemon):
    org, oc = org_with_session(daemon)
    u = create_user(daemon)
    path = f"/api/orgs/{org['id']}/members"
    assert_status(oc.post(path, {"user": u["id"], "role": "admin"}), 201)
    uc = daemon.as_cookie(login(daemon, u["email"], u["password"], org=org["name"]))
    k = create_key(uc, RIG_SCOPES + ADMIN_EXTRA_SCOPES)
    kc = daemon.as_key(k["key"])
    create_project(kc, org["id"])
    assert_status(oc.post(path, {"user": u["id"], "role": "member"}), 200)
    assert_error(kc.post(f"/api/orgs/{org['id']}/projects", {"name": uniq("p")}),
                 403, "forbidden")
    assert kc.me()["scopes"] == RIG_SCOPES


# -- pagination ------------------------------------------------------------------------

def test_pagination_follows_next(daemon):
    org, oc = org_with_session(daemon)
    made = {"default"}
    for _ in range(7):
        made.add(create_project(oc, org["id"])["name"])
    path = f"/api/orgs/{org['id']}/projects"
    seen, pages, cursor = [], [], None
    for _ in range(10):
        q = f"{path}?limit=3" + (f"&cursor={urlquote(cursor)}" if cursor else "")
        body = assert_status(oc.get(q), 200)
        assert set(body) >= {"items", "next"}
        assert len(body["items"]) <= 3
        pages.append(len(body["items"]))
        seen.extend(p["name"] for p in body["items"])
        cursor = body["next"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
    assert cursor is None, "pagination never ended"
    assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
    assert set(seen) == made, f"gaps: missing {made - set(seen)}"
    assert pages == [3, 3, 2], pages
    # The default page size covers them all, with next null.
    body = assert_status(oc.get(path), 200)
    assert len(body["items"]) == 8 and body["next"] is None


@pytest.mark.parametrize("q", ["limit=0", "limit=501", "limit=-1", "limit=abc",
                               "limit=", "limit=3.5"])
def test_bad_limit_400(daemon, org_a, q):
    r = daemon.admin.get(f"/api/orgs/{org_a['id']}/projects?{q}")
    assert_error(r, 400, "invalid_request")


def test_limit_bounds_accepted(daemon, org_a):
    for n in (1, 500):
        body = assert_status(daemon.admin.get(
            f"/api/orgs/{org_a['id']}/projects?limit={n}"), 200)
        assert len(body["items"]) <= n


@pytest.mark.parametrize("path", ["/api/orgs/{org}/projects", "/api/keys",
                                  "/api/users", "/api/orgs", "/api/audit",
                                  "/api/orgs/{org}/members"])
def test_bad_cursor_400(daemon, org_a, path):
    p = path.format(org=org_a["id"])
    for cur in ("garbage", "%00%01", "!!!"):
        r = daemon.admin.get(f"{p}?cursor={cur}")
        assert_error(r, 400, "invalid_request")
