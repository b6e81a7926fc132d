/* Apps (a port of a rig served by the app router under NAME.DOMAIN) and their preview links:
 * POST/GET /api/rigs/{id}/apps, GET/PATCH/DELETE /api/rigs/{id}/apps/{name},
 * POST /api/rigs/{id}/apps/{name}/previews and DELETE /api/previews/{token}. Each change commits
 * with its audit entry (target: the rig's id); the dispatcher bumps auth_gen after every
 * mutation, so the router's caches see it on their next request. Preview tokens are returned
 * once and kept only as keyed hashes: never in the audit log, never in a log line. */
#include "core/apps.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "rigd/api.h"
#include "router/router.h"

#include <sodium.h>
#include <stdio.h>

#define PREVIEW_TTL_DEF   3600
#define PREVIEW_TTL_MAX   (30 * 24 * 3600)
#define PREVIEW_SWEEP_MS  30000
#define PREVIEW_URL_PARAM "/?rigs_preview="
#define APP_URL_MAX       512
#define APP_NAME_RULE_TEXT                                                                         \
        "app names are 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"

static void tenant_of(const struct reqctx *c, struct tenant *t)
{
        t->org_id = c->p.org_id;
        t->project_id = c->p.project_id[0] ? c->p.project_id : NULL;
}

static json_t *app_json(const struct rigd *d, const struct app *a)
{
        char url[APP_URL_MAX];
        router_app_url(d, a->name, url, sizeof(url));
        json_t *emails = json_loads(a->allowed_emails ? a->allowed_emails : "[]", 0, NULL);
        if (!json_is_array(emails)) {
                json_decref(emails);
                emails = json_array();
        }
        return json_pack("{s:s,s:i,s:s,s:o,s:s,s:s,s:s,s:o}", "name", a->name, "port", a->port,
                         "visibility", app_visibility_name(a->visibility), "allowed_emails", emails,
                         "url", url, "rig", a->rig_id, "created_by", a->created_by, "created_at",
                         json_time(a->created_at));
}

static void lower_ascii(char *s)
{
        for (; *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                        *s = (char)(*s - 'A' + 'a');
}

/* Validates allowed_emails (an array of at most APP_EMAILS_MAX addresses); on success *out is
 * its JSON text, lowercased and without duplicates. NULL or JSON null: "[]". */
static int emails_parse(struct reqctx *c, json_t *v, char **out)
{
        if (v && !json_is_null(v) && (!json_is_array(v) || json_array_size(v) > APP_EMAILS_MAX)) {
                reply_error(c, 400, "invalid_request",
                            "allowed_emails must be an array of at most %d email addresses",
                            APP_EMAILS_MAX);
                return -EINVAL;
        }
        json_t *norm = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
                char addr[256];
                if (!json_is_string(e) || json_string_length(e) >= sizeof(addr) ||
                    !email_valid(json_string_value(e))) {
                        reply_error(c, 400, "invalid_request",
                                    "allowed_emails[%zu] is not a valid email address", i);
                        json_decref(norm);
                        return -EINVAL;
                }
                snprintf(addr, sizeof(addr), "%s", json_string_value(e));
                lower_ascii(addr);
                bool dup = false;
                size_t j;
                json_t *x;
                json_array_foreach(norm, j, x) dup = dup || streq(json_string_value(x), addr);
                if (!dup)
                        json_array_append_new(norm, json_string(addr));
        }
        *out = json_dumps(norm, JSON_COMPACT);
        json_decref(norm);
        return 0;
}

static int visibility_parse(struct reqctx *c, const char *s, enum app_visibility *out)
{
        if (app_visibility_parse(s, out) == 0)
                return 0;
        reply_error(c, 400, "invalid_request",
                    "visibility must be \"private\", \"public\" or \"privileged\"");
        return -EINVAL;
}

/* Commits one app change (insert, update or delete) with its audit entry. */
enum app_op { APP_INSERT, APP_UPDATE, APP_DELETE };

static int app_commit(struct reqctx *c, enum app_op op, const struct app *a)
{
        int r = store_begin(c->st);
        if (r < 0)
                return r;
        r = op == APP_INSERT   ? store_app_insert(c->st, a)
            : op == APP_UPDATE ? store_app_update(c->st, a)
                               : store_app_delete(c->st, a->rig_id, a->name);
        if (r == 0)
                r = audit_here(c, "ok");
        if (r == 0)
                r = store_commit(c->st);
        else
                store_rollback(c->st);
        if (r < 0)
                c->audited = false; /* the entry rolled back: the fallback one records the error */
        return r;
}

