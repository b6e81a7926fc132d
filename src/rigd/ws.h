/* A WebSocket connection (RFC 6455) on an upgraded h2o socket. Framing, masking, control frames
 * and the close handshake are libwslay's; this binds a wslay server context to an h2o socket
 * with what h2o 2.2's own h2o_websocket_conn_t lacks: reading can be paused (its proceed()
 * restarts reading after every write, so it cannot push back on a fast sender), the bytes
 * waiting to be sent are counted (so that a producer can stop while a client is slow), received
 * messages are bounded in size, and a close we start has a deadline.
 *
 * Everything happens on the loop that owns the socket. Callbacks may call any ws_* function,
 * ws_free included (the free is deferred until the callback has returned). */
#pragma once

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include <stdbool.h>
#include <wslay/wslay.h>

struct wsconn;

struct ws_handlers {
        /* A complete text (WSLAY_TEXT_FRAME) or binary (WSLAY_BINARY_FRAME) message. */
        void (*on_msg)(struct wsconn *ws, uint8_t opcode, const uint8_t *p, size_t len);
        /* A write finished and ws_queued() is at or below low_water. */
        void (*on_drain)(struct wsconn *ws);
        /* The connection is over (close handshake done, peer gone, error or deadline). Called
         * once; no other callback follows. The owner then calls ws_free(). */
        void (*on_closed)(struct wsconn *ws);
};

struct ws_limits {
        size_t max_msg;   /* longest message accepted (then close 1009) */
        size_t low_water; /* on_drain is called when queued bytes fall to this */
        /* How long a close we started waits for the peer's: a timeout of the connection's loop,
         * owned by the caller (shared by its connections, disposed of after the last one). */
        h2o_timeout_t *close_timeout;
};

/* Takes over sock (an upgraded connection on this thread's loop, possibly with bytes already in
 * sock->input). Messages may be queued at once; nothing is read or written, and no callback is
 * called, until ws_start(). */
struct wsconn *ws_new(h2o_socket_t *sock, h2o_loop_t *loop, const struct ws_handlers *h,
                      const struct ws_limits *lim, void *data);
/* Starts reading and sending (callbacks may come from here on). */
void ws_start(struct wsconn *ws);
void *ws_data(const struct wsconn *ws);
/* Queues a message. Returns 0, or -EPIPE once the connection is closing or closed. */
int ws_send(struct wsconn *ws, uint8_t opcode, const void *p, size_t len);
/* Bytes queued and not yet written to the socket. */
size_t ws_queued(const struct wsconn *ws);
/* Stops (true) or resumes (false) reading from the peer. */
void ws_pause_read(struct wsconn *ws, bool paused);
/* Starts the close handshake after what is queued; on_closed follows (at the latest after
 * close_timeout). */
void ws_close(struct wsconn *ws, uint16_t code, const char *reason);
/* Frees the connection, closing the socket at once if it is still open. Never calls back. */
void ws_free(struct wsconn *ws);
