/* rig: the Rigs command-line client. main owns the context, walks the command tree and runs
 * the chosen command; commands live in cmd_*.c. */
#include "rig/api.h"
#include "rig/cli.h"
#include "rig/cmd_rigs.h"

#include "base/buf.h"

#include <curl/curl.h>
#include <locale.h>

static int cmd_help(struct rig_ctx *ctx, int argc, char **argv);

static const struct rig_help help_help = {
    .synopsis = "help [COMMAND [SUBCOMMAND]]",
    .description = "Prints the manual page of a command: `rig help keys create` is the same "
                   "as `rig keys create --help`. Without a command, prints rig's own.",
    .examples = "  rig help\n"
                "  rig help keys create",
};

static const struct rig_cmd cmd_help_node = {
    .name = "help",
    .summary = "show the manual page of a command",
    .run = cmd_help,
    .help = &help_help,
};

/* The root of the command tree: a new command is one line here. */
static const struct rig_cmd *const root_subs[] = {
    &rig_cmd_login,   &rig_cmd_logout,   &rig_cmd_me,     &rig_cmd_create,
    &rig_cmd_ls,      &rig_cmd_get,      &rig_cmd_start,  &rig_cmd_stop,
    &rig_cmd_restart, &rig_cmd_pause,    &rig_cmd_resume, &rig_cmd_rm,
    &rig_cmd_exec,    &rig_cmd_cat,      &rig_cmd_cp,     &rig_cmd_shell,
    &rig_cmd_attach,  &rig_cmd_sessions, &rig_cmd_creds,  &rig_cmd_apps,
    &rig_cmd_preview, &rig_cmd_keys,     &rig_cmd_orgs,   &rig_cmd_projects,
    &rig_cmd_users,   &rig_cmd_audit,    &cmd_help_node,  NULL,
};

static const struct rig_help_opt root_opts[] = {
    {"-h, --help", "Print this manual page. Every command takes it too."},
    {"-V, --version", "Print rig's version and exit."},
    {NULL, NULL},
};

static const struct rig_help root_help = {
    .synopsis = "[--help] [--version] COMMAND [ARGS...]",
    .description = "rig is the command-line client of Rigs. It talks to the rigd API at $RIGS_URL "
                   "(default http://127.0.0.1:7070) with the API key in $RIGS_API_KEY, or with the "
                   "URL and key that `rig login` saved in ~/.config/rigs/config.json.\n\n"
                   "Listings print an aligned table, or with --json the server's items as indented "
                   "JSON. Errors go to standard error and say what to do next; the exit status "
                   "tells scripts what kind of failure it was.",
    .options = root_opts,
    .examples = "  rig login --url http://127.0.0.1:7070 --email admin@localhost\n"
                "  rig me\n"
                "  rig create web && rig exec web -- uname -a\n"
                "  rig keys create ci --scope rigs:instances:read --expires 30d\n"
                "  rig orgs ls --json\n"
                "  rig audit --since 1h --action key.create",
    .talks_to_server = true,
};

static const struct rig_cmd root = {
    .name = "rig",
    .summary = "the Rigs command-line client",
    .subs = root_subs,
    .help = &root_help,
};

static const struct rig_cmd *find_sub(const struct rig_cmd *group, const char *name)
{
        for (const struct rig_cmd *const *s = group->subs; *s; s++)
                if (streq((*s)->name, name) || streq_ptr((*s)->alias, name))
                        return *s;
        return NULL;
}

static void set_current(struct rig_ctx *ctx, const struct rig_cmd *cmd, const char *path)
{
        free(ctx->cmd_path);
        ctx->cmd_path = xstrdup(path);
        ctx->cmd = cmd;
}

