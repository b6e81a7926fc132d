#include "rig/wsclient.h"

#include "base/picohttp.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdio.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>

#define HEAD_MAX       (64u * 1024)
#define HANDSHAKE_WAIT 30000 /* ms */
#define MAX_HEADERS    64

struct wsclient {
        int fd;
        wslay_event_context_ptr ctx;
        struct buf early; /* bytes that came with the 101, read before the socket */
        size_t early_off;
        bool eof;
        wsc_on_msg cb;
        void *ud;
};

static int split_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                     const char **prefix)
{
        if (strncasecmp(url, "http://", 7) != 0)
                return -EINVAL;
        const char *h = url + 7, *end = h + strcspn(h, "/");
        const char *colon = memchr(h, ':', (size_t)(end - h));
        size_t hl = (size_t)((colon ? colon : end) - h);
        if (hl == 0 || hl >= hostlen)
                return -EINVAL;
        memcpy(host, h, hl);
        host[hl] = '\0';
        snprintf(port, portlen, "%.*s", colon ? (int)(end - colon - 1) : 2,
                 colon ? colon + 1 : "80");
        *prefix = end;
        return 0;
}

static int dial(const char *host, const char *port, char *err, size_t errlen)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        int g = getaddrinfo(host, port, &hints, &res);
        if (g != 0) {
                snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(g));
                return -EHOSTUNREACH;
        }
        int fd = -1, e = ECONNREFUSED;
        for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                        e = errno;
                        close(fd);
                        fd = -1;
                }
        }
        freeaddrinfo(res);
        if (fd < 0)
                snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(e));
        return fd < 0 ? -ECONNREFUSED : fd;
}

static void expected_accept(const char *key, char out[29])
{
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        uint8_t src[24 + sizeof(guid) - 1], sha[SHA_DIGEST_LENGTH];
        memcpy(src, key, 24);
        memcpy(src + 24, guid, sizeof(guid) - 1);
        SHA1(src, sizeof(src), sha);
        EVP_EncodeBlock((unsigned char *)out, sha, sizeof(sha));
}

/* The head of the server's answer, parsed by picohttpparser (libh2o's). The headers point into
 * the buffer that was parsed: valid until it grows. */
struct resp_head {
        int status;
        size_t len; /* bytes of the head; what follows is the body or WebSocket frames */
        struct phr_header h[MAX_HEADERS];
        size_t nh;
};

/* Reads until the response head is complete (and any bytes after it) into b, and parses it. */
static int read_head(int fd, struct buf *b, struct resp_head *rh)
{
        size_t last_len = 0;
        for (;;) {
                if (b->len > 0) {
                        int minor = 0;
                        const char *msg = NULL;
                        size_t msg_len = 0;
                        rh->nh = MAX_HEADERS;
                        int r = phr_parse_response(b->data, b->len, &minor, &rh->status, &msg,
                                                   &msg_len, rh->h, &rh->nh, last_len);
                        if (r > 0) {
                                rh->len = (size_t)r;
                                return 0;
                        }
                        if (r != -2)
                                return -EPROTO;
                        last_len = b->len;
                }
                if (b->len >= HEAD_MAX)
                        return -EPROTO;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, HANDSHAKE_WAIT) <= 0)
                        return -ETIMEDOUT;
                char chunk[4096];
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n <= 0)
                        return -EPROTO;
                buf_append(b, chunk, (size_t)n);
        }
}

/* Value of header name (case-insensitive) copied into out, or NULL when it is absent. */
static const char *header(const struct resp_head *rh, const char *name, char *out, size_t outlen)
{
        size_t nl = strlen(name);
        for (size_t i = 0; i < rh->nh; i++) {
                const struct phr_header *h = &rh->h[i];
                if (h->name && h->name_len == nl && strncasecmp(h->name, name, nl) == 0) {
                        snprintf(out, outlen, "%.*s", (int)h->value_len, h->value);
                        return out;
                }
        }
        return NULL;
}

/* The body of a refusal: want bytes (its Content-Length) after the head. */
static void read_body(int fd, long want, struct buf *b, size_t head_len, struct wsc_refusal *ref)
{
        if (want < 0 || want > (long)HEAD_MAX)
                want = HEAD_MAX;
        while ((long)(b->len - head_len) < want) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                char chunk[4096];
                ssize_t n = poll(&p, 1, HANDSHAKE_WAIT) > 0 ? read(fd, chunk, sizeof(chunk)) : -1;
                if (n <= 0)
                        break;
                buf_append(b, chunk, (size_t)n);
        }
        buf_append(&ref->body, b->data + head_len, b->len - head_len);
        buf_append(&ref->body, "", 1);
        ref->body.len--;
}

