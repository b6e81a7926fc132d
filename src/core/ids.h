/* Random identifiers and secret tokens. */
#pragma once

#include "base/util.h"

#define ID_RANDOM_LEN 20 /* base62 characters after the type prefix */
#define ID_MAX        40 /* room for any id: prefix + random part + NUL */

/* Writes `prefix` followed by ID_RANDOM_LEN random base62 characters into out[ID_MAX]. */
void id_new(const char *prefix, char out[static ID_MAX]);
/* Fills out[0..n) with uniformly random base62 characters (libsodium's RNG) and NUL-terminates. */
void random_base62(char *out, size_t n);
/* True when p[0..len) is prefix followed by ID_RANDOM_LEN base62 characters. */
bool id_valid(const char *prefix, const char *p, size_t len);
bool is_base62(char c);
