/* Per-principal token buckets by endpoint class. Thread-safe (striped locks). */
#pragma once

#include "base/util.h"

enum rl_class { RL_AUTH, RL_RIGS, RL_APPS, RL_OTHER, RL_CLASS_MAX };

struct ratelimiter;

/* per_min[c] requests per minute for class c; 0 disables the class. */
struct ratelimiter *ratelimiter_new(const uint32_t per_min[RL_CLASS_MAX]);
void ratelimiter_free(struct ratelimiter *rl);
/* Takes one token for `who` in class c at time now_ms. Returns 0 when allowed, else the whole
 * seconds (>= 1) after which a token is available again. */
int ratelimit_take(struct ratelimiter *rl, enum rl_class c, const char *who, int64_t now_ms);
/* Drops buckets that have refilled completely (they are equivalent to absent ones). */
void ratelimiter_sweep(struct ratelimiter *rl, int64_t now_ms);
size_t ratelimiter_size(struct ratelimiter *rl);

const char *rl_class_name(enum rl_class c);
int rl_class_from_name(const char *s, size_t len); /* class or -EINVAL */
/* Parses "CLASS=N" into limits; returns 0 or -EINVAL. */
int rl_parse_setting(const char *s, uint32_t per_min[RL_CLASS_MAX]);
