/* Rig addresses: the pool a rigd hands out (`--rig-subnet`), its gateway, and the names and
 * hardware addresses derived from a rig's id and IP. IPv4 only: rigs have no IPv6 (their bridge
 * drops every frame that is not IPv4 or ARP). Addresses are host byte order unless named _be. */
#pragma once

#include "base/util.h"

#include <net/if.h>

#define NET_DEFAULT_BRIDGE "rigs0"
#define NET_DEFAULT_SUBNET "10.213.0.0/16"
#define NET_IP_STR         16 /* "255.255.255.255" */
#define NET_CIDR_STR       19 /* "255.255.255.255/32" */
#define NET_MAC_LEN        6

struct net_pool {
        uint32_t net;     /* network address */
        int prefix;       /* 16..29 */
        uint32_t gateway; /* net + 1: the bridge's address, the rigs' default route */
        uint32_t first;   /* net + 2: the first rig address */
        uint32_t last;    /* broadcast - 1: the last rig address */
};

/* Parses "a.b.c.d/n" with 16 <= n <= 29 and no host bits set. -EINVAL otherwise. */
int net_pool_parse(const char *cidr, struct net_pool *out);
bool net_pool_contains(const struct net_pool *p, uint32_t ip);
/* Formats the pool as "a.b.c.d/n". */
void net_pool_str(const struct net_pool *p, char out[NET_CIDR_STR]);

/* Parses a dotted quad (inet_pton: exactly four decimal parts). */
int net_ip_parse(const char *s, uint32_t *out);
void net_ip_str(uint32_t ip, char out[NET_IP_STR]);
/* Parses an IPv4 "a.b.c.d" or "a.b.c.d/n" (0 <= n <= 32); the host bits are cleared. Returns 0,
 * -EAFNOSUPPORT for a valid IPv6 CIDR, -EINVAL otherwise. */
int net_cidr_parse(const char *s, uint32_t *addr, int *prefix);
uint32_t net_mask(int prefix);
/* Whether [a/pa] and [b/pb] share any address. */
bool net_overlap(uint32_t a, int pa, uint32_t b, int pb);

/* A rig's MAC: locally administered, unicast, 02:72 followed by its IPv4 address. */
void net_mac_of(uint32_t ip, uint8_t mac[NET_MAC_LEN]);
void net_mac_str(const uint8_t mac[NET_MAC_LEN], char out[18]);
/* The host end of a rig's veth: "rv" + the first 13 characters of the id's random part (the
 * kernel allows 15). -EINVAL unless id is a rig id (rig_ + 20 base62 characters). */
int net_veth_name(const char *rig_id, char out[IFNAMSIZ]);
/* The interface group of every rig port of a bridge (a hash of its name, never 0): nftables rules
 * scope a bridge's catch-all drops with it (this kernel lacks the bridge-name match). */
uint32_t net_port_group(const char *bridge);
/* Whether s is a usable bridge name: 1-15 of [a-zA-Z0-9_-], starting with a letter (it names
 * the nftables tables too). */
bool net_bridge_name_ok(const char *s);
