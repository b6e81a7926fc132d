/* rig create, ls, get, start, stop, restart, pause, resume, rm: rigs and their lifecycle
 * (/api/rigs). Also the request layer the rig commands share (cmd_rigs.h): requests whose bodies
 * stream, a progress line while they take a while, and messages that name the rig. */
#include "rig/cmd_rigs.h"

#include "rig/api.h"
#include "rig/cli.h"
#include "rig/config.h"
#include "rig/http.h"
#include "rig/output.h"
#include "rig/prompt.h"

#include "base/timeutil.h"

#include <curl/curl.h>
#include <math.h>
#include <strings.h>

/* Answers kept in memory (JSON, error bodies) are capped; streamed ones are not. */
#define REQ_MAX_BODY (64u * 1024 * 1024)
/* How long `rig create` waits for a rig to leave `creating`. */
#define CREATE_WAIT_MS (10 * 60 * 1000)
#define POLL_MS        100
#define PROGRESS_MS    300
/* A lifecycle call waits for the runtime; beyond this rigd is stuck. Streams have no limit. */
#define JSON_CALL_TIMEOUT_S 600L

/* ---- connection ---- */

int rig_conn_open(struct rig_ctx *ctx, struct rig_conn *cn)
{
        *cn = (struct rig_conn){.ctx = ctx};
        int r = api_open(ctx);
        if (r != RIG_EXIT_OK)
                return r;
        cn->multi = curl_multi_init();
        if (!cn->multi)
                abort();
        cn->base = xstrdup(http_client_url(ctx->http));
        cn->auth_header = xasprintf("Authorization: Bearer %s", ctx->cfg->api_key);
        return RIG_EXIT_OK;
}

void rig_conn_close(struct rig_conn *cn)
{
        if (cn->multi)
                curl_multi_cleanup(cn->multi);
        if (cn->auth_header)
                explicit_bzero(cn->auth_header, strlen(cn->auth_header));
        free(cn->auth_header);
        free(cn->base);
        *cn = (struct rig_conn){0};
}

/* ---- progress ---- */

void progress_start(struct progress *p, const char *label)
{
        *p = (struct progress){.label = label, .start_ms = mono_ms()};
}

void progress_tick(struct progress *p)
{
        if (!p || !p->label)
                return;
        int64_t ms = mono_ms() - p->start_ms;
        if (ms < PROGRESS_MS)
                return;
        if (isatty(STDERR_FILENO)) {
                if (p->shown && ms / 100 == p->drawn_ds)
                        return;
                p->drawn_ds = ms / 100;
                fprintf(stderr, "\r%s... %lld.%llds\033[K", p->label, (long long)(ms / 1000),
                        (long long)(ms / 100 % 10));
        } else if (!p->shown) {
                fprintf(stderr, "%s...\n", p->label);
        }
        p->shown = true;
}

void progress_end(struct progress *p)
{
        if (!p || !p->label)
                return;
        if (p->shown && isatty(STDERR_FILENO))
                fputs("\r\033[K", stderr);
        p->label = NULL;
}

/* ---- requests ---- */

static size_t on_write(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct rig_req *x = userdata;
        size_t n = size * nmemb;
        if (!x->status) {
                char *ct = NULL;
                curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
                if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
                        x->content_type = xstrdup(ct);
        }
        if (x->sink && x->status >= 200 && x->status < 300) {
                if (!x->sink(x, p, n)) {
                        x->sink_failed = true;
                        return 0;
                }
                return n;
        }
        if (x->answer.len + n > REQ_MAX_BODY)
                return 0;
        buf_append(&x->answer, p, n);
        return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct rig_req *x = userdata;
        size_t n = size * nmemb;
        static const char name[] = "retry-after:";
        if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
                char tmp[32];
                size_t len = n - (sizeof(name) - 1);
                if (len >= sizeof(tmp))
                        len = sizeof(tmp) - 1;
                memcpy(tmp, p + sizeof(name) - 1, len);
                tmp[len] = '\0';
                char *end;
                long v = strtol(tmp, &end, 10);
                if (end != tmp && v >= 0)
                        x->retry_after = v;
        }
        return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct rig_req *x = userdata;
        size_t n = fread(p, 1, size * nmemb, x->upload);
        if (n == 0 && ferror(x->upload))
                return CURL_READFUNC_ABORT;
        return n;
}

static struct curl_slist *req_headers(struct rig_conn *cn, const struct rig_req *x)
{
        struct curl_slist *h = NULL;
        _cleanup_free_ char *accept =
            xasprintf("Accept: %s", x->accept ? x->accept : "application/json");
        h = curl_slist_append(h, accept);
        if (x->body)
                h = curl_slist_append(h, "Content-Type: application/json");
        else if (x->upload)
                h = curl_slist_append(h, "Content-Type: application/octet-stream");
        /* No "Expect: 100-continue": rigd answers at once, and uploads go straight on. */
        h = curl_slist_append(h, "Expect:");
        h = curl_slist_append(h, cn->auth_header);
        if (!h)
                abort();
        return h;
}

static void req_headers_free(struct curl_slist *h)
{
        for (struct curl_slist *i = h; i; i = i->next)
                explicit_bzero(i->data, strlen(i->data));
        curl_slist_free_all(h);
}

static void req_setopts(CURL *h, const char *url, struct rig_req *x, char *errbuf)
{
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, x->timeout_s);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "rig/" RIGS_VERSION);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
        if (x->upload) {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(h, CURLOPT_READDATA, x);
                if (x->upload_size >= 0)
                        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->upload_size);
        } else if (x->body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
        } else if (streq(x->method, "GET")) {
                curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        }
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
}

/* Runs x to its end on the connection's multi handle, ticking the progress line meanwhile.
 * Returns curl's verdict; x->status is the HTTP status when an answer arrived. */
