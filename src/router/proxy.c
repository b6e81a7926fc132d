/* The app router's connections: reading request heads, replies of its own, and proxying to a
 * rig's port with HTTP/1.1 keep-alive on both sides, bodies streamed both ways under
 * back-pressure, and WebSocket (any Upgrade the client and rig agree on) spliced through. */
#include "router/rinternal.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "router/activity.h"

#include <arpa/inet.h>
#include <stdio.h>

struct rup_idle {
        h2o_linklist_t link;
        struct rthread *rt;
        h2o_socket_t *sock;
        char key[80];
        int64_t since_ms;
};

static void pipe_pump(struct rconn *c, struct rpipe *p);
static void on_client_read(h2o_socket_t *sock, const char *err);
static void on_up_read(h2o_socket_t *sock, const char *err);
static void exchange_maybe_done(struct rconn *c);
static void pipe_finished(struct rconn *c, struct rpipe *p);

/* ---- timers ---- */

static void arm(struct rconn *c, h2o_timeout_t *to)
{
        if (h2o_timeout_is_linked(&c->timer))
                h2o_timeout_unlink(&c->timer);
        h2o_timeout_link(c->rt->t->ctx.loop, to, &c->timer);
}

static void on_timeout(h2o_timeout_entry_t *e)
{
        struct rconn *c = H2O_STRUCT_FROM_MEMBER(struct rconn, timer, e);
        if (c->st == RC_EXCHANGE && !c->resp_head_done && !c->respp.writing && c->cs) {
                /* the rig did not answer in time */
                if (c->us) {
                        h2o_socket_close(c->us);
                        c->us = NULL;
                }
                c->close_after = true;
                rconn_reply(c, NULL, 504, NULL, "text/plain; charset=utf-8",
                            "504 Gateway Timeout: the app in the rig did not answer in time.\n");
                return;
        }
        rconn_close(c);
}

/* ---- connection life ---- */

void rconn_close(struct rconn *c)
{
        if (h2o_timeout_is_linked(&c->timer))
                h2o_timeout_unlink(&c->timer);
        if (c->cs)
                h2o_socket_close(c->cs);
        if (c->us)
                h2o_socket_close(c->us);
        h2o_linklist_unlink(&c->link);
        buf_free(&c->up_head);
        buf_free(&c->out);
        free(c);
}

static void start_head(struct rconn *c)
{
        c->st = RC_HEAD;
        c->resp_head_done = c->up_reused = c->retried = c->ws = false;
        c->close_after = false;
        memset(&c->reqp, 0, sizeof(c->reqp));
        memset(&c->respp, 0, sizeof(c->respp));
        c->up_head.len = 0;
        arm(c, &c->rt->hdr_to);
        h2o_socket_read_start(c->cs, on_client_read);
        if (c->cs->input->size)
                on_client_read(c->cs, NULL); /* a pipelined request (may close c) */
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        if (err) {
                rconn_close(c);
                return;
        }
        start_head(c);
}

void rconn_accept(struct rthread *rt, h2o_socket_t *sock, bool tls)
{
        struct rconn *c = xcalloc(1, sizeof(*c));
        c->rt = rt;
        c->cs = sock;
        c->tls = tls;
        sock->data = c;
        c->timer.cb = on_timeout;
        h2o_linklist_insert(&rt->conns, &c->link);
        struct sockaddr_storage ss;
        socklen_t sl = h2o_socket_getpeername(sock, (void *)&ss);
        if (sl == 0 || h2o_socket_getnumerichost((void *)&ss, sl, c->client_ip) == SIZE_MAX)
                snprintf(c->client_ip, sizeof(c->client_ip), "unknown");
        else
                c->client_ip[sizeof(c->client_ip) - 1] = '\0';
        if (tls) {
                arm(c, &rt->hdr_to);
                h2o_socket_ssl_handshake(sock, rt->r->ssl_ctx, NULL, on_handshake);
                return;
        }
        start_head(c);
}

/* ---- replies of the router itself ---- */

static void on_reply_written(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        if (err || c->close_after) {
                rconn_close(c);
                return;
        }
        start_head(c);
}

