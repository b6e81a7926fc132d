/* The router's decisions: which app a Host names, who is asking (Rigs bearer token, app cookie,
 * preview link or cookie), whether the app's visibility lets them through, and whether the rig
 * can take the request (running, or asleep and woken on the way). Nothing reaches a rig before
 * these checks pass. */
#include "router/rinternal.h"
#include "router/router.h"

#include "base/log.h"
#include "base/url.h"
#include "base/timeutil.h"
#include "rigd/api.h"
#include "rigd/http.h"
#include "rigd/rigsvc.h"
#include "router/activity.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>

#define RCACHE_SLOTS  256
#define RCACHE_TTL_MS 2000
#define APP_COOKIE_S  (12 * 3600)

struct rcache_slot {
        char name[APP_NAME_MAX];
        bool found;
        uint64_t gen;
        int64_t at_ms;
        int64_t touched_ms; /* the rig's last activity mark from this slot */
        struct app_route ar;
};

struct rcache {
        struct rcache_slot s[RCACHE_SLOTS];
};

struct rcache *rcache_new(void)
{
        return xcalloc(1, sizeof(struct rcache));
}

void rcache_free(struct rcache *rc)
{
        if (!rc)
                return;
        for (size_t i = 0; i < RCACHE_SLOTS; i++)
                app_free_fields(&rc->s[i].ar.app);
        free(rc);
}

static size_t slot_of(const char *name)
{
        uint64_t h = 1469598103934665603ull;
        for (; *name; name++)
                h = (h ^ (uint8_t)*name) * 1099511628211ull;
        return (size_t)(h % RCACHE_SLOTS);
}

/* The app and its rig, from the thread's cache while nothing changed; -ENOENT for no app. */
static int app_route_lookup(struct rthread *rt, const char *name, bool fresh,
                            const struct app_route **out)
{
        struct rigd *d = rt->t->d;
        struct rcache_slot *s = &rt->cache->s[slot_of(name)];
        uint64_t gen = atomic_load(&d->auth_gen);
        int64_t now = mono_ms();
        if (!fresh && s->gen == gen && now - s->at_ms < RCACHE_TTL_MS && !strcmp(s->name, name)) {
                *out = &s->ar;
                return s->found ? 0 : -ENOENT;
        }
        app_free_fields(&s->ar.app);
        memset(s, 0, sizeof(*s));
        int r = store_app_route(rt->t->st, name, &s->ar);
        if (r < 0 && r != -ENOENT)
                return r;
        snprintf(s->name, sizeof(s->name), "%s", name);
        s->found = r == 0;
        s->gen = gen;
        s->at_ms = now;
        *out = &s->ar;
        return r;
}

/* ---- app cookies: a MAC over (expiry, app, user, email), never stored ---- */

static size_t put_field(uint8_t *p, const char *s)
{
        size_t n = strlen(s);
        p[0] = (uint8_t)n;
        memcpy(p + 1, s, n);
        return n + 1;
}

