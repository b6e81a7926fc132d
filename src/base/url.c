/* Percent-encoding of URL parts; see url.h. */
#include "base/url.h"

#include <errno.h>
#include <stdio.h>

static int hexval(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

int url_decode(const char *p, size_t len, bool plus, char *out, size_t outlen)
{
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                char ch = p[i];
                if (ch == '%') {
                        int hi, lo;
                        if (i + 2 >= len || (hi = hexval(p[i + 1])) < 0 ||
                            (lo = hexval(p[i + 2])) < 0)
                                return -EINVAL;
                        ch = (char)(hi * 16 + lo);
                        i += 2;
                } else if (ch == '+' && plus) {
                        ch = ' ';
                }
                if (ch == '\0' || o + 1 >= outlen)
                        return -EINVAL;
                out[o++] = ch;
        }
        if (outlen == 0)
                return -EINVAL;
        out[o] = '\0';
        return (int)o;
}

size_t url_encode(const char *s, char *out, size_t outlen)
{
        size_t o = 0;
        if (outlen == 0)
                return 0;
        for (; *s && o + 4 <= outlen; s++) {
                unsigned char ch = (unsigned char)*s;
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
                        out[o++] = (char)ch;
                else
                        o += (size_t)snprintf(out + o, outlen - o, "%%%02X", ch);
        }
        out[o] = '\0';
        return o;
}
