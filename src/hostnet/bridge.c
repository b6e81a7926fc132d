#include "hostnet/bridge.h"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

int net_bridge_lock(const char *bridge)
{
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        /* Abstract names live in the network namespace, as bridges do. */
        int n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "rigs/bridge/%s", bridge);
        socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
        if (bind(fd, (struct sockaddr *)&a, len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static const char *link_name(const struct nl_link *l, size_t n, int index)
{
        for (size_t i = 0; i < n; i++)
                if (l[i].index == index)
                        return l[i].name;
        return "?";
}

static int find_link(const struct nl_link *l, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq(l[i].name, name))
                        return (int)i;
        return -1;
}

int net_check_subnet(struct nl *nl, const struct net_host *h, char *why, size_t len)
{
        _cleanup_free_ struct nl_link *links = NULL;
        _cleanup_free_ struct nl_route4 *routes = NULL;
        _cleanup_free_ struct nl_addr4 *addrs = NULL;
        size_t nl_n, nr, na;
        int r = nl_links(nl, &links, &nl_n);
        if (r >= 0)
                r = nl_routes4(nl, &routes, &nr);
        if (r >= 0)
                r = nl_addrs4(nl, &addrs, &na);
        if (r < 0)
                return r;
        int bi = find_link(links, nl_n, h->bridge);
        int own = bi >= 0 ? links[bi].index : -1;
        char pool[NET_CIDR_STR], ip[NET_IP_STR];
        net_pool_str(&h->pool, pool);
        for (size_t i = 0; i < nr; i++) {
                const struct nl_route4 *x = &routes[i];
                if (x->table == RT_TABLE_LOCAL || x->prefix == 0 || (own > 0 && x->oif == own) ||
                    !net_overlap(x->dst, x->prefix, h->pool.net, h->pool.prefix))
                        continue;
                net_ip_str(x->dst, ip);
                snprintf(why, len, "the rig subnet %s is in use on this host: route %s/%d dev %s",
                         pool, ip, x->prefix, x->oif ? link_name(links, nl_n, x->oif) : "(none)");
                return -EADDRINUSE;
        }
        for (size_t i = 0; i < na; i++) {
                const struct nl_addr4 *x = &addrs[i];
                if ((own > 0 && x->index == own) ||
                    !net_overlap(x->ip, x->prefix, h->pool.net, h->pool.prefix))
                        continue;
                net_ip_str(x->ip, ip);
                snprintf(why, len, "the rig subnet %s is in use on this host: address %s/%d on %s",
                         pool, ip, x->prefix, link_name(links, nl_n, x->index));
                return -EADDRINUSE;
        }
        return 0;
}

static int write_sysctl(const char *path, const char *val, char *why, size_t len)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t w = fd < 0 ? -1 : write(fd, val, strlen(val));
        int r = w < 0 ? -errno : 0;
        if (fd >= 0)
                close(fd);
        if (r < 0)
                snprintf(why, len, "cannot write %s: %s", path, strerror(-r));
        return r;
}

