/* A growable byte buffer. */
#pragma once

#include "base/util.h"

struct buf {
        char *data;
        size_t len;
        size_t cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
/* Returns the NUL-terminated contents and resets the buffer; caller frees. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);

#define _cleanup_buf_ _cleanup_(buf_free)
