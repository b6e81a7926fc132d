/* The route table: every served endpoint with the scope and rate-limit class it needs. A route
 * that does not declare its access rule (ACCESS_UNDECLARED) makes rigd refuse to start. */
#pragma once

#include "core/authn.h"
#include "core/ratelimit.h"
#include "core/scope.h"

struct reqctx;
typedef void (*route_fn)(struct reqctx *c);

enum http_method { M_GET = 1, M_POST, M_PUT, M_PATCH, M_DELETE, M_HEAD };

enum access {
        ACCESS_UNDECLARED = 0, /* never valid: a forgotten declaration must not be servable */
        ACCESS_PUBLIC,         /* no credential needed */
        ACCESS_AUTH,           /* any authenticated principal, plus the scopes below */
        ACCESS_USER,           /* an authenticated user (not an agent or rig credential) */
        ACCESS_SESSION,        /* a browser session only */
        ACCESS_METRICS,        /* rigs:admin, or a loopback peer */
        /* Like ACCESS_AUTH, and a rig credential may call it too, for its own rig only (the
         * pattern starts with /api/rigs/{id}). A rig credential gets 403 on every route that
         * does not declare one of these two. */
        ACCESS_RIG,
        /* ACCESS_RIG for a WebSocket upgrade: a rig credential may also come in ?token=, and a
         * cookie needs a matching Origin (an upgrade is a cross-site-capable GET). */
        ACCESS_RIG_WS,
};

#define ROUTE_MAX_PARAMS 4

struct route {
        enum http_method method;
        const char *pattern; /* "/api/keys/{id}/rotate" */
        enum access access;
        scopeset_t scopes; /* all required (with ACCESS_AUTH / ACCESS_USER) */
        enum rl_class rl;
        const char *action; /* audit action for mutations; NULL for reads */
        route_fn fn;
};

struct route_match {
        const struct route *route;
        struct slice params[ROUTE_MAX_PARAMS];
        int nparams;
        unsigned allowed; /* bit (1 << method) of methods the path allows (for 405) */
};

const char *http_method_name(enum http_method m);
/* Parses a method token; 0 when unsupported. */
enum http_method http_method_parse(const char *p, size_t len);

/* Matches a path (no query string) against the table. Returns 0 with m->route set, -ENOENT when no
 * pattern matches the path, -EPERM (405) when patterns match but not the method (m->allowed set).
 * Parameters are raw slices of path; a segment must be non-empty and at most 256 bytes. */
int route_lookup(const struct route *table, size_t n, enum http_method method, const char *path,
                 size_t len, struct route_match *m);
/* Checks that every route declares its access rule and that patterns are well formed. */
int route_table_validate(const struct route *table, size_t n, const char **bad);
