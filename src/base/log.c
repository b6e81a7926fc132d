#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* Set once at start-up before any thread exists; read-only afterwards. */
static enum log_level min_level = LOG_LVL_INFO;

void log_set_level(enum log_level lvl)
{
        min_level = lvl;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
        static const char *const names[] = {"debug", "info", "warn", "error"};
        if (lvl < min_level)
                return;
        char line[2048];
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(line, sizeof(line),
                         "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         ts.tv_nsec / 1000000, names[lvl]);
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
        if (len > sizeof(line) - 2)
                len = sizeof(line) - 2;
        line[len++] = '\n';
        /* One write per line so that lines of concurrent threads never interleave. */
        ssize_t r = write(2, line, len);
        (void)r;
}
