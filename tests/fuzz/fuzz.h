/* Shared by the fuzz targets: the libFuzzer entry point and an invariant check that aborts, so
 * that both libFuzzer and the corpus replayer report a violated invariant as a crash. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__,     \
                                #cond);                                                            \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

/* True when [p, p + n) lies inside [base, base + size). */
static inline int inside(const void *p, size_t n, const void *base, size_t size)
{
        const char *c = p, *b = base;
        return c >= b && n <= size && (size_t)(c - b) <= size - n;
}

/* A heap copy of exactly n bytes, so that ASan catches a read past the end of a (ptr, len)
 * input even when it is a slice of the fuzzer's buffer (malloc(0) gives no readable byte). */
static inline char *dup_exact(const uint8_t *p, size_t n)
{
        char *c = malloc(n);
        if (!c && n)
                abort();
        if (n)
                memcpy(c, p, n);
        return c;
}
