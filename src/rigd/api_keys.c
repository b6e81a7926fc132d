/* API keys: create, list, revoke, rotate. The token is shown once and stored only as a hash. */
#include "rigd/api.h"

#include "base/timeutil.h"

#include <sodium.h>
#include <stdio.h>

#define KEY_MAX_TTL_S (10ll * 365 * 24 * 3600)

static json_t *key_json(const struct apikey *k)
{
        json_t *scopes = json_array();
        for (size_t i = 0; i < scope_count(); i++)
                if (k->scopes & scope_at(i))
                        json_array_append_new(scopes, json_string(scope_name(scope_at(i))));
        return json_pack("{s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:s}", "id", k->id, "name", k->name,
                         "prefix", k->prefix, "scopes", scopes, "org", k->org_id, "project",
                         k->project_id[0] ? json_string(k->project_id) : json_null(), "expires_at",
                         json_time(k->expires_at), "created_at", json_time(k->created_at),
                         "last_used_at", json_time(k->last_used_at), "created_by", k->principal_id);
}

static json_t *key_created_json(const struct apikey *k, const char *token)
{
        json_t *o = key_json(k);
        json_object_set_new(o, "key", json_string(token));
        return o;
}

struct key_in {
        char name[128];
        json_t *scopes;
        char project[128];
        int64_t expires_in_s;
        char org[128];
};

/* Parses the scopes array; replies and returns < 0 on a bad entry. */
static int parse_scopes(struct reqctx *c, json_t *arr, scopeset_t *out)
{
        if (!json_is_array(arr)) {
                reply_error(c, 400, "invalid_request",
                            "field 'scopes' must be an array of strings");
                return -EINVAL;
        }
        scopeset_t set = 0;
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
                scopeset_t bit = json_is_string(v)
                                     ? scope_from_name(json_string_value(v), json_string_length(v))
                                     : 0;
                if (!bit) {
                        reply_error(c, 400, "invalid_request",
                                    "unknown scope at scopes[%zu]; known scopes: "
                                    "rigs:instances:read, rigs:instances:create, "
                                    "rigs:instances:control, rigs:agent:invoke, "
                                    "rigs:keys:manage, rigs:admin",
                                    i);
                        return -EINVAL;
                }
                set |= bit;
        }
        *out = set;
        return 0;
}

/* Works out the org, project and scope ceiling of the new key; replies on failure. */
static int key_target(struct reqctx *c, const struct key_in *in, uint32_t present, struct apikey *k,
                      scopeset_t *ceiling)
{
        struct org org = {0};
        snprintf(org.id, sizeof(org.id), "%s", c->p.org_id);
        *ceiling = c->p.scopes;
        if ((present & (1u << 4)) && in->org[0]) {
                int r = store_org_resolve(c->st, in->org, c->p.id, &org);
                if (r == 0 && !streq(org.id, c->p.org_id)) {
                        if (c->p.project_id[0])
                                r = -ENOENT; /* a project-bound key never reaches another org */
                        else
                                *ceiling = c->p.granted & role_scopes(org.role);
                }
                if (r < 0) {
                        reply_errno(c, r, "org");
                        return r;
                }
        }
        snprintf(k->org_id, sizeof(k->org_id), "%s", org.id);
        if ((present & (1u << 2)) && in->project[0]) {
                struct project p;
                int r = store_project_resolve(c->st, org.id, in->project, &p);
                if (r == 0 && c->p.project_id[0] && !streq(p.id, c->p.project_id))
                        r = -ENOENT;
                if (r < 0) {
                        reply_errno(c, r, "project");
                        return r;
                }
                snprintf(k->project_id, sizeof(k->project_id), "%s", p.id);
        } else if (c->p.project_id[0]) {
                snprintf(k->project_id, sizeof(k->project_id), "%s", c->p.project_id);
        }
        return 0;
}

static int key_insert_effect(struct reqctx *c, const struct apikey *k, const char *token)
{
        uint8_t hash[TOKEN_HASH_LEN];
        token_hash(c->d->secrets.pepper, token, API_KEY_LEN, hash);
        int r = store_begin(c->st);
        if (r == 0 && (r = store_key_insert(c->st, k, hash)) == 0 && (r = audit_here(c, "ok")) == 0)
                r = store_commit(c->st);
        if (r < 0) {
                store_rollback(c->st);
                c->audited = false;
        }
        return r;
}

