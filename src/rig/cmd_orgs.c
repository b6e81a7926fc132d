/* rig orgs: create and list orgs, manage their members; explain why a key cannot switch. */
#include "rig/api.h"
#include "rig/cli.h"
#include "rig/http.h"
#include "rig/output.h"

static int orgs_create(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "NAME", &json);
        if (r >= 0)
                return r;
        _cleanup_json_ json_t *body = json_pack("{s:s}", "name", argv[optind]);
        struct api_call call = {.method = "POST", .path = "/api/orgs", .body = body};
        r = api_call(ctx, &call);
        _cleanup_json_ json_t *org = call.json;
        if (r != RIG_EXIT_OK)
                return r;
        if (json)
                return print_json(stdout, org) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
        printf("Created org %s (%s). You are its admin; it has a project `default`.\n",
               json_str(org, "name") ? json_str(org, "name") : argv[optind],
               json_str(org, "id") ? json_str(org, "id") : "?");
        printf("Keys are bound to one org: to work in it, create a key there with "
               "`rig keys create NAME --org %s`.\n",
               argv[optind]);
        return RIG_EXIT_OK;
}

/* Marks the org the credential acts in with "*" in a CURRENT column. */
static int orgs_ls(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "", &json);
        if (r >= 0)
                return r;
        _cleanup_json_ json_t *items = NULL, *me = NULL;
        r = api_list(ctx, "/api/orgs", NULL, 500, true, &items, NULL);
        if (r != RIG_EXIT_OK)
                return r;
        if (json)
                return print_listing(items, true, NULL, NULL, 0);
        r = api_get(ctx, "/api/me", NULL, &me);
        if (r != RIG_EXIT_OK)
                return r;
        const char *current = json_string_value(json_path(me, "org.id"));
        static const char *const headers[] = {"", "ID", "NAME", "ROLE", "CREATED"};
        static const char *const fields[] = {"id", "name", "role", "created_at"};
        _cleanup_table_ struct table t;
        table_init(&t, ARRAY_SIZE(headers), headers);
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
                char *cells[ARRAY_SIZE(headers)];
                cells[0] = xstrdup(streq_ptr(json_str(item, "id"), current) ? "*" : "");
                for (size_t k = 0; k < ARRAY_SIZE(fields); k++)
                        cells[k + 1] = json_display(json_path(item, fields[k]));
                table_add_row(&t, cells);
        }
        table_print(&t, stdout);
        return RIG_EXIT_OK;
}

/* The CLI authenticates with keys, and a key belongs to one org for good. */
static int orgs_switch(struct rig_ctx *ctx, int argc, char **argv)
{
        int r = cli_simple(ctx, argc, argv, "ORG", NULL);
        if (r >= 0)
                return r;
        const char *org = argv[optind];
        _cleanup_json_ json_t *me = NULL;
        r = api_get(ctx, "/api/me", NULL, &me);
        if (r != RIG_EXIT_OK)
                return r;
        const char *id = json_string_value(json_path(me, "org.id"));
        const char *name = json_string_value(json_path(me, "org.name"));
        if (streq_ptr(org, id) || streq_ptr(org, name)) {
                printf("Already acting in org %s.\n", name ? name : id);
                return RIG_EXIT_OK;
        }
        cli_error("cannot switch to org %s: switching is for browser sessions, and rig uses an "
                  "API key, which is bound to one org (this one acts in %s)",
                  org, name ? name : "?");
        cli_error("create a key in %s and use it: `rig keys create NAME --org %s` (then "
                  "`rig login --key -` or RIGS_API_KEY), or log in there: "
                  "`rig login --email EMAIL --org %s`",
                  org, org, org);
        return RIG_EXIT_REFUSED;
}

static int orgs_members(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "ORG", &json);
        if (r >= 0)
                return r;
        _cleanup_free_ char *org = http_escape(argv[optind]);
        _cleanup_free_ char *path = xasprintf("/api/orgs/%s/members", org);
        _cleanup_json_ json_t *items = NULL;
        r = api_list(ctx, path, NULL, 500, true, &items, NULL);
        if (r != RIG_EXIT_OK)
                return r;
        static const char *const headers[] = {"USER", "EMAIL", "NAME", "ROLE"};
        static const char *const fields[] = {"user", "email", "name", "role"};
        return print_listing(items, json, headers, fields, ARRAY_SIZE(fields));
}

