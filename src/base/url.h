/* Percent-encoding (RFC 3986) of URL parts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Decodes p[0..len) into out (NUL-terminated); '+' is a space when plus (query strings).
 * Returns the length, or -EINVAL for a bad escape, an encoded NUL or no room. */
int url_decode(const char *p, size_t len, bool plus, char *out, size_t outlen);
/* Encodes s into out, escaping everything but unreserved characters; truncates at a whole
 * character when out is too small. Returns the length written. */
size_t url_encode(const char *s, char *out, size_t outlen);
