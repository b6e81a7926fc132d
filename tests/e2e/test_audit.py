"""The audit log: one entry per mutation (and per denied or failed
authentication) with the right fields, filters and pagination, and the
hash chain checked by `rigd audit verify` catching tampering."""

import datetime
import re
import sqlite3
import time

import pytest

from helpers import (RIG_SCOPES, assert_error, assert_status, audit_db_rows,
                     audit_table, create_key, create_org, create_project,
                     create_user, list_all, login, now_utc, org_with_session,
                     parse_time, run_audit_verify, uniq, urlquote)

ENTRY_FIELDS = {"id", "at", "principal", "kind", "action", "target", "org",
                "project", "result", "ip"}


@pytest.fixture(scope="module")
def ctx(daemon):
    me = daemon.admin.me()
    member = create_user(daemon, role="member")
    mc = daemon.as_cookie(login(daemon, member["email"], member["password"]))
    return {"org": me["org"], "admin_id": me["principal"]["id"],
            "member": member, "mc": mc}


def _ids(daemon):
    return {e["id"] for e in list_all(daemon.admin, "/api/audit")}


class Delta:
    """Entries that appeared in the audit log during a block: as the admin's
    API shows them (`entries`) and as rows of the audit table (`rows`), for
    entries that belong to no org an admin can list (anonymous failures)."""

    def __init__(self, daemon, client=None):
        self.d = daemon
        self.client = client or daemon.admin

    def __enter__(self):
        self.before = {e["id"] for e in list_all(self.client, "/api/audit")}
        rows = audit_db_rows(self.d.data_dir)
        self.max_rowid = rows[-1][0] if rows else 0
        self.t0 = now_utc()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.entries = [e for e in list_all(self.client, "/api/audit")
                            if e["id"] not in self.before]
            self.rows = [r for _, r in audit_db_rows(self.d.data_dir,
                                                     self.max_rowid)]
        return False

    def one(self, **match):
        found = [e for e in self.entries
                 if all(e.get(k) == v for k, v in match.items())]
        assert len(found) == 1, \
            f"expected one audit entry matching {match}, got {found}; " \
            f"all new entries: {self.entries}"
        e = found[0]
        assert set(e) >= ENTRY_FIELDS, f"entry lacks fields: {e}"
        assert isinstance(e["id"], str) and e["id"]
        at = parse_time(e["at"])
        assert -120 < (at - self.t0).total_seconds() < 120, e["at"]
        assert e["ip"] == "127.0.0.1", e
        return e

    def one_anywhere(self, action):
        """The one new entry with `action`, from the API if the admin sees
        it, else from the table; as a dict of whatever fields it has."""
        found = [e for e in self.entries if e["action"] == action]
        if found:
            assert len(found) == 1, found
            return self.one(action=action)
        found = [r for r in self.rows if r.get("action") == action]
        assert len(found) == 1, \
            f"expected one {action!r} audit row, got {found}; all new rows: " \
            f"{self.rows}"
        r = found[0]
        if "ip" in r:
            assert r["ip"] == "127.0.0.1", r
        return r


def test_login_audited(daemon, ctx):
    with Delta(daemon) as dl:
        login(daemon, ctx["member"]["email"], ctx["member"]["password"])
    e = dl.one(action="auth.login", principal=ctx["member"]["id"])
    assert e["kind"] == "user"
    assert e["result"] == "ok"
    assert e["org"] == ctx["org"]["id"]


def test_failed_login_known_user_audited(daemon, ctx):
    with Delta(daemon) as dl:
        r = daemon.req("POST", "/api/auth/login",
                       body={"email": ctx["member"]["email"],
                             "password": "wrong-password-9"})
        assert_error(r, 401, "unauthenticated")
    # A wrong password is the login action, denied, attributed to the account
    # and recorded in its org (docs/design.md, audit actions).
    e = dl.one(action="auth.login", principal=ctx["member"]["id"])
    assert e["result"] == "denied"
    assert e["kind"] == "user"
    assert e["org"] == ctx["org"]["id"]


def test_failed_login_unknown_user_audited(daemon, ctx):
    with Delta(daemon) as dl:
        r = daemon.req("POST", "/api/auth/login",
                       body={"email": "ghost@example.test",
                             "password": "wrong-password-9"})
        assert_error(r, 401, "unauthenticated")
    e = dl.one_anywhere("auth.login")
    assert e.get("kind", "anonymous") == "anonymous", e
    assert e["result"] == "denied"


def test_garbage_token_audited(daemon, ctx):
    with Delta(daemon) as dl:
        r = daemon.req("GET", "/api/me",
                       headers={"Authorization": "Bearer rb_" + "x" * 32})
        assert_error(r, 401, "unauthenticated")
    e = dl.one_anywhere("auth.failed")
    assert e.get("kind", "anonymous") == "anonymous", e
    assert e["result"] == "denied"


