/* Terminal sessions: an interactive login shell in a rig (a pty exec through the rig's shim)
 * shared by WebSocket clients, one of which controls it while the others observe.
 *
 * All sessions and their clients live on one event loop of their own (the "pty loop"), so a
 * session needs no locks for its traffic. A request thread checks and audits an upgrade, then
 * hands the upgraded socket over (h2o_socket_export / import) with a message. Only what
 * GET /api/rigs/{id}/sessions shows is read by other threads, under P.lock.
 *
 * Flow control: the shim is not read while any client has more than OUT_HIGH bytes queued (a
 * slow client slows the session down instead of growing rigd's memory; an observer that holds
 * the session up for STALL_KICK_MS is dropped); the controller's WebSocket is not read while
 * more than IN_HIGH bytes of its input wait for the shim (which itself stops reading while the
 * shell does not take its input).
 *
 * Lifetimes: ws callbacks may fire inside any ws_* call, so clients and sessions are only marked
 * dead where that happens, and freed by gc() when the outermost entry point (P.depth) returns. */
#include "rigd/live.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "core/ptyctl.h"
#include "rigd/pty.h"
#include "rigd/ws.h"
#include "runtime/shimproto.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>

#define OUT_HIGH      (1u << 20)
#define OUT_LOW       (256u << 10)
#define IN_HIGH       (256u << 10)
#define WS_MAX_MSG    (1u << 20)
#define CLOSE_WAIT_MS 5000
#define STALL_KICK_MS 30000
#define STOP_GRACE_MS 3000
#define HANGUP_CODE   129 /* 128 + SIGHUP: the terminal went away before the shell exited */

struct client {
        struct client *next;
        struct session *s;
        struct wsconn *ws;
        char principal[ID_MAX];
        enum principal_kind kind;
        enum pty_mode mode;
        bool closing; /* we asked it to close: its queue no longer counts */
        bool dead;    /* on_closed came: freed by gc() */
        bool input_paused;
};

struct session {
        struct session *next;
        struct pty_info info; /* listed fields: written under P.lock */
        h2o_socket_t *shim;
        bool shim_paused;
        int64_t paused_since_ms;
        struct buf shim_out;      /* frames for the shim not yet written */
        struct buf shim_inflight; /* the write in progress */
        struct client *clients;
        struct client *controller;
        char ring[PTY_SCROLLBACK]; /* the last output, circular */
        size_t ring_len, ring_pos;
        int64_t last_activity_ms;
        bool ending;
};

static struct {
        pthread_mutex_t lock;
        pthread_mutex_t start_lock;
        bool started, shut;
        pthread_t tid;
        h2o_loop_t *loop;
        h2o_multithread_queue_t *queue;
        h2o_multithread_receiver_t inbox;
        h2o_timeout_t tick_to;
        h2o_timeout_t close_to; /* the WebSockets' close deadline */
        h2o_timeout_entry_t tick;
        struct session *sessions; /* the listed ones are linked under lock */
        struct session *ended;    /* unlinked, waiting for their clients to close */
        struct client *orphans;   /* attaches that came too late, being closed */
        int depth;
        bool stopping, stopped;
        int64_t idle_ms;
        atomic_int nsessions, nclients; /* reservations, taken by request threads */
} P = {.lock = PTHREAD_MUTEX_INITIALIZER, .start_lock = PTHREAD_MUTEX_INITIALIZER};

static void gc(void);

static void enter(void)
{
        P.depth++;
}

static void leave(void)
{
        if (--P.depth == 0)
                gc();
}

/* ---- output to clients ---- */

static void send_json(struct client *c, json_t *o)
{
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (s && !c->dead)
                (void)ws_send(c->ws, WSLAY_TEXT_FRAME, s, strlen(s));
        free(s);
}

static void close_client(struct client *c, uint16_t code, const char *why)
{
        if (c->dead || c->closing)
                return;
        c->closing = true;
        ws_close(c->ws, code, why);
}

