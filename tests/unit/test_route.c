/* Route matching (404 vs 405, parameters, trailing slashes, limits) and table validation, on a
 * small table and on the real one. */
#include "rigd/http.h"
#include "rigd/route.h"

#include <stdio.h>

#include "tap.h"

static void h(struct reqctx *c)
{
        (void)c;
}

#define U ACCESS_USER
static const struct route table[] = {
    /* 0 */ {M_GET, "/healthz", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
    /* 1 */ {M_GET, "/api/keys", U, 0, RL_OTHER, NULL, h},
    /* 2 */ {M_POST, "/api/keys", U, 0, RL_AUTH, "key.create", h},
    /* 3 */ {M_DELETE, "/api/keys/{id}", U, 0, RL_OTHER, "key.revoke", h},
    /* 4 */ {M_POST, "/api/keys/{id}/rotate", U, 0, RL_AUTH, "key.rotate", h},
    /* 5 */ {M_GET, "/api/orgs/{org}/members", U, 0, RL_OTHER, NULL, h},
    /* 6 */
    {M_DELETE, "/api/orgs/{org}/members/{user}", U, SCOPE_ADMIN, RL_OTHER, "member.remove", h},
    /* 7 */ {M_GET, "/p/{a}/{b}/{c}/{d}", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
};
#define N      ARRAY_SIZE(table)
#define BIT(m) (1u << (m))

/* Looks up path and expects route index `want` (or an error) and the given parameters. */
static void lookup_ok(enum http_method meth, const char *path, int want, int nparams,
                      const char *p0, const char *p1)
{
        struct route_match m;
        int r = route_lookup(table, N, meth, path, strlen(path), &m);
        if (!is_int(r, 0, "%s %s matches", http_method_name(meth), path))
                return;
        is_int(m.route - table, want, "  route #%d", want);
        is_int(m.nparams, nparams, "  %d parameters", nparams);
        if (nparams > 0)
                is_mem(m.params[0].p, m.params[0].len, p0, "  param 0");
        if (nparams > 1)
                is_mem(m.params[1].p, m.params[1].len, p1, "  param 1");
        int outside = 0;
        for (int i = 0; i < m.nparams; i++)
                if (m.params[i].p < path || m.params[i].p + m.params[i].len > path + strlen(path))
                        outside++;
        is_int(outside, 0, "  parameters are slices of the path");
}

static void lookup_err(enum http_method meth, const char *path, int want, unsigned allowed)
{
        struct route_match m;
        int r = route_lookup(table, N, meth, path, strlen(path), &m);
        is_int(r, want, "%s %s: %s", http_method_name(meth), path, want == -ENOENT ? "404" : "405");
        ok(m.route == NULL, "  no route");
        is_int(m.allowed, allowed, "  allowed methods %#x", allowed);
}

static void test_lookup(void)
{
        lookup_ok(M_GET, "/healthz", 0, 0, NULL, NULL);
        lookup_ok(M_HEAD, "/healthz", 0, 0, NULL, NULL);
        lookup_ok(M_GET, "/api/keys", 1, 0, NULL, NULL);
        lookup_ok(M_POST, "/api/keys", 2, 0, NULL, NULL);
        lookup_ok(M_HEAD, "/api/keys", 1, 0, NULL, NULL);
        lookup_ok(M_DELETE, "/api/keys/key_x", 3, 1, "key_x", NULL);
        lookup_ok(M_POST, "/api/keys/key_x/rotate", 4, 1, "key_x", NULL);
        lookup_ok(M_GET, "/api/orgs/acme/members", 5, 1, "acme", NULL);
        lookup_ok(M_DELETE, "/api/orgs/acme/members/usr_1", 6, 2, "acme", "usr_1");
        lookup_ok(M_DELETE, "/api/orgs/org_1/members/bob%40example.com", 6, 2, "org_1",
                  "bob%40example.com");
        lookup_ok(M_GET, "/p/1/22/333/4444", 7, 4, "1", "22");
        /* Parameters are raw: no decoding, dots and percent signs are kept as they are. */
        lookup_ok(M_DELETE, "/api/keys/..", 3, 1, "..", NULL);
        lookup_ok(M_DELETE, "/api/keys/a%2Fb", 3, 1, "a%2Fb", NULL);

        /* Trailing slash is tolerated once. */
        lookup_ok(M_GET, "/healthz/", 0, 0, NULL, NULL);
        lookup_ok(M_GET, "/api/keys/", 1, 0, NULL, NULL);
        lookup_ok(M_DELETE, "/api/keys/key_x/", 3, 1, "key_x", NULL);
        lookup_ok(M_POST, "/api/keys/key_x/rotate/", 4, 1, "key_x", NULL);
        lookup_err(M_GET, "/api/keys//", -ENOENT, 0);
        lookup_err(M_GET, "/healthz//", -ENOENT, 0);

        /* 405 with the allowed set (HEAD comes with GET). */
        lookup_err(M_PUT, "/api/keys", -EPERM, BIT(M_GET) | BIT(M_HEAD) | BIT(M_POST));
        lookup_err(M_DELETE, "/api/keys", -EPERM, BIT(M_GET) | BIT(M_HEAD) | BIT(M_POST));
        lookup_err(M_GET, "/api/keys/key_x", -EPERM, BIT(M_DELETE));
        lookup_err(M_HEAD, "/api/keys/key_x", -EPERM, BIT(M_DELETE));
        lookup_err(M_GET, "/api/keys/key_x/rotate", -EPERM, BIT(M_POST));
        lookup_err(M_POST, "/healthz", -EPERM, BIT(M_GET) | BIT(M_HEAD));
        lookup_err(M_PATCH, "/api/orgs/o/members/u", -EPERM, BIT(M_DELETE));
        lookup_err((enum http_method)0, "/healthz", -EPERM, BIT(M_GET) | BIT(M_HEAD));

        /* 404. */
        lookup_err(M_GET, "/", -ENOENT, 0);
        lookup_err(M_GET, "", -ENOENT, 0);
        lookup_err(M_GET, "healthz", -ENOENT, 0);
        lookup_err(M_GET, "//healthz", -ENOENT, 0);
        lookup_err(M_GET, "/healthzz", -ENOENT, 0);
        lookup_err(M_GET, "/healthz/x", -ENOENT, 0);
        lookup_err(M_GET, "/HEALTHZ", -ENOENT, 0);
        lookup_err(M_GET, "/api/key", -ENOENT, 0);
        lookup_err(M_GET, "/api/keysx", -ENOENT, 0);
        lookup_err(M_GET, "/api/keys?limit=1", -ENOENT, 0);
        lookup_err(M_POST, "/api/keys/key_x/rotatex", -ENOENT, 0);
        lookup_err(M_POST, "/api/keys/key_x/rotate/x", -ENOENT, 0);
        lookup_err(M_DELETE, "/api/keys/a/b", -ENOENT, 0);
        lookup_err(M_GET, "/p/1/2/3", -ENOENT, 0);
        lookup_err(M_GET, "/p/1/2/3/4/5", -ENOENT, 0);

        /* Empty segments are not parameters. */
        lookup_err(M_POST, "/api/keys//rotate", -ENOENT, 0);
        lookup_err(M_GET, "/api/orgs//members", -ENOENT, 0);
        lookup_err(M_DELETE, "/api/orgs//members/u", -ENOENT, 0);
        lookup_err(M_DELETE, "/api/orgs/o/members//", -ENOENT, 0);
        lookup_err(M_GET, "/p/1//3/4", -ENOENT, 0);
        /* "/api/keys/" is "/api/keys", which exists without DELETE. */
        lookup_err(M_DELETE, "/api/keys/", -EPERM, BIT(M_GET) | BIT(M_HEAD) | BIT(M_POST));

        /* Segment length: 256 bytes is the maximum. */
        char path[600];
        char seg[300];
        memset(seg, 'k', sizeof(seg));
        seg[256] = '\0';
        snprintf(path, sizeof(path), "/api/keys/%s/rotate", seg);
        struct route_match m;
        is_int(route_lookup(table, N, M_POST, path, strlen(path), &m), 0, "256-byte segment");
        is_int(m.params[0].len, 256, "  parameter of 256 bytes");
        seg[256] = 'k';
        seg[257] = '\0';
        snprintf(path, sizeof(path), "/api/keys/%s/rotate", seg);
        is_int(route_lookup(table, N, M_POST, path, strlen(path), &m), -ENOENT,
               "257-byte segment: 404");
        snprintf(path, sizeof(path), "/api/keys/%s", seg);
        is_int(route_lookup(table, N, M_DELETE, path, strlen(path), &m), -ENOENT,
               "257-byte last segment: 404");

        /* (ptr, len): bytes after len are not part of the path. */
        const char *buf = "/api/keys/key_x/rotate";
        is_int(route_lookup(table, N, M_DELETE, buf, 15, &m), 0, "a prefix slice matches");
        is_mem(m.params[0].p, m.params[0].len, "key_x", "  param stops at len");
        is_int(route_lookup(table, N, M_GET, buf, 9, &m), 0, "a shorter slice");
        is_int(m.route - table, 1, "  is /api/keys");
        is_int(route_lookup(table, N, M_GET, buf, 0, &m), -ENOENT, "an empty slice is 404");

        /* An empty table knows nothing. */
        is_int(route_lookup(table, 0, M_GET, "/healthz", 8, &m), -ENOENT, "empty table: 404");
}

static void test_methods(void)
{
        is_int(http_method_parse("GET", 3), M_GET, "GET");
        is_int(http_method_parse("HEAD", 4), M_HEAD, "HEAD");
        is_int(http_method_parse("DELETE", 6), M_DELETE, "DELETE");
        is_int(http_method_parse("PATCH", 5), M_PATCH, "PATCH");
        is_int(http_method_parse("get", 3), 0, "methods are case-sensitive");
        is_int(http_method_parse("GETX", 4), 0, "GETX");
        is_int(http_method_parse("GETX", 3), M_GET, "a slice of GETX");
        is_int(http_method_parse("GE", 2), 0, "GE");
        is_int(http_method_parse("OPTIONS", 7), 0, "OPTIONS is not served");
        is_int(http_method_parse("", 0), 0, "empty");
        is_str(http_method_name(M_POST), "POST", "name of POST");
        is_str(http_method_name((enum http_method)0), "?", "name of 0");
        is_str(http_method_name((enum http_method)99), "?", "name of 99");
}

static void validate_bad(struct route r, const char *what)
{
        const struct route t[2] = {table[0], r};
        const char *bad = "untouched";
        is_int(route_table_validate(t, 2, &bad), -EINVAL, "validate rejects %s", what);
        ok(bad == r.pattern, "  and names its pattern (%s)", r.pattern ? r.pattern : "NULL");
}

static void test_validate(void)
{
        const char *bad = "untouched";
        is_int(route_table_validate(table, N, &bad), 0, "the test table is valid");
        ok(bad == NULL, "  bad is NULL");
        is_int(route_table_validate(table, 0, &bad), 0, "an empty table is valid");

        validate_bad((struct route){M_GET, "/x", ACCESS_UNDECLARED, 0, RL_OTHER, NULL, h},
                     "ACCESS_UNDECLARED");
        validate_bad((struct route){M_POST, "/x", ACCESS_USER, 0, RL_OTHER, NULL, h},
                     "a POST without an audit action");
        validate_bad((struct route){M_DELETE, "/x/{id}", ACCESS_USER, 0, RL_OTHER, NULL, h},
                     "a DELETE without an audit action");
        validate_bad((struct route){M_PUT, "/x", ACCESS_USER, 0, RL_OTHER, NULL, h},
                     "a PUT without an audit action");
        validate_bad((struct route){M_PATCH, "/x", ACCESS_USER, 0, RL_OTHER, NULL, h},
                     "a PATCH without an audit action");
        validate_bad((struct route){M_GET, "/x", ACCESS_PUBLIC, 0, RL_OTHER, NULL, NULL},
                     "a missing handler");
        validate_bad((struct route){M_GET, "x", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
                     "a relative pattern");
        validate_bad((struct route){M_GET, "", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
                     "an empty pattern");
        validate_bad((struct route){M_GET, NULL, ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
                     "a NULL pattern");
        validate_bad((struct route){M_GET, "/x", ACCESS_PUBLIC, 0, RL_CLASS_MAX, NULL, h},
                     "an unknown rate-limit class");
        validate_bad((struct route){M_GET, "/x/{id", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
                     "an unclosed parameter");
        validate_bad((struct route){M_GET, "/x/{}", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
                     "an empty parameter name");
        validate_bad((struct route){M_GET, "/x/{id}y", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
                     "text after a parameter");
        validate_bad(
            (struct route){M_GET, "/{a}/{b}/{c}/{d}/{e}", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
            "five parameters");
        validate_bad((struct route){M_GET, "/api/keys/{id}", ACCESS_RIG, 0, RL_OTHER, NULL, h},
                     "a rig-credential route that is not about one rig");
        validate_bad(
            (struct route){M_POST, "/api/rigs/{id}/pty", ACCESS_RIG_WS, 0, RL_OTHER, "x", h},
            "a WebSocket route that is not a GET");

        const struct route good[] = {
            {M_GET, "/x", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
            {M_HEAD, "/x", ACCESS_PUBLIC, 0, RL_OTHER, NULL, h},
            {M_GET, "/{a}/{b}/{c}/{d}", ACCESS_METRICS, 0, RL_APPS, NULL, h},
            {M_POST, "/x/{id}/y", ACCESS_SESSION, 0, RL_RIGS, "x.y", h},
        };
        is_int(route_table_validate(good, ARRAY_SIZE(good), &bad), 0,
               "reads without actions, HEAD, 4 parameters, mutations with actions are valid");
}

/* The served table: valid, no duplicates, and every route reachable by its own shape. */
static void test_real_table(void)
{
        const char *bad = "untouched";
        is_int(route_table_validate(rigd_routes, rigd_nroutes, &bad), 0, "rigd_routes is valid");
        ok(bad == NULL, "  (bad: %s)", bad ? bad : "none");
        ok(rigd_nroutes >= 20, "rigd_routes has %zu routes", rigd_nroutes);

        int dups = 0, unreachable = 0;
        for (size_t i = 0; i < rigd_nroutes; i++) {
                for (size_t j = i + 1; j < rigd_nroutes; j++)
                        if (rigd_routes[i].method == rigd_routes[j].method &&
                            streq(rigd_routes[i].pattern, rigd_routes[j].pattern))
                                dups++;
                /* Replace each {param} with a sample value and look the route up. */
                char path[256];
                size_t o = 0;
                for (const char *p = rigd_routes[i].pattern; *p && o + 16 < sizeof(path); p++) {
                        if (*p == '{') {
                                o += (size_t)snprintf(path + o, sizeof(path) - o, "v_%zu", o);
                                p = strchr(p, '}');
                                continue;
                        }
                        path[o++] = *p;
                }
                path[o] = '\0';
                struct route_match m;
                int r = route_lookup(rigd_routes, rigd_nroutes, rigd_routes[i].method, path, o, &m);
                if (r != 0 || m.route != &rigd_routes[i]) {
                        diag("%s %s -> %d", http_method_name(rigd_routes[i].method), path, r);
                        unreachable++;
                }
        }
        is_int(dups, 0, "no (method, pattern) is declared twice");
        is_int(unreachable, 0, "every route is reached by a path of its own shape");

        struct route_match m;
        is_int(route_lookup(rigd_routes, rigd_nroutes, M_GET, "/api/me", 7, &m), 0, "GET /api/me");
        is_int(m.route->access, ACCESS_AUTH, "  needs authentication");
        is_int(route_lookup(rigd_routes, rigd_nroutes, M_POST, "/api/keys/key_x/rotate", 22, &m), 0,
               "POST /api/keys/key_x/rotate");
        is_str(m.route->action, "key.rotate", "  audit action key.rotate");
        is_int(m.route->rl, RL_AUTH, "  rate-limit class auth");
        is_int(route_lookup(rigd_routes, rigd_nroutes, M_HEAD, "/healthz", 8, &m), 0,
               "HEAD /healthz");
        is_int(m.route->access, ACCESS_PUBLIC, "  public");
        is_int(route_lookup(rigd_routes, rigd_nroutes, M_GET, "/api/auth/login", 15, &m), -EPERM,
               "GET /api/auth/login: 405");
        is_int(m.allowed, BIT(M_POST), "  allows POST only");
}

int main(void)
{
        test_lookup();
        test_methods();
        test_validate();
        test_real_table();
        return done_testing();
}
