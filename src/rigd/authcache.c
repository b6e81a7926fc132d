#include "rigd/authcache.h"

#include <sodium.h>

struct entry {
        uint8_t hash[TOKEN_HASH_LEN];
        uint64_t gen;
        int64_t cached_at;
        bool used;
        struct principal p;
};

struct auth_cache {
        struct entry slots[AUTH_CACHE_SLOTS];
};

struct auth_cache *auth_cache_new(void)
{
        return xcalloc(1, sizeof(struct auth_cache));
}

void auth_cache_free(struct auth_cache *ac)
{
        if (ac)
                sodium_memzero(ac, sizeof(*ac));
        free(ac);
}

static struct entry *slot(struct auth_cache *ac, const uint8_t hash[TOKEN_HASH_LEN])
{
        /* The hash is a keyed BLAKE2b output: its bytes are already uniformly distributed. */
        uint32_t i;
        memcpy(&i, hash, sizeof(i));
        return &ac->slots[i % AUTH_CACHE_SLOTS];
}

bool auth_cache_get(struct auth_cache *ac, const uint8_t hash[TOKEN_HASH_LEN], uint64_t gen,
                    int64_t now, struct principal *out)
{
        struct entry *e = slot(ac, hash);
        if (!e->used || e->gen != gen || now >= e->cached_at + AUTH_CACHE_TTL_S ||
            (e->p.expires_at && now >= e->p.expires_at) ||
            sodium_memcmp(e->hash, hash, TOKEN_HASH_LEN) != 0)
                return false;
        *out = e->p;
        return true;
}

void auth_cache_put(struct auth_cache *ac, const uint8_t hash[TOKEN_HASH_LEN], uint64_t gen,
                    int64_t now, const struct principal *p)
{
        struct entry *e = slot(ac, hash);
        memcpy(e->hash, hash, TOKEN_HASH_LEN);
        e->gen = gen;
        e->cached_at = now;
        e->used = true;
        e->p = *p;
}
