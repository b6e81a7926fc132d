/* The terminal endpoints: GET /api/rigs/{id}/pty (a new session), GET /api/rigs/{id}/sessions
 * and GET /api/rigs/{id}/sessions/{sid}/attach. A handler checks and audits the request on its
 * request thread, opens the shell through the rig's shim (for a new session), answers 101 and
 * hands the upgraded socket to the pty loop (pty.c). */
#include "rigd/live.h"

#include "base/timeutil.h"
#include "core/ptyctl.h"
#include "core/rigs.h"
#include "rigd/api.h"
#include "rigd/pty.h"
#include "rigd/rigsvc.h"
#include "router/activity.h"
#include "runtime/shimproto.h"

#include <fcntl.h>
#include <h2o/websocket.h>
#include <openssl/sha.h>
#include <stdio.h>

/* Sec-WebSocket-Accept (RFC 6455 4.2.2): base64 of SHA-1 of the key and the protocol's GUID.
 * Debian's libh2o-evloop declares h2o_websocket_create_accept_key but does not export it. */
static void accept_key(char out[29], const char *key)
{
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        uint8_t src[24 + sizeof(guid) - 1], sha[SHA_DIGEST_LENGTH];
        memcpy(src, key, 24);
        memcpy(src + 24, guid, sizeof(guid) - 1);
        SHA1(src, sizeof(src), sha);
        h2o_base64_encode(out, sha, sizeof(sha), 0);
        out[28] = '\0';
}

/* ?cols= / ?rows=: absent or empty is the default; otherwise 1..PTYCTL_DIM_MAX. */
static int dim_query(struct reqctx *c, const char *name, unsigned def, unsigned *out)
{
        char v[16];
        int n = query_get(c, name, v, sizeof(v));
        *out = def;
        if (n == -ENOENT || n == 0)
                return 0;
        char *end = NULL;
        unsigned long x = n > 0 ? strtoul(v, &end, 10) : 0;
        if (n < 0 || *end || v[0] < '0' || v[0] > '9' || x < 1 || x > PTYCTL_DIM_MAX) {
                reply_error(c, 400, "invalid_request", "%s must be an integer from 1 to %d", name,
                            PTYCTL_DIM_MAX);
                return -EINVAL;
        }
        *out = (unsigned)x;
        return 0;
}

static bool ws_handshake(struct reqctx *c, const char **key)
{
        *key = NULL;
        if (c->req->version < 0x200 && h2o_is_websocket_handshake(c->req, key) == 0 && *key)
                return true;
        reply_error(c, 400, "invalid_request",
                    "this endpoint is a WebSocket: send an HTTP/1.1 GET with Upgrade: websocket, "
                    "Connection: Upgrade, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key");
        return false;
}

static bool runtime_ready(struct reqctx *c)
{
        if (c->d->rigs->ready)
                return true;
        reply_error(c, 503, "unavailable", "%s", c->d->rigs->why);
        return false;
}

static void on_upgraded(void *data, h2o_socket_t *sock, size_t reqsize)
{
        struct pty_handoff *h = data;
        if (!sock) {
                pty_handoff_drop(h); /* the client left before the 101 was written */
                return;
        }
        h2o_buffer_consume(&sock->input, reqsize);
        if (h2o_socket_export(sock, &h->sock) != 0) {
                h->sock.fd = -1;
                pty_handoff_drop(h);
                return;
        }
        pty_handoff_post(h);
}

/* Answers 101 and hands the connection to the pty loop once the answer is written. */
static void upgrade(struct reqctx *c, const char *key, struct pty_handoff *h)
{
        char accept[29];
        accept_key(accept, key);
        h2o_req_t *req = c->req;
        reply_upgrade_begin(c);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL,
                       H2O_STRLIT("websocket"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-accept"), 0,
                              NULL, accept, strlen(accept));
        h2o_http1_upgrade(req, NULL, 0, on_upgraded, h);
}

static bool start_loop(struct reqctx *c, bool session)
{
        if (pty_ensure_started(c->d->cfg.pty_idle_s) < 0) {
                reply_error(c, 503, "unavailable", "terminals are not available now");
                return false;
        }
        if (!pty_reserve(session)) {
                reply_error(c, 422, "quota_exceeded",
                            "too many terminals: at most %d sessions and %d clients at once",
                            PTY_MAX_SESSIONS, PTY_MAX_CLIENTS);
                return false;
        }
        return true;
}

/* Connects to the rig's shim and asks for a login shell on a pty. Returns the connection
 * (non-blocking) or a negative errno. */
