/* A minimal TAP producer for the unit tests (meson `protocol : 'tap'`).
 *
 * plan(n) announces n tests (or call done_testing() without a plan); ok(), is_int() and is_str()
 * each emit one "ok N" / "not ok N" line with diagnostics on failure; done_testing() prints the
 * trailing plan when none was given and returns the process exit code (0 only when every test
 * passed and the count matches the plan). */
#pragma once

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_PRINTF(a, b) __attribute__((format(printf, a, b)))

static int tap_planned = -1;
static int tap_run;
static int tap_failed;

static inline void plan(int n)
{
        tap_planned = n;
        printf("1..%d\n", n);
        fflush(stdout);
}

/* Skips the whole program with a reason (TAP "1..0 # SKIP"); returns the exit code to use. */
static inline int skip_all(const char *reason)
{
        printf("1..0 # SKIP %s\n", reason);
        fflush(stdout);
        return 0;
}

static inline void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
static inline void diag(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("# ", stdout);
        vprintf(fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
        fflush(stdout);
}

static inline bool tap_vok(bool cond, const char *file, int line, const char *fmt, va_list ap)
    TAP_PRINTF(4, 0);
static inline bool tap_vok(bool cond, const char *file, int line, const char *fmt, va_list ap)
{
        tap_run++;
        if (!cond)
                tap_failed++;
        /* The description must stay on one line and must not look like a directive. */
        char desc[512];
        vsnprintf(desc, sizeof(desc), fmt, ap);
        printf("%sok %d - ", cond ? "" : "not ", tap_run);
        for (const char *p = desc; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if (c < 0x20 || c == 0x7f)
                        printf("\\x%02x", c);
                else if (c == '#')
                        fputs("\\#", stdout);
                else
                        fputc(c, stdout);
        }
        fputc('\n', stdout);
        if (!cond)
                printf("#   Failed at %s:%d\n", file, line);
        fflush(stdout);
        return cond;
}

static inline bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
    TAP_PRINTF(4, 5);
static inline bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        bool r = tap_vok(cond, file, line, fmt, ap);
        va_end(ap);
        return r;
}

static inline bool tap_is_int(int64_t got, int64_t want, const char *file, int line,
                              const char *fmt, ...) TAP_PRINTF(5, 6);
static inline bool tap_is_int(int64_t got, int64_t want, const char *file, int line,
                              const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        bool r = tap_vok(got == want, file, line, fmt, ap);
        va_end(ap);
        if (!r)
                diag("  got: %" PRId64 "\n#   expected: %" PRId64, got, want);
        return r;
}

static inline bool tap_is_str(const char *got, const char *want, const char *file, int line,
                              const char *fmt, ...) TAP_PRINTF(5, 6);
static inline bool tap_is_str(const char *got, const char *want, const char *file, int line,
                              const char *fmt, ...)
{
        bool same = (got && want) ? strcmp(got, want) == 0 : got == want;
        va_list ap;
        va_start(ap, fmt);
        bool r = tap_vok(same, file, line, fmt, ap);
        va_end(ap);
        if (!r)
                diag("  got: %s%s%s\n#   expected: %s%s%s", got ? "'" : "", got ? got : "NULL",
                     got ? "'" : "", want ? "'" : "", want ? want : "NULL", want ? "'" : "");
        return r;
}

/* Compares a (ptr, len) slice with a NUL-terminated string. */
static inline bool tap_is_mem(const char *got, size_t glen, const char *want, const char *file,
                              int line, const char *fmt, ...) TAP_PRINTF(6, 7);
static inline bool tap_is_mem(const char *got, size_t glen, const char *want, const char *file,
                              int line, const char *fmt, ...)
{
        bool same = got && want && glen == strlen(want) && memcmp(got, want, glen) == 0;
        va_list ap;
        va_start(ap, fmt);
        bool r = tap_vok(same, file, line, fmt, ap);
        va_end(ap);
        if (!r)
                diag("  got: '%.*s' (%zu bytes)\n#   expected: '%s'", got ? (int)glen : 4,
                     got ? got : "NULL", glen, want ? want : "NULL");
        return r;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
        tap_is_int((int64_t)(got), (int64_t)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...)    tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_mem(p, len, want, ...) tap_is_mem((p), (len), (want), __FILE__, __LINE__, __VA_ARGS__)

static inline int done_testing(void)
{
        if (tap_planned < 0) {
                printf("1..%d\n", tap_run);
        } else if (tap_run != tap_planned) {
                diag("planned %d tests but ran %d", tap_planned, tap_run);
                fflush(stdout);
                return 1;
        }
        if (tap_failed)
                diag("failed %d of %d tests", tap_failed, tap_run);
        fflush(stdout);
        return tap_failed ? 1 : 0;
}
