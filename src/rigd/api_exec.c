/* POST /api/rigs/{id}/exec: runs a command in a rig through its shim. Buffered replies collect
 * up to EXEC_BUF_MAX per stream (then `truncated`); with Accept: application/x-ndjson the output
 * streams as it comes, with backpressure: the shim connection is not read while the client is
 * behind by more than EXEC_STREAM_HIGH bytes. */
#include "rigd/api.h"

#include "base/timeutil.h"
#include "base/utf8.h"
#include "rigd/rigsvc.h"
#include "router/activity.h"
#include "runtime/shimproto.h"

#include <fcntl.h>
#include <stdio.h>
#include <strings.h>

#define EXEC_BUF_MAX     (16u << 20)
#define EXEC_STREAM_HIGH (1u << 20)
#define EXEC_TIMEOUT_MAX 86400
#define EXEC_ARGS_MAX    4096

struct exec_ctx {
        struct reqctx *c;
        h2o_socket_t *sock;
        bool stream;
        bool done;
        int64_t start_ms;
        struct buf out, err; /* buffered mode */
        bool out_trunc, err_trunc;
        char carry[2][4]; /* incomplete UTF-8 tails, per stream */
        size_t ncarry[2];
        h2o_generator_t gen; /* streaming mode */
        struct buf pending;
        char *inflight; /* buffer handed to h2o_send, freed on proceed */
        bool sending, final_sent, read_paused;
};

struct exec_in {
        json_t *cmd;
        json_t *env;
        char cwd[1024];
        json_t *stdin_;
        int64_t timeout_s;
        char user[16];
};

static void exec_dispose(void *arg)
{
        struct exec_ctx *ex = arg;
        if (ex->sock) {
                h2o_socket_close(ex->sock);
                ex->sock = NULL;
        }
        buf_free(&ex->out);
        buf_free(&ex->err);
        buf_free(&ex->pending);
        free(ex->inflight);
        ex->inflight = NULL;
}

static void close_shim(struct exec_ctx *ex)
{
        if (ex->sock) {
                h2o_socket_read_stop(ex->sock);
                h2o_socket_close(ex->sock);
                ex->sock = NULL;
        }
}

/* ---- streaming ---- */

static void stream_flush(struct exec_ctx *ex)
{
        if (ex->sending || ex->final_sent || !ex->c)
                return;
        h2o_req_t *req = ex->c->req;
        if (ex->pending.len == 0 && !ex->done)
                return;
        free(ex->inflight);
        ex->inflight = NULL;
        h2o_iovec_t iov = {NULL, 0};
        if (ex->pending.len) {
                iov.len = ex->pending.len;
                ex->inflight = buf_steal(&ex->pending);
                iov.base = ex->inflight;
        }
        ex->sending = true;
        if (ex->done) {
                ex->final_sent = true;
                h2o_send(req, &iov, iov.len ? 1 : 0, H2O_SEND_STATE_FINAL);
        } else {
                h2o_send(req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
        }
}

static void on_shim_read(h2o_socket_t *sock, const char *err);

static void stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
        struct exec_ctx *ex = H2O_STRUCT_FROM_MEMBER(struct exec_ctx, gen, gen);
        ex->sending = false;
        if (ex->read_paused && ex->sock && ex->pending.len < EXEC_STREAM_HIGH) {
                ex->read_paused = false;
                h2o_socket_read_start(ex->sock, on_shim_read);
        }
        stream_flush(ex);
}

static void stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
        struct exec_ctx *ex = H2O_STRUCT_FROM_MEMBER(struct exec_ctx, gen, gen);
        ex->c = NULL;
        close_shim(ex);
}

static void stream_line(struct exec_ctx *ex, json_t *line)
{
        char *s = json_dumps(line, JSON_COMPACT);
        json_decref(line);
        if (!s)
                return;
        buf_puts(&ex->pending, s);
        buf_puts(&ex->pending, "\n");
        free(s);
}

/* ---- output ---- */

