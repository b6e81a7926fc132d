/* Request inputs: JSON bodies, query strings, path parameters, pagination. */
#include "rigd/http.h"

#include "base/url.h"

#include <stdio.h>

int body_decode(struct reqctx *c, const struct jfield *fields, size_t n, void *out,
                uint32_t *present, json_t **root)
{
        h2o_iovec_t ent = c->req->entity;
        if (ent.len > JSON_BODY_MAX) {
                reply_error(c, 413, "too_large", "JSON bodies are limited to %u bytes",
                            JSON_BODY_MAX);
                return -E2BIG;
        }
        struct jerr e;
        json_t *obj = NULL;
        int r = json_parse_object(ent.base, ent.len, &obj, &e);
        if (r == 0)
                r = json_decode(obj, fields, n, out, present, &e);
        if (r < 0) {
                json_decref(obj);
                reply_error(c, 400, "invalid_request", "%s", e.msg);
                return r;
        }
        *root = obj;
        return 0;
}

int query_get(struct reqctx *c, const char *name, char *out, size_t outlen)
{
        h2o_req_t *req = c->req;
        if (req->query_at == SIZE_MAX)
                return -ENOENT;
        const char *q = req->path.base + req->query_at + 1;
        size_t qlen = req->path.len - req->query_at - 1;
        size_t nlen = strlen(name);
        size_t i = 0;
        while (i < qlen) {
                size_t start = i;
                while (i < qlen && q[i] != '&')
                        i++;
                const char *kv = q + start;
                size_t kvlen = i - start;
                i++;
                const char *eq = memchr(kv, '=', kvlen);
                size_t klen = eq ? (size_t)(eq - kv) : kvlen;
                if (klen != nlen || memcmp(kv, name, nlen) != 0)
                        continue;
                if (!eq)
                        return url_decode("", 0, true, out, outlen);
                return url_decode(eq + 1, kvlen - klen - 1, true, out, outlen);
        }
        return -ENOENT;
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
        if (!*s || strlen(s) > 18)
                return -EINVAL;
        int64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (*p - '0');
        }
        if (v < lo || v > hi)
                return -EINVAL;
        *out = v;
        return 0;
}

int page_from_query(struct reqctx *c, struct page *pg)
{
        char v[32];
        int64_t x;
        pg->after = 0;
        pg->limit = 50;
        int r = query_get(c, "limit", v, sizeof(v));
        if (r != -ENOENT) {
                if (r < 0 || parse_int(v, 1, 500, &x) < 0) {
                        reply_error(c, 400, "invalid_request",
                                    "limit must be an integer from 1 to 500");
                        return -EINVAL;
                }
                pg->limit = (int)x;
        }
        r = query_get(c, "cursor", v, sizeof(v));
        if (r != -ENOENT && r != 0) { /* an empty cursor is the first page */
                if (r < 0 || parse_int(v, 1, INT64_MAX / 2, &x) < 0) {
                        reply_error(c, 400, "invalid_request",
                                    "cursor is not valid; pass the 'next' value of the previous "
                                    "page");
                        return -EINVAL;
                }
                pg->after = x;
        }
        return 0;
}

int path_param(struct reqctx *c, int i, char *out, size_t outlen)
{
        if (i >= c->m.nparams ||
            url_decode(c->m.params[i].p, c->m.params[i].len, false, out, outlen) <= 0) {
                reply_error(c, 404, "not_found", "no such object");
                return -ENOENT;
        }
        return 0;
}