void rconn_reply(struct rconn *c, const struct rreq *req, int status, const char *headers,
                 const char *ctype, const char *body)
{
        static const struct {
                int s;
                const char *t;
        } reasons[] = {{200, "OK"},
                       {302, "Found"},
                       {400, "Bad Request"},
                       {401, "Unauthorized"},
                       {403, "Forbidden"},
                       {404, "Not Found"},
                       {431, "Request Header Fields Too Large"},
                       {500, "Internal Server Error"},
                       {501, "Not Implemented"},
                       {502, "Bad Gateway"},
                       {503, "Service Unavailable"},
                       {504, "Gateway Timeout"},
                       {505, "HTTP Version Not Supported"}};
        const char *reason = "Error";
        for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
                if (reasons[i].s == status)
                        reason = reasons[i].t;
        if (req) {
                /* A body the router will not forward is skipped when it is all here already;
                 * otherwise the connection ends after the reply. */
                size_t skip = req->head_len;
                if (req->body == RBODY_LENGTH &&
                    c->cs->input->size - req->head_len >= req->content_length)
                        skip += (size_t)req->content_length;
                else if (req->body != RBODY_NONE)
                        c->close_after = true;
                if (!req->keepalive)
                        c->close_after = true;
                if (c->cs->input->size >= skip)
                        h2o_buffer_consume(&c->cs->input, skip);
        }
        bool head = req && req->is_head;
        size_t blen = body ? strlen(body) : 0;
        c->out.len = 0;
        buf_printf(&c->out,
                   "HTTP/1.1 %d %s\r\nServer: rigd\r\nContent-Length: %zu\r\n"
                   "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
                   status, reason, blen);
        if (ctype && blen)
                buf_printf(&c->out, "Content-Type: %s\r\n", ctype);
        if (headers)
                buf_puts(&c->out, headers);
        if (c->close_after)
                buf_puts(&c->out, "Connection: close\r\n");
        buf_puts(&c->out, "\r\n");
        if (!head && blen)
                buf_append(&c->out, body, blen);
        metrics_router(&c->rt->t->d->metrics, status);
        c->st = RC_REPLY;
        h2o_socket_read_stop(c->cs);
        arm(c, &c->rt->io_to);
        h2o_iovec_t v = h2o_iovec_init(c->out.data, c->out.len);
        h2o_socket_write(c->cs, &v, 1, on_reply_written);
}

/* ---- reading request heads ---- */

static void on_client_read(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        if ((c->st == RC_EXCHANGE && c->reqp.done) || c->st == RC_CONNECT || c->st == RC_WAIT) {
                /* Between a request and its answer the client stays polled (no epoll changes
                 * per request): what it pipelines waits in its buffer, up to a bound. */
                if (err) {
                        c->close_after = true; /* half-closed: answer, then close */
                        h2o_socket_read_stop(sock);
                } else if (sock->input->size > ROUTER_HEADERS_MAX) {
                        h2o_socket_read_stop(sock);
                }
                return;
        }
        if (c->st == RC_EXCHANGE || c->st == RC_WS) {
                if (err)
                        c->reqp.eof = true;
                if (err && c->st == RC_EXCHANGE && !sock->input->size) {
                        /* the client went away mid-body: nothing left to answer */
                        rconn_close(c);
                        return;
                }
                pipe_pump(c, &c->reqp);
                return;
        }
        if (c->st != RC_HEAD) {
                if (err)
                        rconn_close(c);
                else
                        h2o_socket_read_stop(sock);
                return;
        }
        if (err) {
                rconn_close(c);
                return;
        }
        struct rreq req;
        int status = 400;
        const char *why = "malformed request";
        int n = rreq_parse(sock->input->bytes, sock->input->size, 0, &req, &status, &why);
        if (n == -2) {
                if (sock->input->size > ROUTER_HEADERS_MAX) {
                        c->close_after = true;
                        rconn_reply(c, NULL, 431, NULL, "text/plain; charset=utf-8",
                                    "431: request headers too large\n");
                }
                return;
        }
        if (n < 0) {
                c->close_after = true;
                char body[256];
                snprintf(body, sizeof(body), "%d: %s\n", status, why);
                rconn_reply(c, NULL, status, NULL, "text/plain; charset=utf-8", body);
                return;
        }
        if (req.body != RBODY_NONE || req.upgrade_ws)
                h2o_socket_read_stop(sock); /* the body's pipe reads it, under back-pressure */
        c->st = RC_WAIT;
        router_handle(c, &req);
}

