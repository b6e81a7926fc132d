"""Apps and previews through a real rigd: create, list, get, patch, delete,
validation, names unique across orgs, tenancy (404), scopes, rig credentials,
preview links (shape, expiry, revocation), audit, cascade on rig delete, and
auto_sleep_s (round trip, validation, a rig that pauses by itself).

Contract: shared/API.md "Apps and previews" and "Details pinned down / Apps and
previews"; served behaviour: docs/api.md "Apps and previews".
"""

import re
import time

import pytest

import helpers
from helpers import (RIG_SCOPES, assert_error, assert_status, create_key,
                     list_all, org_with_session, parse_time, uniq)
from rigutil import qpath, rig_api, rig_prereqs, wait_for  # noqa: F401

TOKEN_RE = re.compile(r"^[a-z0-9]{32}$")
CT = "rigs:instances:control"
RD = "rigs:instances:read"


def app_name(prefix="app"):
    return uniq(prefix).lower().replace("_", "-")[:63]


def apps_path(rid, name=None):
    p = f"/api/rigs/{qpath(rid)}/apps"
    return p if name is None else f"{p}/{qpath(name)}"


def add(api, rid, body, key=None):
    return api.d.req("POST", apps_path(rid), body=body, key=key or api.key)


def make_app(api, rid, name=None, port=8080, **fields):
    body = {"name": name or app_name(), "port": port}
    body.update(fields)
    return assert_status(add(api, rid, body), 201)


def preview(api, rid, name, body=None, key=None):
    return api.d.req("POST", f"{apps_path(rid, name)}/previews",
                     body=body, key=key or api.key)


@pytest.fixture(scope="module")
def rig(rig_api):
    return rig_api.create(uniq("apps"))


@pytest.fixture(scope="module")
def other_org(rig_api):
    """Org B with a full rig key and a rig of its own."""
    d = rig_api.d
    org, sess = org_with_session(d)
    key = create_key(sess, RIG_SCOPES)["key"]
    b = rig_api.as_key(key)
    return {"org": org, "key": key, "api": b, "rig": b.create(uniq("apps-b"))}


def test_create_list_get_patch_delete(rig_api, rig):
    rid = rig["id"]
    name = app_name("web")
    before = helpers.now_utc()
    a = make_app(rig_api, rid, name, 8080, visibility="public")
    assert a["name"] == name and a["port"] == 8080, a
    assert a["visibility"] == "public" and a["allowed_emails"] == [], a
    assert a["rig"] == rid, a
    assert a["url"] == f"http://{name}.rigs.localhost", a
    assert abs((parse_time(a["created_at"]) - before).total_seconds()) < 5, a
    # visibility defaults to private; emails lowercased, duplicates dropped
    b = make_app(rig_api, rid, port=3000,
                 allowed_emails=["Ann@Example.COM", "ann@example.com", "bo@x.io"])
    assert b["visibility"] == "private", b
    assert b["allowed_emails"] == ["ann@example.com", "bo@x.io"], b

    items = list_all(helpers.Client(rig_api.d, key=rig_api.key), apps_path(rid))
    assert [i["name"] for i in items] == [name, b["name"]], items
    page = assert_status(rig_api.req("GET", apps_path(rid) + "?limit=1"), 200)
    assert len(page["items"]) == 1 and page["next"], page
    # by rig name too
    got = assert_status(rig_api.req("GET", apps_path(rig["name"], name)), 200)
    assert got == a, (got, a)

    p = assert_status(rig_api.req("PATCH", apps_path(rid, name),
                                  body={"port": 9090, "visibility": "privileged",
                                        "allowed_emails": ["Zed@Example.com"]}),
                      200)
    assert (p["port"], p["visibility"], p["allowed_emails"]) == \
        (9090, "privileged", ["zed@example.com"]), p
    p = assert_status(rig_api.req("PATCH", apps_path(rid, name),
                                  body={"visibility": "public", "port": None}), 200)
    assert (p["port"], p["visibility"]) == (9090, "public"), p
    assert assert_status(rig_api.req("GET", apps_path(rid, name)), 200) == p

    r = rig_api.req("DELETE", apps_path(rid, name))
    assert r.status == 204 and not r.body, r
    assert_error(rig_api.req("GET", apps_path(rid, name)), 404, "not_found")
    assert_error(rig_api.req("DELETE", apps_path(rid, name)), 404, "not_found")
    assert_error(rig_api.req("PATCH", apps_path(rid, name), body={"port": 1}),
                 404, "not_found")
    assert_error(rig_api.req("GET", apps_path("rig_doesnotexist0000000")), 404,
                 "not_found")


