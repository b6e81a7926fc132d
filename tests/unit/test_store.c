/* The SQLite store: CRUD, uniqueness, tenant scoping, pagination, keys and sessions. */
#include "core/rigs.h"
#include "core/store.h"

#include <sodium.h>
#include <sqlite3.h>

#include "tap.h"
#include "testutil.h"

#define NOW 1700000000

static char tmpdir[256];
static char dbpath[300];
static struct store *st;

static struct user mkuser(const char *email, const char *name)
{
        struct user u = {0};
        id_new("usr_", u.id);
        snprintf(u.email, sizeof(u.email), "%s", email);
        snprintf(u.name, sizeof(u.name), "%s", name);
        snprintf(u.pw_hash, sizeof(u.pw_hash), "$argon2id$fake");
        u.created_at = NOW;
        return u;
}

static void hash_of(const char *tok, uint8_t out[TOKEN_HASH_LEN])
{
        static const uint8_t pepper[SECRET_KEY_LEN] = {1, 2, 3};
        token_hash(pepper, tok, strlen(tok), out);
}

static struct user alice, bob, carol;
static struct org org_a, org_b;
static struct project default_a, default_b;

static void test_open(void)
{
        char missing[300];
        snprintf(missing, sizeof(missing), "%s/missing.db", tmpdir);
        struct store *s = NULL;
        is_int(store_open(missing, false, &s), -ENOENT, "open without create: -ENOENT");
        ok(s == NULL, "  no store returned");
        ok(access(missing, F_OK) != 0, "  and no file created");
        snprintf(missing, sizeof(missing), "%s/no/such/dir/x.db", tmpdir);
        is_int(store_open(missing, true, &s), -ENOENT, "create in a missing directory: -ENOENT");

        is_int(store_open(dbpath, true, &st), 0, "create a store");
        char v[64];
        is_int(store_meta_get(st, "nothing", v, sizeof(v)), -ENOENT, "missing meta key");
        is_int(store_meta_set(st, "marker", "one"), 0, "meta set");
        is_int(store_meta_set(st, "marker", "two"), 0, "meta overwrite");
        is_int(store_meta_get(st, "marker", v, sizeof(v)), 0, "meta get");
        is_str(v, "two", "  the last value");
        store_close(st);
        st = NULL;
        store_close(NULL);
        is_int(store_open(dbpath, false, &st), 0, "reopen the existing store (no migration)");
        is_int(store_meta_get(st, "marker", v, sizeof(v)), 0, "meta persisted");
        is_str(v, "two", "  with its value");
}

static void test_users(void)
{
        alice = mkuser("alice@example.com", "Alice");
        bob = mkuser("bob@example.com", "Bob");
        carol = mkuser("carol@example.com", "");
        is_int(store_user_insert(st, &alice), 0, "insert alice");
        is_int(store_user_insert(st, &bob), 0, "insert bob");
        is_int(store_user_insert(st, &carol), 0, "insert carol");

        struct user dup = mkuser("ALICE@Example.COM", "Other");
        is_int(store_user_insert(st, &dup), -EEXIST, "email is unique, case-insensitively");
        dup = mkuser("dave@example.com", "Dave");
        memcpy(dup.id, alice.id, sizeof(dup.id));
        is_int(store_user_insert(st, &dup), -EEXIST, "id is unique");

        struct user u;
        is_int(store_user_by_email(st, "Alice@EXAMPLE.com", &u), 0, "lookup by email ignores case");
        is_str(u.id, alice.id, "  finds alice");
        is_str(u.email, "alice@example.com", "  stored email as given");
        is_str(u.name, "Alice", "  name");
        is_str(u.pw_hash, "$argon2id$fake", "  password hash");
        is_int(u.created_at, NOW, "  created_at");
        is_int(store_user_by_id(st, bob.id, &u), 0, "lookup by id");
        is_str(u.email, "bob@example.com", "  finds bob");
        is_int(store_user_by_id(st, "usr_nobody", &u), -ENOENT, "unknown id: -ENOENT");
        is_int(store_user_by_email(st, "nobody@example.com", &u), -ENOENT,
               "unknown email: -ENOENT");
        is_int(store_user_by_email(st, "alice@example.com ", &u), -ENOENT,
               "trailing space is another email");
        is_int(store_user_by_email(st, "%@example.com", &u), -ENOENT, "no LIKE wildcards");

        is_int(store_user_set_password(st, bob.id, "$argon2id$new"), 0, "set password");
        store_user_by_id(st, bob.id, &u);
        is_str(u.pw_hash, "$argon2id$new", "  new hash stored");
        is_int(store_user_set_password(st, "usr_nobody", "$x"), -ENOENT,
               "set password of an unknown user: -ENOENT");
}

