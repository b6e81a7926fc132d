/* Request and response heads for the app router; see rhttp.h. */
#include "router/rhttp.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* Appends v in decimal (the hot path avoids printf). */
static void put_u64(struct buf *out, uint64_t v)
{
        char d[24];
        size_t n = sizeof(d);
        do {
                d[--n] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        buf_append(out, d + n, sizeof(d) - n);
}

static bool name_is(const struct phr_header *h, const char *name)
{
        size_t n = strlen(name);
        return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

/* A comma-separated header value contains token tok (case-insensitive). */
static bool has_token(const char *p, size_t len, const char *tok)
{
        size_t tl = strlen(tok);
        size_t i = 0;
        while (i < len) {
                while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
                        i++;
                size_t s = i;
                while (i < len && p[i] != ',')
                        i++;
                size_t e = i;
                while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
                        e--;
                if (e - s == tl && strncasecmp(p + s, tok, tl) == 0)
                        return true;
        }
        return false;
}

static bool value_is(const struct phr_header *h, const char *v)
{
        const char *p = h->value;
        size_t len = h->value_len;
        while (len && (*p == ' ' || *p == '\t'))
                p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                len--;
        return len == strlen(v) && strncasecmp(p, v, len) == 0;
}

static int parse_length(const char *p, size_t len, uint64_t *out)
{
        while (len && (*p == ' ' || *p == '\t'))
                p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                len--;
        if (len == 0 || len > 18)
                return -EINVAL;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(p[i] - '0');
        }
        *out = v;
        return 0;
}

static bool is_tchar(char ch)
{
        return isalnum((unsigned char)ch) || strchr("!#$%&'*+-.^_`|~", ch);
}

static bool bytes_ok(const char *p, size_t len, bool value)
{
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)p[i];
                if (value ? (ch < 0x20 && ch != '\t') || ch == 0x7f : !is_tchar((char)ch))
                        return false;
        }
        return true;
}

static int refuse(int *status, const char **why, int st, const char *w)
{
        *status = st;
        *why = w;
        return -1;
}

/* Credentials the router reads: Authorization (a Rigs token) and the rigs_* cookies. */
static void note_credentials(struct rreq *r, const struct phr_header *h)
{
        if (name_is(h, "authorization")) {
                struct slice tok;
                if (authn_parse_bearer(h->value, h->value_len, &tok) == 0 && tok.len >= 3 &&
                    (!memcmp(tok.p, "rb_", 3) || !memcmp(tok.p, "rc_", 3) ||
                     !memcmp(tok.p, "rs_", 3))) {
                        r->bearer = tok;
                        r->strip_authz = true;
                }
        } else if (name_is(h, "cookie")) {
                struct slice v;
                if (authn_cookie_find(h->value, h->value_len, "rigs_app", &v) == 0)
                        r->cookie_app = v;
                if (authn_cookie_find(h->value, h->value_len, "rigs_preview", &v) == 0)
                        r->cookie_preview = v;
                if (authn_cookie_find(h->value, h->value_len, "rigs_session", &v) == 0)
                        r->cookie_session = v;
        } else if (name_is(h, "accept")) {
                for (size_t i = 0; i + 9 <= h->value_len; i++)
                        if (!strncasecmp(h->value + i, "text/html", 9))
                                r->accepts_html = true;
        }
}

/* The framing and connection headers; returns -1 on a refusal. */
static int note_framing(struct rreq *r, const struct phr_header *h, int *nte, int *ncl,
                        bool *conn_close, bool *conn_upgrade, bool *upgrade_ws, int *status,
                        const char **why)
{
        if (name_is(h, "transfer-encoding")) {
                if (++*nte > 1 || !value_is(h, "chunked"))
                        return refuse(status, why, 501,
                                      "only the chunked transfer coding is supported");
                r->body = RBODY_CHUNKED;
        } else if (name_is(h, "content-length")) {
                uint64_t v;
                if (++*ncl > 1 || parse_length(h->value, h->value_len, &v) < 0)
                        return refuse(status, why, 400, "invalid Content-Length");
                r->content_length = v;
        } else if (name_is(h, "host")) {
                if (r->host.p)
                        return refuse(status, why, 400, "more than one Host header");
                r->host.p = h->value;
                r->host.len = h->value_len;
        } else if (name_is(h, "connection")) {
                if (has_token(h->value, h->value_len, "close"))
                        *conn_close = true;
                if (has_token(h->value, h->value_len, "keep-alive"))
                        r->keepalive = true;
                if (has_token(h->value, h->value_len, "upgrade"))
                        *conn_upgrade = true;
        } else if (name_is(h, "upgrade")) {
                if (has_token(h->value, h->value_len, "websocket"))
                        *upgrade_ws = true;
        }
        return 0;
}