static bool role_valid(const char *role)
{
        return streq(role, "admin") || streq(role, "member");
}

static int orgs_add_member(struct rig_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
            {"role", required_argument, NULL, 'r'},
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        const char *role = NULL;
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hr:", opts, &ex)) != -1)
                if (c == 'r')
                        role = optarg;
        if (ex >= 0)
                return ex;
        if ((ex = cli_operands(ctx, argc, argv, "ORG USER")) >= 0)
                return ex;
        if (!role)
                return cli_usage(ctx, "missing --role admin|member");
        if (!role_valid(role))
                return cli_usage(ctx, "invalid role '%s': use admin or member", role);
        const char *org = argv[optind], *user = argv[optind + 1];
        _cleanup_free_ char *seg = http_escape(org);
        _cleanup_free_ char *path = xasprintf("/api/orgs/%s/members", seg);
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "user", user, "role", role);
        struct api_call call = {
            .method = "POST", .path = path, .body = body, .scope = "rigs:admin"};
        int r = api_call(ctx, &call);
        json_decref(call.json);
        if (r != RIG_EXIT_OK)
                return r;
        if (call.status == 201)
                printf("Added %s to org %s as %s.\n", user, org, role);
        else
                printf("%s is now %s in org %s.\n", user, role, org);
        return RIG_EXIT_OK;
}

/* Members are removed by user id; an email is looked up in the member list first. */
static int member_id(struct rig_ctx *ctx, const char *org_seg, const char *user, char **out)
{
        if (!strchr(user, '@')) {
                *out = xstrdup(user);
                return RIG_EXIT_OK;
        }
        _cleanup_free_ char *path = xasprintf("/api/orgs/%s/members", org_seg);
        _cleanup_json_ json_t *items = NULL;
        int r = api_list(ctx, path, NULL, 500, true, &items, NULL);
        if (r != RIG_EXIT_OK)
                return r;
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
                const char *email = json_str(item, "email"), *id = json_str(item, "user");
                if (email && id && strcasecmp(email, user) == 0) {
                        *out = xstrdup(id);
                        return RIG_EXIT_OK;
                }
        }
        cli_error("not found: %s is not a member of this org", user);
        return RIG_EXIT_REFUSED;
}

static int orgs_rm_member(struct rig_ctx *ctx, int argc, char **argv)
{
        int r = cli_simple(ctx, argc, argv, "ORG USER", NULL);
        if (r >= 0)
                return r;
        const char *org = argv[optind], *user = argv[optind + 1];
        _cleanup_free_ char *seg = http_escape(org);
        _cleanup_free_ char *id = NULL;
        r = member_id(ctx, seg, user, &id);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *idseg = http_escape(id);
        _cleanup_free_ char *path = xasprintf("/api/orgs/%s/members/%s", seg, idseg);
        struct api_call call = {.method = "DELETE", .path = path, .scope = "rigs:admin"};
        r = api_call(ctx, &call);
        json_decref(call.json);
        if (r == RIG_EXIT_OK)
                printf("Removed %s from org %s.\n", user, org);
        return r;
}