/* ---- upstream connections ---- */

static void on_idle_read(h2o_socket_t *sock, const char *err)
{
        /* an idle upstream connection that speaks or closes cannot be reused */
        struct rup_idle *e = sock->data;
        h2o_linklist_unlink(&e->link);
        e->rt->nidle--;
        h2o_socket_close(sock);
        free(e);
}

static void up_release(struct rconn *c, bool reusable)
{
        h2o_socket_t *us = c->us;
        c->us = NULL;
        if (!us)
                return;
        struct rthread *rt = c->rt;
        if (!reusable || us->input->size || rt->nidle >= ROUTER_IDLE_UP_MAX ||
            atomic_load(&rt->t->d->stopping)) {
                h2o_socket_close(us);
                return;
        }
        struct rup_idle *e = xcalloc(1, sizeof(*e));
        e->rt = rt;
        e->sock = us;
        e->since_ms = mono_ms();
        snprintf(e->key, sizeof(e->key), "%s", c->up_key);
        us->data = e;
        h2o_linklist_insert(&rt->idle, &e->link);
        rt->nidle++;
        h2o_socket_read_start(us, on_idle_read);
}

static h2o_socket_t *up_take(struct rthread *rt, const char *key)
{
        int64_t now = mono_ms();
        for (h2o_linklist_t *l = rt->idle.prev; l != &rt->idle; l = l->prev) {
                struct rup_idle *e = H2O_STRUCT_FROM_MEMBER(struct rup_idle, link, l);
                if (strcmp(e->key, key) || now - e->since_ms > ROUTER_IDLE_UP_MS)
                        continue;
                h2o_socket_t *s = e->sock;
                h2o_linklist_unlink(&e->link);
                rt->nidle--;
                free(e);
                h2o_socket_read_stop(s);
                return s;
        }
        return NULL;
}

void rthread_idle_prune(struct rthread *rt, bool all)
{
        int64_t now = mono_ms();
        for (h2o_linklist_t *l = rt->idle.next, *n; l != &rt->idle; l = n) {
                n = l->next;
                struct rup_idle *e = H2O_STRUCT_FROM_MEMBER(struct rup_idle, link, l);
                if (all || now - e->since_ms > ROUTER_IDLE_UP_MS) {
                        h2o_linklist_unlink(&e->link);
                        rt->nidle--;
                        h2o_socket_close(e->sock);
                        free(e);
                }
        }
}

static void bad_gateway(struct rconn *c, int status, const char *msg)
{
        if (c->us) {
                h2o_socket_close(c->us);
                c->us = NULL;
        }
        if (c->resp_head_done || !c->cs) {
                /* the client has part of an answer already: all that is left is to cut it */
                rconn_close(c);
                return;
        }
        c->close_after = true;
        char body[512];
        snprintf(body, sizeof(body), "<!doctype html><title>%d</title><h1>%d %s</h1><p>%s</p>\n",
                 status, status, status == 502 ? "Bad Gateway" : "Service Unavailable", msg);
        rconn_reply(c, NULL, status, NULL, "text/html; charset=utf-8", body);
}

static void on_head_written(h2o_socket_t *sock, const char *err);

static void send_head(struct rconn *c)
{
        c->st = RC_EXCHANGE;
        c->us->data = c;
        arm(c, &c->rt->io_to);
        h2o_iovec_t v = h2o_iovec_init(c->up_head.data, c->up_head.len);
        c->reqp.writing = true;
        h2o_socket_write(c->us, &v, 1, on_head_written);
        h2o_socket_read_start(c->us, on_up_read);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        if (err) {
                c->us = NULL;
                h2o_socket_close(sock);
                char msg[256];
                snprintf(msg, sizeof(msg),
                         "Nothing is listening on port %s in the rig (%s). Start the app, or "
                         "check the app's port.",
                         strchr(c->up_key, ':') + 1, err);
                bad_gateway(c, 502, msg);
                return;
        }
        send_head(c);
}

