/* picohttpparser, as bundled in libh2o (h2o 2.2: deps/picohttpparser) and exported by
 * libh2o-evloop. Debian ships no picohttpparser.h, so the declarations rigd and the CLI use are
 * repeated here, matching libh2o's ABI exactly (picohttpparser.h in h2o 2.2.5). Link libh2o. */
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

/* Parses an HTTP/1.x request head; same return convention as phr_parse_response. */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

/* Chunked transfer-coding decoder; zero-fill before the first call. */
struct phr_chunked_decoder {
        size_t bytes_left_in_chunk;
        char consume_trailer; /* set to consume the trailer section too */
        char _hex_count;
        char _state;
};

/* Decodes buf[0..*bufsz) in place: on return buf[0..*bufsz) holds the decoded payload. Returns
 * -2 when more input is needed, -1 on malformed input, or (>= 0) the number of bytes after the
 * end of the chunked body, which follow the payload at buf + *bufsz. */
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);