int router_cookie_mint(struct router *r, const char *app, const char *user_id, const char *email,
                       int64_t expires, char *out, size_t outlen)
{
        uint8_t raw[8 + 3 * 256 + crypto_auth_BYTES];
        size_t n = 0;
        if (strlen(app) > 255 || strlen(user_id) > 255 || strlen(email) > 255)
                return -EINVAL;
        for (int i = 7; i >= 0; i--)
                raw[n++] = (uint8_t)((uint64_t)expires >> (i * 8));
        n += put_field(raw + n, app);
        n += put_field(raw + n, user_id);
        n += put_field(raw + n, email);
        crypto_auth(raw + n, raw, n, r->cookie_key);
        n += crypto_auth_BYTES;
        if (outlen < sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
                return -ENOSPC;
        sodium_bin2base64(out, outlen, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        return 0;
}

static bool get_field(const uint8_t *raw, size_t len, size_t *pos, char *out, size_t outlen)
{
        if (*pos >= len || raw[*pos] >= outlen || *pos + 1 + raw[*pos] > len)
                return false;
        size_t n = raw[*pos];
        memcpy(out, raw + *pos + 1, n);
        out[n] = '\0';
        *pos += n + 1;
        return true;
}

/* A valid cookie for app: fills user id and email. */
static int cookie_verify(struct router *r, const struct slice *v, const char *app, char *user_id,
                         char *email)
{
        uint8_t raw[8 + 3 * 256 + crypto_auth_BYTES];
        size_t len = 0;
        if (v->len > 1100 ||
            sodium_base642bin(raw, sizeof(raw), v->p, v->len, NULL, &len, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
            len < 8 + 3 + crypto_auth_BYTES)
                return -EINVAL;
        size_t body = len - crypto_auth_BYTES;
        if (crypto_auth_verify(raw + body, raw, body, r->cookie_key) != 0)
                return -EINVAL;
        int64_t exp = 0;
        for (int i = 0; i < 8; i++)
                exp = (int64_t)(((uint64_t)exp << 8) | raw[i]);
        size_t pos = 8;
        char name[256];
        if (!get_field(raw, body, &pos, name, sizeof(name)) ||
            !get_field(raw, body, &pos, user_id, ID_MAX) || !get_field(raw, body, &pos, email, 256))
                return -EINVAL;
        if (exp <= now_ms() / 1000 || strcmp(name, app))
                return -EINVAL;
        return 0;
}

/* ---- one-time login codes: the API mints, the router redeems ---- */

int router_code_mint(struct router *r, const char *app, const char *user_id, const char *email,
                     char out[ROUTER_CODE_LEN + 1])
{
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (int i = 0; i < ROUTER_CODE_LEN; i++)
                out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
        out[ROUTER_CODE_LEN] = '\0';
        int64_t now = now_ms() / 1000;
        pthread_mutex_lock(&r->mu);
        size_t victim = 0;
        for (size_t i = 0; i < ROUTER_CODES; i++) {
                if (r->codes[i].expires <= now) {
                        victim = i;
                        break;
                }
                if (r->codes[i].expires < r->codes[victim].expires)
                        victim = i;
        }
        struct rcode *c = &r->codes[victim];
        snprintf(c->code, sizeof(c->code), "%s", out);
        snprintf(c->app, sizeof(c->app), "%s", app);
        snprintf(c->user_id, sizeof(c->user_id), "%s", user_id);
        snprintf(c->email, sizeof(c->email), "%s", email);
        c->expires = now + ROUTER_CODE_TTL_S;
        pthread_mutex_unlock(&r->mu);
        return 0;
}

static int code_redeem(struct router *r, const struct slice *code, const char *app, char *user_id,
                       char *email)
{
        int res = -ENOENT;
        int64_t now = now_ms() / 1000;
        if (code->len != ROUTER_CODE_LEN)
                return res;
        pthread_mutex_lock(&r->mu);
        for (size_t i = 0; i < ROUTER_CODES; i++) {
                struct rcode *c = &r->codes[i];
                if (c->expires > now && sodium_memcmp(c->code, code->p, ROUTER_CODE_LEN) == 0) {
                        if (!strcmp(c->app, app)) {
                                snprintf(user_id, ID_MAX, "%s", c->user_id);
                                snprintf(email, 256, "%s", c->email);
                                res = 0;
                        }
                        memset(c, 0, sizeof(*c)); /* single use */
                        break;
                }
        }
        pthread_mutex_unlock(&r->mu);
        return res;
}

/* ---- replies ---- */

static void reply_err(struct rconn *c, const struct rreq *req, int status, const char *code,
                      const char *headers, const char *msg)
{
        char body[1024];
        if (req && req->accepts_html) {
                snprintf(
                    body, sizeof(body),
                    "<!doctype html><meta charset=utf-8><title>%d</title><h1>%d</h1><p>%s</p>\n",
                    status, status, msg);
                rconn_reply(c, req, status, headers, "text/html; charset=utf-8", body);
                return;
        }
        snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code,
                 msg);
        rconn_reply(c, req, status, headers, "application/json", body);
}

static void cookie_attrs(const struct rconn *c, char *out, size_t outlen)
{
        snprintf(out, outlen, "Path=/; HttpOnly; SameSite=Lax%s", c->tls ? "; Secure" : "");
}

static bool token_shape_ok(const struct slice *t)
{
        if (t->len != PREVIEW_TOKEN_LEN)
                return false;
        for (size_t i = 0; i < t->len; i++)
                if (!((t->p[i] >= 'a' && t->p[i] <= 'z') || (t->p[i] >= '0' && t->p[i] <= '9')))
                        return false;
        return true;
}

static bool preview_ok(struct rconn *c, const struct slice *t, const char *app)
{
        if (!token_shape_ok(t))
                return false;
        uint8_t hash[TOKEN_HASH_LEN];
        token_hash(c->rt->t->d->secrets.pepper, t->p, t->len, hash);
        return store_preview_check(c->rt->t->st, hash, app, now_ms() / 1000) == 0;
}

/* /.rigs/callback?code=...&next=/path: the browser comes back from the API's login. */
static void handle_callback(struct rconn *c, const struct rreq *req, const char *app)
{
        struct slice code = {0}, next = {0};
        char user_id[ID_MAX], email[256];
        (void)rquery_find(req->path, req->path_len, "next", &next);
        if (rquery_find(req->path, req->path_len, "code", &code) < 0 ||
            code_redeem(c->rt->r, &code, app, user_id, email) < 0) {
                reply_err(c, req, 403, "forbidden", NULL,
                          "This sign-in link is not valid (used, expired or for another app). "
                          "Open the app again to sign in.");
                return;
        }
        char tok[1600], attrs[64], hdr[2048], path[512] = "/";
        if (router_cookie_mint(c->rt->r, app, user_id, email, now_ms() / 1000 + APP_COOKIE_S, tok,
                               sizeof(tok)) < 0) {
                reply_err(c, req, 500, "internal", NULL, "cannot sign in");
                return;
        }
        /* only a path on this host: never an open redirect */
        if (url_decode(next.p, next.len, false, path, sizeof(path)) <= 0 || path[0] != '/' ||
            path[1] == '/' || path[1] == '\\' || strpbrk(path, "\r\n"))
                snprintf(path, sizeof(path), "/");
        cookie_attrs(c, attrs, sizeof(attrs));
        snprintf(hdr, sizeof(hdr), "Set-Cookie: rigs_app=%s; %s\r\nLocation: %s\r\n", tok, attrs,
                 path);
        rconn_reply(c, req, 302, hdr, NULL, NULL);
}

/* Sends a browser to the API's sign-in, which comes back through /.rigs/callback. */
static void redirect_login(struct rconn *c, const struct rreq *req, const char *app)
{
        const struct rigd_config *cfg = &c->rt->t->d->cfg;
        char hdr[2048], path[512], next[700];
        snprintf(path, sizeof(path), "%.*s", (int)req->path_len, req->path);
        url_encode(path, next, sizeof(next));
        bool v6 = strchr(cfg->listen_host, ':') != NULL;
        snprintf(hdr, sizeof(hdr),
                 "Location: http://%s%s%s:%u/api/auth/app-login?app=%s&next=%s\r\n", v6 ? "[" : "",
                 cfg->listen_host, v6 ? "]" : "", cfg->listen_port, app, next);
        rconn_reply(c, req, 302, hdr, "text/plain; charset=utf-8", "Sign in to open this app.\n");
}

static bool email_allowed(const struct app_route *ar, const char *email)
{
        if (!email[0] || !ar->app.allowed_emails)
                return false;
        char needle[300];
        size_t n = (size_t)snprintf(needle, sizeof(needle), "\"%s\"", email);
        for (size_t i = 1; i + 1 < n; i++)
                needle[i] = (char)tolower((unsigned char)needle[i]);
        return strstr(ar->app.allowed_emails, needle) != NULL;
}

enum verdict { V_NONE, V_DENIED, V_ALLOWED };

/* Who the user behind (user_id, email) is to this app. */
static enum verdict judge_user(const struct app_route *ar, const char *user_id, const char *email)
{
        if (!strcmp(user_id, ar->rig_owner))
                return V_ALLOWED;
        if (ar->app.visibility == APP_PRIVILEGED && email_allowed(ar, email))
                return V_ALLOWED;
        return V_DENIED;
}

static enum verdict judge(struct rconn *c, const struct rreq *req, const struct app_route *ar,
                          bool *bad_bearer)
{
        enum verdict v = V_NONE;
        if (req->bearer.len) {
                struct principal p;
                if (rigd_auth_token(c->rt->t, req->bearer.p, req->bearer.len, &p) < 0) {
                        *bad_bearer = true;
                } else if (p.kind == PK_RIG_CREDENTIAL) {
                        v = strcmp(p.rig_id, ar->app.rig_id) ? V_DENIED : V_ALLOWED;
                } else if (p.kind == PK_USER) {
                        v = judge_user(ar, p.id, p.email);
                } else {
                        v = V_DENIED;
                }
        }
        if (v != V_ALLOWED && req->cookie_session.len) {
                /* an API session that reached the app's host (a cookie for the whole domain) */
                struct principal p;
                if (rigd_auth_session(c->rt->t, req->cookie_session.p, req->cookie_session.len,
                                      &p) < 0) {
                        *bad_bearer = true;
                } else if (p.kind == PK_USER) {
                        enum verdict u = judge_user(ar, p.id, p.email);
                        v = u > v ? u : v;
                }
        }
        if (v != V_ALLOWED && req->cookie_app.len) {
                char uid[ID_MAX], email[256];
                if (cookie_verify(c->rt->r, &req->cookie_app, ar->app.name, uid, email) == 0) {
                        enum verdict u = judge_user(ar, uid, email);
                        v = u > v ? u : v;
                }
        }
        if (v != V_ALLOWED && req->cookie_preview.len &&
            preview_ok(c, &req->cookie_preview, ar->app.name))
                v = V_ALLOWED;
        return v;
}

/* ---- waking a sleeping rig ---- */

static void wake_rig(struct rconn *c, const struct app_route *ar)
{
        struct rigd_thread *t = c->rt->t;
        struct rigd *d = t->d;
        c->st = RC_WAIT;
        snprintf(c->rig_id, sizeof(c->rig_id), "%s", ar->app.rig_id);
        if (!c->wait_since_ms)
                c->wait_since_ms = mono_ms();
        if (!rigsvc_claim(d->rigs, ar->app.rig_id))
                return; /* already waking (or busy): the tick re-checks */
        _cleanup_(rig_free_fields) struct rig rig;
        memset(&rig, 0, sizeof(rig));
        struct tenant tn = {.org_id = ar->app.org_id};
        if (store_rig_get(t->st, &tn, ar->app.rig_id, NULL, &rig) < 0 || rig.state != RIG_PAUSED) {
                rigsvc_release(d->rigs, ar->app.rig_id);
                return;
        }
        rigs_sweep_submit(t, &rig, RA_RESUME, RIG_RUNNING, "rig.autowake");
}

/* ---- the decision ---- */

static bool preview_redirect(struct rconn *c, const struct rreq *req, const char *app)
{
        if (!req->query_preview.len || !preview_ok(c, &req->query_preview, app))
                return false;
        char path[2048], attrs[64], hdr[2400];
        if (rpath_without_preview(req->path, req->path_len, path, sizeof(path)) < 0)
                snprintf(path, sizeof(path), "/");
        cookie_attrs(c, attrs, sizeof(attrs));
        snprintf(hdr, sizeof(hdr), "Set-Cookie: rigs_preview=%.*s; %s\r\nLocation: %s\r\n",
                 (int)req->query_preview.len, req->query_preview.p, attrs, path);
        rconn_reply(c, req, 302, hdr, NULL, NULL);
        return true;
}

/* A credential that is not valid: counted, rate-limited per source address (class apps) and
 * audited like the API's failures. Returns true when the reply was a 429. */
static bool failed_auth(struct rconn *c, const struct rreq *req, const struct app_route *ar)
{
        struct rigd *d = c->rt->t->d;
        atomic_fetch_add(&d->metrics.auth_failures, 1);
        char who[96];
        snprintf(who, sizeof(who), "ip:%s", c->client_ip);
        int retry = ratelimit_take(d->rl, RL_APPS, who, mono_ms());
        if (retry > 0) {
                char hdr[48];
                atomic_fetch_add(&d->metrics.rate_limited, 1);
                snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry);
                reply_err(c, req, 429, "rate_limited", hdr,
                          "Too many failed sign-ins from this address; retry later.");
                return true;
        }
        struct principal anon;
        memset(&anon, 0, sizeof(anon));
        anon.kind = PK_ANONYMOUS;
        snprintf(anon.org_id, sizeof(anon.org_id), "%s", ar->app.org_id);
        struct audit_entry e;
        audit_fill(&e, &anon, c->client_ip, "auth.failed", ar->app.rig_id, ar->app.project_id,
                   "denied");
        struct store *st = c->rt->t->st;
        int r = store_begin(st);
        if (r == 0)
                r = audit_append(st, d->secrets.audit_key, &e);
        if (r == 0)
                r = store_commit(st);
        else
                store_rollback(st);
        if (r < 0)
                log_error("audit: cannot record a failed sign-in at the router: %s", strerror(-r));
        return false;
}

static void deny(struct rconn *c, const struct rreq *req, enum verdict v, bool bad_bearer,
                 const char *app)
{
        if (v == V_DENIED) {
                reply_err(c, req, 403, "forbidden", NULL,
                          "You are signed in but this app is not shared with you.");
                return;
        }
        bool nav = (req->method_len == 3 && !memcmp(req->method, "GET", 3)) || req->is_head;
        if (req->accepts_html && nav && !req->bearer.len) {
                redirect_login(c, req, app);
                return;
        }
        reply_err(c, req, 401, "unauthenticated", "WWW-Authenticate: Bearer realm=\"rigs\"\r\n",
                  bad_bearer ? "The credential is not valid (unknown, revoked or expired)."
                             : "This app is private: send Authorization: Bearer with a Rigs "
                               "API key or rig credential, or open a preview link.");
}

void router_handle(struct rconn *c, struct rreq *req)
{
        struct rthread *rt = c->rt;
        char app[RAPP_NAME_MAX];
        if (rhost_match(req->host.p, req->host.len, rt->t->d->cfg.apps_domain, app, sizeof(app)) <
            0) {
                reply_err(c, req, 404, "not_found", NULL, "No app is served at this host.");
                return;
        }
        if (req->path_len >= 15 && !memcmp(req->path, "/.rigs/callback", 15) &&
            (req->path_len == 15 || req->path[15] == '?')) {
                handle_callback(c, req, app);
                return;
        }
        const struct app_route *ar;
        int r = app_route_lookup(rt, app, c->st == RC_WAIT && c->wait_since_ms, &ar);
        if (r < 0) {
                reply_err(c, req, r == -ENOENT ? 404 : 500, r == -ENOENT ? "not_found" : "internal",
                          NULL, r == -ENOENT ? "No app is served at this host." : "store failure");
                return;
        }
        if (preview_redirect(c, req, app))
                return;
        bool bad_bearer = false;
        enum verdict v =
            ar->app.visibility == APP_PUBLIC ? V_ALLOWED : judge(c, req, ar, &bad_bearer);
        if (v != V_ALLOWED) {
                if (bad_bearer && failed_auth(c, req, ar))
                        return;
                deny(c, req, v, bad_bearer, app);
                return;
        }
        /* activity for auto-sleep: marked at most once a second per loop and app */
        struct rcache_slot *slot = H2O_STRUCT_FROM_MEMBER(struct rcache_slot, ar, ar);
        int64_t now = now_ms();
        if (now - slot->touched_ms >= 1000) {
                slot->touched_ms = now;
                activity_touch(rt->t->d->activity, ar->app.rig_id, now);
        }
        if (ar->rig_state == RIG_PAUSED && ar->auto_sleep_s > 0) {
                if (c->wait_since_ms && mono_ms() - c->wait_since_ms > 60000) {
                        reply_err(c, req, 503, "unavailable", "Retry-After: 5\r\n",
                                  "The rig is waking up; try again shortly.");
                        return;
                }
                wake_rig(c, ar);
                return;
        }
        c->wait_since_ms = 0;
        if (ar->rig_state != RIG_RUNNING) {
                char msg[256];
                snprintf(msg, sizeof(msg),
                         "The rig is %s. Start (or resume) it with `rig start` or the API, then "
                         "retry.",
                         rig_state_name(ar->rig_state));
                reply_err(c, req, 503, "unavailable", "Retry-After: 5\r\n", msg);
                return;
        }
        if (!ar->rig_ip[0]) {
                reply_err(c, req, 503, "unavailable", NULL, "The rig has no network address.");
                return;
        }
        snprintf(c->rig_id, sizeof(c->rig_id), "%s", ar->app.rig_id);
        rconn_forward(c, req, ar->rig_ip, ar->app.port);
}

/* Re-decides requests waiting for a rig to wake (once a second, from the loop's tick). */
void router_wait_tick(struct rthread *rt)
{
        for (h2o_linklist_t *l = rt->conns.next, *n; l != &rt->conns; l = n) {
                n = l->next;
                struct rconn *c = H2O_STRUCT_FROM_MEMBER(struct rconn, link, l);
                if (c->st != RC_WAIT || !c->wait_since_ms)
                        continue;
                struct rreq req;
                int status;
                const char *why;
                if (rreq_parse(c->cs->input->bytes, c->cs->input->size, 0, &req, &status, &why) <=
                    0) {
                        rconn_close(c);
                        continue;
                }
                router_handle(c, &req);
        }
}
