/* The rig CLI's shared vocabulary: exit codes, the command tree and the context main owns. */
#pragma once

#include "base/util.h"

#include <stdio.h>

/* Exit codes: a contract with scripts, documented in `rig --help` and docs/cli.md. */
enum rig_exit {
        RIG_EXIT_OK = 0,        /* success */
        RIG_EXIT_REFUSED = 1,   /* the server refused the request (4xx other than 401) */
        RIG_EXIT_USAGE = 2,     /* bad command line */
        RIG_EXIT_TRANSPORT = 3, /* cannot reach the server, or a broken response */
        RIG_EXIT_SERVER = 4,    /* the server failed (5xx) */
        RIG_EXIT_UNAUTH = 5,    /* not authenticated (401, or no key at all) */
};

struct rig_ctx;

/* One option in a command's help: the flag as typed and what it does. */
struct rig_help_opt {
        const char *flag;
        const char *text;
};

/* A command's manual page. Texts are wrapped when printed; a line starting with two spaces is
 * printed as is. */
struct rig_help {
        const char *synopsis;    /* one usage line per '\n', without the leading "rig " */
        const char *description; /* paragraphs separated by "\n\n" */
        const struct rig_help_opt *options; /* terminated by {NULL, NULL} */
        const char *examples;               /* printed verbatim, one per line */
        bool talks_to_server;               /* prints ENVIRONMENT and the server exit codes */
};

/* A node of the command tree: a leaf has run, a group has subs (NULL-terminated). A leaf's run
 * gets argv[0] = its own name and returns an enum rig_exit. */
struct rig_cmd {
        const char *name;
        const char *alias; /* optional second name, e.g. "list" for "ls" */
        const char *summary;
        int (*run)(struct rig_ctx *ctx, int argc, char **argv);
        const struct rig_cmd *const *subs;
        const struct rig_help *help;
};

/* Everything one invocation owns. Created by main, passed down; no other global state. */
struct rig_ctx {
        const struct rig_cmd *cmd; /* the command being run */
        char *cmd_path;            /* "rig keys create", for messages */
        struct rig_config *cfg;    /* loaded on first use (api_open) */
        struct http_client *http;  /* created on first use */
};

/* The commands, one file per group; main lists them in its root table. Adding a command is one
 * file and one line there. */
extern const struct rig_cmd rig_cmd_login, rig_cmd_logout, rig_cmd_me; /* cmd_auth.c */
extern const struct rig_cmd rig_cmd_keys;                              /* cmd_keys.c */
extern const struct rig_cmd rig_cmd_orgs;                              /* cmd_orgs.c */
extern const struct rig_cmd rig_cmd_projects;                          /* cmd_projects.c */
extern const struct rig_cmd rig_cmd_users;                             /* cmd_users.c */
extern const struct rig_cmd rig_cmd_audit;                             /* cmd_audit.c */
