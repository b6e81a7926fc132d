/* Token buckets per (principal, class), driven by explicit timestamps. */
#include "core/ratelimit.h"

#include <stdio.h>

#include "tap.h"

#define T0     1700000000000LL /* an arbitrary wall-clock origin, ms */
#define NPRINC 20000           /* > 64 stripes x 128: every stripe grows its table at least once */

static struct ratelimiter *limiter(uint32_t auth, uint32_t rigs, uint32_t apps, uint32_t other)
{
        uint32_t per_min[RL_CLASS_MAX] = {auth, rigs, apps, other};
        return ratelimiter_new(per_min);
}

/* Takes n tokens at time now; returns how many were allowed. */
static int take_n(struct ratelimiter *rl, enum rl_class c, const char *who, int n, int64_t now)
{
        int allowed = 0;
        for (int i = 0; i < n; i++)
                if (ratelimit_take(rl, c, who, now) == 0)
                        allowed++;
        return allowed;
}

static void test_burst(void)
{
        struct ratelimiter *rl = limiter(120, 180, 240, 600);
        is_int(take_n(rl, RL_AUTH, "usr_a", 120, T0), 120, "auth 120/min: 120 allowed at once");
        int r = ratelimit_take(rl, RL_AUTH, "usr_a", T0);
        is_int(r, 1, "121st refused with retry-after 1 s (a token every 0.5 s)");
        is_int(ratelimit_take(rl, RL_AUTH, "usr_a", T0 + 499), 1, "still refused after 499 ms");
        is_int(ratelimit_take(rl, RL_AUTH, "usr_a", T0 + 510), 0, "allowed after 510 ms");
        is_int(ratelimit_take(rl, RL_AUTH, "usr_a", T0 + 510), 1, "and refused again");
        is_int(take_n(rl, RL_AUTH, "usr_b", 121, T0), 120, "usr_b: 120 of 121");
        is_int(ratelimit_take(rl, RL_AUTH, "usr_b", T0 + 500), 0, "usr_b: allowed after 500 ms");
        ratelimiter_free(rl);

        /* Slow buckets give long, exact retry-after values. */
        rl = limiter(1, 6, 0, 0);
        is_int(ratelimit_take(rl, RL_AUTH, "u", T0), 0, "1/min: first allowed");
        is_int(ratelimit_take(rl, RL_AUTH, "u", T0), 60, "1/min: retry-after 60 s");
        is_int(ratelimit_take(rl, RL_AUTH, "u", T0 + 30000), 30, "1/min after 30 s: retry 30 s");
        is_int(ratelimit_take(rl, RL_AUTH, "u", T0 + 59001), 1, "1/min after 59.001 s: retry 1 s");
        is_int(ratelimit_take(rl, RL_AUTH, "u", T0 + 60001), 0, "1/min after 60.001 s: allowed");
        is_int(take_n(rl, RL_RIGS, "u", 6, T0), 6, "6/min: 6 allowed");
        is_int(ratelimit_take(rl, RL_RIGS, "u", T0), 10, "6/min: retry-after 10 s");
        is_int(ratelimit_take(rl, RL_RIGS, "u", T0 + 2500), 8,
               "6/min after 2.5 s: retry 8 s (7.5 up)");
        ratelimiter_free(rl);
}

static void test_refill(void)
{
        struct ratelimiter *rl = limiter(60, 0, 0, 0);
        is_int(take_n(rl, RL_AUTH, "u", 60, T0), 60, "60/min: 60 allowed");
        is_int(take_n(rl, RL_AUTH, "u", 5, T0), 0, "then none");
        is_int(take_n(rl, RL_AUTH, "u", 10, T0 + 10000), 10, "10 s later: 10 more");
        is_int(take_n(rl, RL_AUTH, "u", 1, T0 + 10000), 0, "and not 11");
        is_int(take_n(rl, RL_AUTH, "u", 100, T0 + 10 * 60000), 60,
               "a long pause refills to the cap, not beyond");
        /* Steady rate: one request per second for 5 minutes never hits the limit after the burst
         * is spent, and never goes above it. */
        int allowed = 0;
        for (int s = 1; s <= 300; s++)
                allowed += take_n(rl, RL_AUTH, "u", 2, T0 + 10 * 60000 + s * 1000LL);
        is_int(allowed, 300, "2 tries per second at 1/s: exactly 300 of 600 allowed in 5 min");
        /* Time going backwards does not mint tokens. */
        is_int(take_n(rl, RL_AUTH, "u", 5, T0), 0, "a timestamp in the past refills nothing");
        ratelimiter_free(rl);
}

