/* The app router's head handling (src/router/rhttp.c): what it refuses, how it reads a request,
 * what it sends on to a rig and back to a client. */
#include "router/rhttp.h"

#include "tap.h"

#include <errno.h>
#include <string.h>

static int parse(const char *s, struct rreq *r, int *status)
{
        const char *why = NULL;
        *status = 0;
        return rreq_parse(s, strlen(s), 0, r, status, &why);
}

static void test_refusals(void)
{
        static const struct {
                const char *req;
                int status;
                const char *name;
        } cases[] = {
            {"POST / HTTP/1.1\r\nHost: a.d\r\nContent-Length: 4\r\nTransfer-Encoding: "
             "chunked\r\n\r\n",
             400, "CL + TE"},
            {"POST / HTTP/1.1\r\nHost: a.d\r\nTransfer-Encoding: chunked\r\nContent-Length: "
             "4\r\n\r\n",
             400, "TE + CL"},
            {"POST / HTTP/1.1\r\nHost: a.d\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n", 400,
             "two Content-Length"},
            {"POST / HTTP/1.1\r\nHost: a.d\r\nContent-Length: -1\r\n\r\n", 400, "negative length"},
            {"POST / HTTP/1.1\r\nHost: a.d\r\nContent-Length: 1e3\r\n\r\n", 400,
             "length not digits"},
            {"POST / HTTP/1.1\r\nHost: a.d\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
             "a coding other than chunked"},
            {"POST / HTTP/1.1\r\nHost: a.d\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
             "chunked\r\n\r\n",
             501, "two Transfer-Encoding"},
            {"POST / HTTP/1.0\r\nHost: a.d\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
             "TE in HTTP/1.0"},
            {"GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: a.d\r\n\r\n", 400, "obs-fold"},
            {"GET / HTTP/1.1\r\n\r\n", 400, "no Host"},
            {"GET / HTTP/1.1\r\nHost: a.d\r\nHost: b.d\r\n\r\n", 400, "two Hosts"},
            {"GET http://a.d/ HTTP/1.1\r\nHost: a.d\r\n\r\n", 400, "absolute-form target"},
            {"GET * HTTP/1.1\r\nHost: a.d\r\n\r\n", 400, "asterisk target"},
            {"GET / HTTP/1.2\r\nHost: a.d\r\n\r\n", 505, "HTTP/1.2"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct rreq r;
                int st;
                int n = parse(cases[i].req, &r, &st);
                ok(n == -1 && st == cases[i].status, "refused (%d): %s", cases[i].status,
                   cases[i].name);
        }
        struct rreq r;
        int st;
        is_int(parse("GET / HTTP/1.1\r\nHost: a.d\r\n", &r, &st), -2, "an incomplete head: -2");
}

static void test_reading(void)
{
        struct rreq r;
        int st;
        const char *req =
            "GET /x?y=1&rigs_preview=abc HTTP/1.1\r\nHost: App.D:8080\r\n"
            "Cookie: a=b; rigs_app=COOKIE; rigs_preview=P\r\n"
            "Authorization: Bearer rb_0123456789abcdef0123456789abcdef\r\n"
            "Accept: text/html,*/*\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
        ok(parse(req, &r, &st) > 0, "a valid request parses");
        ok(r.host.len == 10 && !memcmp(r.host.p, "App.D:8080", 10), "Host as sent");
        ok(r.keepalive && r.upgrade_ws && r.accepts_html, "keep-alive, WebSocket, a browser");
        ok(r.strip_authz && r.bearer.len == 35, "a Rigs bearer token is read and marked");
        ok(r.cookie_app.len == 6 && !memcmp(r.cookie_app.p, "COOKIE", 6), "rigs_app cookie");
        ok(r.cookie_preview.len == 1 && r.query_preview.len == 3, "preview cookie and parameter");
        ok(parse("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &r, &st) > 0 && !r.keepalive,
           "HTTP/1.0 closes by default");
        ok(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &r, &st) > 0 &&
               !r.keepalive,
           "Connection: close");
        ok(parse("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic eDp5\r\n\r\n", &r, &st) > 0 &&
               !r.strip_authz && !r.bearer.len,
           "another scheme is the app's");
        ok(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &r, &st) > 0 &&
               r.body == RBODY_NONE,
           "Content-Length: 0 is no body");
}

