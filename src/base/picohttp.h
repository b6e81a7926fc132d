/* picohttpparser, as bundled in libh2o (h2o 2.2: deps/picohttpparser) and exported by
 * libh2o-evloop. Debian ships no picohttpparser.h, so the one declaration the CLI uses is
 * repeated here, matching libh2o's ABI exactly (picohttpparser.h in h2o 2.2.5). */
#pragma once

#include <sys/types.h>

/* A header: name == NULL for a continuation line of a multi-line header. */
struct phr_header {
        const char *name;
        size_t name_len;
        const char *value;
        size_t value_len;
};

/* Parses an HTTP/1.x response head. Returns the length of the head (bytes consumed), -2 when
 * it is incomplete, -1 when it is malformed. *num_headers is the capacity of headers on entry
 * and the count found on return; last_len is the length of buf at the previous call (0 at the
 * first). */
int phr_parse_response(const char *buf, size_t len, int *minor_version, int *status,
                       const char **msg, size_t *msg_len, struct phr_header *headers,
                       size_t *num_headers, size_t last_len);
