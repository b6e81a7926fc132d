/* The HTTP binding layer: per-request context, authentication and access checks, replies with
 * the contract's error bodies, and the audit entry every mutation writes before its reply. */
#pragma once

#include "core/audit.h"
#include "core/principal.h"
#include "rigd/jsonin.h"
#include "rigd/rigd.h"
#include "rigd/route.h"

struct reqctx {
        h2o_req_t *req;
        struct rigd_thread *t;
        struct rigd *d;
        struct store *st;
        const struct route *route;
        struct route_match m;
        enum http_method method;
        struct principal p;
        char ip[64];
        char target[128]; /* audit target, set by handlers as soon as it is known */
        char project[ID_MAX];
        const char *action; /* overrides the route's audit action when set */
        bool audited;       /* the handler wrote its audit entry */
        bool replied;
        int64_t start_us;
};

/* Route table, defined in routes.c. */
extern const struct route rigd_routes[];
extern const size_t rigd_nroutes;

/* Registers the dispatcher on an h2o path config. */
void http_register(h2o_pathconf_t *pathconf);
/* Authenticates a bearer token (API key or rig credential) for the router, through the
 * thread's credential cache: 0 with *out filled, or a negative errno. */
int rigd_auth_token(struct rigd_thread *t, const char *tok, size_t len, struct principal *out);
/* The same for the value of a rigs_session cookie. */
int rigd_auth_session(struct rigd_thread *t, const char *tok, size_t len, struct principal *out);
/* Authenticates the request's credential (header or session cookie) into c->p, for a public
 * route that behaves differently for a signed-in user. 0, -ENOENT (none) or another errno. */
int rigd_authenticate(struct reqctx *c);

/* Replies. Each writes the fallback audit entry of a mutation (if the handler wrote none), updates
 * metrics, then sends. body is stolen. */
void reply_json(struct reqctx *c, int status, json_t *body);
void reply_error(struct reqctx *c, int status, const char *code, const char *fmt, ...)
    _printf_(4, 5);
void reply_empty(struct reqctx *c, int status);
void reply_text(struct reqctx *c, int status, const char *ctype, char *body, size_t len);
/* Maps a negative errno from core to the contract's error: -ENOENT 404, -EEXIST 409,
 * -EINVAL 400, -EACCES/-EPERM 403, -E2BIG 413, -EDQUOT 422, else 500 (logged, never detailed). */
void reply_errno(struct reqctx *c, int r, const char *what);
void add_header(struct reqctx *c, const char *name, const char *value);
/* Does the bookkeeping of a reply (audit fallback, metrics) and sets status and content type;
 * the caller then streams the body with h2o_start_response / h2o_send. */
void reply_stream_begin(struct reqctx *c, int status, const char *ctype);

/* The bookkeeping of a 101 Switching Protocols (metrics, in-flight count); the caller adds the
 * upgrade headers and hands the connection over with h2o_http1_upgrade. */
void reply_upgrade_begin(struct reqctx *c);

/* Parses the body as a JSON object and decodes fields; replies 400/413 itself and returns < 0. */
int body_decode(struct reqctx *c, const struct jfield *fields, size_t n, void *out,
                uint32_t *present, json_t **root);
/* Copies the percent-decoded query parameter into out. Returns length, -ENOENT if absent,
 * -EINVAL if malformed or too long. */
int query_get(struct reqctx *c, const char *name, char *out, size_t outlen);
/* Reads ?limit= and ?cursor=; replies 400 itself and returns < 0 on a bad value. */
int page_from_query(struct reqctx *c, struct page *pg);
/* Copies path parameter i (percent-decoded) into out; replies 404 and returns < 0 if unusable. */
int path_param(struct reqctx *c, int i, char *out, size_t outlen);

/* Writes the handler's audit entry inside the caller's open transaction. */
int audit_here(struct reqctx *c, const char *result);
/* Fills an entry for an explicit actor (jobs that outlive their request). */
void audit_fill(struct audit_entry *e, const struct principal *p, const char *ip,
                const char *action, const char *target, const char *project, const char *result);
/* Writes an audit entry in its own transaction (denials and failures). */
void audit_now(struct reqctx *c, const char *action, const char *result);

/* JSON helpers for rendering. */
json_t *json_time(int64_t epoch_s); /* RFC 3339 string, or null for 0 */
json_t *json_list(json_t *items, int64_t next);
json_t *principal_json(const struct principal *p);
json_t *me_json(const struct principal *p);