static void test_hosts(void)
{
        char n[RAPP_NAME_MAX];
        static const char *const good[] = {"shop.rigs.localhost", "SHOP.Rigs.LocalHost:7080",
                                           "shop.rigs.localhost.", "shop.rigs.localhost:80"};
        for (size_t i = 0; i < 4; i++)
                ok(rhost_match(good[i], strlen(good[i]), "rigs.localhost", n, sizeof(n)) == 0 &&
                       !strcmp(n, "shop"),
                   "%s -> shop", good[i]);
        static const char *const bad[] = {"shop.rigs.localhost.attacker",
                                          "a.shop.rigs.localhost",
                                          "rigs.localhost",
                                          ".rigs.localhost",
                                          "-x.rigs.localhost",
                                          "x-.rigs.localhost",
                                          "127.0.0.1",
                                          "[::1]:7080",
                                          "shop.rigs.localhost:80x",
                                          "sh_op.rigs.localhost",
                                          "shoprigs.localhost"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                is_int(rhost_match(bad[i], strlen(bad[i]), "rigs.localhost", n, sizeof(n)), -ENOENT,
                       "%s routes nowhere", bad[i]);
}

static void test_upstream_head(void)
{
        struct rreq r;
        int st;
        const char *req = "POST /p?q HTTP/1.1\r\nHost: a.d\r\nContent-Length: 3\r\n"
                          "Cookie: rigs_session=S; theme=x; rigs_app=A\r\n"
                          "Authorization: Bearer rc_abc\r\nX-Forwarded-For: 1.2.3.4\r\n"
                          "X-Forwarded-Proto: gopher\r\nConnection: keep-alive, X-Secret\r\n"
                          "X-Secret: s\r\nKeep-Alive: 5\r\nTE: trailers\r\nX-App: v\r\n\r\n";
        ok(parse(req, &r, &st) > 0, "parses");
        struct buf b = {0};
        rreq_upstream_head(&r, "10.0.0.9", true, &b);
        buf_append(&b, "", 1);
        ok(!strncmp(b.data, "POST /p?q HTTP/1.1\r\nHost: a.d\r\n", 31), "request line and Host");
        ok(strstr(b.data, "\r\nCookie: theme=x\r\n") != NULL, "only the app's cookies");
        ok(!strstr(b.data, "rigs_") && !strstr(b.data, "Authorization") &&
               !strstr(b.data, "rc_abc"),
           "no Rigs credential");
        ok(!strstr(b.data, "X-Secret") && !strstr(b.data, "Keep-Alive") && !strstr(b.data, "TE:"),
           "hop-by-hop headers dropped");
        ok(strstr(b.data, "\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.9\r\n") != NULL, "XFF extended");
        ok(strstr(b.data, "\r\nX-Forwarded-Proto: https\r\n") && !strstr(b.data, "gopher"),
           "X-Forwarded-Proto set by the router");
        ok(strstr(b.data, "\r\nX-App: v\r\n") && strstr(b.data, "\r\nContent-Length: 3\r\n"),
           "end-to-end headers and the length pass");
        ok(strstr(b.data, "\r\nConnection: keep-alive\r\n\r\n") != NULL, "keep-alive upstream");
        buf_free(&b);
}

static void test_preview_path(void)
{
        char out[128];
        static const char *const cases[][2] = {
            {"/?rigs_preview=abc", "/"},
            {"/a?x=1&rigs_preview=abc&y=2", "/a?x=1&y=2"},
            {"/a?rigs_preview=abc&y=2", "/a?y=2"},
            {"/a?x=1", "/a?x=1"},
            {"/a?rigs_previewx=1", "/a?rigs_previewx=1"},
        };
        for (size_t i = 0; i < 5; i++) {
                int n = rpath_without_preview(cases[i][0], strlen(cases[i][0]), out, sizeof(out));
                ok(n >= 0 && !strcmp(out, cases[i][1]), "%s -> %s", cases[i][0], cases[i][1]);
        }
}

static void test_responses(void)
{
        struct rresp r;
        struct buf b = {0};
        bool chunked;
        const char *a =
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello";
        ok(rresp_parse(a, strlen(a), false, &r) > 0 && r.body == RBODY_LENGTH &&
               r.content_length == 5 && !r.upstream_close,
           "a length-framed answer");
        const char *c = "HTTP/1.0 200 OK\r\n\r\nrest";
        ok(rresp_parse(c, strlen(c), false, &r) > 0 && r.body == RBODY_CLOSE && r.upstream_close,
           "close-delimited");
        rresp_client_head(&r, 1, true, &chunked, &b);
        buf_append(&b, "", 1);
        ok(chunked && strstr(b.data, "Transfer-Encoding: chunked"), "re-chunked for HTTP/1.1");
        b.len = 0;
        rresp_client_head(&r, 0, false, &chunked, &b);
        buf_append(&b, "", 1);
        ok(!chunked && strstr(b.data, "Connection: close"), "as-is and closing for HTTP/1.0");
        const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        ok(rresp_parse(h, strlen(h), true, &r) > 0 && r.body == RBODY_NONE, "HEAD: no body");
        const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
        is_int(rresp_parse(two, strlen(two), false, &r), -1, "conflicting lengths: 502");
        buf_free(&b);
}

int main(void)
{
        test_refusals();
        test_reading();
        test_hosts();
        test_upstream_head();
        test_preview_path();
        test_responses();
        return done_testing();
}
