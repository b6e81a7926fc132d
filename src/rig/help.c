/* Manual pages: every command prints NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXAMPLES, EXIT
 * STATUS and ENVIRONMENT in the style of man(1), from its struct rig_help. */
#include "rig/cli.h"

#define INDENT 7
#define WIDTH  79

static const struct rig_help_opt exit_status[] = {
    {"0", "success."},
    {"1", "the server refused the request (4xx other than 401): not found, conflict, "
          "forbidden, quota exceeded, rate limited, invalid request."},
    {"2", "usage error: unknown command or option, missing or malformed argument."},
    {"3", "cannot reach the server (connection refused, unknown host, timeout), or its "
          "answer was not understood."},
    {"4", "the server failed (5xx)."},
    {"5", "not authenticated: no API key, or the server refused it (401)."},
    {NULL, NULL},
};

static const struct rig_help_opt environment[] = {
    {"RIGS_URL", "The API's address, default http://127.0.0.1:7070. Wins over the config "
                 "file."},
    {"RIGS_API_KEY", "The API key to send. Wins over the config file. A key saved in the "
                     "config file is only sent to the URL it was saved with."},
    {"XDG_CONFIG_HOME, HOME",
     "Locate the config file that `rig login` writes: $XDG_CONFIG_HOME/rigs/config.json, "
     "else $HOME/.config/rigs/config.json (mode 0600, directory 0700)."},
    {NULL, NULL},
};

/* Prints s[0..n) wrapped at WIDTH; the first `tag` bytes are printed as they are, and
 * continuation lines are indented by `hang` more than the first. */
static void print_wrapped(FILE *f, const char *s, size_t n, int indent, size_t tag, size_t hang)
{
        fprintf(f, "%*s%.*s", indent, "", (int)tag, s);
        size_t col = (size_t)indent + tag, i = tag;
        bool first = true;
        while (i < n) {
                while (i < n && s[i] == ' ')
                        i++;
                /* A bracketed group such as "[--limit N]" is one word. */
                size_t start = i;
                int depth = 0;
                while (i < n && (s[i] != ' ' || depth > 0)) {
                        depth += s[i] == '[' ? 1 : s[i] == ']' ? -1 : 0;
                        i++;
                }
                size_t wlen = i - start;
                if (wlen == 0)
                        break;
                if (!first && col + 1 + wlen > WIDTH) {
                        fprintf(f, "\n%*s", indent + (int)hang, "");
                        col = (size_t)indent + hang;
                } else if (!first) {
                        fputc(' ', f);
                        col++;
                }
                fwrite(s + start, 1, wlen, f);
                col += wlen;
                first = false;
        }
        fputc('\n', f);
}

/* Prints text line by line: lines starting with two spaces verbatim, others wrapped. */
static void print_text(FILE *f, const char *text, int indent)
{
        const char *s = text;
        while (*s) {
                size_t n = strcspn(s, "\n");
                if (n == 0)
                        fputc('\n', f);
                else if (n >= 2 && s[0] == ' ' && s[1] == ' ')
                        fprintf(f, "%*s%.*s\n", indent, "", (int)n, s);
                else
                        print_wrapped(f, s, n, indent, 0, 0);
                s += n + (s[n] ? 1 : 0);
        }
}

/* "TAG  text", continuation lines indented past the tag. */
static void print_tagged(FILE *f, const char *title, const struct rig_help_opt *o)
{
        fprintf(f, "\n%s\n", title);
        for (; o->flag; o++) {
                _cleanup_free_ char *line = xasprintf("%s  %s", o->flag, o->text);
                print_wrapped(f, line, strlen(line), INDENT, strlen(o->flag) + 2,
                              strlen(o->flag) + 2);
        }
}

/* "FLAG" on its own line, text below it indented further. */
static void print_items(FILE *f, const char *title, const struct rig_help_opt *o)
{
        fprintf(f, "\n%s\n", title);
        for (; o->flag; o++) {
                fprintf(f, "%*s%s\n", INDENT, "", o->flag);
                print_text(f, o->text, INDENT + 4);
        }
}

static void print_section(FILE *f, const char *title, const char *text)
{
        fprintf(f, "\n%s\n", title);
        print_text(f, text, INDENT);
}

static void print_commands(FILE *f, const struct rig_cmd *cmd, const char *path)
{
        fprintf(f, "\nCOMMANDS\n");
        size_t w = 0;
        for (const struct rig_cmd *const *s = cmd->subs; *s; s++)
                if (strlen((*s)->name) > w)
                        w = strlen((*s)->name);
        for (const struct rig_cmd *const *s = cmd->subs; *s; s++)
                fprintf(f, "%*s%-*s  %s\n", INDENT, "", (int)w, (*s)->name, (*s)->summary);
        fprintf(f, "\n%*sRun '%s COMMAND --help' for a command's manual.\n", INDENT, "", path);
}

void cli_print_help(FILE *f, const struct rig_cmd *cmd, const char *path)
{
        const struct rig_help *h = cmd->help;
        fprintf(f, "NAME\n%*s%s - %s\n", INDENT, "", path, cmd->summary);
        if (h && h->synopsis) {
                fprintf(f, "\nSYNOPSIS\n");
                const char *s = h->synopsis;
                while (*s) {
                        size_t n = strcspn(s, "\n");
                        _cleanup_free_ char *line = xasprintf("rig %.*s", (int)n, s);
                        print_wrapped(f, line, strlen(line), INDENT, 0, 4);
                        s += n + (s[n] ? 1 : 0);
                }
        }
        if (h && h->description)
                print_section(f, "DESCRIPTION", h->description);
        if (cmd->subs)
                print_commands(f, cmd, path);
        if (h && h->options)
                print_items(f, "OPTIONS", h->options);
        if (h && h->examples)
                print_section(f, "EXAMPLES", h->examples);
        print_tagged(f, "EXIT STATUS", exit_status);
        if (h && h->talks_to_server)
                print_items(f, "ENVIRONMENT", environment);
}