static CURLcode req_perform(struct rig_conn *cn, struct rig_req *x, char *errbuf)
{
        buf_free(&x->answer);
        free(x->content_type);
        x->content_type = NULL;
        x->status = 0;
        x->retry_after = -1;
        x->sink_failed = false;
        CURL *h = curl_easy_init();
        if (!h)
                abort();
        x->easy = h;
        _cleanup_free_ char *url = xasprintf("%s%s", cn->base, x->path);
        struct curl_slist *headers = req_headers(cn, x);
        errbuf[0] = '\0';
        req_setopts(h, url, x, errbuf);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        CURLcode rc = CURLE_FAILED_INIT;
        CURLMcode mc = curl_multi_add_handle(cn->multi, h);
        int running = 1;
        while (mc == CURLM_OK) {
                mc = curl_multi_perform(cn->multi, &running);
                if (mc != CURLM_OK || !running)
                        break;
                progress_tick(x->progress);
                mc = curl_multi_poll(cn->multi, NULL, 0, x->progress ? 50 : 1000, NULL);
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(cn->multi, &left)))
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
                        rc = msg->data.result;
        if (rc == CURLE_OK) {
                long st = 0;
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
                x->status = st;
                char *ct = NULL;
                if (!x->content_type &&
                    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
                        x->content_type = xstrdup(ct);
        }
        curl_multi_remove_handle(cn->multi, h);
        curl_easy_cleanup(h);
        x->easy = NULL;
        req_headers_free(headers);
        return rc;
}

void rig_req_free(struct rig_req *x)
{
        buf_free(&x->answer);
        free(x->content_type);
        x->content_type = NULL;
}

char *rig_path(const char *ref, const char *suffix)
{
        _cleanup_free_ char *seg = http_escape(ref);
        return xasprintf("/api/rigs/%s%s", seg, suffix ? suffix : "");
}

/* The rig's state as the server sees it now, without reporting anything: NULL when it cannot be
 * told, "" when the rig is not there. Caller frees. */
static char *quiet_state(struct rig_conn *cn, const char *ref)
{
        _cleanup_free_ char *path = rig_path(ref, NULL);
        struct rig_req x = {.method = "GET", .path = path, .timeout_s = 30};
        char errbuf[CURL_ERROR_SIZE];
        char *state = NULL;
        if (req_perform(cn, &x, errbuf) == CURLE_OK) {
                if (x.status == 404) {
                        state = xstrdup("");
                } else if (x.status == 200) {
                        json_t *j =
                            json_loadb(x.answer.data ? x.answer.data : "", x.answer.len, 0, NULL);
                        if (json_str(j, "state"))
                                state = xstrdup(json_str(j, "state"));
                        json_decref(j);
                }
        }
        rig_req_free(&x);
        return state;
}

static void report_missing_rig(const char *ref)
{
        cli_error("no rig '%s' here: `rig ls` lists your rigs", ref);
        if (strncmp(ref, "rig_", 4) != 0)
                cli_error("a name is looked up in your key's project, else in project default; "
                          "use the id (rig_...) for a rig in another project");
}

/* A 409 on exec or files: say what state the rig is in and what brings it back. */
static bool explain_state(struct rig_conn *cn, const struct rig_req *x)
{
        _cleanup_free_ char *state = quiet_state(cn, x->ref);
        if (!state)
                return false;
        if (!*state) {
                report_missing_rig(x->ref);
        } else if (streq(state, "stopped") || streq(state, "error")) {
                cli_error("rig %s is %s: start it with `rig start %s`", x->ref, state, x->ref);
        } else if (streq(state, "paused") && x->about == ABOUT_EXEC) {
                cli_error("rig %s is paused: resume it with `rig resume %s`", x->ref, x->ref);
        } else if (streq(state, "creating")) {
                cli_error("rig %s is still being created: wait until `rig get %s` says running",
                          x->ref, x->ref);
        } else {
                return false;
        }
        return true;
}