@pytest.mark.parametrize("body", [
    {"name": "Web", "port": 80},
    {"name": "-web", "port": 80},
    {"name": "web-", "port": 80},
    {"name": "we_b", "port": 80},
    {"name": "a" * 64, "port": 80},
    {"name": "", "port": 80},
    {"port": 80},
    {"name": "ok-name", "port": 0},
    {"name": "ok-name", "port": 65536},
    {"name": "ok-name", "port": "80"},
    {"name": "ok-name", "port": 80.5},
    {"name": "ok-name"},
    {"name": "ok-name", "port": 80, "visibility": "secret"},
    {"name": "ok-name", "port": 80, "visibility": "Public"},
    {"name": "ok-name", "port": 80, "visibility": 1},
    {"name": "ok-name", "port": 80, "allowed_emails": ["not-an-email"]},
    {"name": "ok-name", "port": 80, "allowed_emails": ["a@b.c", 5]},
    {"name": "ok-name", "port": 80, "allowed_emails": "a@b.c"},
    {"name": "ok-name", "port": 80,
     "allowed_emails": [f"u{i}@x.io" for i in range(65)]},
])
def test_create_validation(rig_api, rig, body):
    assert_error(add(rig_api, rig["id"], body), 400, "invalid_request")


def test_create_ignores_unknown_fields_patch_refuses_them(rig_api, rig):
    """The API's convention: unknown body members are ignored on create; a
    PATCH names what it changes, and anything else is 400 (as PATCH
    /api/rigs/{id})."""
    a = make_app(rig_api, rig["id"], frobnicate=True, name_extra="x")
    assert "frobnicate" not in a and "name_extra" not in a, a
    path = apps_path(rig["id"], a["name"])
    for body in ({"name": "renamed"}, {"frob": 1}, {}, {"port": 0},
                 {"port": 65536}, {"visibility": "x"},
                 {"allowed_emails": ["nope"]}):
        assert_error(rig_api.req("PATCH", path, body=body), 400, "invalid_request")
    assert assert_status(rig_api.req("GET", path), 200) == a
    # limits at the edges are fine
    for port in (1, 65535):
        assert assert_status(rig_api.req("PATCH", path, body={"port": port}),
                             200)["port"] == port
    many = [f"u{i}@x.io" for i in range(64)]
    assert len(assert_status(rig_api.req("PATCH", path,
                                         body={"allowed_emails": many}),
                             200)["allowed_emails"]) == 64


def test_names_unique_across_orgs(rig_api, rig, other_org):
    name = app_name("dup")
    make_app(rig_api, rig["id"], name)
    b = other_org["api"]
    assert_error(add(b, other_org["rig"]["id"], {"name": name, "port": 80}),
                 409, "conflict")
    assert_error(add(rig_api, rig["id"], {"name": name, "port": 81}), 409,
                 "conflict")
    # once deleted, the name is free for anyone
    assert rig_api.req("DELETE", apps_path(rig["id"], name)).status == 204
    make_app(b, other_org["rig"]["id"], name)


def test_other_tenant_gets_404_everywhere(rig_api, rig, other_org):
    a = make_app(rig_api, rig["id"])
    tok = assert_status(preview(rig_api, rig["id"], a["name"]), 201)["token"]
    b = other_org["api"]
    rid, name = rig["id"], a["name"]
    for method, path, body in (
            ("GET", apps_path(rid), None),
            ("POST", apps_path(rid), {"name": app_name(), "port": 80}),
            ("GET", apps_path(rid, name), None),
            ("PATCH", apps_path(rid, name), {"port": 81}),
            ("DELETE", apps_path(rid, name), None),
            ("POST", apps_path(rid, name) + "/previews", {}),
            ("DELETE", f"/api/previews/{tok}", None)):
        assert_error(b.req(method, path, body=body), 404, "not_found")
    # B's own rig with A's app name: not found either
    assert_error(b.req("GET", apps_path(other_org["rig"]["id"], name)), 404,
                 "not_found")
    # nothing changed
    assert assert_status(rig_api.req("GET", apps_path(rid, name)), 200) == a
    assert rig_api.d.req("DELETE", f"/api/previews/{tok}",
                         key=rig_api.key).status == 204


