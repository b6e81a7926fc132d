/* RFC 3339 formatting and parsing. */
#include "base/timeutil.h"

#include "tap.h"

static void fmt_is(int64_t t, const char *want)
{
        char out[21];
        memset(out, 'X', sizeof(out));
        fmt_rfc3339(t, out);
        is_str(out, want, "fmt_rfc3339(%" PRId64 ")", t);
}

static void parse_is(const char *s, int64_t want)
{
        int64_t t = -424242;
        int r = parse_rfc3339(s, strlen(s), &t);
        if (is_int(r, 0, "parse '%s'", s))
                is_int(t, want, "  '%s' is %" PRId64, s, want);
}

static void parse_bad(const char *s)
{
        int64_t t = -424242;
        is_int(parse_rfc3339(s, strlen(s), &t), -EINVAL, "reject '%s'", s);
        is_int(t, -424242, "  output untouched for '%s'", s);
}

static void test_fmt(void)
{
        fmt_is(0, "1970-01-01T00:00:00Z");
        fmt_is(1700000000, "2023-11-14T22:13:20Z");
        fmt_is(951782400, "2000-02-29T00:00:00Z");
        fmt_is(4102444799LL, "2099-12-31T23:59:59Z");
        fmt_is(-1, "1969-12-31T23:59:59Z");
        fmt_is(253402300799LL, "9999-12-31T23:59:59Z");
        fmt_is(-30610224000LL, "1000-01-01T00:00:00Z");
        /* Years below 1000 must still have four digits, or parse_rfc3339 rejects fmt_rfc3339's
         * own output (strftime's %Y does not pad). */
        fmt_is(-62135596800LL, "0001-01-01T00:00:00Z");
        fmt_is(-30610224001LL, "0999-12-31T23:59:59Z");
}

static void test_parse_good(void)
{
        parse_is("1970-01-01T00:00:00Z", 0);
        parse_is("2023-11-14T22:13:20Z", 1700000000);
        parse_is("2023-11-14t22:13:20z", 1700000000);
        parse_is("2023-11-14T23:13:20+01:00", 1700000000);
        parse_is("2023-11-14T21:13:20-01:00", 1700000000);
        parse_is("2023-11-15T03:43:20+05:30", 1700000000);
        parse_is("2023-11-14T12:43:20-09:30", 1700000000);
        parse_is("2023-11-14T22:13:20+00:00", 1700000000);
        parse_is("2023-11-14T22:13:20-00:00", 1700000000);
        parse_is("2023-11-15T22:12:20+23:59", 1700000000);
        parse_is("2023-11-14T22:13:20.5Z", 1700000000);
        parse_is("2023-11-14T22:13:20.999999999Z", 1700000000);
        parse_is("2023-11-14T22:13:20.000000000000000000001Z", 1700000000);
        parse_is("2023-11-14T23:13:20.25+01:00", 1700000000);
        parse_is("1969-12-31T23:59:59Z", -1);
        parse_is("2000-02-29T00:00:00Z", 951782400);
        parse_is("2024-02-29T12:00:00Z", 1709208000);
        parse_is("9999-12-31T23:59:59Z", 253402300799LL);
        /* A leap second is valid RFC 3339; it is counted as the next second. */
        parse_is("2016-12-31T23:59:60Z", 1483228800);

        /* (ptr, len): only len bytes are read. */
        const char *longer = "2023-11-14T22:13:20Zjunk";
        int64_t t = 0;
        is_int(parse_rfc3339(longer, 20, &t), 0, "a slice of a longer buffer parses");
        is_int(t, 1700000000, "  to the right value");
        char nonul[20];
        memcpy(nonul, "2023-11-14T22:13:20Z", 20);
        is_int(parse_rfc3339(nonul, sizeof(nonul), &t), 0, "an unterminated buffer parses");
        is_int(parse_rfc3339(longer, 19, &t), -EINVAL, "cut before the zone: rejected");
}