static int handshake(int fd, const char *host, const char *port, const char *path,
                     const char *bearer, struct buf *rest, struct wsc_refusal *ref, char *err,
                     size_t errlen)
{
        uint8_t nonce[16];
        char key[32], accept[29], want[32];
        if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
                return -EIO;
        EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
        _cleanup_free_ char *req = xasprintf(
            "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n"
            "User-Agent: rig/%s\r\n\r\n",
            path, host, port, key, bearer, RIGS_VERSION);
        size_t len = strlen(req);
        bool sent = send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len;
        explicit_bzero(req, len);
        struct buf b = {0};
        struct resp_head rh = {0};
        int r = sent ? read_head(fd, &b, &rh) : -EPROTO;
        if (r < 0) {
                snprintf(err, errlen, "no HTTP answer to the WebSocket upgrade from %s:%s", host,
                         port);
                buf_free(&b);
                return -EPROTO;
        }
        if (rh.status != 101) {
                char v[32];
                long body_len = header(&rh, "content-length", v, sizeof(v)) ? atol(v) : 0;
                ref->status = rh.status;
                read_body(fd, body_len, &b, rh.len, ref); /* b grows: rh.h is stale after */
                buf_free(&b);
                return -EACCES;
        }
        expected_accept(key, accept);
        if (!header(&rh, "sec-websocket-accept", want, sizeof(want)) || strcmp(want, accept)) {
                snprintf(err, errlen, "the server's WebSocket handshake is not valid");
                buf_free(&b);
                return -EPROTO;
        }
        buf_append(rest, b.data + rh.len, b.len - rh.len);
        buf_free(&b);
        return 0;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *p, size_t len, int flags, void *ud)
{
        struct wsclient *c = ud;
        if (c->early_off < c->early.len) {
                size_t n = c->early.len - c->early_off < len ? c->early.len - c->early_off : len;
                memcpy(p, c->early.data + c->early_off, n);
                c->early_off += n;
                return (ssize_t)n;
        }
        ssize_t n = read(c->fd, p, len);
        if (n > 0)
                return n;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        c->eof = true;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *p, size_t len, int flags,
                       void *ud)
{
        struct wsclient *c = ud;
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
                return n;
        wslay_event_set_error(ctx, errno == EAGAIN || errno == EINTR ? WSLAY_ERR_WOULDBLOCK
                                                                     : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *p, size_t len, void *ud)
{
        return getrandom(p, len, 0) == (ssize_t)len ? 0 : -1;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
        struct wsclient *c = ud;
        if (c->cb && (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME))
                c->cb(c->ud, arg->opcode, arg->msg, arg->msg_length);
}

int wsc_connect(const char *base_url, const char *path, const char *key, struct wsclient **out,
                struct wsc_refusal *ref, char *err, size_t errlen)
{
        static const struct wslay_event_callbacks cbs = {
            .recv_callback = recv_cb,
            .send_callback = send_cb,
            .genmask_callback = genmask_cb,
            .on_msg_recv_callback = msg_cb,
        };
        char host[256], port[16];
        const char *prefix;
        if (split_url(base_url, host, sizeof(host), port, sizeof(port), &prefix) < 0) {
                snprintf(err, errlen, "terminals need an http:// URL, not %s", base_url);
                return -EINVAL;
        }
        int fd = dial(host, port, err, errlen);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *full = xasprintf("%.*s%s", (int)strcspn(prefix, "?#"), prefix, path);
        struct buf rest = {0};
        int r = handshake(fd, host, port, full, key, &rest, ref, err, errlen);
        if (r < 0) {
                close(fd);
                buf_free(&rest);
                return r;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        struct wsclient *c = xcalloc(1, sizeof(*c));
        c->fd = fd;
        c->early = rest;
        if (wslay_event_context_client_init(&c->ctx, &cbs, c) != 0)
                abort();
        wslay_event_config_set_max_recv_msg_length(c->ctx, 16u << 20);
        *out = c;
        return 0;
}

void wsc_free(struct wsclient *c)
{
        if (!c)
                return;
        wslay_event_context_free(c->ctx);
        close(c->fd);
        buf_free(&c->early);
        free(c);
}

int wsc_fd(const struct wsclient *c)
{
        return c->fd;
}

int wsc_send(struct wsclient *c, uint8_t opcode, const void *p, size_t len)
{
        struct wslay_event_msg m = {.opcode = opcode, .msg = p, .msg_length = len};
        return wslay_event_queue_msg(c->ctx, &m) == 0 ? 0 : -EPIPE;
}

int wsc_pump(struct wsclient *c, wsc_on_msg cb, void *ud)
{
        c->cb = cb;
        c->ud = ud;
        if (wslay_event_want_read(c->ctx) && wslay_event_recv(c->ctx) != 0)
                return -EPIPE;
        if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0)
                return -EPIPE;
        if (c->eof || (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx)))
                return -EPIPE;
        return 0;
}

bool wsc_want_write(const struct wsclient *c)
{
        return wslay_event_want_write(c->ctx);
}

size_t wsc_queued(const struct wsclient *c)
{
        return wslay_event_get_queued_msg_length(c->ctx);
}

void wsc_close(struct wsclient *c)
{
        (void)wslay_event_queue_close(c->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
}
