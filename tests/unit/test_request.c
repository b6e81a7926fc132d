/* Request inputs: query parameters, pagination and path parameters, percent-decoding. Only the
 * paths that do not reply are exercised here (a reply needs a live h2o connection); the error
 * replies are covered by the end-to-end tests. */
#include "rigd/http.h"

#include "tap.h"

static h2o_req_t req;
static struct reqctx ctx;

/* Points the fake request at a path with an optional query string. */
static void set_path(const char *path)
{
        memset(&req, 0, sizeof(req));
        memset(&ctx, 0, sizeof(ctx));
        req.path = h2o_iovec_init(path, strlen(path));
        const char *q = strchr(path, '?');
        req.query_at = q ? (size_t)(q - path) : SIZE_MAX;
        ctx.req = &req;
}

static void query_is(const char *path, const char *name, const char *want)
{
        char out[32];
        set_path(path);
        int r = query_get(&ctx, name, out, sizeof(out));
        if (is_int(r, (int)strlen(want), "%s: %s has %zu bytes", path, name, strlen(want)))
                is_str(out, want, "  %s is '%s'", name, want);
}

static void query_err(const char *path, const char *name, int want)
{
        char out[32];
        set_path(path);
        is_int(query_get(&ctx, name, out, sizeof(out)), want, "%s: %s is %s", path, name,
               want == -ENOENT ? "absent" : "invalid");
}

static void test_query(void)
{
        query_is("/api/audit?limit=5&cursor=10", "limit", "5");
        query_is("/api/audit?limit=5&cursor=10", "cursor", "10");
        query_is("/api/audit?action=key.create", "action", "key.create");
        query_is("/api/audit?principal=usr%5F1", "principal", "usr_1");
        query_is("/api/audit?since=2024-01-01T00%3A00%3A00Z", "since", "2024-01-01T00:00:00Z");
        query_is("/x?a=b+c", "a", "b c");
        query_is("/x?a=b%2Bc", "a", "b+c");
        query_is("/x?a=%41%62", "a", "Ab");
        query_is("/x?a=%e2%82%ac", "a", "\xe2\x82\xac");
        query_is("/x?a", "a", "");
        query_is("/x?a=", "a", "");
        query_is("/x?a=1&a=2", "a", "1");
        query_is("/x?aa=1&a=2", "a", "2");
        query_is("/x?ba=1&a=2", "a", "2");
        query_is("/x?&&a=3&", "a", "3");
        query_is("/x?a=x=y", "a", "x=y");
        query_is("/x?a=1234567890123456789012345678901", "a", "1234567890123456789012345678901");

        query_err("/x", "a", -ENOENT);
        query_err("/x?", "a", -ENOENT);
        query_err("/x?b=1", "a", -ENOENT);
        query_err("/x?A=1", "a", -ENOENT);
        query_err("/x?%61=1", "a", -ENOENT);
        query_err("/x?=1", "a", -ENOENT);
        query_err("/x?a=12345678901234567890123456789012", "a", -EINVAL);
        query_err("/x?a=%", "a", -EINVAL);
        query_err("/x?a=%4", "a", -EINVAL);
        query_err("/x?a=%4&b=1", "a", -EINVAL);
        query_err("/x?a=%zz", "a", -EINVAL);
        query_err("/x?a=%00", "a", -EINVAL);
        query_err("/x?a=b%00c", "a", -EINVAL);

        /* The output buffer bounds the value, NUL included. */
        char small[4];
        set_path("/x?a=abc&b=abcd&c=%41%41%41%41");
        is_int(query_get(&ctx, "a", small, sizeof(small)), 3, "3 bytes fit in char[4]");
        is_str(small, "abc", "  abc");
        is_int(query_get(&ctx, "b", small, sizeof(small)), -EINVAL, "4 bytes do not");
        is_int(query_get(&ctx, "c", small, sizeof(small)), -EINVAL, "4 decoded bytes do not");
}

static void test_page(void)
{
        struct page pg = {.after = 99, .limit = 99};
        set_path("/api/keys");
        is_int(page_from_query(&ctx, &pg), 0, "no query: defaults");
        is_int(pg.limit, 50, "  limit 50");
        is_int(pg.after, 0, "  from the start");
        set_path("/api/keys?limit=1&cursor=77");
        is_int(page_from_query(&ctx, &pg), 0, "limit=1&cursor=77");
        is_int(pg.limit, 1, "  limit 1");
        is_int(pg.after, 77, "  after 77");
        set_path("/api/keys?limit=500&cursor=");
        is_int(page_from_query(&ctx, &pg), 0, "limit=500 and an empty cursor");
        is_int(pg.limit, 500, "  limit 500");
        is_int(pg.after, 0, "  empty cursor is the first page");
        /* Cursors are limited to 18 digits (and to INT64_MAX / 2, which has 19). */
        set_path("/api/keys?cursor=999999999999999999");
        is_int(page_from_query(&ctx, &pg), 0, "an 18-digit cursor");
        is_int(pg.after, 999999999999999999LL, "  999999999999999999");
}

static void test_path_param(void)
{
        char out[32];
        set_path("/api/orgs/acme/members/bob%40example.com");
        ctx.m.nparams = 2;
        ctx.m.params[0] = (struct slice){req.path.base + 10, 4};
        ctx.m.params[1] = (struct slice){req.path.base + 23, 17};
        is_int(path_param(&ctx, 0, out, sizeof(out)), 0, "path param 0");
        is_str(out, "acme", "  acme");
        is_int(path_param(&ctx, 1, out, sizeof(out)), 0, "path param 1");
        is_str(out, "bob@example.com", "  percent-decoded");

        set_path("/api/keys/a+b");
        ctx.m.nparams = 1;
        ctx.m.params[0] = (struct slice){req.path.base + 10, 3};
        is_int(path_param(&ctx, 0, out, sizeof(out)), 0, "path param with '+'");
        is_str(out, "a+b", "  '+' is not a space in a path");
}

int main(void)
{
        test_query();
        test_page();
        test_path_param();
        return done_testing();
}