static void test_parse_bad(void)
{
        parse_bad("");
        parse_bad("2023-11-14");
        parse_bad("2023-11-14T22:13:20");
        parse_bad("2023-11-14T22:13Z");
        parse_bad("2023-11-14 22:13:20Z");
        parse_bad("2023/11/14T22:13:20Z");
        parse_bad("2023-11-14T22.13.20Z");
        parse_bad("2023-1-14T22:13:20Z");
        parse_bad("2023-11-4T22:13:20Z");
        parse_bad("23-11-14T22:13:20Z");
        parse_bad("2O23-11-14T22:13:20Z");
        parse_bad("2023-+1-14T22:13:20Z");
        parse_bad("2023-11-14T-2:13:20Z");
        parse_bad("-023-11-14T22:13:20Z");
        parse_bad("2023-00-14T22:13:20Z");
        parse_bad("2023-13-14T22:13:20Z");
        parse_bad("2023-11-00T22:13:20Z");
        parse_bad("2023-11-32T22:13:20Z");
        parse_bad("2023-11-14T24:00:00Z");
        parse_bad("2023-11-14T23:60:00Z");
        parse_bad("2023-11-14T23:59:61Z");
        parse_bad("2023-11-14T22:13:20.Z");
        parse_bad("2023-11-14T22:13:20,5Z");
        parse_bad("2023-11-14T22:13:20.5");
        parse_bad("2023-11-14T22:13:20.5.5Z");
        parse_bad("2023-11-14T22:13:20ZZ");
        parse_bad("2023-11-14T22:13:20Z ");
        parse_bad(" 2023-11-14T22:13:20Z");
        parse_bad("2023-11-14T22:13:20+0100");
        parse_bad("2023-11-14T22:13:20+01");
        parse_bad("2023-11-14T22:13:20+1:00");
        parse_bad("2023-11-14T22:13:20+01:00Z");
        parse_bad("2023-11-14T22:13:20+24:00");
        parse_bad("2023-11-14T22:13:20+01:60");
        parse_bad("2023-11-14T22:13:20*01:00");
        parse_bad("2023-11-14T22:13:20+0a:00");
        parse_bad("2023-11-14T22:13:20UTC");
        parse_bad("2023-11-14T22:13:20Z\n");
        parse_bad("1700000000");
        parse_bad("2023-11-14T22:13:20\0Z");
}

/* RFC 3339 section 5.7: "date-mday ... the maximum value depends on the month and year". The
 * parser checks 1..31 only and lets timegm() roll the date over into the next month. */
static void test_parse_calendar(void)
{
        parse_bad("2023-02-29T00:00:00Z"); /* 2023 is not a leap year */
        parse_bad("2023-02-30T00:00:00Z");
        parse_bad("2023-02-31T00:00:00Z");
        parse_bad("2023-04-31T00:00:00Z");
        parse_bad("2023-06-31T00:00:00Z");
        parse_bad("2023-09-31T00:00:00Z");
        parse_bad("2023-11-31T00:00:00Z");
        parse_bad("1900-02-29T00:00:00Z"); /* divisible by 100, not by 400 */
        parse_is("2023-01-31T00:00:00Z", 1675123200);
        parse_is("2023-03-31T00:00:00Z", 1680220800);
        parse_is("2023-12-31T00:00:00Z", 1703980800);
}

/* fmt -> parse round trip over a wide range of instants. */
static void test_roundtrip(void)
{
        int bad = 0;
        uint64_t x = 88172645463325252ull;
        for (int i = 0; i < 20000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                /* 1000-01-01 .. 9999-12-31 (years below 1000: see test_fmt) */
                int64_t t = -30610224000LL + (int64_t)(x % (253402300799ull + 30610224000ull + 1));
                char out[21];
                fmt_rfc3339(t, out);
                int64_t back = 0;
                if (parse_rfc3339(out, strlen(out), &back) != 0 || back != t) {
                        if (bad++ < 5)
                                diag("%" PRId64 " -> %s -> %" PRId64, t, out, back);
                }
        }
        is_int(bad, 0, "20000 random instants in years 1000..9999 round-trip");
}

int main(void)
{
        test_fmt();
        test_parse_good();
        test_parse_bad();
        test_parse_calendar();
        test_roundtrip();
        return done_testing();
}
