/* The one h2o handler: route, authenticate, rate-limit, check access, then call the route's
 * function. Nothing reaches a handler without passing every check its route declares. */
#include "rigd/http.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "core/authn.h"
#include "core/rigcred.h"
#include "core/rigs.h"
#include "rigd/authcache.h"
#include "rigd/live.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <strings.h>

/* Coarse last-use updates keep writes off the hot path. */
#define TOUCH_INTERVAL_S 60

static void peer_ip(h2o_req_t *req, char *out, size_t outlen)
{
        struct sockaddr_storage ss;
        socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
        out[0] = '\0';
        if (len == 0)
                return;
        if (ss.ss_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)outlen);
        else if (ss.ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out,
                          (socklen_t)outlen);
}

static bool is_loopback(const char *ip)
{
        return strncmp(ip, "127.", 4) == 0 || streq(ip, "::1");
}

static size_t headers_size(h2o_req_t *req)
{
        size_t n = req->path.len + req->method.len + 16;
        for (size_t i = 0; i < req->headers.size; i++)
                n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
        return n;
}

static const h2o_iovec_t *find_header(h2o_req_t *req, const h2o_token_t *tok)
{
        ssize_t i = h2o_find_header(&req->headers, tok, -1);
        return i < 0 ? NULL : &req->headers.entries[i].value;
}

/* A rig credential carries its own claims under the daemon's in-memory MAC key: nothing to
 * look up. It acts as its minter (audited with kind rig_credential) for its one rig only. */
static int rigcred_principal(const char *p, size_t len, int64_t now, struct principal *pr)
{
        struct rigcred rc;
        int r = rigcred_verify(rigcred_key(), p, len, now, &rc);
        if (r < 0)
                return r;
        memset(pr, 0, sizeof(*pr));
        pr->kind = PK_RIG_CREDENTIAL;
        pr->method = AUTH_KEY;
        snprintf(pr->id, sizeof(pr->id), "%s", rc.principal_id);
        snprintf(pr->name, sizeof(pr->name), "rig credential for %s", rc.rig_id);
        snprintf(pr->org_id, sizeof(pr->org_id), "%s", rc.org_id);
        snprintf(pr->project_id, sizeof(pr->project_id), "%s", rc.project_id);
        snprintf(pr->rig_id, sizeof(pr->rig_id), "%s", rc.rig_id);
        pr->role = ROLE_MEMBER;
        pr->scopes = pr->granted = SCOPE_INSTANCES_READ | SCOPE_INSTANCES_CONTROL;
        pr->expires_at = rc.expires_at;
        return 0;
}

static int authenticate_rigcred(struct reqctx *c, const char *p, size_t len, int64_t now)
{
        return rigcred_principal(p, len, now, &c->p);
}

/* ?token= on a WebSocket route: the one place a query string may carry a credential, and then
 * only a rig credential. Returns -ENOENT when there is none. */
static int authenticate_query(struct reqctx *c, int64_t now)
{
        char tok[RIGCRED_MAX_LEN + 1];
        if (c->route->access != ACCESS_RIG_WS)
                return -ENOENT;
        int n = query_get(c, "token", tok, sizeof(tok));
        if (n == -ENOENT)
                return -ENOENT;
        if (n < 0 || token_classify(tok, (size_t)n) != TOKEN_RIG_CREDENTIAL)
                return -EINVAL;
        int r = authenticate_rigcred(c, tok, (size_t)n, now);
        sodium_memzero(tok, sizeof(tok));
        return r;
}

/* A bearer token (API key or rig credential) into a principal, through the thread's cache. */
int rigd_auth_token(struct rigd_thread *t, const char *tok, size_t len, struct principal *out)
{
        struct rigd *d = t->d;
        int64_t now = now_ms() / 1000;
        enum token_kind kind = token_classify(tok, len);
        if (kind == TOKEN_RIG_CREDENTIAL)
                return rigcred_principal(tok, len, now, out);
        if (kind != TOKEN_API_KEY)
                return -EINVAL;
        uint8_t hash[TOKEN_HASH_LEN];
        uint64_t gen = atomic_load(&d->auth_gen);
        token_hash(d->secrets.pepper, tok, len, hash);
        if (auth_cache_get(t->auth_cache, hash, gen, now, out))
                return 0;
        int r = store_key_authenticate(t->st, hash, now, out);
        if (r < 0) {
                memset(out, 0, sizeof(*out));
                return r;
        }
        if (out->last_used_at + TOUCH_INTERVAL_S <= now)
                (void)store_key_touch(t->st, out->key_id, now);
        auth_cache_put(t->auth_cache, hash, gen, now, out);
        return 0;
}