static char *error_message(const struct rig_req *x, json_t *json)
{
        const char *m = json_string_value(json_path(json, "error.message"));
        if (m && *m)
                return xstrdup(m);
        if (!x->answer.len)
                return xasprintf("HTTP %ld with an empty body", x->status);
        _cleanup_free_ char *snip = xstrndup(x->answer.data, 160);
        for (char *p = snip; *p; p++)
                if ((unsigned char)*p < 0x20)
                        *p = ' ';
        return xasprintf("HTTP %ld: %s", x->status, snip);
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

static int report_4xx(struct rig_conn *cn, const struct rig_req *x, json_t *json, const char *msg)
{
        const char *code = json_string_value(json_path(json, "error.code"));
        switch (x->status) {
        case 400:
                if (streq_ptr(code, "invalid_path"))
                        cli_error("invalid path: %s", msg);
                else
                        cli_error("invalid request: %s", msg);
                return RIG_EXIT_REFUSED;
        case 401: {
                const struct rig_config *cfg = cn->ctx->cfg;
                cli_error("not authenticated: run `rig login` or set RIGS_API_KEY");
                cli_error("the server refused the key from %s: %s",
                          cfg && cfg->key_from ? cfg->key_from : "the command line", msg);
                return RIG_EXIT_UNAUTH;
        }
        case 403:
                return report_forbidden(msg, x->scope);
        case 404:
                if (x->ref && x->about == ABOUT_RIG) {
                        report_missing_rig(x->ref);
                        return RIG_EXIT_REFUSED;
                }
                if (x->ref) {
                        _cleanup_free_ char *state = quiet_state(cn, x->ref);
                        if (state && !*state) {
                                report_missing_rig(x->ref);
                                return RIG_EXIT_REFUSED;
                        }
                }
                cli_error("not found: %s", msg);
                return RIG_EXIT_REFUSED;
        case 409:
                if (!(x->ref && x->about != ABOUT_RIG && explain_state(cn, x)))
                        cli_error("conflict: %s", msg);
                return RIG_EXIT_REFUSED;
        case 413:
                cli_error("too large: %s", msg);
                return RIG_EXIT_REFUSED;
        case 422:
                cli_error("quota exceeded: %s", msg);
                return RIG_EXIT_REFUSED;
        case 429:
                if (x->retry_after >= 0)
                        cli_error("rate limited: %s; retry after %ld seconds", msg, x->retry_after);
                else
                        cli_error("rate limited: %s; retry later", msg);
                return RIG_EXIT_REFUSED;
        default:
                cli_error("refused (HTTP %ld): %s", x->status, msg);
                return RIG_EXIT_REFUSED;
        }
}

static int report_status(struct rig_conn *cn, const struct rig_req *x)
{
        _cleanup_json_ json_t *json =
            x->answer.len ? json_loadb(x->answer.data, x->answer.len, 0, NULL) : NULL;
        _cleanup_free_ char *msg = error_message(x, json);
        if (x->status >= 400 && x->status < 500)
                return report_4xx(cn, x, json, msg);
        if (x->status == 503) {
                cli_error("rigd cannot run rigs right now (HTTP 503): %s; see rigd's log", msg);
                return RIG_EXIT_SERVER;
        }
        if (x->status >= 500) {
                cli_error("rigd failed (HTTP %ld): %s; see rigd's log", x->status, msg);
                return RIG_EXIT_SERVER;
        }
        cli_error("unexpected answer from %s (HTTP %ld): is RIGS_URL pointing at rigd?", cn->base,
                  x->status);
        return RIG_EXIT_TRANSPORT;
}

static int report_transport(struct rig_conn *cn, struct rig_req *x, CURLcode rc, const char *errbuf)
{
        const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                cli_error("cannot reach rigd at %s: is it running? start it with `rigd serve` or "
                          "set RIGS_URL (%s)",
                          cn->base, detail);
                break;
        case CURLE_OPERATION_TIMEDOUT:
                cli_error("rigd at %s did not answer in time: check that it is running and "
                          "RIGS_URL (%s)",
                          cn->base, detail);
                break;
        case CURLE_WRITE_ERROR:
                cli_error("the answer from %s is too large; is RIGS_URL pointing at rigd?",
                          cn->base);
                break;
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_READ_ERROR:
                cli_error("cannot read the data to send: %s", strerror(errno ? errno : EIO));
                return RIG_EXIT_USAGE;
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
                cli_error("the connection to rigd at %s broke: %s", cn->base, detail);
                break;
        default:
                cli_error("cannot talk to rigd at %s: %s", cn->base, detail);
                break;
        }
        return RIG_EXIT_TRANSPORT;
}

int rig_req_run(struct rig_conn *cn, struct rig_req *x)
{
        char errbuf[CURL_ERROR_SIZE];
        x->sink_exit = RIG_EXIT_OK;
        CURLcode rc = req_perform(cn, x, errbuf);
        if (x->sink_failed) {
                progress_end(x->progress);
                return x->sink_exit != RIG_EXIT_OK ? x->sink_exit : RIG_EXIT_USAGE;
        }
        if (rc == CURLE_OK && x->status >= 200 && x->status < 300)
                return RIG_EXIT_OK;
        if (rc == CURLE_OK && x->status == 429 && x->patient)
                return RIG_REQ_LATER;
        progress_end(x->progress);
        if (rc != CURLE_OK)
                return report_transport(cn, x, rc, errbuf);
        return report_status(cn, x);
}

int rig_json_call(struct rig_conn *cn, const char *method, const char *path, json_t *body,
                  const char *ref, const char *scope, struct progress *progress, json_t **out)
{
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (body && !text)
                abort();
        struct rig_req x = {
            .method = method,
            .path = path,
            .body = text,
            .timeout_s = JSON_CALL_TIMEOUT_S,
            .progress = progress,
            .ref = ref,
            .scope = scope,
            .about = ABOUT_RIG,
        };
        *out = NULL;
        int r = rig_req_run(cn, &x);
        if (r == RIG_EXIT_OK && x.answer.len) {
                *out = json_loadb(x.answer.data, x.answer.len, 0, NULL);
                if (!json_is_object(*out)) {
                        json_decref(*out);
                        *out = NULL;
                        progress_end(progress);
                        cli_error("the answer to %s %s from %s is not a JSON object: is RIGS_URL "
                                  "pointing at rigd?",
                                  method, path, cn->base);
                        r = RIG_EXIT_TRANSPORT;
                }
        }
        rig_req_free(&x);
        return r;
}

/* ---- display ---- */

static char *fmt_cpus(json_t *v)
{
        if (!json_is_number(v))
                return xstrdup("-");
        return xasprintf("%g", json_number_value(v));
}

static char *fmt_mb(json_t *v)
{
        if (!json_is_integer(v))
                return xstrdup("-");
        json_int_t mb = json_integer_value(v);
        if (mb >= 1024 && mb % 1024 == 0)
                return xasprintf("%lldG", (long long)(mb / 1024));
        return xasprintf("%lldM", (long long)mb);
}

static char *fmt_age(json_t *v)
{
        const char *s = json_string_value(v);
        int64_t t;
        if (!s || parse_rfc3339(s, strlen(s), &t) < 0)
                return xstrdup("-");
        int64_t d = now_ms() / 1000 - t;
        if (d < 0)
                d = 0;
        if (d < 120)
                return xasprintf("%llds", (long long)d);
        if (d < 2 * 3600)
                return xasprintf("%lldm", (long long)(d / 60));
        if (d < 2 * 86400)
                return xasprintf("%lldh", (long long)(d / 3600));
        return xasprintf("%lldd", (long long)(d / 86400));
}

static char *fmt_egress(json_t *v)
{
        if (json_is_string(v))
                return xstrdup(json_string_value(v));
        json_t *allow = json_object_get(v, "allow");
        if (json_is_array(allow)) {
                _cleanup_free_ char *list = json_display(allow);
                return xasprintf("allow %s", list);
        }
        return json_display(v);
}

/* Sets key in view to s (taking it) for print_fields. */
static void view_set(json_t *view, const char *key, char *s)
{
        json_object_set_new(view, key, json_string(s ? s : "-"));
        free(s);
}

