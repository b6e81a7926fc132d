/* Rig credential tokens (core/rigcred.c): the input is a token as it arrives in an
 * Authorization header or a ?token= query, verified under a fixed key; and, taken as claims, it
 * is minted and verified back. Whatever the input, verification never reads outside it, never
 * accepts a token it did not mint, and a minted token round-trips exactly. */
#include "core/rigcred.h"

#include <sodium.h>

#include "fuzz.h"

static const uint8_t key[RIGCRED_KEY_LEN] = "rigs-fuzz-key-0123456789abcdef!";

static void check_ids(const struct rigcred *c)
{
        const char *ids[4] = {c->rig_id, c->principal_id, c->org_id, c->project_id};
        for (int i = 0; i < 4; i++) {
                size_t n = strnlen(ids[i], ID_MAX);
                CHECK(n > 0 && n < ID_MAX);
                for (size_t j = 0; j < n; j++)
                        CHECK(is_base62(ids[i][j]) || ids[i][j] == '_');
        }
        CHECK(c->kind >= PK_USER && c->kind <= PK_RIG_CREDENTIAL);
        CHECK(c->expires_at > 0);
}

/* The input split at '|' into claims: rig|principal|org|project. */
static void round_trip(const char *in, size_t size)
{
        struct rigcred c;
        memset(&c, 0, sizeof(c));
        char *dst[4] = {c.rig_id, c.principal_id, c.org_id, c.project_id};
        size_t f = 0, o = 0;
        for (size_t i = 0; i < size && f < 4; i++) {
                if (in[i] == '|') {
                        f++;
                        o = 0;
                } else if (o + 1 < ID_MAX) {
                        dst[f][o++] = in[i];
                }
        }
        c.kind = PK_USER;
        c.expires_at = 1000;
        char tok[RIGCRED_MAX_LEN];
        int n = rigcred_mint(key, &c, tok, sizeof(tok));
        if (n < 0)
                return;
        CHECK((size_t)n == strlen(tok) && n <= RIGCRED_MAX_LEN);
        CHECK(token_classify(tok, (size_t)n) == TOKEN_RIG_CREDENTIAL);
        struct rigcred got;
        CHECK(rigcred_verify(key, tok, (size_t)n, 999, &got) == 0);
        CHECK(streq(got.rig_id, c.rig_id));
        CHECK(streq(got.principal_id, c.principal_id) && streq(got.org_id, c.org_id) &&
              streq(got.project_id, c.project_id));
        CHECK(rigcred_verify(key, tok, (size_t)n, 1000, &got) == -ETIMEDOUT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int init;
        if (!init++ && sodium_init() < 0)
                abort();
        char *in = dup_exact(data, size);
        struct rigcred c;
        int r = rigcred_verify(key, in, size, 1, &c);
        CHECK(r == 0 || r == -EINVAL || r == -ETIMEDOUT);
        if (r == 0 || r == -ETIMEDOUT) {
                /* Only a token minted under this key verifies (round_trip mints them). */
                CHECK(rigcred_shape(in, size));
                check_ids(&c);
        } else {
                CHECK(c.rig_id[0] == '\0' && c.expires_at == 0);
        }
        round_trip(in, size);
        free(in);
        return 0;
}