def test_logout_and_switch_audited(daemon, ctx):
    mc = daemon.as_cookie(login(daemon, ctx["member"]["email"],
                                ctx["member"]["password"]))
    other = create_org(mc)
    with Delta(daemon) as dl:
        assert_status(mc.post("/api/auth/switch", {"org": other["id"]}), 200)
    # The switch lands in one of the two orgs' logs; the admin sees org A's.
    found = [e for e in dl.entries if e["action"] == "auth.switch"]
    if found:
        assert found[0]["principal"] == ctx["member"]["id"]
        assert found[0]["result"] == "ok"
    assert_status(mc.post("/api/auth/switch", {"org": ctx["org"]["id"]}), 200)
    with Delta(daemon) as dl:
        assert_status(mc.post("/api/auth/logout"), 204)
    e = dl.one(action="auth.logout", principal=ctx["member"]["id"])
    assert e["result"] == "ok" and e["kind"] == "user"


def test_key_lifecycle_audited(daemon, ctx):
    with Delta(daemon) as dl:
        k = create_key(daemon.admin, ["rigs:instances:read"])
    e = dl.one(action="key.create", target=k["id"])
    assert e["principal"] == ctx["admin_id"]
    assert e["kind"] == "user" and e["result"] == "ok"
    assert e["org"] == ctx["org"]["id"]

    with Delta(daemon) as dl:
        assert_status(daemon.admin.post(f"/api/keys/{k['id']}/rotate"), 200)
    e = dl.one(action="key.rotate", target=k["id"])
    assert e["principal"] == ctx["admin_id"] and e["result"] == "ok"
    assert e["org"] == ctx["org"]["id"]

    with Delta(daemon) as dl:
        assert_status(daemon.admin.delete(f"/api/keys/{k['id']}"), 204)
    e = dl.one(action="key.revoke", target=k["id"])
    assert e["principal"] == ctx["admin_id"] and e["result"] == "ok"
    assert e["org"] == ctx["org"]["id"]


def test_org_project_user_member_create_audited(daemon, ctx):
    org_id = ctx["org"]["id"]
    with Delta(daemon) as dl:
        p = create_project(daemon.admin, org_id)
    e = dl.one(action="project.create", target=p["id"])
    assert (e["principal"], e["kind"], e["result"], e["org"]) == \
        (ctx["admin_id"], "user", "ok", org_id)

    with Delta(daemon) as dl:
        u = create_user(daemon)
    e = dl.one(action="user.create", target=u["id"])
    assert (e["principal"], e["kind"], e["result"], e["org"]) == \
        (ctx["admin_id"], "user", "ok", org_id)

    with Delta(daemon) as dl:
        r = daemon.admin.post(f"/api/orgs/{org_id}/members",
                              {"user": u["id"], "role": "admin"})
        assert_status(r, 200)
    e = [x for x in dl.entries if x["action"] == "member.update"]
    assert len(e) == 1, dl.entries
    assert u["id"] in e[0]["target"] and e[0]["org"] == org_id
    assert e[0]["result"] == "ok" and e[0]["principal"] == ctx["admin_id"]

    with Delta(daemon) as dl:
        assert_status(daemon.admin.delete(f"/api/orgs/{org_id}/members/{u['id']}"),
                      204)
    e = [x for x in dl.entries if x["action"] == "member.remove"]
    assert len(e) == 1, dl.entries
    assert u["id"] in e[0]["target"] and e[0]["org"] == org_id
    assert e[0]["result"] == "ok"

    with Delta(daemon) as dl:
        assert_status(daemon.admin.post(f"/api/orgs/{org_id}/members",
                                        {"user": u["email"], "role": "member"}), 201)
    e = [x for x in dl.entries if x["action"] == "member.add"]
    assert len(e) == 1, dl.entries
    assert u["id"] in e[0]["target"] and e[0]["org"] == org_id
    assert e[0]["result"] == "ok" and e[0]["ip"] == "127.0.0.1"
    parse_time(e[0]["at"])

    # org.create is logged in the new org (never in the creator's current
    # org, whose admins must not learn of it) and seen by its admin.
    o, oc = org_with_session(daemon)
    found = [x for x in list_all(oc, "/api/audit?action=org.create")
             if x["target"] == o["id"]]
    assert len(found) == 1, f"org.create for {o['id']} not in its own log"
    e = found[0]
    assert (e["principal"], e["kind"], e["result"], e["ip"], e["org"]) == \
        (ctx["admin_id"], "user", "ok", "127.0.0.1", o["id"])
    parse_time(e["at"])
    assert o["id"] not in [x["target"] for x in
                           list_all(daemon.admin, "/api/audit?action=org.create")]