/* Prints a rig: the short form after create, else every field; project_name, when known, is
 * shown beside the project's id. */
static void print_rig(json_t *rig, bool full, const char *project_name)
{
        _cleanup_json_ json_t *view = json_object();
        json_t *res = json_object_get(rig, "resources");
        static const char *const short_keys[] = {"id", "name", "state", "network.ip"};
        static const char *const short_labels[] = {"id", "name", "state", "ip"};
        if (!full) {
                print_fields(stdout, rig, short_labels, short_keys, ARRAY_SIZE(short_keys));
                return;
        }
        static const char *const keys[] = {
            "id",        "name",    "state",      "error",   "org",       "project", "template",
            "stateless", "cpus",    "memory",     "disk",    "processes", "egress",  "ip",
            "ttl",       "expires", "auto_sleep", "created", "created_by"};
        static const char *const labels[] = {
            "id",        "name",    "state",      "error",   "org",       "project", "template",
            "stateless", "cpus",    "memory",     "disk",    "processes", "egress",  "ip",
            "ttl",       "expires", "auto-sleep", "created", "created by"};
        static const char *const copied[] = {"id",      "name",     "state",     "error",     "org",
                                             "project", "template", "stateless", "created_by"};
        for (size_t i = 0; i < ARRAY_SIZE(copied); i++)
                view_set(view, copied[i], json_display(json_object_get(rig, copied[i])));
        if (project_name && json_str(rig, "project"))
                view_set(view, "project",
                         xasprintf("%s (%s)", project_name, json_str(rig, "project")));
        view_set(view, "cpus", fmt_cpus(json_object_get(res, "cpus")));
        view_set(view, "memory", fmt_mb(json_object_get(res, "memory_mb")));
        view_set(view, "disk", fmt_mb(json_object_get(res, "disk_mb")));
        view_set(view, "processes", json_display(json_object_get(res, "max_processes")));
        view_set(view, "egress", fmt_egress(json_path(rig, "network.egress")));
        view_set(view, "ip", json_display(json_path(rig, "network.ip")));
        json_t *ttl = json_object_get(rig, "ttl_s");
        view_set(view, "ttl",
                 json_is_integer(ttl) ? xasprintf("%llds", (long long)json_integer_value(ttl))
                                      : NULL);
        view_set(view, "expires", json_display(json_object_get(rig, "expires_at")));
        json_t *sleep = json_object_get(rig, "auto_sleep_s");
        view_set(view, "auto_sleep",
                 json_is_integer(sleep) && json_integer_value(sleep) > 0
                     ? xasprintf("after %llds idle", (long long)json_integer_value(sleep))
                     : NULL);
        _cleanup_free_ char *age = fmt_age(json_object_get(rig, "created_at"));
        _cleanup_free_ char *at = json_display(json_object_get(rig, "created_at"));
        view_set(view, "created", xasprintf("%s (%s ago)", at, age));
        /* No "error" line for a rig without one. */
        const char *k[ARRAY_SIZE(keys)], *l[ARRAY_SIZE(keys)];
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                if (streq(keys[i], "error") && !json_str(rig, "error"))
                        continue;
                k[n] = keys[i];
                l[n++] = labels[i];
        }
        print_fields(stdout, view, l, k, n);
}

/* ---- create ---- */

struct create_opts {
        const char *project;
        bool stateless, no_wait, json;
        double cpus;
        long memory, processes, disk;
        json_t *egress; /* string or {"allow": [...]} */
        json_t *env;
        int64_t ttl;
        int64_t auto_sleep; /* -1: not given */
};

bool rig_env_add(json_t *env, const char *kv)
{
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
                return false;
        _cleanup_free_ char *k = xstrndup(kv, (size_t)(eq - kv));
        json_object_set_new(env, k, json_string(eq + 1));
        return true;
}

/* "open", "none", or a comma-separated list of CIDRs and host names. */
static json_t *parse_egress(const char *s)
{
        if (streq(s, "open") || streq(s, "none"))
                return json_string(s);
        json_t *allow = json_array();
        const char *p = s;
        for (;;) {
                size_t n = strcspn(p, ",");
                if (n == 0) {
                        json_decref(allow);
                        return NULL;
                }
                json_array_append_new(allow, json_stringn(p, n));
                if (!p[n])
                        break;
                p += n + 1;
        }
        return json_pack("{s:o}", "allow", allow);
}

