/* A small HTTP client over libcurl for the Rigs API: one connection reused across requests,
 * bearer or cookie authentication, JSON bodies. Knows nothing of the API's paths or errors. */
#pragma once

#include "base/buf.h"
#include "base/util.h"

struct http_client;

struct http_response {
        long status;      /* HTTP status code */
        struct buf body;  /* response body, NUL-terminated */
        long retry_after; /* Retry-After in seconds, or -1 */
};

#define HTTP_ERRBUF_SIZE 256

/* Creates a client for base_url ("http://host:port", optionally with a path prefix). Returns 0,
 * or -EINVAL when the URL is not an http(s) URL. */
int http_client_new(const char *base_url, struct http_client **out);
void http_client_free(struct http_client *c);

/* Sends "Authorization: Bearer token" from now on (a copy is kept and wiped on free); NULL
 * stops sending it. */
void http_client_set_bearer(struct http_client *c, const char *token);

/* Keeps cookies the server sets (in memory only) and sends an Origin header equal to the API's
 * origin on unsafe methods, as a browser would; needed for session-cookie requests. */
void http_client_use_session(struct http_client *c);

/* The base URL without trailing slashes, and its origin (scheme://host[:port]). */
const char *http_client_url(const struct http_client *c);
const char *http_client_origin(const struct http_client *c);

/* Sends method to base_url + path (path starts with '/', query already escaped) with an
 * optional JSON body. Returns 0 when a response arrived, whatever its status; otherwise
 * -ECONNREFUSED (nothing listens), -EHOSTUNREACH (name or route not found), -ETIMEDOUT,
 * -EFBIG (response over the size cap) or -EPROTO, with curl's explanation in errbuf. */
int http_request(struct http_client *c, const char *method, const char *path, const char *body,
                 struct http_response *resp, char errbuf[static HTTP_ERRBUF_SIZE]);

void http_response_free(struct http_response *resp);

/* URL-escapes s for a path segment or query value; caller frees. */
char *http_escape(const char *s);
