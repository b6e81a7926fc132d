/* rig exec: runs a command in a rig (POST /api/rigs/{id}/exec with Accept: application/x-ndjson)
 * and streams its output: each {"stream", "data"} line goes to rig's own standard output or
 * error as it arrives, and the command's exit code becomes rig's. */
#include "rig/cmd_rigs.h"

#include "rig/cli.h"
#include "rig/output.h"

#include "base/utf8.h"

#include <stdio.h>

/* The exit status of `timeout(1)`, for a command killed at --timeout. */
#define EXIT_TIMED_OUT 124
/* One ndjson line longer than this is not rigd talking. */
#define LINE_MAX_BYTES (64u * 1024 * 1024)

struct exec_opts {
        const char *user, *cwd;
        json_t *env;
        long timeout;
        bool stdin_;
        const char *ref;
        char **cmd;
        int ncmd;
};

struct exec_stream {
        struct buf line; /* an incomplete line */
        bool finished;
        json_int_t exit_code;
        bool timed_out;
        char *error_code, *error_msg; /* an {"error": ...} line */
};

/* Options stop at "--": what follows is the command, untouched. Without "--" every operand after
 * NAME is the command. */
static int exec_parse(struct rig_ctx *ctx, int argc, char **argv, struct exec_opts *o)
{
        static const struct option opts[] = {
            {"user", required_argument, NULL, 'u'},
            {"cwd", required_argument, NULL, 'C'},
            {"env", required_argument, NULL, 'e'},
            {"timeout", required_argument, NULL, 't'},
            {"stdin", no_argument, NULL, 'i'},
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        int dd = argc;
        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "--")) {
                        dd = i;
                        break;
                }
        int c, ex;
        while ((c = cli_getopt(ctx, dd, argv, ":hie:u:", opts, &ex)) != -1) {
                switch (c) {
                case 'u':
                        if (!streq(optarg, "user") && !streq(optarg, "root"))
                                return cli_usage(ctx, "invalid --user '%s': use user or root",
                                                 optarg);
                        o->user = optarg;
                        break;
                case 'C':
                        if (optarg[0] != '/')
                                return cli_usage(ctx,
                                                 "invalid --cwd '%s': use an absolute path in "
                                                 "the rig, such as /home/user/src",
                                                 optarg);
                        o->cwd = optarg;
                        break;
                case 'e':
                        if (!rig_env_add(o->env, optarg))
                                return cli_usage(ctx, "invalid --env '%s': use NAME=VALUE", optarg);
                        break;
                case 't':
                        if (parse_count(optarg, 86400, &o->timeout) < 0)
                                return cli_usage(ctx,
                                                 "invalid --timeout '%s': use seconds, 1 to "
                                                 "86400",
                                                 optarg);
                        break;
                case 'i':
                        o->stdin_ = true;
                        break;
                }
        }
        if (ex >= 0)
                return ex;
        if (optind >= dd)
                return cli_usage(ctx, "missing NAME|ID");
        o->ref = argv[optind];
        if (dd < argc) {
                if (optind + 1 < dd)
                        return cli_usage(ctx, "unexpected argument '%s' before '--'",
                                         argv[optind + 1]);
                o->cmd = argv + dd + 1;
                o->ncmd = argc - dd - 1;
        } else {
                o->cmd = argv + optind + 1;
                o->ncmd = argc - optind - 1;
        }
        if (o->ncmd == 0)
                return cli_usage(ctx,
                                 "missing CMD: put the command after '--', as in "
                                 "`rig exec %s -- ls -la`",
                                 o->ref);
        return -1;
}

/* Reads all of standard input; it must be UTF-8, the API carries it in a JSON string. */
static int read_stdin(struct buf *in)
{
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
                buf_append(in, chunk, n);
        if (ferror(stdin)) {
                cli_error("cannot read standard input: %s", strerror(errno));
                return RIG_EXIT_USAGE;
        }
        struct buf clean = {0};
        utf8_sanitize(&clean, in->data ? in->data : "", in->len, NULL);
        bool valid =
            clean.len == in->len && (in->len == 0 || !memcmp(clean.data, in->data, in->len));
        buf_free(&clean);
        if (!valid) {
                cli_error("standard input is not valid UTF-8 text, which is all --stdin can send: "
                          "copy binary data into the rig with `rig cp - NAME:PATH` and redirect "
                          "the command's input from that file");
                return RIG_EXIT_USAGE;
        }
        return -1;
}