/* Reports an unknown subcommand of the current group; returns RIG_EXIT_USAGE. */
static int unknown_command(struct rig_ctx *ctx, const char *name)
{
        fprintf(stderr, "%s: unknown command '%s'\n", ctx->cmd_path, name);
        fprintf(stderr, "Commands:");
        for (const struct rig_cmd *const *s = ctx->cmd->subs; *s; s++)
                fprintf(stderr, " %s", (*s)->name);
        fprintf(stderr, "\nTry '%s --help' for more information.\n", ctx->cmd_path);
        return RIG_EXIT_USAGE;
}

/* Walks argv down the tree from root; leaves ctx at the deepest command named and returns how
 * many words were consumed, or -1 after reporting an unknown command. */
static int walk(struct rig_ctx *ctx, int argc, char **argv)
{
        _cleanup_buf_ struct buf path = {0};
        buf_puts(&path, "rig");
        set_current(ctx, &root, path.data);
        int i = 0;
        while (i < argc && ctx->cmd->subs && argv[i][0] != '-') {
                const struct rig_cmd *next = find_sub(ctx->cmd, argv[i]);
                if (!next) {
                        unknown_command(ctx, argv[i]);
                        return -1;
                }
                buf_printf(&path, " %s", next->name);
                set_current(ctx, next, path.data);
                i++;
        }
        return i;
}

static int cmd_help(struct rig_ctx *ctx, int argc, char **argv)
{
        /* Everything after "help" names the command whose manual is wanted. */
        if (argc > 1 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
                cli_print_help(stdout, ctx->cmd, ctx->cmd_path);
                return RIG_EXIT_OK;
        }
        if (walk(ctx, argc - 1, argv + 1) < 0)
                return RIG_EXIT_USAGE;
        cli_print_help(stdout, ctx->cmd, ctx->cmd_path);
        return RIG_EXIT_OK;
}

/* A group named without a subcommand (or with only options). */
static int run_group(struct rig_ctx *ctx, int argc, char **argv)
{
        if (argc > 0 && (streq(argv[0], "-h") || streq(argv[0], "--help"))) {
                cli_print_help(stdout, ctx->cmd, ctx->cmd_path);
                return RIG_EXIT_OK;
        }
        if (ctx->cmd == &root && argc > 0 &&
            (streq(argv[0], "-V") || streq(argv[0], "--version"))) {
                printf("rig %s\n", RIGS_VERSION);
                return RIG_EXIT_OK;
        }
        if (argc > 0 && argv[0][0] == '-')
                fprintf(stderr, "%s: unknown option '%s'\n", ctx->cmd_path, argv[0]);
        else
                fprintf(stderr, "%s: missing command\n", ctx->cmd_path);
        fprintf(stderr, "usage: %s COMMAND [ARGS...]\nCommands:", ctx->cmd_path);
        for (const struct rig_cmd *const *s = ctx->cmd->subs; *s; s++)
                fprintf(stderr, " %s", (*s)->name);
        fprintf(stderr, "\nTry '%s --help' for more information.\n", ctx->cmd_path);
        return RIG_EXIT_USAGE;
}

static int dispatch(struct rig_ctx *ctx, int argc, char **argv)
{
        int used = walk(ctx, argc, argv);
        if (used < 0)
                return RIG_EXIT_USAGE;
        if (ctx->cmd->subs)
                return run_group(ctx, argc - used, argv + used);
        /* The leaf sees its own name as argv[0], like a program; getopt starts afresh. */
        optind = 0;
        return ctx->cmd->run(ctx, argc - used + 1, argv + used - 1);
}

int main(int argc, char **argv)
{
        setlocale(LC_CTYPE, "");
        opterr = 0;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fputs("rig: cannot initialise libcurl\n", stderr);
                return RIG_EXIT_TRANSPORT;
        }
        struct rig_ctx ctx = {0};
        int r = dispatch(&ctx, argc - 1, argv + 1);
        api_close(&ctx);
        free(ctx.cmd_path);
        curl_global_cleanup();
        if (fflush(stdout) != 0 && r == RIG_EXIT_OK) {
                fputs("rig: cannot write to standard output\n", stderr);
                r = RIG_EXIT_USAGE;
        }
        return r;
}