static int create_parse(struct rig_ctx *ctx, int argc, char **argv, struct create_opts *o)
{
        static const struct option opts[] = {
            {"project", required_argument, NULL, 'p'},
            {"stateless", no_argument, NULL, 'S'},
            {"cpus", required_argument, NULL, 'c'},
            {"memory", required_argument, NULL, 'm'},
            {"max-processes", required_argument, NULL, 'P'},
            {"disk", required_argument, NULL, 'd'},
            {"egress", required_argument, NULL, 'E'},
            {"env", required_argument, NULL, 'e'},
            {"ttl", required_argument, NULL, 't'},
            {"auto-sleep", required_argument, NULL, 'A'},
            {"no-wait", no_argument, NULL, 'W'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        int c, ex;
        char *end;
        while ((c = cli_getopt(ctx, argc, argv, ":hjp:e:", opts, &ex)) != -1) {
                switch (c) {
                case 'p':
                        o->project = optarg;
                        break;
                case 'S':
                        o->stateless = true;
                        break;
                case 'c':
                        errno = 0;
                        o->cpus = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !isfinite(o->cpus) || o->cpus <= 0)
                                return cli_usage(ctx,
                                                 "invalid --cpus '%s': use a number of CPUs "
                                                 "such as 0.5, 1 or 2",
                                                 optarg);
                        break;
                case 'm':
                        if (parse_count(optarg, 1L << 30, &o->memory) < 0)
                                return cli_usage(ctx, "invalid --memory '%s': use MiB, e.g. 512",
                                                 optarg);
                        break;
                case 'P':
                        if (parse_count(optarg, 1L << 30, &o->processes) < 0)
                                return cli_usage(ctx,
                                                 "invalid --max-processes '%s': use a count "
                                                 "such as 256",
                                                 optarg);
                        break;
                case 'd':
                        if (parse_count(optarg, 1L << 30, &o->disk) < 0)
                                return cli_usage(ctx, "invalid --disk '%s': use MiB, e.g. 4096",
                                                 optarg);
                        break;
                case 'E':
                        json_decref(o->egress);
                        o->egress = parse_egress(optarg);
                        if (!o->egress)
                                return cli_usage(ctx,
                                                 "invalid --egress '%s': use open, none, or a "
                                                 "comma-separated list of CIDRs and host names",
                                                 optarg);
                        break;
                case 'e':
                        if (!rig_env_add(o->env, optarg))
                                return cli_usage(ctx, "invalid --env '%s': use NAME=VALUE", optarg);
                        break;
                case 't':
                        if (parse_duration(optarg, &o->ttl) < 0)
                                return cli_usage(ctx,
                                                 "invalid --ttl '%s': use a duration like 30m, "
                                                 "12h or 7d",
                                                 optarg);
                        break;
                case 'A':
                        if (!strcmp(optarg, "off") || !strcmp(optarg, "0"))
                                o->auto_sleep = 0;
                        else if (parse_duration(optarg, &o->auto_sleep) < 0)
                                return cli_usage(ctx,
                                                 "invalid --auto-sleep '%s': use a duration like "
                                                 "10m or 1h, or off",
                                                 optarg);
                        break;
                case 'W':
                        o->no_wait = true;
                        break;
                case 'j':
                        o->json = true;
                        break;
                }
        }
        if (ex >= 0)
                return ex;
        return cli_operands(ctx, argc, argv, "NAME");
}

static json_t *create_body(const char *name, const struct create_opts *o)
{
        json_t *body = json_pack("{s:s}", "name", name);
        if (o->project)
                json_object_set_new(body, "project", json_string(o->project));
        if (o->stateless)
                json_object_set_new(body, "stateless", json_true());
        json_t *res = json_object();
        if (o->cpus > 0)
                json_object_set_new(res, "cpus", json_real(o->cpus));
        if (o->memory)
                json_object_set_new(res, "memory_mb", json_integer(o->memory));
        if (o->processes)
                json_object_set_new(res, "max_processes", json_integer(o->processes));
        if (o->disk)
                json_object_set_new(res, "disk_mb", json_integer(o->disk));
        if (json_object_size(res))
                json_object_set_new(body, "resources", res);
        else
                json_decref(res);
        if (o->egress)
                json_object_set_new(body, "network", json_pack("{s:O}", "egress", o->egress));
        if (json_object_size(o->env))
                json_object_set(body, "env", o->env);
        if (o->ttl)
                json_object_set_new(body, "ttl_s", json_integer(o->ttl));
        if (o->auto_sleep >= 0)
                json_object_set_new(body, "auto_sleep_s", json_integer(o->auto_sleep));
        return body;
}

/* Polls the new rig until it leaves `creating`; *rig is replaced by the latest answer. */
static int wait_created(struct rig_conn *cn, const char *name, struct progress *pg, json_t **rig)
{
        const char *id = json_str(*rig, "id");
        if (!id) {
                progress_end(pg);
                cli_error("the server's answer names no rig id; see `rig ls`");
                return RIG_EXIT_TRANSPORT;
        }
        _cleanup_free_ char *ref = xstrdup(id);
        _cleanup_free_ char *path = rig_path(ref, NULL);
        long pause_ms = POLL_MS;
        while (streq_ptr(json_str(*rig, "state"), "creating")) {
                if (mono_ms() - pg->start_ms > CREATE_WAIT_MS) {
                        progress_end(pg);
                        cli_error("rig %s is still being created after %d minutes: check it with "
                                  "`rig get %s`",
                                  name, CREATE_WAIT_MS / 60000, name);
                        return RIG_EXIT_SERVER;
                }
                /* Sleep in ticks so that the progress line keeps moving. */
                int64_t until = mono_ms() + pause_ms;
                while (mono_ms() < until) {
                        progress_tick(pg);
                        usleep(20 * 1000);
                }
                struct rig_req x = {
                    .method = "GET",
                    .path = path,
                    .timeout_s = 60,
                    .progress = pg,
                    .ref = ref,
                    .scope = "rigs:instances:read",
                    .about = ABOUT_RIG,
                    .patient = true,
                };
                int r = rig_req_run(cn, &x);
                /* Rate limited: ask again when the server says, not every 100 ms. */
                pause_ms = r == RIG_REQ_LATER ? (x.retry_after > 0 ? x.retry_after * 1000 : 1000)
                                              : POLL_MS;
                json_t *next = r == RIG_EXIT_OK && x.answer.len
                                   ? json_loadb(x.answer.data, x.answer.len, 0, NULL)
                                   : NULL;
                rig_req_free(&x);
                if (r == RIG_REQ_LATER)
                        continue;
                if (r != RIG_EXIT_OK)
                        return r;
                if (!json_is_object(next)) {
                        json_decref(next);
                        progress_end(pg);
                        cli_error("the answer to GET %s is not a JSON object: is RIGS_URL "
                                  "pointing at rigd?",
                                  path);
                        return RIG_EXIT_TRANSPORT;
                }
                json_decref(*rig);
                *rig = next;
        }
        return RIG_EXIT_OK;
}

static void create_opts_free(struct create_opts *o)
{
        json_decref(o->egress);
        json_decref(o->env);
}

static int cmd_create(struct rig_ctx *ctx, int argc, char **argv)
{
        _cleanup_(create_opts_free) struct create_opts o = {.env = json_object(), .auto_sleep = -1};
        int r = create_parse(ctx, argc, argv, &o);
        if (r >= 0)
                return r;
        const char *name = argv[optind];
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_json_ json_t *body = create_body(name, &o);
        _cleanup_free_ char *label = xasprintf("creating rig %s", name);
        struct progress pg;
        progress_start(&pg, label);
        _cleanup_json_ json_t *rig = NULL;
        r = rig_json_call(&cn, "POST", "/api/rigs", body, NULL, "rigs:instances:create", &pg, &rig);
        if (r == RIG_EXIT_OK && !rig) {
                progress_end(&pg);
                cli_error("empty answer to POST /api/rigs: is RIGS_URL pointing at rigd?");
                r = RIG_EXIT_TRANSPORT;
        }
        if (r == RIG_EXIT_OK && !o.no_wait)
                r = wait_created(&cn, name, &pg, &rig);
        progress_end(&pg);
        if (r != RIG_EXIT_OK)
                return r;
        if (o.json)
                print_json(stdout, rig);
        else
                print_rig(rig, false, NULL);
        if (streq_ptr(json_str(rig, "state"), "error")) {
                fflush(stdout);
                cli_error("rig %s failed to start: %s", name,
                          json_str(rig, "error") ? json_str(rig, "error") : "see rigd's log");
                cli_error("look at it with `rig get %s`, retry with `rig start %s`, or remove it "
                          "with `rig rm %s`",
                          name, name, name);
                return RIG_EXIT_SERVER;
        }
        return RIG_EXIT_OK;
}

/* ---- ls, get ---- */

/* Project ids to names, from the org's project list; NULL when it cannot be read. */
static json_t *project_names(struct rig_ctx *ctx, const char *org)
{
        if (!org)
                return NULL;
        _cleanup_free_ char *seg = http_escape(org);
        _cleanup_free_ char *path = xasprintf("/api/orgs/%s/projects?limit=500", seg);
        struct api_call call = {.method = "GET", .path = path, .quiet = true};
        if (api_call(ctx, &call) != RIG_EXIT_OK) {
                json_decref(call.json);
                return NULL;
        }
        json_t *names = json_object();
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(call.json, "items"), i, p)
        {
                if (json_str(p, "id") && json_str(p, "name"))
                        json_object_set_new(names, json_str(p, "id"),
                                            json_string(json_str(p, "name")));
        }
        json_decref(call.json);
        return names;
}

