/* rig apps add|ls|set|rm and rig preview: a rig's apps (a port served at its own URL by rigd's
 * app router) and their preview links. */
#include "rig/api.h"
#include "rig/cli.h"
#include "rig/cmd_rigs.h"
#include "rig/output.h"

#include <curl/curl.h>

#define SCOPE_CT        "rigs:instances:control"
#define PREVIEW_MAX_S   (30 * 24 * 3600)
#define APP_PORT_MAX    65535
#define APPS_LIST_LIMIT 500

/* "/api/rigs/REF/apps[/NAME][suffix]" with both escaped; caller frees. */
static char *apps_path(const char *ref, const char *name, const char *suffix)
{
        if (!name)
                return rig_path(ref, "/apps");
        char *esc = curl_easy_escape(NULL, name, 0);
        if (!esc)
                abort();
        char *tail = xasprintf("/apps/%s%s", esc, suffix ? suffix : "");
        curl_free(esc);
        char *p = rig_path(ref, tail);
        free(tail);
        return p;
}

/* A JSON call about rig ref (about_app: a 404 may be the app, once the rig is known to exist).
 * *out gets the answer object (NULL when empty). Returns an exit code. */
static int app_call(struct rig_ctx *ctx, const char *method, const char *path, json_t *body,
                    const char *ref, bool about_app, json_t **out)
{
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        int r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        struct rig_req x = {
            .method = method,
            .path = path,
            .body = text,
            .timeout_s = 60,
            .ref = ref,
            .scope = streq(method, "GET") ? "rigs:instances:read" : SCOPE_CT,
            .about = about_app ? ABOUT_FILE : ABOUT_RIG,
        };
        *out = NULL;
        r = rig_req_run(&cn, &x);
        if (r == RIG_EXIT_OK && x.answer.len) {
                *out = json_loadb(x.answer.data, x.answer.len, 0, NULL);
                if (!json_is_object(*out)) {
                        json_decref(*out);
                        *out = NULL;
                        cli_error("the answer to %s %s is not a JSON object: is RIGS_URL pointing "
                                  "at rigd?",
                                  method, path);
                        r = RIG_EXIT_TRANSPORT;
                }
        }
        rig_req_free(&x);
        return r;
}

/* Options shared by add and set. */
struct app_opts {
        long port; /* 0: not given */
        const char *visibility;
        json_t *allow; /* array, or NULL when no --allow */
        bool json;
};

