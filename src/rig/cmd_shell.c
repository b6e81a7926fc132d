/* rig shell / attach / sessions / creds: terminals in a rig over the pty WebSocket
 * (GET /api/rigs/{id}/pty, .../sessions/{sid}/attach), the session list, and rig credentials.
 *
 * The terminal loop polls standard input, the WebSocket and a self-pipe for SIGWINCH. The local
 * terminal is in raw mode while it runs (restored on every way out); the remote shell's exit
 * status becomes rig's. Standard input is not read while more than IN_HIGH bytes wait to be
 * sent, so a paste into a slow link does not grow rig's memory. */
#include "rig/cmd_rigs.h"

#include "rig/api.h"
#include "rig/cli.h"
#include "rig/config.h"
#include "rig/http.h"
#include "rig/output.h"
#include "rig/wsclient.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>

#define IN_HIGH       (1u << 20)
#define DETACH_KEY    0x1d /* Ctrl-] */
#define HANGUP_STATUS 129

struct term {
        struct wsclient *ws;
        bool raw;
        struct termios saved;
        int exit_code;   /* from the exit message; -1 until it comes */
        bool observing;  /* attach without --control, or control taken away */
        bool detachable; /* Ctrl-] leaves (attach) */
        bool stdin_open;
        char *session;
};

static int winch_pipe[2] = {-1, -1};

static void on_winch(int sig)
{
        int saved = errno;
        (void)!write(winch_pipe[1], "w", 1);
        errno = saved;
}

static void term_size(unsigned *cols, unsigned *rows)
{
        struct winsize ws;
        *cols = 80;
        *rows = 24;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
                *cols = ws.ws_col;
                *rows = ws.ws_row;
        }
}

static void raw_on(struct term *t)
{
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved) < 0)
                return;
        struct termios raw = t->saved;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
                t->raw = true;
}

static void raw_off(struct term *t)
{
        if (t->raw)
                tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
        t->raw = false;
}

static void say(struct term *t, const char *msg)
{
        /* In raw mode a newline needs its carriage return. */
        fprintf(stderr, "%s[rig: %s]%s", t->raw ? "\r\n" : "", msg, t->raw ? "\r\n" : "\n");
}

static void on_control(struct term *t, const char *p, size_t n)
{
        json_t *m = json_loadb(p, n, 0, NULL);
        const char *type = json_str(m, "type");
        if (type && streq(type, "exit")) {
                t->exit_code = (int)json_integer_value(json_object_get(m, "code"));
                const char *why = json_str(m, "reason");
                if (why) {
                        _cleanup_free_ char *msg = xasprintf("the session ended: %s", why);
                        say(t, msg);
                }
        } else if (type && streq(type, "session")) {
                free(t->session);
                t->session = xstrdup(json_str(m, "id") ?: "");
        } else if (type && streq(type, "control")) {
                const char *mode = json_str(m, "mode");
                bool obs = mode && streq(mode, "observe");
                const char *who = json_str(m, "controller");
                if (obs && !t->observing) {
                        _cleanup_free_ char *msg = xasprintf(
                            "%s took control of this terminal; you are observing (Ctrl-] leaves)",
                            who ? who : "someone");
                        say(t, msg);
                }
                t->observing = obs;
                t->detachable |= obs;
        } else if (type && streq(type, "error")) {
                say(t, json_str(m, "message") ?: "error");
        }
        json_decref(m);
}

