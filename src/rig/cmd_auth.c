/* rig login, rig logout, rig me: getting a key, dropping it, and seeing who it is. */
#include "rig/api.h"
#include "rig/cli.h"
#include "rig/config.h"
#include "rig/http.h"
#include "rig/output.h"
#include "rig/prompt.h"

struct login_opts {
        const char *url;
        const char *key;
        const char *email;
        const char *org;
        const char *key_name;
        bool password_stdin;
};

static void secret_freep(char **p)
{
        secret_free(*p);
}
#define _cleanup_secret_ _cleanup_(secret_freep)

/* Saves the new credential, first revoking the key an earlier `rig login` created for the same
 * server so that logging in again does not pile up keys. */
static int save_login(struct rig_ctx *ctx, const char *url, const char *key, const char *key_id)
{
        struct rig_config *cfg = ctx->cfg;
        if (!cfg->path) {
                cli_error("cannot tell where to save the key: set HOME or XDG_CONFIG_HOME");
                return RIG_EXIT_USAGE;
        }
        if (cfg->key_id && cfg->file_key && url_same(cfg->file_url, url) &&
            !streq(cfg->file_key, key)) {
                _cleanup_free_ char *id = http_escape(cfg->key_id);
                _cleanup_free_ char *path = xasprintf("/api/keys/%s", id);
                struct api_call old = {.method = "DELETE", .path = path, .quiet = true};
                if (api_open_url(ctx, url, cfg->file_key) == RIG_EXIT_OK)
                        api_call(ctx, &old);
                json_decref(old.json);
        }
        int r = config_save(cfg->path, url, key, key_id);
        if (r < 0) {
                cli_error("cannot save the key to %s: %s", cfg->path, strerror(-r));
                return RIG_EXIT_USAGE;
        }
        return RIG_EXIT_OK;
}

static void print_logged_in(struct rig_ctx *ctx, json_t *me, const char *url)
{
        json_t *p = json_object_get(me, "principal");
        const char *who = json_str(p, "email") ? json_str(p, "email") : json_str(p, "name");
        const char *org = json_string_value(json_path(me, "org.name"));
        printf("Logged in to %s as %s in org %s.\n", url, who ? who : "?", org ? org : "?");
        printf("Saved the key to %s (mode 0600).\n", ctx->cfg->path);
}

static int login_with_key(struct rig_ctx *ctx, const char *url, const char *key)
{
        int r = api_open_url(ctx, url, key);
        if (r != RIG_EXIT_OK)
                return r;
        struct api_call me = {.method = "GET", .path = "/api/me", .on_401 = "the key was refused"};
        r = api_call(ctx, &me);
        _cleanup_json_ json_t *json = me.json;
        if (r != RIG_EXIT_OK)
                return r;
        r = save_login(ctx, url, key, NULL);
        if (r == RIG_EXIT_OK)
                print_logged_in(ctx, json, url);
        return r;
}

static json_t *key_request(const struct login_opts *o, json_t *me)
{
        char host[256] = "localhost";
        if (gethostname(host, sizeof(host)) < 0 || !host[0])
                snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        json_t *scopes = json_object_get(me, "scopes");
        _cleanup_free_ char *name =
            o->key_name ? xstrdup(o->key_name) : xasprintf("rig-cli@%s", host);
        return json_pack("{s:s, s:O}", "name", name, "scopes",
                         json_is_array(scopes) ? scopes : json_array());
}

/* Session login, then a key made with the session cookie (Origin-checked like a browser). */
static int login_with_password(struct rig_ctx *ctx, const struct login_opts *o, const char *url,
                               const char *password)
{
        int r = api_open_url(ctx, url, NULL);
        if (r != RIG_EXIT_OK)
                return r;
        http_client_use_session(ctx->http);
        _cleanup_json_ json_t *body =
            json_pack("{s:s, s:s}", "email", o->email, "password", password);
        if (o->org)
                json_object_set_new(body, "org", json_string(o->org));
        struct api_call login = {.method = "POST",
                                 .path = "/api/auth/login",
                                 .body = body,
                                 .on_401 = "login failed (wrong email or password?)"};
        r = api_call(ctx, &login);
        _cleanup_json_ json_t *me = login.json;
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_json_ json_t *kreq = key_request(o, me);
        struct api_call mk = {
            .method = "POST", .path = "/api/keys", .body = kreq, .scope = "rigs:keys:manage"};
        r = api_call(ctx, &mk);
        _cleanup_json_ json_t *key = mk.json;
        /* The session was only the way to the key: end it whatever happened. */
        struct api_call out = {.method = "POST", .path = "/api/auth/logout", .quiet = true};
        api_call(ctx, &out);
        json_decref(out.json);
        if (r != RIG_EXIT_OK)
                return r;
        const char *secret = json_str(key, "key"), *id = json_str(key, "id");
        if (!secret || !id) {
                cli_error("the server created a key but did not return it");
                return RIG_EXIT_TRANSPORT;
        }
        r = save_login(ctx, url, secret, id);
        if (r == RIG_EXIT_OK) {
                print_logged_in(ctx, me, url);
                printf("Created API key %s (%s) for this CLI; `rig logout` revokes it.\n",
                       json_str(key, "name") ? json_str(key, "name") : "?", id);
        }
        return r;
}