static void on_output(struct exec_ctx *ex, int which, const char *p, size_t n)
{
        if (!ex->stream) {
                struct buf *b = which ? &ex->err : &ex->out;
                bool *trunc = which ? &ex->err_trunc : &ex->out_trunc;
                size_t room = b->len < EXEC_BUF_MAX ? EXEC_BUF_MAX - b->len : 0;
                if (n > room) {
                        n = room;
                        *trunc = true;
                }
                buf_append(b, p, n);
                return;
        }
        /* Stream: emit valid UTF-8 only; keep a split sequence for the next chunk. */
        struct buf joined = {0}, clean = {0};
        buf_append(&joined, ex->carry[which], ex->ncarry[which]);
        buf_append(&joined, p, n);
        size_t partial = 0;
        utf8_sanitize(&clean, joined.data, joined.len, &partial);
        memcpy(ex->carry[which], joined.data + joined.len - partial, partial);
        ex->ncarry[which] = partial;
        if (clean.len)
                stream_line(ex, json_pack("{s:s,s:s%}", "stream", which ? "stderr" : "stdout",
                                          "data", clean.data, clean.len));
        buf_free(&joined);
        buf_free(&clean);
}

static json_t *clean_string(const struct buf *b)
{
        struct buf clean = {0};
        utf8_sanitize(&clean, b->data ? b->data : "", b->len, NULL);
        json_t *s = json_stringn(clean.data ? clean.data : "", clean.len);
        buf_free(&clean);
        return s;
}

static void on_exit_frame(struct exec_ctx *ex, const char *p, size_t n)
{
        json_t *x = json_loadb(p, n, 0, NULL);
        json_int_t code = json_integer_value(json_object_get(x, "exit_code"));
        bool timed_out = json_is_true(json_object_get(x, "timed_out"));
        json_decref(x);
        int64_t dur = now_ms() - ex->start_ms;
        ex->done = true;
        close_shim(ex);
        if (!ex->c)
                return;
        if (ex->stream) {
                for (int w = 0; w < 2; w++)
                        if (ex->ncarry[w])
                                on_output(ex, w, "", 0);
                stream_line(ex, json_pack("{s:I,s:b,s:I}", "exit_code", code, "timed_out",
                                          timed_out, "duration_ms", (json_int_t)dur));
                stream_flush(ex);
                return;
        }
        json_t *o = json_pack("{s:I,s:o,s:o,s:b,s:I}", "exit_code", code, "stdout",
                              clean_string(&ex->out), "stderr", clean_string(&ex->err), "timed_out",
                              timed_out, "duration_ms", (json_int_t)dur);
        if (ex->out_trunc || ex->err_trunc)
                json_object_set_new(o, "truncated", json_true());
        reply_json(ex->c, 200, o);
}

/* The shim connection broke before the exit frame. */
static void on_shim_lost(struct exec_ctx *ex)
{
        if (ex->done)
                return;
        ex->done = true;
        close_shim(ex);
        if (!ex->c)
                return;
        if (ex->stream) {
                stream_line(ex, json_pack("{s:{s:s,s:s}}", "error", "code", "internal", "message",
                                          "the rig stopped before the command finished"));
                stream_flush(ex);
        } else {
                reply_error(ex->c, 409, "conflict",
                            "the rig stopped or was paused before the command finished");
        }
}

static void on_reply_frame(struct exec_ctx *ex, const char *p, size_t n)
{
        /* A JSON frame during an exec is a refusal ({"ok":false,...}). */
        json_t *x = json_loadb(p, n, 0, NULL);
        json_int_t e = json_integer_value(json_object_get(x, "errno"));
        const char *msg = json_string_value(json_object_get(x, "message"));
        ex->done = true;
        close_shim(ex);
        if (ex->c && !ex->stream) {
                if (e == EBUSY)
                        reply_error(ex->c, 409, "conflict", "the rig is paused; resume it first");
                else if (e == ENOENT || e == ENOTDIR)
                        reply_error(ex->c, 400, "invalid_request", "%s",
                                    msg ? msg : "no such command or directory in the rig");
                else
                        reply_error(ex->c, 500, "internal", "the command could not be started");
        } else if (ex->c) {
                stream_line(ex, json_pack("{s:{s:s,s:s}}", "error", "code", "invalid_request",
                                          "message", msg ? msg : "the command could not start"));
                stream_flush(ex);
        }
        json_decref(x);
}