def test_scopes(rig_api, rig):
    admin = helpers.Client(rig_api.d, key=rig_api.key)
    ro = create_key(admin, [RD])["key"]
    a = make_app(rig_api, rig["id"])
    path = apps_path(rig["id"], a["name"])
    assert_status(rig_api.d.req("GET", apps_path(rig["id"]), key=ro), 200)
    assert_status(rig_api.d.req("GET", path, key=ro), 200)
    assert_error(add(rig_api, rig["id"], {"name": app_name(), "port": 80}, key=ro),
                 403, "forbidden")
    assert_error(rig_api.d.req("PATCH", path, body={"port": 1}, key=ro), 403,
                 "forbidden")
    assert_error(rig_api.d.req("DELETE", path, key=ro), 403, "forbidden")
    assert_error(preview(rig_api, rig["id"], a["name"], {}, key=ro), 403,
                 "forbidden")
    tok = assert_status(preview(rig_api, rig["id"], a["name"]), 201)["token"]
    assert_error(rig_api.d.req("DELETE", f"/api/previews/{tok}", key=ro), 403,
                 "forbidden")
    ct = create_key(admin, [CT])["key"]
    assert_error(rig_api.d.req("GET", path, key=ct), 403, "forbidden")
    assert_status(add(rig_api, rig["id"], {"name": app_name(), "port": 80},
                      key=ct), 201)


def test_rig_credential(rig_api, rig):
    other = rig_api.create(uniq("apps-o"))
    cred = assert_status(rig_api.req("POST", f"/api/rigs/{rig['id']}/credentials",
                                     body={"ttl_s": 300}), 201)["token"]
    a = assert_status(add(rig_api, rig["id"], {"name": app_name(), "port": 80},
                          key=cred), 201)
    path = apps_path(rig["id"], a["name"])
    assert_status(rig_api.d.req("GET", apps_path(rig["id"]), key=cred), 200)
    assert_status(rig_api.d.req("PATCH", path, body={"port": 81}, key=cred), 200)
    p = assert_status(preview(rig_api, rig["id"], a["name"], {}, key=cred), 201)
    # revocation is an account endpoint: not for a rig credential
    assert_error(rig_api.d.req("DELETE", f"/api/previews/{p['token']}", key=cred),
                 403, "forbidden")
    oa = make_app(rig_api, other["id"])
    for method, path2, body in (
            ("GET", apps_path(other["id"]), None),
            ("POST", apps_path(other["id"]), {"name": app_name(), "port": 80}),
            ("GET", apps_path(other["id"], oa["name"]), None),
            ("DELETE", apps_path(other["id"], oa["name"]), None)):
        assert_error(rig_api.d.req(method, path2, body=body, key=cred), 404,
                     "not_found")
    assert rig_api.d.req("DELETE", path, key=cred).status == 204


def test_previews(rig_api, rig, other_org):
    a = make_app(rig_api, rig["id"])
    before = helpers.now_utc()
    p = assert_status(preview(rig_api, rig["id"], a["name"], {"expires_in_s": 120}),
                      201)
    assert TOKEN_RE.match(p["token"]), p
    assert p["url"] == f"{a['url']}/?rigs_preview={p['token']}", p
    assert p["url"].endswith(f"?rigs_preview={p['token']}")
    assert 118 <= (parse_time(p["expires_at"]) - before).total_seconds() <= 125, p
    # default one hour, with or without a body
    for body in (None, {}):
        q = assert_status(preview(rig_api, rig["id"], a["name"], body), 201)
        delta = (parse_time(q["expires_at"]) - before).total_seconds()
        assert 3595 <= delta <= 3605, q
    q = assert_status(preview(rig_api, rig["id"], a["name"],
                              {"expires_in_s": 2592000}), 201)
    assert q["token"] != p["token"]
    for bad in (0, -1, 2592001, "60", 1.5):
        assert_error(preview(rig_api, rig["id"], a["name"], {"expires_in_s": bad}),
                     400, "invalid_request")
    assert_error(preview(rig_api, rig["id"], "no-such-app", {}), 404, "not_found")
    # tokens look random
    toks = {assert_status(preview(rig_api, rig["id"], a["name"], {}), 201)["token"]
            for _ in range(20)}
    assert len(toks) == 20 and len(set("".join(toks))) > 25, toks

    revoke = f"/api/previews/{p['token']}"
    assert_error(other_org["api"].req("DELETE", revoke), 404, "not_found")
    r = rig_api.req("DELETE", revoke)
    assert r.status == 204 and not r.body, r
    assert_error(rig_api.req("DELETE", revoke), 404, "not_found")
    for bad in ("a" * 31, "a" * 33, "A" * 32, "a" * 31 + "-", "x"):
        assert_error(rig_api.req("DELETE", f"/api/previews/{bad}"), 404, "not_found")
    # the token is in no audit entry and no log line
    entries = list_all(helpers.Client(rig_api.d, key=rig_api.key), "/api/audit")
    assert p["token"] not in repr(entries)
    assert p["token"] not in rig_api.d.log_path.read_text(errors="replace")


