/* The app router's request handling on untrusted bytes: request heads (framing, Host, the
 * credentials it reads), Host matching, the rewritten head sent to the rig, preview-parameter
 * removal, and rig answer heads rewritten for the client. */
#include "router/rhttp.h"

#include "fuzz.h"

#include <errno.h>
#include <strings.h>

#define DOMAIN "rigs.localhost"

/* A head we emit: CRLF-terminated lines, no bare CR or LF, one blank line at the very end. */
static void check_head(const struct buf *b)
{
        CHECK(b->len >= 4);
        CHECK(memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0);
        for (size_t i = 0; i < b->len; i++) {
                if (b->data[i] == '\n')
                        CHECK(i > 0 && b->data[i - 1] == '\r');
                if (b->data[i] == '\r')
                        CHECK(i + 1 < b->len && b->data[i + 1] == '\n');
                if (i + 4 < b->len)
                        CHECK(memcmp(b->data + i, "\r\n\r\n", 4) != 0);
        }
}

/* s appears (case-insensitively) in the header lines, after the request line */
static int has_ci(const struct buf *b, const char *s)
{
        size_t n = strlen(s), start = 0;
        while (start + 1 < b->len && memcmp(b->data + start, "\r\n", 2))
                start++;
        for (size_t i = start; i + n <= b->len; i++)
                if (strncasecmp(b->data + i, s, n) == 0)
                        return 1;
        return 0;
}

/* A cookie forwarded in a Cookie line of the head has a name starting with prefix. */
static int cookie_line_has(const struct buf *b, const char *prefix)
{
        size_t pl = strlen(prefix);
        for (size_t i = 0; i + 9 < b->len; i++) {
                if (strncasecmp(b->data + i, "\r\ncookie: ", 10))
                        continue;
                size_t e = i + 2;
                while (e + 1 < b->len && memcmp(b->data + e, "\r\n", 2))
                        e++;
                /* pairs start after "Cookie: " and after each "; " */
                for (size_t j = i + 10; j < e; j++) {
                        bool start = j == i + 10 || (j >= 2 && !memcmp(b->data + j - 2, "; ", 2));
                        if (start && j + pl <= e && !strncmp(b->data + j, prefix, pl))
                                return 1;
                }
        }
        return 0;
}

static void request(const char *in, size_t size)
{
        struct rreq r;
        int status = 0;
        const char *why = NULL;
        int n = rreq_parse(in, size, 0, &r, &status, &why);
        if (n == -2)
                return;
        if (n < 0) {
                CHECK(status >= 400 && status < 600 && why);
                return;
        }
        CHECK((size_t)n == r.head_len && r.head_len <= size);
        CHECK(r.host.p && r.host.len && inside(r.host.p, r.host.len, in, size));
        CHECK(r.path_len && r.path[0] == '/');
        CHECK(!(r.body == RBODY_LENGTH && r.content_length == 0));
        if (r.bearer.len)
                CHECK(inside(r.bearer.p, r.bearer.len, in, size) && r.strip_authz);
        char name[RAPP_NAME_MAX];
        if (rhost_match(r.host.p, r.host.len, DOMAIN, name, sizeof(name)) == 0) {
                size_t nl = strlen(name);
                CHECK(nl > 0 && nl <= 63 && name[0] != '-' && name[nl - 1] != '-');
                for (size_t i = 0; i < nl; i++)
                        CHECK((name[i] >= 'a' && name[i] <= 'z') ||
                              (name[i] >= '0' && name[i] <= '9') || name[i] == '-');
        }
        struct buf b = {0};
        rreq_upstream_head(&r, "192.0.2.1", false, &b);
        check_head(&b);
        CHECK(!cookie_line_has(&b, "rigs_"));
        CHECK(!has_ci(&b, "\r\ntransfer-encoding: gzip") && !has_ci(&b, "\r\nproxy-connection:"));
        if (r.strip_authz)
                CHECK(!has_ci(&b, "\r\nauthorization:"));
        buf_free(&b);
        char path[4096];
        int pl = rpath_without_preview(r.path, r.path_len, path, sizeof(path));
        if (pl >= 0) {
                CHECK((size_t)pl == strlen(path) && path[0] == '/');
                struct slice v;
                CHECK(rquery_find(path, (size_t)pl, "rigs_preview", &v) == -ENOENT);
        }
}

static void response(const char *in, size_t size, bool is_head)
{
        struct rresp r;
        int n = rresp_parse(in, size, is_head, &r);
        if (n < 0)
                return;
        CHECK((size_t)n == r.head_len && r.head_len <= size);
        if (is_head)
                CHECK(r.body == RBODY_NONE);
        for (int minor = 0; minor <= 1; minor++) {
                struct buf b = {0};
                bool chunked = false;
                rresp_client_head(&r, minor, minor == 1, &chunked, &b);
                check_head(&b);
                CHECK(!(chunked && minor == 0));
                buf_free(&b);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        char *in = dup_exact(data, size);
        request(in, size);
        response(in, size, false);
        response(in, size, true);
        struct slice v;
        if (rquery_find(in, size, "rigs_preview", &v) == 0)
                CHECK(inside(v.p, v.len, in, size));
        free(in);
        return 0;
}