static int parse_app_opts(struct rig_ctx *ctx, int argc, char **argv, struct app_opts *o)
{
        static const struct option opts[] = {
            {"port", required_argument, NULL, 'p'},
            {"visibility", required_argument, NULL, 'v'},
            {"allow", required_argument, NULL, 'a'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hjp:v:a:", opts, &ex)) != -1) {
                if (c == 'j') {
                        o->json = true;
                } else if (c == 'p') {
                        if (parse_count(optarg, APP_PORT_MAX, &o->port) < 0 || o->port < 1)
                                return cli_usage(ctx, "invalid --port '%s': use 1 to 65535",
                                                 optarg);
                } else if (c == 'v') {
                        if (!streq(optarg, "private") && !streq(optarg, "public") &&
                            !streq(optarg, "privileged"))
                                return cli_usage(ctx,
                                                 "invalid --visibility '%s': use private, public "
                                                 "or privileged",
                                                 optarg);
                        o->visibility = optarg;
                } else if (c == 'a') {
                        if (!o->allow)
                                o->allow = json_array();
                        json_array_append_new(o->allow, json_string(optarg));
                }
        }
        return ex;
}

static json_t *app_body(const struct app_opts *o)
{
        json_t *b = json_object();
        if (o->port)
                json_object_set_new(b, "port", json_integer(o->port));
        if (o->visibility)
                json_object_set_new(b, "visibility", json_string(o->visibility));
        if (o->allow)
                json_object_set(b, "allowed_emails", o->allow);
        return b;
}

static void print_app(json_t *app)
{
        static const char *const labels[] = {"name", "url", "port", "visibility", "allowed", "rig"};
        static const char *const keys[] = {"name",           "url", "port", "visibility",
                                           "allowed_emails", "rig"};
        print_fields(stdout, app, labels, keys, ARRAY_SIZE(keys));
}

static int apps_add(struct rig_ctx *ctx, int argc, char **argv)
{
        struct app_opts o = {0};
        int r = parse_app_opts(ctx, argc, argv, &o);
        _cleanup_json_ json_t *allow = o.allow; /* freed on every return */
        (void)allow;
        if (r >= 0)
                return r;
        if ((r = cli_operands(ctx, argc, argv, "RIG NAME")) >= 0)
                return r;
        if (!o.port)
                return cli_usage(ctx, "--port is required");
        const char *ref = argv[optind], *name = argv[optind + 1];
        _cleanup_json_ json_t *body = app_body(&o);
        json_object_set_new(body, "name", json_string(name));
        _cleanup_free_ char *path = apps_path(ref, NULL, NULL);
        _cleanup_json_ json_t *app = NULL;
        r = app_call(ctx, "POST", path, body, ref, false, &app);
        if (r != RIG_EXIT_OK)
                return r;
        if (o.json)
                return print_json(stdout, app) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
        printf("Created app %s: %s\n", json_str(app, "name") ?: name, json_str(app, "url") ?: "?");
        return RIG_EXIT_OK;
}

static int apps_set(struct rig_ctx *ctx, int argc, char **argv)
{
        struct app_opts o = {0};
        int r = parse_app_opts(ctx, argc, argv, &o);
        _cleanup_json_ json_t *allow = o.allow; /* freed on every return */
        (void)allow;
        if (r >= 0)
                return r;
        if ((r = cli_operands(ctx, argc, argv, "RIG NAME")) >= 0)
                return r;
        if (!o.port && !o.visibility && !o.allow)
                return cli_usage(ctx, "nothing to change: give --port, --visibility or --allow");
        const char *ref = argv[optind], *name = argv[optind + 1];
        _cleanup_json_ json_t *body = app_body(&o);
        _cleanup_free_ char *path = apps_path(ref, name, NULL);
        _cleanup_json_ json_t *app = NULL;
        r = app_call(ctx, "PATCH", path, body, ref, true, &app);
        if (r != RIG_EXIT_OK)
                return r;
        if (o.json)
                return print_json(stdout, app) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
        print_app(app);
        return RIG_EXIT_OK;
}

static int apps_rm(struct rig_ctx *ctx, int argc, char **argv)
{
        int r = cli_simple(ctx, argc, argv, "RIG NAME", NULL);
        if (r >= 0)
                return r;
        const char *ref = argv[optind], *name = argv[optind + 1];
        _cleanup_free_ char *path = apps_path(ref, name, NULL);
        _cleanup_json_ json_t *answer = NULL;
        r = app_call(ctx, "DELETE", path, NULL, ref, true, &answer);
        if (r == RIG_EXIT_OK)
                printf("Deleted app %s.\n", name);
        return r;
}

static int apps_ls(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "RIG", &json);
        if (r >= 0)
                return r;
        _cleanup_free_ char *path = apps_path(argv[optind], NULL, NULL);
        _cleanup_json_ json_t *items = NULL;
        r = api_list(ctx, path, "rigs:instances:read", APPS_LIST_LIMIT, true, &items, NULL);
        if (r != RIG_EXIT_OK)
                return r;
        static const char *const headers[] = {"NAME", "PORT", "VISIBILITY", "URL", "ALLOWED"};
        static const char *const fields[] = {"name", "port", "visibility", "url", "allowed_emails"};
        return print_listing(items, json, headers, fields, ARRAY_SIZE(fields));
}

static int cmd_preview(struct rig_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
            {"expires", required_argument, NULL, 'e'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        bool json = false;
        int64_t secs = 3600;
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hje:", opts, &ex)) != -1) {
                if (c == 'j')
                        json = true;
                else if (c == 'e' && (parse_duration(optarg, &secs) < 0 || secs > PREVIEW_MAX_S))
                        return cli_usage(ctx,
                                         "invalid --expires '%s': use a duration up to 30 days, "
                                         "e.g. 90s, 30m, 1h or 2d",
                                         optarg);
        }
        if (ex >= 0)
                return ex;
        int r = cli_operands(ctx, argc, argv, "RIG APP");
        if (r >= 0)
                return r;
        const char *ref = argv[optind], *name = argv[optind + 1];
        _cleanup_free_ char *path = apps_path(ref, name, "/previews");
        _cleanup_json_ json_t *body = json_pack("{s:I}", "expires_in_s", (json_int_t)secs);
        _cleanup_json_ json_t *answer = NULL;
        r = app_call(ctx, "POST", path, body, ref, true, &answer);
        if (r != RIG_EXIT_OK)
                return r;
        const char *url = json_str(answer, "url");
        if (!url) {
                cli_error("unexpected answer to POST %s: no url", path);
                return RIG_EXIT_TRANSPORT;
        }
        if (json)
                return print_json(stdout, answer) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
        printf("%s\n", url);
        fprintf(stderr,
                "preview of %s, valid until %s; revoke it with DELETE /api/previews/TOKEN\n", name,
                json_str(answer, "expires_at") ?: "?");
        return RIG_EXIT_OK;
}

/* ---- manual pages ---- */

