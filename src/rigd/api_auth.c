/* Login, logout, org switch and /api/me. */
#include "rigd/api.h"

#include "base/timeutil.h"
#include "core/password.h"
#include "rigd/worker.h"

#include <sodium.h>
#include <stdio.h>

struct login_in {
        char email[256];
        char password[PASSWORD_MAX_LEN + 1];
        char org[128];
};

struct login_job {
        struct job super;
        struct login_in in;
        struct user user;
        bool found;
        int verdict;
};

static void login_work(struct job *j)
{
        struct login_job *lj = (struct login_job *)j;
        lj->verdict = password_verify(lj->found ? lj->user.pw_hash : NULL, lj->in.password,
                                      strlen(lj->in.password));
}

static void set_session_cookie(struct reqctx *c, const char *token, int max_age)
{
        char v[256];
        bool tls = c->req->scheme == &H2O_URL_SCHEME_HTTPS;
        snprintf(v, sizeof(v), "rigs_session=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s",
                 token, max_age, tls ? "; Secure" : "");
        add_header(c, "Set-Cookie", v);
        sodium_memzero(v, sizeof(v));
}

static int login_finish(struct reqctx *c, struct login_job *lj)
{
        struct org org;
        int r = lj->in.org[0] ? store_org_resolve(c->st, lj->in.org, lj->user.id, &org)
                              : store_org_first_for_user(c->st, lj->user.id, &org);
        if (r < 0)
                return r;
        char token[SESSION_LEN + 1];
        uint8_t hash[TOKEN_HASH_LEN];
        token_generate(TOKEN_SESSION, token);
        token_hash(c->d->secrets.pepper, token, SESSION_LEN, hash);
        int64_t now = now_ms() / 1000;
        memset(&c->p, 0, sizeof(c->p));
        c->p.kind = PK_USER;
        c->p.method = AUTH_SESSION;
        snprintf(c->p.id, sizeof(c->p.id), "%s", lj->user.id);
        snprintf(c->p.email, sizeof(c->p.email), "%s", lj->user.email);
        snprintf(c->p.name, sizeof(c->p.name), "%s", lj->user.name);
        snprintf(c->p.org_id, sizeof(c->p.org_id), "%s", org.id);
        snprintf(c->p.org_name, sizeof(c->p.org_name), "%s", org.name);
        c->p.role = org.role;
        c->p.scopes = role_scopes(org.role);
        snprintf(c->target, sizeof(c->target), "%s", lj->user.id);
        if ((r = store_begin(c->st)) < 0)
                return r;
        if ((r = store_session_insert(c->st, hash, lj->user.id, org.id, now, now + SESSION_MAX_S)) <
                0 ||
            (r = audit_here(c, "ok")) < 0 || (r = store_commit(c->st)) < 0) {
                store_rollback(c->st);
                c->audited = false;
                return r;
        }
        set_session_cookie(c, token, SESSION_MAX_S);
        sodium_memzero(token, sizeof(token));
        reply_json(c, 200, me_json(&c->p));
        return 0;
}

static void login_done(struct job *j)
{
        struct login_job *lj = (struct login_job *)j;
        struct reqctx *c = job_take_request(j);
        if (c) {
                int r = lj->verdict;
                if (r == 0)
                        r = login_finish(c, lj);
                if (r == -EACCES || r == -ENOENT) {
                        /* Attribute the failure to the account when it exists. */
                        if (lj->found) {
                                /* Recorded in the user's first org, where its admins look. */
                                struct org org;
                                snprintf(c->p.id, sizeof(c->p.id), "%s", lj->user.id);
                                c->p.kind = PK_USER;
                                if (store_org_first_for_user(c->st, lj->user.id, &org) == 0)
                                        snprintf(c->p.org_id, sizeof(c->p.org_id), "%s", org.id);
                        }
                        snprintf(c->target, sizeof(c->target), "%s", lj->found ? lj->user.id : "");
                        reply_error(c, 401, "unauthenticated", "wrong email or password");
                } else if (r < 0) {
                        reply_errno(c, r, "session");
                }
        }
        sodium_memzero(&lj->in, sizeof(lj->in));
        free(lj);
}

void api_login(struct reqctx *c)
{
        static const struct jfield fields[] = {
            JF_STR_FIELD(struct login_in, email, true),
            JF_STR_FIELD(struct login_in, password, true),
            JF_STR_FIELD(struct login_in, org, false),
        };
        struct login_job *lj = xcalloc(1, sizeof(*lj));
        json_t *root = NULL;
        if (body_decode(c, fields, ARRAY_SIZE(fields), &lj->in, NULL, &root) < 0) {
                free(lj);
                return;
        }
        json_decref(root);
        int r = store_user_by_email(c->st, lj->in.email, &lj->user);
        if (r < 0 && r != -ENOENT) {
                free(lj);
                reply_errno(c, r, "user");
                return;
        }
        lj->found = r == 0;
        lj->super.work = login_work;
        lj->super.done = login_done;
        workpool_submit(c->d->pool, c, &lj->super);
}

void api_logout(struct reqctx *c)
{
        if (c->p.method == AUTH_SESSION) {
                int r = store_begin(c->st);
                if (r == 0 && (r = store_session_delete(c->st, c->p.session_hash)) == 0 &&
                    (r = audit_here(c, "ok")) == 0)
                        r = store_commit(c->st);
                if (r < 0) {
                        store_rollback(c->st);
                        c->audited = false;
                        reply_errno(c, r, "session");
                        return;
                }
        }
        add_header(c, "Set-Cookie", "rigs_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
        reply_empty(c, 204);
}

void api_switch(struct reqctx *c)
{
        struct {
                char org[128];
        } in = {{0}};
        static const struct jfield fields[] = {{"org", JF_STR, true, 0, 128, 0, 0}};
        json_t *root = NULL;
        if (body_decode(c, fields, 1, &in, NULL, &root) < 0)
                return;
        json_decref(root);
        struct org org;
        int r = store_org_resolve(c->st, in.org, c->p.id, &org);
        if (r < 0) {
                reply_errno(c, r, "org");
                return;
        }
        snprintf(c->target, sizeof(c->target), "%s", org.id);
        snprintf(c->p.org_id, sizeof(c->p.org_id), "%s", org.id);
        if ((r = store_begin(c->st)) == 0 &&
            (r = store_session_set_org(c->st, c->p.session_hash, org.id)) == 0 &&
            (r = audit_here(c, "ok")) == 0)
                r = store_commit(c->st);
        if (r < 0) {
                store_rollback(c->st);
                c->audited = false;
                reply_errno(c, r, "session");
                return;
        }
        snprintf(c->p.org_name, sizeof(c->p.org_name), "%s", org.name);
        c->p.role = org.role;
        c->p.scopes = role_scopes(org.role);
        reply_json(c, 200, me_json(&c->p));
}

void api_me(struct reqctx *c)
{
        reply_json(c, 200, me_json(&c->p));
}
