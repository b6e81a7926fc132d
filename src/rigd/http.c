#include "rigd/http.h"

#include "base/log.h"
#include "base/timeutil.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>

static int64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *reason(int status)
{
        switch (status) {
        case 200:
                return "OK";
        case 201:
                return "Created";
        case 202:
                return "Accepted";
        case 204:
                return "No Content";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 402:
                return "Payment Required";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 409:
                return "Conflict";
        case 413:
                return "Payload Too Large";
        case 422:
                return "Unprocessable Entity";
        case 429:
                return "Too Many Requests";
        case 503:
                return "Service Unavailable";
        default:
                return status < 500 ? "Client Error" : "Internal Server Error";
        }
}

void add_header(struct reqctx *c, const char *name, const char *value)
{
        h2o_req_t *req = c->req;
        h2o_iovec_t v = h2o_strdup(&req->pool, value, strlen(value));
        h2o_iovec_t n = h2o_strdup(&req->pool, name, strlen(name));
        h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

static const char *result_for(int status)
{
        if (status < 400)
                return "ok";
        if (status == 401 || status == 403 || status == 429)
                return "denied";
        return "error";
}

static void finish(struct reqctx *c, int status)
{
        if (c->route && c->route->action && !c->audited)
                audit_now(c, c->action ? c->action : c->route->action, result_for(status));
        /* Any mutation may change who holds what: drop every thread's cached credentials before
         * the reply leaves, so the next request sees the change. */
        if (c->method != M_GET && c->method != M_HEAD)
                atomic_fetch_add(&c->d->auth_gen, 1);
        int cls = c->route ? (int)c->route->rl : METRIC_CLASSES - 1;
        metrics_observe(&c->d->metrics, cls, status, now_us() - c->start_us);
        c->replied = true;
        atomic_fetch_sub(&c->d->inflight, 1);
        c->req->res.status = status;
        c->req->res.reason = reason(status);
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-store"));
}

void reply_stream_begin(struct reqctx *c, int status, const char *ctype)
{
        finish(c, status);
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                       strlen(ctype));
}

void reply_upgrade_begin(struct reqctx *c)
{
        finish(c, 101);
        c->req->res.reason = "Switching Protocols";
}

void reply_text(struct reqctx *c, int status, const char *ctype, char *body, size_t len)
{
        finish(c, status);
        h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                       strlen(ctype));
        h2o_iovec_t b = h2o_strdup(&c->req->pool, body, len);
        free(body);
        h2o_send_inline(c->req, b.base, b.len);
}

void reply_json(struct reqctx *c, int status, json_t *body)
{
        char *s = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!s) {
                s = xstrdup("{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}");
                status = 500;
        }
        reply_text(c, status, "application/json", s, strlen(s));
}

void reply_empty(struct reqctx *c, int status)
{
        finish(c, status);
        h2o_send_inline(c->req, "", 0);
}

void reply_error(struct reqctx *c, int status, const char *code, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
        reply_json(c, status, body);
}

void reply_errno(struct reqctx *c, int r, const char *what)
{
        switch (r) {
        case -ENOENT:
                reply_error(c, 404, "not_found", "%s not found", what);
                return;
        case -EEXIST:
                reply_error(c, 409, "conflict", "%s already exists", what);
                return;
        case -EINVAL:
                reply_error(c, 400, "invalid_request", "invalid %s", what);
                return;
        case -EACCES:
        case -EPERM:
                reply_error(c, 403, "forbidden", "not allowed to act on %s", what);
                return;
        case -E2BIG:
                reply_error(c, 413, "too_large", "%s is too large", what);
                return;
        case -EDQUOT:
                reply_error(c, 422, "quota_exceeded", "quota exceeded for %s", what);
                return;
        default:
                /* The path without its query: a query may carry a rig credential. */
                log_error("request %s %.*s failed on %s: %s", http_method_name(c->method),
                          (int)(c->req->query_at == SIZE_MAX ? c->req->path.len : c->req->query_at),
                          c->req->path.base, what, strerror(-r));
                reply_error(c, 500, "internal", "internal error; the request was not completed");
        }
}

json_t *json_time(int64_t epoch_s)
{
        if (!epoch_s)
                return json_null();
        char t[21];
        fmt_rfc3339(epoch_s, t);
        return json_string(t);
}

json_t *json_list(json_t *items, int64_t next)
{
        json_t *n = json_null();
        if (next) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%lld", (long long)next);
                n = json_string(buf);
        }
        return json_pack("{s:o,s:o}", "items", items, "next", n);
}

json_t *principal_json(const struct principal *p)
{
        json_t *o = json_pack("{s:s,s:s,s:s}", "id", p->id, "kind", principal_kind_name(p->kind),
                              "name", p->name);
        if (p->email[0])
                json_object_set_new(o, "email", json_string(p->email));
        return o;
}

static json_t *scopes_json(scopeset_t set)
{
        json_t *a = json_array();
        for (size_t i = 0; i < scope_count(); i++)
                if (set & scope_at(i))
                        json_array_append_new(a, json_string(scope_name(scope_at(i))));
        return a;
}

json_t *me_json(const struct principal *p)
{
        json_t *proj = p->project_id[0]
                           ? json_pack("{s:s,s:s}", "id", p->project_id, "name", p->project_name)
                           : json_null();
        return json_pack("{s:o,s:{s:s,s:s},s:o,s:o}", "principal", principal_json(p), "org", "id",
                         p->org_id, "name", p->org_name, "project", proj, "scopes",
                         scopes_json(p->scopes));
}

void audit_fill(struct audit_entry *e, const struct principal *p, const char *ip,
                const char *action, const char *target, const char *project, const char *result)
{
        memset(e, 0, sizeof(*e));
        e->at = now_ms() / 1000;
        snprintf(e->principal, sizeof(e->principal), "%s", p->id[0] ? p->id : "anonymous");
        snprintf(e->kind, sizeof(e->kind), "%s", principal_kind_name(p->kind));
        snprintf(e->action, sizeof(e->action), "%s", action);
        snprintf(e->target, sizeof(e->target), "%s", target);
        snprintf(e->org, sizeof(e->org), "%s", p->org_id);
        snprintf(e->project, sizeof(e->project), "%s",
                 project && *project ? project : p->project_id);
        snprintf(e->result, sizeof(e->result), "%s", result);
        snprintf(e->ip, sizeof(e->ip), "%s", ip);
}

static void fill_entry(struct reqctx *c, struct audit_entry *e, const char *action,
                       const char *result)
{
        audit_fill(e, &c->p, c->ip, action, c->target, c->project, result);
}

int audit_here(struct reqctx *c, const char *result)
{
        struct audit_entry e;
        fill_entry(c, &e, c->action ? c->action : c->route->action, result);
        int r = audit_append(c->st, c->d->secrets.audit_key, &e);
        if (r == 0)
                c->audited = true;
        return r;
}

void audit_now(struct reqctx *c, const char *action, const char *result)
{
        struct audit_entry e;
        fill_entry(c, &e, action, result);
        int r = store_begin(c->st);
        if (r == 0)
                r = audit_append(c->st, c->d->secrets.audit_key, &e);
        if (r == 0)
                r = store_commit(c->st);
        else
                store_rollback(c->st);
        if (r < 0)
                log_error("audit: cannot record %s (%s): %s", action, result, strerror(-r));
        c->audited = true;
}
