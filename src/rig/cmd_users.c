/* rig users: create and list the users of the current org. */
#include "rig/api.h"
#include "rig/cli.h"
#include "rig/config.h"
#include "rig/output.h"
#include "rig/prompt.h"

struct user_opts {
        const char *role, *name;
        bool password_stdin, json;
};

static int users_parse(struct rig_ctx *ctx, int argc, char **argv, struct user_opts *o)
{
        static const struct option opts[] = {
            {"role", required_argument, NULL, 'r'},
            {"name", required_argument, NULL, 'n'},
            {"password-stdin", no_argument, NULL, 'p'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hr:n:pj", opts, &ex)) != -1) {
                switch (c) {
                case 'r':
                        o->role = optarg;
                        break;
                case 'n':
                        o->name = optarg;
                        break;
                case 'p':
                        o->password_stdin = true;
                        break;
                case 'j':
                        o->json = true;
                        break;
                }
        }
        if (ex >= 0)
                return ex;
        if ((ex = cli_operands(ctx, argc, argv, "EMAIL")) >= 0)
                return ex;
        if (!o->role)
                return cli_usage(ctx, "missing --role admin|member");
        if (!streq(o->role, "admin") && !streq(o->role, "member"))
                return cli_usage(ctx, "invalid role '%s': use admin or member", o->role);
        return -1;
}

/* Asks twice on a terminal so that a typo does not lock the user out. */
static int read_new_password(struct rig_ctx *ctx, bool from_stdin, char **out)
{
        char *first = NULL, *again = NULL;
        int r = prompt_line("Password for the new user: ", false, from_stdin, &first);
        if (r == -ENOTTY)
                return cli_usage(ctx, "standard input is not a terminal: pipe the password in "
                                      "with --password-stdin");
        if (r < 0)
                return cli_usage(ctx, "no password given");
        if (isatty(STDIN_FILENO)) {
                r = prompt_line("Repeat the password: ", false, false, &again);
                bool same = r == 0 && streq(first, again);
                secret_free(again);
                if (!same) {
                        secret_free(first);
                        return cli_usage(ctx, "the passwords differ");
                }
        }
        *out = first;
        return -1;
}

static int users_create(struct rig_ctx *ctx, int argc, char **argv)
{
        struct user_opts o = {0};
        int r = users_parse(ctx, argc, argv, &o);
        if (r >= 0)
                return r;
        /* Fail on a missing key before asking for a password. */
        r = api_open(ctx);
        if (r != RIG_EXIT_OK)
                return r;
        char *password = NULL;
        r = read_new_password(ctx, o.password_stdin, &password);
        if (r >= 0)
                return r;
        _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "email", argv[optind],
                                                "password", password, "role", o.role);
        secret_free(password);
        if (o.name)
                json_object_set_new(body, "name", json_string(o.name));
        struct api_call call = {
            .method = "POST", .path = "/api/users", .body = body, .scope = "rigs:admin"};
        r = api_call(ctx, &call);
        _cleanup_json_ json_t *user = call.json;
        json_t *pw = json_object_get(body, "password");
        explicit_bzero((char *)json_string_value(pw), json_string_length(pw));
        if (r != RIG_EXIT_OK)
                return r;
        if (o.json)
                return print_json(stdout, user) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
        printf("Created user %s (%s) as %s of the current org.\n",
               json_str(user, "email") ? json_str(user, "email") : argv[optind],
               json_str(user, "id") ? json_str(user, "id") : "?", o.role);
        return RIG_EXIT_OK;
}

static int users_ls(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "", &json);
        if (r >= 0)
                return r;
        _cleanup_json_ json_t *items = NULL;
        r = api_list(ctx, "/api/users", "rigs:admin", 500, true, &items, NULL);
        if (r != RIG_EXIT_OK)
                return r;
        static const char *const headers[] = {"ID", "EMAIL", "NAME", "ROLE", "CREATED"};
        static const char *const fields[] = {"id", "email", "name", "role", "created_at"};
        return print_listing(items, json, headers, fields, ARRAY_SIZE(fields));
}

static const struct rig_help_opt create_opts[] = {
    {"--role admin|member", "The user's role in the current org (required)."},
    {"--name NAME", "A display name. Default: chosen by the server."},
    {"--password-stdin", "Read the new user's password as one line from standard input. "
                         "Without it, rig asks twice on the terminal, without echo."},
    {"--json", "Print the server's answer as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help create_help = {
    .synopsis = "users create EMAIL --role admin|member [--name NAME] [--password-stdin] "
                "[--json]",
    .description = "Creates a user with a password and makes them an admin or member of "
                   "the org the current credential acts in (POST /api/users). Needs "
                   "rigs:admin. Passwords have at least 8 characters; emails are unique.",
    .options = create_opts,
    .examples = "  rig users create bob@example.com --role member\n"
                "  printf '%s\\n' \"$PW\" | rig users create ci@example.com --role member "
                "--password-stdin",
    .talks_to_server = true,
};

static const struct rig_help_opt ls_opts[] = {
    {"--json", "Print the server's items as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help ls_help = {
    .synopsis = "users ls [--json]",
    .description = "Lists the users of the current org with their roles (GET /api/users). "
                   "Needs rigs:admin.",
    .options = ls_opts,
    .examples = "  rig users ls",
    .talks_to_server = true,
};

static const struct rig_cmd create_cmd = {.name = "create",
                                          .summary = "create a user in the current org",
                                          .run = users_create,
                                          .help = &create_help};
static const struct rig_cmd ls_cmd = {.name = "ls",
                                      .alias = "list",
                                      .summary = "list the users of the current org",
                                      .run = users_ls,
                                      .help = &ls_help};

static const struct rig_cmd *const users_subs[] = {&create_cmd, &ls_cmd, NULL};

static const struct rig_help users_help = {
    .synopsis = "users COMMAND [ARGS...]",
    .description = "Users log in with an email and password and act through sessions or "
                   "API keys. These commands manage the users of the current org and need "
                   "rigs:admin.",
    .examples = "  rig users create bob@example.com --role member\n"
                "  rig users ls",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_users = {
    .name = "users",
    .summary = "create and list users",
    .subs = users_subs,
    .help = &users_help,
};