static int bridge_sysctls(const char *br, char *why, size_t len)
{
        char p[128];
        int r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", why, len);
        snprintf(p, sizeof(p), "/proc/sys/net/ipv4/conf/%s/route_localnet", br);
        if (r >= 0)
                r = write_sysctl(p, "1", why, len);
        /* No IPv6 on the rigs' side of the host; the bridge drops rigs' IPv6 frames anyway. */
        snprintf(p, sizeof(p), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", br);
        if (r >= 0 && access("/proc/sys/net/ipv6", F_OK) == 0)
                r = write_sysctl(p, "1", why, len);
        return r;
}

/* Leaves exactly the gateway address on the bridge. */
static int bridge_addresses(struct nl *nl, int index, const struct net_host *h)
{
        _cleanup_free_ struct nl_addr4 *addrs = NULL;
        size_t n;
        int r = nl_addrs4(nl, &addrs, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (addrs[i].index == index &&
                    (addrs[i].ip != h->pool.gateway || addrs[i].prefix != h->pool.prefix))
                        r = nl_addr_del(nl, index, addrs[i].ip, addrs[i].prefix);
        if (r >= 0)
                r = nl_addr_add(nl, index, h->pool.gateway, h->pool.prefix);
        return r;
}

int net_bridge_setup(struct nl *nl, const struct net_host *h, char *why, size_t len)
{
        uint8_t mac[NET_MAC_LEN];
        /* A fixed MAC: a bridge otherwise takes its lowest port's, and rigs' ARP caches would
         * go stale whenever ports come and go. */
        net_mac_of(h->pool.gateway, mac);
        int r = nl_bridge_add(nl, h->bridge, mac);
        if (r == -EEXIST) {
                _cleanup_free_ struct nl_link *links = NULL;
                size_t n;
                r = nl_links(nl, &links, &n);
                int i = r < 0 ? -1 : find_link(links, n, h->bridge);
                if (r >= 0 && (i < 0 || !streq(links[i].kind, "bridge"))) {
                        snprintf(why, len, "%s exists and is not a bridge", h->bridge);
                        return -EEXIST;
                }
        }
        int index = r < 0 ? r : nl_link_index(nl, h->bridge);
        if (index < 0) {
                snprintf(why, len, "cannot create the bridge %s: %s", h->bridge, strerror(-index));
                return index;
        }
        r = nl_link_set_mac(nl, index, mac);
        if (r >= 0)
                r = bridge_sysctls(h->bridge, why, len);
        else
                snprintf(why, len, "cannot set the MAC of %s: %s", h->bridge, strerror(-r));
        if (r >= 0 && (r = bridge_addresses(nl, index, h)) < 0)
                snprintf(why, len, "cannot set the address of %s: %s", h->bridge, strerror(-r));
        if (r >= 0 && (r = nl_link_set_up(nl, index)) < 0)
                snprintf(why, len, "cannot bring %s up: %s", h->bridge, strerror(-r));
        return r;
}

int net_bridge_delete(struct nl *nl, const char *bridge)
{
        return nl_link_del(nl, bridge);
}

static bool kept(const char *name, char (*keep)[IFNAMSIZ], size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (streq(keep[i], name))
                        return true;
        return false;
}

int net_sweep_ports(struct nl *nl, const struct net_host *h, char (*keep)[IFNAMSIZ], size_t n)
{
        _cleanup_free_ struct nl_link *links = NULL;
        size_t nlinks;
        int r = nl_links(nl, &links, &nlinks);
        if (r < 0)
                return r;
        int bi = find_link(links, nlinks, h->bridge);
        int own = bi >= 0 ? links[bi].index : -1;
        int deleted = 0;
        for (size_t i = 0; i < nlinks; i++) {
                const struct nl_link *l = &links[i];
                bool ours = (own > 0 && l->master == own) || l->group == h->group;
                if (!ours || strncmp(l->name, "rv", 2) != 0 || !streq(l->kind, "veth") ||
                    kept(l->name, keep, n))
                        continue;
                r = nl_link_del(nl, l->name);
                if (r < 0)
                        return r;
                deleted++;
        }
        return deleted;
}

int net_bridge_ports(struct nl *nl, const char *bridge, char (*names)[IFNAMSIZ], size_t n)
{
        _cleanup_free_ struct nl_link *links = NULL;
        size_t nlinks;
        int r = nl_links(nl, &links, &nlinks);
        if (r < 0)
                return r;
        int bi = find_link(links, nlinks, bridge);
        int count = 0;
        for (size_t i = 0; bi >= 0 && i < nlinks; i++)
                if (links[i].master == links[bi].index && kept(links[i].name, names, n))
                        count++;
        return count;
}

static bool excluded_ip(uint32_t ip, const struct net_pool *pool, const uint32_t *ex, size_t n)
{
        if ((ip >> 24) == 127 || (ip >> 16) == 0xa9fe || ip == 0 ||
            net_overlap(ip, 32, pool->net, pool->prefix))
                return true;
        for (size_t i = 0; i < n; i++)
                if (ex[i] == ip)
                        return true;
        return false;
}

size_t net_read_resolvers(const char *path, const struct net_pool *pool, const uint32_t *excluded,
                          size_t nexcluded, uint32_t *out, size_t max)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        char line[512];
        size_t n = 0;
        while (n < max && fgets(line, sizeof(line), f)) {
                char word[32], addr[64];
                uint32_t ip;
                if (sscanf(line, "%31s %63s", word, addr) != 2 || !streq(word, "nameserver") ||
                    net_ip_parse(addr, &ip) < 0 || excluded_ip(ip, pool, excluded, nexcluded))
                        continue;
                bool dup = false;
                for (size_t i = 0; i < n; i++)
                        dup = dup || out[i] == ip;
                if (!dup)
                        out[n++] = ip;
        }
        fclose(f);
        return n;
}

size_t net_host_resolvers(struct nl *nl, const struct net_pool *pool, uint32_t *out, size_t max)
{
        _cleanup_free_ struct nl_addr4 *addrs = NULL;
        size_t na = 0;
        if (nl_addrs4(nl, &addrs, &na) < 0)
                na = 0;
        _cleanup_free_ uint32_t *own = xcalloc(na + 1, sizeof(uint32_t));
        for (size_t i = 0; i < na; i++)
                own[i] = addrs[i].ip;
        size_t n = net_read_resolvers("/etc/resolv.conf", pool, own, na, out, max);
        if (n == 0)
                n = net_read_resolvers("/run/systemd/resolve/resolv.conf", pool, own, na, out, max);
        return n;
}