/* ---- create ---- */

struct app_in {
        char name[APP_NAME_MAX];
        int64_t port;
        char visibility[16];
        json_t *allowed_emails;
};

void api_apps_create(struct reqctx *c)
{
        static const struct jfield fields[] = {
            JF_STR_FIELD(struct app_in, name, true),
            JF_INT_FIELD(struct app_in, port, true, 1, 65535),
            JF_STR_FIELD(struct app_in, visibility, false),
            JF_JSON_FIELD(struct app_in, allowed_emails, false),
        };
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        if (rig_from_path(c, &r) < 0)
                return;
        struct app_in in = {.visibility = "private"};
        json_t *root = NULL;
        if (body_decode(c, fields, ARRAY_SIZE(fields), &in, NULL, &root) < 0)
                return;
        _cleanup_(app_free_fields) struct app a;
        memset(&a, 0, sizeof(a));
        int ret = 0;
        if (!name_valid(in.name)) {
                reply_error(c, 400, "invalid_request", APP_NAME_RULE_TEXT);
                ret = -EINVAL;
        }
        if (ret == 0)
                ret = visibility_parse(c, in.visibility, &a.visibility);
        if (ret == 0)
                ret = emails_parse(c, in.allowed_emails, &a.allowed_emails);
        json_decref(root);
        if (ret < 0)
                return;
        snprintf(a.name, sizeof(a.name), "%s", in.name);
        snprintf(a.rig_id, sizeof(a.rig_id), "%s", r.id);
        snprintf(a.org_id, sizeof(a.org_id), "%s", r.org_id);
        snprintf(a.project_id, sizeof(a.project_id), "%s", r.project_id);
        snprintf(a.created_by, sizeof(a.created_by), "%s", c->p.id);
        a.port = (int)in.port;
        a.created_at = now_ms() / 1000;
        ret = app_commit(c, APP_INSERT, &a);
        if (ret == -EEXIST)
                reply_error(c, 409, "conflict",
                            "an app named '%s' already exists; app names are unique per "
                            "deployment",
                            a.name);
        else if (ret < 0)
                reply_errno(c, ret, "app");
        else
                reply_json(c, 201, app_json(c->d, &a));
}

/* ---- read ---- */

void api_apps_list(struct reqctx *c)
{
        struct page pg;
        if (page_from_query(c, &pg) < 0)
                return;
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        if (rig_from_path(c, &r) < 0)
                return;
        struct tenant t;
        tenant_of(c, &t);
        _cleanup_(apps_list_free) struct list l = {0};
        int ret = store_apps_list(c->st, &t, r.id, &pg, &l);
        if (ret < 0) {
                reply_errno(c, ret, "apps");
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(items, app_json(c->d, &((struct app *)l.items)[i]));
        reply_json(c, 200, json_list(items, l.next));
}

/* Resolves {id} and {name}; replies 404 itself. */
static int app_from_path(struct reqctx *c, struct rig *r, struct app *out)
{
        char name[APP_NAME_MAX];
        if (rig_from_path(c, r) < 0 || path_param(c, 1, name, sizeof(name)) < 0)
                return -ENOENT;
        struct tenant t;
        tenant_of(c, &t);
        int ret = store_app_get(c->st, &t, r->id, name, out);
        if (ret < 0)
                reply_errno(c, ret, "app");
        return ret;
}

void api_apps_get(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        _cleanup_(app_free_fields) struct app a;
        memset(&r, 0, sizeof(r));
        memset(&a, 0, sizeof(a));
        if (app_from_path(c, &r, &a) < 0)
                return;
        reply_json(c, 200, app_json(c->d, &a));
}

/* ---- update, delete ---- */

/* Applies a PATCH body to a: only port, visibility and allowed_emails change after creation. */
static int patch_apply(struct reqctx *c, json_t *root, struct app *a)
{
        const char *k;
        json_t *v;
        if (json_object_size(root) == 0) {
                reply_error(c, 400, "invalid_request",
                            "nothing to change; PATCH takes port, visibility and allowed_emails");
                return -EINVAL;
        }
        json_object_foreach(root, k, v)
        {
                bool known =
                    streq(k, "port") || streq(k, "visibility") || streq(k, "allowed_emails");
                if (!known) {
                        reply_error(c, 400, "invalid_request",
                                    "%s cannot be changed; PATCH takes port, visibility and "
                                    "allowed_emails",
                                    k);
                        return -EINVAL;
                }
                if (json_is_null(v))
                        continue; /* null counts as absent */
                if (streq(k, "port")) {
                        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                            json_integer_value(v) > 65535) {
                                reply_error(c, 400, "invalid_request",
                                            "port must be an integer from 1 to 65535");
                                return -EINVAL;
                        }
                        a->port = (int)json_integer_value(v);
                } else if (streq(k, "visibility")) {
                        if (visibility_parse(c, json_is_string(v) ? json_string_value(v) : "",
                                             &a->visibility) < 0)
                                return -EINVAL;
                } else {
                        char *text = NULL;
                        if (emails_parse(c, v, &text) < 0)
                                return -EINVAL;
                        free(a->allowed_emails);
                        a->allowed_emails = text;
                }
        }
        return 0;
}