static void up_connect(struct rconn *c)
{
        c->st = RC_CONNECT;
        h2o_socket_t *s = up_take(c->rt, c->up_key);
        if (s) {
                c->us = s;
                c->up_reused = true;
                send_head(c);
                return;
        }
        c->up_reused = false;
        arm(c, &c->rt->io_to);
        s = h2o_socket_connect(c->rt->t->ctx.loop, (void *)&c->up_addr, sizeof(c->up_addr),
                               on_connect);
        if (!s) {
                bad_gateway(c, 502, "The rig cannot be reached.");
                return;
        }
        s->data = c;
        c->us = s;
}

void rconn_forward(struct rconn *c, const struct rreq *req, const char *ip, int port)
{
        memset(&c->up_addr, 0, sizeof(c->up_addr));
        c->up_addr.sin_family = AF_INET;
        c->up_addr.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, ip, &c->up_addr.sin_addr) != 1) {
                bad_gateway(c, 503, "The rig has no network address.");
                return;
        }
        snprintf(c->up_key, sizeof(c->up_key), "%s:%d", ip, port);
        c->minor = req->minor;
        c->keepalive = req->keepalive;
        c->is_head = req->is_head;
        c->ws = req->upgrade_ws;
        c->up_head.len = 0;
        rreq_upstream_head(req, c->client_ip, c->tls, &c->up_head);
        memset(&c->reqp, 0, sizeof(c->reqp));
        memset(&c->respp, 0, sizeof(c->respp));
        c->reqp.src = &c->cs;
        c->reqp.dst = &c->us;
        c->reqp.mode = req->body;
        c->reqp.left = req->content_length;
        c->reqp.chunked_out = req->body == RBODY_CHUNKED;
        c->reqp.dec.consume_trailer = 1; /* the body ends after its trailer section */
        c->respp.src = &c->us;
        c->respp.dst = &c->cs;
        h2o_buffer_consume(&c->cs->input, req->head_len);
        up_connect(c);
}

/* ---- the exchange ---- */

static void on_head_written(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        c->reqp.writing = false;
        if (err)
                return; /* the read side reports the failure (and may retry) */
        if (c->reqp.mode == RBODY_NONE) {
                c->reqp.done = true; /* a WebSocket's splice starts with the rig's 101 */
                exchange_maybe_done(c);
                return;
        }
        pipe_pump(c, &c->reqp);
}

static void on_pipe_written(h2o_socket_t *sock, const char *err);

static void pipe_write(struct rconn *c, struct rpipe *p, size_t niov, size_t consume)
{
        /* a long download or a WebSocket keeps its rig awake (auto_sleep_s) */
        int64_t now = mono_ms();
        if (c->rig_id[0] && now - c->touched_ms >= 1000) {
                c->touched_ms = now;
                activity_touch(c->rt->t->d->activity, c->rig_id, now_ms());
        }
        p->writing = true;
        p->consume = consume;
        h2o_socket_read_stop(*p->src);
        arm(c, c->st == RC_WS ? &c->rt->ws_to : &c->rt->io_to);
        (*p->dst)->data = c;
        h2o_socket_write(*p->dst, p->iov, niov, on_pipe_written);
}

/* Frames n bytes at data as one chunk (or as they are). Returns the iovec count. */
static size_t frame(struct rpipe *p, char *data, size_t n, bool last)
{
        size_t k = 0;
        if (p->chunked_out && n) {
                int hl = snprintf(p->chunk_hdr, sizeof(p->chunk_hdr), "%zx\r\n", n);
                p->iov[k++] = h2o_iovec_init(p->chunk_hdr, (size_t)hl);
        }
        if (n)
                p->iov[k++] = h2o_iovec_init(data, n);
        if (p->chunked_out && n)
                p->iov[k++] = h2o_iovec_init(H2O_STRLIT("\r\n"));
        if (p->chunked_out && last)
                p->iov[k++] = h2o_iovec_init(H2O_STRLIT("0\r\n\r\n"));
        return k;
}