static void ring_add(struct session *s, const char *p, size_t n)
{
        if (n >= PTY_SCROLLBACK) {
                p += n - PTY_SCROLLBACK;
                n = PTY_SCROLLBACK;
        }
        while (n > 0) {
                size_t k = PTY_SCROLLBACK - s->ring_pos < n ? PTY_SCROLLBACK - s->ring_pos : n;
                memcpy(s->ring + s->ring_pos, p, k);
                s->ring_pos = (s->ring_pos + k) % PTY_SCROLLBACK;
                s->ring_len = s->ring_len + k > PTY_SCROLLBACK ? PTY_SCROLLBACK : s->ring_len + k;
                p += k;
                n -= k;
        }
}

static void send_scrollback(struct client *c)
{
        struct session *s = c->s;
        if (s->ring_len == 0)
                return;
        char *b = xmalloc(s->ring_len);
        size_t start = (s->ring_pos + PTY_SCROLLBACK - s->ring_len) % PTY_SCROLLBACK;
        size_t first = PTY_SCROLLBACK - start < s->ring_len ? PTY_SCROLLBACK - start : s->ring_len;
        memcpy(b, s->ring + start, first);
        memcpy(b + first, s->ring, s->ring_len - first);
        (void)ws_send(c->ws, WSLAY_BINARY_FRAME, b, s->ring_len);
        free(b);
}

/* Some live client is behind: stop reading the shim until every one has caught up. */
static bool clients_behind(const struct session *s)
{
        for (const struct client *c = s->clients; c; c = c->next)
                if (!c->dead && !c->closing && ws_queued(c->ws) > OUT_HIGH)
                        return true;
        return false;
}

static void on_shim_read(h2o_socket_t *sock, const char *err);

static void update_shim_reading(struct session *s)
{
        if (!s->shim)
                return;
        bool behind = clients_behind(s);
        if (behind && !s->shim_paused) {
                s->shim_paused = true;
                s->paused_since_ms = mono_ms();
                h2o_socket_read_stop(s->shim);
        } else if (!behind && s->shim_paused) {
                s->shim_paused = false;
                h2o_socket_read_start(s->shim, on_shim_read);
        }
}

static void broadcast_output(struct session *s, const char *p, size_t n)
{
        ring_add(s, p, n);
        s->last_activity_ms = mono_ms();
        for (struct client *c = s->clients; c; c = c->next)
                if (!c->dead && !c->closing)
                        (void)ws_send(c->ws, WSLAY_BINARY_FRAME, p, n);
}

/* ---- the listed view ---- */

static void update_listing(struct session *s)
{
        int observers = 0;
        for (struct client *c = s->clients; c; c = c->next)
                if (!c->dead && c->mode == PTY_OBSERVE)
                        observers++;
        pthread_mutex_lock(&P.lock);
        s->info.observers = observers;
        if (s->controller) {
                snprintf(s->info.controller, sizeof(s->info.controller), "%s",
                         s->controller->principal);
                s->info.controller_kind = s->controller->kind;
        } else {
                s->info.controller[0] = '\0';
        }
        pthread_mutex_unlock(&P.lock);
}

/* Tells every client who controls the session now, and what it is itself. */
static void announce_control(struct session *s)
{
        for (struct client *c = s->clients; c; c = c->next) {
                if (c->dead || c->closing)
                        continue;
                json_t *o = json_pack(
                    "{s:s,s:s,s:o,s:o,s:s}", "type", "control", "session", s->info.id, "controller",
                    s->controller ? json_string(s->controller->principal) : json_null(),
                    "controller_kind",
                    s->controller ? json_string(principal_kind_name(s->controller->kind))
                                  : json_null(),
                    "mode", c->mode == PTY_CONTROL ? "control" : "observe");
                send_json(c, o);
        }
}

/* ---- ending ---- */

/* Ends the session: every client hears the exit code and is closed; the shim connection goes,
 * which ends the shell if it still runs. */
