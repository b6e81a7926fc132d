/* Command-line plumbing shared by every command: option parsing, usage errors, manual pages,
 * messages, durations. */
#pragma once

#include "rig/rig.h"

#include <getopt.h>

#define CLI_OPT_HELP                                                                               \
        {                                                                                          \
                "help", no_argument, NULL, 'h'                                                     \
        }
#define CLI_OPT_JSON                                                                               \
        {                                                                                          \
                "json", no_argument, NULL, 'j'                                                     \
        }
#define CLI_OPT_END                                                                                \
        {                                                                                          \
                NULL, 0, NULL, 0                                                                   \
        }

/* getopt_long for a command: shortopts must start with ':' and contain 'h'. Handles -h/--help
 * (prints the manual, *exit = 0) and unknown or incomplete options (usage message, *exit = 2)
 * itself and then returns -1 as at the end of the options. *exit stays -1 otherwise. */
int cli_getopt(struct rig_ctx *ctx, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *exit);

/* Checks that exactly as many operands follow the options as names has words ("ORG USER").
 * Returns -1 when they do, else prints a usage message and returns RIG_EXIT_USAGE. */
int cli_operands(struct rig_ctx *ctx, int argc, char **argv, const char *names);

/* Parses a command that takes only --help, --json (when json is not NULL) and the operands
 * named in operands. Returns -1 to go on, else the exit code to return. */
int cli_simple(struct rig_ctx *ctx, int argc, char **argv, const char *operands, bool *json);

/* Prints "<command>: <message>", the synopsis and a pointer to --help on stderr; returns
 * RIG_EXIT_USAGE. */
int cli_usage(struct rig_ctx *ctx, const char *fmt, ...) _printf_(2, 3);

/* Prints "rig: <message>" on stderr. */
void cli_error(const char *fmt, ...) _printf_(1, 2);

/* Prints the manual page of cmd, whose full name is path ("rig keys create"). */
void cli_print_help(FILE *f, const struct rig_cmd *cmd, const char *path);

/* Parses "900", "900s", "15m", "12h", "30d", "2w" or sums like "1h30m" into seconds.
 * Returns 0 or -EINVAL (also for zero and overflow). */
int parse_duration(const char *s, int64_t *secs);

/* Parses a positive decimal integer no larger than max. Returns 0 or -EINVAL. */
int parse_count(const char *s, long max, long *out);
