#include "core/token.h"

#include "core/ids.h"
#include "core/rigcred.h"

#include <sodium.h>

static bool all_base62(const char *p, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!is_base62(p[i]))
                        return false;
        return true;
}

enum token_kind token_classify(const char *p, size_t len)
{
        if (len == API_KEY_LEN && memcmp(p, API_KEY_PREFIX, 3) == 0 && all_base62(p + 3, len - 3))
                return TOKEN_API_KEY;
        if (len == SESSION_LEN && memcmp(p, SESSION_PREFIX, 3) == 0 && all_base62(p + 3, len - 3))
                return TOKEN_SESSION;
        if (rigcred_shape(p, len))
                return TOKEN_RIG_CREDENTIAL;
        return TOKEN_INVALID;
}

void token_generate(enum token_kind kind, char *out)
{
        if (kind == TOKEN_SESSION) {
                memcpy(out, SESSION_PREFIX, 3);
                random_base62(out + 3, SESSION_RANDOM);
        } else {
                memcpy(out, API_KEY_PREFIX, 3);
                random_base62(out + 3, API_KEY_RANDOM);
        }
}

void token_hash(const uint8_t pepper[SECRET_KEY_LEN], const char *p, size_t len,
                uint8_t out[TOKEN_HASH_LEN])
{
        crypto_generichash(out, TOKEN_HASH_LEN, (const unsigned char *)p, len, pepper,
                           SECRET_KEY_LEN);
}

void secrets_derive(const uint8_t master[SECRET_KEY_LEN], struct secrets *out)
{
        _Static_assert(SECRET_KEY_LEN == crypto_kdf_KEYBYTES, "kdf key size");
        crypto_kdf_derive_from_key(out->pepper, sizeof(out->pepper), 1, "rigtoken", master);
        crypto_kdf_derive_from_key(out->audit_key, sizeof(out->audit_key), 2, "rigaudit", master);
}