static int cmd_ls(struct rig_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
            {"project", required_argument, NULL, 'p'},
            {"all", no_argument, NULL, 'A'},
            CLI_OPT_JSON,
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        const char *project = NULL;
        bool all = false, json = false;
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hjp:", opts, &ex)) != -1) {
                if (c == 'p')
                        project = optarg;
                else if (c == 'A')
                        all = true;
                else if (c == 'j')
                        json = true;
        }
        if (ex >= 0)
                return ex;
        int r = cli_operands(ctx, argc, argv, "");
        if (r >= 0)
                return r;
        _cleanup_free_ char *path = NULL;
        if (project) {
                _cleanup_free_ char *p = http_escape(project);
                path = xasprintf("/api/rigs?project=%s", p);
        } else {
                path = xstrdup("/api/rigs");
        }
        _cleanup_json_ json_t *items = NULL;
        bool more = false;
        r = api_list(ctx, path, "rigs:instances:read", all ? 500 : 100, all, &items, &more);
        if (r != RIG_EXIT_OK)
                return r;
        if (json) {
                r = print_listing(items, true, NULL, NULL, 0);
        } else {
                static const char *const headers[] = {"NAME", "ID",     "STATE", "PROJECT",
                                                      "CPUS", "MEMORY", "IP",    "AGE"};
                _cleanup_json_ json_t *names =
                    json_array_size(items)
                        ? project_names(ctx, json_str(json_array_get(items, 0), "org"))
                        : NULL;
                _cleanup_table_ struct table t;
                table_init(&t, ARRAY_SIZE(headers), headers);
                size_t i;
                json_t *rig;
                json_array_foreach(items, i, rig)
                {
                        json_t *res = json_object_get(rig, "resources");
                        json_t *prj = json_object_get(rig, "project");
                        json_t *pname = json_object_get(names, json_string_value(prj) ?: "");
                        char *cells[] = {
                            json_display(json_object_get(rig, "name")),
                            json_display(json_object_get(rig, "id")),
                            json_display(json_object_get(rig, "state")),
                            json_display(pname ? pname : prj),
                            fmt_cpus(json_object_get(res, "cpus")),
                            fmt_mb(json_object_get(res, "memory_mb")),
                            json_display(json_path(rig, "network.ip")),
                            fmt_age(json_object_get(rig, "created_at")),
                        };
                        table_add_row(&t, cells);
                }
                table_print(&t, stdout);
        }
        if (r == RIG_EXIT_OK && more) {
                fflush(stdout);
                cli_error("there are more rigs than these: use --all to list them all");
        }
        return r;
}

static int cmd_get(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "NAME|ID", &json);
        if (r >= 0)
                return r;
        const char *ref = argv[optind];
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *path = rig_path(ref, NULL);
        _cleanup_json_ json_t *rig = NULL;
        r = rig_json_call(&cn, "GET", path, NULL, ref, "rigs:instances:read", NULL, &rig);
        if (r != RIG_EXIT_OK)
                return r;
        if (!rig) {
                cli_error("empty answer to GET %s: is RIGS_URL pointing at rigd?", path);
                return RIG_EXIT_TRANSPORT;
        }
        if (json) {
                print_json(stdout, rig);
        } else {
                _cleanup_json_ json_t *names = project_names(ctx, json_str(rig, "org"));
                print_rig(
                    rig, true,
                    json_string_value(json_object_get(names, json_str(rig, "project") ?: "")));
        }
        return RIG_EXIT_OK;
}

/* ---- lifecycle ---- */

struct action {
        const char *name; /* the path segment and command */
        const char *ing;  /* "starting" */
};

static const struct action actions[] = {
    {"start", "starting"}, {"stop", "stopping"},   {"restart", "restarting"},
    {"pause", "pausing"},  {"resume", "resuming"},
};