int rreq_parse(const char *buf, size_t len, size_t last_len, struct rreq *r, int *status,
               const char **why)
{
        memset(r, 0, sizeof(*r));
        r->nh = RREQ_MAX_HEADERS;
        int n = phr_parse_request(buf, len, &r->method, &r->method_len, &r->path, &r->path_len,
                                  &r->minor, r->h, &r->nh, last_len);
        if (n == -2)
                return -2;
        if (n < 0)
                return refuse(status, why, 400, "malformed request");
        r->head_len = (size_t)n;
        if (r->minor != 0 && r->minor != 1)
                return refuse(status, why, 505, "HTTP version not supported");
        if (!r->method_len || !bytes_ok(r->method, r->method_len, false))
                return refuse(status, why, 400, "malformed method");
        if (r->path_len == 0 || r->path[0] != '/' || !bytes_ok(r->path, r->path_len, true))
                return refuse(status, why, 400, "the request target must be an absolute path");
        r->is_head = r->method_len == 4 && !memcmp(r->method, "HEAD", 4);
        int nte = 0, ncl = 0;
        bool conn_close = false, conn_upgrade = false, upgrade_ws = false;
        for (size_t i = 0; i < r->nh; i++) {
                const struct phr_header *h = &r->h[i];
                if (!h->name)
                        return refuse(status, why, 400, "obsolete header line folding");
                if (!h->name_len || !bytes_ok(h->name, h->name_len, false) ||
                    !bytes_ok(h->value, h->value_len, true))
                        return refuse(status, why, 400, "malformed header");
                if (note_framing(r, h, &nte, &ncl, &conn_close, &conn_upgrade, &upgrade_ws, status,
                                 why) < 0)
                        return -1;
                note_credentials(r, h);
        }
        /* A body framed twice is how requests are smuggled: refuse rather than pick one. */
        if (nte && ncl)
                return refuse(status, why, 400,
                              "both Content-Length and Transfer-Encoding: request refused");
        if (nte && r->minor == 0)
                return refuse(status, why, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (ncl && r->content_length > 0)
                r->body = RBODY_LENGTH;
        if (!r->host.p || !r->host.len)
                return refuse(status, why, 400, "a Host header is required");
        r->keepalive = r->minor == 1 ? !conn_close : r->keepalive && !conn_close;
        r->upgrade_ws = conn_upgrade && upgrade_ws && r->method_len == 3 &&
                        !memcmp(r->method, "GET", 3) && r->minor == 1;
        (void)rquery_find(r->path, r->path_len, "rigs_preview", &r->query_preview);
        return n;
}

int rhost_match(const char *host, size_t hostlen, const char *domain, char *name, size_t namelen)
{
        /* strip :port (digits only) */
        for (size_t i = hostlen; i > 0; i--) {
                if (host[i - 1] == ':') {
                        for (size_t j = i; j < hostlen; j++)
                                if (host[j] < '0' || host[j] > '9')
                                        return -ENOENT;
                        hostlen = i - 1;
                        break;
                }
                if (host[i - 1] < '0' || host[i - 1] > '9')
                        break;
        }
        if (hostlen && host[hostlen - 1] == '.') /* the absolute form "app.domain." */
                hostlen--;
        size_t dl = strlen(domain);
        if (hostlen < dl + 2 || host[hostlen - dl - 1] != '.' ||
            strncasecmp(host + hostlen - dl, domain, dl) != 0)
                return -ENOENT;
        size_t nl = hostlen - dl - 1;
        if (nl >= namelen || nl > 63)
                return -ENOENT;
        for (size_t i = 0; i < nl; i++) {
                char ch = (char)tolower((unsigned char)host[i]);
                bool edge = i == 0 || i == nl - 1;
                if (!(isdigit((unsigned char)ch) || (ch >= 'a' && ch <= 'z') ||
                      (ch == '-' && !edge)))
                        return -ENOENT;
                name[i] = ch;
        }
        name[nl] = '\0';
        return 0;
}

/* Headers that describe one hop, never forwarded as they are. */
static bool hop_by_hop(const struct phr_header *h)
{
        static const char *const names[] = {
            "connection",        "keep-alive", "proxy-connection", "te",   "trailer",
            "transfer-encoding", "upgrade",    "content-length",   "host", "proxy-authorization",
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (name_is(h, names[i]))
                        return true;
        return false;
}

/* Headers the Connection header names as hop-by-hop. */
static bool named_by_connection(const struct phr_header *hs, size_t nh, const struct phr_header *h)
{
        char name[64];
        if (h->name_len >= sizeof(name))
                return false;
        memcpy(name, h->name, h->name_len);
        name[h->name_len] = '\0';
        for (size_t i = 0; i < nh; i++)
                if (hs[i].name && name_is(&hs[i], "connection") &&
                    has_token(hs[i].value, hs[i].value_len, name))
                        return true;
        return false;
}

/* Appends the Cookie header without rigs_* cookies (nothing when none is left). */
static void append_cookie(struct buf *out, const char *p, size_t len)
{
        size_t start = out->len;
        bool any = false;
        size_t i = 0;
        while (i < len) {
                while (i < len && (p[i] == ' ' || p[i] == ';'))
                        i++;
                size_t s = i;
                while (i < len && p[i] != ';')
                        i++;
                size_t e = i;
                while (e > s && p[e - 1] == ' ')
                        e--;
                if (e == s || (e - s >= 5 && !strncmp(p + s, "rigs_", 5)))
                        continue;
                buf_puts(out, any ? "; " : "Cookie: ");
                buf_append(out, p + s, e - s);
                any = true;
        }
        if (any)
                buf_puts(out, "\r\n");
        else
                out->len = start;
}

void rreq_upstream_head(const struct rreq *r, const char *client_ip, bool tls, struct buf *out)
{
        buf_append(out, r->method, r->method_len);
        buf_puts(out, " ");
        buf_append(out, r->path, r->path_len);
        buf_puts(out, " HTTP/1.1\r\nHost: ");
        buf_append(out, r->host.p, r->host.len);
        buf_puts(out, "\r\n");
        const struct phr_header *xff = NULL;
        for (size_t i = 0; i < r->nh; i++) {
                const struct phr_header *h = &r->h[i];
                if (hop_by_hop(h) || named_by_connection(r->h, r->nh, h))
                        continue;
                if (name_is(h, "authorization") && r->strip_authz)
                        continue;
                if (name_is(h, "x-forwarded-proto") || name_is(h, "x-forwarded-host"))
                        continue;
                if (name_is(h, "x-forwarded-for")) {
                        xff = h;
                        continue;
                }
                if (name_is(h, "cookie")) {
                        append_cookie(out, h->value, h->value_len);
                        continue;
                }
                buf_append(out, h->name, h->name_len);
                buf_puts(out, ": ");
                buf_append(out, h->value, h->value_len);
                buf_puts(out, "\r\n");
        }
        buf_puts(out, "X-Forwarded-For: ");
        if (xff) {
                buf_append(out, xff->value, xff->value_len);
                buf_puts(out, ", ");
        }
        buf_puts(out, client_ip);
        buf_puts(out, tls ? "\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: "
                          : "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: ");
        buf_append(out, r->host.p, r->host.len);
        buf_puts(out, "\r\n");
        if (r->body == RBODY_LENGTH) {
                buf_puts(out, "Content-Length: ");
                put_u64(out, r->content_length);
                buf_puts(out, "\r\n");
        } else if (r->body == RBODY_CHUNKED)
                buf_puts(out, "Transfer-Encoding: chunked\r\n");
        if (r->upgrade_ws) {
                buf_puts(out, "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n");
                return;
        }
        buf_puts(out, "Connection: keep-alive\r\n\r\n");
}

int rquery_find(const char *path, size_t len, const char *name, struct slice *val)
{
        const char *q = memchr(path, '?', len);
        if (!q)
                return -ENOENT;
        size_t nl = strlen(name);
        const char *end = path + len;
        for (const char *p = q + 1; p < end;) {
                const char *amp = memchr(p, '&', (size_t)(end - p));
                const char *e = amp ? amp : end;
                if ((size_t)(e - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
                        val->p = p + nl + 1;
                        val->len = (size_t)(e - p) - nl - 1;
                        return 0;
                }
                p = e + 1;
        }
        return -ENOENT;
}

int rpath_without_preview(const char *path, size_t len, char *out, size_t outlen)
{
        const char *q = memchr(path, '?', len);
        size_t base = q ? (size_t)(q - path) : len;
        if (base + 1 >= outlen)
                return -ENOSPC;
        memcpy(out, path, base);
        size_t o = base;
        bool first = true;
        const char *end = path + len;
        for (const char *p = q ? q + 1 : end; p < end;) {
                const char *amp = memchr(p, '&', (size_t)(end - p));
                const char *e = amp ? amp : end;
                size_t n = (size_t)(e - p);
                bool drop = n == 0 || (n >= 13 && !memcmp(p, "rigs_preview=", 13)) ||
                            (n == 12 && !memcmp(p, "rigs_preview", 12));
                if (!drop) {
                        if (o + n + 2 >= outlen)
                                return -ENOSPC;
                        out[o++] = first ? '?' : '&';
                        memcpy(out + o, p, n);
                        o += n;
                        first = false;
                }
                p = e + 1;
        }
        out[o] = '\0';
        return (int)o;
}

int rresp_parse(const char *buf, size_t len, bool is_head, struct rresp *r)
{
        memset(r, 0, sizeof(*r));
        r->nh = RREQ_MAX_HEADERS;
        int n = phr_parse_response(buf, len, &r->minor, &r->status, &r->msg, &r->msg_len, r->h,
                                   &r->nh, 0);
        if (n < 0)
                return n;
        r->head_len = (size_t)n;
        if (r->status < 100 || r->status > 999)
                return -1;
        int nte = 0, ncl = 0;
        bool chunked = false, close = r->minor == 0, keepalive = false;
        for (size_t i = 0; i < r->nh; i++) {
                const struct phr_header *h = &r->h[i];
                if (!h->name)
                        return -1;
                if (name_is(h, "transfer-encoding")) {
                        nte++;
                        chunked = has_token(h->value, h->value_len, "chunked");
                } else if (name_is(h, "content-length")) {
                        uint64_t v;
                        if (parse_length(h->value, h->value_len, &v) < 0 ||
                            (ncl++ && v != r->content_length))
                                return -1;
                        r->content_length = v;
                        r->has_length = true;
                } else if (name_is(h, "connection")) {
                        if (has_token(h->value, h->value_len, "close"))
                                close = true;
                        if (has_token(h->value, h->value_len, "keep-alive"))
                                keepalive = true;
                }
        }
        if (r->minor == 0 && keepalive)
                close = false;
        if (is_head || r->status < 200 || r->status == 204 || r->status == 304)
                r->body = RBODY_NONE;
        else if (nte)
                r->body = chunked ? RBODY_CHUNKED : RBODY_CLOSE;
        else if (ncl)
                r->body = r->content_length ? RBODY_LENGTH : RBODY_NONE;
        else
                r->body = RBODY_CLOSE;
        r->upstream_close = close || r->body == RBODY_CLOSE;
        return n;
}

void rresp_client_head(const struct rresp *r, int client_minor, bool keepalive, bool *chunked_out,
                       struct buf *out)
{
        buf_puts(out, "HTTP/1.1 ");
        put_u64(out, (uint64_t)r->status);
        buf_puts(out, " ");
        buf_append(out, r->msg, r->msg_len);
        buf_puts(out, "\r\n");
        bool is_101 = r->status == 101;
        for (size_t i = 0; i < r->nh; i++) {
                const struct phr_header *h = &r->h[i];
                if (is_101 && (name_is(h, "upgrade") || name_is(h, "connection"))) {
                        /* the handshake's own headers pass (Connection: upgrade) */
                } else if (hop_by_hop(h) || named_by_connection(r->h, r->nh, h)) {
                        continue;
                }
                buf_append(out, h->name, h->name_len);
                buf_puts(out, ": ");
                buf_append(out, h->value, h->value_len);
                buf_puts(out, "\r\n");
        }
        *chunked_out = false;
        if (r->status == 304 || (r->status < 200 && !is_101)) {
                /* no framing headers */
        } else if (r->body == RBODY_LENGTH || (r->body == RBODY_NONE && r->status != 204 &&
                                               r->status >= 200 && r->has_length)) {
                buf_puts(out, "Content-Length: ");
                put_u64(out, r->content_length);
                buf_puts(out, "\r\n");
        } else if ((r->body == RBODY_CHUNKED || r->body == RBODY_CLOSE) && client_minor == 1) {
                buf_puts(out, "Transfer-Encoding: chunked\r\n");
                *chunked_out = true;
        }
        if (!is_101 && r->status >= 200)
                buf_puts(out, keepalive ? "" : "Connection: close\r\n");
        buf_puts(out, "\r\n");
}
