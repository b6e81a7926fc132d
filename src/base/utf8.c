#include "base/utf8.h"

/* Length of the valid sequence at p (1-4), 0 if invalid, -1 if valid so far but cut short. */
static int seq_len(const unsigned char *p, size_t n)
{
        unsigned char c = p[0];
        int len;
        uint32_t cp;
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                len = 4, cp = c & 0x07;
        else
                return 0;
        for (int i = 1; i < len; i++) {
                if ((size_t)i >= n)
                        return -1;
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
                /* Reject overlong forms and surrogates as soon as the second byte decides. */
                if (i == 1 && ((len == 3 && cp < 0x20) || (len == 3 && c == 0xed && p[1] >= 0xa0) ||
                               (len == 4 && cp < 0x10) || (len == 4 && cp > 0x10f)))
                        return 0;
        }
        return len;
}

void utf8_sanitize(struct buf *out, const char *p, size_t n, size_t *partial)
{
        const unsigned char *s = (const unsigned char *)p;
        size_t i = 0, run = 0;
        if (partial)
                *partial = 0;
        while (i < n) {
                int l = seq_len(s + i, n - i);
                if (l > 0) {
                        i += (size_t)l;
                        continue;
                }
                buf_append(out, p + run, i - run);
                if (l < 0 && partial) {
                        *partial = n - i;
                        return;
                }
                buf_append(out, "\xef\xbf\xbd", 3);
                i++;
                run = i;
        }
        buf_append(out, p + run, i - run);
}
