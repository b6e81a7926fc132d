/* The SQLite store's apps and previews: insert, tenant scoping, deployment-wide name uniqueness,
 * updates, the router's lookup, preview expiry, revocation, sweep, and cascades on rig delete. */
#include "core/apps.h"

#include <sodium.h>

#include "tap.h"
#include "testutil.h"

#define NOW 1700000000

static char tmpdir[256];
static char dbpath[300];
static struct store *st;

static struct user alice, bob;
static struct org org_a, org_b;
static struct project default_a, default_b, other_a;
static struct rig rig_a, rig_a2, rig_b;

static void hash_of(const char *tok, uint8_t out[TOKEN_HASH_LEN])
{
        static const uint8_t pepper[SECRET_KEY_LEN] = {7, 7, 7};
        token_hash(pepper, tok, strlen(tok), out);
}

static int mkuser(struct user *u, const char *email)
{
        memset(u, 0, sizeof(*u));
        id_new("usr_", u->id);
        snprintf(u->email, sizeof(u->email), "%s", email);
        snprintf(u->name, sizeof(u->name), "%s", email);
        u->created_at = NOW;
        return store_user_insert(st, u);
}

static int mkrig(struct rig *r, const struct org *o, const struct project *p, const char *name,
                 const char *ip, int64_t auto_sleep_s)
{
        memset(r, 0, sizeof(*r));
        r->state = RIG_RUNNING;
        r->cpus = 1;
        r->memory_mb = 64;
        r->max_processes = 16;
        r->disk_mb = 256;
        r->created_at = NOW;
        r->auto_sleep_s = auto_sleep_s;
        id_new("rig_", r->id);
        memcpy(r->org_id, o->id, ID_MAX);
        memcpy(r->project_id, p->id, ID_MAX);
        snprintf(r->name, sizeof(r->name), "%s", name);
        snprintf(r->template_name, sizeof(r->template_name), "base");
        snprintf(r->created_by, sizeof(r->created_by), "%s", o == &org_a ? alice.id : bob.id);
        snprintf(r->ip, sizeof(r->ip), "%s", ip);
        return store_rig_insert(st, r);
}

static struct app mkapp(const struct rig *r, const char *name, int port, enum app_visibility v)
{
        struct app a = {.port = port, .visibility = v, .created_at = NOW};
        snprintf(a.name, sizeof(a.name), "%s", name);
        memcpy(a.rig_id, r->id, ID_MAX);
        memcpy(a.org_id, r->org_id, ID_MAX);
        memcpy(a.project_id, r->project_id, ID_MAX);
        memcpy(a.created_by, r->created_by, ID_MAX);
        a.allowed_emails = (char *)"[\"x@example.com\"]";
        return a;
}

static void setup(void)
{
        int r = mkuser(&alice, "alice@example.com");
        r = r ?: mkuser(&bob, "bob@example.com");
        r = r ?: store_org_create(st, "acme", alice.id, NOW, &org_a, &default_a);
        r = r ?: store_org_create(st, "globex", bob.id, NOW, &org_b, &default_b);
        memset(&other_a, 0, sizeof(other_a));
        id_new("prj_", other_a.id);
        memcpy(other_a.org_id, org_a.id, ID_MAX);
        snprintf(other_a.name, sizeof(other_a.name), "other");
        r = r ?: store_project_insert(st, &other_a);
        r = r ?: mkrig(&rig_a, &org_a, &default_a, "a", "10.0.0.2", 0);
        r = r ?: mkrig(&rig_a2, &org_a, &other_a, "a2", "", 0);
        r = r ?: mkrig(&rig_b, &org_b, &default_b, "b", "10.0.0.3", 120);
        is_int(r, 0, "users, orgs, projects and rigs");
}

static void test_visibility(void)
{
        enum app_visibility v;
        is_int(app_visibility_parse("public", &v), 0, "parse public");
        is_int(v, APP_PUBLIC, "  APP_PUBLIC");
        is_int(app_visibility_parse("privileged", &v), 0, "parse privileged");
        is_str(app_visibility_name(v), "privileged", "  and back");
        is_int(app_visibility_parse("Public", &v), -EINVAL, "visibility is case-sensitive");
        is_int(app_visibility_parse("", &v), -EINVAL, "empty visibility");
        is_str(app_visibility_name((enum app_visibility)99), "private", "odd value: private");
}

