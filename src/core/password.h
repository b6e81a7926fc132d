/* Password hashing with argon2id (libsodium crypto_pwhash). Slow by design: call off the loop. */
#pragma once

#include "base/util.h"

#define PASSWORD_HASH_MAX 128
#define PASSWORD_MIN_LEN  8
#define PASSWORD_MAX_LEN  1024

int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX]);
/* Returns 0 when pw matches; -EACCES otherwise. An empty stored hash never matches, but the
 * work is still done so that timing does not reveal whether an account exists. */
int password_verify(const char *stored, const char *pw, size_t len);