def test_audit(rig_api, rig):
    a = make_app(rig_api, rig["id"])
    path = apps_path(rig["id"], a["name"])
    assert_status(rig_api.req("PATCH", path, body={"port": 1}), 200)
    tok = assert_status(preview(rig_api, rig["id"], a["name"]), 201)["token"]
    assert rig_api.req("DELETE", f"/api/previews/{tok}").status == 204
    assert rig_api.req("DELETE", path).status == 204
    client = helpers.Client(rig_api.d, key=rig_api.key)
    got = list_all(client, f"/api/audit?rig={rig['id']}")
    actions = [e["action"] for e in got if e["result"] == "ok"]
    for want in ("app.create", "app.update", "preview.create", "preview.revoke",
                 "app.delete"):
        assert want in actions, (want, actions)
    for e in got:
        if e["action"].startswith(("app.", "preview.")):
            assert e["target"] == rig["id"], e
            assert tok not in repr(e)
    # a refused create is audited as an error
    assert_error(add(rig_api, rig["id"], {"name": a["name"] + "-", "port": 80}),
                 400, "invalid_request")
    got = list_all(client, "/api/audit?action=app.create")
    assert any(e["result"] == "error" for e in got), got


def test_apps_go_with_their_rig(rig_api):
    r = rig_api.create(uniq("apps-del"))
    a = make_app(rig_api, r["id"])
    tok = assert_status(preview(rig_api, r["id"], a["name"]), 201)["token"]
    assert rig_api.delete(r["id"]).status == 204
    # the name is free again, and the preview is gone
    r2 = rig_api.create(uniq("apps-del2"))
    make_app(rig_api, r2["id"], a["name"])
    assert_error(rig_api.req("DELETE", f"/api/previews/{tok}"), 404, "not_found")
    import sqlite3
    con = sqlite3.connect(f"file:{rig_api.data_dir}/rigs.db?mode=ro", uri=True)
    try:
        n = con.execute("SELECT count(*) FROM apps WHERE rig_id=?",
                        (r["id"],)).fetchone()[0]
    finally:
        con.close()
    assert n == 0


def test_auto_sleep_round_trip_and_validation(rig_api, rig):
    assert rig["auto_sleep_s"] == 0, rig
    r = rig_api.create(uniq("sleepy"), auto_sleep_s=3600)
    assert r["auto_sleep_s"] == 3600, r
    assert assert_status(rig_api.get(r["id"]), 200)["auto_sleep_s"] == 3600
    for bad in (-1, 1, 9, 2592001, "60", 1.5):
        assert_error(rig_api.create_raw({"name": uniq("bad"), "auto_sleep_s": bad}),
                     400, "invalid_request")
        assert_error(rig_api.req("PATCH", f"/api/rigs/{r['id']}",
                                 body={"auto_sleep_s": bad}), 400, "invalid_request")
    p = assert_status(rig_api.req("PATCH", f"/api/rigs/{r['id']}",
                                  body={"auto_sleep_s": 0}), 200)
    assert p["auto_sleep_s"] == 0 and p["state"] == "running", p
    p = assert_status(rig_api.req("PATCH", f"/api/rigs/{r['id']}",
                                  body={"auto_sleep_s": 10, "network": {"egress": "none"}}),
                      200)
    assert p["auto_sleep_s"] == 10 and p["network"]["egress"] == "none", p
    got = assert_status(rig_api.get(r["id"]), 200)
    assert got["auto_sleep_s"] == 10 and got["network"]["egress"] == "none", got
    assert_status(rig_api.req("PATCH", f"/api/rigs/{r['id']}",
                              body={"auto_sleep_s": 0}), 200)
    assert_error(rig_api.req("PATCH", f"/api/rigs/{r['id']}", body={}), 400,
                 "invalid_request")
    assert rig_api.delete(r["id"]).status == 204


def test_auto_sleep_pauses_an_idle_rig(rig_api):
    r = rig_api.create(uniq("nap"), auto_sleep_s=10)
    rid = r["id"]
    # Activity keeps it awake: an exec every 2 s for 16 s.
    end = time.monotonic() + 16
    while time.monotonic() < end:
        rig_api.ok(rid, "true")
        assert rig_api.state(rid) == "running"
        time.sleep(2)
    # Then idle: paused by rigd within a generous deadline.
    st = wait_for(lambda: rig_api.state(rid) == "paused", 60, step=0.5)
    assert st, f"not paused: {rig_api.get(rid).body}\n{rig_api.diag(rid)}"
    client = helpers.Client(rig_api.d, key=rig_api.key)
    got = list_all(client, f"/api/audit?rig={rid}&action=rig.autosleep")
    assert got and got[0]["principal"] == "rigd" and got[0]["result"] == "ok", got
    assert got[0]["kind"] == "anonymous", got
    # resuming works as ever, and it is awake until idle again
    rig_api.act(rid, "resume", "running")
    assert rig_api.ok(rid, "echo hi") == "hi\n"
    assert rig_api.delete(rid).status == 204
