"""API keys: shape, secrecy (never listed, never stored or logged in
clear), scope ceilings, project binding, rotation, revocation, expiry."""

import pytest

from helpers import (KEY_RE, RIG_SCOPES, assert_error, assert_status,
                     create_key, create_project, create_user, login, now_utc,
                     parse_time, sqlite_files, uniq)


@pytest.fixture(scope="module")
def world(daemon):
    admin_me = daemon.admin.me()
    org = admin_me["org"]
    member = create_user(daemon, role="member")
    member_cookie = login(daemon, member["email"], member["password"])
    p2 = create_project(daemon.admin, org["id"])
    return {"org": org, "admin_me": admin_me, "member": member,
            "member_c": daemon.as_cookie(member_cookie), "p2": p2}


def test_create_key_shape(daemon, world):
    t0 = now_utc()
    name = uniq("shape")
    r = daemon.admin.post("/api/keys", {"name": name,
                                        "scopes": ["rigs:instances:read"]})
    k = assert_status(r, 201)
    assert KEY_RE.match(k["key"]), k["key"]
    assert k["id"].startswith("key_")
    assert k["name"] == name
    assert k["scopes"] == ["rigs:instances:read"]
    assert k["org"] in (world["org"]["id"], world["org"]["name"])
    assert k["project"] is None
    assert k["expires_at"] is None
    created = parse_time(k["created_at"])
    assert abs((created - t0).total_seconds()) < 120
    # And it works.
    me = daemon.as_key(k["key"]).me()
    assert me["principal"]["id"] == world["admin_me"]["principal"]["id"]
    assert me["scopes"] == ["rigs:instances:read"]


def test_keys_are_distinct(daemon):
    a = create_key(daemon.admin, ["rigs:instances:read"])
    b = create_key(daemon.admin, ["rigs:instances:read"])
    assert a["key"] != b["key"] and a["id"] != b["id"]


