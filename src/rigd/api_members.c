/* Org membership. */
#include "rigd/api.h"

#include "base/timeutil.h"

#include <stdio.h>

static json_t *member_json(const struct member *m, const char *org_id)
{
        return json_pack("{s:s,s:s,s:s,s:s,s:s}", "user", m->user_id, "email", m->email, "name",
                         m->name, "org", org_id, "role", role_name(m->role));
}

static int find_user(struct reqctx *c, const char *ref, struct user *u)
{
        return strchr(ref, '@') ? store_user_by_email(c->st, ref, u)
                                : store_user_by_id(c->st, ref, u);
}

struct member_change {
        const char *org_id;
        const struct user *u;
        enum role role;
        bool created;
};

static int member_put_effect(struct reqctx *c, struct member_change *mc)
{
        enum role old = ROLE_NONE;
        int r = store_member_role(c->st, mc->org_id, mc->u->id, &old);
        if (r < 0 && r != -ENOENT)
                return r;
        /* Demoting the last admin would leave the org without anyone able to manage it. */
        if (old == ROLE_ADMIN && mc->role != ROLE_ADMIN &&
            store_admin_count(c->st, mc->org_id) <= 1)
                return -EBUSY;
        r = store_member_put(c->st, mc->org_id, mc->u->id, mc->role, now_ms() / 1000, &mc->created);
        if (r < 0)
                return r;
        c->action = mc->created ? "member.add" : "member.update";
        return audit_here(c, "ok");
}

static void reply_member_error(struct reqctx *c, int r)
{
        if (r == -EBUSY)
                reply_error(c, 409, "conflict",
                            "the org must keep at least one admin; promote another member first");
        else
                reply_errno(c, r, "member");
}

void api_members_put(struct reqctx *c)
{
        struct org org;
        if (org_from_path(c, &org) < 0)
                return;
        struct {
                char user[256];
                char role[16];
        } in = {{0}, {0}};
        static const struct jfield fields[] = {
            {"user", JF_STR, true, 0, 256, 0, 0},
            {"role", JF_STR, true, 256, 16, 0, 0},
        };
        json_t *root = NULL;
        if (body_decode(c, fields, ARRAY_SIZE(fields), &in, NULL, &root) < 0)
                return;
        json_decref(root);
        enum role role = role_from_name(in.role);
        if (role == ROLE_NONE) {
                reply_error(c, 400, "invalid_request", "role must be \"admin\" or \"member\"");
                return;
        }
        struct user u;
        int r = find_user(c, in.user, &u);
        if (r < 0) {
                reply_errno(c, r, "user");
                return;
        }
        snprintf(c->target, sizeof(c->target), "%s", u.id);
        struct member_change mc = {.org_id = org.id, .u = &u, .role = role};
        r = store_begin(c->st);
        if (r == 0 && (r = member_put_effect(c, &mc)) == 0)
                r = store_commit(c->st);
        if (r < 0) {
                store_rollback(c->st);
                c->audited = false;
                reply_member_error(c, r);
                return;
        }
        struct member m = {.role = role};
        snprintf(m.user_id, sizeof(m.user_id), "%s", u.id);
        snprintf(m.email, sizeof(m.email), "%s", u.email);
        snprintf(m.name, sizeof(m.name), "%s", u.name);
        reply_json(c, mc.created ? 201 : 200, member_json(&m, org.id));
}

void api_members_list(struct reqctx *c)
{
        struct org org;
        struct page pg;
        if (org_from_path(c, &org) < 0 || page_from_query(c, &pg) < 0)
                return;
        _cleanup_list_ struct list l = {0};
        int r = store_members_list(c->st, org.id, &pg, &l);
        if (r < 0) {
                reply_errno(c, r, "members");
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(items, member_json(&((struct member *)l.items)[i], org.id));
        reply_json(c, 200, json_list(items, l.next));
}

void api_members_delete(struct reqctx *c)
{
        struct org org;
        char ref[256];
        if (org_from_path(c, &org) < 0 || path_param(c, 1, ref, sizeof(ref)) < 0)
                return;
        struct user u;
        enum role old;
        int r = find_user(c, ref, &u);
        if (r == 0)
                r = store_member_role(c->st, org.id, u.id, &old);
        if (r < 0) {
                reply_errno(c, r, "member");
                return;
        }
        snprintf(c->target, sizeof(c->target), "%s", u.id);
        r = store_begin(c->st);
        if (r == 0 && old == ROLE_ADMIN && store_admin_count(c->st, org.id) <= 1)
                r = -EBUSY;
        if (r == 0 && (r = store_member_delete(c->st, org.id, u.id)) == 0 &&
            (r = audit_here(c, "ok")) == 0)
                r = store_commit(c->st);
        if (r < 0) {
                store_rollback(c->st);
                c->audited = false;
                reply_member_error(c, r);
                return;
        }
        reply_empty(c, 204);
}
