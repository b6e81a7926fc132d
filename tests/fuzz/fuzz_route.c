/* Route matching on the served table. Input: "METHOD PATH" (the first space splits; without one
 * the whole input is a GET path). */
#include "rigd/http.h"
#include "rigd/route.h"

#include "fuzz.h"

static size_t count_params(const char *pattern)
{
        size_t n = 0;
        for (const char *p = pattern; *p; p++)
                n += *p == '{';
        return n;
}

/* Rebuilds the path from the pattern and the parameters and compares it with the input path
 * (which may carry one tolerated trailing slash). */
static void check_rebuild(const struct route_match *m, const char *path, size_t len)
{
        char *buf = malloc(len + 1);
        size_t o = 0;
        int np = 0;
        CHECK(buf);
        for (const char *p = m->route->pattern; *p; p++) {
                if (*p == '{') {
                        CHECK(np < m->nparams);
                        CHECK(o + m->params[np].len <= len);
                        memcpy(buf + o, m->params[np].p, m->params[np].len);
                        o += m->params[np].len;
                        np++;
                        p = strchr(p, '}');
                        CHECK(p);
                        continue;
                }
                CHECK(o < len);
                buf[o++] = *p;
        }
        CHECK(np == m->nparams);
        CHECK(o == len || (o + 1 == len && path[len - 1] == '/' && len > 1));
        CHECK(memcmp(buf, path, o) == 0);
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *sp = memchr(data, ' ', size);
        enum http_method method = M_GET;
        size_t off = 0;
        if (sp) {
                size_t mlen = (size_t)(sp - data);
                method = http_method_parse((const char *)data, mlen);
                if (!method && mlen)
                        method = (enum http_method)(data[0] % 8); /* also 0 and 7: unknown */
                off = mlen + 1;
        }
        size_t len = size - off;
        char *path = dup_exact(data + off, len);

        struct route_match m;
        int r = route_lookup(rigd_routes, rigd_nroutes, method, path, len, &m);
        CHECK(r == 0 || r == -ENOENT || r == -EPERM);
        enum http_method want = method == M_HEAD ? M_GET : method;
        if (r == 0) {
                CHECK(m.route >= rigd_routes && m.route < rigd_routes + rigd_nroutes);
                CHECK(m.route->method == want);
                CHECK(m.allowed & (1u << m.route->method));
                CHECK(m.nparams >= 0 && m.nparams <= ROUTE_MAX_PARAMS);
                CHECK((size_t)m.nparams == count_params(m.route->pattern));
                for (int i = 0; i < m.nparams; i++) {
                        CHECK(m.params[i].len >= 1 && m.params[i].len <= 256);
                        CHECK(inside(m.params[i].p, m.params[i].len, path, len));
                        CHECK(!memchr(m.params[i].p, '/', m.params[i].len));
                }
                check_rebuild(&m, path, len);
                /* HEAD and GET see the same route. */
                if (method == M_HEAD || method == M_GET) {
                        struct route_match m2;
                        enum http_method other = method == M_HEAD ? M_GET : M_HEAD;
                        CHECK(route_lookup(rigd_routes, rigd_nroutes, other, path, len, &m2) == 0);
                        CHECK(m2.route == m.route && m2.nparams == m.nparams);
                }
        } else if (r == -EPERM) {
                CHECK(m.route == NULL);
                CHECK(m.allowed != 0);
                CHECK(!(want >= M_GET && want <= M_HEAD && (m.allowed & (1u << want))));
        } else {
                CHECK(m.route == NULL);
                CHECK(m.allowed == 0);
        }
        free(path);
        return 0;
}
