/* Helpers shared by the unit tests that need files: a private temporary directory. */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline int tu_rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
        (void)sb, (void)type, (void)ftw;
        return remove(path);
}

/* Creates a fresh directory under $TMPDIR (or /tmp) into out; returns 0 or -1. */
static inline int tu_mkdtemp(char *out, size_t outlen, const char *tag)
{
        const char *base = getenv("TMPDIR");
        snprintf(out, outlen, "%s/rigs-%s-XXXXXX", base && *base ? base : "/tmp", tag);
        return mkdtemp(out) ? 0 : -1;
}

static inline void tu_rmrf(const char *dir)
{
        nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