static int login_password_flow(struct rig_ctx *ctx, struct login_opts *o, const char *url)
{
        _cleanup_secret_ char *email = NULL, *password = NULL;
        if (!o->email) {
                int r = prompt_line("Email: ", true, false, &email);
                if (r == -ENOTTY)
                        return cli_usage(ctx, "give --key KEY or --email EMAIL");
                if (r < 0)
                        return cli_usage(ctx, "no email given");
                o->email = email;
        }
        int r = prompt_line("Password: ", false, o->password_stdin, &password);
        if (r == -ENOTTY)
                return cli_usage(ctx, "standard input is not a terminal: pipe the password in "
                                      "with --password-stdin");
        if (r < 0)
                return cli_usage(ctx, "no password given");
        return login_with_password(ctx, o, url, password);
}

static int cmd_login(struct rig_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
            {"url", required_argument, NULL, 'u'},
            {"key", required_argument, NULL, 'k'},
            {"email", required_argument, NULL, 'e'},
            {"password-stdin", no_argument, NULL, 'p'},
            {"org", required_argument, NULL, 'o'},
            {"key-name", required_argument, NULL, 'n'},
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        struct login_opts o = {0};
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hu:k:e:po:n:", opts, &ex)) != -1) {
                switch (c) {
                case 'u':
                        o.url = optarg;
                        break;
                case 'k':
                        o.key = optarg;
                        break;
                case 'e':
                        o.email = optarg;
                        break;
                case 'p':
                        o.password_stdin = true;
                        break;
                case 'o':
                        o.org = optarg;
                        break;
                case 'n':
                        o.key_name = optarg;
                        break;
                }
        }
        if (ex >= 0)
                return ex;
        if ((ex = cli_operands(ctx, argc, argv, "")) >= 0)
                return ex;
        if (o.key && (o.email || o.password_stdin || o.org || o.key_name))
                return cli_usage(ctx, "--key cannot be combined with --email, --password-stdin, "
                                      "--org or --key-name");
        int r = api_load_config(ctx);
        if (r != RIG_EXIT_OK)
                return r;
        /* Saved without trailing slashes, so that it compares equal to $RIGS_URL later. */
        _cleanup_free_ char *url = xstrdup(o.url ? o.url : ctx->cfg->url);
        for (size_t n = strlen(url); n > 0 && url[n - 1] == '/'; n--)
                url[n - 1] = '\0';
        if (o.key && streq(o.key, "-")) {
                _cleanup_secret_ char *key = NULL;
                if (prompt_line("API key: ", false, true, &key) < 0)
                        return cli_usage(ctx, "no key on standard input");
                return login_with_key(ctx, url, key);
        }
        if (o.key)
                return login_with_key(ctx, url, o.key);
        return login_password_flow(ctx, &o, url);
}

/* Revokes the key `rig login` created; the local logout goes on whatever happens here. */
static void revoke_saved_key(struct rig_ctx *ctx)
{
        struct rig_config *cfg = ctx->cfg;
        _cleanup_free_ char *id = http_escape(cfg->key_id);
        _cleanup_free_ char *path = xasprintf("/api/keys/%s", id);
        const char *url = cfg->file_url ? cfg->file_url : cfg->url;
        struct api_call del = {.method = "DELETE", .path = path, .quiet = true};
        int r = api_open_url(ctx, url, cfg->file_key);
        if (r == RIG_EXIT_OK)
                r = api_call(ctx, &del);
        json_decref(del.json);
        if (r == RIG_EXIT_OK)
                printf("Revoked key %s on %s.\n", cfg->key_id, url);
        else if (del.status == 401 || del.status == 404)
                printf("Key %s was already revoked or expired.\n", cfg->key_id);
        else
                cli_error("warning: could not revoke key %s on %s (%s); revoke it later with "
                          "`rig keys rm %s`",
                          cfg->key_id, url,
                          del.status ? "the server refused" : "cannot reach the server",
                          cfg->key_id);
}

static int cmd_logout(struct rig_ctx *ctx, int argc, char **argv)
{
        int r = cli_simple(ctx, argc, argv, "", NULL);
        if (r >= 0)
                return r;
        r = api_load_config(ctx);
        if (r != RIG_EXIT_OK)
                return r;
        struct rig_config *cfg = ctx->cfg;
        if (!cfg->file_key) {
                printf("Not logged in: no key saved in %s.\n",
                       cfg->path ? cfg->path : "a config file");
                return RIG_EXIT_OK;
        }
        if (cfg->key_id)
                revoke_saved_key(ctx);
        int e = config_save(cfg->path, cfg->file_url ? cfg->file_url : cfg->url, NULL, NULL);
        if (e < 0) {
                cli_error("cannot update %s: %s", cfg->path, strerror(-e));
                return RIG_EXIT_USAGE;
        }
        printf("Removed the key from %s.\n", cfg->path);
        if (!cfg->key_id)
                printf("The key itself stays valid: revoke it with `rig keys rm ID` if it is no "
                       "longer needed.\n");
        return RIG_EXIT_OK;
}

