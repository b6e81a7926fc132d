/* DNS response messages: net_dns_parse, which reads the answers rigd gets for the host names of
 * rigs' allow lists (from whatever server answers on the network). */
#include "hostnet/dns.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned char *msg = (unsigned char *)dup_exact(data, size);
        uint32_t addrs[4], ttl = 12345;
        memset(addrs, 0x5a, sizeof(addrs));
        int n = net_dns_parse(msg, size, addrs, 3, &ttl);
        CHECK(n == -EIO || n == -ENOENT || (n >= 1 && n <= 3));
        if (n > 0)
                CHECK(ttl >= NET_DNS_TTL_MIN && ttl <= NET_DNS_TTL_MAX);
        else
                CHECK(ttl == 12345);
        CHECK(addrs[3] == 0x5a5a5a5a); /* nothing written past max */
        free(msg);
        return 0;
}
