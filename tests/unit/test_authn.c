/* Credential extraction from the Authorization and Cookie headers. */
#include "core/authn.h"

#include "tap.h"

#define KEY "rb_0123456789abcdefghijABCDEFGHIJxy"

/* Runs authn_parse_bearer on a string; on success checks the token. */
static void bearer_ok(const char *hdr, const char *want)
{
        struct slice t = {NULL, 0};
        int r = authn_parse_bearer(hdr, strlen(hdr), &t);
        if (!is_int(r, 0, "bearer '%s' parses", hdr))
                return;
        is_mem(t.p, t.len, want, "  token of '%s'", hdr);
        ok(t.p >= hdr && t.p + t.len <= hdr + strlen(hdr), "  token lies inside the header");
}

static void bearer_err(const char *hdr, size_t len, int want, const char *what)
{
        struct slice t = {(const char *)0x1, 77};
        is_int(authn_parse_bearer(hdr, len, &t), want, "bearer %s", what);
        ok(t.p == (const char *)0x1 && t.len == 77, "  leaves the slice untouched (%s)", what);
}

static void test_bearer(void)
{
        bearer_ok("Bearer " KEY, KEY);
        bearer_ok("bearer " KEY, KEY);
        bearer_ok("BEARER " KEY, KEY);
        bearer_ok("BeArEr " KEY, KEY);
        bearer_ok("Bearer    " KEY, KEY);
        bearer_ok("Bearer\t" KEY, KEY);
        bearer_ok("  Bearer " KEY "  ", KEY);
        bearer_ok("Bearer " KEY "\t", KEY);
        bearer_ok("Bearer x", "x");
        bearer_ok("Bearer a.b-c_d~e+f/g=", "a.b-c_d~e+f/g=");

        bearer_err("", 0, -ENOENT, "empty header");
        bearer_err("   ", 3, -ENOENT, "blank header");
        bearer_err("\t \t", 3, -ENOENT, "tabs and spaces only");
        bearer_err("Bearer", 6, -EINVAL, "scheme alone");
        bearer_err("Bearer ", 7, -EINVAL, "scheme and a space");
        bearer_err("Bearer     ", 11, -EINVAL, "scheme and spaces");
        bearer_err("Basic dXNlcjpwYXNz", 18, -EINVAL, "Basic scheme");
        bearer_err("Digest " KEY, strlen("Digest " KEY), -EINVAL, "Digest scheme");
        bearer_err("Bearer" KEY, strlen("Bearer" KEY), -EINVAL, "no space after the scheme");
        bearer_err("Bearerx " KEY, strlen("Bearerx " KEY), -EINVAL, "longer scheme name");
        bearer_err("Bear " KEY, strlen("Bear " KEY), -EINVAL, "shorter scheme name");
        bearer_err(KEY, strlen(KEY), -EINVAL, "token without a scheme");
        bearer_err("Bearer a b", 10, -EINVAL, "token with a space");
        bearer_err("Bearer a\tb", 10, -EINVAL, "token with a tab");
        bearer_err("Bearer a\nb", 10, -EINVAL, "token with a newline");
        bearer_err("Bearer a\rb", 10, -EINVAL, "token with a CR");
        bearer_err("Bearer a\x01z", 10, -EINVAL, "token with a control character");
        bearer_err("Bearer a\x7fz", 10, -EINVAL, "token with DEL");
        bearer_err("Bearer a\xc3\xa9", 10, -EINVAL, "token with non-ASCII bytes");
        bearer_err("Bearer a\0b", 10, -EINVAL, "token with a NUL");
        bearer_err("Bearer " KEY " extra", strlen("Bearer " KEY " extra"), -EINVAL,
                   "two words after the scheme");
        bearer_err("\nBearer x", 9, -EINVAL, "leading newline is not blank");

        /* (ptr, len): bytes past len are not read, a missing NUL does not matter. */
        char buf[64];
        memcpy(buf, "Bearer abcdef", 13);
        memset(buf + 13, 'Z', sizeof(buf) - 13);
        struct slice t = {0};
        is_int(authn_parse_bearer(buf, 13, &t), 0, "unterminated buffer parses");
        is_mem(t.p, t.len, "abcdef", "  token stops at len");
        is_int(authn_parse_bearer(buf, 10, &t), 0, "shorter len gives a shorter token");
        is_mem(t.p, t.len, "abc", "  token is abc");
}

