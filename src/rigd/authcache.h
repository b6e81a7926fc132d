/* A per-thread cache of resolved credentials so that the hot path does not query the store for
 * every request. An entry is only used while the daemon's auth generation is unchanged (every
 * mutation bumps it, so a revoked key or removed member fails on the very next request), for at
 * most AUTH_CACHE_TTL_S, and never past the credential's own expiry. */
#pragma once

#include "core/principal.h"

#define AUTH_CACHE_SLOTS 512
#define AUTH_CACHE_TTL_S 30

struct auth_cache;

struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache *ac);
/* Returns true and fills out when a fresh entry for hash exists. */
bool auth_cache_get(struct auth_cache *ac, const uint8_t hash[TOKEN_HASH_LEN], uint64_t gen,
                    int64_t now, struct principal *out);
void auth_cache_put(struct auth_cache *ac, const uint8_t hash[TOKEN_HASH_LEN], uint64_t gen,
                    int64_t now, const struct principal *p);
