#include "hostnet/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

int net_dns_parse(const unsigned char *ans, size_t len, uint32_t *out, size_t max, uint32_t *ttl)
{
        ns_msg m;
        if (len > 65535 || ns_initparse(ans, (int)len, &m) < 0)
                return -EIO;
        uint32_t least = NET_DNS_TTL_MAX;
        size_t n = 0;
        for (int i = 0; i < ns_msg_count(m, ns_s_an); i++) {
                ns_rr rr;
                if (ns_parserr(&m, ns_s_an, i, &rr) < 0)
                        return -EIO;
                if (ns_rr_class(rr) != ns_c_in)
                        continue;
                if (ns_rr_ttl(rr) < least)
                        least = ns_rr_ttl(rr);
                if (ns_rr_type(rr) != ns_t_a || ns_rr_rdlen(rr) != 4 || n >= max)
                        continue;
                uint32_t be;
                memcpy(&be, ns_rr_rdata(rr), 4);
                out[n++] = ntohl(be);
        }
        if (n == 0)
                return -ENOENT;
        *ttl = least < NET_DNS_TTL_MIN ? NET_DNS_TTL_MIN : least;
        return (int)n;
}

int net_resolve_a(const struct net_dns *d, const char *name, uint32_t *out, size_t max,
                  uint32_t *ttl)
{
        struct __res_state st;
        memset(&st, 0, sizeof(st));
        if (res_ninit(&st) < 0)
                return -EIO;
        st.retrans = 2; /* seconds per server: a lookup waits at most ~2 s per server */
        st.retry = 1;
        if (d && d->server) {
                st.nscount = 1;
                st.nsaddr_list[0].sin_family = AF_INET;
                st.nsaddr_list[0].sin_addr.s_addr = htonl(d->server);
                st.nsaddr_list[0].sin_port = htons(d->port ? d->port : 53);
        }
        unsigned char ans[4096];
        int len = res_nquery(&st, name, ns_c_in, ns_t_a, ans, sizeof(ans));
        int herr = st.res_h_errno;
        res_nclose(&st);
        if (len < 0)
                return herr == HOST_NOT_FOUND || herr == NO_DATA ? -ENOENT : -EAGAIN;
        return net_dns_parse(ans, (size_t)len, out, max, ttl);
}
