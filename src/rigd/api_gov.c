/* Users, orgs, projects and members. */
#include "rigd/api.h"

#include "base/timeutil.h"
#include "core/password.h"
#include "rigd/worker.h"

#include <sodium.h>
#include <stdio.h>

bool name_valid(const char *s)
{
        size_t n = strlen(s);
        if (n < 1 || n > 63)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
                if (!alnum && !(ch == '-' && i > 0 && i < n - 1))
                        return false;
        }
        return true;
}

bool email_valid(const char *s)
{
        const char *at = strchr(s, '@');
        if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) > 254)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>')
                        return false;
        return true;
}

int org_from_path(struct reqctx *c, struct org *out)
{
        /* The dispatcher already checked membership and switched c->p to this org. */
        int r = store_org_resolve(c->st, c->p.org_id, c->p.id, out);
        if (r < 0) {
                reply_errno(c, r, "org");
                return r;
        }
        snprintf(c->target, sizeof(c->target), "%s", out->id);
        return 0;
}

static json_t *user_json(const struct user *u)
{
        return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", u->id, "email", u->email, "name", u->name,
                         "role", role_name(u->role), "created_at", json_time(u->created_at));
}

static json_t *org_json(const struct org *o)
{
        return json_pack("{s:s,s:s,s:s,s:o}", "id", o->id, "name", o->name, "role",
                         role_name(o->role), "created_at", json_time(o->created_at));
}

static json_t *project_json(const struct project *p)
{
        return json_pack("{s:s,s:s,s:s,s:o}", "id", p->id, "name", p->name, "org", p->org_id,
                         "created_at", json_time(p->created_at));
}

/* Runs effect(c, arg) and the audit entry in one transaction; replies on failure. */
static int in_txn(struct reqctx *c, int (*effect)(struct reqctx *c, void *arg), void *arg,
                  const char *what)
{
        int r = store_begin(c->st);
        if (r == 0 && (r = effect(c, arg)) == 0 && (r = audit_here(c, "ok")) == 0)
                r = store_commit(c->st);
        if (r < 0) {
                store_rollback(c->st);
                c->audited = false;
                reply_errno(c, r, what);
        }
        return r;
}

/* ---- users ---- */

struct user_in {
        char email[256];
        char password[PASSWORD_MAX_LEN + 1];
        char role[16];
        char name[256];
};

struct user_job {
        struct job super;
        struct user_in in;
        struct user u;
        int verdict;
};

static void user_hash_work(struct job *j)
{
        struct user_job *uj = (struct user_job *)j;
        uj->verdict = password_hash(uj->in.password, strlen(uj->in.password), uj->u.pw_hash);
}

static int user_effect(struct reqctx *c, void *arg)
{
        struct user *u = arg;
        bool created;
        int r = store_user_insert(c->st, u);
        if (r == 0)
                r = store_member_put(c->st, c->p.org_id, u->id, u->role, u->created_at, &created);
        return r;
}

static void user_hash_done(struct job *j)
{
        struct user_job *uj = (struct user_job *)j;
        struct reqctx *c = job_take_request(j);
        if (c) {
                if (uj->verdict < 0)
                        reply_errno(c, uj->verdict, "password hash");
                else if (in_txn(c, user_effect, &uj->u, "user with this email") == 0)
                        reply_json(c, 201, user_json(&uj->u));
        }
        sodium_memzero(uj, sizeof(*uj));
        free(uj);
}

void api_users_create(struct reqctx *c)
{
        static const struct jfield fields[] = {
            JF_STR_FIELD(struct user_in, email, true),
            JF_STR_FIELD(struct user_in, password, true),
            JF_STR_FIELD(struct user_in, role, true),
            JF_STR_FIELD(struct user_in, name, false),
        };
        struct user_job *uj = xcalloc(1, sizeof(*uj));
        json_t *root = NULL;
        if (body_decode(c, fields, ARRAY_SIZE(fields), &uj->in, NULL, &root) < 0) {
                free(uj);
                return;
        }
        json_decref(root);
        const char *err = NULL;
        enum role role = role_from_name(uj->in.role);
        if (!email_valid(uj->in.email))
                err = "email is not a valid address";
        else if (role == ROLE_NONE)
                err = "role must be \"admin\" or \"member\"";
        else if (strlen(uj->in.password) < PASSWORD_MIN_LEN)
                err = "password must be at least 8 characters";
        struct user existing;
        if (!err && store_user_by_email(c->st, uj->in.email, &existing) == 0) {
                sodium_memzero(uj, sizeof(*uj));
                free(uj);
                reply_error(c, 409, "conflict", "a user with this email already exists");
                return;
        }
        if (err) {
                sodium_memzero(uj, sizeof(*uj));
                free(uj);
                reply_error(c, 400, "invalid_request", "%s", err);
                return;
        }
        id_new("usr_", uj->u.id);
        snprintf(uj->u.email, sizeof(uj->u.email), "%s", uj->in.email);
        snprintf(uj->u.name, sizeof(uj->u.name), "%s", uj->in.name[0] ? uj->in.name : uj->in.email);
        uj->u.role = role;
        uj->u.created_at = now_ms() / 1000;
        snprintf(c->target, sizeof(c->target), "%s", uj->u.id);
        uj->super.work = user_hash_work;
        uj->super.done = user_hash_done;
        workpool_submit(c->d->pool, c, &uj->super);
}