static void on_shim_read(h2o_socket_t *sock, const char *err)
{
        struct exec_ctx *ex = sock->data;
        if (err) {
                on_shim_lost(ex);
                return;
        }
        if (ex->c) /* output of a command is rig activity (auto_sleep_s) */
                activity_touch(ex->c->d->activity, ex->c->target, now_ms());
        while (ex->sock && sock->input->size >= SHIM_HDR_LEN) {
                char type;
                uint32_t len;
                if (shim_hdr_parse((const uint8_t *)sock->input->bytes, &type, &len) < 0) {
                        on_shim_lost(ex);
                        return;
                }
                if (sock->input->size < SHIM_HDR_LEN + len)
                        break;
                const char *p = sock->input->bytes + SHIM_HDR_LEN;
                if (type == SF_STDOUT || type == SF_STDERR)
                        on_output(ex, type == SF_STDERR, p, len);
                else if (type == SF_EXIT)
                        on_exit_frame(ex, p, len);
                else if (type == SF_JSON)
                        on_reply_frame(ex, p, len);
                if (!ex->sock)
                        return; /* closed by a handler: sock->input is gone */
                h2o_buffer_consume(&sock->input, SHIM_HDR_LEN + len);
        }
        if (ex->stream) {
                if (ex->pending.len >= EXEC_STREAM_HIGH && ex->sock) {
                        ex->read_paused = true;
                        h2o_socket_read_stop(ex->sock);
                }
                stream_flush(ex);
        }
}

static void on_request_written(h2o_socket_t *sock, const char *err)
{
        if (err)
                on_shim_lost(sock->data);
}

/* ---- request ---- */

static int exec_validate(struct reqctx *c, const struct exec_in *in)
{
        const char *bad = NULL;
        size_t i;
        json_t *v;
        if (!json_is_array(in->cmd) || json_array_size(in->cmd) == 0 ||
            json_array_size(in->cmd) > EXEC_ARGS_MAX)
                bad = "cmd must be a non-empty array of strings";
        else
                json_array_foreach(in->cmd, i, v) if (!json_is_string(v)) bad =
                    "cmd must be a non-empty array of strings";
        if (!bad && in->stdin_ && !json_is_string(in->stdin_))
                bad = "stdin must be a string";
        if (!bad && in->cwd[0] && in->cwd[0] != '/')
                bad = "cwd must be an absolute path";
        if (!bad && in->user[0] && !streq(in->user, "user") && !streq(in->user, "root"))
                bad = "user must be \"user\" or \"root\"";
        if (bad) {
                reply_error(c, 400, "invalid_request", "%s", bad);
                return -EINVAL;
        }
        return 0;
}

/* Builds the frames for the shim: the JSON request, stdin, stdin close. */
static h2o_iovec_t build_frames(struct reqctx *c, const struct exec_in *in, const char *env_json)
{
        json_t *env = json_loads(env_json, 0, NULL);
        json_t *req =
            json_pack("{s:s,s:O,s:o,s:s,s:s,s:I,s:b}", "op", "exec", "argv", in->cmd, "env",
                      env ? env : json_object(), "cwd", in->cwd[0] ? in->cwd : "/home/user", "user",
                      in->user[0] ? in->user : "user", "timeout_s",
                      (json_int_t)(in->timeout_s ? in->timeout_s : 60), "pty", 0);
        char *js = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        const char *sin = in->stdin_ ? json_string_value(in->stdin_) : "";
        size_t sinlen = in->stdin_ ? json_string_length(in->stdin_) : 0;
        size_t jl = strlen(js);
        size_t nframes = sinlen / SHIM_FRAME_MAX + 1;
        size_t total = SHIM_HDR_LEN + jl + nframes * SHIM_HDR_LEN + sinlen + SHIM_HDR_LEN;
        char *b = h2o_mem_alloc_pool(&c->req->pool, total);
        size_t o = 0;
        shim_hdr((uint8_t *)b, SF_JSON, (uint32_t)jl);
        memcpy(b + SHIM_HDR_LEN, js, jl);
        o = SHIM_HDR_LEN + jl;
        free(js);
        for (size_t off = 0; off < sinlen; off += SHIM_FRAME_MAX) {
                size_t n = sinlen - off < SHIM_FRAME_MAX ? sinlen - off : SHIM_FRAME_MAX;
                shim_hdr((uint8_t *)b + o, SF_STDIN, (uint32_t)n);
                memcpy(b + o + SHIM_HDR_LEN, sin + off, n);
                o += SHIM_HDR_LEN + n;
        }
        shim_hdr((uint8_t *)b + o, SF_STDIN_CLOSE, 0);
        o += SHIM_HDR_LEN;
        return h2o_iovec_init(b, o);
}

