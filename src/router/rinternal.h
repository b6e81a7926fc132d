/* Shared by the app router's translation units. */
#pragma once

#include "core/apps.h"
#include "rigd/rigd.h"
#include "router/rhttp.h"
#include "router/router.h"

#include <openssl/ssl.h>

#define ROUTER_HEADERS_MAX   (64u << 10)
#define ROUTER_IO_TIMEOUT_MS 60000
#define ROUTER_WS_TIMEOUT_MS 600000
#define ROUTER_IDLE_UP_MS    20000       /* an idle upstream connection is kept this long */
#define ROUTER_IDLE_UP_MAX   256         /* idle upstream connections per loop */
#define ROUTER_COPY_MAX      (64u << 10) /* answers up to this size are copied in one write */

struct rthread;

struct rcode {
        char code[ROUTER_CODE_LEN + 1];
        char app[APP_NAME_MAX];
        char user_id[ID_MAX];
        char email[256];
        int64_t expires;
};

/* The router's shared state (one per daemon). */
struct router {
        struct rigd *d;
        SSL_CTX *ssl_ctx;       /* NULL without --apps-tls-listen */
        int fd, tls_fd;         /* the listening sockets, shared by every loop (-1: none) */
        uint8_t cookie_key[32]; /* app cookies: generated at start, kept only in memory */
        pthread_mutex_t mu;     /* guards codes */
        struct rcode codes[ROUTER_CODES];
};

/* One direction of a proxied exchange: bytes move from *src's input to *dst with at most one
 * write in flight, and src is not read while it is (back-pressure both ways). */
struct rpipe {
        h2o_socket_t **src, **dst;
        enum rbody mode; /* NONE: nothing to move; CLOSE: until src's EOF; raw for WebSocket */
        bool raw;        /* WebSocket: bytes as they come, no framing */
        bool chunked_out;
        uint64_t left; /* LENGTH: bytes still to move */
        struct phr_chunked_decoder dec;
        bool writing, done, final_pending, eof;
        size_t consume; /* bytes of src's input the write in flight covers */
        char chunk_hdr[24];
        h2o_iovec_t iov[4];
};

enum rconn_state { RC_HEAD, RC_WAIT, RC_CONNECT, RC_EXCHANGE, RC_WS, RC_REPLY };

struct rconn {
        h2o_linklist_t link;
        struct rthread *rt;
        h2o_socket_t *cs, *us; /* client, upstream */
        bool tls;
        char client_ip[64];
        h2o_timeout_entry_t timer;
        enum rconn_state st;
        /* the request in progress (copied out of the client's input buffer) */
        int minor;
        bool keepalive, is_head, ws, close_after;
        struct buf up_head; /* the head sent upstream (kept for one retry) */
        struct buf out;     /* a reply written by the router itself */
        char up_key[80];    /* ip:port */
        struct sockaddr_in up_addr;
        bool up_reused, retried, resp_head_done, resp_keepalive;
        struct rpipe reqp, respp;
        char rig_id[ID_MAX];
        char app[APP_NAME_MAX];
        int64_t wait_since_ms; /* RC_WAIT: when it began waiting for its rig (0: not) */
        int64_t touched_ms;    /* bytes moved: the rig's activity, marked once a second */
};

struct rthread {
        struct rigd_thread *t;
        struct router *r;
        h2o_socket_t *listener, *tls_listener;
        int fd, tls_fd;
        h2o_timeout_t hdr_to, io_to, ws_to;
        h2o_linklist_t conns;
        h2o_linklist_t idle; /* struct rup_idle */
        size_t nidle;
        struct rcache *cache;
};

/* proxy.c */
void rconn_accept(struct rthread *rt, h2o_socket_t *sock, bool tls);
void rconn_close(struct rconn *c);
/* Continues a request that handle_request() let through to ip:port. */
void rconn_forward(struct rconn *c, const struct rreq *req, const char *ip, int port);
/* Answers the request from the router: status, extra headers ("Name: value\r\n"...), body. */
void rconn_reply(struct rconn *c, const struct rreq *req, int status, const char *headers,
                 const char *ctype, const char *body);
void rthread_idle_prune(struct rthread *rt, bool all);

/* access.c: decides a parsed request (routes, authenticates, authorizes, or answers). */
void router_handle(struct rconn *c, struct rreq *req);
void router_wait_tick(struct rthread *rt);
struct rcache *rcache_new(void);
void rcache_free(struct rcache *rc);
int router_cookie_mint(struct router *r, const char *app, const char *user_id, const char *email,
                       int64_t expires, char *out, size_t outlen);
