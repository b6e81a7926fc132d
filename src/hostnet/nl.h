/* A small rtnetlink client (libmnl): the handful of link, address and route operations rig
 * networking needs, each one request and its acknowledgement. A socket works in the network
 * namespace it was opened in, whatever namespace the caller is in later, which is how the shim
 * configures the inside of a rig from the host. All functions return 0 (or an index) or -errno. */
#pragma once

#include "base/util.h"

#include <net/if.h>

struct mnl_socket;

struct nl {
        struct mnl_socket *sk;
        uint32_t portid;
        uint32_t seq;
};

/* Opens an rtnetlink socket in the caller's current network namespace. */
int nl_open(struct nl *nl);
void nl_close(struct nl *nl);

/* ifindex of a link by name, or -ENODEV. */
int nl_link_index(struct nl *nl, const char *name);
/* Deletes a link by name; 0 when it did not exist. */
int nl_link_del(struct nl *nl, const char *name);
int nl_link_set_up(struct nl *nl, int ifindex);
int nl_link_set_mac(struct nl *nl, int ifindex, const uint8_t mac[6]);
/* Creates a bridge (down, STP off); -EEXIST when the name is taken. */
int nl_bridge_add(struct nl *nl, const char *name, const uint8_t mac[6]);

struct nl_veth {
        const char *host;   /* name of the end that stays here */
        int master;         /* bridge ifindex for the host end, or 0 */
        uint32_t group;     /* interface group of the host end */
        const char *peer;   /* name of the other end */
        int peer_netns_fd;  /* where the other end goes */
        const uint8_t *mac; /* the other end's MAC, or NULL */
};
/* Creates a veth pair (both ends down); -EEXIST when the host name is taken. */
int nl_veth_add(struct nl *nl, const struct nl_veth *v);
/* Sets a bridge port's isolated flag: isolated ports never exchange frames with each other. */
int nl_port_isolate(struct nl *nl, int ifindex);

/* Adds (or replaces) an IPv4 address with its broadcast. */
int nl_addr_add(struct nl *nl, int ifindex, uint32_t ip, int prefix);
int nl_addr_del(struct nl *nl, int ifindex, uint32_t ip, int prefix);
/* Adds (or replaces) the main table's IPv4 default route. */
int nl_route_default(struct nl *nl, int ifindex, uint32_t gateway);

struct nl_link {
        int index;
        int master;
        uint32_t group;
        char name[IFNAMSIZ];
        char kind[16]; /* "bridge", "veth", ... or "" */
};
struct nl_addr4 {
        int index;
        uint32_t ip;
        int prefix;
};
struct nl_route4 {
        uint32_t dst;
        int prefix;
        int oif; /* 0 for multipath and others */
        uint32_t table;
        uint8_t type; /* RTN_* */
};
/* Dumps; *out is malloc'd (free it), *n its length. */
int nl_links(struct nl *nl, struct nl_link **out, size_t *n);
int nl_addrs4(struct nl *nl, struct nl_addr4 **out, size_t *n);
int nl_routes4(struct nl *nl, struct nl_route4 **out, size_t *n);
