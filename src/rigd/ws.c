#include "rigd/ws.h"

#include "base/buf.h"

#include <stdio.h>

/* wslay output is gathered into one socket write of at most this much. */
#define WRITE_CHUNK (256u * 1024)

struct wsconn {
        h2o_socket_t *sock;
        wslay_event_context_ptr ctx;
        const struct ws_handlers *h;
        struct ws_limits lim;
        void *data;
        struct buf wbuf;     /* frames from wslay not yet handed to the socket */
        struct buf inflight; /* the socket write in progress */
        bool paused;         /* the owner does not want input now */
        bool closing;        /* a close frame is queued (by us or in reply) */
        bool close_wanted;   /* ws_close: queue the close frame once the data is out */
        uint16_t close_code;
        char close_reason[64];
        bool done;         /* on_closed was called */
        bool free_pending; /* ws_free was called inside a callback */
        bool in_recv;      /* inside wslay_event_recv: sending waits until it returns */
        bool started;      /* ws_start() was called: I/O and callbacks may happen */
        int depth;         /* nesting of our own frames on the stack */
        h2o_timeout_entry_t close_entry; /* the deadline of a close we started */
        h2o_loop_t *loop;
};

static void destroy(struct wsconn *ws)
{
        if (h2o_timeout_is_linked(&ws->close_entry))
                h2o_timeout_unlink(&ws->close_entry);
        if (ws->sock) {
                h2o_socket_read_stop(ws->sock);
                h2o_socket_close(ws->sock);
        }
        wslay_event_context_free(ws->ctx);
        buf_free(&ws->wbuf);
        buf_free(&ws->inflight);
        free(ws);
}

static void enter(struct wsconn *ws)
{
        ws->depth++;
}

/* Leaves one of our frames; returns false when the connection was freed meanwhile. */
static bool leave(struct wsconn *ws)
{
        if (--ws->depth == 0 && ws->free_pending) {
                destroy(ws);
                return false;
        }
        return true;
}