static void test_orgs(void)
{
        is_int(store_org_create(st, "acme", alice.id, NOW, &org_a, &default_a), 0,
               "alice creates org acme");
        ok(id_valid("org_", org_a.id, strlen(org_a.id)), "  org id shape (%s)", org_a.id);
        is_str(org_a.name, "acme", "  name");
        is_int(org_a.role, ROLE_ADMIN, "  creator is admin");
        is_str(default_a.name, "default", "  default project created");
        is_str(default_a.org_id, org_a.id, "  in the org");
        ok(id_valid("prj_", default_a.id, strlen(default_a.id)), "  project id shape");
        is_int(store_org_create(st, "globex", bob.id, NOW, &org_b, &default_b), 0,
               "bob creates org globex");

        struct org o;
        is_int(store_org_create(st, "acme", bob.id, NOW, &o, NULL), -EEXIST,
               "org names are unique across the deployment");

        is_int(store_org_resolve(st, "acme", NULL, &o), 0, "resolve by name");
        is_str(o.id, org_a.id, "  acme");
        is_int(store_org_resolve(st, org_a.id, NULL, &o), 0, "resolve by id");
        is_str(o.name, "acme", "  acme");
        is_int(store_org_resolve(st, "acme", alice.id, &o), 0, "resolve as a member");
        is_int(o.role, ROLE_ADMIN, "  with the member's role");
        is_int(store_org_resolve(st, "acme", bob.id, &o), -ENOENT,
               "a non-member cannot see the org: -ENOENT");
        is_int(store_org_resolve(st, org_a.id, bob.id, &o), -ENOENT, "  nor by id");
        is_int(store_org_resolve(st, "ACME", NULL, &o), -ENOENT, "org names are case-sensitive");
        is_int(store_org_resolve(st, "nope", NULL, &o), -ENOENT, "unknown org");

        is_int(store_org_first_for_user(st, alice.id, &o), 0, "alice's first org");
        is_str(o.id, org_a.id, "  acme");
        is_int(store_org_first_for_user(st, carol.id, &o), -ENOENT, "carol has no org");
}