static void test_insert_get(void)
{
        struct app a = mkapp(&rig_a, "web", 8080, APP_PUBLIC);
        is_int(store_app_insert(st, &a), 0, "insert web on rig a");
        struct app dup = mkapp(&rig_b, "web", 9000, APP_PRIVATE);
        is_int(store_app_insert(st, &dup), -EEXIST, "the name is taken across orgs: -EEXIST");
        dup = mkapp(&rig_a, "web", 9000, APP_PRIVATE);
        is_int(store_app_insert(st, &dup), -EEXIST, "  and on the same rig");
        struct app b = mkapp(&rig_b, "shop", 3000, APP_PRIVILEGED);
        is_int(store_app_insert(st, &b), 0, "insert shop on rig b");
        struct app c = mkapp(&rig_a2, "docs", 80, APP_PRIVATE);
        is_int(store_app_insert(st, &c), 0, "insert docs on rig a2 (project other)");

        struct tenant ta = {.org_id = org_a.id}, tb = {.org_id = org_b.id};
        struct app got;
        is_int(store_app_get(st, &ta, rig_a.id, "web", &got), 0, "get web as acme");
        is_int(got.port, 8080, "  port");
        is_int(got.visibility, APP_PUBLIC, "  visibility");
        is_str(got.allowed_emails, "[\"x@example.com\"]", "  allowed_emails");
        is_str(got.project_id, default_a.id, "  project");
        ok(got.seq > 0, "  seq");
        app_free_fields(&got);
        is_int(store_app_get(st, &tb, rig_a.id, "web", &got), -ENOENT,
               "another org's app: -ENOENT");
        is_int(store_app_get(st, &ta, rig_a2.id, "web", &got), -ENOENT,
               "the app of another rig: -ENOENT");
        struct tenant ta_default = {.org_id = org_a.id, .project_id = default_a.id};
        is_int(store_app_get(st, &ta_default, rig_a2.id, "docs", &got), -ENOENT,
               "a project-bound tenant cannot see another project's app");
        is_int(store_app_get(st, &ta, rig_a2.id, "docs", &got), 0, "  an org-wide one can");
        app_free_fields(&got);
}

static void test_list_update_delete(void)
{
        struct tenant ta = {.org_id = org_a.id}, tb = {.org_id = org_b.id};
        for (int i = 0; i < 5; i++) {
                char name[16];
                snprintf(name, sizeof(name), "p%d", i);
                struct app a = mkapp(&rig_a, name, 1000 + i, APP_PRIVATE);
                a.allowed_emails = NULL;
                is_int(store_app_insert(st, &a), 0, "insert %s", name);
        }
        struct page pg = {.after = 0, .limit = 4};
        _cleanup_(apps_list_free) struct list l = {0};
        is_int(store_apps_list(st, &ta, rig_a.id, &pg, &l), 0, "list rig a, 4 a page");
        is_int(l.n, 4, "  4 items");
        is_str(((struct app *)l.items)[0].name, "web", "  oldest first");
        is_str(((struct app *)l.items)[1].allowed_emails, "[]", "  NULL emails stored as []");
        ok(l.next > 0, "  a next cursor");
        pg.after = l.next;
        apps_list_free(&l);
        is_int(store_apps_list(st, &ta, rig_a.id, &pg, &l), 0, "second page");
        is_int(l.n, 2, "  the last 2");
        is_int(l.next, 0, "  no more");
        apps_list_free(&l);
        pg.after = 0;
        is_int(store_apps_list(st, &tb, rig_a.id, &pg, &l), 0, "list rig a as globex");
        is_int(l.n, 0, "  nothing");
        apps_list_free(&l);

        struct app a = mkapp(&rig_a, "web", 8443, APP_PRIVILEGED);
        a.allowed_emails = (char *)"[\"y@example.com\"]";
        is_int(store_app_update(st, &a), 0, "update web");
        struct app got;
        is_int(store_app_get(st, &ta, rig_a.id, "web", &got), 0, "read it back");
        is_int(got.port, 8443, "  new port");
        is_int(got.visibility, APP_PRIVILEGED, "  new visibility");
        is_str(got.allowed_emails, "[\"y@example.com\"]", "  new emails");
        app_free_fields(&got);
        a = mkapp(&rig_b, "web", 1, APP_PUBLIC);
        is_int(store_app_update(st, &a), -ENOENT, "update through another rig: -ENOENT");
        is_int(store_app_delete(st, rig_b.id, "p0"), -ENOENT, "delete through another rig");
        is_int(store_app_delete(st, rig_a.id, "p0"), 0, "delete p0");
        is_int(store_app_delete(st, rig_a.id, "p0"), -ENOENT, "  again: -ENOENT");
        is_int(store_app_get(st, &ta, rig_a.id, "p0", &got), -ENOENT, "  gone");
}

