/* Wall-clock and monotonic time, RFC 3339 formatting and parsing. */
#pragma once

#include "base/util.h"

#include <time.h>

int64_t now_ms(void);  /* wall clock, milliseconds since the epoch */
int64_t mono_ms(void); /* monotonic clock, milliseconds */
/* Formats seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ"; out must hold 21 bytes. */
void fmt_rfc3339(int64_t epoch_s, char out[static 21]);
/* Parses an RFC 3339 timestamp ("Z" or "+hh:mm" offset, optional fraction). Returns 0 or -EINVAL.
 */
int parse_rfc3339(const char *s, size_t len, int64_t *epoch_s);