def test_expires_at_is_rfc3339(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"], expires_in_s=3600)
    exp = parse_time(k["expires_at"])
    delta = (exp - now_utc()).total_seconds()
    assert 3600 - 120 < delta < 3600 + 120, k["expires_at"]


def test_key_never_listed(daemon, world):
    k = create_key(daemon.admin, ["rigs:instances:read", "rigs:instances:create"])
    r = daemon.admin.get("/api/keys?limit=500")
    body = assert_status(r, 200)
    raw = repr(body)
    assert k["key"] not in raw and k["key"][3:] not in raw, "key listed in clear"
    items = {i["id"]: i for i in body["items"]}
    assert k["id"] in items, "new key not listed"
    item = items[k["id"]]
    assert "key" not in item
    assert set(item) >= {"id", "name", "prefix", "scopes", "org", "project",
                         "expires_at", "created_at", "last_used_at",
                         "created_by"}, item
    assert k["key"].startswith(item["prefix"]) and len(item["prefix"]) < 16, \
        f"prefix {item['prefix']!r} reveals too much or is not a prefix"
    assert sorted(item["scopes"]) == sorted(k["scopes"])
    assert item["created_by"] == world["admin_me"]["principal"]["id"]


def test_key_not_stored_or_logged_in_clear(daemon, world):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    kc = daemon.as_key(k["key"])
    kc.me()  # used once: last_used_at written, log lines written
    rot = assert_status(daemon.admin.post(f"/api/keys/{k['id']}/rotate"), 200)
    daemon.as_key(rot["key"]).me()
    cookie = login(daemon, world["member"]["email"], world["member"]["password"])
    daemon.as_cookie(cookie).me()

    files = sqlite_files(daemon.data_dir)
    assert files, "no SQLite files found in the data dir"
    blob = b"".join(p.read_bytes() for p in files)
    secrets_ = {
        "new key": k["key"], "rotated key": rot["key"],
        "init key": daemon.admin_key,
        "session token": cookie,
        "admin password": daemon.admin_password,
        "member password": world["member"]["password"],
    }
    for what, s in secrets_.items():
        assert s.encode() not in blob, f"{what} stored in clear in the database"
    for what in ("new key", "rotated key", "init key"):
        assert secrets_[what][3:].encode() not in blob, \
            f"{what} (without prefix) stored in clear"
    log = daemon.log_text()
    for what, s in secrets_.items():
        assert s not in log, f"{what} appears in rigd's log"


def test_scopes_beyond_member_role_403(daemon, world):
    mc = world["member_c"]
    for scopes in (["rigs:admin"], ["rigs:keys:manage"],
                   ["rigs:instances:read", "rigs:admin"]):
        r = mc.post("/api/keys", {"name": uniq("k"), "scopes": scopes})
        assert_error(r, 403, "forbidden")
    # Within the member's scopes is fine.
    k = create_key(mc, RIG_SCOPES)
    assert sorted(k["scopes"]) == RIG_SCOPES


def test_key_without_keys_manage_cannot_create_keys(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    r = daemon.as_key(k["key"]).post(
        "/api/keys", {"name": uniq("k"), "scopes": ["rigs:instances:read"]})
    assert_error(r, 403, "forbidden")


def test_key_cannot_mint_wider_key(daemon):
    k = create_key(daemon.admin, ["rigs:keys:manage", "rigs:instances:read"])
    kc = daemon.as_key(k["key"])
    # Within its own scopes: fine.
    create_key(kc, ["rigs:instances:read"])
    for scopes in (["rigs:instances:create"], ["rigs:admin"],
                   ["rigs:instances:read", "rigs:instances:control"]):
        r = kc.post("/api/keys", {"name": uniq("k"), "scopes": scopes})
        assert_error(r, 403, "forbidden")


@pytest.mark.parametrize("scopes", [
    ["rigs:everything"],
    ["rigs:instances:read", "rigs:instances:nuke"],
    ["RIGS:INSTANCES:READ"],
    [""],
])
def test_unknown_scope_400(daemon, scopes):
    r = daemon.admin.post("/api/keys", {"name": uniq("k"), "scopes": scopes})
    assert_error(r, 400, "invalid_request")


@pytest.mark.parametrize("body", [
    {"name": "x", "scopes": "rigs:instances:read"},
    {"name": "x", "scopes": [5]},
    {"name": 5, "scopes": ["rigs:instances:read"]},
    {"name": "x", "scopes": ["rigs:instances:read"], "expires_in_s": "soon"},
    {"name": "x", "scopes": ["rigs:instances:read"], "project": 7},
])
def test_key_body_wrong_types_400(daemon, body):
    assert_error(daemon.admin.post("/api/keys", body), 400, "invalid_request")


def test_read_only_key_cannot_create_project(daemon, world):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    r = daemon.as_key(k["key"]).post(f"/api/orgs/{world['org']['id']}/projects",
                                     {"name": uniq("p")})
    assert_error(r, 403, "forbidden")


def test_project_bound_key(daemon, world):
    org = world["org"]["id"]
    p2 = world["p2"]
    bound = create_key(daemon.admin, ["rigs:instances:read", "rigs:keys:manage"],
                       project="default")
    assert bound["project"] is not None
    bc = daemon.as_key(bound["key"])
    me = bc.me()
    assert me["project"]["name"] == "default"

    # Lists only its project.
    projects = assert_status(bc.get(f"/api/orgs/{org}/projects"), 200)["items"]
    assert [p["name"] for p in projects] == ["default"]

    # Creating a key in another project: 404 for that project.
    r = bc.post("/api/keys", {"name": uniq("k"), "scopes": ["rigs:instances:read"],
                              "project": p2["id"]})
    assert_error(r, 404, "not_found")
    r = bc.post("/api/keys", {"name": uniq("k"), "scopes": ["rigs:instances:read"],
                              "project": p2["name"]})
    assert_error(r, 404, "not_found")
    # In its own project: fine.
    own = create_key(bc, ["rigs:instances:read"], project="default")
    assert own["project"] is not None

    # Another project's key (made by another user) is not there for it.
    mk = create_key(world["member_c"], ["rigs:instances:read"],
                    project=p2["name"])
    assert_error(bc.delete(f"/api/keys/{mk['id']}"), 404, "not_found")
    assert_error(bc.post(f"/api/keys/{mk['id']}/rotate"), 404, "not_found")
    daemon.as_key(mk["key"]).me()  # still alive
    listed = assert_status(bc.get("/api/keys?limit=500"), 200)["items"]
    assert mk["id"] not in [i["id"] for i in listed]


def test_key_for_unknown_project_404(daemon):
    r = daemon.admin.post("/api/keys", {"name": uniq("k"),
                                        "scopes": ["rigs:instances:read"],
                                        "project": "no-such-project"})
    assert_error(r, 404, "not_found")


def test_project_bound_key_cannot_create_org(daemon):
    k = create_key(daemon.admin, RIG_SCOPES + ["rigs:admin", "rigs:keys:manage"],
                   project="default")
    r = daemon.as_key(k["key"]).post("/api/orgs", {"name": uniq("o")})
    assert_error(r, 403, "forbidden")


def test_rotate(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"], name=uniq("rot"))
    old = daemon.as_key(k["key"])
    old.me()
    r = daemon.admin.post(f"/api/keys/{k['id']}/rotate")
    rot = assert_status(r, 200)
    assert rot["id"] == k["id"]
    assert KEY_RE.match(rot["key"]) and rot["key"] != k["key"]
    assert rot["name"] == k["name"]
    assert rot["scopes"] == k["scopes"]
    new = daemon.as_key(rot["key"])
    assert new.me()["scopes"] == ["rigs:instances:read"]
    assert_error(old.get("/api/me"), 401, "unauthenticated")
    # The listing still has one key with that id.
    items = assert_status(daemon.admin.get("/api/keys?limit=500"), 200)["items"]
    assert [i["id"] for i in items].count(k["id"]) == 1


def test_revoke(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    kc = daemon.as_key(k["key"])
    kc.me()
    assert_status(daemon.admin.delete(f"/api/keys/{k['id']}"), 204)
    assert_error(kc.get("/api/me"), 401, "unauthenticated")
    assert_error(kc.get("/api/keys"), 401, "unauthenticated")
    # Rotating a revoked key does not bring it back.
    r = daemon.admin.post(f"/api/keys/{k['id']}/rotate")
    if r.status == 409:
        assert_error(r, 409, "conflict")
    else:
        assert_error(r, 404, "not_found")
    assert_error(kc.get("/api/me"), 401, "unauthenticated")


def test_key_can_revoke_itself(daemon):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    kc = daemon.as_key(k["key"])
    assert_status(kc.delete(f"/api/keys/{k['id']}"), 204)
    assert_error(kc.get("/api/me"), 401, "unauthenticated")


def test_unknown_key_id_404(daemon):
    assert_error(daemon.admin.delete("/api/keys/key_doesnotexist"), 404,
                 "not_found")
    assert_error(daemon.admin.post("/api/keys/key_doesnotexist/rotate"), 404,
                 "not_found")


def test_member_sees_own_keys_admin_sees_all(daemon, world):
    mk = create_key(world["member_c"], ["rigs:instances:read"])
    ak = create_key(daemon.admin, ["rigs:instances:read"])
    mine = assert_status(world["member_c"].get("/api/keys?limit=500"), 200)["items"]
    ids = [i["id"] for i in mine]
    assert mk["id"] in ids
    assert ak["id"] not in ids, "a member sees the admin's keys"
    assert all(i["created_by"] == world["member"]["id"] for i in mine)
    everything = assert_status(daemon.admin.get("/api/keys?limit=500"),
                               200)["items"]
    ids = [i["id"] for i in everything]
    assert mk["id"] in ids and ak["id"] in ids


def test_admin_revokes_members_key(daemon, world):
    mk = create_key(world["member_c"], ["rigs:instances:read"])
    assert_status(daemon.admin.delete(f"/api/keys/{mk['id']}"), 204)
    assert_error(daemon.as_key(mk["key"]).get("/api/me"), 401, "unauthenticated")

