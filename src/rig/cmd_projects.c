/* rig projects: create and list the projects of an org. */
#include "rig/api.h"
#include "rig/cli.h"
#include "rig/output.h"

/* Parses [--org ORG] [--json] and the operands. Returns -1 to go on, else an exit code. */
static int parse_org_opts(struct rig_ctx *ctx, int argc, char **argv, const char *operands,
                          const char **org, bool *json)
{
        static const struct option opts[] = {
            {"org", required_argument, NULL, 'o'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":ho:j", opts, &ex)) != -1) {
                if (c == 'o')
                        *org = optarg;
                else if (c == 'j')
                        *json = true;
        }
        if (ex >= 0)
                return ex;
        return cli_operands(ctx, argc, argv, operands);
}

static int projects_create(struct rig_ctx *ctx, int argc, char **argv)
{
        const char *org = NULL;
        bool json = false;
        int r = parse_org_opts(ctx, argc, argv, "NAME", &org, &json);
        if (r >= 0)
                return r;
        _cleanup_free_ char *seg = NULL;
        r = api_org_segment(ctx, org, &seg);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *path = xasprintf("/api/orgs/%s/projects", seg);
        _cleanup_json_ json_t *body = json_pack("{s:s}", "name", argv[optind]);
        struct api_call call = {
            .method = "POST", .path = path, .body = body, .scope = "rigs:admin"};
        r = api_call(ctx, &call);
        _cleanup_json_ json_t *prj = call.json;
        if (r != RIG_EXIT_OK)
                return r;
        if (json)
                return print_json(stdout, prj) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
        printf("Created project %s (%s).\n",
               json_str(prj, "name") ? json_str(prj, "name") : argv[optind],
               json_str(prj, "id") ? json_str(prj, "id") : "?");
        return RIG_EXIT_OK;
}

static int projects_ls(struct rig_ctx *ctx, int argc, char **argv)
{
        const char *org = NULL;
        bool json = false;
        int r = parse_org_opts(ctx, argc, argv, "", &org, &json);
        if (r >= 0)
                return r;
        _cleanup_free_ char *seg = NULL;
        r = api_org_segment(ctx, org, &seg);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *path = xasprintf("/api/orgs/%s/projects", seg);
        _cleanup_json_ json_t *items = NULL;
        r = api_list(ctx, path, NULL, 500, true, &items, NULL);
        if (r != RIG_EXIT_OK)
                return r;
        static const char *const headers[] = {"ID", "NAME", "ORG", "CREATED"};
        static const char *const fields[] = {"id", "name", "org", "created_at"};
        return print_listing(items, json, headers, fields, ARRAY_SIZE(fields));
}

static const struct rig_help_opt create_opts[] = {
    {"--org ORG", "The org (name or id). Default: the org the current credential acts in."},
    {"--json", "Print the server's answer as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help create_help = {
    .synopsis = "projects create NAME [--org ORG] [--json]",
    .description = "Creates a project in an org (POST /api/orgs/ORG/projects). Needs "
                   "rigs:admin in the org. NAME is 1 to 63 characters of a-z, 0-9 and '-', "
                   "not starting or ending with '-', and unique within the org.",
    .options = create_opts,
    .examples = "  rig projects create web\n"
                "  rig projects create ml --org acme",
    .talks_to_server = true,
};

static const struct rig_help ls_help = {
    .synopsis = "projects ls [--org ORG] [--json]",
    .description = "Lists the projects of an org (GET /api/orgs/ORG/projects); any member "
                   "may. A project-bound key sees only its own project.",
    .options = create_opts,
    .examples = "  rig projects ls\n"
                "  rig projects ls --org acme --json",
    .talks_to_server = true,
};

static const struct rig_cmd create_cmd = {
    .name = "create", .summary = "create a project", .run = projects_create, .help = &create_help};
static const struct rig_cmd ls_cmd = {.name = "ls",
                                      .alias = "list",
                                      .summary = "list an org's projects",
                                      .run = projects_ls,
                                      .help = &ls_help};

static const struct rig_cmd *const projects_subs[] = {&create_cmd, &ls_cmd, NULL};

static const struct rig_help projects_help = {
    .synopsis = "projects COMMAND [ARGS...]",
    .description = "Projects group rigs inside an org; a key may be bound to one project. "
                   "Every org starts with a project `default`.",
    .examples = "  rig projects create web\n"
                "  rig projects ls",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_projects = {
    .name = "projects",
    .summary = "create and list projects",
    .subs = projects_subs,
    .help = &projects_help,
};