static void on_msg(void *ud, uint8_t opcode, const uint8_t *p, size_t n)
{
        struct term *t = ud;
        if (opcode == WSLAY_TEXT_FRAME) {
                on_control(t, (const char *)p, n);
                return;
        }
        while (n > 0) {
                ssize_t w = write(STDOUT_FILENO, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                p += w;
                n -= (size_t)w;
        }
}

static void send_resize(struct term *t)
{
        unsigned cols, rows;
        term_size(&cols, &rows);
        char js[80];
        int k =
            snprintf(js, sizeof(js), "{\"type\":\"resize\",\"cols\":%u,\"rows\":%u}", cols, rows);
        (void)wsc_send(t->ws, WSLAY_TEXT_FRAME, js, (size_t)k);
}

/* Standard input to the terminal; false when the user detached. At end of input (a pipe) the
 * terminal gets Ctrl-D, as if typed. */
static bool pump_stdin(struct term *t)
{
        char b[16384];
        ssize_t n = read(STDIN_FILENO, b, sizeof(b));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n <= 0) {
                t->stdin_open = false;
                if (!t->observing)
                        (void)wsc_send(t->ws, WSLAY_BINARY_FRAME, "\x04", 1);
                return true;
        }
        if (t->detachable && memchr(b, DETACH_KEY, (size_t)n))
                return false;
        if (!t->observing)
                (void)wsc_send(t->ws, WSLAY_BINARY_FRAME, b, (size_t)n);
        return true;
}

static int term_loop(struct term *t)
{
        for (;;) {
                struct pollfd p[3] = {
                    {.fd = wsc_fd(t->ws), .events = POLLIN},
                    {.fd = winch_pipe[0], .events = POLLIN},
                    {.fd = t->stdin_open && wsc_queued(t->ws) < IN_HIGH ? STDIN_FILENO : -1,
                     .events = POLLIN},
                };
                if (wsc_want_write(t->ws))
                        p[0].events |= POLLOUT;
                if (poll(p, 3, -1) < 0 && errno != EINTR)
                        return -errno;
                if (p[1].revents & POLLIN) {
                        char d[16];
                        (void)!read(winch_pipe[0], d, sizeof(d));
                        send_resize(t);
                }
                if ((p[2].revents & (POLLIN | POLLHUP)) && !pump_stdin(t))
                        return 1; /* detached */
                if (wsc_pump(t->ws, on_msg, t) < 0)
                        return 0;
        }
}

/* Connects to path and runs the terminal; returns rig's exit code. */
static int run_terminal(struct rig_ctx *ctx, const char *path, bool observing, bool detachable)
{
        int r = api_load_config(ctx);
        if (r != RIG_EXIT_OK)
                return r;
        if (!ctx->cfg->api_key) {
                cli_error("no API key: set RIGS_API_KEY or run `rig login`");
                return RIG_EXIT_UNAUTH;
        }
        struct term t = {
            .exit_code = -1, .observing = observing, .detachable = detachable, .stdin_open = true};
        struct wsc_refusal ref = {0};
        char err[256] = "";
        r = wsc_connect(ctx->cfg->url, path, ctx->cfg->api_key, &t.ws, &ref, err, sizeof(err));
        if (r == -EACCES) {
                json_t *j = json_loads(ref.body.data ? ref.body.data : "", 0, NULL);
                const char *msg = json_string_value(json_path(j, "error.message"));
                cli_error("%s (HTTP %ld)", msg ? msg : "the terminal was refused", ref.status);
                json_decref(j);
                buf_free(&ref.body);
                return ref.status == 401   ? RIG_EXIT_UNAUTH
                       : ref.status >= 500 ? RIG_EXIT_SERVER
                                           : RIG_EXIT_REFUSED;
        }
        if (r < 0) {
                cli_error("%s", err[0] ? err : strerror(-r));
                return r == -EINVAL ? RIG_EXIT_USAGE : RIG_EXIT_TRANSPORT;
        }
        if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) == 0)
                signal(SIGWINCH, on_winch);
        signal(SIGPIPE, SIG_IGN);
        raw_on(&t);
        if (isatty(STDIN_FILENO))
                send_resize(&t);
        int lr = wsc_pump(t.ws, on_msg, &t) < 0 ? 0 : term_loop(&t);
        raw_off(&t);
        signal(SIGWINCH, SIG_DFL);
        wsc_free(t.ws);
        free(t.session);
        if (lr == 1) {
                fprintf(stderr, "[rig: detached]\n");
                return RIG_EXIT_OK;
        }
        if (t.exit_code < 0) {
                cli_error("the terminal connection ended without an exit status");
                return HANGUP_STATUS;
        }
        return t.exit_code > 255 ? 255 : t.exit_code;
}

