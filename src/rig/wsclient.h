/* A WebSocket client for the terminal endpoints: an HTTP/1.1 upgrade on a plain TCP socket,
 * then libwslay for the framing (Debian 12's libcurl 7.88 has no WebSocket support enabled).
 * http:// URLs only. Non-blocking after the handshake: the caller polls wsc_fd(). */
#pragma once

#include "base/buf.h"
#include "base/util.h"

#include <wslay/wslay.h>

struct wsclient;

/* What the server answered when it did not upgrade. */
struct wsc_refusal {
        long status;     /* HTTP status, 0 when the connection itself failed */
        struct buf body; /* its body (JSON error) */
};

/* Connects to base_url (http://host[:port][/prefix]) + path, sending the bearer key, and
 * completes the upgrade. Returns 0 with *out, -ECONNREFUSED/-EHOSTUNREACH/-EPROTO/-EINVAL on
 * failure (err says why), or -EACCES when the server answered with a status (in *ref). */
int wsc_connect(const char *base_url, const char *path, const char *key, struct wsclient **out,
                struct wsc_refusal *ref, char *err, size_t errlen);
void wsc_free(struct wsclient *c);
int wsc_fd(const struct wsclient *c);

/* Called for each complete text or binary message. */
typedef void (*wsc_on_msg)(void *ud, uint8_t opcode, const uint8_t *p, size_t len);

/* Queues a message. Returns 0 or -EPIPE. */
int wsc_send(struct wsclient *c, uint8_t opcode, const void *p, size_t len);
/* Reads what is there (delivering messages) and writes what it can. Returns 0, or -EPIPE once
 * the connection is over (closed by either side, or broken). */
int wsc_pump(struct wsclient *c, wsc_on_msg cb, void *ud);
bool wsc_want_write(const struct wsclient *c);
/* Bytes queued and not yet written. */
size_t wsc_queued(const struct wsclient *c);
/* Starts the close handshake. */
void wsc_close(struct wsclient *c);
