/* What the rig commands share (cmd_rigs.c, cmd_exec.c, cmd_files.c): requests about one rig
 * whose bodies stream in or out as they go, a progress line while a call takes a while, and
 * error messages that name the rig and say what to do with it. */
#pragma once

#include "rig/rig.h"

#include "base/buf.h"

#include <jansson.h>
#include <stdio.h>

/* The commands; main lists them in its root table. */
extern const struct rig_cmd rig_cmd_create, rig_cmd_ls, rig_cmd_get, rig_cmd_start, rig_cmd_stop,
    rig_cmd_restart, rig_cmd_pause, rig_cmd_resume, rig_cmd_rm; /* cmd_rigs.c */
extern const struct rig_cmd rig_cmd_exec;                       /* cmd_exec.c */
extern const struct rig_cmd rig_cmd_cat, rig_cmd_cp;            /* cmd_files.c */
extern const struct rig_cmd rig_cmd_shell, rig_cmd_attach, rig_cmd_sessions,
    rig_cmd_creds;                                         /* cmd_shell.c */
extern const struct rig_cmd rig_cmd_apps, rig_cmd_preview; /* cmd_apps.c */

/* One connection to rigd for a command's requests (kept alive between them). */
struct rig_conn {
        struct rig_ctx *ctx;
        void *multi;       /* CURLM * */
        char *base;        /* the API's URL without trailing slashes */
        char *auth_header; /* "Authorization: Bearer ..."; wiped on close */
};

/* Opens cn with the configured URL and key (api_open's checks and messages). Returns an exit
 * code. */
int rig_conn_open(struct rig_ctx *ctx, struct rig_conn *cn);
void rig_conn_close(struct rig_conn *cn);

/* "creating rig web... 1.3s" on standard error while a call or a wait takes longer than 300 ms:
 * redrawn in place on a terminal and erased at the end, else printed once as a line. */
struct progress {
        const char *label;
        int64_t start_ms; /* monotonic */
        int64_t drawn_ds; /* the tenths of a second last drawn */
        bool shown;
};

void progress_start(struct progress *p, const char *label);
void progress_tick(struct progress *p);
void progress_end(struct progress *p);

/* What a failed request was about, for its messages. */
enum rig_req_about {
        ABOUT_RIG,  /* the rig itself: a 404 means the rig is not there */
        ABOUT_EXEC, /* a command in the rig: a 409 is explained from the rig's state */
        ABOUT_FILE, /* a file in the rig: a 404 is the rig or the file, a 409 the state */
};

struct rig_req {
        const char *method;
        const char *path;          /* starts with '/', already escaped */
        const char *accept;        /* NULL: application/json */
        const char *body;          /* JSON body, or NULL */
        FILE *upload;              /* raw body read while it is sent (with method PUT), or NULL */
        int64_t upload_size;       /* its size; -1 when unknown (sent chunked) */
        long timeout_s;            /* 0: none */
        struct progress *progress; /* ticked while waiting, or NULL */
        /* A 2xx body is handed to sink as it arrives (content_type is known by then); without
         * a sink it is kept in answer. sink returns false to abort, having said why and set
         * sink_exit. */
        bool (*sink)(struct rig_req *req, const char *p, size_t n);
        void *ud;
        const char *ref;   /* the rig as the user named it */
        const char *scope; /* the scope this needs, named on 403 */
        enum rig_req_about about;
        bool patient; /* a 429 is not an error: rig_req_run returns RIG_REQ_LATER */

        /* Filled in. */
        long status;
        char *content_type; /* of the answer, or NULL */
        struct buf answer;  /* the answer when not sunk (error answers always) */
        long retry_after;
        bool sink_failed;
        int sink_exit; /* set by a sink that fails: the exit code to return */
        void *easy;    /* CURL *, while running */
};

/* Sends req and waits for the whole answer. 2xx: RIG_EXIT_OK. Otherwise prints what went wrong
 * and what to do, and returns the exit code; or, for a patient request that was rate limited,
 * returns RIG_REQ_LATER quietly (retry_after tells when, if the server said). */
#define RIG_REQ_LATER (-2)
int rig_req_run(struct rig_conn *cn, struct rig_req *req);
void rig_req_free(struct rig_req *req);

/* Sends a JSON request about rig ref and parses the JSON object answered into *out (NULL for an
 * empty answer). Returns an exit code; errors are reported. */
int rig_json_call(struct rig_conn *cn, const char *method, const char *path, json_t *body,
                  const char *ref, const char *scope, struct progress *progress, json_t **out);

/* "/api/rigs/<escaped ref><suffix>"; caller frees. */
char *rig_path(const char *ref, const char *suffix);

/* Adds "NAME=VALUE" to the env object; false when there is no NAME before '='. */
bool rig_env_add(json_t *env, const char *kv);
