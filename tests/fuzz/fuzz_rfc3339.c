/* RFC 3339 timestamps (the ?since= of /api/audit). */
#include "base/timeutil.h"

#include <ctype.h>

#include "fuzz.h"

#define YEAR_1970 0LL
#define YEAR_9999 253402300799LL /* 9999-12-31T23:59:59Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *in = dup_exact(data, size);
        int64_t t = 0x5a5a5a5a;
        int r = parse_rfc3339(in, size, &t);
        CHECK(r == 0 || r == -EINVAL);
        if (r < 0) {
                CHECK(t == 0x5a5a5a5a);
                free(in);
                return 0;
        }
        CHECK(size >= 20);
        if (t >= YEAR_1970 && t <= YEAR_9999) {
                char out[21];
                int64_t back = -1;
                fmt_rfc3339(t, out);
                CHECK(strlen(out) == 20);
                CHECK(parse_rfc3339(out, 20, &back) == 0);
                CHECK(back == t);
                /* An input already in canonical form ("Z", no fraction, no leap second) is
                 * exactly what formatting its value gives back: the date and time it names are
                 * real ones, not rolled over. */
                if (size == 20 && memcmp(in + 17, "60", 2) != 0) {
                        char canon[21];
                        for (size_t i = 0; i < 20; i++)
                                canon[i] = (char)toupper((unsigned char)in[i]);
                        canon[20] = '\0';
                        CHECK(strcmp(canon, out) == 0);
                }
        }
        free(in);
        return 0;
}
