/* The host side of one rigd's rig network: its bridge, the gateway address on it, the sysctls
 * the rules rely on, the check that the rig subnet is free, and the sweep of rig ports nobody
 * owns any more. Functions that can fail for a reason an operator must fix fill `why`. */
#pragma once

#include "hostnet/nl.h"
#include "hostnet/rules.h"

/* Takes the bridge for this process: an abstract unix socket named after it, released by the
 * kernel when the process dies. Returns the fd, or -EADDRINUSE when another process (another
 * rigd) holds it. */
int net_bridge_lock(const char *bridge);

/* Checks that no host route or address other than the bridge's own overlaps the pool. Returns 0,
 * -EADDRINUSE with `why` naming the route or address, or -errno. */
int net_check_subnet(struct nl *nl, const struct net_host *h, char *why, size_t len);

/* Creates (or adopts) the bridge with the gateway address and a fixed MAC, turns IPv6 off on it
 * and route_localnet on (for the exempt-port DNAT), and IPv4 forwarding on. */
int net_bridge_setup(struct nl *nl, const struct net_host *h, char *why, size_t len);
/* Deletes the bridge; 0 when it did not exist. */
int net_bridge_delete(struct nl *nl, const char *bridge);

/* Deletes every rig port ("rv..." veths) of this bridge, attached or carrying its port group,
 * whose name is not in keep[]. Returns how many were deleted, or -errno. */
int net_sweep_ports(struct nl *nl, const struct net_host *h, char (*keep)[IFNAMSIZ], size_t n);
/* The number of ports attached to the bridge whose name is in names[] (0 when it does not
 * exist). */
int net_bridge_ports(struct nl *nl, const char *bridge, char (*names)[IFNAMSIZ], size_t n);

/* The IPv4 name servers of resolv.conf at `path` that a rig can reach through NAT: not loopback,
 * link-local, the pool, or excluded[]. Returns how many (at most max). */
size_t net_read_resolvers(const char *path, const struct net_pool *pool, const uint32_t *excluded,
                          size_t nexcluded, uint32_t *out, size_t max);
/* The host's resolvers for rigs: /etc/resolv.conf, or systemd-resolved's upstream list when it
 * names only a local stub. Skips the host's own addresses. */
size_t net_host_resolvers(struct nl *nl, const struct net_pool *pool, uint32_t *out, size_t max);
