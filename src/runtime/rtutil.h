/* Private helpers of the runtime's host-resource modules (cgroups, disks): name validation before
 * any name becomes part of a host path, and small file helpers. Not a public interface. */
#pragma once

#include "base/util.h"

#include <sys/types.h>

/* True when id matches ^rig_[0-9A-Za-z]{20}$: the only rig ids ever turned into host paths. */
bool rt_id_valid(const char *id);
/* True when s is 1..maxlen characters, each an ASCII letter, digit or one of `extra`. */
bool rt_name_valid(const char *s, size_t maxlen, bool upper, const char *extra);

/* snprintf into a fixed buffer; -ENAMETOOLONG when it does not fit. */
int rt_path(char *out, size_t outlen, const char *fmt, ...) _printf_(3, 4);

/* Writes the whole string to an existing file (O_WRONLY | O_CLOEXEC, no O_CREAT) in one write(2),
 * as kernel interface files expect. */
int rt_write_file(const char *path, const char *s);
/* Reads up to len-1 bytes of a file into buf (NUL-terminated); returns the length. */
ssize_t rt_read_file(const char *path, char *buf, size_t len);
/* Monotonic clock in nanoseconds. */
int64_t rt_now_ns(void);
/* Sleeps for ns nanoseconds (restarting on EINTR). */
void rt_sleep_ns(int64_t ns);
