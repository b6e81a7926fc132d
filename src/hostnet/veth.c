#include "hostnet/veth.h"

#include "hostnet/addr.h"
#include "hostnet/nl.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>

static int write_str(const char *path, const char *val)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t w = write(fd, val, strlen(val));
        int r = w < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* Opens an rtnetlink socket inside the rig's namespace (it stays there after we return) and turns
 * IPv6 off there before any interface appears: /proc/sys/net follows the opener's namespace. */
static int enter_rig(int netns_fd, struct nl *in, char *why, size_t len)
{
        int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return -errno;
        int r = setns(netns_fd, CLONE_NEWNET) < 0 ? -errno : 0;
        if (r < 0) {
                snprintf(why, len, "cannot enter the rig's network namespace: %s", strerror(-r));
                close(self);
                return r;
        }
        if (access("/proc/sys/net/ipv6", F_OK) == 0) {
                (void)write_str("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
                (void)write_str("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        }
        r = nl_open(in);
        if (r < 0)
                snprintf(why, len, "netlink in the rig: %s", strerror(-r));
        if (setns(self, CLONE_NEWNET) < 0) {
                /* Cannot happen for host root; never go on in the wrong namespace. */
                int e = -errno;
                snprintf(why, len, "cannot return to the host's network namespace: %s",
                         strerror(-e));
                abort();
        }
        close(self);
        return r;
}

static int host_end(struct nl *host, const struct net_plug *p, const char *veth, char *why,
                    size_t len)
{
        int br = nl_link_index(host, p->bridge);
        if (br < 0) {
                snprintf(why, len, "the bridge %s is missing (rigd sets it up): %s", p->bridge,
                         strerror(-br));
                return br;
        }
        uint8_t mac[NET_MAC_LEN];
        net_mac_of(p->ip, mac);
        struct nl_veth v = {.host = veth,
                            .master = br,
                            .group = p->group,
                            .peer = "eth0",
                            .peer_netns_fd = p->netns_fd,
                            .mac = mac};
        int r = nl_veth_add(host, &v);
        if (r == -EEXIST && (r = nl_link_del(host, veth)) >= 0)
                r = nl_veth_add(host, &v);
        if (r < 0) {
                snprintf(why, len, "cannot create the veth %s: %s", veth, strerror(-r));
                return r;
        }
        int idx = nl_link_index(host, veth);
        char path[96];
        snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", veth);
        if (access("/proc/sys/net/ipv6", F_OK) == 0)
                (void)write_str(path, "1");
        r = idx < 0 ? idx : nl_port_isolate(host, idx);
        if (r >= 0)
                r = nl_link_set_up(host, idx);
        if (r < 0)
                snprintf(why, len, "cannot attach %s to %s: %s", veth, p->bridge, strerror(-r));
        return r;
}

static int rig_end(struct nl *in, const struct net_plug *p, char *why, size_t len)
{
        int idx = nl_link_index(in, "eth0");
        int r = idx < 0 ? idx : nl_addr_add(in, idx, p->ip, p->prefix);
        if (r >= 0)
                r = nl_link_set_up(in, idx);
        if (r >= 0)
                r = nl_route_default(in, idx, p->gateway);
        if (r < 0)
                snprintf(why, len, "cannot configure the rig's eth0: %s", strerror(-r));
        return r;
}

int net_rig_plug(const struct net_plug *p, char *why, size_t len)
{
        char veth[IFNAMSIZ];
        int r = net_veth_name(p->rig_id, veth);
        if (r < 0) {
                snprintf(why, len, "bad rig id");
                return r;
        }
        struct nl host = {0}, in = {0};
        r = nl_open(&host);
        if (r < 0) {
                snprintf(why, len, "netlink: %s", strerror(-r));
                return r;
        }
        r = enter_rig(p->netns_fd, &in, why, len);
        if (r >= 0)
                r = host_end(&host, p, veth, why, len);
        if (r >= 0)
                r = rig_end(&in, p, why, len);
        if (r < 0)
                (void)nl_link_del(&host, veth);
        nl_close(&in);
        nl_close(&host);
        return r;
}

int net_rig_unplug(const char *rig_id)
{
        char veth[IFNAMSIZ];
        int r = net_veth_name(rig_id, veth);
        if (r < 0)
                return r;
        struct nl nl;
        r = nl_open(&nl);
        if (r < 0)
                return r;
        r = nl_link_del(&nl, veth);
        nl_close(&nl);
        return r;
}