static int cmd_shell(struct rig_ctx *ctx, int argc, char **argv)
{
        int r = cli_simple(ctx, argc, argv, "NAME|ID", NULL);
        if (r >= 0)
                return r;
        unsigned cols, rows;
        term_size(&cols, &rows);
        _cleanup_free_ char *base = rig_path(argv[optind], "/pty");
        _cleanup_free_ char *path = xasprintf("%s?cols=%u&rows=%u", base, cols, rows);
        return run_terminal(ctx, path, false, false);
}

static int cmd_attach(struct rig_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
            {"control", no_argument, NULL, 'c'},
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        bool control = false;
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hc", opts, &ex)) != -1)
                if (c == 'c')
                        control = true;
        if (ex >= 0)
                return ex;
        int r = cli_operands(ctx, argc, argv, "NAME|ID SESSION");
        if (r >= 0)
                return r;
        _cleanup_free_ char *sid = http_escape(argv[optind + 1]);
        _cleanup_free_ char *suffix =
            xasprintf("/sessions/%s/attach?mode=%s", sid, control ? "control" : "observe");
        _cleanup_free_ char *path = rig_path(argv[optind], suffix);
        if (!control)
                fprintf(stderr, "[rig: observing; Ctrl-] leaves]\n");
        return run_terminal(ctx, path, !control, true);
}

static int cmd_sessions(struct rig_ctx *ctx, int argc, char **argv)
{
        static const char *const headers[] = {"ID",        "PRINCIPAL", "KIND",   "CONTROLLER",
                                              "OBSERVERS", "SIZE",      "STARTED"};
        static const char *const fields[] = {"id",        "principal", "kind",      "controller",
                                             "observers", "size",      "started_at"};
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "NAME|ID", &json);
        if (r >= 0)
                return r;
        const char *ref = argv[optind];
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *path = rig_path(ref, "/sessions");
        _cleanup_json_ json_t *answer = NULL;
        r = rig_json_call(&cn, "GET", path, NULL, ref, "rigs:instances:read", NULL, &answer);
        if (r != RIG_EXIT_OK)
                return r;
        json_t *items = json_object_get(answer, "items");
        if (!json_is_array(items)) {
                cli_error("unexpected answer to GET %s: is RIGS_URL pointing at rigd?", path);
                return RIG_EXIT_TRANSPORT;
        }
        if (!json) {
                size_t i;
                json_t *it;
                json_array_foreach(items, i, it)
                {
                        char size[32];
                        snprintf(size, sizeof(size), "%lldx%lld",
                                 (long long)json_integer_value(json_object_get(it, "cols")),
                                 (long long)json_integer_value(json_object_get(it, "rows")));
                        json_object_set_new(it, "size", json_string(size));
                }
        }
        return print_listing(items, json, headers, fields, ARRAY_SIZE(headers));
}

static int cmd_creds(struct rig_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
            {"ttl", required_argument, NULL, 't'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        bool json = false;
        int64_t ttl = 300;
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hjt:", opts, &ex)) != -1) {
                if (c == 'j')
                        json = true;
                else if (c == 't' && (parse_duration(optarg, &ttl) < 0 || ttl > 900))
                        return cli_usage(ctx, "invalid --ttl '%s': use 1 to 900 seconds (or 15m)",
                                         optarg);
        }
        if (ex >= 0)
                return ex;
        int r = cli_operands(ctx, argc, argv, "NAME|ID");
        if (r >= 0)
                return r;
        const char *ref = argv[optind];
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *path = rig_path(ref, "/credentials");
        _cleanup_json_ json_t *body = json_pack("{s:I}", "ttl_s", (json_int_t)ttl);
        _cleanup_json_ json_t *answer = NULL;
        r = rig_json_call(&cn, "POST", path, body, ref, "rigs:instances:control", NULL, &answer);
        if (r != RIG_EXIT_OK)
                return r;
        const char *tok = json_str(answer, "token");
        if (!tok) {
                cli_error("unexpected answer to POST %s: no token", path);
                return RIG_EXIT_TRANSPORT;
        }
        if (json) {
                print_json(stdout, answer);
        } else {
                printf("%s\n", tok);
                fprintf(stderr, "rig credential for %s, valid until %s\n", ref,
                        json_str(answer, "expires_at") ?: "?");
        }
        return RIG_EXIT_OK;
}