def test_denied_mutation_audited(daemon, ctx):
    with Delta(daemon) as dl:
        r = ctx["mc"].post(f"/api/orgs/{ctx['org']['id']}/projects",
                           {"name": uniq("nope")})
        assert_error(r, 403, "forbidden")
    found = [e for e in dl.entries if e["result"] == "denied"]
    assert len(found) == 1, f"denied mutation not audited once: {dl.entries}"
    e = found[0]
    assert e["action"].startswith("project.create"), e
    assert e["principal"] == ctx["member"]["id"]
    assert e["kind"] == "user"
    assert e["org"] == ctx["org"]["id"]
    assert e["ip"] == "127.0.0.1"
    parse_time(e["at"])


def test_denied_key_scope_escalation_audited(daemon, ctx):
    with Delta(daemon) as dl:
        r = ctx["mc"].post("/api/keys", {"name": uniq("k"),
                                         "scopes": ["rigs:admin"]})
        assert_error(r, 403, "forbidden")
    found = [e for e in dl.entries if e["result"] == "denied"]
    assert len(found) == 1, dl.entries
    assert found[0]["action"].startswith("key.create")
    assert found[0]["principal"] == ctx["member"]["id"]


def test_audit_needs_admin(daemon, ctx):
    assert_error(ctx["mc"].get("/api/audit"), 403, "forbidden")
    k = create_key(ctx["mc"], RIG_SCOPES)
    assert_error(daemon.as_key(k["key"]).get("/api/audit"), 403, "forbidden")
    assert_error(daemon.req("GET", "/api/audit"), 401, "unauthenticated")


def test_entries_newest_first(daemon, ctx):
    for _ in range(3):
        create_project(daemon.admin, ctx["org"]["id"])
    items = list_all(daemon.admin, "/api/audit")
    ats = [parse_time(e["at"]) for e in items]
    assert ats == sorted(ats, reverse=True), "audit entries are not newest first"
    pc = [e for e in items if e["action"] == "project.create"]
    assert len(pc) >= 3


def test_filter_action(daemon, ctx):
    k = create_key(daemon.admin, ["rigs:instances:read"])
    items = list_all(daemon.admin, "/api/audit?action=key.create")
    assert items and all(e["action"] == "key.create" for e in items)
    assert k["id"] in [e["target"] for e in items]
    assert list_all(daemon.admin, "/api/audit?action=no.such.action") == []


def test_filter_principal(daemon, ctx):
    login(daemon, ctx["member"]["email"], ctx["member"]["password"])
    mid = ctx["member"]["id"]
    items = list_all(daemon.admin, f"/api/audit?principal={mid}")
    assert items and all(e["principal"] == mid for e in items)
    assert "auth.login" in [e["action"] for e in items]
    items = list_all(daemon.admin, f"/api/audit?principal={ctx['admin_id']}")
    assert items and all(e["principal"] == ctx["admin_id"] for e in items)


def test_filter_since(daemon, ctx):
    before = create_project(daemon.admin, ctx["org"]["id"])
    time.sleep(1.2)
    t = now_utc().replace(microsecond=0)
    since = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)
    after = create_project(daemon.admin, ctx["org"]["id"])
    items = list_all(daemon.admin, f"/api/audit?since={urlquote(since)}")
    targets = [e["target"] for e in items]
    assert after["id"] in targets
    assert before["id"] not in targets
    assert all(parse_time(e["at"]) >= t for e in items)
    # Combined with action.
    items = list_all(daemon.admin, f"/api/audit?since={urlquote(since)}"
                     f"&action=project.create")
    assert [e["target"] for e in items] == [after["id"]]
    # Offsets are RFC 3339 too.
    off = (t.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
           .strftime("%Y-%m-%dT%H:%M:%S+02:00"))
    items = list_all(daemon.admin, f"/api/audit?since={urlquote(off)}"
                     f"&action=project.create")
    assert [e["target"] for e in items] == [after["id"]]


@pytest.mark.parametrize("since", ["yesterday", "2024-13-45T00:00:00Z",
                                   "1700000000"])
def test_filter_since_invalid_400(daemon, since):
    r = daemon.admin.get(f"/api/audit?since={urlquote(since)}")
    assert_error(r, 400, "invalid_request")