static int run_action(struct rig_ctx *ctx, int argc, char **argv, const struct action *a)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "NAME|ID", &json);
        if (r >= 0)
                return r;
        const char *ref = argv[optind];
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *suffix = xasprintf("/%s", a->name);
        _cleanup_free_ char *path = rig_path(ref, suffix);
        _cleanup_free_ char *label = xasprintf("%s rig %s", a->ing, ref);
        struct progress pg;
        progress_start(&pg, label);
        _cleanup_json_ json_t *rig = NULL;
        r = rig_json_call(&cn, "POST", path, NULL, ref, "rigs:instances:control", &pg, &rig);
        progress_end(&pg);
        if (r != RIG_EXIT_OK)
                return r;
        if (json && rig)
                print_json(stdout, rig);
        else
                printf("rig %s is %s.\n", json_str(rig, "name") ? json_str(rig, "name") : ref,
                       json_str(rig, "state") ? json_str(rig, "state") : "changed");
        return RIG_EXIT_OK;
}

static int cmd_start(struct rig_ctx *ctx, int argc, char **argv)
{
        return run_action(ctx, argc, argv, &actions[0]);
}

static int cmd_stop(struct rig_ctx *ctx, int argc, char **argv)
{
        return run_action(ctx, argc, argv, &actions[1]);
}

static int cmd_restart(struct rig_ctx *ctx, int argc, char **argv)
{
        return run_action(ctx, argc, argv, &actions[2]);
}

static int cmd_pause(struct rig_ctx *ctx, int argc, char **argv)
{
        return run_action(ctx, argc, argv, &actions[3]);
}

static int cmd_resume(struct rig_ctx *ctx, int argc, char **argv)
{
        return run_action(ctx, argc, argv, &actions[4]);
}

/* ---- rm ---- */

/* Asks on a terminal; true to go on. Without a terminal there is no one to ask. */
static bool confirm_delete(const char *ref)
{
        _cleanup_free_ char *q =
            xasprintf("Delete rig %s? Its processes and files are destroyed. [y/N] ", ref);
        char *answer = NULL;
        int r = prompt_line(q, true, false, &answer);
        if (r == -ENOTTY)
                return true;
        bool yes =
            r == 0 && (streq(answer, "y") || streq(answer, "Y") || strcasecmp(answer, "yes") == 0);
        free(answer);
        return yes;
}

static int cmd_rm(struct rig_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
            {"force", no_argument, NULL, 'f'},
            CLI_OPT_HELP,
            CLI_OPT_END,
        };
        bool force = false;
        int c, ex;
        while ((c = cli_getopt(ctx, argc, argv, ":hf", opts, &ex)) != -1)
                if (c == 'f')
                        force = true;
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
        if (!force && !confirm_delete(ref)) {
                cli_error("rig %s was not deleted", ref);
                return RIG_EXIT_REFUSED;
        }
        _cleanup_free_ char *path = rig_path(ref, NULL);
        _cleanup_free_ char *label = xasprintf("deleting rig %s", ref);
        struct progress pg;
        progress_start(&pg, label);
        _cleanup_json_ json_t *answer = NULL;
        r = rig_json_call(&cn, "DELETE", path, NULL, ref, "rigs:instances:control", &pg, &answer);
        progress_end(&pg);
        if (r != RIG_EXIT_OK)
                return r;
        printf("Deleted rig %s.\n", ref);
        return RIG_EXIT_OK;
}

/* ---- manual pages ---- */

