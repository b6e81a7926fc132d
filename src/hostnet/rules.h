/* The nftables rules of one rigd's rig network, through libnftables. rigd owns two tables named
 * after its bridge, `bridge <bridge>` (layer 2: anti-spoofing per port, no frame between two rig
 * ports, nothing but IPv4 and ARP) and `inet <bridge>` (layer 3: nothing to the host's own
 * addresses but DNAT'd exempt ports, each rig's egress policy, masquerade). Every rig has a chain
 * named after its id in both tables (and a set `<id>_allow`), reached from a verdict map keyed
 * by its port name (bridge) or its address (inet), plus its elements in the shared `rig_exempt`
 * set. Every change is one nftables transaction: it applies whole or not at all.
 *
 * Not thread-safe: one caller at a time per context. */
#pragma once

#include "hostnet/addr.h"

#include <net/if.h>

#define NET_MAX_RESOLVERS 3
#define NET_MAX_PORTS     64

/* The host side of one rigd's network. */
struct net_host {
        char bridge[IFNAMSIZ]; /* also the name of both nftables tables */
        struct net_pool pool;
        uint32_t group; /* interface group of the bridge's rig ports */
        uint32_t resolvers[NET_MAX_RESOLVERS];
        size_t nresolvers;
};

enum net_egress { EGRESS_OPEN = 0, EGRESS_NONE, EGRESS_ALLOW };

struct net_cidr {
        uint32_t addr;
        int prefix;
};

/* What the rules of one rig say. */
struct net_rig_rules {
        char id[40];
        uint32_t ip;
        enum net_egress egress;
        struct net_cidr *allow; /* EGRESS_ALLOW: the CIDRs and the addresses names resolved to */
        size_t nallow;
        uint16_t ports[NET_MAX_PORTS]; /* loopback_exempt_ports */
        size_t nports;
};

struct rules;

int rules_new(struct rules **out);
void rules_free(struct rules *r);
/* The last failure's message from libnftables (valid until the next call). */
const char *rules_error(const struct rules *r);

/* Replaces both tables with fresh ones holding exactly the given rigs. */
int rules_rebuild(struct rules *r, const struct net_host *h, const struct net_rig_rules *rigs,
                  size_t n);
/* Deletes both tables (nothing of them left); 0 when they did not exist. */
int rules_drop(struct rules *r, const struct net_host *h);
int rules_rig_add(struct rules *r, const struct net_host *h, const struct net_rig_rules *rig);
/* Changes a rig's policy from `old` (what is installed) to `now` (same id and ip). */
int rules_rig_update(struct rules *r, const struct net_host *h, const struct net_rig_rules *old,
                     const struct net_rig_rules *now);
/* Removes every rule, chain, set and element of a rig; `old` is what is installed. Succeeds
 * when some or all of it is already gone. */
int rules_rig_remove(struct rules *r, const struct net_host *h, const struct net_rig_rules *old);

/* Copies `src` into `dst` (allow list included); free dst with net_rig_rules_clear. */
void net_rig_rules_copy(struct net_rig_rules *dst, const struct net_rig_rules *src);
void net_rig_rules_clear(struct net_rig_rules *x);