void api_apps_patch(struct reqctx *c)
{
        static const struct jfield none[] = {{0}};
        _cleanup_(rig_free_fields) struct rig r;
        _cleanup_(app_free_fields) struct app a;
        memset(&r, 0, sizeof(r));
        memset(&a, 0, sizeof(a));
        json_t *root = NULL;
        char dummy;
        if (body_decode(c, none, 0, &dummy, NULL, &root) < 0)
                return;
        int ret = app_from_path(c, &r, &a);
        if (ret == 0)
                ret = patch_apply(c, root, &a);
        json_decref(root);
        if (ret < 0)
                return;
        ret = app_commit(c, APP_UPDATE, &a);
        if (ret < 0)
                reply_errno(c, ret, "app");
        else
                reply_json(c, 200, app_json(c->d, &a));
}

void api_apps_delete(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        _cleanup_(app_free_fields) struct app a;
        memset(&r, 0, sizeof(r));
        memset(&a, 0, sizeof(a));
        if (app_from_path(c, &r, &a) < 0)
                return;
        int ret = app_commit(c, APP_DELETE, &a);
        if (ret < 0)
                reply_errno(c, ret, "app");
        else
                reply_empty(c, 204);
}

/* ---- previews ---- */

/* PREVIEW_TOKEN_LEN characters of [a-z0-9], uniform: random bytes of 252 and above (7 * 36) are
 * drawn again, so that `b % 36` has no bias. */
static void preview_token(char out[PREVIEW_TOKEN_LEN + 1])
{
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        size_t n = 0;
        while (n < PREVIEW_TOKEN_LEN) {
                uint8_t b[PREVIEW_TOKEN_LEN];
                randombytes_buf(b, sizeof(b));
                for (size_t i = 0; i < sizeof(b) && n < PREVIEW_TOKEN_LEN; i++)
                        if (b[i] < 252)
                                out[n++] = alphabet[b[i] % 36];
                sodium_memzero(b, sizeof(b));
        }
        out[n] = '\0';
}

static bool preview_token_valid(const char *s)
{
        size_t n = 0;
        for (; s[n]; n++)
                if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9')))
                        return false;
        return n == PREVIEW_TOKEN_LEN;
}

struct preview_in {
        int64_t expires_in_s;
};

static int preview_commit(struct reqctx *c, const uint8_t hash[TOKEN_HASH_LEN],
                          const struct preview *p)
{
        int r = store_begin(c->st);
        if (r == 0)
                r = store_preview_insert(c->st, hash, p);
        if (r == 0)
                r = audit_here(c, "ok");
        if (r == 0)
                r = store_commit(c->st);
        else
                store_rollback(c->st);
        if (r < 0)
                c->audited = false;
        return r;
}

