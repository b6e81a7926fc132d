/* Credentials from headers: the input is an Authorization header value and, at the same time, a
 * Cookie header value. Every slice returned must lie inside the input. */
#include "core/authn.h"
#include "core/ids.h"
#include "core/rigcred.h"
#include "core/token.h"

#include <strings.h>

#include "fuzz.h"

static void check_token_shape(const char *p, size_t len)
{
        enum token_kind k = token_classify(p, len);
        CHECK(k == TOKEN_INVALID || k == TOKEN_API_KEY || k == TOKEN_SESSION ||
              k == TOKEN_RIG_CREDENTIAL);
        if (k == TOKEN_INVALID)
                return;
        if (k == TOKEN_RIG_CREDENTIAL) {
                CHECK(len >= RIGCRED_MIN_LEN && len <= RIGCRED_MAX_LEN);
                CHECK(memcmp(p, RIGCRED_PREFIX, 3) == 0);
                return;
        }
        CHECK(len == (k == TOKEN_API_KEY ? (size_t)API_KEY_LEN : (size_t)SESSION_LEN));
        CHECK(memcmp(p, k == TOKEN_API_KEY ? API_KEY_PREFIX : SESSION_PREFIX, 3) == 0);
        for (size_t i = 3; i < len; i++)
                CHECK(is_base62(p[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *in = dup_exact(data, size);

        struct slice tok = {NULL, 0};
        int r = authn_parse_bearer(in, size, &tok);
        CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
        if (r == 0) {
                CHECK(tok.len > 0);
                CHECK(inside(tok.p, tok.len, in, size));
                for (size_t i = 0; i < tok.len; i++)
                        CHECK((unsigned char)tok.p[i] > 0x20 && (unsigned char)tok.p[i] < 0x7f);
                /* "Bearer" (any case) and blanks come before the token, only blanks after. */
                size_t before = (size_t)(tok.p - in);
                CHECK(before >= 7);
                size_t s = 0;
                while (in[s] == ' ' || in[s] == '\t')
                        s++;
                CHECK(strncasecmp(in + s, "bearer", 6) == 0);
                for (size_t i = s + 6; i < before; i++)
                        CHECK(in[i] == ' ' || in[i] == '\t');
                for (size_t i = before + tok.len; i < size; i++)
                        CHECK(in[i] == ' ' || in[i] == '\t');
                check_token_shape(tok.p, tok.len);
        } else if (r == -ENOENT) {
                for (size_t i = 0; i < size; i++)
                        CHECK(in[i] == ' ' || in[i] == '\t');
        }

        struct slice val = {NULL, 0};
        r = authn_cookie_find(in, size, "rigs_session", &val);
        CHECK(r == 0 || r == -ENOENT);
        if (r == 0) {
                CHECK(inside(val.p, val.len, in, size));
                CHECK(!memchr(val.p, ';', val.len));
                /* The name and '=' precede the value. */
                const char *eq = memrchr(in, '=', (size_t)(val.p - in));
                CHECK(eq != NULL);
                check_token_shape(val.p, val.len);
        }
        /* A name that is a prefix of the real one never matches a longer cookie name. */
        struct slice v2;
        if (authn_cookie_find(in, size, "rigs", &v2) == 0)
                CHECK(inside(v2.p, v2.len, in, size));

        check_token_shape(in, size);
        free(in);
        return 0;
}