static void test_members(void)
{
        bool created = false;
        enum role role = ROLE_NONE;
        is_int(store_member_put(st, org_a.id, bob.id, ROLE_MEMBER, NOW, &created), 0,
               "add bob to acme as member");
        ok(created, "  created");
        is_int(store_member_role(st, org_a.id, bob.id, &role), 0, "bob's role in acme");
        is_int(role, ROLE_MEMBER, "  member");
        is_int(store_member_put(st, org_a.id, bob.id, ROLE_ADMIN, NOW, &created), 0, "promote bob");
        ok(!created, "  updated, not created");
        store_member_role(st, org_a.id, bob.id, &role);
        is_int(role, ROLE_ADMIN, "  admin now");
        is_int(store_admin_count(st, org_a.id), 2, "acme has 2 admins");
        is_int(store_member_put(st, org_a.id, bob.id, ROLE_MEMBER, NOW, &created), 0, "demote bob");
        is_int(store_admin_count(st, org_a.id), 1, "acme has 1 admin");
        is_int(store_member_role(st, org_a.id, carol.id, &role), -ENOENT, "carol is no member");
        is_int(store_member_role(st, org_b.id, alice.id, &role), -ENOENT,
               "alice is no member of globex");

        struct org o;
        is_int(store_org_resolve(st, "acme", bob.id, &o), 0, "bob now sees acme");
        is_int(o.role, ROLE_MEMBER, "  as member");

        is_int(store_member_put(st, org_a.id, carol.id, ROLE_MEMBER, NOW, &created), 0,
               "add carol");
        is_int(store_member_delete(st, org_a.id, carol.id), 0, "remove carol");
        is_int(store_member_delete(st, org_a.id, carol.id), -ENOENT, "remove carol again: -ENOENT");
        is_int(store_member_delete(st, org_b.id, bob.id), 0, "(remove bob from his own globex)");
        bool c2;
        is_int(store_member_put(st, org_b.id, bob.id, ROLE_ADMIN, NOW, &c2), 0, "  and re-add him");

        struct page pg = {.after = 0, .limit = 50};
        struct list l = {0};
        is_int(store_members_list(st, org_a.id, &pg, &l), 0, "list acme members");
        is_int(l.n, 2, "  alice and bob");
        struct member *m = l.items;
        if (l.n == 2) {
                is_str(m[0].user_id, alice.id, "  alice first (insertion order)");
                is_str(m[0].email, "alice@example.com", "  with email");
                is_int(m[0].role, ROLE_ADMIN, "  admin");
                is_str(m[1].user_id, bob.id, "  then bob");
                is_int(m[1].role, ROLE_MEMBER, "  member");
        }
        is_int(l.next, 0, "  no more");
        free(l.items);

        is_int(store_users_list(st, org_a.id, &pg, &l), 0, "list acme users");
        is_int(l.n, 2, "  2 users");
        if (l.n == 2) {
                struct user *u = l.items;
                is_str(u[0].pw_hash, "", "  password hashes are not listed");
                is_int(u[1].role, ROLE_MEMBER, "  with their role in the org");
        }
        free(l.items);

        is_int(store_orgs_for_user(st, bob.id, &pg, &l), 0, "bob's orgs");
        is_int(l.n, 2, "  acme and globex");
        if (l.n == 2) {
                struct org *os = l.items;
                is_str(os[0].name, "acme", "  acme first (creation order)");
                is_int(os[0].role, ROLE_MEMBER, "  as member");
                is_str(os[1].name, "globex", "  then globex");
                is_int(os[1].role, ROLE_ADMIN, "  as admin");
        }
        free(l.items);
        is_int(store_orgs_for_user(st, carol.id, &pg, &l), 0, "carol's orgs");
        is_int(l.n, 0, "  none");
        free(l.items);
}

static void test_projects(void)
{
        struct project p = {.created_at = NOW};
        id_new("prj_", p.id);
        memcpy(p.org_id, org_a.id, ID_MAX);
        snprintf(p.name, sizeof(p.name), "web");
        is_int(store_project_insert(st, &p), 0, "project web in acme");
        struct project q = p;
        id_new("prj_", q.id);
        is_int(store_project_insert(st, &q), -EEXIST, "web again in acme: -EEXIST");
        memcpy(q.org_id, org_b.id, ID_MAX);
        is_int(store_project_insert(st, &q), 0, "web in globex is fine");
        struct project r = p;
        snprintf(r.name, sizeof(r.name), "other");
        is_int(store_project_insert(st, &r), -EEXIST, "a duplicate project id: -EEXIST");

        struct project out;
        is_int(store_project_resolve(st, org_a.id, "web", &out), 0, "resolve web in acme");
        is_str(out.id, p.id, "  acme's web");
        is_int(store_project_resolve(st, org_b.id, "web", &out), 0, "resolve web in globex");
        is_str(out.id, q.id, "  globex's web");
        is_int(store_project_resolve(st, org_a.id, q.id, &out), -ENOENT,
               "globex's project id through acme: -ENOENT");
        is_int(store_project_resolve(st, org_a.id, p.id, &out), 0, "resolve by id");
        is_str(out.name, "web", "  web");
        is_int(store_project_resolve(st, org_a.id, "nope", &out), -ENOENT, "unknown project");
}