static bool wants_ndjson(h2o_req_t *req)
{
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
        if (i < 0)
                return false;
        const h2o_iovec_t *v = &req->headers.entries[i].value;
        return h2o_contains_token(v->base, v->len, H2O_STRLIT("application/x-ndjson"), ',') ||
               memmem(v->base, v->len, "application/x-ndjson", 20) != NULL;
}

void api_rigs_exec(struct reqctx *c)
{
        static const struct jfield fields[] = {
            JF_JSON_FIELD(struct exec_in, cmd, true),
            JF_JSON_FIELD(struct exec_in, env, false),
            JF_STR_FIELD(struct exec_in, cwd, false),
            {"stdin", JF_JSON, false, offsetof(struct exec_in, stdin_), 0, 0, 0},
            JF_INT_FIELD(struct exec_in, timeout_s, false, 1, EXEC_TIMEOUT_MAX),
            JF_STR_FIELD(struct exec_in, user, false),
        };
        struct rigsvc *s = c->d->rigs;
        if (!s->ready) {
                reply_error(c, 503, "unavailable", "%s", s->why);
                return;
        }
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        if (rig_from_path(c, &r) < 0)
                return;
        struct exec_in in;
        memset(&in, 0, sizeof(in));
        json_t *root = NULL;
        if (body_decode(c, fields, ARRAY_SIZE(fields), &in, NULL, &root) < 0)
                return;
        _cleanup_free_ char *env_json = NULL;
        if (exec_validate(c, &in) < 0 || env_validate(c, in.env, &env_json) < 0) {
                json_decref(root);
                return;
        }
        if (r.state != RIG_RUNNING) {
                json_decref(root);
                reply_error(c, 409, "conflict", "cannot exec in a rig that is %s%s",
                            rig_state_name(r.state),
                            r.state == RIG_PAUSED ? "; resume it first" : "; start it first");
                return;
        }
        activity_touch(c->d->activity, r.id, now_ms());
        h2o_iovec_t frames = build_frames(c, &in, env_json);
        json_decref(root);
        int fd = s->rt.ops->connect(&s->rt, r.id);
        if (fd < 0) {
                reply_error(c, 409, "conflict", "the rig is not running (its shim is gone)");
                return;
        }
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
                close(fd);
                reply_errno(c, -errno, "shim connection");
                return;
        }
        struct exec_ctx *ex = h2o_mem_alloc_shared(&c->req->pool, sizeof(*ex), exec_dispose);
        memset(ex, 0, sizeof(*ex));
        ex->c = c;
        ex->start_ms = now_ms();
        ex->stream = wants_ndjson(c->req);
        /* Flags 0: h2o reads into sock->input (DONT_READ is for listeners and would spin). */
        ex->sock = h2o_evloop_socket_create(c->t->ctx.loop, fd, 0);
        ex->sock->data = ex;
        audit_now(c, "rig.exec", "ok");
        h2o_socket_write(ex->sock, &frames, 1, on_request_written);
        h2o_socket_read_start(ex->sock, on_shim_read);
        if (ex->stream) {
                ex->gen.proceed = stream_proceed;
                ex->gen.stop = stream_stop;
                reply_stream_begin(c, 200, "application/x-ndjson");
                h2o_start_response(c->req, &ex->gen);
        }
}
