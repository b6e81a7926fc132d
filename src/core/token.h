/* Secret tokens: API keys, session tokens; their format checks and keyed hashes. */
#pragma once

#include "base/util.h"

#define API_KEY_PREFIX "rb_"
#define API_KEY_RANDOM 32
#define API_KEY_LEN    (3 + API_KEY_RANDOM)
#define SESSION_PREFIX "rs_"
#define SESSION_RANDOM 40
#define SESSION_LEN    (3 + SESSION_RANDOM)
#define TOKEN_HASH_LEN 32
#define SECRET_KEY_LEN 32

enum token_kind {
        TOKEN_INVALID = 0,
        TOKEN_API_KEY,        /* rb_ + 32 base62 */
        TOKEN_SESSION,        /* rs_ + 40 base62 */
        TOKEN_RIG_CREDENTIAL, /* rc_ + base64url, see core/rigcred.h */
};

/* Classifies a token by its exact shape; anything else is TOKEN_INVALID. */
enum token_kind token_classify(const char *p, size_t len);
/* Generates a new token of the given kind into out (API_KEY_LEN / SESSION_LEN + 1 bytes). */
void token_generate(enum token_kind kind, char *out);
/* Keyed BLAKE2b-256 of a token: what the store keeps instead of the token. */
void token_hash(const uint8_t pepper[SECRET_KEY_LEN], const char *p, size_t len,
                uint8_t out[TOKEN_HASH_LEN]);

/* Data-dir secrets derived from the 32-byte master secret file with crypto_kdf. */
struct secrets {
        uint8_t pepper[SECRET_KEY_LEN];    /* token hashing */
        uint8_t audit_key[SECRET_KEY_LEN]; /* audit hash chain */
};
void secrets_derive(const uint8_t master[SECRET_KEY_LEN], struct secrets *out);