static const struct rig_help_opt json_opts[] = {
    {"--json", "Print the server's answer as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help_opt help_opts[] = {
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help create_help = {
    .synopsis = "orgs create NAME [--json]",
    .description = "Creates an org (POST /api/orgs) with you as its admin and a project "
                   "named `default`. NAME is 1 to 63 characters of a-z, 0-9 and '-', not "
                   "starting or ending with '-', and unique on the server. Any user may "
                   "create an org, but not with a project-bound key.",
    .options = json_opts,
    .examples = "  rig orgs create acme",
    .talks_to_server = true,
};

static const struct rig_help ls_help = {
    .synopsis = "orgs ls [--json]",
    .description = "Lists the orgs you belong to, with your role in each (GET /api/orgs). "
                   "A key sees only its own org. `*` marks the org the current credential "
                   "acts in.",
    .options = json_opts,
    .examples = "  rig orgs ls",
    .talks_to_server = true,
};

static const struct rig_help switch_help = {
    .synopsis = "orgs switch ORG",
    .description = "A browser session acts in one org at a time and can switch. rig "
                   "authenticates with an API key, which is bound to one org for good, so "
                   "this command only explains how to work in ORG: create a key there "
                   "(`rig keys create NAME --org ORG`) and use it, or log in to it "
                   "(`rig login --email EMAIL --org ORG`). It succeeds when ORG is already "
                   "the current org, and exits 1 otherwise.",
    .options = help_opts,
    .examples = "  rig orgs switch acme",
    .talks_to_server = true,
};

static const struct rig_help members_help = {
    .synopsis = "orgs members ORG [--json]",
    .description = "Lists the members of ORG (name or id) with their roles "
                   "(GET /api/orgs/ORG/members). Any member may list them.",
    .options = json_opts,
    .examples = "  rig orgs members default",
    .talks_to_server = true,
};

static const struct rig_help_opt add_opts[] = {
    {"--role admin|member", "The member's role (required). An admin holds every rig scope "
                            "plus rigs:keys:manage and rigs:admin in the org; a member "
                            "holds the rig scopes."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help add_help = {
    .synopsis = "orgs add-member ORG USER --role admin|member",
    .description = "Adds an existing user (id or email) to ORG, or changes the role of a "
                   "member (POST /api/orgs/ORG/members). Needs rigs:admin in ORG.",
    .options = add_opts,
    .examples = "  rig orgs add-member acme bob@example.com --role member\n"
                "  rig orgs add-member acme usr_0123456789 --role admin",
    .talks_to_server = true,
};

static const struct rig_help rm_help = {
    .synopsis = "orgs rm-member ORG USER",
    .description = "Removes a member (id or email) from ORG "
                   "(DELETE /api/orgs/ORG/members/USER). Needs rigs:admin in ORG. The last "
                   "admin of an org cannot be removed.",
    .options = help_opts,
    .examples = "  rig orgs rm-member acme bob@example.com",
    .talks_to_server = true,
};

static const struct rig_cmd create_cmd = {
    .name = "create", .summary = "create an org", .run = orgs_create, .help = &create_help};
static const struct rig_cmd ls_cmd = {
    .name = "ls", .alias = "list", .summary = "list your orgs", .run = orgs_ls, .help = &ls_help};
static const struct rig_cmd switch_cmd = {.name = "switch",
                                          .summary = "explain how to act in another org",
                                          .run = orgs_switch,
                                          .help = &switch_help};
static const struct rig_cmd members_cmd = {.name = "members",
                                           .summary = "list an org's members",
                                           .run = orgs_members,
                                           .help = &members_help};
static const struct rig_cmd add_cmd = {.name = "add-member",
                                       .summary = "add a user to an org or change their role",
                                       .run = orgs_add_member,
                                       .help = &add_help};
static const struct rig_cmd rm_cmd = {.name = "rm-member",
                                      .summary = "remove a user from an org",
                                      .run = orgs_rm_member,
                                      .help = &rm_help};

static const struct rig_cmd *const orgs_subs[] = {
    &create_cmd, &ls_cmd, &switch_cmd, &members_cmd, &add_cmd, &rm_cmd, NULL,
};

static const struct rig_help orgs_help = {
    .synopsis = "orgs COMMAND [ARGS...]",
    .description = "An org is a tenant: its users, projects, keys and rigs are invisible to "
                   "other orgs. Users belong to orgs as `admin` or `member`. Commands that "
                   "take ORG accept its name or its id.",
    .examples = "  rig orgs create acme\n"
                "  rig orgs ls\n"
                "  rig orgs add-member acme bob@example.com --role member\n"
                "  rig orgs members acme --json",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_orgs = {
    .name = "orgs",
    .summary = "create and list orgs, manage members",
    .subs = orgs_subs,
    .help = &orgs_help,
};