/* Lists `total` projects of an org `per` at a time; checks order, no gaps and no duplicates. */
static void test_pagination(void)
{
        struct org o;
        struct project dflt;
        if (!is_int(store_org_create(st, "paged", carol.id, NOW, &o, &dflt), 0, "org paged"))
                return;
        char want[7][ID_MAX];
        memcpy(want[0], dflt.id, ID_MAX);
        for (int i = 1; i < 7; i++) {
                struct project p = {.created_at = NOW + i};
                id_new("prj_", p.id);
                memcpy(p.org_id, o.id, ID_MAX);
                snprintf(p.name, sizeof(p.name), "p%d", i);
                store_project_insert(st, &p);
                memcpy(want[i], p.id, ID_MAX);
                /* Interleave another org's projects so that rowids have gaps. */
                struct project x = p;
                id_new("prj_", x.id);
                memcpy(x.org_id, org_b.id, ID_MAX);
                store_project_insert(st, &x);
        }
        struct page pg = {.after = 0, .limit = 3};
        int got = 0, pages = 0, mismatches = 0, sizes[4] = {0};
        for (;;) {
                struct list l = {0};
                if (store_projects_list(st, o.id, NULL, &pg, &l) < 0 || pages == 4) {
                        free(l.items);
                        mismatches++;
                        break;
                }
                struct project *ps = l.items;
                sizes[pages++] = (int)l.n;
                for (size_t i = 0; i < l.n; i++, got++)
                        if (got >= 7 || strcmp(ps[i].id, want[got]) != 0 ||
                            strcmp(ps[i].org_id, o.id) != 0)
                                mismatches++;
                int64_t next = l.next;
                if (next && l.n && next != ps[l.n - 1].seq)
                        mismatches++;
                free(l.items);
                if (!next)
                        break;
                pg.after = next;
        }
        is_int(pages, 3, "7 projects 3 per page: 3 pages");
        ok(sizes[0] == 3 && sizes[1] == 3 && sizes[2] == 1, "  of 3, 3 and 1 (%d %d %d)", sizes[0],
           sizes[1], sizes[2]);
        is_int(got, 7, "  7 projects seen");
        is_int(mismatches, 0, "  in order, each once, all of the org");

        /* Exactly a multiple of the page size: the last full page says there is no more. */
        pg = (struct page){.after = 0, .limit = 7};
        struct list l = {0};
        is_int(store_projects_list(st, o.id, NULL, &pg, &l), 0, "limit 7 of 7");
        is_int(l.n, 7, "  7 items");
        is_int(l.next, 0, "  and no next page");
        free(l.items);

        pg = (struct page){.after = 0, .limit = 50};
        is_int(store_projects_list(st, o.id, want[3], &pg, &l), 0, "list restricted to one id");
        is_int(l.n, 1, "  one item");
        if (l.n == 1)
                is_str(((struct project *)l.items)[0].id, want[3], "  the one asked for");
        free(l.items);
        is_int(store_projects_list(st, org_a.id, want[3], &pg, &l), 0,
               "restricted to another org's project id");
        is_int(l.n, 0, "  nothing");
        free(l.items);
}

static struct apikey mkkey(const char *org_id, const char *principal, scopeset_t scopes,
                           int64_t expires)
{
        struct apikey k = {0};
        id_new("key_", k.id);
        snprintf(k.name, sizeof(k.name), "ci");
        snprintf(k.prefix, sizeof(k.prefix), "rb_abcd");
        memcpy(k.principal_id, principal, ID_MAX);
        k.principal_kind = PK_USER;
        memcpy(k.org_id, org_id, ID_MAX);
        k.scopes = scopes;
        k.expires_at = expires;
        k.created_at = NOW;
        return k;
}