/* The end: the socket goes now, the owner hears it once. */
static void finish(struct wsconn *ws)
{
        if (ws->done)
                return;
        ws->done = true;
        if (h2o_timeout_is_linked(&ws->close_entry))
                h2o_timeout_unlink(&ws->close_entry);
        if (ws->sock) {
                h2o_socket_read_stop(ws->sock);
                h2o_socket_close(ws->sock);
                ws->sock = NULL;
        }
        ws->h->on_closed(ws);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *p, size_t len, int flags, void *ud)
{
        struct wsconn *ws = ud;
        if (!ws->sock || ws->paused || ws->free_pending || ws->sock->input->size == 0) {
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        size_t n = ws->sock->input->size < len ? ws->sock->input->size : len;
        memcpy(p, ws->sock->input->bytes, n);
        h2o_buffer_consume(&ws->sock->input, n);
        return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *p, size_t len, int flags,
                       void *ud)
{
        struct wsconn *ws = ud;
        if (ws->wbuf.len >= WRITE_CHUNK) {
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        size_t n = WRITE_CHUNK - ws->wbuf.len < len ? WRITE_CHUNK - ws->wbuf.len : len;
        buf_append(&ws->wbuf, p, n);
        return (ssize_t)n;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
        struct wsconn *ws = ud;
        if (arg->opcode == WSLAY_CONNECTION_CLOSE)
                ws->closing = true; /* wslay queues the reply itself */
        if (ws->done || ws->free_pending)
                return;
        if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
                ws->h->on_msg(ws, arg->opcode, arg->msg, arg->msg_length);
}

static void on_write(h2o_socket_t *sock, const char *err);

/* Moves what wslay has to send into one socket write, unless one is in flight. */
static void flush(struct wsconn *ws)
{
        if (!ws->started || !ws->sock || ws->in_recv || h2o_socket_is_writing(ws->sock))
                return;
        /* wslay sends control frames ahead of queued messages: our close waits until what was
         * queued before it (an exit message) has gone out. */
        if (ws->close_wanted && ws->wbuf.len == 0 &&
            wslay_event_get_queued_msg_count(ws->ctx) == 0) {
                ws->close_wanted = false;
                (void)wslay_event_queue_close(ws->ctx, ws->close_code,
                                              (const uint8_t *)ws->close_reason,
                                              strlen(ws->close_reason));
        }
        if (ws->wbuf.len == 0 && wslay_event_want_write(ws->ctx) &&
            wslay_event_send(ws->ctx) != 0) {
                finish(ws);
                return;
        }
        if (ws->wbuf.len == 0)
                return;
        buf_free(&ws->inflight);
        ws->inflight = ws->wbuf;
        memset(&ws->wbuf, 0, sizeof(ws->wbuf));
        h2o_iovec_t iov = h2o_iovec_init(ws->inflight.data, ws->inflight.len);
        h2o_socket_write(ws->sock, &iov, 1, on_write);
}

static void on_read(h2o_socket_t *sock, const char *err);

/* Reads what arrived, sends what is queued, and notices the end of the connection. */
static void proceed(struct wsconn *ws)
{
        if (!ws->started || ws->done || ws->free_pending || !ws->sock)
                return;
        if (!ws->paused && ws->sock->input->size > 0 && wslay_event_want_read(ws->ctx)) {
                ws->in_recv = true;
                int r = wslay_event_recv(ws->ctx);
                ws->in_recv = false;
                if (r != 0) {
                        finish(ws);
                        return;
                }
        }
        if (ws->done || ws->free_pending)
                return;
        flush(ws);
        if (ws->done || !ws->sock)
                return;
        bool reading = wslay_event_want_read(ws->ctx);
        if (reading && !ws->paused)
                h2o_socket_read_start(ws->sock, on_read);
        else
                h2o_socket_read_stop(ws->sock);
        if (!reading && !wslay_event_want_write(ws->ctx) && !h2o_socket_is_writing(ws->sock) &&
            ws->wbuf.len == 0)
                finish(ws); /* both close frames have been exchanged */
}

static void on_read(h2o_socket_t *sock, const char *err)
{
        struct wsconn *ws = sock->data;
        enter(ws);
        if (err)
                finish(ws);
        else
                proceed(ws);
        leave(ws);
}

static void on_write(h2o_socket_t *sock, const char *err)
{
        struct wsconn *ws = sock->data;
        enter(ws);
        buf_free(&ws->inflight);
        if (err) {
                finish(ws);
        } else {
                proceed(ws);
                if (!ws->done && !ws->free_pending && ws->h->on_drain &&
                    ws_queued(ws) <= ws->lim.low_water)
                        ws->h->on_drain(ws);
        }
        leave(ws);
}

static void on_close_deadline(h2o_timeout_entry_t *entry)
{
        struct wsconn *ws = H2O_STRUCT_FROM_MEMBER(struct wsconn, close_entry, entry);
        enter(ws);
        finish(ws);
        leave(ws);
}

struct wsconn *ws_new(h2o_socket_t *sock, h2o_loop_t *loop, const struct ws_handlers *h,
                      const struct ws_limits *lim, void *data)
{
        static const struct wslay_event_callbacks cbs = {
            .recv_callback = recv_cb,
            .send_callback = send_cb,
            .on_msg_recv_callback = msg_cb,
        };
        struct wsconn *ws = xcalloc(1, sizeof(*ws));
        if (wslay_event_context_server_init(&ws->ctx, &cbs, ws) != 0)
                abort(); /* out of memory: the daemon treats it as fatal */
        wslay_event_config_set_max_recv_msg_length(ws->ctx, lim->max_msg);
        ws->sock = sock;
        ws->loop = loop;
        ws->h = h;
        ws->lim = *lim;
        ws->data = data;
        sock->data = ws;
        ws->close_entry.cb = on_close_deadline;
        return ws;
}

void ws_start(struct wsconn *ws)
{
        ws->started = true;
        enter(ws);
        proceed(ws);
        leave(ws);
}

void *ws_data(const struct wsconn *ws)
{
        return ws->data;
}

int ws_send(struct wsconn *ws, uint8_t opcode, const void *p, size_t len)
{
        if (ws->done || ws->closing || ws->free_pending)
                return -EPIPE;
        struct wslay_event_msg m = {.opcode = opcode, .msg = p, .msg_length = len};
        if (wslay_event_queue_msg(ws->ctx, &m) != 0)
                return -EPIPE;
        enter(ws);
        flush(ws);
        leave(ws);
        return 0;
}

size_t ws_queued(const struct wsconn *ws)
{
        return wslay_event_get_queued_msg_length(ws->ctx) + ws->wbuf.len + ws->inflight.len;
}

void ws_pause_read(struct wsconn *ws, bool paused)
{
        if (ws->paused == paused || ws->done)
                return;
        ws->paused = paused;
        enter(ws);
        proceed(ws); /* resumes reading, and takes what waited in sock->input */
        leave(ws);
}

void ws_close(struct wsconn *ws, uint16_t code, const char *reason)
{
        if (ws->done || ws->free_pending)
                return;
        enter(ws);
        if (!ws->closing) {
                ws->closing = true;
                ws->close_wanted = true;
                ws->close_code = code;
                snprintf(ws->close_reason, sizeof(ws->close_reason), "%s", reason ? reason : "");
                h2o_timeout_link(ws->loop, ws->lim.close_timeout, &ws->close_entry);
        }
        proceed(ws);
        leave(ws);
}

void ws_free(struct wsconn *ws)
{
        if (!ws)
                return;
        if (ws->depth > 0) {
                ws->free_pending = true;
                return;
        }
        destroy(ws);
}