static void test_route(void)
{
        struct app_route rt;
        is_int(store_app_route(st, "shop", &rt), 0, "route shop (no tenant)");
        is_str(rt.app.rig_id, rig_b.id, "  its rig");
        is_str(rt.rig_owner, bob.id, "  the rig's owner");
        is_str(rt.rig_ip, "10.0.0.3", "  the rig's address");
        is_int(rt.rig_state, RIG_RUNNING, "  the rig's state");
        is_int(rt.auto_sleep_s, 120, "  its auto_sleep_s");
        is_int(rt.app.visibility, APP_PRIVILEGED, "  the app's visibility");
        app_free_fields(&rt.app);
        is_int(store_rig_set_state(st, rig_b.id, RIG_PAUSED, NULL), 0, "pause rig b");
        is_int(store_rig_set_auto_sleep(st, rig_b.id, 60), 0, "change its auto_sleep_s");
        is_int(store_app_route(st, "shop", &rt), 0, "route shop again");
        is_int(rt.rig_state, RIG_PAUSED, "  paused");
        is_int(rt.auto_sleep_s, 60, "  60");
        app_free_fields(&rt.app);
        is_int(store_app_route(st, "docs", &rt), 0, "route docs");
        is_str(rt.rig_ip, "", "  a rig without an address: \"\"");
        app_free_fields(&rt.app);
        is_int(store_app_route(st, "nope", &rt), -ENOENT, "unknown name: -ENOENT");
        struct tenant tb = {.org_id = org_b.id};
        struct rig r;
        is_int(store_rig_get(st, &tb, rig_b.id, NULL, &r), 0, "rig b read back");
        is_int(r.auto_sleep_s, 60, "  with auto_sleep_s");
        rig_free_fields(&r);
}

static struct preview mkpreview(const struct rig *r, const char *app, int64_t expires_at)
{
        struct preview p = {.created_at = NOW, .expires_at = expires_at};
        snprintf(p.app_name, sizeof(p.app_name), "%s", app);
        memcpy(p.rig_id, r->id, ID_MAX);
        memcpy(p.org_id, r->org_id, ID_MAX);
        memcpy(p.created_by, r->created_by, ID_MAX);
        return p;
}