static int open_shell(struct reqctx *c, const struct rig *r, unsigned cols, unsigned rows)
{
        struct rigsvc *s = c->d->rigs;
        _cleanup_close_ int fd = s->rt.ops->connect(&s->rt, r->id);
        if (fd < 0)
                return fd;
        json_t *req = json_pack("{s:s,s:[s,s],s:{},s:s,s:s,s:i,s:b,s:i,s:i}", "op", "exec", "argv",
                                "/bin/bash", "-l", "env", "cwd", "/home/user", "user", "user",
                                "timeout_s", 0, "pty", 1, "cols", (int)cols, "rows", (int)rows);
        _cleanup_free_ char *js = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        int w = js ? shim_write_frame(fd, SF_JSON, js, strlen(js)) : -ENOMEM;
        if (w < 0)
                return w;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static struct pty_handoff *handoff_new(struct reqctx *c, enum pty_mode mode)
{
        struct pty_handoff *h = xcalloc(1, sizeof(*h));
        h->sock.fd = -1;
        h->shim_fd = -1;
        snprintf(h->principal, sizeof(h->principal), "%s", c->p.id);
        h->kind = c->p.kind;
        h->mode = mode;
        return h;
}

void api_rigs_pty(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        const char *key;
        unsigned cols, rows;
        if (!runtime_ready(c) || rig_from_path(c, &r) < 0 || !ws_handshake(c, &key) ||
            dim_query(c, "cols", 80, &cols) < 0 || dim_query(c, "rows", 24, &rows) < 0)
                return;
        if (r.state != RIG_RUNNING) {
                reply_error(c, 409, "conflict", "cannot open a terminal in a rig that is %s%s",
                            rig_state_name(r.state),
                            r.state == RIG_PAUSED ? "; resume it first" : "; start it first");
                return;
        }
        if (!start_loop(c, true))
                return;
        int fd = open_shell(c, &r, cols, rows);
        if (fd < 0) {
                pty_release(true);
                reply_error(c, 409, "conflict", "the rig is not running (its shim is gone)");
                return;
        }
        struct pty_handoff *h = handoff_new(c, PTY_CONTROL);
        h->shim_fd = fd;
        id_new("pty_", h->info.id);
        snprintf(h->info.rig_id, sizeof(h->info.rig_id), "%s", r.id);
        snprintf(h->info.principal, sizeof(h->info.principal), "%s", c->p.id);
        h->info.kind = c->p.kind;
        h->info.started_at = now_ms() / 1000;
        h->info.cols = cols;
        h->info.rows = rows;
        activity_touch(c->d->activity, r.id, now_ms());
        audit_now(c, "session.open", "ok");
        upgrade(c, key, h);
}

static json_t *session_json(const struct pty_info *i)
{
        return json_pack(
            "{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:i,s:i,s:i}", "id", i->id, "rig", i->rig_id, "principal",
            i->principal, "kind", principal_kind_name(i->kind), "started_at",
            json_time(i->started_at), "controller",
            i->controller[0] ? json_string(i->controller) : json_null(), "controller_kind",
            i->controller[0] ? json_string(principal_kind_name(i->controller_kind)) : json_null(),
            "observers", i->observers, "cols", (int)i->cols, "rows", (int)i->rows);
}

void api_sessions_list(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        if (rig_from_path(c, &r) < 0)
                return;
        struct pty_info *all = xcalloc(PTY_MAX_SESSIONS, sizeof(*all));
        size_t n = pty_list(r.id, all, PTY_MAX_SESSIONS);
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(items, session_json(&all[i]));
        free(all);
        reply_json(c, 200, json_list(items, 0));
}

void api_sessions_attach(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        char sid[ID_MAX], mode[16] = "observe";
        const char *key;
        if (!runtime_ready(c) || rig_from_path(c, &r) < 0 || path_param(c, 1, sid, sizeof(sid)) < 0)
                return;
        int n = query_get(c, "mode", mode, sizeof(mode));
        if ((n < 0 && n != -ENOENT) || (!streq(mode, "observe") && !streq(mode, "control"))) {
                reply_error(c, 400, "invalid_request", "mode must be observe or control");
                return;
        }
        if (!ws_handshake(c, &key))
                return;
        struct pty_info info;
        if (!pty_find(r.id, sid, &info)) {
                reply_error(c, 404, "not_found", "no live terminal session %s in this rig", sid);
                return;
        }
        if (!start_loop(c, false))
                return;
        bool control = streq(mode, "control");
        struct pty_handoff *h = handoff_new(c, control ? PTY_CONTROL : PTY_OBSERVE);
        h->info = info;
        audit_now(c, "session.attach", "ok");
        if (control)
                audit_now(c, "session.takeover", "ok");
        upgrade(c, key, h);
}