void api_keys_create(struct reqctx *c)
{
        static const struct jfield fields[] = {
            JF_STR_FIELD(struct key_in, name, true),
            JF_JSON_FIELD(struct key_in, scopes, true),
            JF_STR_FIELD(struct key_in, project, false),
            JF_INT_FIELD(struct key_in, expires_in_s, false, 1, KEY_MAX_TTL_S),
            JF_STR_FIELD(struct key_in, org, false),
        };
        if (c->p.method != AUTH_SESSION && !(c->p.scopes & SCOPE_KEYS_MANAGE)) {
                reply_error(c, 403, "forbidden",
                            "creating keys needs a browser session or a key with "
                            "rigs:keys:manage");
                return;
        }
        struct key_in in;
        memset(&in, 0, sizeof(in));
        uint32_t present = 0;
        json_t *root = NULL;
        if (body_decode(c, fields, ARRAY_SIZE(fields), &in, &present, &root) < 0)
                return;
        struct apikey k = {.principal_kind = c->p.kind};
        scopeset_t want = 0, ceiling = 0;
        int r = parse_scopes(c, in.scopes, &want);
        json_decref(root);
        if (r < 0)
                return;
        if (!in.name[0]) {
                reply_error(c, 400, "invalid_request", "field 'name' must not be empty");
                return;
        }
        if (key_target(c, &in, present, &k, &ceiling) < 0)
                return;
        if (want & ~ceiling) {
                _cleanup_free_ char *extra = scopes_format(want & ~ceiling);
                reply_error(c, 403, "forbidden", "a key cannot hold scopes its creator lacks: %s",
                            extra);
                return;
        }
        char token[API_KEY_LEN + 1];
        token_generate(TOKEN_API_KEY, token);
        id_new("key_", k.id);
        snprintf(k.name, sizeof(k.name), "%s", in.name);
        snprintf(k.prefix, sizeof(k.prefix), "%.7s", token);
        snprintf(k.principal_id, sizeof(k.principal_id), "%s", c->p.id);
        k.scopes = want;
        k.created_at = now_ms() / 1000;
        k.expires_at = (present & (1u << 3)) ? k.created_at + in.expires_in_s : 0;
        snprintf(c->target, sizeof(c->target), "%s", k.id);
        snprintf(c->project, sizeof(c->project), "%s", k.project_id);
        r = key_insert_effect(c, &k, token);
        if (r < 0)
                reply_errno(c, r, "key");
        else
                reply_json(c, 201, key_created_json(&k, token));
        sodium_memzero(token, sizeof(token));
}

static bool sees_all_keys(const struct reqctx *c)
{
        return c->p.role == ROLE_ADMIN && (c->p.scopes & SCOPE_KEYS_MANAGE) && !c->p.project_id[0];
}

void api_keys_list(struct reqctx *c)
{
        struct page pg;
        if (page_from_query(c, &pg) < 0)
                return;
        _cleanup_list_ struct list l = {0};
        int r = store_keys_list(c->st, c->p.org_id, sees_all_keys(c) ? NULL : c->p.id, &pg, &l);
        if (r < 0) {
                reply_errno(c, r, "keys");
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(items, key_json(&((struct apikey *)l.items)[i]));
        reply_json(c, 200, json_list(items, l.next));
}

/* Finds a key the caller may manage; replies 404 otherwise. */
static int visible_key(struct reqctx *c, struct apikey *k)
{
        char id[ID_MAX + 8];
        if (path_param(c, 0, id, sizeof(id)) < 0)
                return -ENOENT;
        snprintf(c->target, sizeof(c->target), "%s", id);
        int r = store_key_get(c->st, c->p.org_id, id, k);
        if (r == 0 && !sees_all_keys(c) && !streq(k->principal_id, c->p.id))
                r = -ENOENT;
        if (r < 0)
                reply_errno(c, r, "key");
        return r;
}

void api_keys_delete(struct reqctx *c)
{
        struct apikey k;
        if (visible_key(c, &k) < 0)
                return;
        int r = store_begin(c->st);
        if (r == 0 && (r = store_key_delete(c->st, c->p.org_id, k.id)) == 0 &&
            (r = audit_here(c, "ok")) == 0)
                r = store_commit(c->st);
        if (r < 0) {
                store_rollback(c->st);
                c->audited = false;
                reply_errno(c, r, "key");
                return;
        }
        reply_empty(c, 204);
}

void api_keys_rotate(struct reqctx *c)
{
        struct apikey k;
        if (visible_key(c, &k) < 0)
                return;
        char token[API_KEY_LEN + 1];
        uint8_t hash[TOKEN_HASH_LEN];
        token_generate(TOKEN_API_KEY, token);
        token_hash(c->d->secrets.pepper, token, API_KEY_LEN, hash);
        snprintf(k.prefix, sizeof(k.prefix), "%.7s", token);
        int r = store_begin(c->st);
        if (r == 0 && (r = store_key_rehash(c->st, c->p.org_id, k.id, hash, k.prefix)) == 0 &&
            (r = audit_here(c, "ok")) == 0)
                r = store_commit(c->st);
        if (r < 0) {
                store_rollback(c->st);
                c->audited = false;
                reply_errno(c, r, "key");
        } else {
                reply_json(c, 200, key_created_json(&k, token));
        }
        sodium_memzero(token, sizeof(token));
}