static void pipe_pump(struct rconn *c, struct rpipe *p)
{
        if (p->writing || p->done || !*p->src || !*p->dst)
                return;
        h2o_buffer_t *in = (*p->src)->input;
        size_t n = 0, consume = 0;
        bool last = false;
        if (p->raw || p->mode == RBODY_CLOSE) {
                n = consume = in->size;
        } else if (p->mode == RBODY_LENGTH) {
                n = consume = in->size < p->left ? in->size : (size_t)p->left;
                p->left -= n;
                last = p->left == 0;
        } else if (p->mode == RBODY_CHUNKED) {
                size_t sz = in->size;
                ssize_t r = phr_decode_chunked(&p->dec, in->bytes, &sz);
                if (r == -1) {
                        bad_gateway(c, 502, "malformed chunked body");
                        return;
                }
                n = consume = sz;
                in->size = sz + (r >= 0 ? (size_t)r : 0);
                last = r >= 0;
        } else {
                last = true;
        }
        if (n == 0 && !last) {
                if (!p->eof) {
                        h2o_socket_read_start(*p->src, p == &c->reqp ? on_client_read : on_up_read);
                        return;
                }
                if (p->raw || p == &c->reqp || p->mode != RBODY_CLOSE) {
                        /* a splice ends with either side; a framed body cut short ends all */
                        rconn_close(c);
                        return;
                }
                last = true; /* EOF ends a close-delimited body */
        }
        p->final_pending = last;
        size_t k = frame(p, in->bytes, n, last);
        if (k == 0) {
                pipe_finished(c, p);
                return;
        }
        pipe_write(c, p, k, consume);
}

static void pipe_finished(struct rconn *c, struct rpipe *p)
{
        p->done = true;
        if (p == &c->respp && c->respp.mode == RBODY_CLOSE && !c->respp.chunked_out)
                c->close_after = true; /* a close-delimited body ends with the connection */
        exchange_maybe_done(c);
}

static void on_pipe_written(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        struct rpipe *p = sock == c->us ? &c->reqp : &c->respp;
        p->writing = false;
        if (err) {
                rconn_close(c);
                return;
        }
        if (p->consume && *p->src)
                h2o_buffer_consume(&(*p->src)->input, p->consume);
        p->consume = 0;
        if (p->final_pending) {
                pipe_finished(c, p);
                return;
        }
        pipe_pump(c, p);
}

static void exchange_maybe_done(struct rconn *c)
{
        if (!c->reqp.done || !c->respp.done || !c->resp_head_done || c->respp.writing)
                return;
        up_release(c, c->resp_keepalive);
        if (!c->keepalive || c->close_after || atomic_load(&c->rt->t->d->stopping)) {
                rconn_close(c);
                return;
        }
        start_head(c);
}

/* The rig's answer head: 1xx pass through, 101 turns the exchange into a splice. */
static void on_resp_head_written(h2o_socket_t *sock, const char *err);

static void on_small_written(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        c->respp.writing = false;
        if (err) {
                rconn_close(c);
                return;
        }
        exchange_maybe_done(c);
}

