#include "rig/http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <strings.h>

/* Responses larger than this are refused: governance answers are small, and a runaway body
 * must not exhaust memory. */
#define HTTP_MAX_BODY (64u * 1024 * 1024)

struct http_client {
        CURL *curl;
        char *base;        /* without trailing slashes */
        char *origin;      /* scheme://host[:port] */
        char *auth_header; /* "Authorization: Bearer ..." or NULL; wiped on free */
        bool session;
};

static int origin_of(const char *url, char **out)
{
        CURLU *u = curl_url();
        if (!u)
                return -ENOMEM;
        char *scheme = NULL, *host = NULL, *port = NULL;
        int r = -EINVAL;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
                goto out;
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
                goto out;
        if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
                goto out;
        /* CURLUPART_PORT yields only an explicit port, which is what the Host header carries. */
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port)
                *out = xasprintf("%s://%s:%s", scheme, host, port);
        else
                *out = xasprintf("%s://%s", scheme, host);
        r = 0;
out:
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return r;
}

int http_client_new(const char *base_url, struct http_client **out)
{
        _cleanup_free_ char *origin = NULL;
        int r = origin_of(base_url, &origin);
        if (r < 0)
                return r;
        /* A Rigs URL never needs more than host and port (and perhaps a path prefix). */
        if (strchr(base_url, '?') || strchr(base_url, '#'))
                return -EINVAL;
        struct http_client *c = xcalloc(1, sizeof(*c));
        c->curl = curl_easy_init();
        if (!c->curl) {
                free(c);
                return -ENOMEM;
        }
        size_t n = strlen(base_url);
        while (n > 0 && base_url[n - 1] == '/')
                n--;
        c->base = xstrndup(base_url, n);
        c->origin = TAKE_PTR(origin);
        *out = c;
        return 0;
}

void http_client_free(struct http_client *c)
{
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        if (c->auth_header)
                explicit_bzero(c->auth_header, strlen(c->auth_header));
        free(c->auth_header);
        free(c->base);
        free(c->origin);
        free(c);
}

void http_client_set_bearer(struct http_client *c, const char *token)
{
        if (c->auth_header) {
                explicit_bzero(c->auth_header, strlen(c->auth_header));
                free(c->auth_header);
                c->auth_header = NULL;
        }
        if (token)
                c->auth_header = xasprintf("Authorization: Bearer %s", token);
}

void http_client_use_session(struct http_client *c)
{
        c->session = true;
        /* An empty file name turns on curl's in-memory cookie engine without reading a file. */
        curl_easy_setopt(c->curl, CURLOPT_COOKIEFILE, "");
}

const char *http_client_url(const struct http_client *c)
{
        return c->base;
}

const char *http_client_origin(const struct http_client *c)
{
        return c->origin;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct buf *b = userdata;
        size_t n = size * nmemb;
        if (b->len + n > HTTP_MAX_BODY)
                return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        buf_append(b, p, n);
        return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct http_response *resp = userdata;
        size_t n = size * nmemb;
        static const char name[] = "retry-after:";
        if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
                char tmp[32];
                size_t len = n - (sizeof(name) - 1);
                if (len >= sizeof(tmp))
                        len = sizeof(tmp) - 1;
                memcpy(tmp, p + sizeof(name) - 1, len);
                tmp[len] = '\0';
                char *end;
                long v = strtol(tmp, &end, 10);
                if (end != tmp && v >= 0)
                        resp->retry_after = v;
        }
        return n;
}

static bool method_is_unsafe(const char *method)
{
        return !streq(method, "GET") && !streq(method, "HEAD") && !streq(method, "OPTIONS");
}

static struct curl_slist *build_headers(struct http_client *c, const char *method, bool body)
{
        struct curl_slist *h = NULL;
        h = curl_slist_append(h, "Accept: application/json");
        if (body)
                h = curl_slist_append(h, "Content-Type: application/json");
        /* Suppress "Expect: 100-continue": bodies are small and rigd answers at once. */
        h = curl_slist_append(h, "Expect:");
        if (c->auth_header)
                h = curl_slist_append(h, c->auth_header);
        if (c->session && method_is_unsafe(method)) {
                _cleanup_free_ char *o = xasprintf("Origin: %s", c->origin);
                h = curl_slist_append(h, o);
        }
        if (!h)
                abort();
        return h;
}

/* The list holds a copy of the Authorization header: wipe every entry before freeing. */
static void headers_free(struct curl_slist *h)
{
        for (struct curl_slist *i = h; i; i = i->next)
                explicit_bzero(i->data, strlen(i->data));
        curl_slist_free_all(h);
}

static int map_curl_error(CURLcode rc)
{
        switch (rc) {
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_WRITE_ERROR:
                return -EFBIG;
        default:
                return -EPROTO;
        }
}

static void set_request_opts(struct http_client *c, const char *url, const char *method,
                             const char *body, struct http_response *resp, char *errbuf)
{
        CURL *h = c->curl;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "rig/" RIGS_VERSION);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp->body);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
        curl_easy_setopt(h, CURLOPT_NOBODY, streq(method, "HEAD") ? 1L : 0L);
        if (body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        } else if (streq(method, "GET")) {
                curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else {
                /* An unsafe method without body still sends Content-Length: 0. */
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        }
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

int http_request(struct http_client *c, const char *method, const char *path, const char *body,
                 struct http_response *resp, char errbuf[static HTTP_ERRBUF_SIZE])
{
        *resp = (struct http_response){.retry_after = -1};
        /* curl demands CURL_ERROR_SIZE bytes; keep our own buffer that size and copy out. */
        char cerr[CURL_ERROR_SIZE] = "";
        errbuf[0] = '\0';
        _cleanup_free_ char *url = xasprintf("%s%s", c->base, path);
        struct curl_slist *headers = build_headers(c, method, body != NULL);
        set_request_opts(c, url, method, body, resp, cerr);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
        CURLcode rc = curl_easy_perform(c->curl);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
        headers_free(headers);
        if (rc != CURLE_OK) {
                snprintf(errbuf, HTTP_ERRBUF_SIZE, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
                buf_free(&resp->body);
                return map_curl_error(rc);
        }
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        if (!resp->body.data)
                buf_append(&resp->body, "", 0);
        return 0;
}

void http_response_free(struct http_response *resp)
{
        buf_free(&resp->body);
}

char *http_escape(const char *s)
{
        char *e = curl_easy_escape(NULL, s, 0);
        if (!e)
                abort();
        char *r = xstrdup(e);
        curl_free(e);
        return r;
}
