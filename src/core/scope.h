/* Capability scopes as bit sets. */
#pragma once

#include "base/util.h"

enum {
        SCOPE_INSTANCES_READ = 1u << 0,
        SCOPE_INSTANCES_CREATE = 1u << 1,
        SCOPE_INSTANCES_CONTROL = 1u << 2,
        SCOPE_AGENT_INVOKE = 1u << 3,
        SCOPE_KEYS_MANAGE = 1u << 4,
        SCOPE_ADMIN = 1u << 5,
};

typedef uint32_t scopeset_t;

#define SCOPES_RIG                                                                                 \
        (SCOPE_INSTANCES_READ | SCOPE_INSTANCES_CREATE | SCOPE_INSTANCES_CONTROL |                 \
         SCOPE_AGENT_INVOKE)
#define SCOPES_ALL (SCOPES_RIG | SCOPE_KEYS_MANAGE | SCOPE_ADMIN)

enum role { ROLE_NONE = 0, ROLE_MEMBER, ROLE_ADMIN };

/* Returns the bit for a scope name (ptr, len), or 0 when unknown. */
scopeset_t scope_from_name(const char *p, size_t len);
/* Name of a single scope bit, or NULL. */
const char *scope_name(scopeset_t bit);
/* Parses a space- or comma-separated list; returns 0 or -EINVAL on an unknown name. */
int scopes_parse_list(const char *s, scopeset_t *out);
/* Formats a set as a space-separated list in canonical order; caller frees. */
char *scopes_format(scopeset_t set);
/* Number of known scopes and the i-th one in canonical (sorted) order. */
size_t scope_count(void);
scopeset_t scope_at(size_t i);

scopeset_t role_scopes(enum role r);
enum role role_from_name(const char *s);
const char *role_name(enum role r);
