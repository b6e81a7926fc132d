#include "core/ids.h"

#include <sodium.h>

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool is_base62(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

void random_base62(char *out, size_t n)
{
        for (size_t i = 0; i < n; i++)
                out[i] = b62[randombytes_uniform(62)];
        out[n] = '\0';
}

void id_new(const char *prefix, char out[static ID_MAX])
{
        size_t pl = strlen(prefix);
        memcpy(out, prefix, pl);
        random_base62(out + pl, ID_RANDOM_LEN);
}

bool id_valid(const char *prefix, const char *p, size_t len)
{
        size_t pl = strlen(prefix);
        if (len != pl + ID_RANDOM_LEN || memcmp(p, prefix, pl) != 0)
                return false;
        for (size_t i = pl; i < len; i++)
                if (!is_base62(p[i]))
                        return false;
        return true;
}
