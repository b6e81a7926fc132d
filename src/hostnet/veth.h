/* Plugging a rig into its bridge and out again: the veth whose host end is "rv" + the rig id
 * (net_veth_name) and whose other end is the rig's "eth0". The runtime's shim plugs a rig in
 * at start; whoever stops or cleans up after a rig unplugs it by name, which is idempotent. */
#pragma once

#include "base/util.h"

struct net_plug {
        const char *rig_id;
        const char *bridge; /* must exist */
        int netns_fd;       /* the rig's network namespace */
        uint32_t ip, gateway;
        int prefix;
        uint32_t group; /* interface group of the host end */
};

/* Run in the host's network namespace by host root. Turns IPv6 off inside the rig, creates the
 * veth (a stale one of the same name goes first), attaches the host end to the bridge as an
 * isolated port, gives eth0 the rig's address, MAC (net_mac_of) and default route, and brings
 * both ends up. On failure the veth is removed and `why` says what failed. */
int net_rig_plug(const struct net_plug *p, char *why, size_t len);
/* Deletes the rig's veth; 0 when there is none. */
int net_rig_unplug(const char *rig_id);