static void test_isolation(void)
{
        struct ratelimiter *rl = limiter(3, 3, 3, 3);
        is_int(take_n(rl, RL_AUTH, "usr_a", 10, T0), 3, "usr_a auth: 3 of 10");
        is_int(take_n(rl, RL_AUTH, "usr_b", 10, T0), 3, "usr_b auth has its own bucket");
        is_int(take_n(rl, RL_RIGS, "usr_a", 10, T0), 3, "usr_a rigs has its own bucket");
        is_int(take_n(rl, RL_APPS, "usr_a", 10, T0), 3, "usr_a apps has its own bucket");
        is_int(take_n(rl, RL_OTHER, "usr_a", 10, T0), 3, "usr_a other has its own bucket");
        is_int(take_n(rl, RL_AUTH, "usr_a ", 10, T0), 3, "'usr_a ' is another principal");
        is_int(take_n(rl, RL_AUTH, "127.0.0.1", 10, T0), 3, "an address is a principal too");
        is_int(take_n(rl, RL_AUTH, "", 10, T0), 3, "the empty principal has a bucket");
        is_int(ratelimiter_size(rl), 8, "8 buckets tracked");

        /* Many principals: each gets its full burst, none leaks into another (exercises the
         * table growing). */
        int wrong = 0;
        char who[32];
        for (int i = 0; i < NPRINC; i++) {
                snprintf(who, sizeof(who), "p%d", i);
                if (take_n(rl, RL_OTHER, who, 4, T0) != 3)
                        wrong++;
        }
        is_int(wrong, 0, "%d principals each get exactly 3", NPRINC);
        is_int(ratelimiter_size(rl), NPRINC + 8, "%d buckets tracked", NPRINC + 8);
        wrong = 0;
        for (int i = 0; i < NPRINC; i++) {
                snprintf(who, sizeof(who), "p%d", i);
                if (ratelimit_take(rl, RL_OTHER, who, T0) == 0)
                        wrong++;
        }
        is_int(wrong, 0, "after growing, each of them is still exhausted");
        ratelimiter_free(rl);
}

static void test_disabled(void)
{
        struct ratelimiter *rl = limiter(0, 2, 0, 0);
        is_int(take_n(rl, RL_AUTH, "u", 10000, T0), 10000, "0/min disables the class");
        is_int(take_n(rl, RL_RIGS, "u", 3, T0), 2, "another class of the same limiter limits");
        is_int(ratelimiter_size(rl), 1, "a disabled class tracks no bucket");
        is_int(ratelimit_take(rl, RL_CLASS_MAX, "u", T0), 0,
               "an out-of-range class is not limited");
        ratelimiter_free(rl);
        ratelimiter_free(NULL);
        ok(1, "ratelimiter_free(NULL) is a no-op");
}

static void test_sweep(void)
{
        struct ratelimiter *rl = limiter(60, 60, 0, 0);
        take_n(rl, RL_AUTH, "a", 1, T0);  /* 59 left, full again after 1 s */
        take_n(rl, RL_AUTH, "b", 60, T0); /* empty, full again after 60 s */
        take_n(rl, RL_RIGS, "a", 30, T0); /* half, full again after 30 s */
        is_int(ratelimiter_size(rl), 3, "3 buckets");
        ratelimiter_sweep(rl, T0);
        is_int(ratelimiter_size(rl), 3, "sweep at once drops none");
        ratelimiter_sweep(rl, T0 + 500);
        is_int(ratelimiter_size(rl), 3, "sweep after 500 ms drops none");
        ratelimiter_sweep(rl, T0 + 1000);
        is_int(ratelimiter_size(rl), 2, "sweep after 1 s drops the refilled one");
        ratelimiter_sweep(rl, T0 + 30000);
        is_int(ratelimiter_size(rl), 1, "after 30 s the half-empty one is dropped");
        ratelimiter_sweep(rl, T0 + 59999);
        is_int(ratelimiter_size(rl), 1, "the empty one stays until it is full");
        /* The kept bucket was refilled by the sweeps, and the refill is not lost or doubled. */
        is_int(take_n(rl, RL_AUTH, "b", 60, T0 + 59999), 59, "b has 59 tokens at 59.999 s");
        ratelimiter_sweep(rl, T0 + 200000);
        is_int(ratelimiter_size(rl), 0, "everything refilled: empty table");
        /* A dropped bucket is equivalent to a full one. */
        is_int(take_n(rl, RL_AUTH, "b", 100, T0 + 200000), 60, "b starts again with a full bucket");
        ratelimiter_free(rl);
}

/* A client that waits exactly the Retry-After it was given gets a token, whatever the rate and
 * however often it asked in between. The bucket is refilled in floating point at every call, so
 * the pieces added by intermediate calls can sum to slightly less than one token: the client that
 * honoured Retry-After is refused again ("Retry-After: 1"). */
