/* Query strings: query_get's splitting and percent-decoding on a request whose path is
 * "/api/audit?" followed by the input. */
#include "rigd/http.h"

#include "fuzz.h"

static void check_param(struct reqctx *c, const char *name, size_t outlen)
{
        char out[300];
        memset(out, 0x5a, sizeof(out));
        int r = query_get(c, name, out, outlen);
        CHECK(r == -ENOENT || r == -EINVAL || r >= 0);
        if (r < 0)
                return;
        CHECK((size_t)r < outlen);
        CHECK(out[r] == '\0');
        CHECK(strlen(out) == (size_t)r);
        CHECK(out[outlen] == 0x5a); /* nothing written past outlen */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char prefix[] = "/api/audit?";
        size_t plen = sizeof(prefix) - 1;
        char *path = malloc(plen + size);
        CHECK(path);
        memcpy(path, prefix, plen);
        if (size)
                memcpy(path + plen, data, size);

        h2o_req_t req;
        struct reqctx c;
        memset(&req, 0, sizeof(req));
        memset(&c, 0, sizeof(c));
        req.path = h2o_iovec_init(path, plen + size);
        req.query_at = plen - 1;
        c.req = &req;

        check_param(&c, "limit", 32);
        check_param(&c, "cursor", 32);
        check_param(&c, "since", 64);
        check_param(&c, "principal", 1);
        check_param(&c, "action", 256);
        check_param(&c, "", 16);
        free(path);
        return 0;
}
