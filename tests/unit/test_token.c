/* Secret tokens and ids: shapes, generation, keyed hashes, secret derivation. */
#include "core/ids.h"
#include "core/token.h"

#include <sodium.h>

#include "tap.h"

#define KEY32 "rb_0123456789abcdefghijABCDEFGHIJxy" /* rb_ + 32 base62 */
#define SES40 "rs_0123456789abcdefghijABCDEFGHIJKLMNOPQRST"

static enum token_kind classify(const char *s)
{
        return token_classify(s, strlen(s));
}

static void test_classify(void)
{
        ok(strlen(KEY32) == API_KEY_LEN && strlen(SES40) == SESSION_LEN, "fixtures have the sizes");
        is_int(classify(KEY32), TOKEN_API_KEY, "rb_ + 32 base62 is an API key");
        is_int(classify(SES40), TOKEN_SESSION, "rs_ + 40 base62 is a session token");
        is_int(classify("rb_00000000000000000000000000000000"), TOKEN_API_KEY, "all digits");
        is_int(classify("rb_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"), TOKEN_API_KEY, "all 'z'");

        /* Length. */
        is_int(classify("rb_0123456789abcdefghijABCDEFGHIJx"), TOKEN_INVALID, "31 characters");
        is_int(classify("rb_0123456789abcdefghijABCDEFGHIJxyz"), TOKEN_INVALID, "33 characters");
        is_int(classify(""), TOKEN_INVALID, "empty");
        is_int(classify("rb_"), TOKEN_INVALID, "prefix only");
        is_int(token_classify(KEY32, API_KEY_LEN - 1), TOKEN_INVALID, "a truncated slice");
        /* 40 base62 after rb_ has a session's length but the key's prefix. */
        is_int(classify("rb_0123456789abcdefghijABCDEFGHIJKLMNOPQRST"), TOKEN_INVALID,
               "rb_ with a session's length");
        is_int(classify("rs_0123456789abcdefghijABCDEFGHIJxy"), TOKEN_INVALID,
               "rs_ with a key's length");

        /* Prefix. */
        is_int(classify("RB_0123456789abcdefghijABCDEFGHIJxy"), TOKEN_INVALID, "RB_ (case)");
        is_int(classify("rb-0123456789abcdefghijABCDEFGHIJxy"), TOKEN_INVALID, "rb- prefix");
        is_int(classify("xb_0123456789abcdefghijABCDEFGHIJxy"), TOKEN_INVALID, "xb_ prefix");
        is_int(classify("rbx0123456789abcdefghijABCDEFGHIJxy"), TOKEN_INVALID, "rbx prefix");

        /* Characters outside base62 anywhere in the random part. */
        static const char bad_chars[] = {'_', '-',  '+',  '/',    '=',    ' ',
                                         '.', '\0', '\n', '\x80', '\xff', '~'};
        int accepted = 0;
        for (size_t c = 0; c < sizeof(bad_chars); c++) {
                for (size_t pos = 3; pos < API_KEY_LEN; pos++) {
                        char t[API_KEY_LEN];
                        memcpy(t, KEY32, API_KEY_LEN);
                        t[pos] = bad_chars[c];
                        if (token_classify(t, API_KEY_LEN) != TOKEN_INVALID)
                                accepted++;
                }
        }
        is_int(accepted, 0, "no non-base62 byte is accepted at any position of a key");
        accepted = 0;
        for (size_t c = 0; c < sizeof(bad_chars); c++) {
                for (size_t pos = 3; pos < SESSION_LEN; pos++) {
                        char t[SESSION_LEN];
                        memcpy(t, SES40, SESSION_LEN);
                        t[pos] = bad_chars[c];
                        if (token_classify(t, SESSION_LEN) != TOKEN_INVALID)
                                accepted++;
                }
        }
        is_int(accepted, 0, "no non-base62 byte is accepted at any position of a session");

        /* The classifier reads exactly len bytes: the NUL and what follows do not matter. */
        char longer[64];
        snprintf(longer, sizeof(longer), "%s!!!", KEY32);
        is_int(token_classify(longer, API_KEY_LEN), TOKEN_API_KEY,
               "a key slice of a longer buffer");
}

static void test_generate(void)
{
        char k[API_KEY_LEN + 1], s[SESSION_LEN + 1];
        memset(k, 'X', sizeof(k));
        memset(s, 'X', sizeof(s));
        token_generate(TOKEN_API_KEY, k);
        token_generate(TOKEN_SESSION, s);
        is_int(strnlen(k, sizeof(k)), API_KEY_LEN, "generated key is NUL-terminated at 35");
        is_int(strnlen(s, sizeof(s)), SESSION_LEN, "generated session is NUL-terminated at 43");
        ok(memcmp(k, "rb_", 3) == 0, "key starts with rb_ (%s)", k);
        ok(memcmp(s, "rs_", 3) == 0, "session starts with rs_");
        is_int(classify(k), TOKEN_API_KEY, "generated key classifies as a key");
        is_int(classify(s), TOKEN_SESSION, "generated session classifies as a session");

        /* Uniqueness and a crude check that every base62 character can occur. */
        enum { N = 2000 };
        static char keys[N][API_KEY_LEN + 1];
        bool seen[256] = {false};
        int misshaped = 0, dups = 0;
        for (int i = 0; i < N; i++) {
                token_generate(TOKEN_API_KEY, keys[i]);
                if (classify(keys[i]) != TOKEN_API_KEY)
                        misshaped++;
                for (int j = 3; j < API_KEY_LEN; j++)
                        seen[(unsigned char)keys[i][j]] = true;
        }
        for (int i = 0; i < N; i++)
                for (int j = i + 1; j < N; j++)
                        if (memcmp(keys[i], keys[j], API_KEY_LEN) == 0)
                                dups++;
        is_int(misshaped, 0, "%d generated keys are well formed", N);
        is_int(dups, 0, "%d generated keys are distinct", N);
        int distinct_chars = 0;
        for (int c = 0; c < 256; c++)
                distinct_chars += seen[c];
        is_int(distinct_chars, 62, "all 62 base62 characters occur in %d keys", N);
}

