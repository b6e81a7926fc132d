#include "rig/cli.h"

#include <stdarg.h>

void cli_error(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("rig: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

/* The first synopsis line, for usage messages. */
static void print_synopsis_lines(FILE *f, const struct rig_cmd *cmd, const char *prefix)
{
        const char *s = cmd->help ? cmd->help->synopsis : NULL;
        if (!s)
                return;
        while (*s) {
                size_t n = strcspn(s, "\n");
                fprintf(f, "%srig %.*s\n", prefix, (int)n, s);
                s += n + (s[n] ? 1 : 0);
        }
}

int cli_usage(struct rig_ctx *ctx, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: ", ctx->cmd_path);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        print_synopsis_lines(stderr, ctx->cmd, "usage: ");
        fprintf(stderr, "Try '%s --help' for more information.\n", ctx->cmd_path);
        return RIG_EXIT_USAGE;
}

int cli_getopt(struct rig_ctx *ctx, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *exit)
{
        *exit = -1;
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        switch (c) {
        case 'h':
                cli_print_help(stdout, ctx->cmd, ctx->cmd_path);
                *exit = RIG_EXIT_OK;
                return -1;
        case '?':
                if (strncmp(bad, "--", 2) != 0 && optopt)
                        *exit = cli_usage(ctx, "unknown option '-%c'", optopt);
                else
                        *exit = cli_usage(ctx, "unknown option '%s'", bad);
                return -1;
        case ':':
                *exit = cli_usage(ctx, "option '%s' needs a value", bad);
                return -1;
        default:
                return c;
        }
}

int cli_operands(struct rig_ctx *ctx, int argc, char **argv, const char *names)
{
        int want = 0;
        for (const char *p = names; *p;) {
                p += strspn(p, " ");
                if (*p)
                        want++;
                p += strcspn(p, " ");
        }
        int have = argc - optind;
        if (have > want)
                return cli_usage(ctx, "unexpected argument '%s'", argv[optind + want]);
        if (have < want) {
                /* Name the first missing operand. */
                const char *p = names;
                for (int i = 0; i < have; i++) {
                        p += strspn(p, " ");
                        p += strcspn(p, " ");
                }
                p += strspn(p, " ");
                return cli_usage(ctx, "missing %.*s", (int)strcspn(p, " "), p);
        }
        return -1;
}

int cli_simple(struct rig_ctx *ctx, int argc, char **argv, const char *operands, bool *json)
{
        static const struct option with_json[] = {CLI_OPT_JSON, CLI_OPT_HELP, CLI_OPT_END};
        static const struct option help_only[] = {CLI_OPT_HELP, CLI_OPT_END};
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, json ? ":hj" : ":h", json ? with_json : help_only,
                               &ex)) != -1)
                if (c == 'j')
                        *json = true;
        if (ex >= 0)
                return ex;
        return cli_operands(ctx, argc, argv, operands);
}

static int64_t unit_seconds(char u)
{
        switch (u) {
        case 's':
                return 1;
        case 'm':
                return 60;
        case 'h':
                return 3600;
        case 'd':
                return 86400;
        case 'w':
                return 7 * 86400;
        default:
                return 0;
        }
}

int parse_duration(const char *s, int64_t *secs)
{
        int64_t total = 0;
        if (!*s)
                return -EINVAL;
        while (*s) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                int64_t v = 0;
                while (*s >= '0' && *s <= '9') {
                        if (v > (INT64_C(1) << 40))
                                return -EINVAL;
                        v = v * 10 + (*s++ - '0');
                }
                int64_t mult = *s ? unit_seconds(*s++) : 1;
                if (mult == 0 || v > (INT64_C(1) << 40) / mult)
                        return -EINVAL;
                total += v * mult;
                if (total > (INT64_C(1) << 40))
                        return -EINVAL;
        }
        if (total <= 0)
                return -EINVAL;
        *secs = total;
        return 0;
}

int parse_count(const char *s, long max, long *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v <= 0 || v > max)
                return -EINVAL;
        *out = v;
        return 0;
}
