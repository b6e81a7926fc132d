#include "core/authn.h"

#include <strings.h>

static bool is_sp(char c)
{
        return c == ' ' || c == '\t';
}

int authn_parse_bearer(const char *p, size_t len, struct slice *tok)
{
        while (len && is_sp(*p))
                p++, len--;
        while (len && is_sp(p[len - 1]))
                len--;
        if (len == 0)
                return -ENOENT;
        if (len < 7 || strncasecmp(p, "bearer", 6) != 0 || !is_sp(p[6]))
                return -EINVAL;
        p += 6, len -= 6;
        while (len && is_sp(*p))
                p++, len--;
        if (len == 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (is_sp(p[i]) || (unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
                        return -EINVAL;
        tok->p = p;
        tok->len = len;
        return 0;
}

int authn_cookie_find(const char *p, size_t len, const char *name, struct slice *val)
{
        size_t nlen = strlen(name);
        size_t i = 0;
        while (i < len) {
                while (i < len && (is_sp(p[i]) || p[i] == ';'))
                        i++;
                size_t start = i;
                while (i < len && p[i] != ';')
                        i++;
                size_t end = i;
                while (end > start && is_sp(p[end - 1]))
                        end--;
                const char *eq = memchr(p + start, '=', end - start);
                if (!eq)
                        continue;
                size_t klen = (size_t)(eq - (p + start));
                while (klen && is_sp(p[start + klen - 1]))
                        klen--;
                if (klen != nlen || memcmp(p + start, name, nlen) != 0)
                        continue;
                const char *v = eq + 1;
                size_t vlen = (size_t)(p + end - v);
                while (vlen && is_sp(*v))
                        v++, vlen--;
                if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
                        v++, vlen -= 2;
                val->p = v;
                val->len = vlen;
                return 0;
        }
        return -ENOENT;
}