static void cookie_ok(const char *hdr, const char *name, const char *want)
{
        struct slice v = {NULL, 0};
        int r = authn_cookie_find(hdr, strlen(hdr), name, &v);
        if (!is_int(r, 0, "cookie %s in '%s'", name, hdr))
                return;
        is_mem(v.p, v.len, want, "  value of %s", name);
        ok(v.p >= hdr && v.p + v.len <= hdr + strlen(hdr), "  value lies inside the header");
}

static void cookie_missing(const char *hdr, const char *name)
{
        struct slice v = {NULL, 0};
        is_int(authn_cookie_find(hdr, strlen(hdr), name, &v), -ENOENT, "no cookie %s in '%s'", name,
               hdr);
}

static void test_cookie(void)
{
        cookie_ok("rigs_session=abc", "rigs_session", "abc");
        cookie_ok("a=1; rigs_session=abc; b=2", "rigs_session", "abc");
        cookie_ok("a=1;rigs_session=abc;b=2", "rigs_session", "abc");
        cookie_ok("a=1;   rigs_session=abc   ;b=2", "rigs_session", "abc");
        cookie_ok("a=1; rigs_session=abc", "rigs_session", "abc");
        cookie_ok("a=1; b=2", "a", "1");
        cookie_ok("a=1; b=2", "b", "2");
        cookie_ok("rigs_session=\"abc\"", "rigs_session", "abc");
        cookie_ok("x=1; rigs_session=\"quoted value\"; y=2", "rigs_session", "quoted value");
        cookie_ok("rigs_session=\"\"", "rigs_session", "");
        cookie_ok("rigs_session=", "rigs_session", "");
        cookie_ok("rigs_session=\"", "rigs_session", "\"");
        cookie_ok("rigs_session=a=b=c", "rigs_session", "a=b=c");
        cookie_ok("rigs_session = abc", "rigs_session", "abc");

        /* A name that contains ours, or is contained in it, is another cookie. */
        cookie_ok("xrigs_session=evil; rigs_session=good", "rigs_session", "good");
        cookie_ok("rigs_session_old=evil; rigs_session=good", "rigs_session", "good");
        cookie_ok("rigs=evil; rigs_session=good", "rigs_session", "good");
        cookie_missing("xrigs_session=evil", "rigs_session");
        cookie_missing("rigs_sessionx=evil", "rigs_session");
        cookie_missing("rigs_session_old=evil", "rigs_session");
        cookie_missing("rigs=evil", "rigs_session");
        cookie_missing("RIGS_SESSION=evil", "rigs_session");

        /* The first of two cookies with the same name wins. */
        cookie_ok("rigs_session=first; rigs_session=second", "rigs_session", "first");

        cookie_missing("", "rigs_session");
        cookie_missing(";;;", "rigs_session");
        cookie_missing("  ;  ; ", "rigs_session");
        cookie_missing("rigs_session", "rigs_session");
        cookie_missing("a=1; b=2", "c");
        cookie_missing("a=1; rigs_session; b=2", "rigs_session");
        /* The value of a cookie is not searched for names. */
        cookie_missing("a=rigs_session=x", "rigs_session");

        /* (ptr, len): the header need not be NUL-terminated and bytes past len are ignored. */
        const char *hdr = "a=1; rigs_session=abcdef; b=2";
        struct slice v = {0};
        is_int(authn_cookie_find(hdr, 21, "rigs_session", &v), 0, "cookie cut short by len");
        is_mem(v.p, v.len, "abc", "  value stops at len");
        is_int(authn_cookie_find(hdr, 10, "rigs_session", &v), -ENOENT,
               "a name cut short by len is not found");
}

int main(void)
{
        test_bearer();
        test_cookie();
        return done_testing();
}