/* A session cookie's value into a principal, through the thread's cache. */
int rigd_auth_session(struct rigd_thread *t, const char *tok, size_t len, struct principal *out)
{
        struct rigd *d = t->d;
        int64_t now = now_ms() / 1000;
        uint64_t gen = atomic_load(&d->auth_gen);
        uint8_t hash[TOKEN_HASH_LEN];
        if (token_classify(tok, len) != TOKEN_SESSION)
                return -EINVAL;
        token_hash(d->secrets.pepper, tok, len, hash);
        if (auth_cache_get(t->auth_cache, hash, gen, now, out))
                return 0;
        int r = store_session_authenticate(t->st, hash, now, out);
        if (r < 0) {
                memset(out, 0, sizeof(*out));
                return r;
        }
        if (out->last_used_at + TOUCH_INTERVAL_S <= now)
                (void)store_session_touch(t->st, hash, now);
        auth_cache_put(t->auth_cache, hash, gen, now, out);
        return 0;
}

/* Returns 0 with c->p filled, -ENOENT when no credential was presented, or another negative
 * errno for a credential that is not valid. */
static int authenticate(struct reqctx *c)
{
        int64_t now = now_ms() / 1000;
        const h2o_iovec_t *authz = find_header(c->req, H2O_TOKEN_AUTHORIZATION);
        if (authz) {
                struct slice tok;
                if (authn_parse_bearer(authz->base, authz->len, &tok) < 0)
                        return -EINVAL;
                return rigd_auth_token(c->t, tok.p, tok.len, &c->p);
        }
        int qr = authenticate_query(c, now);
        if (qr != -ENOENT)
                return qr;
        for (ssize_t i = -1; (i = h2o_find_header(&c->req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
                const h2o_iovec_t *v = &c->req->headers.entries[i].value;
                struct slice tok;
                if (authn_cookie_find(v->base, v->len, "rigs_session", &tok) < 0)
                        continue;
                return rigd_auth_session(c->t, tok.p, tok.len, &c->p);
        }
        return -ENOENT;
}

int rigd_authenticate(struct reqctx *c)
{
        return authenticate(c);
}

/* Cookie-authenticated unsafe requests must come from our own origin or an allowed one. */
static bool origin_ok(struct reqctx *c)
{
        ssize_t oi = h2o_find_header_by_str(&c->req->headers, H2O_STRLIT("origin"), -1);
        const h2o_iovec_t *origin = oi < 0 ? NULL : &c->req->headers.entries[oi].value;
        if (!origin || origin->len == 0)
                return false;
        const char *scheme = c->req->scheme == &H2O_URL_SCHEME_HTTPS ? "https" : "http";
        char own[512];
        snprintf(own, sizeof(own), "%s://%.*s", scheme, (int)c->req->authority.len,
                 c->req->authority.base);
        if (c->req->authority.len && origin->len == strlen(own) &&
            strncasecmp(origin->base, own, origin->len) == 0)
                return true;
        for (size_t i = 0; i < c->d->cfg.n_origins; i++)
                if (memeq_str(origin->base, origin->len, c->d->cfg.origins[i]))
                        return true;
        return false;
}

static bool rate_limited(struct reqctx *c, enum rl_class cls)
{
        char who[ID_MAX + 72];
        if (c->p.id[0])
                snprintf(who, sizeof(who), "%s", c->p.id);
        else
                snprintf(who, sizeof(who), "ip:%s", c->ip);
        int retry = ratelimit_take(c->d->rl, cls, who, mono_ms());
        if (retry == 0)
                return false;
        char v[16];
        snprintf(v, sizeof(v), "%d", retry);
        atomic_fetch_add(&c->d->metrics.rate_limited, 1);
        add_header(c, "Retry-After", v);
        reply_error(c, 429, "rate_limited", "too many %s requests; retry after %d seconds",
                    rl_class_name(cls), retry);
        return true;
}

static void deny_unauthenticated(struct reqctx *c, int r)
{
        atomic_fetch_add(&c->d->metrics.auth_failures, 1);
        /* Record the failure even for reads; the route's own action is not what happened. */
        memset(&c->p, 0, sizeof(c->p));
        audit_now(c, "auth.failed", "denied");
        c->audited = true;
        add_header(c, "WWW-Authenticate", "Bearer realm=\"rigs\"");
        if (r == -ENOENT)
                reply_error(c, 401, "unauthenticated",
                            "authentication required: send 'Authorization: Bearer <api key>' or "
                            "log in with POST /api/auth/login");
        else
                reply_error(c, 401, "unauthenticated",
                            "the credential is invalid, expired or revoked");
}

/* Routes under /api/orgs/{org} act in the org they name. It must be one the user belongs to
 * (anything else is 404, before any scope check, so that other tenants stay invisible); the
 * credential's scopes are then narrowed by the user's role in that org. A project-bound key
 * never leaves its own org. */
static bool org_path_ok(struct reqctx *c)
{
        if (strncmp(c->route->pattern, "/api/orgs/{org}", 15) != 0)
                return true;
        char ref[128];
        struct org org;
        if (path_param(c, 0, ref, sizeof(ref)) < 0)
                return false;
        int r = c->p.kind == PK_USER ? store_org_resolve(c->st, ref, c->p.id, &org) : -ENOENT;
        if (r == 0 && c->p.project_id[0] && !streq(org.id, c->p.org_id))
                r = -ENOENT;
        if (r < 0) {
                reply_errno(c, r, "org");
                return false;
        }
        if (!streq(org.id, c->p.org_id)) {
                snprintf(c->p.org_id, sizeof(c->p.org_id), "%s", org.id);
                snprintf(c->p.org_name, sizeof(c->p.org_name), "%s", org.name);
                c->p.role = org.role;
                c->p.scopes = c->p.granted & role_scopes(org.role);
        }
        return true;
}

/* A rig credential acts only on routes that declare ACCESS_RIG or ACCESS_RIG_WS (403
 * elsewhere), and there only on its own rig: another rig answers 404, as if it did not exist.
 * Checked before anything else looks at the path, so that it cannot be forgotten. */
static bool rigcred_route_ok(struct reqctx *c)
{
        enum access a = c->route->access;
        if (c->p.kind != PK_RIG_CREDENTIAL || a == ACCESS_PUBLIC || a == ACCESS_METRICS)
                return true;
        if (a != ACCESS_RIG && a != ACCESS_RIG_WS) {
                reply_error(c, 403, "forbidden",
                            "a rig credential acts only on its own rig (get, exec, files, terminal "
                            "and sessions); use an API key here");
                return false;
        }
        char ref[128];
        if (path_param(c, 0, ref, sizeof(ref)) < 0)
                return false;
        if (streq(ref, c->p.rig_id))
                return true;
        /* A name: resolve it in the credential's project and compare ids. */
        struct tenant t = {.org_id = c->p.org_id, .project_id = c->p.project_id};
        struct rig r;
        memset(&r, 0, sizeof(r));
        bool same =
            store_rig_get(c->st, &t, ref, c->p.project_id, &r) == 0 && streq(r.id, c->p.rig_id);
        rig_free_fields(&r);
        if (!same)
                reply_error(c, 404, "not_found", "rig not found");
        return same;
}

static bool access_ok(struct reqctx *c)
{
        const struct route *rt = c->route;
        switch (rt->access) {
        case ACCESS_PUBLIC:
                return true;
        case ACCESS_METRICS:
                if (is_loopback(c->ip) || (c->p.scopes & SCOPE_ADMIN))
                        return true;
                reply_error(c, 403, "forbidden", "metrics need rigs:admin or a loopback client");
                return false;
        case ACCESS_SESSION:
                if (c->p.method != AUTH_SESSION) {
                        reply_error(c, 403, "forbidden",
                                    "this endpoint needs a browser session (POST /api/auth/login)");
                        return false;
                }
                break;
        case ACCESS_USER:
                if (c->p.kind != PK_USER) {
                        reply_error(c, 403, "forbidden", "only users may call this endpoint");
                        return false;
                }
                break;
        default:
                break;
        }
        if ((c->p.scopes & rt->scopes) != rt->scopes) {
                _cleanup_free_ char *need = scopes_format(rt->scopes & ~c->p.scopes);
                reply_error(c, 403, "forbidden", "missing scope: %s", need);
                return false;
        }
        return true;
}

static void method_not_allowed(struct reqctx *c)
{
        char allow[64] = "";
        for (int m = M_GET; m <= M_HEAD; m++)
                if (c->m.allowed & (1u << m)) {
                        if (allow[0])
                                strcat(allow, ", ");
                        strcat(allow, http_method_name((enum http_method)m));
                }
        add_header(c, "Allow", allow);
        reply_error(c, 405, "method_not_allowed", "method %s is not allowed here; allowed: %s",
                    http_method_name(c->method), allow);
}

static void run_route(struct reqctx *c)
{
        const struct route *rt = c->route;
        bool needs_auth = rt->access != ACCESS_PUBLIC;
        int r = -ENOENT;
        if (rt->access != ACCESS_PUBLIC || find_header(c->req, H2O_TOKEN_AUTHORIZATION))
                r = authenticate(c);
        if (r < 0 && needs_auth &&
            !(rt->access == ACCESS_METRICS && is_loopback(c->ip) && r == -ENOENT)) {
                if (!rate_limited(c, rt->rl))
                        deny_unauthenticated(c, r);
                return;
        }
        if (r < 0)
                memset(&c->p, 0, sizeof(c->p));
        if (rate_limited(c, rt->rl))
                return;
        bool unsafe = (c->method != M_GET && c->method != M_HEAD) || rt->access == ACCESS_RIG_WS;
        if (c->p.method == AUTH_SESSION && unsafe && !origin_ok(c)) {
                reply_error(c, 403, "forbidden",
                            "cross-origin request refused: a cookie-authenticated %s needs an "
                            "Origin header matching this server",
                            rt->access == ACCESS_RIG_WS ? "WebSocket upgrade"
                                                        : http_method_name(c->method));
                return;
        }
        if (!rigcred_route_ok(c) || !org_path_ok(c) || !access_ok(c))
                return;
        rt->fn(c);
}

/* A request whose client left before any reply still counts as finished for the drain. */
static void reqctx_dispose(void *arg)
{
        struct reqctx *c = arg;
        if (!c->replied)
                atomic_fetch_sub(&c->d->inflight, 1);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
        struct rigd_thread *t = thread_of(req);
        struct reqctx *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), reqctx_dispose);
        memset(c, 0, sizeof(*c));
        c->req = req;
        c->t = t;
        c->d = t->d;
        c->st = t->st;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        c->start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        atomic_fetch_add(&c->d->inflight, 1);
        peer_ip(req, c->ip, sizeof(c->ip));
        c->method = http_method_parse(req->method.base, req->method.len);
        if (headers_size(req) > HEADERS_MAX) {
                reply_error(c, 413, "too_large", "request headers exceed %u bytes", HEADERS_MAX);
                return 0;
        }
        size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
        int r = route_lookup(rigd_routes, rigd_nroutes, c->method, req->path.base, plen, &c->m);
        if (r == -ENOENT || (r == -EPERM && c->method == 0 && c->m.allowed == 0)) {
                reply_error(c, 404, "not_found", "no such endpoint: %.*s", (int)plen,
                            req->path.base);
                return 0;
        }
        if (r == -EPERM) {
                method_not_allowed(c);
                return 0;
        }
        c->route = c->m.route;
        run_route(c);
        return 0;
}

void http_register(h2o_pathconf_t *pathconf)
{
        h2o_handler_t *h = h2o_create_handler(pathconf, sizeof(*h));
        h->on_req = on_req;
}