static bool write_all(FILE *f, const char *p, size_t n)
{
        if (n && fwrite(p, 1, n, f) != n)
                return false;
        return fflush(f) == 0;
}

/* Handles one ndjson line; false (with sink_exit set) when rig cannot go on. */
static bool exec_line(struct rig_req *x, struct exec_stream *s, const char *p, size_t n)
{
        while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
                n--;
        if (!n)
                return true;
        _cleanup_json_ json_t *j = json_loadb(p, n, 0, NULL);
        if (!json_is_object(j)) {
                cli_error("rigd sent a line that is not a JSON object in the exec stream: is "
                          "RIGS_URL pointing at rigd?");
                x->sink_exit = RIG_EXIT_TRANSPORT;
                return false;
        }
        const char *stream = json_str(j, "stream");
        json_t *data = json_object_get(j, "data");
        /* A server that answers a buffered result sends stdout and stderr in one object. */
        json_t *out =
            stream ? (streq(stream, "stdout") ? data : NULL) : json_object_get(j, "stdout");
        json_t *err =
            stream ? (streq(stream, "stderr") ? data : NULL) : json_object_get(j, "stderr");
        if (json_is_string(out) &&
            !write_all(stdout, json_string_value(out), json_string_length(out))) {
                cli_error("cannot write to standard output: %s", strerror(errno));
                x->sink_exit = RIG_EXIT_USAGE;
                return false;
        }
        if (json_is_string(err))
                write_all(stderr, json_string_value(err), json_string_length(err));
        json_t *code = json_object_get(j, "exit_code");
        if (json_is_integer(code)) {
                s->finished = true;
                s->exit_code = json_integer_value(code);
                s->timed_out = json_is_true(json_object_get(j, "timed_out"));
        }
        json_t *e = json_object_get(j, "error");
        if (json_is_object(e)) {
                free(s->error_code);
                free(s->error_msg);
                s->error_code = xstrdup(json_str(e, "code") ? json_str(e, "code") : "internal");
                s->error_msg =
                    xstrdup(json_str(e, "message") ? json_str(e, "message") : "the command failed");
        }
        return true;
}

/* The body as it streams: complete lines are handled at once, a partial one is kept. */
static bool exec_sink(struct rig_req *x, const char *p, size_t n)
{
        struct exec_stream *s = x->ud;
        buf_append(&s->line, p, n);
        size_t start = 0;
        for (;;) {
                const char *nl = memchr(s->line.data + start, '\n', s->line.len - start);
                if (!nl)
                        break;
                size_t len = (size_t)(nl - (s->line.data + start));
                if (!exec_line(x, s, s->line.data + start, len))
                        return false;
                start += len + 1;
        }
        memmove(s->line.data, s->line.data + start, s->line.len - start);
        s->line.len -= start;
        if (s->line.len > LINE_MAX_BYTES) {
                cli_error("rigd sent an exec stream line longer than %u MiB: is RIGS_URL pointing "
                          "at rigd?",
                          LINE_MAX_BYTES >> 20);
                x->sink_exit = RIG_EXIT_TRANSPORT;
                return false;
        }
        return true;
}

static json_t *exec_body(const struct exec_opts *o, const struct buf *in)
{
        json_t *cmd = json_array();
        for (int i = 0; i < o->ncmd; i++)
                json_array_append_new(cmd, json_string(o->cmd[i]));
        json_t *body = json_pack("{s:o}", "cmd", cmd);
        if (json_object_size(o->env))
                json_object_set(body, "env", o->env);
        if (o->cwd)
                json_object_set_new(body, "cwd", json_string(o->cwd));
        if (o->user)
                json_object_set_new(body, "user", json_string(o->user));
        if (o->timeout)
                json_object_set_new(body, "timeout_s", json_integer(o->timeout));
        if (o->stdin_)
                json_object_set_new(body, "stdin", json_stringn(in->data ? in->data : "", in->len));
        return body;
}