static void end_session(struct session *s, int code, const char *reason)
{
        if (s->ending)
                return;
        s->ending = true;
        pthread_mutex_lock(&P.lock);
        for (struct session **ps = &P.sessions; *ps; ps = &(*ps)->next)
                if (*ps == s) {
                        *ps = s->next;
                        break;
                }
        s->next = P.ended;
        P.ended = s;
        pthread_mutex_unlock(&P.lock);
        if (s->shim) {
                h2o_socket_read_stop(s->shim);
                h2o_socket_close(s->shim);
                s->shim = NULL;
        }
        for (struct client *c = s->clients; c; c = c->next) {
                if (c->dead || c->closing)
                        continue;
                json_t *o = json_pack("{s:s,s:i}", "type", "exit", "code", code);
                if (reason)
                        json_object_set_new(o, "reason", json_string(reason));
                send_json(c, o);
                close_client(c, 1000, reason ? reason : "exit");
        }
        atomic_fetch_sub(&P.nsessions, 1);
}

static void free_session(struct session *s)
{
        buf_free(&s->shim_out);
        buf_free(&s->shim_inflight);
        free(s);
}

/* Frees the clients of s that have closed. */
static void reap_clients(struct session *s)
{
        for (struct client **pc = &s->clients; *pc;) {
                struct client *c = *pc;
                if (!c->dead) {
                        pc = &c->next;
                        continue;
                }
                *pc = c->next;
                ws_free(c->ws);
                free(c);
        }
}

/* Frees dead clients, ends sessions nobody is attached to any more, frees ended sessions whose
 * clients are all gone. Runs only when no callback of ours is on the stack. */
static void gc(void)
{
        P.depth++;
        for (bool again = true; again;) {
                again = false;
                for (struct session *s = P.sessions; s; s = s->next) {
                        reap_clients(s);
                        if (!s->clients) {
                                end_session(s, HANGUP_CODE, "no client is attached");
                                again = true; /* the list changed */
                                break;
                        }
                }
        }
        for (struct client **pc = &P.orphans; *pc;) {
                struct client *c = *pc;
                if (!c->dead) {
                        pc = &c->next;
                        continue;
                }
                *pc = c->next;
                ws_free(c->ws);
                free(c);
        }
        for (struct session **ps = &P.ended; *ps;) {
                struct session *s = *ps;
                reap_clients(s);
                if (s->clients) {
                        ps = &s->next;
                        continue;
                }
                pthread_mutex_lock(&P.lock);
                *ps = s->next;
                pthread_mutex_unlock(&P.lock);
                free_session(s);
        }
        P.depth--;
}

/* ---- the shim connection ---- */

static void on_shim_write(h2o_socket_t *sock, const char *err);

static void shim_flush(struct session *s)
{
        if (!s->shim || h2o_socket_is_writing(s->shim) || s->shim_out.len == 0)
                return;
        buf_free(&s->shim_inflight);
        s->shim_inflight = s->shim_out;
        memset(&s->shim_out, 0, sizeof(s->shim_out));
        h2o_iovec_t iov = h2o_iovec_init(s->shim_inflight.data, s->shim_inflight.len);
        h2o_socket_write(s->shim, &iov, 1, on_shim_write);
}

static void shim_queue(struct session *s, char type, const void *p, size_t n)
{
        const char *b = p;
        do {
                size_t k = n < SHIM_FRAME_MAX ? n : SHIM_FRAME_MAX;
                uint8_t hdr[SHIM_HDR_LEN];
                shim_hdr(hdr, type, (uint32_t)k);
                buf_append(&s->shim_out, hdr, sizeof(hdr));
                buf_append(&s->shim_out, b, k);
                b += k;
                n -= k;
        } while (n > 0);
        shim_flush(s);
}

static size_t shim_pending(const struct session *s)
{
        return s->shim_out.len + s->shim_inflight.len;
}

