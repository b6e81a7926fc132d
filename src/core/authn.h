/* Parsing of credentials from request headers. Pure functions over (ptr, len); no allocation. */
#pragma once

#include "base/util.h"

struct slice {
        const char *p;
        size_t len;
};

/* Extracts the token of "Bearer <token>" (scheme case-insensitive, one or more spaces).
 * Returns 0 and sets *tok, -ENOENT for an empty header, -EINVAL for another scheme or shape. */
int authn_parse_bearer(const char *p, size_t len, struct slice *tok);
/* Finds cookie `name` in a Cookie header value ("a=b; c=d"). Returns 0, or -ENOENT. A value in
 * double quotes is unquoted. */
int authn_cookie_find(const char *p, size_t len, const char *name, struct slice *val);