static int cmd_me(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "", &json);
        if (r >= 0)
                return r;
        _cleanup_json_ json_t *me = NULL;
        r = api_get(ctx, "/api/me", NULL, &me);
        if (r != RIG_EXIT_OK)
                return r;
        if (json)
                return print_json(stdout, me) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
        static const char *const labels[] = {"principal", "kind",    "email",      "name",  "org",
                                             "org id",    "project", "project id", "scopes"};
        static const char *const keys[] = {"principal.id",   "principal.kind", "principal.email",
                                           "principal.name", "org.name",       "org.id",
                                           "project.name",   "project.id",     "scopes"};
        print_fields(stdout, me, labels, keys, ARRAY_SIZE(keys));
        printf("server:%*s%s (%s)\n", 6, "", http_client_url(ctx->http), ctx->cfg->url_from);
        return RIG_EXIT_OK;
}

static const struct rig_help_opt login_opts_help[] = {
    {"--url URL", "The rigd API to log in to. Default: $RIGS_URL, else the URL saved by the "
                  "last login, else http://127.0.0.1:7070."},
    {"--key KEY", "Log in with an existing API key: rig checks it with GET /api/me and saves "
                  "it. `--key -` reads the key from standard input, which keeps it out of "
                  "the process list and shell history."},
    {"--email EMAIL", "Log in as this user with a password. Without --key and --email, rig "
                      "asks for the email when standard input is a terminal."},
    {"--password-stdin", "Read the password as one line from standard input instead of "
                         "asking on the terminal (for scripts)."},
    {"--org ORG", "With --email: the org (name or id) to act in; the created key is bound "
                  "to it. Default: the user's first org."},
    {"--key-name NAME", "With --email: the name of the created key. Default: "
                        "rig-cli@HOSTNAME."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help login_help = {
    .synopsis = "login [--url URL] --key KEY\n"
                "login [--url URL] [--email EMAIL [--password-stdin]] [--org ORG] "
                "[--key-name NAME]",
    .description = "Saves a server URL and an API key in the config file "
                   "($XDG_CONFIG_HOME/rigs/config.json or ~/.config/rigs/config.json, mode 0600, "
                   "directory 0700) for later commands.\n\n"
                   "With --key, the key is checked against the server and saved as is.\n\n"
                   "With an email, rig logs in with the password (asked without echo on the "
                   "terminal, or read from standard input with --password-stdin), creates an API "
                   "key named rig-cli@HOSTNAME that carries every scope the session has, saves "
                   "it, and ends the session. The key is bound to the org the session acts in. "
                   "Logging in again to the same server revokes the key the previous login "
                   "created.\n\n"
                   "$RIGS_URL and $RIGS_API_KEY, when set, win over the saved values.",
    .options = login_opts_help,
    .examples = "  rig login --email admin@localhost\n"
                "  printf '%s\\n' \"$PASSWORD\" | rig login --url http://rigs.example:7070 "
                "--email me@example.com --password-stdin\n"
                "  rig login --key - < admin.key",
    .talks_to_server = true,
};

static const struct rig_help_opt logout_opts_help[] = {
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help logout_help = {
    .synopsis = "logout",
    .description =
        "Removes the saved API key from the config file (the URL stays). When the key "
        "was created by `rig login --email`, it is also revoked on the server with "
        "DELETE /api/keys/ID; a key given with `rig login --key` stays valid. Logging out "
        "when no key is saved succeeds and changes nothing.",
    .options = logout_opts_help,
    .examples = "  rig logout",
    .talks_to_server = true,
};

static const struct rig_help_opt me_opts_help[] = {
    {"--json", "Print the server's answer (GET /api/me) as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help me_help = {
    .synopsis = "me [--json]",
    .description = "Shows who the current credential is: the principal (user or agent), the "
                   "org it acts in, the project it is bound to if any, its scopes, and the "
                   "server it talks to.",
    .options = me_opts_help,
    .examples = "  rig me\n"
                "  rig me --json | jq -r .org.name",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_login = {
    .name = "login",
    .summary = "save a server URL and API key (from a key, or an email and password)",
    .run = cmd_login,
    .help = &login_help,
};

const struct rig_cmd rig_cmd_logout = {
    .name = "logout",
    .summary = "remove the saved API key (revoking it if `rig login` created it)",
    .run = cmd_logout,
    .help = &logout_help,
};

const struct rig_cmd rig_cmd_me = {
    .name = "me",
    .summary = "show the current principal, org, project and scopes",
    .run = cmd_me,
    .help = &me_help,
};
