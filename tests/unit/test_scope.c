/* Scopes and roles: names, list parsing, canonical formatting, role grants. */
#include "core/scope.h"

#include "tap.h"

static void test_names(void)
{
        static const struct {
                const char *name;
                scopeset_t bit;
        } known[] = {
            {"rigs:admin", SCOPE_ADMIN},
            {"rigs:agent:invoke", SCOPE_AGENT_INVOKE},
            {"rigs:instances:control", SCOPE_INSTANCES_CONTROL},
            {"rigs:instances:create", SCOPE_INSTANCES_CREATE},
            {"rigs:instances:read", SCOPE_INSTANCES_READ},
            {"rigs:keys:manage", SCOPE_KEYS_MANAGE},
        };
        is_int(scope_count(), ARRAY_SIZE(known), "six scopes are known");
        for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
                is_int(scope_from_name(known[i].name, strlen(known[i].name)), known[i].bit,
                       "scope_from_name(%s)", known[i].name);
                is_str(scope_name(known[i].bit), known[i].name, "scope_name of bit %#x",
                       known[i].bit);
                is_int(scope_at(i), known[i].bit, "scope_at(%zu) is %s (canonical order)", i,
                       known[i].name);
        }
        is_int(scope_at(scope_count()), 0, "scope_at past the end is 0");

        /* (ptr, len): the name must match exactly, not as a prefix of a longer buffer. */
        const char *buf = "rigs:adminXYZ";
        is_int(scope_from_name(buf, 10), SCOPE_ADMIN, "slice of a longer buffer matches");
        is_int(scope_from_name(buf, 13), 0, "rigs:adminXYZ is unknown");
        is_int(scope_from_name("rigs:admi", 9), 0, "a prefix of a name is unknown");
        is_int(scope_from_name("", 0), 0, "the empty name is unknown");
        is_int(scope_from_name("RIGS:ADMIN", 10), 0, "names are case-sensitive");
        is_int(scope_from_name("rigs:instances", 14), 0, "a namespace alone is unknown");
        ok(scope_name(0) == NULL, "scope_name(0) is NULL");
        ok(scope_name(SCOPE_ADMIN | SCOPE_KEYS_MANAGE) == NULL, "scope_name of two bits is NULL");
        ok(scope_name(1u << 20) == NULL, "scope_name of an unknown bit is NULL");
}

static void test_parse(void)
{
        scopeset_t s = 0xdead;
        is_int(scopes_parse_list("rigs:admin rigs:keys:manage", &s), 0, "space-separated list");
        is_int(s, SCOPE_ADMIN | SCOPE_KEYS_MANAGE, "  gives admin|keys");

        s = 0xdead;
        is_int(scopes_parse_list("rigs:instances:read,rigs:agent:invoke", &s), 0,
               "comma-separated list");
        is_int(s, SCOPE_INSTANCES_READ | SCOPE_AGENT_INVOKE, "  gives read|invoke");

        s = 0xdead;
        is_int(scopes_parse_list("  , rigs:admin ,, rigs:admin ,  ", &s), 0,
               "extra separators and duplicates");
        is_int(s, SCOPE_ADMIN, "  gives admin once");

        s = 0xdead;
        is_int(scopes_parse_list("", &s), 0, "empty list parses");
        is_int(s, 0, "  to the empty set");

        s = 0xdead;
        is_int(scopes_parse_list(" , ", &s), 0, "separators only parse");
        is_int(s, 0, "  to the empty set");

        s = 0xdead;
        is_int(scopes_parse_list("rigs:admin rigs:root", &s), -EINVAL, "an unknown name fails");
        is_int(s, 0xdead, "  and leaves the output untouched");
        is_int(scopes_parse_list("rigs:admin;rigs:keys:manage", &s), -EINVAL,
               "';' is not a separator");
        is_int(scopes_parse_list("rigs:admin\trigs:keys:manage", &s), -EINVAL,
               "a tab is not a separator");
        is_int(scopes_parse_list("*", &s), -EINVAL, "no wildcard");
}

static void test_format(void)
{
        char *f = scopes_format(0);
        is_str(f, "", "empty set formats as the empty string");
        free(f);
        f = scopes_format(SCOPES_ALL);
        is_str(f,
               "rigs:admin rigs:agent:invoke rigs:instances:control rigs:instances:create "
               "rigs:instances:read rigs:keys:manage",
               "all scopes, alphabetical");
        free(f);
        f = scopes_format(SCOPE_KEYS_MANAGE | SCOPE_INSTANCES_READ | (1u << 30));
        is_str(f, "rigs:instances:read rigs:keys:manage", "unknown bits are not printed");
        free(f);

        /* Every subset survives format -> parse. */
        int bad = 0;
        for (scopeset_t set = 0; set <= SCOPES_ALL; set++) {
                char *t = scopes_format(set);
                scopeset_t back = 0;
                if (scopes_parse_list(t, &back) != 0 || back != set)
                        bad++;
                free(t);
        }
        is_int(bad, 0, "all %u subsets round-trip through format and parse", SCOPES_ALL + 1);
}

static void test_roles(void)
{
        is_int(role_scopes(ROLE_ADMIN), SCOPES_ALL, "admin holds every scope");
        is_int(role_scopes(ROLE_MEMBER), SCOPES_RIG, "member holds the rig scopes");
        ok(!(role_scopes(ROLE_MEMBER) & (SCOPE_ADMIN | SCOPE_KEYS_MANAGE)),
           "member holds neither admin nor keys:manage");
        is_int(role_scopes(ROLE_NONE), 0, "no role, no scope");
        is_int(role_scopes((enum role)42), 0, "an out-of-range role holds nothing");

        is_int(role_from_name("admin"), ROLE_ADMIN, "admin");
        is_int(role_from_name("member"), ROLE_MEMBER, "member");
        is_int(role_from_name("Admin"), ROLE_NONE, "role names are case-sensitive");
        is_int(role_from_name("admin "), ROLE_NONE, "no trailing space");
        is_int(role_from_name(""), ROLE_NONE, "empty");
        is_int(role_from_name("owner"), ROLE_NONE, "unknown role");
        is_str(role_name(ROLE_ADMIN), "admin", "role_name admin");
        is_str(role_name(ROLE_MEMBER), "member", "role_name member");
        is_str(role_name(ROLE_NONE), "none", "role_name none");
        is_int(role_from_name(role_name(ROLE_ADMIN)), ROLE_ADMIN, "admin round-trips");
        is_int(role_from_name(role_name(ROLE_MEMBER)), ROLE_MEMBER, "member round-trips");
}

int main(void)
{
        test_names();
        test_parse();
        test_format();
        test_roles();
        return done_testing();
}