static void test_keys(void)
{
        uint8_t h1[TOKEN_HASH_LEN], h2[TOKEN_HASH_LEN], h3[TOKEN_HASH_LEN], h4[TOKEN_HASH_LEN];
        hash_of("rb_key1", h1);
        hash_of("rb_key2", h2);
        hash_of("rb_key3", h3);
        hash_of("rb_key4", h4);
        struct apikey ka = mkkey(org_a.id, alice.id, SCOPES_ALL, 0);
        memcpy(ka.project_id, default_a.id, ID_MAX);
        struct apikey kb = mkkey(org_a.id, bob.id, SCOPES_ALL, 0);
        struct apikey kexp = mkkey(org_a.id, alice.id, SCOPE_INSTANCES_READ, NOW + 60);
        is_int(store_key_insert(st, &ka, h1), 0, "insert alice's key (project-bound)");
        is_int(store_key_insert(st, &kb, h2), 0, "insert bob's key with every scope");
        is_int(store_key_insert(st, &kexp, h3), 0, "insert an expiring key");
        struct apikey dup = mkkey(org_a.id, alice.id, 0, 0);
        is_int(store_key_insert(st, &dup, h1), -EEXIST, "the same token hash twice: -EEXIST");

        struct apikey g;
        is_int(store_key_get(st, org_a.id, ka.id, &g), 0, "get alice's key in acme");
        is_str(g.name, "ci", "  name");
        is_str(g.prefix, "rb_abcd", "  prefix");
        is_str(g.project_id, default_a.id, "  project id");
        is_str(g.project_name, "default", "  project name");
        is_int(g.scopes, SCOPES_ALL, "  scopes");
        is_int(g.expires_at, 0, "  never expires");
        is_int(g.principal_kind, PK_USER, "  principal kind");
        is_int(store_key_get(st, org_b.id, ka.id, &g), -ENOENT,
               "get acme's key through globex: -ENOENT");
        is_int(store_key_delete(st, org_b.id, ka.id), -ENOENT,
               "delete acme's key through globex: -ENOENT");
        is_int(store_key_rehash(st, org_b.id, ka.id, h4, "rb_x"), -ENOENT,
               "rehash acme's key through globex: -ENOENT");
        is_int(store_key_get(st, org_a.id, ka.id, &g), 0, "  and the key is intact");

        struct principal p;
        is_int(store_key_authenticate(st, h1, NOW, &p), 0, "authenticate alice's key");
        is_str(p.id, alice.id, "  principal alice");
        is_str(p.key_id, ka.id, "  key id");
        is_str(p.org_id, org_a.id, "  org");
        is_str(p.org_name, "acme", "  org name");
        is_str(p.project_name, "default", "  project");
        is_str(p.email, "alice@example.com", "  email");
        is_int(p.kind, PK_USER, "  user");
        is_int(p.method, AUTH_KEY, "  by key");
        is_int(p.scopes, SCOPES_ALL, "  admin: every scope");

        /* Bob is a member of acme: his all-scopes key is narrowed to what members hold. */
        is_int(store_key_authenticate(st, h2, NOW, &p), 0, "authenticate bob's key");
        is_int(p.role, ROLE_MEMBER, "  bob is member");
        is_int(p.scopes, SCOPES_RIG, "  scopes narrowed to the member role");
        bool created;
        store_member_put(st, org_a.id, bob.id, ROLE_ADMIN, NOW, &created);
        store_key_authenticate(st, h2, NOW, &p);
        is_int(p.scopes, SCOPES_ALL, "  promoted: every scope at once");
        store_member_put(st, org_a.id, bob.id, ROLE_MEMBER, NOW, &created);
        store_key_authenticate(st, h2, NOW, &p);
        is_int(p.scopes, SCOPES_RIG, "  demoted: narrowed at once");
        store_member_delete(st, org_a.id, bob.id);
        is_int(store_key_authenticate(st, h2, NOW, &p), -EACCES, "  removed from the org: -EACCES");
        store_member_put(st, org_a.id, bob.id, ROLE_MEMBER, NOW, &created);

        is_int(store_key_authenticate(st, h3, NOW + 59, &p), 0, "expiring key before expiry");
        is_int(p.scopes, SCOPE_INSTANCES_READ, "  its own scopes");
        is_int(store_key_authenticate(st, h3, NOW + 60, &p), -EKEYEXPIRED,
               "expiring key at expiry: -EKEYEXPIRED");
        is_int(store_key_authenticate(st, h4, NOW, &p), -ENOENT, "unknown hash: -ENOENT");

        is_int(store_key_touch(st, ka.id, NOW + 5), 0, "touch");
        store_key_get(st, org_a.id, ka.id, &g);
        is_int(g.last_used_at, NOW + 5, "  last_used_at set");

        struct page pg = {.after = 0, .limit = 50};
        struct list l = {0};
        is_int(store_keys_list(st, org_a.id, NULL, &pg, &l), 0, "all acme keys");
        is_int(l.n, 3, "  3");
        free(l.items);
        is_int(store_keys_list(st, org_a.id, alice.id, &pg, &l), 0, "alice's acme keys");
        is_int(l.n, 2, "  2");
        free(l.items);
        is_int(store_keys_list(st, org_b.id, NULL, &pg, &l), 0, "globex keys");
        is_int(l.n, 0, "  none");
        free(l.items);

        is_int(store_key_rehash(st, org_a.id, ka.id, h4, "rb_new"), 0, "rotate alice's key");
        is_int(store_key_authenticate(st, h1, NOW, &p), -ENOENT, "  the old token is dead");
        is_int(store_key_authenticate(st, h4, NOW, &p), 0, "  the new one works");
        is_str(p.key_id, ka.id, "  same key id");
        is_int(store_key_delete(st, org_a.id, ka.id), 0, "revoke");
        is_int(store_key_authenticate(st, h4, NOW, &p), -ENOENT, "  revoked key is dead");
        is_int(store_key_delete(st, org_a.id, ka.id), -ENOENT, "  revoke again: -ENOENT");
}

