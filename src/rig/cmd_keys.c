/* rig keys: create, list, revoke and rotate API keys (POST/GET/DELETE /api/keys). */
#include "rig/api.h"
#include "rig/cli.h"
#include "rig/config.h"
#include "rig/http.h"
#include "rig/output.h"

#include "base/buf.h"

/* The scopes a new key gets when no --scope is given: the rig scopes the creator holds. */
static const char *const default_scopes[] = {
    "rigs:instances:read",
    "rigs:instances:create",
    "rigs:instances:control",
    "rigs:agent:invoke",
};

static bool json_array_has(json_t *arr, const char *s)
{
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
                if (streq_ptr(json_string_value(v), s))
                        return true;
        }
        return false;
}

/* Fills scopes from the caller's own (GET /api/me): all of them, or the default rig scopes. */
static int scopes_from_me(struct rig_ctx *ctx, bool all, json_t *scopes)
{
        _cleanup_json_ json_t *me = NULL;
        int r = api_get(ctx, "/api/me", NULL, &me);
        if (r != RIG_EXIT_OK)
                return r;
        json_t *held = json_object_get(me, "scopes");
        if (!json_is_array(held))
                held = json_array();
        else
                json_incref(held);
        size_t i;
        json_t *v;
        json_array_foreach(held, i, v)
        {
                const char *s = json_string_value(v);
                bool is_default = false;
                for (size_t k = 0; k < ARRAY_SIZE(default_scopes); k++)
                        is_default |= streq_ptr(s, default_scopes[k]);
                if (s && (all || is_default) && !json_array_has(scopes, s))
                        json_array_append_new(scopes, json_string(s));
        }
        json_decref(held);
        return RIG_EXIT_OK;
}

/* Prints "<verb> key ID<note>." and the key's fields, the secret included. */
static void print_new_key(json_t *key, const char *verb, const char *note)
{
        printf("%s key %s%s.\n", verb, json_str(key, "id") ? json_str(key, "id") : "?", note);
        static const char *const labels[] = {"id",      "name",    "scopes", "org",
                                             "project", "expires", "key"};
        static const char *const keys[] = {"id",      "name",       "scopes", "org",
                                           "project", "expires_at", "key"};
        print_fields(stdout, key, labels, keys, ARRAY_SIZE(keys));
}

static void warn_shown_once(void)
{
        fflush(stdout);
        cli_error("warning: the key is shown only this once and cannot be retrieved later: "
                  "store it now");
}

struct create_opts {
        json_t *scopes;
        bool all_scopes, json;
        const char *project, *org;
        int64_t expires;
};

