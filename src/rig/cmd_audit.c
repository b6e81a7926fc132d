/* rig audit: read the audit log (GET /api/audit), newest first. */
#include "rig/api.h"
#include "rig/cli.h"
#include "rig/http.h"
#include "rig/output.h"

#include "base/buf.h"
#include "base/timeutil.h"

struct audit_opts {
        const char *since, *principal, *rig, *action;
        long limit;
        bool all, json;
        char since_buf[21];
};

/* --since takes an RFC 3339 time as is, or a duration counted back from now. */
static int parse_since(struct audit_opts *o, const char *arg)
{
        int64_t t, d;
        if (parse_rfc3339(arg, strlen(arg), &t) == 0) {
                o->since = arg;
                return 0;
        }
        if (parse_duration(arg, &d) < 0)
                return -EINVAL;
        fmt_rfc3339(now_ms() / 1000 - d, o->since_buf);
        o->since = o->since_buf;
        return 0;
}

static int audit_parse(struct rig_ctx *ctx, int argc, char **argv, struct audit_opts *o)
{
        static const struct option opts[] = {
            {"since", required_argument, NULL, 's'},
            {"principal", required_argument, NULL, 'p'},
            {"rig", required_argument, NULL, 'r'},
            {"action", required_argument, NULL, 'a'},
            {"limit", required_argument, NULL, 'l'},
            {"all", no_argument, NULL, 'A'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hjs:p:r:a:l:", opts, &ex)) != -1) {
                switch (c) {
                case 's':
                        if (parse_since(o, optarg) < 0)
                                return cli_usage(ctx,
                                                 "invalid --since '%s': use an RFC 3339 "
                                                 "time (2024-05-01T12:00:00Z) or a "
                                                 "duration (90m, 24h, 7d)",
                                                 optarg);
                        break;
                case 'p':
                        o->principal = optarg;
                        break;
                case 'r':
                        o->rig = optarg;
                        break;
                case 'a':
                        o->action = optarg;
                        break;
                case 'l':
                        if (parse_count(optarg, 500, &o->limit) < 0)
                                return cli_usage(ctx, "invalid --limit '%s': use 1 to 500", optarg);
                        break;
                case 'A':
                        o->all = true;
                        break;
                case 'j':
                        o->json = true;
                        break;
                }
        }
        if (ex >= 0)
                return ex;
        return cli_operands(ctx, argc, argv, "");
}

static void add_query(struct buf *b, const char *name, const char *value)
{
        if (!value)
                return;
        _cleanup_free_ char *v = http_escape(value);
        buf_printf(b, "%c%s=%s", strchr(b->data, '?') ? '&' : '?', name, v);
}

static int cmd_audit(struct rig_ctx *ctx, int argc, char **argv)
{
        struct audit_opts o = {.limit = 50};
        int r = audit_parse(ctx, argc, argv, &o);
        if (r >= 0)
                return r;
        _cleanup_buf_ struct buf path = {0};
        buf_puts(&path, "/api/audit");
        add_query(&path, "since", o.since);
        add_query(&path, "principal", o.principal);
        add_query(&path, "rig", o.rig);
        add_query(&path, "action", o.action);
        _cleanup_json_ json_t *items = NULL;
        bool more = false;
        r = api_list(ctx, path.data, "rigs:admin", o.all ? 500 : o.limit, o.all, &items, &more);
        if (r != RIG_EXIT_OK)
                return r;
        static const char *const headers[] = {"AT",     "PRINCIPAL", "KIND", "ACTION",
                                              "TARGET", "RESULT",    "IP"};
        static const char *const fields[] = {"at",     "principal", "kind", "action",
                                             "target", "result",    "ip"};
        r = print_listing(items, o.json, headers, fields, ARRAY_SIZE(fields));
        if (r == RIG_EXIT_OK && more) {
                fflush(stdout);
                cli_error("more entries are older than these: use --all, --limit or --since");
        }
        return r;
}

static const struct rig_help_opt audit_opts_help[] = {
    {"--since TIME", "Only entries at or after TIME: an RFC 3339 time "
                     "(2024-05-01T12:00:00Z) or a duration back from now (90m, 24h, 7d)."},
    {"--principal ID", "Only entries of this principal (usr_..., agt_...)."},
    {"--rig ID", "Only entries about this rig."},
    {"--action ACTION", "Only this action, e.g. auth.login, key.create, member.add, "
                        "rig.exec."},
    {"--limit N", "Entries per page, 1 to 500 (default 50). Without --all, rig prints one "
                  "page."},
    {"--all", "Follow the server's `next` cursors and print every matching entry."},
    {"--json", "Print the entries as an indented JSON array (the server's items)."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help audit_help = {
    .synopsis = "audit [--since TIME|DURATION] [--principal ID] [--rig ID] [--action ACTION] "
                "[--limit N] [--all] [--json]",
    .description = "Prints the audit log of the current org, newest first (GET /api/audit). Every "
                   "mutating request and every failed authentication is recorded with its "
                   "principal, kind (user, agent, rig_credential, anonymous), action, target, "
                   "result (ok, denied, error) and source address. Needs rigs:admin.\n\n"
                   "When more entries match than one page holds, a note on standard error says "
                   "so; --all fetches them all.",
    .options = audit_opts_help,
    .examples = "  rig audit --since 1h\n"
                "  rig audit --action key.create --limit 10\n"
                "  rig audit --since 2024-05-01T00:00:00Z --all --json > audit.json",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_audit = {
    .name = "audit",
    .summary = "read the audit log",
    .run = cmd_audit,
    .help = &audit_help,
};