static const struct rig_help_opt add_opts[] = {
    {"--port N", "The port in the rig to serve, 1 to 65535. Required."},
    {"--visibility V", "private (the rig's owner; the default), public (anyone), or privileged "
                       "(the owner and the logged-in users given with --allow)."},
    {"--allow EMAIL", "An email address allowed to open a privileged app; repeat it for more "
                      "(at most 64)."},
    {"--json", "Print the server's answer as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help add_help = {
    .synopsis = "apps add RIG NAME --port N [--visibility V] [--allow EMAIL]... [--json]",
    .description = "Publishes a port of a rig as an app (POST /api/rigs/RIG/apps) and prints its "
                   "URL: http(s)://NAME.DOMAIN as rigd's app router serves it. NAME is 1 to 63 "
                   "characters of a-z, 0-9 and '-', not starting or ending with '-', and unique "
                   "in the whole deployment. Needs rigs:instances:control.",
    .options = add_opts,
    .examples = "  rig apps add web shop --port 8080\n"
                "  rig apps add web docs --port 3000 --visibility public\n"
                "  rig apps add web admin --port 9000 --visibility privileged \\\n"
                "      --allow ann@example.com --allow bo@example.com",
    .talks_to_server = true,
};

static const struct rig_help_opt set_opts[] = {
    {"--port N", "A new port, 1 to 65535."},
    {"--visibility V", "private, public or privileged."},
    {"--allow EMAIL", "Replaces the allowed emails with those given (repeat it for more)."},
    {"--json", "Print the server's answer as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help set_help = {
    .synopsis = "apps set RIG NAME [--port N] [--visibility V] [--allow EMAIL]... [--json]",
    .description = "Changes an app (PATCH /api/rigs/RIG/apps/NAME): what is not given stays. "
                   "The router applies the change to the next request. Needs "
                   "rigs:instances:control.",
    .options = set_opts,
    .examples = "  rig apps set web shop --visibility public\n"
                "  rig apps set web shop --visibility privileged --allow ann@example.com",
    .talks_to_server = true,
};

static const struct rig_help_opt only_json_opts[] = {
    {"--json", "Print the server's items as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help ls_help = {
    .synopsis = "apps ls RIG [--json]",
    .description = "Lists a rig's apps (GET /api/rigs/RIG/apps), oldest first. Needs "
                   "rigs:instances:read.",
    .options = only_json_opts,
    .examples = "  rig apps ls web\n"
                "  rig apps ls web --json",
    .talks_to_server = true,
};

static const struct rig_help_opt help_only_opts[] = {
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help rm_help = {
    .synopsis = "apps rm RIG NAME",
    .description = "Deletes an app and its preview links (DELETE /api/rigs/RIG/apps/NAME); its "
                   "name is free again. Deleting a rig deletes its apps too. Needs "
                   "rigs:instances:control.",
    .options = help_only_opts,
    .examples = "  rig apps rm web shop",
    .talks_to_server = true,
};

static const struct rig_cmd add_cmd = {
    .name = "add", .summary = "publish a port of a rig", .run = apps_add, .help = &add_help};
static const struct rig_cmd ls_cmd = {.name = "ls",
                                      .alias = "list",
                                      .summary = "list a rig's apps",
                                      .run = apps_ls,
                                      .help = &ls_help};
static const struct rig_cmd set_cmd = {
    .name = "set", .summary = "change an app", .run = apps_set, .help = &set_help};
static const struct rig_cmd rm_cmd = {
    .name = "rm", .summary = "delete an app", .run = apps_rm, .help = &rm_help};

static const struct rig_cmd *const apps_subs[] = {&add_cmd, &ls_cmd, &set_cmd, &rm_cmd, NULL};

static const struct rig_help apps_help = {
    .synopsis = "apps COMMAND [ARGS...]",
    .description = "An app serves a port of a rig at its own URL, NAME.DOMAIN, through rigd's "
                   "app router, which checks who may open it first: the rig's owner (private), "
                   "anyone (public), or the owner and listed users (privileged). `rig preview` "
                   "makes a link that opens an app for whoever holds it.",
    .examples = "  rig apps add web shop --port 8080\n"
                "  rig apps ls web\n"
                "  rig apps set web shop --visibility public\n"
                "  rig apps rm web shop",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_apps = {
    .name = "apps",
    .summary = "publish a rig's ports as apps",
    .subs = apps_subs,
    .help = &apps_help,
};

static const struct rig_help_opt preview_opts[] = {
    {"--expires DURATION", "Lifetime: 90s, 30m, 1h (the default), 2d, ... up to 30 days."},
    {"--json", "Print the whole answer (token, url, expires_at) as JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help preview_help = {
    .synopsis = "preview RIG APP [--expires DURATION] [--json]",
    .description = "Makes a preview link of an app (POST /api/rigs/RIG/apps/APP/previews) and "
                   "prints its URL alone on standard output: anyone who opens it can use the app "
                   "until it expires or is revoked (DELETE /api/previews/TOKEN). rigd keeps only "
                   "a hash of the token. Needs rigs:instances:control.",
    .options = preview_opts,
    .examples = "  rig preview web shop\n"
                "  rig preview web shop --expires 2d\n"
                "  rig preview web shop --json",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_preview = {
    .name = "preview",
    .summary = "make a preview link of an app",
    .run = cmd_preview,
    .help = &preview_help,
};