static int create_parse(struct rig_ctx *ctx, int argc, char **argv, struct create_opts *o)
{
        static const struct option opts[] = {
            {"scope", required_argument, NULL, 's'},
            {"project", required_argument, NULL, 'p'},
            {"expires", required_argument, NULL, 'e'},
            {"org", required_argument, NULL, 'o'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hjs:p:e:o:", opts, &ex)) != -1) {
                switch (c) {
                case 's':
                        if (streq(optarg, "all"))
                                o->all_scopes = true;
                        else if (!json_array_has(o->scopes, optarg))
                                json_array_append_new(o->scopes, json_string(optarg));
                        break;
                case 'p':
                        o->project = optarg;
                        break;
                case 'o':
                        o->org = optarg;
                        break;
                case 'e':
                        if (parse_duration(optarg, &o->expires) < 0)
                                return cli_usage(ctx,
                                                 "invalid --expires '%s': use a duration "
                                                 "like 900s, 12h or 30d",
                                                 optarg);
                        break;
                case 'j':
                        o->json = true;
                        break;
                }
        }
        if (ex >= 0)
                return ex;
        return cli_operands(ctx, argc, argv, "NAME");
}

static int keys_create(struct rig_ctx *ctx, int argc, char **argv)
{
        _cleanup_json_ json_t *scopes = json_array();
        struct create_opts o = {.scopes = scopes};
        int r = create_parse(ctx, argc, argv, &o);
        if (r >= 0)
                return r;
        if (o.all_scopes || json_array_size(scopes) == 0) {
                r = scopes_from_me(ctx, o.all_scopes, scopes);
                if (r != RIG_EXIT_OK)
                        return r;
        }
        _cleanup_json_ json_t *body =
            json_pack("{s:s, s:O}", "name", argv[optind], "scopes", scopes);
        if (o.project)
                json_object_set_new(body, "project", json_string(o.project));
        if (o.org)
                json_object_set_new(body, "org", json_string(o.org));
        if (o.expires)
                json_object_set_new(body, "expires_in_s", json_integer(o.expires));
        struct api_call call = {
            .method = "POST", .path = "/api/keys", .body = body, .scope = "rigs:keys:manage"};
        r = api_call(ctx, &call);
        _cleanup_json_ json_t *key = call.json;
        if (r != RIG_EXIT_OK)
                return r;
        if (o.json)
                print_json(stdout, key);
        else
                print_new_key(key, "Created", "");
        warn_shown_once();
        return RIG_EXIT_OK;
}

/* Scopes without their common "rigs:" prefix, to keep the table narrow. */
static char *short_scopes(json_t *scopes)
{
        _cleanup_buf_ struct buf b = {0};
        size_t i;
        json_t *v;
        json_array_foreach(scopes, i, v)
        {
                const char *s = json_string_value(v);
                if (!s)
                        continue;
                if (strncmp(s, "rigs:", 5) == 0 && s[5])
                        s += 5;
                buf_printf(&b, "%s%s", b.len ? "," : "", s);
        }
        return b.len ? buf_steal(&b) : xstrdup("-");
}

static int keys_ls(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "", &json);
        if (r >= 0)
                return r;
        _cleanup_json_ json_t *items = NULL;
        r = api_list(ctx, "/api/keys", NULL, 500, true, &items, NULL);
        if (r != RIG_EXIT_OK)
                return r;
        if (json)
                return print_listing(items, true, NULL, NULL, 0);
        static const char *const headers[] = {"ID",      "NAME",    "PREFIX",    "SCOPES",
                                              "PROJECT", "EXPIRES", "LAST USED", "CREATED BY"};
        static const char *const fields[] = {"id",      "name",       "prefix",       NULL,
                                             "project", "expires_at", "last_used_at", "created_by"};
        _cleanup_table_ struct table t;
        table_init(&t, ARRAY_SIZE(headers), headers);
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
                char *cells[ARRAY_SIZE(fields)];
                for (size_t k = 0; k < ARRAY_SIZE(fields); k++)
                        cells[k] = fields[k] ? json_display(json_object_get(item, fields[k]))
                                             : short_scopes(json_object_get(item, "scopes"));
                table_add_row(&t, cells);
        }
        table_print(&t, stdout);
        return RIG_EXIT_OK;
}

static int keys_rm(struct rig_ctx *ctx, int argc, char **argv)
{
        int r = cli_simple(ctx, argc, argv, "ID", NULL);
        if (r >= 0)
                return r;
        _cleanup_free_ char *id = http_escape(argv[optind]);
        _cleanup_free_ char *path = xasprintf("/api/keys/%s", id);
        struct api_call call = {.method = "DELETE", .path = path, .scope = "rigs:keys:manage"};
        r = api_call(ctx, &call);
        json_decref(call.json);
        if (r != RIG_EXIT_OK)
                return r;
        printf("Revoked key %s.\n", argv[optind]);
        if (ctx->cfg && streq_ptr(ctx->cfg->key_id, argv[optind]))
                cli_error("that was the key `rig login` saved: run `rig login` to get a new one");
        return RIG_EXIT_OK;
}

/* When the rotated key is the one `rig login` saved, the saved copy must follow. */
static void update_saved_key(struct rig_ctx *ctx, const char *id, const char *secret)
{
        struct rig_config *cfg = ctx->cfg;
        if (!cfg || !cfg->path || !streq_ptr(cfg->key_id, id) || !cfg->file_key)
                return;
        int r = config_save(cfg->path, cfg->file_url ? cfg->file_url : cfg->url, secret, id);
        if (r < 0)
                cli_error("warning: could not save the new key to %s: %s", cfg->path, strerror(-r));
        else
                cli_error("saved the new key to %s", cfg->path);
}

static int keys_rotate(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "ID", &json);
        if (r >= 0)
                return r;
        _cleanup_free_ char *id = http_escape(argv[optind]);
        _cleanup_free_ char *path = xasprintf("/api/keys/%s/rotate", id);
        struct api_call call = {.method = "POST", .path = path, .scope = "rigs:keys:manage"};
        r = api_call(ctx, &call);
        _cleanup_json_ json_t *key = call.json;
        if (r != RIG_EXIT_OK)
                return r;
        if (json)
                print_json(stdout, key);
        else
                print_new_key(key, "Rotated", ": the old secret no longer works");
        if (json_str(key, "key"))
                update_saved_key(ctx, argv[optind], json_str(key, "key"));
        warn_shown_once();
        return RIG_EXIT_OK;
}