static void handle_resp_head(struct rconn *c)
{
        h2o_buffer_t *in = c->us->input;
        struct rresp r;
        int n = rresp_parse(in->bytes, in->size, c->is_head, &r);
        if (n == -2) {
                if (in->size > ROUTER_HEADERS_MAX)
                        bad_gateway(c, 502, "The app's response headers are too large.");
                return;
        }
        if (n < 0) {
                bad_gateway(c, 502, "The app answered with something that is not HTTP/1.x.");
                return;
        }
        bool upgrade = r.status == 101 && c->ws;
        if (r.status == 101 && !c->ws) {
                bad_gateway(c, 502, "The app switched protocols unasked.");
                return;
        }
        bool informational = r.status < 200 && !upgrade;
        bool keepalive = c->keepalive && !c->close_after;
        if (!informational && !upgrade && c->minor == 0 &&
            (r.body == RBODY_CLOSE || r.body == RBODY_CHUNKED))
                keepalive = false;
        c->out.len = 0;
        bool chunked_out = false;
        rresp_client_head(&r, c->minor, keepalive, &chunked_out, &c->out);
        if (!informational) {
                metrics_router(&c->rt->t->d->metrics, r.status);
                c->resp_head_done = true;
                c->resp_keepalive = !r.upstream_close;
                if (!keepalive)
                        c->close_after = true;
                c->respp.mode = r.body;
                c->respp.left = r.content_length;
                c->respp.chunked_out = chunked_out;
                c->respp.dec.consume_trailer = 1;
                if (upgrade) {
                        c->st = RC_WS;
                        c->respp.raw = c->reqp.raw = true;
                        c->reqp.mode = c->respp.mode = RBODY_CLOSE;
                        c->reqp.done = false;
                }
        }
        size_t avail = in->size - r.head_len;
        if (!informational && !upgrade &&
            (r.body == RBODY_NONE ||
             (r.body == RBODY_LENGTH && r.content_length <= ROUTER_COPY_MAX &&
              avail >= r.content_length))) {
                /* The whole answer is here and small: one write of a copy, and the rig's
                 * connection is free at once. */
                size_t blen = r.body == RBODY_LENGTH ? (size_t)r.content_length : 0;
                buf_append(&c->out, in->bytes + r.head_len, blen);
                h2o_buffer_consume(&c->us->input, r.head_len + blen);
                c->respp.done = true;
                if (c->reqp.done)
                        up_release(c, c->resp_keepalive);
                c->respp.iov[0] = h2o_iovec_init(c->out.data, c->out.len);
                c->respp.writing = true;
                c->cs->data = c;
                h2o_socket_write(c->cs, c->respp.iov, 1, on_small_written);
                return;
        }
        c->respp.iov[0] = h2o_iovec_init(c->out.data, c->out.len);
        c->respp.writing = true;
        c->respp.consume = r.head_len;
        h2o_socket_read_stop(c->us);
        c->cs->data = c;
        h2o_socket_write(c->cs, c->respp.iov, 1, on_resp_head_written);
}

static void on_resp_head_written(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        c->respp.writing = false;
        if (err) {
                rconn_close(c);
                return;
        }
        if (c->us && c->respp.consume)
                h2o_buffer_consume(&c->us->input, c->respp.consume);
        c->respp.consume = 0;
        if (!c->us) {
                rconn_close(c);
                return;
        }
        if (!c->resp_head_done) { /* after a 1xx: the next head */
                if (c->us->input->size)
                        handle_resp_head(c);
                else
                        h2o_socket_read_start(c->us, on_up_read);
                return;
        }
        if (c->st == RC_WS) {
                pipe_pump(c, &c->reqp);
                pipe_pump(c, &c->respp);
                return;
        }
        if (c->respp.mode == RBODY_NONE) {
                pipe_finished(c, &c->respp);
                return;
        }
        pipe_pump(c, &c->respp);
}

/* The rig's side failed or closed before its answer began. A kept-alive connection the rig had
 * closed gets the request again on a fresh one, once, when nothing but the head has gone. */
static void up_failed_early(struct rconn *c)
{
        if (c->up_reused && !c->retried && c->reqp.mode == RBODY_NONE && !c->ws &&
            c->us->input->size == 0) {
                c->retried = true;
                h2o_socket_close(c->us);
                c->us = NULL;
                c->up_reused = false;
                c->reqp.writing = false;
                c->reqp.done = false;
                c->respp.eof = false;
                up_connect(c);
                return;
        }
        bad_gateway(c, 502, "The app closed the connection without answering.");
}

static void on_up_read(h2o_socket_t *sock, const char *err)
{
        struct rconn *c = sock->data;
        if (err)
                c->respp.eof = true;
        if (!c->resp_head_done) {
                if (c->respp.writing)
                        return;
                if (err && sock->input->size == 0) {
                        up_failed_early(c);
                        return;
                }
                handle_resp_head(c);
                if (err && !c->resp_head_done && !c->respp.writing && c->us)
                        bad_gateway(c, 502, "The app closed the connection mid-answer.");
                return;
        }
        if (err)
                c->resp_keepalive = false;
        pipe_pump(c, &c->respp);
}
