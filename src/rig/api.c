#include "rig/api.h"

#include "rig/cli.h"
#include "rig/config.h"
#include "rig/http.h"
#include "rig/output.h"

int api_load_config(struct rig_ctx *ctx)
{
        if (ctx->cfg)
                return RIG_EXIT_OK;
        struct rig_config *cfg = xcalloc(1, sizeof(*cfg));
        int r = config_load(cfg);
        if (r < 0) {
                if (r == -EBADMSG)
                        cli_error("the config file %s is not a JSON object: fix it, or delete it "
                                  "and run `rig login`",
                                  cfg->path);
                else
                        cli_error("cannot read the config file %s: %s", cfg->path, strerror(-r));
                config_free(cfg);
                free(cfg);
                return RIG_EXIT_USAGE;
        }
        if (cfg->file_too_open && cfg->key_from && streq(cfg->key_from, "the config file"))
                cli_error("warning: %s is accessible by other users; run `chmod 600 %s`", cfg->path,
                          cfg->path);
        ctx->cfg = cfg;
        return RIG_EXIT_OK;
}

int api_open_url(struct rig_ctx *ctx, const char *url, const char *key)
{
        http_client_free(ctx->http);
        ctx->http = NULL;
        if (http_client_new(url, &ctx->http) < 0) {
                cli_error("invalid server URL '%s': expected http://HOST:PORT or https://HOST",
                          url);
                return RIG_EXIT_USAGE;
        }
        http_client_set_bearer(ctx->http, key);
        return RIG_EXIT_OK;
}

static int report_no_key(struct rig_ctx *ctx)
{
        cli_error("not authenticated: run `rig login` or set RIGS_API_KEY");
        if (ctx->cfg->file_key_ignored)
                cli_error("the key in %s was saved for %s, and RIGS_URL is %s: it is only sent "
                          "to the server it was saved for",
                          ctx->cfg->path, ctx->cfg->file_url, ctx->cfg->url);
        return RIG_EXIT_UNAUTH;
}

int api_open(struct rig_ctx *ctx)
{
        if (ctx->http)
                return RIG_EXIT_OK;
        int r = api_load_config(ctx);
        if (r != RIG_EXIT_OK)
                return r;
        if (!ctx->cfg->api_key)
                return report_no_key(ctx);
        return api_open_url(ctx, ctx->cfg->url, ctx->cfg->api_key);
}

void api_close(struct rig_ctx *ctx)
{
        http_client_free(ctx->http);
        ctx->http = NULL;
        config_free(ctx->cfg);
        free(ctx->cfg);
        ctx->cfg = NULL;
}

static int report_transport(struct rig_ctx *ctx, int r, const char *detail)
{
        const char *url = http_client_url(ctx->http);
        switch (r) {
        case -ECONNREFUSED:
        case -EHOSTUNREACH:
                cli_error("cannot reach rigd at %s: is it running? start it with `rigd serve` or "
                          "set RIGS_URL (%s)",
                          url, detail);
                break;
        case -ETIMEDOUT:
                cli_error("cannot reach rigd at %s: timed out; check the address in RIGS_URL and "
                          "that rigd is running (%s)",
                          url, detail);
                break;
        case -EFBIG:
                cli_error("the answer from %s is too large; is RIGS_URL pointing at rigd?", url);
                break;
        default:
                cli_error("cannot talk to rigd at %s: %s", url, detail);
                break;
        }
        return RIG_EXIT_TRANSPORT;
}

/* The server's error message, or a cleaned-up start of the body when it sent none. */
static char *error_message(long status, json_t *json, const char *body)
{
        const char *m = json_string_value(json_path(json, "error.message"));
        if (m && *m)
                return xstrdup(m);
        if (!*body)
                return xasprintf("HTTP %ld with an empty body", status);
        _cleanup_free_ char *snip = xstrndup(body, 160);
        for (char *p = snip; *p; p++)
                if ((unsigned char)*p < 0x20)
                        *p = ' ';
        return xasprintf("HTTP %ld: %s", status, snip);
}

static int report_forbidden(const char *msg, const char *scope)
{
        cli_error("forbidden: %s", msg);
        if (scope)
                cli_error("your key lacks scope %s (or the role it needs); create a key with it: "
                          "`rig keys create NAME --scope %s`",
                          scope, scope);
        else
                cli_error("your key lacks the scope this needs; create a key with it: "
                          "`rig keys create NAME --scope SCOPE`");
        return RIG_EXIT_REFUSED;
}

static int report_status(struct rig_ctx *ctx, const struct api_call *call, json_t *json,
                         const struct http_response *resp)
{
        _cleanup_free_ char *msg = error_message(resp->status, json, resp->body.data);
        switch (resp->status) {
        case 400:
                cli_error("invalid request: %s", msg);
                return RIG_EXIT_REFUSED;
        case 401:
                if (call->on_401) {
                        cli_error("%s: %s", call->on_401, msg);
                        return RIG_EXIT_UNAUTH;
                }
                cli_error("not authenticated: run `rig login` or set RIGS_API_KEY");
                cli_error("the server refused the key from %s: %s",
                          ctx->cfg && ctx->cfg->key_from ? ctx->cfg->key_from : "the command line",
                          msg);
                return RIG_EXIT_UNAUTH;
        case 403:
                return report_forbidden(msg, call->scope);
        case 404:
                cli_error("not found: %s", msg);
                return RIG_EXIT_REFUSED;
        case 409:
                cli_error("conflict: %s", msg);
                return RIG_EXIT_REFUSED;
        case 413:
                cli_error("too large: %s", msg);
                return RIG_EXIT_REFUSED;
        case 422:
                cli_error("quota exceeded: %s", msg);
                return RIG_EXIT_REFUSED;
        case 429:
                if (resp->retry_after >= 0)
                        cli_error("rate limited: %s; retry after %ld seconds", msg,
                                  resp->retry_after);
                else
                        cli_error("rate limited: %s; retry later", msg);
                return RIG_EXIT_REFUSED;
        }
        if (resp->status >= 500) {
                cli_error("rigd failed (HTTP %ld): %s; see rigd's log", resp->status, msg);
                return RIG_EXIT_SERVER;
        }
        if (resp->status >= 400) {
                cli_error("refused (HTTP %ld): %s", resp->status, msg);
                return RIG_EXIT_REFUSED;
        }
        cli_error("unexpected answer from %s (HTTP %ld): is RIGS_URL pointing at rigd?",
                  http_client_url(ctx->http), resp->status);
        return RIG_EXIT_TRANSPORT;
}