/* The controller's input reading follows what waits for the shim. */
static void update_input_reading(struct session *s)
{
        struct client *c = s->controller;
        if (!c || c->dead)
                return;
        bool full = shim_pending(s) > IN_HIGH;
        if (full != c->input_paused) {
                c->input_paused = full;
                ws_pause_read(c->ws, full);
        }
}

static void on_shim_write(h2o_socket_t *sock, const char *err)
{
        struct session *s = sock->data;
        enter();
        buf_free(&s->shim_inflight);
        if (err) {
                end_session(s, HANGUP_CODE, "the rig stopped");
        } else {
                shim_flush(s);
                update_input_reading(s);
        }
        leave();
}

static void on_exit_frame(struct session *s, const char *p, size_t n)
{
        json_t *x = json_loadb(p, n, 0, NULL);
        int code = (int)json_integer_value(json_object_get(x, "exit_code"));
        json_decref(x);
        end_session(s, code, NULL);
}

static void on_refusal(struct session *s, const char *p, size_t n)
{
        json_t *x = json_loadb(p, n, 0, NULL);
        const char *msg = json_string_value(json_object_get(x, "message"));
        json_int_t e = json_integer_value(json_object_get(x, "errno"));
        for (struct client *c = s->clients; c; c = c->next)
                if (!c->dead && !c->closing)
                        send_json(c, json_pack("{s:s,s:s}", "type", "error", "message",
                                               e == EBUSY ? "the rig is paused; resume it first"
                                               : msg      ? msg
                                                          : "the shell could not start"));
        json_decref(x);
        end_session(s, HANGUP_CODE, "the shell could not start");
}

/* Frames from the shim: 'O' output, 'X' exit, 'J' a refusal to start. */
static void on_shim_read(h2o_socket_t *sock, const char *err)
{
        struct session *s = sock->data;
        enter();
        if (err) {
                end_session(s, HANGUP_CODE, "the rig stopped");
                leave();
                return;
        }
        while (s->shim && sock->input->size >= SHIM_HDR_LEN) {
                char type;
                uint32_t len;
                if (shim_hdr_parse((const uint8_t *)sock->input->bytes, &type, &len) < 0) {
                        end_session(s, HANGUP_CODE, "the rig stopped");
                        break;
                }
                if (sock->input->size < SHIM_HDR_LEN + len)
                        break;
                const char *p = sock->input->bytes + SHIM_HDR_LEN;
                if (type == SF_STDOUT || type == SF_STDERR)
                        broadcast_output(s, p, len);
                else if (type == SF_EXIT)
                        on_exit_frame(s, p, len);
                else if (type == SF_JSON)
                        on_refusal(s, p, len);
                if (!s->shim)
                        break; /* ended: sock->input is gone */
                h2o_buffer_consume(&sock->input, SHIM_HDR_LEN + len);
        }
        if (!s->ending)
                update_shim_reading(s);
        leave();
}

/* ---- clients ---- */

static void set_controller(struct session *s, struct client *c)
{
        struct client *old = s->controller;
        if (old && old != c) {
                old->mode = PTY_OBSERVE;
                if (old->input_paused && !old->dead) {
                        old->input_paused = false;
                        ws_pause_read(old->ws, false);
                }
        }
        s->controller = c;
        if (c)
                c->mode = PTY_CONTROL;
        update_listing(s);
        announce_control(s);
}