static void test_retry_after_honoured(void)
{
        struct ratelimiter *one = limiter(1, 0, 0, 0);
        is_int(ratelimit_take(one, RL_AUTH, "u", T0), 0, "1/min: first request allowed");
        is_int(ratelimit_take(one, RL_AUTH, "u", T0), 60, "  second refused, Retry-After 60");
        is_int(ratelimit_take(one, RL_AUTH, "u", T0 + 24438), 36, "  early retry at 24.438 s: 36");
        is_int(ratelimit_take(one, RL_AUTH, "u", T0 + 52479), 8, "  early retry at 52.479 s: 8");
        is_int(ratelimit_take(one, RL_AUTH, "u", T0 + 53839), 7, "  early retry at 53.839 s: 7");
        is_int(ratelimit_take(one, RL_AUTH, "u", T0 + 60000), 0,
               "  at the promised 60 s the request is allowed");
        ratelimiter_free(one);

        static const uint32_t rates[] = {1, 2, 3, 7, 13, 60, 97, 120, 180, 240, 600, 1000, 7919};
        int broken = 0;
        for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
                struct ratelimiter *rl = limiter(rates[i], 0, 0, 0);
                int64_t now = T0;
                take_n(rl, RL_AUTH, "u", (int)rates[i], now);
                uint32_t seed = 12345u + (uint32_t)i;
                for (int round = 0; round < 200; round++) {
                        int r = ratelimit_take(rl, RL_AUTH, "u", now);
                        if (r == 0)
                                continue;
                        if (r < 1) {
                                broken++;
                                break;
                        }
                        int64_t until = now + r * 1000LL;
                        /* A few early retries. Retry-After is rounded up to whole seconds,
                         * so one may already find a token (and take it): then the promise
                         * was for that token and this round starts over. */
                        bool served_early = false;
                        for (int k = 0; k < 3 && !served_early; k++) {
                                seed = seed * 1103515245u + 12345u;
                                int64_t at = now + (int64_t)(seed >> 8) % (until - now);
                                served_early = ratelimit_take(rl, RL_AUTH, "u", at) == 0;
                                now = at;
                        }
                        if (served_early)
                                continue;
                        now = until;
                        if (ratelimit_take(rl, RL_AUTH, "u", now) != 0) {
                                diag("rate %u/min: refused at the promised time (round %d)",
                                     rates[i], round);
                                broken++;
                                break;
                        }
                }
                ratelimiter_free(rl);
        }
        is_int(broken, 0, "Retry-After is honoured for %zu rates", ARRAY_SIZE(rates));
}

static void test_names(void)
{
        is_str(rl_class_name(RL_AUTH), "auth", "auth");
        is_str(rl_class_name(RL_RIGS), "rigs", "rigs");
        is_str(rl_class_name(RL_APPS), "apps", "apps");
        is_str(rl_class_name(RL_OTHER), "other", "other");
        is_str(rl_class_name(RL_CLASS_MAX), "?", "out of range");
        is_int(rl_class_from_name("rigs", 4), RL_RIGS, "from name rigs");
        is_int(rl_class_from_name("rigsx", 4), RL_RIGS, "from a slice");
        is_int(rl_class_from_name("rigsx", 5), -EINVAL, "rigsx unknown");
        is_int(rl_class_from_name("rig", 3), -EINVAL, "rig unknown");
        is_int(rl_class_from_name("", 0), -EINVAL, "empty unknown");
        is_int(rl_class_from_name("AUTH", 4), -EINVAL, "case-sensitive");
}

static void setting_ok(const char *s, enum rl_class c, uint32_t want)
{
        uint32_t pm[RL_CLASS_MAX] = {11, 22, 33, 44};
        uint32_t expect[RL_CLASS_MAX] = {11, 22, 33, 44};
        expect[c] = want;
        is_int(rl_parse_setting(s, pm), 0, "setting '%s' parses", s);
        ok(memcmp(pm, expect, sizeof(pm)) == 0, "  sets %s to %u and nothing else",
           rl_class_name(c), want);
}

static void setting_bad(const char *s)
{
        uint32_t pm[RL_CLASS_MAX] = {11, 22, 33, 44};
        is_int(rl_parse_setting(s, pm), -EINVAL, "setting '%s' is rejected", s);
        ok(pm[0] == 11 && pm[1] == 22 && pm[2] == 33 && pm[3] == 44, "  limits unchanged");
}

static void test_settings(void)
{
        setting_ok("auth=10", RL_AUTH, 10);
        setting_ok("rigs=0", RL_RIGS, 0);
        setting_ok("apps=1000000000", RL_APPS, 1000000000);
        setting_ok("other=600", RL_OTHER, 600);
        setting_bad("auth");
        setting_bad("auth=");
        setting_bad("=10");
        setting_bad("foo=10");
        setting_bad("Auth=10");
        setting_bad("auth=-1");
        setting_bad("auth=-0");
        setting_bad("auth=10x");
        setting_bad("auth=1.5");
        setting_bad("auth=1000000001");
        setting_bad("auth=99999999999999999999999");
        setting_bad("auth=10 ");
        setting_bad("auth =10");
        setting_bad("auth==10");
        setting_bad("");
}

int main(void)
{
        test_burst();
        test_refill();
        test_isolation();
        test_disabled();
        test_sweep();
        test_retry_after_honoured();
        test_names();
        test_settings();
        return done_testing();
}
