#include "runtime/rtutil.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static bool is_alnum_ascii(char c, bool upper)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (upper && c >= 'A' && c <= 'Z');
}

bool rt_id_valid(const char *id)
{
        if (!id || strncmp(id, "rig_", 4) != 0)
                return false;
        size_t n = 0;
        for (const char *p = id + 4; *p; p++, n++)
                if (n >= 20 || !is_alnum_ascii(*p, true))
                        return false;
        return n == 20;
}

bool rt_name_valid(const char *s, size_t maxlen, bool upper, const char *extra)
{
        if (!s)
                return false;
        size_t n = 0;
        for (const char *p = s; *p; p++, n++)
                if (n >= maxlen || !(is_alnum_ascii(*p, upper) || (extra && strchr(extra, *p))))
                        return false;
        return n > 0;
}

int rt_path(char *out, size_t outlen, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = vsnprintf(out, outlen, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -EINVAL;
        if ((size_t)r >= outlen)
                return -ENAMETOOLONG;
        return 0;
}

int rt_write_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t len = strlen(s);
        ssize_t w;
        do
                w = write(fd, s, len);
        while (w < 0 && errno == EINTR);
        if (w < 0)
                return -errno;
        if ((size_t)w != len)
                return -EIO;
        return 0;
}

ssize_t rt_read_file(const char *path, char *buf, size_t len)
{
        if (len == 0)
                return -EINVAL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t got = 0;
        while (got < len - 1) {
                ssize_t r = read(fd, buf + got, len - 1 - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        break;
                got += (size_t)r;
        }
        buf[got] = '\0';
        return (ssize_t)got;
}

int64_t rt_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rt_sleep_ns(int64_t ns)
{
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