static const struct rig_help_opt create_opts_help[] = {
    {"--scope SCOPE", "A scope the key carries; repeat for several. `--scope all` asks for "
                      "every scope you hold. Without --scope the key gets the rig scopes you "
                      "hold: rigs:instances:read, rigs:instances:create, "
                      "rigs:instances:control and rigs:agent:invoke. Others: rigs:keys:manage, "
                      "rigs:admin. A key never carries more than its creator holds."},
    {"--project PROJECT", "Bind the key to one project (name or id): it then acts only "
                          "there."},
    {"--expires DURATION", "Let the key expire after DURATION: a number with a unit s, m, "
                           "h, d or w (900s, 12h, 30d, 1h30m). Default: never."},
    {"--org ORG", "Create the key in another org you are a member of (name or id). "
                  "Default: the org the current credential acts in."},
    {"--json", "Print the server's answer as indented JSON (it includes the key)."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help create_help = {
    .synopsis = "keys create NAME [--scope SCOPE]... [--project PROJECT] [--expires DURATION] "
                "[--org ORG] [--json]",
    .description = "Creates an API key (POST /api/keys) and prints it. The key is shown only this "
                   "once: the server keeps only a hash of it. Needs a credential with "
                   "rigs:keys:manage.",
    .options = create_opts_help,
    .examples = "  rig keys create ci --scope rigs:instances:read --scope "
                "rigs:instances:create --expires 30d\n"
                "  rig keys create deploy --project web --json | jq -r .key",
    .talks_to_server = true,
};

static const struct rig_help_opt json_opts_help[] = {
    {"--json", "Print the server's answer as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help_opt help_only_opts[] = {
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help ls_help = {
    .synopsis = "keys ls [--json]",
    .description = "Lists API keys (GET /api/keys) without their secrets: your own keys in "
                   "the current org, or every key of the org for an admin whose credential "
                   "has rigs:keys:manage. PREFIX is the start of the key, to recognise it.",
    .options = json_opts_help,
    .examples = "  rig keys ls\n"
                "  rig keys ls --json | jq -r '.[].id'",
    .talks_to_server = true,
};

static const struct rig_help rm_help = {
    .synopsis = "keys rm ID",
    .description = "Revokes an API key (DELETE /api/keys/ID). It stops working on the next "
                   "request. You may revoke your own keys; an admin with rigs:keys:manage "
                   "may revoke any key of the org.",
    .options = help_only_opts,
    .examples = "  rig keys rm key_0123456789abcdef",
    .talks_to_server = true,
};

static const struct rig_help rotate_help = {
    .synopsis = "keys rotate ID [--json]",
    .description = "Replaces the secret of an API key (POST /api/keys/ID/rotate): the key keeps "
                   "its id, name and scopes, the old secret stops working at once, and the "
                   "new one is printed, only this once. When ID is the key `rig login` saved, "
                   "the saved copy is updated too.",
    .options = json_opts_help,
    .examples = "  rig keys rotate key_0123456789abcdef",
    .talks_to_server = true,
};

static const struct rig_cmd keys_create_cmd = {
    .name = "create",
    .summary = "create an API key and print it once",
    .run = keys_create,
    .help = &create_help,
};
static const struct rig_cmd keys_ls_cmd = {
    .name = "ls",
    .alias = "list",
    .summary = "list API keys",
    .run = keys_ls,
    .help = &ls_help,
};
static const struct rig_cmd keys_rm_cmd = {
    .name = "rm",
    .alias = "revoke",
    .summary = "revoke an API key",
    .run = keys_rm,
    .help = &rm_help,
};
static const struct rig_cmd keys_rotate_cmd = {
    .name = "rotate",
    .summary = "replace a key's secret, killing the old one",
    .run = keys_rotate,
    .help = &rotate_help,
};

static const struct rig_cmd *const keys_subs[] = {
    &keys_create_cmd, &keys_ls_cmd, &keys_rm_cmd, &keys_rotate_cmd, NULL,
};

static const struct rig_help keys_help = {
    .synopsis = "keys COMMAND [ARGS...]",
    .description = "API keys are how rig, scripts and programs authenticate: `rb_` followed "
                   "by 32 characters, sent as `Authorization: Bearer KEY`. Each key is bound "
                   "to one org (and optionally one project) and carries a set of scopes, "
                   "never more than its creator holds.",
    .examples = "  rig keys create ci --scope rigs:instances:read\n"
                "  rig keys ls\n"
                "  rig keys rotate key_0123456789abcdef\n"
                "  rig keys rm key_0123456789abcdef",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_keys = {
    .name = "keys",
    .summary = "create, list, revoke and rotate API keys",
    .subs = keys_subs,
    .help = &keys_help,
};
