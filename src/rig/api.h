/* The CLI's edge to the Rigs API: opens the client from the config, sends JSON, and turns every
 * failure into a message that says what to do next plus an enum rig_exit. Commands call these
 * and return the code they get. */
#pragma once

#include "rig/rig.h"

#include <jansson.h>

/* Loads the config and opens ctx->http with the configured URL and key. Without a key it
 * prints how to get one and returns RIG_EXIT_UNAUTH. Idempotent. */
int api_open(struct rig_ctx *ctx);

/* Loads the config only (for commands that pick their own URL). Returns an exit code. */
int api_load_config(struct rig_ctx *ctx);

/* Replaces ctx->http with a client for url, sending key when not NULL. Returns an exit code. */
int api_open_url(struct rig_ctx *ctx, const char *url, const char *key);

struct api_call {
        const char *method;
        const char *path;   /* starts with '/', already escaped */
        json_t *body;       /* borrowed; NULL sends no body */
        const char *scope;  /* the scope this needs, named in the hint on 403; may be NULL */
        const char *on_401; /* replaces the advice printed on 401, e.g. "login failed" */
        bool quiet;         /* print nothing on failure; the caller explains */
        long status;        /* out: the HTTP status */
        json_t *json;       /* out: the parsed answer, NULL when empty; the caller decrefs */
};

/* Sends call; on a 2xx answer returns RIG_EXIT_OK, else prints why and returns the code. */
int api_call(struct rig_ctx *ctx, struct api_call *call);

/* GET path and return the parsed answer in *out. */
int api_get(struct rig_ctx *ctx, const char *path, const char *scope, json_t **out);

/* Fetches a list: path (may hold a query) with limit, following `next` while all is set (or
 * until max items). *items gets the items array; *more tells whether the server had more. */
int api_list(struct rig_ctx *ctx, const char *path, const char *scope, long limit, bool all,
             json_t **items, bool *more);

/* Resolves the org to act in: org when given, else the credential's org from /api/me. *out is
 * an escaped path segment; caller frees. */
int api_org_segment(struct rig_ctx *ctx, const char *org, char **out);

/* Frees what api_* put in ctx. */
void api_close(struct rig_ctx *ctx);
