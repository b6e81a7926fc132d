/* Rig credentials: mint and verify round trip, expiry, tampering, another key, shapes. */
#include "core/rigcred.h"

#include <sodium.h>

#include "tap.h"

static uint8_t key[RIGCRED_KEY_LEN], other[RIGCRED_KEY_LEN];

static struct rigcred sample(int64_t exp)
{
        struct rigcred c;
        memset(&c, 0, sizeof(c));
        snprintf(c.rig_id, sizeof(c.rig_id), "rig_0123456789abcdefghij");
        snprintf(c.principal_id, sizeof(c.principal_id), "usr_ABCDEFGHIJ0123456789");
        snprintf(c.org_id, sizeof(c.org_id), "org_zzzzzzzzzzzzzzzzzzzz");
        snprintf(c.project_id, sizeof(c.project_id), "prj_00000000000000000000");
        c.kind = PK_USER;
        c.expires_at = exp;
        return c;
}

static void test_round_trip(void)
{
        struct rigcred c = sample(2000), got;
        char tok[RIGCRED_MAX_LEN], tok2[RIGCRED_MAX_LEN];
        int n = rigcred_mint(key, &c, tok, sizeof(tok));
        ok(n > 0 && (size_t)n == strlen(tok), "mint returns the token's length");
        ok(strncmp(tok, "rc_", 3) == 0, "the token starts with rc_");
        is_int(token_classify(tok, (size_t)n), TOKEN_RIG_CREDENTIAL, "token_classify knows it");
        is_int(rigcred_verify(key, tok, (size_t)n, 1999, &got), 0, "verifies before expiry");
        is_str(got.rig_id, c.rig_id, "rig id");
        is_str(got.principal_id, c.principal_id, "principal id");
        is_str(got.org_id, c.org_id, "org id");
        is_str(got.project_id, c.project_id, "project id");
        is_int(got.kind, PK_USER, "kind");
        is_int(got.expires_at, 2000, "expiry");
        is_int(rigcred_verify(key, tok, (size_t)n, 2000, &got), -ETIMEDOUT, "dead at expires_at");
        is_int(rigcred_verify(other, tok, (size_t)n, 1000, &got), -EINVAL, "another key: invalid");
        ok(got.rig_id[0] == '\0', "  and nothing is filled in");
        ok(rigcred_mint(key, &c, tok2, sizeof(tok2)) == n && strcmp(tok, tok2) != 0,
           "two mints of the same claims differ (nonce)");
}

static void test_tamper(void)
{
        struct rigcred c = sample(5000), got;
        char tok[RIGCRED_MAX_LEN];
        int n = rigcred_mint(key, &c, tok, sizeof(tok));
        int bad = 0;
        for (int i = 3; i < n; i++) {
                char saved = tok[i];
                tok[i] = saved == 'A' ? 'B' : 'A';
                if (rigcred_verify(key, tok, (size_t)n, 1, &got) != -EINVAL)
                        bad++;
                tok[i] = saved;
        }
        is_int(bad, 0, "changing any one character invalidates the token");
        is_int(rigcred_verify(key, tok, (size_t)n - 1, 1, &got), -EINVAL, "truncated");
        tok[n] = 'A';
        is_int(rigcred_verify(key, tok, (size_t)n + 1, 1, &got), -EINVAL, "one more character");
        is_int(rigcred_verify(key, "rc_", 3, 1, &got), -EINVAL, "prefix only");
}

static void test_mint_refuses(void)
{
        char tok[RIGCRED_MAX_LEN];
        struct rigcred c = sample(10);
        c.rig_id[0] = '\0';
        is_int(rigcred_mint(key, &c, tok, sizeof(tok)), -EINVAL, "empty rig id");
        c = sample(10);
        snprintf(c.org_id, sizeof(c.org_id), "org/../x");
        is_int(rigcred_mint(key, &c, tok, sizeof(tok)), -EINVAL, "not an id");
        c = sample(0);
        is_int(rigcred_mint(key, &c, tok, sizeof(tok)), -EINVAL, "no expiry");
        c = sample(10);
        is_int(rigcred_mint(key, &c, tok, 10), -EINVAL, "a small buffer");
}

static void test_shape(void)
{
        char s[RIGCRED_MAX_LEN + 2];
        memset(s, 'a', sizeof(s));
        memcpy(s, "rc_", 3);
        ok(rigcred_shape(s, RIGCRED_MIN_LEN), "shortest");
        ok(rigcred_shape(s, RIGCRED_MAX_LEN), "longest");
        ok(!rigcred_shape(s, RIGCRED_MIN_LEN - 1), "too short");
        ok(!rigcred_shape(s, RIGCRED_MAX_LEN + 1), "too long");
        s[10] = '=';
        ok(!rigcred_shape(s, 100), "padding is not base64url without padding");
        s[10] = '-';
        ok(rigcred_shape(s, 100), "'-' and '_' are base64url");
        s[0] = 'R';
        ok(!rigcred_shape(s, 100), "prefix case");
}

int main(void)
{
        if (sodium_init() < 0)
                return skip_all("libsodium failed to initialise");
        randombytes_buf(key, sizeof(key));
        randombytes_buf(other, sizeof(other));
        test_round_trip();
        test_tamper();
        test_mint_refuses();
        test_shape();
        return done_testing();
}