/* What the stream said at its end, as rig's exit status. */
static int exec_outcome(const struct exec_opts *o, struct exec_stream *s)
{
        fflush(stdout);
        if (s->error_msg) {
                bool internal = streq(s->error_code, "internal");
                cli_error("%s `%s` in rig %s: %s", internal ? "lost" : "cannot run", o->cmd[0],
                          o->ref, s->error_msg);
                return internal ? RIG_EXIT_SERVER : RIG_EXIT_REFUSED;
        }
        if (!s->finished) {
                cli_error("the output of `%s` ended without its exit status: the connection to "
                          "rigd broke; the command may still be running in rig %s",
                          o->cmd[0], o->ref);
                return RIG_EXIT_TRANSPORT;
        }
        if (s->timed_out) {
                cli_error("`%s` timed out after %ld s and was killed (--timeout)", o->cmd[0],
                          o->timeout ? o->timeout : 60L);
                return EXIT_TIMED_OUT;
        }
        if (s->exit_code < 0 || s->exit_code > 255)
                return 255;
        return (int)s->exit_code;
}

static int cmd_exec(struct rig_ctx *ctx, int argc, char **argv)
{
        _cleanup_json_ json_t *env = json_object();
        struct exec_opts o = {.env = env};
        int r = exec_parse(ctx, argc, argv, &o);
        if (r >= 0)
                return r;
        _cleanup_buf_ struct buf in = {0};
        if (o.stdin_ && (r = read_stdin(&in)) >= 0)
                return r;
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_json_ json_t *body = exec_body(&o, &in);
        _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
        if (!text)
                abort();
        _cleanup_free_ char *path = rig_path(o.ref, "/exec");
        struct exec_stream s = {0};
        struct rig_req x = {
            .method = "POST",
            .path = path,
            .accept = "application/x-ndjson",
            .body = text,
            .sink = exec_sink,
            .ud = &s,
            .ref = o.ref,
            .scope = "rigs:instances:control",
            .about = ABOUT_EXEC,
        };
        r = rig_req_run(&cn, &x);
        if (r == RIG_EXIT_OK && s.line.len && !exec_line(&x, &s, s.line.data, s.line.len))
                r = x.sink_exit;
        if (r == RIG_EXIT_REFUSED && x.status == 413 && o.stdin_)
                cli_error("--stdin sends standard input inside the JSON request, which rigd "
                          "limits to 1 MiB: copy larger input into the rig with `rig cp - "
                          "%s:input` and redirect from /home/user/input",
                          o.ref);
        if (r == RIG_EXIT_OK)
                r = exec_outcome(&o, &s);
        rig_req_free(&x);
        buf_free(&s.line);
        free(s.error_code);
        free(s.error_msg);
        return r;
}

static const struct rig_help_opt exec_opts_help[] = {
    {"--user user|root", "Run as the rig's `user` (uid 1000, the default) or as root."},
    {"--cwd DIR", "Working directory in the rig, an absolute path. Default: /home/user."},
    {"--env NAME=VALUE", "An environment variable for the command; repeat for several."},
    {"--timeout SECONDS", "Kill the command and everything it started after SECONDS (1 to "
                          "86400; the server's default is 60). rig then exits 124."},
    {"-i, --stdin", "Read all of standard input and give it to the command as its standard "
                    "input. It must be UTF-8 text of at most about 1 MiB (it travels in the "
                    "JSON request); without -i the command's standard input is empty."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help exec_help = {
    .synopsis = "exec NAME|ID [--user root|user] [--cwd DIR] [--env K=V]... [--timeout SECONDS] "
                "[--stdin|-i] -- CMD [ARGS...]",
    .description =
        "Runs CMD with ARGS in a running rig (POST /api/rigs/ID/exec) and streams its output as "
        "it comes: the command's standard output to rig's standard output, its standard error "
        "to rig's standard error. No shell is involved: run `sh -c '...'` for pipes and "
        "redirections.\n\n"
        "rig exits with the command's exit status (128+N when a signal N killed it), 124 when "
        "--timeout killed it. When rig itself fails it exits with its own codes below, and "
        "says why on standard error: they overlap with the command's, so a script that must "
        "tell them apart reads standard error. A rig that is stopped or paused answers "
        "`conflict` (exit 1) with the command that brings it back. Needs "
        "rigs:instances:control.\n\n"
        "Everything after `--` is the command, options included; rig's own options go before "
        "it.",
    .options = exec_opts_help,
    .examples = "  rig exec web -- uname -a\n"
                "  rig exec web --cwd /tmp -- sh -c 'ls -la | wc -l'\n"
                "  rig exec web --user root --timeout 600 -- apt-get update\n"
                "  echo 'print(6 * 7)' | rig exec web -i -- python3\n"
                "  rig exec web -- make test || echo \"failed with $?\"",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_exec = {
    .name = "exec",
    .summary = "run a command in a rig, streaming its output",
    .run = cmd_exec,
    .help = &exec_help,
};