static const struct rig_help_opt create_opts_help[] = {
    {"--project PROJECT", "Create the rig in this project (name or id). Default: the project "
                          "your key is bound to, else `default`."},
    {"--stateless", "Start from a clean root filesystem at every start; nothing is left on the "
                    "host once the rig is stopped or deleted."},
    {"--cpus N", "CPU limit, from 0.1 to the host's cores (0.5, 1, 2)."},
    {"--memory MB", "Memory limit in MiB, at least 64 (swap is not beyond it)."},
    {"--max-processes N", "Process limit, 16 to 65536."},
    {"--disk MB", "Disk limit in MiB for everything the rig writes, 256 to 1048576."},
    {"--egress open|none|CIDR/HOST,...",
     "Outgoing network: open (everything but the host), none, or only the listed CIDRs and "
     "host names, comma-separated (10.0.0.0/8,pypi.org). Default: open."},
    {"--env NAME=VALUE", "An environment variable for every process of the rig; repeat for "
                         "several."},
    {"--ttl DURATION", "Delete the rig when DURATION has passed: 30m, 12h, 7d, 1h30m."},
    {"--auto-sleep DURATION", "Pause the rig when it has been idle (no app request, exec, "
                              "terminal or start) for DURATION (10s or more: 10m, 1h); a request "
                              "to one of its apps wakes it. off (the default): never."},
    {"--no-wait", "Return as soon as the server accepted the rig, even while it is still "
                  "`creating`."},
    {"--json", "Print the server's rig object as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help create_help = {
    .synopsis = "create NAME [--project P] [--stateless] [--cpus N] [--memory MB] "
                "[--max-processes N] [--disk MB] [--egress open|none|CIDR/HOST,...] "
                "[--env K=V]... [--ttl DURATION] [--auto-sleep DURATION] [--no-wait] [--json]",
    .description =
        "Creates a rig from the base template (POST /api/rigs) and waits until it runs: while "
        "it is `creating`, rig asks for it every 100 ms and shows `creating rig NAME... 1.2s` "
        "on standard error. Then it prints the rig's id, name, state and IP address.\n\n"
        "NAME is 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-', "
        "unique in the project. Limits left out get the server's defaults. Needs "
        "rigs:instances:create.\n\n"
        "When the rig ends up in state `error`, rig prints it, says why and exits 4.",
    .options = create_opts_help,
    .examples = "  rig create web\n"
                "  rig create build --cpus 2 --memory 4096 --disk 20480 --ttl 12h\n"
                "  rig create sandbox --egress none --stateless --env MODE=test\n"
                "  rig create ci --egress 10.0.0.0/8,pypi.org --json | jq -r .id",
    .talks_to_server = true,
};

static const struct rig_help_opt ls_opts_help[] = {
    {"--project PROJECT", "Only rigs of this project (name or id)."},
    {"--all", "Follow the server's `next` cursors and list every rig; without it rig prints "
              "one page of up to 100 and says on standard error when there are more."},
    {"--json", "Print the rigs as an indented JSON array (the server's items)."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help ls_help = {
    .synopsis = "ls [--project P] [--all] [--json]",
    .description = "Lists the rigs you can see (GET /api/rigs): those of your key's project, or "
                   "of every project of the org for a key bound to none. Columns: NAME, ID, "
                   "STATE, PROJECT, CPUS, MEMORY (M for MiB, G for GiB), IP and AGE (s, m, h, "
                   "d). Needs rigs:instances:read.",
    .options = ls_opts_help,
    .examples = "  rig ls\n"
                "  rig ls --project web --all\n"
                "  rig ls --json | jq -r '.[] | select(.state == \"running\") | .name'",
    .talks_to_server = true,
};

static const struct rig_help_opt get_opts_help[] = {
    {"--json", "Print the server's rig object as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help get_help = {
    .synopsis = "get NAME|ID [--json]",
    .description = "Shows one rig (GET /api/rigs/ID): state (and the error that put it in state "
                   "`error`), project, limits, egress, IP address, time to live and who created "
                   "it when. A name is looked up in your key's project, else in project "
                   "`default`; rigs of other projects are named by id (rig_...).",
    .options = get_opts_help,
    .examples = "  rig get web\n"
                "  rig get rig_0123456789abcdef --json | jq -r .network.ip",
    .talks_to_server = true,
};

static const struct rig_help_opt action_opts_help[] = {
    {"--json", "Print the server's rig object, in its new state, as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help start_help = {
    .synopsis = "start NAME|ID [--json]",
    .description = "Starts a stopped rig, or one in state `error` (POST /api/rigs/ID/start), and "
                   "prints its new state. While the call takes longer than 300 ms a progress "
                   "line shows on standard error. A rig that is running, paused or being "
                   "created answers `conflict` (exit 1). Needs rigs:instances:control.",
    .options = action_opts_help,
    .examples = "  rig start web",
    .talks_to_server = true,
};

static const struct rig_help stop_help = {
    .synopsis = "stop NAME|ID [--json]",
    .description = "Stops a rig (POST /api/rigs/ID/stop): every process in it ends. Its files "
                   "stay, unless it is stateless. Prints the new state. Needs "
                   "rigs:instances:control.",
    .options = action_opts_help,
    .examples = "  rig stop web",
    .talks_to_server = true,
};

static const struct rig_help restart_help = {
    .synopsis = "restart NAME|ID [--json]",
    .description = "Stops the rig if it runs and starts it again (POST /api/rigs/ID/restart); "
                   "prints the new state. Needs rigs:instances:control.",
    .options = action_opts_help,
    .examples = "  rig restart web",
    .talks_to_server = true,
};

static const struct rig_help pause_help = {
    .synopsis = "pause NAME|ID [--json]",
    .description = "Freezes every process of a running rig (POST /api/rigs/ID/pause); they keep "
                   "their memory and go on with `rig resume`. Commands cannot run in a paused "
                   "rig; its files can still be read and written. Needs rigs:instances:control.",
    .options = action_opts_help,
    .examples = "  rig pause web",
    .talks_to_server = true,
};

static const struct rig_help resume_help = {
    .synopsis = "resume NAME|ID [--json]",
    .description = "Lets the processes of a paused rig run again (POST /api/rigs/ID/resume); "
                   "prints the new state. Needs rigs:instances:control.",
    .options = action_opts_help,
    .examples = "  rig resume web",
    .talks_to_server = true,
};

static const struct rig_help_opt rm_opts_help[] = {
    {"-f, --force", "Do not ask for confirmation."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help rm_help = {
    .synopsis = "rm NAME|ID [--force]",
    .description = "Deletes a rig (DELETE /api/rigs/ID): its processes end and its files are "
                   "destroyed; afterwards it is not found and not listed. When standard input "
                   "is a terminal rig asks first, and exits 1 without deleting unless the "
                   "answer is yes; with --force, or when standard input is not a terminal, it "
                   "does not ask. Needs rigs:instances:control.",
    .options = rm_opts_help,
    .examples = "  rig rm web\n"
                "  rig rm --force rig_0123456789abcdef",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_create = {
    .name = "create",
    .summary = "create a rig and wait until it runs",
    .run = cmd_create,
    .help = &create_help,
};

const struct rig_cmd rig_cmd_ls = {
    .name = "ls",
    .alias = "list",
    .summary = "list rigs",
    .run = cmd_ls,
    .help = &ls_help,
};

const struct rig_cmd rig_cmd_get = {
    .name = "get",
    .alias = "show",
    .summary = "show a rig",
    .run = cmd_get,
    .help = &get_help,
};

const struct rig_cmd rig_cmd_start = {
    .name = "start",
    .summary = "start a stopped rig",
    .run = cmd_start,
    .help = &start_help,
};

const struct rig_cmd rig_cmd_stop = {
    .name = "stop",
    .summary = "stop a rig",
    .run = cmd_stop,
    .help = &stop_help,
};

const struct rig_cmd rig_cmd_restart = {
    .name = "restart",
    .summary = "stop and start a rig",
    .run = cmd_restart,
    .help = &restart_help,
};

const struct rig_cmd rig_cmd_pause = {
    .name = "pause",
    .summary = "freeze a rig's processes",
    .run = cmd_pause,
    .help = &pause_help,
};

const struct rig_cmd rig_cmd_resume = {
    .name = "resume",
    .summary = "unfreeze a paused rig",
    .run = cmd_resume,
    .help = &resume_help,
};

const struct rig_cmd rig_cmd_rm = {
    .name = "rm",
    .alias = "delete",
    .summary = "delete a rig",
    .run = cmd_rm,
    .help = &rm_help,
};