void api_previews_create(struct reqctx *c)
{
        static const struct jfield fields[] = {
            JF_INT_FIELD(struct preview_in, expires_in_s, false, 1, PREVIEW_TTL_MAX),
        };
        _cleanup_(rig_free_fields) struct rig r;
        _cleanup_(app_free_fields) struct app a;
        memset(&r, 0, sizeof(r));
        memset(&a, 0, sizeof(a));
        if (app_from_path(c, &r, &a) < 0)
                return;
        struct preview_in in = {.expires_in_s = PREVIEW_TTL_DEF};
        if (c->req->entity.len > 0) {
                json_t *root = NULL;
                if (body_decode(c, fields, ARRAY_SIZE(fields), &in, NULL, &root) < 0)
                        return;
                json_decref(root);
        }
        struct preview p;
        memset(&p, 0, sizeof(p));
        snprintf(p.app_name, sizeof(p.app_name), "%s", a.name);
        snprintf(p.rig_id, sizeof(p.rig_id), "%s", a.rig_id);
        snprintf(p.org_id, sizeof(p.org_id), "%s", a.org_id);
        snprintf(p.created_by, sizeof(p.created_by), "%s", c->p.id);
        p.created_at = now_ms() / 1000;
        p.expires_at = p.created_at + in.expires_in_s;
        char tok[PREVIEW_TOKEN_LEN + 1];
        uint8_t hash[TOKEN_HASH_LEN];
        preview_token(tok);
        token_hash(c->d->secrets.pepper, tok, PREVIEW_TOKEN_LEN, hash);
        int ret = preview_commit(c, hash, &p);
        if (ret < 0) {
                sodium_memzero(tok, sizeof(tok));
                reply_errno(c, ret == -EEXIST ? -EIO : ret, "preview");
                return;
        }
        char url[APP_URL_MAX + sizeof(PREVIEW_URL_PARAM) + PREVIEW_TOKEN_LEN];
        int n = router_app_url(c->d, a.name, url, APP_URL_MAX);
        snprintf(url + n, sizeof(url) - (size_t)n, "%s%s", PREVIEW_URL_PARAM, tok);
        json_t *o = json_pack("{s:s,s:s,s:o,s:s}", "token", tok, "url", url, "expires_at",
                              json_time(p.expires_at), "app", a.name);
        sodium_memzero(tok, sizeof(tok));
        sodium_memzero(url, sizeof(url));
        reply_json(c, 201, o);
}

void api_previews_delete(struct reqctx *c)
{
        char tok[PREVIEW_TOKEN_LEN + 2];
        /* c->target stays empty until the preview is known: the token never reaches the audit. */
        if (path_param(c, 0, tok, sizeof(tok)) < 0)
                return;
        if (!preview_token_valid(tok)) {
                sodium_memzero(tok, sizeof(tok));
                reply_error(c, 404, "not_found", "preview not found");
                return;
        }
        uint8_t hash[TOKEN_HASH_LEN];
        token_hash(c->d->secrets.pepper, tok, PREVIEW_TOKEN_LEN, hash);
        sodium_memzero(tok, sizeof(tok));
        struct preview p;
        int ret = store_begin(c->st);
        if (ret == 0)
                ret = store_preview_delete(c->st, c->p.org_id, hash, &p);
        if (ret == 0 && c->p.project_id[0]) {
                /* A project-bound credential: only previews of its project's apps. */
                struct tenant t;
                struct app a;
                tenant_of(c, &t);
                memset(&a, 0, sizeof(a));
                ret = store_app_get(c->st, &t, p.rig_id, p.app_name, &a);
                app_free_fields(&a);
        }
        if (ret == 0) {
                snprintf(c->target, sizeof(c->target), "%s", p.rig_id);
                ret = audit_here(c, "ok");
        }
        if (ret == 0)
                ret = store_commit(c->st);
        else
                store_rollback(c->st);
        if (ret == -ENOENT) {
                reply_error(c, 404, "not_found", "preview not found");
        } else if (ret < 0) {
                /* Not reply_errno: it would log the request path, which holds the token. */
                c->audited = false;
                log_error("preview revoke failed: %s", strerror(-ret));
                reply_error(c, 500, "internal", "internal error; the request was not completed");
        } else {
                reply_empty(c, 204);
        }
}

/* Deletes expired previews every PREVIEW_SWEEP_MS (expired ones are refused anyway; this only
 * keeps the table small). Called from the sweep thread only. */
void apps_previews_sweep(struct rigd_thread *t)
{
        static int64_t next_ms;
        int64_t now = mono_ms();
        if (now < next_ms)
                return;
        next_ms = now + PREVIEW_SWEEP_MS;
        int n = store_previews_sweep(t->st, now_ms() / 1000);
        if (n < 0)
                log_warn("previews: cannot delete expired ones: %s", strerror(-n));
}