def test_cursor_pagination(daemon, ctx):
    for _ in range(5):
        create_project(daemon.admin, ctx["org"]["id"])
    full = list_all(daemon.admin, "/api/audit?action=project.create")
    assert len(full) >= 5
    paged, cursor, pages = [], None, 0
    while True:
        q = "/api/audit?action=project.create&limit=2"
        if cursor:
            q += f"&cursor={urlquote(cursor)}"
        body = assert_status(daemon.admin.get(q), 200)
        assert len(body["items"]) <= 2
        paged.extend(e["id"] for e in body["items"])
        cursor = body["next"]
        pages += 1
        assert pages < 1000
        if cursor is None:
            break
    assert paged == [e["id"] for e in full], "pages differ from the full list"
    assert len(set(paged)) == len(paged)


def test_verify_intact_while_running(rigd_bin, daemon, ctx):
    create_project(daemon.admin, ctx["org"]["id"])
    res = run_audit_verify(rigd_bin, daemon.data_dir)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
    m = re.search(r"audit chain ok: (\d+) entries", res.stdout)
    assert m, f"unexpected output: {res.stdout!r}"
    assert int(m.group(1)) >= len(list_all(daemon.admin, "/api/audit"))


# -- tampering -----------------------------------------------------------------------

def _busy_daemon(factory):
    d = factory()
    org = d.admin.me()["org"]["id"]
    login(d, d.admin_email, d.admin_password)
    for _ in range(6):
        create_project(d.admin, org)
    k = create_key(d.admin, ["rigs:instances:read"])
    assert_status(d.admin.delete(f"/api/keys/{k['id']}"), 204)
    d.req("GET", "/api/me", headers={"Authorization": "Bearer nope"})
    return d


def _audit_table(data_dir):
    return audit_table(data_dir)


def _open_for_tamper(db, table):
    con = sqlite3.connect(str(db))
    # An intruder with the file drops whatever guards the table.
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE "
                               "type='trigger' AND tbl_name=?", (table,)).fetchall():
        con.execute(f'DROP TRIGGER "{name}"')
    return con


def _rows(con, table, cols):
    return con.execute(f'SELECT rowid, * FROM "{table}" ORDER BY rowid').fetchall()


def _entry_id(row, cols):
    if "id" in cols:
        return row[1 + cols.index("id")]
    return row[0]


def _verify_ok(rigd_bin, data_dir, expected_rows):
    res = run_audit_verify(rigd_bin, data_dir)
    assert res.returncode == 0, f"verify failed on an intact log:\n{res.stdout}\n" \
                                f"{res.stderr}"
    m = re.search(r"audit chain ok: (\d+) entries", res.stdout)
    assert m, f"unexpected output: {res.stdout!r}"
    assert int(m.group(1)) == expected_rows


@pytest.mark.parametrize("column", ["action", "result"])
def test_verify_detects_modified_row(rigd_bin, rigd_factory, column):
    d = _busy_daemon(rigd_factory)
    d.stop()
    db, table, cols = _audit_table(d.data_dir)
    con = sqlite3.connect(str(db))
    n = len(_rows(con, table, cols))
    con.close()
    assert n >= 8, f"only {n} audit rows"
    _verify_ok(rigd_bin, d.data_dir, n)

    con = _open_for_tamper(db, table)
    rows = _rows(con, table, cols)
    mid = rows[len(rows) // 2]
    old = mid[1 + cols.index(column)]
    if column == "action":
        new = "key.revoke" if old != "key.revoke" else "key.create"
    else:
        new = "denied" if old != "denied" else "ok"
    con.execute(f'UPDATE "{table}" SET "{column}"=? WHERE rowid=?', (new, mid[0]))
    con.commit()
    con.close()

    res = run_audit_verify(rigd_bin, d.data_dir)
    out = res.stdout + res.stderr
    assert res.returncode == 1, f"tampered log verified ({res.returncode}):\n{out}"
    bad = str(_entry_id(mid, cols))
    assert re.search(r"(?<![0-9A-Za-z_])" + re.escape(bad) + r"(?![0-9A-Za-z_])",
                     out), f"verify does not name entry {bad}: {out!r}"


def test_verify_detects_deleted_row(rigd_bin, rigd_factory):
    d = _busy_daemon(rigd_factory)
    d.stop()
    db, table, cols = _audit_table(d.data_dir)
    con = _open_for_tamper(db, table)
    rows = _rows(con, table, cols)
    assert len(rows) >= 8
    mid = rows[len(rows) // 2]
    con.execute(f'DELETE FROM "{table}" WHERE rowid=?', (mid[0],))
    con.commit()
    con.close()
    res = run_audit_verify(rigd_bin, d.data_dir)
    out = res.stdout + res.stderr
    assert res.returncode == 1, f"log with a deleted row verified:\n{out}"
    assert "audit chain ok" not in res.stdout
    assert out.strip(), "verify printed nothing"