static void on_client_msg(struct wsconn *ws, uint8_t opcode, const uint8_t *p, size_t n)
{
        struct client *c = ws_data(ws);
        struct session *s = c->s;
        if (!s)
                return;
        enter();
        s->last_activity_ms = mono_ms();
        if (c->mode != PTY_CONTROL || s->ending || !s->shim) {
                leave(); /* an observer's input is ignored */
                return;
        }
        if (opcode == WSLAY_BINARY_FRAME && n > 0) {
                shim_queue(s, SF_STDIN, p, n);
                update_input_reading(s);
        } else if (opcode == WSLAY_TEXT_FRAME) {
                struct ptyctl m;
                if (ptyctl_parse((const char *)p, n, &m) < 0) {
                        send_json(c, json_pack("{s:s,s:s}", "type", "error", "message",
                                               "a control message is JSON such as "
                                               "{\"type\":\"resize\",\"cols\":80,\"rows\":24}"));
                } else if (m.type == PTYCTL_RESIZE) {
                        char js[64];
                        int k =
                            snprintf(js, sizeof(js), "{\"cols\":%u,\"rows\":%u}", m.cols, m.rows);
                        shim_queue(s, SF_RESIZE, js, (size_t)k);
                        pthread_mutex_lock(&P.lock);
                        s->info.cols = m.cols;
                        s->info.rows = m.rows;
                        pthread_mutex_unlock(&P.lock);
                }
        }
        leave();
}

static void on_client_drain(struct wsconn *ws)
{
        struct client *c = ws_data(ws);
        if (!c->s)
                return;
        enter();
        if (c->s->shim_paused)
                update_shim_reading(c->s);
        leave();
}

static void on_client_closed(struct wsconn *ws)
{
        struct client *c = ws_data(ws);
        struct session *s = c->s;
        enter();
        c->dead = true;
        atomic_fetch_sub(&P.nclients, 1);
        if (s && !s->ending) {
                if (s->controller == c)
                        set_controller(s, NULL);
                else
                        update_listing(s);
                update_shim_reading(s);
        }
        leave();
}

static const struct ws_handlers client_handlers = {
    .on_msg = on_client_msg,
    .on_drain = on_client_drain,
    .on_closed = on_client_closed,
};

/* Joins a client to s: it hears the session's id, the scrollback, then the live output. */
static void add_client(struct session *s, h2o_socket_t *sock, const char *principal,
                       enum principal_kind kind, enum pty_mode mode)
{
        static const struct ws_limits lim = {
            .max_msg = WS_MAX_MSG, .low_water = OUT_LOW, .close_timeout = &P.close_to};
        struct client *c = xcalloc(1, sizeof(*c));
        c->s = s;
        snprintf(c->principal, sizeof(c->principal), "%s", principal);
        c->kind = kind;
        c->mode = PTY_OBSERVE;
        c->next = s->clients;
        s->clients = c;
        c->ws = ws_new(sock, P.loop, &client_handlers, &lim, c);
        send_json(c, json_pack("{s:s,s:s,s:s,s:s,s:I}", "type", "session", "id", s->info.id, "rig",
                               s->info.rig_id, "mode", mode == PTY_CONTROL ? "control" : "observe",
                               "started_at", (json_int_t)s->info.started_at));
        send_scrollback(c);
        if (mode == PTY_CONTROL)
                set_controller(s, c);
        else
                update_listing(s);
        ws_start(c->ws);
}

/* ---- handoffs from the request threads ---- */

/* An attach whose session ended between the check and the handoff: a client of no session,
 * told so and closed. */
static void refuse_socket(h2o_socket_t *sock, const char *why)
{
        static const struct ws_limits lim = {
            .max_msg = PTYCTL_MSG_MAX, .low_water = 0, .close_timeout = &P.close_to};
        struct client *c = xcalloc(1, sizeof(*c));
        c->next = P.orphans;
        P.orphans = c;
        c->ws = ws_new(sock, P.loop, &client_handlers, &lim, c);
        send_json(c, json_pack("{s:s,s:s}", "type", "error", "message", why));
        close_client(c, 1000, why);
        ws_start(c->ws);
}

static struct session *find_live(const char *sid)
{
        for (struct session *s = P.sessions; s; s = s->next)
                if (streq(s->info.id, sid))
                        return s;
        return NULL;
}