static void test_sessions(void)
{
        uint8_t s1[TOKEN_HASH_LEN], s2[TOKEN_HASH_LEN], s3[TOKEN_HASH_LEN];
        hash_of("rs_one", s1);
        hash_of("rs_two", s2);
        hash_of("rs_three", s3);
        is_int(store_session_insert(st, s1, alice.id, org_a.id, NOW, NOW + SESSION_MAX_S), 0,
               "session for alice");
        is_int(store_session_insert(st, s2, bob.id, org_a.id, NOW, NOW + SESSION_MAX_S), 0,
               "session for bob");
        is_int(store_session_insert(st, s1, bob.id, org_a.id, NOW, NOW + 10), -EEXIST,
               "same hash twice: -EEXIST");

        struct principal p;
        is_int(store_session_authenticate(st, s1, NOW + 1, &p), 0, "authenticate alice's session");
        is_str(p.id, alice.id, "  alice");
        is_int(p.method, AUTH_SESSION, "  by session");
        is_int(p.scopes, SCOPES_ALL, "  admin scopes");
        ok(memcmp(p.session_hash, s1, TOKEN_HASH_LEN) == 0, "  session hash kept");
        is_int(store_session_authenticate(st, s2, NOW + 1, &p), 0, "bob's session");
        is_int(p.scopes, SCOPES_RIG, "  member scopes");
        is_int(store_session_authenticate(st, s3, NOW, &p), -ENOENT, "unknown session: -ENOENT");

        is_int(store_session_authenticate(st, s1, NOW + SESSION_IDLE_S - 1, &p), 0,
               "idle just under 12 h: valid");
        is_int(store_session_authenticate(st, s1, NOW + SESSION_IDLE_S, &p), -EKEYEXPIRED,
               "idle 12 h: expired");
        is_int(store_session_touch(st, s1, NOW + SESSION_IDLE_S - 1), 0, "touch before idling out");
        is_int(store_session_authenticate(st, s1, NOW + SESSION_IDLE_S + 100, &p), 0,
               "  touched session still valid");
        for (int64_t t = NOW; t < NOW + SESSION_MAX_S; t += SESSION_IDLE_S / 2)
                store_session_touch(st, s1, t);
        is_int(store_session_authenticate(st, s1, NOW + SESSION_MAX_S, &p), -EKEYEXPIRED,
               "kept alive, still expires after 7 days");

        is_int(store_session_set_org(st, s2, org_b.id), 0, "bob switches to globex");
        is_int(store_session_authenticate(st, s2, NOW + 2, &p), 0, "  session valid");
        is_str(p.org_id, org_b.id, "  in globex");
        is_int(p.role, ROLE_ADMIN, "  as admin there");

        is_int(store_sessions_active(st, NOW + 2), 2, "2 active sessions");
        is_int(store_sessions_sweep(st, NOW + SESSION_IDLE_S + 2), 0, "sweep");
        is_int(store_sessions_active(st, NOW + 2), 1, "bob's idle session swept, alice's kept");
        is_int(store_session_delete(st, s1), 0, "logout");
        is_int(store_session_authenticate(st, s1, NOW + 3, &p), -ENOENT, "  session gone");
}

