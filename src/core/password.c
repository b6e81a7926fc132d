#include "core/password.h"

#include <sodium.h>

/* Interactive limits: about 0.1 s and 64 MiB per hash on this class of machine. */
#define PW_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEM crypto_pwhash_MEMLIMIT_INTERACTIVE

int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX])
{
        _Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "hash size");
        if (crypto_pwhash_str_alg(out, pw, len, PW_OPS, PW_MEM, crypto_pwhash_ALG_ARGON2ID13) != 0)
                return -ENOMEM;
        return 0;
}

int password_verify(const char *stored, const char *pw, size_t len)
{
        if (!stored || !*stored) {
                /* Burn the same time with a throwaway hash; the result is ignored. */
                char dummy[PASSWORD_HASH_MAX];
                (void)password_hash(pw, len, dummy);
                return -EACCES;
        }
        return crypto_pwhash_str_verify(stored, pw, len) == 0 ? 0 : -EACCES;
}