static void open_session(struct pty_handoff *h, h2o_socket_t *sock)
{
        struct session *s = xcalloc(1, sizeof(*s));
        s->info = h->info;
        s->last_activity_ms = mono_ms();
        s->shim = h2o_evloop_socket_create(P.loop, TAKE_FD(h->shim_fd), 0);
        s->shim->data = s;
        pthread_mutex_lock(&P.lock);
        s->next = P.sessions;
        P.sessions = s;
        pthread_mutex_unlock(&P.lock);
        h2o_socket_read_start(s->shim, on_shim_read);
        add_client(s, sock, h->principal, h->kind, PTY_CONTROL);
}

static void take_handoff(struct pty_handoff *h)
{
        bool is_open = h->shim_fd >= 0;
        if (P.stopping) {
                pty_handoff_drop(h);
                return;
        }
        /* Keystrokes and their echoes are tiny writes: no Nagle delay on a terminal. */
        int one = 1;
        (void)setsockopt(h->sock.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        h2o_socket_t *sock = h2o_socket_import(P.loop, &h->sock);
        h->sock.fd = -1;
        if (is_open) {
                open_session(h, sock);
        } else {
                struct session *s = find_live(h->info.id);
                if (s && !s->ending) {
                        add_client(s, sock, h->principal, h->kind, h->mode);
                } else {
                        refuse_socket(sock, "the session has ended");
                }
        }
        free(h);
}

static void on_inbox(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
        enter();
        while (!h2o_linklist_is_empty(messages)) {
                h2o_multithread_message_t *m =
                    H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
                h2o_linklist_unlink(&m->link);
                struct pty_handoff *h = (struct pty_handoff *)m;
                if (h->shim_fd == -2) { /* the stop message */
                        P.stopping = true;
                        free(h);
                        continue;
                }
                take_handoff(h);
        }
        leave();
}

/* ---- time: idle sessions and stalled observers ---- */

static void check_session(struct session *s, int64_t now)
{
        if (P.idle_ms > 0 && now - s->last_activity_ms > P.idle_ms) {
                end_session(s, HANGUP_CODE, "idle timeout");
                return;
        }
        if (!s->shim_paused || now - s->paused_since_ms < STALL_KICK_MS)
                return;
        /* An observer that holds everybody up for this long is dropped. */
        for (struct client *c = s->clients; c; c = c->next)
                if (!c->dead && !c->closing && c->mode == PTY_OBSERVE &&
                    ws_queued(c->ws) > OUT_HIGH)
                        close_client(c, 1008, "too slow: the client does not read its output");
        update_shim_reading(s);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
        enter();
        int64_t now = mono_ms();
        for (struct session *s = P.sessions, *next; s; s = next) {
                next = s->next; /* end_session() unlinks s */
                check_session(s, now);
        }
        leave();
        if (!P.stopped)
                h2o_timeout_link(P.loop, &P.tick_to, &P.tick);
}

/* ---- the loop thread ---- */

static bool all_gone(void)
{
        return !P.sessions && !P.ended && !P.orphans;
}

static void stop_everything(void)
{
        enter();
        while (P.sessions)
                end_session(P.sessions, HANGUP_CODE, "rigd is shutting down");
        leave();
        /* Let the close frames go out; then whatever is left is closed hard. */
        int64_t deadline = mono_ms() + STOP_GRACE_MS;
        while (!all_gone() && mono_ms() < deadline)
                h2o_evloop_run(P.loop, 50);
        for (struct session *s = P.ended; s; s = s->next)
                for (struct client *c = s->clients; c; c = c->next)
                        c->dead = true;
        for (struct client *c = P.orphans; c; c = c->next)
                c->dead = true;
        gc();
}

static void *pty_main(void *arg)
{
        while (!P.stopping)
                h2o_evloop_run(P.loop, INT32_MAX);
        stop_everything();
        P.stopped = true;
        if (h2o_timeout_is_linked(&P.tick))
                h2o_timeout_unlink(&P.tick);
        h2o_timeout_dispose(P.loop, &P.tick_to);
        h2o_timeout_dispose(P.loop, &P.close_to);
        h2o_multithread_unregister_receiver(P.queue, &P.inbox);
        h2o_multithread_destroy_queue(P.queue);
        /* Sockets h2o is still disposing of need a few more turns of the loop. */
        for (int i = 0; i < 10; i++)
                h2o_evloop_run(P.loop, 0);
        h2o_evloop_destroy(P.loop);
        return NULL;
}

/* Starts the loop thread on first use; after pty_stop() nothing starts any more. */
int pty_ensure_started(int idle_s)
{
        int r = 0;
        pthread_mutex_lock(&P.start_lock);
        if (P.shut) {
                r = -ESHUTDOWN;
        } else if (!P.started) {
                P.idle_ms = (int64_t)idle_s * 1000;
                P.loop = h2o_evloop_create();
                P.queue = h2o_multithread_create_queue(P.loop);
                h2o_multithread_register_receiver(P.queue, &P.inbox, on_inbox);
                h2o_timeout_init(P.loop, &P.tick_to, 1000);
                h2o_timeout_init(P.loop, &P.close_to, CLOSE_WAIT_MS);
                P.tick.cb = on_tick;
                h2o_timeout_link(P.loop, &P.tick_to, &P.tick);
                r = -pthread_create(&P.tid, NULL, pty_main, NULL);
                P.started = r == 0;
        }
        pthread_mutex_unlock(&P.start_lock);
        return r;
}

void pty_stop(void)
{
        pthread_mutex_lock(&P.start_lock);
        P.shut = true;
        bool started = P.started;
        pthread_mutex_unlock(&P.start_lock);
        if (!started)
                return;
        struct pty_handoff *h = xcalloc(1, sizeof(*h));
        h->shim_fd = -2;
        h->sock.fd = -1;
        h2o_multithread_send_message(&P.inbox, &h->super);
        pthread_join(P.tid, NULL);
}

/* ---- what request threads use ---- */

bool pty_reserve(bool session)
{
        if (session && atomic_fetch_add(&P.nsessions, 1) >= PTY_MAX_SESSIONS) {
                atomic_fetch_sub(&P.nsessions, 1);
                return false;
        }
        if (atomic_fetch_add(&P.nclients, 1) >= PTY_MAX_CLIENTS) {
                atomic_fetch_sub(&P.nclients, 1);
                if (session)
                        atomic_fetch_sub(&P.nsessions, 1);
                return false;
        }
        return true;
}

void pty_release(bool session)
{
        atomic_fetch_sub(&P.nclients, 1);
        if (session)
                atomic_fetch_sub(&P.nsessions, 1);
}

void pty_handoff_post(struct pty_handoff *h)
{
        h2o_multithread_send_message(&P.inbox, &h->super);
}

void pty_handoff_drop(struct pty_handoff *h)
{
        if (!h)
                return;
        if (h->sock.fd >= 0)
                h2o_socket_dispose_export(&h->sock);
        bool session = h->shim_fd >= 0;
        if (session)
                close(h->shim_fd);
        pty_release(session);
        free(h);
}

size_t pty_list(const char *rig_id, struct pty_info *out, size_t max)
{
        size_t n = 0;
        pthread_mutex_lock(&P.lock);
        for (struct session *s = P.sessions; s && n < max; s = s->next)
                if (streq(s->info.rig_id, rig_id))
                        out[n++] = s->info;
        pthread_mutex_unlock(&P.lock);
        /* The list is newest first: give the oldest first. */
        for (size_t i = 0; i < n / 2; i++) {
                struct pty_info t = out[i];
                out[i] = out[n - 1 - i];
                out[n - 1 - i] = t;
        }
        return n;
}

bool pty_find(const char *rig_id, const char *sid, struct pty_info *out)
{
        bool found = false;
        pthread_mutex_lock(&P.lock);
        for (struct session *s = P.sessions; s; s = s->next)
                if (streq(s->info.id, sid) && streq(s->info.rig_id, rig_id)) {
                        *out = s->info;
                        found = true;
                        break;
                }
        pthread_mutex_unlock(&P.lock);
        return found;
}
