/* Resolution of the host names in rigs' allow lists: A records and their TTL, which a plain
 * getaddrinfo() does not tell (rigd re-resolves each name when its TTL runs out). Blocking: call
 * it from a work thread. */
#pragma once

#include "base/util.h"

struct net_dns {
        uint32_t server; /* 0: the servers of /etc/resolv.conf */
        uint16_t port;   /* 0: 53 */
};

#define NET_DNS_TTL_MIN 5
#define NET_DNS_TTL_MAX 3600

/* Looks up name's A records (following CNAMEs); fills up to max addresses and the smallest TTL
 * of the answer, clamped to [NET_DNS_TTL_MIN, NET_DNS_TTL_MAX]. Returns the count, -ENOENT when
 * the name does not exist or has no address, -EAGAIN when the server did not answer. */
int net_resolve_a(const struct net_dns *d, const char *name, uint32_t *out, size_t max,
                  uint32_t *ttl);
/* The answer-parsing half of net_resolve_a: the A records of a DNS response message (ans, len)
 * as received from the network. Returns the count (at most max), -ENOENT when it has none, -EIO
 * when it is malformed. */
int net_dns_parse(const unsigned char *ans, size_t len, uint32_t *out, size_t max, uint32_t *ttl);