static void test_hash(void)
{
        uint8_t p1[SECRET_KEY_LEN], p2[SECRET_KEY_LEN];
        memset(p1, 1, sizeof(p1));
        memset(p2, 1, sizeof(p2));
        p2[31] = 2; /* one bit of the pepper differs */
        uint8_t a[TOKEN_HASH_LEN], b[TOKEN_HASH_LEN], c[TOKEN_HASH_LEN], d[TOKEN_HASH_LEN];
        token_hash(p1, KEY32, API_KEY_LEN, a);
        token_hash(p1, KEY32, API_KEY_LEN, b);
        ok(memcmp(a, b, TOKEN_HASH_LEN) == 0, "hash is deterministic");
        token_hash(p2, KEY32, API_KEY_LEN, c);
        ok(memcmp(a, c, TOKEN_HASH_LEN) != 0, "a different pepper gives a different hash");
        token_hash(p1, SES40, SESSION_LEN, d);
        ok(memcmp(a, d, TOKEN_HASH_LEN) != 0, "a different token gives a different hash");
        token_hash(p1, KEY32, API_KEY_LEN - 1, d);
        ok(memcmp(a, d, TOKEN_HASH_LEN) != 0, "the length is part of what is hashed");

        /* It is keyed BLAKE2b-256, not a plain hash of the token. */
        uint8_t plain[TOKEN_HASH_LEN], keyed[TOKEN_HASH_LEN];
        crypto_generichash(plain, sizeof(plain), (const unsigned char *)KEY32, API_KEY_LEN, NULL,
                           0);
        ok(memcmp(a, plain, TOKEN_HASH_LEN) != 0, "differs from the unkeyed hash");
        crypto_generichash(keyed, sizeof(keyed), (const unsigned char *)KEY32, API_KEY_LEN, p1,
                           sizeof(p1));
        ok(memcmp(a, keyed, TOKEN_HASH_LEN) == 0, "equals BLAKE2b-256 keyed with the pepper");
}

static void test_secrets(void)
{
        uint8_t m1[SECRET_KEY_LEN], m2[SECRET_KEY_LEN];
        memset(m1, 7, sizeof(m1));
        memcpy(m2, m1, sizeof(m2));
        m2[0] ^= 1;
        struct secrets a, b, c;
        secrets_derive(m1, &a);
        secrets_derive(m1, &b);
        secrets_derive(m2, &c);
        ok(memcmp(&a, &b, sizeof(a)) == 0, "derivation is deterministic");
        ok(memcmp(a.pepper, a.audit_key, SECRET_KEY_LEN) != 0, "pepper and audit key differ");
        ok(memcmp(a.pepper, m1, SECRET_KEY_LEN) != 0, "the pepper is not the master secret");
        ok(memcmp(a.pepper, c.pepper, SECRET_KEY_LEN) != 0, "another master, another pepper");
        ok(memcmp(a.audit_key, c.audit_key, SECRET_KEY_LEN) != 0,
           "another master, another audit key");
}

static void test_ids(void)
{
        char id[ID_MAX];
        memset(id, 'X', sizeof(id));
        id_new("key_", id);
        is_int(strnlen(id, sizeof(id)), 4 + ID_RANDOM_LEN, "id_new: prefix + 20, NUL-terminated");
        ok(id_valid("key_", id, strlen(id)), "id_valid accepts a new id (%s)", id);
        ok(!id_valid("org_", id, strlen(id)), "id_valid with another prefix");
        ok(!id_valid("key_", id, strlen(id) - 1), "id_valid of a truncated id");
        char other[ID_MAX];
        id_new("key_", other);
        ok(strcmp(id, other) != 0, "two ids differ");
        id[10] = '-';
        ok(!id_valid("key_", id, strlen(id)), "id_valid rejects a non-base62 character");
        ok(!id_valid("key_", "key_", 4), "id_valid rejects the prefix alone");
        ok(is_base62('0') && is_base62('9') && is_base62('a') && is_base62('z') && is_base62('A') &&
               is_base62('Z'),
           "is_base62 accepts the range ends");
        ok(!is_base62('/') && !is_base62(':') && !is_base62('@') && !is_base62('[') &&
               !is_base62('`') && !is_base62('{') && !is_base62('\0') && !is_base62('\xe9'),
           "is_base62 rejects the neighbours of the ranges");
        char r[8];
        memset(r, 'X', sizeof(r));
        random_base62(r, 5);
        ok(r[5] == '\0' && r[6] == 'X', "random_base62 writes n characters and one NUL");
}

int main(void)
{
        if (sodium_init() < 0)
                return skip_all("libsodium failed to initialise");
        test_classify();
        test_generate();
        test_hash();
        test_secrets();
        test_ids();
        return done_testing();
}
