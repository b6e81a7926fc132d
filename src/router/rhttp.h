/* The router's view of an HTTP/1.x request head: parsed by picohttpparser, then held to the
 * stricter rules a proxy needs (one Host, one framing of the body, no obsolete line folding), so
 * that the router and the rig can never disagree about where a request ends. Also the Host
 * matching, credential extraction and the rewriting of heads in both directions. Pure functions
 * over buffers: no sockets, no allocation beyond the output buffer (fuzzed by fuzz_router). */
#pragma once

#include "base/buf.h"
#include "base/picohttp.h"
#include "core/authn.h"

#include <stdbool.h>
#include <stdint.h>

#define RREQ_MAX_HEADERS 100
#define RAPP_NAME_MAX    64

enum rbody { RBODY_NONE = 0, RBODY_LENGTH, RBODY_CHUNKED, RBODY_CLOSE };

struct rreq {
        const char *method;
        size_t method_len;
        const char *path;
        size_t path_len;
        int minor; /* HTTP/1.minor */
        struct phr_header h[RREQ_MAX_HEADERS];
        size_t nh;
        size_t head_len;
        struct slice host; /* the Host header as sent */
        enum rbody body;   /* NONE, LENGTH or CHUNKED */
        uint64_t content_length;
        bool keepalive;  /* the client keeps the connection after this request */
        bool upgrade_ws; /* a WebSocket handshake (GET, Connection: upgrade, Upgrade: websocket) */
        bool is_head;
        bool accepts_html;   /* a browser navigation (Accept names text/html) */
        struct slice bearer; /* Authorization: Bearer <Rigs token>, else empty */
        bool strip_authz;    /* Authorization carries a Rigs token: never forwarded */
        struct slice cookie_app, cookie_preview; /* rigs_app=, rigs_preview= */
        struct slice cookie_session;             /* rigs_session= (a browser's API session) */
        struct slice query_preview;              /* ?rigs_preview= */
};

/* Parses the head at buf[0..len). Returns its length (> 0), -2 when incomplete, or -1 with
 * *status (400, 431, 501, 505) and *why set when the request must be refused. last_len: len at
 * the previous call for the same head (0 at first). */
int rreq_parse(const char *buf, size_t len, size_t last_len, struct rreq *r, int *status,
               const char **why);

/* Matches Host "NAME.DOMAIN[:PORT]" (case-insensitive, one label before the domain) and writes
 * NAME in lowercase. -ENOENT when the host is not an app host of domain. */
int rhost_match(const char *host, size_t hostlen, const char *domain, char *name, size_t namelen);

/* Appends the request head to send upstream: hop-by-hop headers, Rigs credentials (a Rigs
 * Authorization, rigs_* cookies) and client-sent X-Forwarded-Proto/Host dropped; X-Forwarded-For
 * extended with client_ip; the body's framing restated. */
void rreq_upstream_head(const struct rreq *r, const char *client_ip, bool tls, struct buf *out);

/* The request target without the rigs_preview query parameter (for the redirect after a
 * preview link). Writes a NUL-terminated path; returns its length or -ENOSPC. */
int rpath_without_preview(const char *path, size_t len, char *out, size_t outlen);

/* Upstream response heads. */
struct rresp {
        int minor, status;
        const char *msg;
        size_t msg_len;
        struct phr_header h[RREQ_MAX_HEADERS];
        size_t nh;
        size_t head_len;
        enum rbody body; /* how the upstream frames the body */
        uint64_t content_length;
        bool has_length;     /* the answer stated a Content-Length */
        bool upstream_close; /* the upstream connection cannot be reused */
};

/* Parses an upstream response head; -2 incomplete, -1 malformed (answer 502). is_head: the
 * request was HEAD (no body whatever the headers say). */
int rresp_parse(const char *buf, size_t len, bool is_head, struct rresp *r);

/* Appends the response head for the client: hop-by-hop headers dropped; the body re-framed as
 * chunked when its length is unknown and the client speaks HTTP/1.1 (chunked_out set), else
 * as-is; Connection per keepalive. */
void rresp_client_head(const struct rresp *r, int client_minor, bool keepalive, bool *chunked_out,
                       struct buf *out);

/* Finds `name` in a query string part of path; 0 with *val set, or -ENOENT. */
int rquery_find(const char *path, size_t len, const char *name, struct slice *val);