int api_call(struct rig_ctx *ctx, struct api_call *call)
{
        call->status = 0;
        call->json = NULL;
        int r = api_open(ctx);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *body = NULL;
        if (call->body) {
                body = json_dumps(call->body, JSON_COMPACT);
                if (!body)
                        abort();
        }
        char detail[HTTP_ERRBUF_SIZE];
        struct http_response resp;
        r = http_request(ctx->http, call->method, call->path, body, &resp, detail);
        if (body)
                explicit_bzero(body, strlen(body)); /* may hold a password */
        if (r < 0)
                return call->quiet ? RIG_EXIT_TRANSPORT : report_transport(ctx, r, detail);
        call->status = resp.status;
        json_t *json = resp.body.len ? json_loadb(resp.body.data, resp.body.len, 0, NULL) : NULL;
        if (resp.status >= 200 && resp.status < 300 && (json || resp.body.len == 0)) {
                call->json = json;
                http_response_free(&resp);
                return RIG_EXIT_OK;
        }
        if (call->quiet) {
                r = resp.status >= 500   ? RIG_EXIT_SERVER
                    : resp.status == 401 ? RIG_EXIT_UNAUTH
                    : resp.status >= 400 ? RIG_EXIT_REFUSED
                                         : RIG_EXIT_TRANSPORT;
        } else if (resp.status >= 200 && resp.status < 300) {
                cli_error("the answer from %s is not JSON: is RIGS_URL pointing at rigd?",
                          http_client_url(ctx->http));
                r = RIG_EXIT_TRANSPORT;
        } else {
                r = report_status(ctx, call, json, &resp);
        }
        json_decref(json);
        http_response_free(&resp);
        return r;
}

int api_get(struct rig_ctx *ctx, const char *path, const char *scope, json_t **out)
{
        struct api_call c = {.method = "GET", .path = path, .scope = scope};
        int r = api_call(ctx, &c);
        if (r == RIG_EXIT_OK && !json_is_object(c.json)) {
                cli_error("unexpected answer to GET %s: not a JSON object", path);
                r = RIG_EXIT_TRANSPORT;
        }
        if (r != RIG_EXIT_OK) {
                json_decref(c.json);
                return r;
        }
        *out = c.json;
        return RIG_EXIT_OK;
}

/* Fetches one page; appends its items to acc and returns the next cursor (or NULL). */
static int list_page(struct rig_ctx *ctx, const char *path, const char *scope, long limit,
                     const char *cursor, json_t *acc, char **next)
{
        _cleanup_free_ char *cur = cursor ? http_escape(cursor) : NULL;
        _cleanup_free_ char *url =
            xasprintf("%s%climit=%ld%s%s", path, strchr(path, '?') ? '&' : '?', limit,
                      cur ? "&cursor=" : "", cur ? cur : "");
        _cleanup_json_ json_t *page = NULL;
        int r = api_get(ctx, url, scope, &page);
        if (r != RIG_EXIT_OK)
                return r;
        json_t *items = json_object_get(page, "items");
        if (!json_is_array(items)) {
                cli_error("unexpected answer to GET %s: no items array", path);
                return RIG_EXIT_TRANSPORT;
        }
        json_array_extend(acc, items);
        const char *n = json_str(page, "next");
        *next = n && *n ? xstrdup(n) : NULL;
        return RIG_EXIT_OK;
}

int api_list(struct rig_ctx *ctx, const char *path, const char *scope, long limit, bool all,
             json_t **items, bool *more)
{
        _cleanup_json_ json_t *acc = json_array();
        _cleanup_free_ char *cursor = NULL;
        for (;;) {
                char *next = NULL;
                int r = list_page(ctx, path, scope, limit, cursor, acc, &next);
                if (r != RIG_EXIT_OK)
                        return r;
                /* A cursor that does not move would loop for ever. */
                bool stuck = next && cursor && streq(next, cursor);
                free(cursor);
                cursor = next;
                if (!cursor || !all || stuck)
                        break;
        }
        if (more)
                *more = cursor != NULL;
        *items = TAKE_PTR(acc);
        return RIG_EXIT_OK;
}

int api_org_segment(struct rig_ctx *ctx, const char *org, char **out)
{
        if (org) {
                *out = http_escape(org);
                return RIG_EXIT_OK;
        }
        _cleanup_json_ json_t *me = NULL;
        int r = api_get(ctx, "/api/me", NULL, &me);
        if (r != RIG_EXIT_OK)
                return r;
        const char *id = json_string_value(json_path(me, "org.id"));
        if (!id) {
                cli_error("the server did not say which org this key acts in; pass --org ORG");
                return RIG_EXIT_TRANSPORT;
        }
        *out = http_escape(id);
        return RIG_EXIT_OK;
}