static int insert_rig(const char *name, const char *ip)
{
        struct rig r = {.state = RIG_RUNNING,
                        .cpus = 1,
                        .memory_mb = 64,
                        .max_processes = 16,
                        .disk_mb = 256,
                        .created_at = NOW};
        id_new("rig_", r.id);
        memcpy(r.org_id, org_a.id, ID_MAX);
        memcpy(r.project_id, default_a.id, ID_MAX);
        snprintf(r.name, sizeof(r.name), "%s", name);
        snprintf(r.template_name, sizeof(r.template_name), "base");
        snprintf(r.created_by, sizeof(r.created_by), "%s", alice.id);
        snprintf(r.ip, sizeof(r.ip), "%s", ip);
        return store_rig_insert(st, &r);
}

/* Rig addresses: the lowest free one of the range, freed ones reused, unique per store. */
static void test_rig_ips(void)
{
        const uint32_t first = 0x0a000002, last = 0x0a000004; /* 10.0.0.2 .. 10.0.0.4 */
        char ip[64];
        is_int(store_rig_alloc_ip(st, first, last, ip), 0, "an address from an empty store");
        is_str(ip, "10.0.0.2", "  the first of the range");
        is_int(insert_rig("ip-a", ip), 0, "a rig with it");
        is_int(insert_rig("ip-dup", "10.0.0.2"), -EEXIST, "another rig with it: -EEXIST");
        is_int(insert_rig("ip-c", "10.0.0.4"), 0, "a rig with the last address");
        is_int(insert_rig("ip-other", "192.168.9.9"), 0, "a rig with an address off the range");
        is_int(store_rig_alloc_ip(st, first, last, ip), 0, "the next address");
        is_str(ip, "10.0.0.3", "  the gap is filled first");
        is_int(insert_rig("ip-b", ip), 0, "a rig with it");
        is_int(store_rig_alloc_ip(st, first, last, ip), -ENOSPC, "a full range: -ENOSPC");
        struct tenant t = {.org_id = org_a.id};
        struct rig got;
        is_int(store_rig_get(st, &t, "ip-a", default_a.id, &got), 0, "find ip-a");
        is_int(store_rig_delete(st, got.id), 0, "delete it");
        rig_free_fields(&got);
        is_int(store_rig_alloc_ip(st, first, last, ip), 0, "an address after the delete");
        is_str(ip, "10.0.0.2", "  the freed one is reused");
}

int main(void)
{
        if (sodium_init() < 0)
                return skip_all("libsodium failed to initialise");
        if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "store") < 0)
                return skip_all("cannot create a temporary directory");
        snprintf(dbpath, sizeof(dbpath), "%s/rigs.db", tmpdir);
        test_open();
        if (st) {
                test_users();
                test_orgs();
                test_members();
                test_projects();
                test_pagination();
                test_keys();
                test_sessions();
                test_rig_ips();
                store_close(st);
        }
        tu_rmrf(tmpdir);
        return done_testing();
}
