#include "core/scope.h"

#include "base/buf.h"

/* Canonical order is alphabetical so that /api/me lists scopes sorted. */
static const struct {
        const char *name;
        scopeset_t bit;
} scopes[] = {
    {"rigs:admin", SCOPE_ADMIN},
    {"rigs:agent:invoke", SCOPE_AGENT_INVOKE},
    {"rigs:instances:control", SCOPE_INSTANCES_CONTROL},
    {"rigs:instances:create", SCOPE_INSTANCES_CREATE},
    {"rigs:instances:read", SCOPE_INSTANCES_READ},
    {"rigs:keys:manage", SCOPE_KEYS_MANAGE},
};

size_t scope_count(void)
{
        return ARRAY_SIZE(scopes);
}

scopeset_t scope_at(size_t i)
{
        return i < ARRAY_SIZE(scopes) ? scopes[i].bit : 0;
}

scopeset_t scope_from_name(const char *p, size_t len)
{
        for (size_t i = 0; i < ARRAY_SIZE(scopes); i++)
                if (memeq_str(p, len, scopes[i].name))
                        return scopes[i].bit;
        return 0;
}

const char *scope_name(scopeset_t bit)
{
        for (size_t i = 0; i < ARRAY_SIZE(scopes); i++)
                if (scopes[i].bit == bit)
                        return scopes[i].name;
        return NULL;
}

int scopes_parse_list(const char *s, scopeset_t *out)
{
        scopeset_t set = 0;
        while (*s) {
                size_t skip = strspn(s, " ,");
                s += skip;
                size_t n = strcspn(s, " ,");
                if (n == 0)
                        break;
                scopeset_t bit = scope_from_name(s, n);
                if (!bit)
                        return -EINVAL;
                set |= bit;
                s += n;
        }
        *out = set;
        return 0;
}

char *scopes_format(scopeset_t set)
{
        struct buf b = {0};
        for (size_t i = 0; i < ARRAY_SIZE(scopes); i++) {
                if (!(set & scopes[i].bit))
                        continue;
                if (b.len)
                        buf_puts(&b, " ");
                buf_puts(&b, scopes[i].name);
        }
        return buf_steal(&b);
}

scopeset_t role_scopes(enum role r)
{
        switch (r) {
        case ROLE_ADMIN:
                return SCOPES_ALL;
        case ROLE_MEMBER:
                return SCOPES_RIG;
        default:
                return 0;
        }
}

enum role role_from_name(const char *s)
{
        if (streq(s, "admin"))
                return ROLE_ADMIN;
        if (streq(s, "member"))
                return ROLE_MEMBER;
        return ROLE_NONE;
}

const char *role_name(enum role r)
{
        return r == ROLE_ADMIN ? "admin" : r == ROLE_MEMBER ? "member" : "none";
}
