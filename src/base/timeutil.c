#include "base/timeutil.h"

#include <stdio.h>

int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fmt_rfc3339(int64_t epoch_s, char out[static 21])
{
        time_t t = (time_t)epoch_s;
        struct tm tm;
        gmtime_r(&t, &tm);
        int year = tm.tm_year + 1900;
        if (year < 0 || year > 9999)
                year = year < 0 ? 0 : 9999; /* RFC 3339 has four-digit years only */
        snprintf(out, 21, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int days_in_month(int year, int month)
{
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return month == 2 && leap ? 29 : days[month - 1];
}

static int digits(const char *s, size_t n, int *out)
{
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        *out = v;
        return 0;
}

int parse_rfc3339(const char *s, size_t len, int64_t *epoch_s)
{
        int Y, M, D, h, m, sec;
        if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
            s[13] != ':' || s[16] != ':')
                return -EINVAL;
        if (digits(s, 4, &Y) < 0 || digits(s + 5, 2, &M) < 0 || digits(s + 8, 2, &D) < 0 ||
            digits(s + 11, 2, &h) < 0 || digits(s + 14, 2, &m) < 0 || digits(s + 17, 2, &sec) < 0)
                return -EINVAL;
        if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 || sec > 60)
                return -EINVAL;
        size_t i = 19;
        if (i < len && s[i] == '.') {
                i++;
                size_t start = i;
                while (i < len && s[i] >= '0' && s[i] <= '9')
                        i++;
                if (i == start)
                        return -EINVAL;
        }
        int offset = 0;
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
                i++;
        } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
                int oh, om;
                if (digits(s + i + 1, 2, &oh) < 0 || digits(s + i + 4, 2, &om) < 0 || oh > 23 ||
                    om > 59)
                        return -EINVAL;
                offset = (oh * 60 + om) * 60 * (s[i] == '+' ? 1 : -1);
                i += 6;
        } else {
                return -EINVAL;
        }
        if (i != len)
                return -EINVAL;
        struct tm tm = {.tm_year = Y - 1900,
                        .tm_mon = M - 1,
                        .tm_mday = D,
                        .tm_hour = h,
                        .tm_min = m,
                        .tm_sec = sec};
        time_t t = timegm(&tm);
        *epoch_s = (int64_t)t - offset;
        return 0;
}