static const struct rig_help shell_help = {
    .synopsis = "shell NAME|ID",
    .description =
        "Opens an interactive login shell (bash -l as user, in /home/user) in a running rig "
        "through the terminal WebSocket (GET /api/rigs/ID/pty). The local terminal is put in "
        "raw mode while the shell runs, and window size changes follow (SIGWINCH). rig exits "
        "with the shell's exit status, or 129 when the session ended without one (idle "
        "timeout, the rig stopped, rigd stopped). Without a terminal on standard input the "
        "input is sent as typed and ends with Ctrl-D. Others may watch or take over the "
        "session: see `rig sessions` and `rig attach`. Needs an http:// RIGS_URL.",
    .examples = "  rig shell web\n"
                "  echo 'uname -a; exit' | rig shell web",
    .talks_to_server = true,
};

static const struct rig_help_opt attach_opts_help[] = {
    {"--control", "Take over the input (the current controller becomes an observer)."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help attach_help = {
    .synopsis = "attach NAME|ID SESSION [--control]",
    .description =
        "Joins a live terminal session of the rig (GET /api/rigs/ID/sessions/SESSION/attach): "
        "you see the last 64 KiB of its output, then the live output. By default you observe "
        "(your typing is ignored); with --control you take over the input, and the previous "
        "controller is told and becomes an observer. Ctrl-] leaves while observing. Every "
        "attach and takeover is audited.",
    .options = attach_opts_help,
    .examples = "  rig sessions web\n"
                "  rig attach web pty_3Jt0QwXxYz1234567890\n"
                "  rig attach web pty_3Jt0QwXxYz1234567890 --control",
    .talks_to_server = true,
};

static const struct rig_help_opt json_opts_help[] = {
    {"--json", "Print the server's items as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help sessions_help = {
    .synopsis = "sessions NAME|ID [--json]",
    .description = "Lists the rig's live terminal sessions (GET /api/rigs/ID/sessions): who "
                   "opened each, who controls it now, how many observe, its size and start.",
    .options = json_opts_help,
    .examples = "  rig sessions web\n"
                "  rig sessions web --json | jq -r '.[0].id'",
    .talks_to_server = true,
};

static const struct rig_help_opt creds_opts_help[] = {
    {"--ttl DURATION", "Lifetime, 1 to 900 seconds (default 300); 15m works too."},
    {"--json", "Print the whole answer as JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help creds_help = {
    .synopsis = "creds NAME|ID [--ttl DURATION] [--json]",
    .description =
        "Mints a short-lived rig credential (POST /api/rigs/ID/credentials) and prints the "
        "token alone on standard output (the expiry goes to standard error). The token acts "
        "for this rig only: GET of the rig, exec, files, terminal and sessions; it is kept "
        "nowhere by rigd, and a restart of rigd invalidates it.",
    .options = creds_opts_help,
    .examples = "  TOKEN=$(rig creds web --ttl 600)\n"
                "  curl -H \"Authorization: Bearer $TOKEN\" $RIGS_URL/api/rigs/web",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_shell = {
    .name = "shell",
    .summary = "open an interactive shell in a rig",
    .run = cmd_shell,
    .help = &shell_help,
};

const struct rig_cmd rig_cmd_attach = {
    .name = "attach",
    .summary = "watch or take over a rig's terminal session",
    .run = cmd_attach,
    .help = &attach_help,
};

const struct rig_cmd rig_cmd_sessions = {
    .name = "sessions",
    .summary = "list a rig's terminal sessions",
    .run = cmd_sessions,
    .help = &sessions_help,
};

const struct rig_cmd rig_cmd_creds = {
    .name = "creds",
    .summary = "mint a short-lived credential for one rig",
    .run = cmd_creds,
    .help = &creds_help,
};
