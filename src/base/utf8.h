/* UTF-8 repair for output that must become JSON strings. */
#pragma once

#include "base/buf.h"

/* Appends p[0..n) to out as valid UTF-8, replacing each invalid byte with U+FFFD. When partial is
 * non-NULL, an incomplete sequence at the very end is left out and its length stored in *partial
 * so that the caller can prepend it to the next chunk (streams split sequences anywhere). */
void utf8_sanitize(struct buf *out, const char *p, size_t n, size_t *partial);