static void test_previews(void)
{
        uint8_t h1[TOKEN_HASH_LEN], h2[TOKEN_HASH_LEN], h3[TOKEN_HASH_LEN], hx[TOKEN_HASH_LEN];
        hash_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", h1);
        hash_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2", h2);
        hash_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3", h3);
        hash_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4", hx);
        struct preview p = mkpreview(&rig_a, "web", NOW + 3600);
        is_int(store_preview_insert(st, h1, &p), 0, "a preview of web");
        is_int(store_preview_insert(st, h1, &p), -EEXIST, "  the same hash twice: -EEXIST");
        p = mkpreview(&rig_a, "web", NOW + 10);
        is_int(store_preview_insert(st, h2, &p), 0, "a short one");
        p = mkpreview(&rig_b, "shop", NOW + 3600);
        is_int(store_preview_insert(st, h3, &p), 0, "a preview of shop");
        p = mkpreview(&rig_a, "nope", NOW + 3600);
        is_int(store_preview_insert(st, hx, &p), -EEXIST, "a preview of no app: refused");

        is_int(store_preview_check(st, h1, "web", NOW), 0, "check: valid");
        is_int(store_preview_check(st, h1, "shop", NOW), -ENOENT, "  for another app: -ENOENT");
        is_int(store_preview_check(st, hx, "web", NOW), -ENOENT, "  unknown hash: -ENOENT");
        is_int(store_preview_check(st, h2, "web", NOW + 9), 0, "short one before expiry");
        is_int(store_preview_check(st, h2, "web", NOW + 10), -ENOENT, "  at expiry: -ENOENT");

        struct preview got;
        is_int(store_preview_delete(st, org_b.id, h1, &got), -ENOENT,
               "revoke another org's preview: -ENOENT");
        is_int(store_preview_check(st, h1, "web", NOW), 0, "  still valid");
        is_int(store_preview_delete(st, org_a.id, h1, &got), 0, "revoke it");
        is_str(got.app_name, "web", "  its app");
        is_str(got.rig_id, rig_a.id, "  its rig");
        is_int(got.expires_at, NOW + 3600, "  its expiry");
        is_int(store_preview_check(st, h1, "web", NOW), -ENOENT, "  no longer valid");
        is_int(store_preview_delete(st, org_a.id, h1, NULL), -ENOENT, "  revoke again: -ENOENT");

        is_int(store_previews_sweep(st, NOW), 0, "sweep: nothing expired yet");
        is_int(store_previews_sweep(st, NOW + 10), 1, "sweep after the short one expired: 1");
        is_int(store_preview_delete(st, org_a.id, h2, NULL), -ENOENT, "  it is gone");
        is_int(store_preview_check(st, h3, "shop", NOW), 0, "  shop's remains");
}

static void test_cascade(void)
{
        uint8_t h[TOKEN_HASH_LEN];
        hash_of("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", h);
        struct preview p = mkpreview(&rig_a, "web", NOW + 3600);
        is_int(store_preview_insert(st, h, &p), 0, "a preview of web");
        is_int(store_app_delete(st, rig_a.id, "p1"), 0, "deleting an app");
        struct app_route rt;
        is_int(store_app_route(st, "p1", &rt), -ENOENT, "  frees its name for the router");
        struct app a = mkapp(&rig_b, "p1", 80, APP_PUBLIC);
        is_int(store_app_insert(st, &a), 0, "  and for another org");
        is_int(store_rig_delete(st, rig_a.id), 0, "delete rig a");
        is_int(store_app_route(st, "web", &rt), -ENOENT, "  its apps are gone");
        is_int(store_app_route(st, "p2", &rt), -ENOENT, "  all of them");
        is_int(store_preview_check(st, h, "web", NOW), -ENOENT, "  and their previews");
        a = mkapp(&rig_b, "web", 80, APP_PUBLIC);
        is_int(store_app_insert(st, &a), 0, "  the name is free again");
        is_int(store_app_route(st, "shop", &rt), 0, "other rigs' apps remain");
        app_free_fields(&rt.app);
        uint8_t h3[TOKEN_HASH_LEN];
        hash_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3", h3);
        is_int(store_app_delete(st, rig_b.id, "shop"), 0, "delete shop");
        is_int(store_preview_check(st, h3, "shop", NOW), -ENOENT, "  its preview went with it");
}

int main(void)
{
        if (sodium_init() < 0)
                return skip_all("libsodium failed to initialise");
        if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "store-apps") < 0)
                return skip_all("cannot create a temporary directory");
        snprintf(dbpath, sizeof(dbpath), "%s/rigs.db", tmpdir);
        is_int(store_open(dbpath, true, &st), 0, "create a store");
        if (st) {
                setup();
                test_visibility();
                test_insert_get();
                test_list_update_delete();
                test_route();
                test_previews();
                test_cascade();
                store_close(st);
        }
        tu_rmrf(tmpdir);
        return done_testing();
}