void api_users_list(struct reqctx *c)
{
        struct page pg;
        if (page_from_query(c, &pg) < 0)
                return;
        _cleanup_list_ struct list l = {0};
        int r = store_users_list(c->st, c->p.org_id, &pg, &l);
        if (r < 0) {
                reply_errno(c, r, "users");
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(items, user_json(&((struct user *)l.items)[i]));
        reply_json(c, 200, json_list(items, l.next));
}

/* ---- orgs ---- */

struct org_create {
        const char *name;
        struct org org;
};

static int org_effect(struct reqctx *c, void *arg)
{
        struct org_create *oc = arg;
        int r = store_org_create(c->st, oc->name, c->p.id, now_ms() / 1000, &oc->org, NULL);
        if (r == 0) {
                /* The creation is recorded in the new org's log, where its admins look. */
                snprintf(c->target, sizeof(c->target), "%s", oc->org.id);
                snprintf(c->p.org_id, sizeof(c->p.org_id), "%s", oc->org.id);
        }
        return r;
}

void api_orgs_create(struct reqctx *c)
{
        struct {
                char name[64];
        } in = {{0}};
        static const struct jfield fields[] = {{"name", JF_STR, true, 0, 64, 0, 0}};
        json_t *root = NULL;
        if (body_decode(c, fields, 1, &in, NULL, &root) < 0)
                return;
        json_decref(root);
        if (c->p.project_id[0]) {
                reply_error(c, 403, "forbidden", "a project-bound key cannot create orgs");
                return;
        }
        if (!name_valid(in.name)) {
                reply_error(c, 400, "invalid_request",
                            "org names are 1-63 characters of a-z, 0-9 and '-', "
                            "not starting or ending with '-'");
                return;
        }
        struct org_create oc = {.name = in.name};
        if (in_txn(c, org_effect, &oc, "org with this name") == 0)
                reply_json(c, 201, org_json(&oc.org));
}

void api_orgs_list(struct reqctx *c)
{
        struct page pg;
        if (page_from_query(c, &pg) < 0)
                return;
        _cleanup_list_ struct list l = {0};
        int r = store_orgs_for_user(c->st, c->p.id, &pg, &l);
        if (r < 0) {
                reply_errno(c, r, "orgs");
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l.n; i++) {
                const struct org *o = &((struct org *)l.items)[i];
                /* A key is bound to one org and lists that org only; a session lists every
                 * org of its user (it can switch to them). */
                if (c->p.method == AUTH_KEY && !streq(o->id, c->p.org_id))
                        continue;
                json_array_append_new(items, org_json(o));
        }
        reply_json(c, 200, json_list(items, l.next));
}

/* ---- projects ---- */

static int project_effect(struct reqctx *c, void *arg)
{
        return store_project_insert(c->st, arg);
}

void api_projects_create(struct reqctx *c)
{
        struct org org;
        if (org_from_path(c, &org) < 0)
                return;
        struct {
                char name[64];
        } in = {{0}};
        static const struct jfield fields[] = {{"name", JF_STR, true, 0, 64, 0, 0}};
        json_t *root = NULL;
        if (body_decode(c, fields, 1, &in, NULL, &root) < 0)
                return;
        json_decref(root);
        if (c->p.project_id[0]) {
                reply_error(c, 403, "forbidden", "a project-bound key cannot create projects");
                return;
        }
        if (!name_valid(in.name)) {
                reply_error(c, 400, "invalid_request",
                            "project names are 1-63 characters of a-z, 0-9 and '-', "
                            "not starting or ending with '-'");
                return;
        }
        struct project p = {.created_at = now_ms() / 1000};
        id_new("prj_", p.id);
        snprintf(p.org_id, sizeof(p.org_id), "%s", org.id);
        snprintf(p.name, sizeof(p.name), "%s", in.name);
        snprintf(c->target, sizeof(c->target), "%s", p.id);
        snprintf(c->project, sizeof(c->project), "%s", p.id);
        if (in_txn(c, project_effect, &p, "project with this name") == 0)
                reply_json(c, 201, project_json(&p));
}

void api_projects_list(struct reqctx *c)
{
        struct org org;
        struct page pg;
        if (org_from_path(c, &org) < 0 || page_from_query(c, &pg) < 0)
                return;
        _cleanup_list_ struct list l = {0};
        int r = store_projects_list(c->st, org.id, c->p.project_id[0] ? c->p.project_id : NULL, &pg,
                                    &l);
        if (r < 0) {
                reply_errno(c, r, "projects");
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(items, project_json(&((struct project *)l.items)[i]));
        reply_json(c, 200, json_list(items, l.next));
}
