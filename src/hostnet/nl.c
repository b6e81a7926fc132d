#include "hostnet/nl.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>

#define NL_BUF  8192
#define NL_DUMP 32768
/* Attribute tables are indexed by type; every *_MAX used here is below this. */
#define TB_SIZE 128

int nl_open(struct nl *nl)
{
        memset(nl, 0, sizeof(*nl));
        nl->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl->sk)
                return -errno;
        if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;
                mnl_socket_close(nl->sk);
                nl->sk = NULL;
                return r;
        }
        nl->portid = mnl_socket_get_portid(nl->sk);
        return 0;
}

void nl_close(struct nl *nl)
{
        if (nl->sk)
                mnl_socket_close(nl->sk);
        nl->sk = NULL;
}

/* Sends one request and runs cb on every reply until the ack (or NLMSG_DONE for a dump, which
 * is made with NLM_F_DUMP and no other flag: NLM_F_EXCL shares a bit with it). */
static int nl_talk(struct nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
        h->nlmsg_seq = ++nl->seq;
        if ((h->nlmsg_flags & ~NLM_F_REQUEST) != NLM_F_DUMP)
                h->nlmsg_flags |= NLM_F_ACK;
        if (mnl_socket_sendto(nl->sk, h, h->nlmsg_len) < 0)
                return -errno;
        _cleanup_free_ char *buf = xmalloc(NL_DUMP);
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl->sk, buf, NL_DUMP);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                int r = mnl_cb_run(buf, (size_t)n, h->nlmsg_seq, nl->portid, cb, data);
                if (r < 0)
                        return -errno;
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

static struct nlmsghdr *msg_new(char *buf, uint16_t type, uint16_t flags)
{
        memset(buf, 0, NL_BUF);
        struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
        h->nlmsg_type = type;
        h->nlmsg_flags = NLM_F_REQUEST | flags;
        return h;
}

static struct ifinfomsg *ifi_put(struct nlmsghdr *h, int family, int index)
{
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
        ifi->ifi_family = (unsigned char)family;
        ifi->ifi_index = index;
        return ifi;
}

/* ---- links ---- */

static int index_cb(const struct nlmsghdr *h, void *data)
{
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
        *(int *)data = ifi->ifi_index;
        return MNL_CB_OK;
}

int nl_link_index(struct nl *nl, const char *name)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_GETLINK, 0);
        ifi_put(h, AF_UNSPEC, 0);
        mnl_attr_put_strz(h, IFLA_IFNAME, name);
        mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        int index = 0;
        int r = nl_talk(nl, h, index_cb, &index);
        if (r < 0)
                return r;
        return index > 0 ? index : -ENODEV;
}

int nl_link_del(struct nl *nl, const char *name)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_DELLINK, 0);
        ifi_put(h, AF_UNSPEC, 0);
        mnl_attr_put_strz(h, IFLA_IFNAME, name);
        int r = nl_talk(nl, h, NULL, NULL);
        return r == -ENODEV ? 0 : r;
}

int nl_link_set_up(struct nl *nl, int ifindex)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_NEWLINK, 0);
        struct ifinfomsg *ifi = ifi_put(h, AF_UNSPEC, ifindex);
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
        return nl_talk(nl, h, NULL, NULL);
}

int nl_link_set_mac(struct nl *nl, int ifindex, const uint8_t mac[6])
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_NEWLINK, 0);
        ifi_put(h, AF_UNSPEC, ifindex);
        mnl_attr_put(h, IFLA_ADDRESS, 6, mac);
        return nl_talk(nl, h, NULL, NULL);
}

int nl_bridge_add(struct nl *nl, const char *name, const uint8_t mac[6])
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        ifi_put(h, AF_UNSPEC, 0);
        mnl_attr_put_strz(h, IFLA_IFNAME, name);
        if (mac)
                mnl_attr_put(h, IFLA_ADDRESS, 6, mac);
        struct nlattr *li = mnl_attr_nest_start(h, IFLA_LINKINFO);
        mnl_attr_put_strz(h, IFLA_INFO_KIND, "bridge");
        mnl_attr_nest_end(h, li);
        return nl_talk(nl, h, NULL, NULL);
}

int nl_veth_add(struct nl *nl, const struct nl_veth *v)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        ifi_put(h, AF_UNSPEC, 0);
        mnl_attr_put_strz(h, IFLA_IFNAME, v->host);
        if (v->master > 0)
                mnl_attr_put_u32(h, IFLA_MASTER, (uint32_t)v->master);
        if (v->group)
                mnl_attr_put_u32(h, IFLA_GROUP, v->group);
        struct nlattr *li = mnl_attr_nest_start(h, IFLA_LINKINFO);
        mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
        struct nlattr *data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
        struct nlattr *peer = mnl_attr_nest_start(h, VETH_INFO_PEER);
        ifi_put(h, AF_UNSPEC, 0);
        mnl_attr_put_strz(h, IFLA_IFNAME, v->peer);
        if (v->peer_netns_fd >= 0)
                mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)v->peer_netns_fd);
        if (v->mac)
                mnl_attr_put(h, IFLA_ADDRESS, 6, v->mac);
        mnl_attr_nest_end(h, peer);
        mnl_attr_nest_end(h, data);
        mnl_attr_nest_end(h, li);
        return nl_talk(nl, h, NULL, NULL);
}

int nl_port_isolate(struct nl *nl, int ifindex)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_SETLINK, 0);
        ifi_put(h, AF_BRIDGE, ifindex);
        struct nlattr *pi = mnl_attr_nest_start(h, IFLA_PROTINFO);
        mnl_attr_put_u8(h, IFLA_BRPORT_ISOLATED, 1);
        mnl_attr_nest_end(h, pi);
        return nl_talk(nl, h, NULL, NULL);
}

/* ---- addresses and routes ---- */

static int addr_msg(struct nl *nl, uint16_t type, uint16_t flags, int ifindex, uint32_t ip,
                    int prefix)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, type, flags);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (unsigned char)prefix;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (unsigned)ifindex;
        uint32_t be = htonl(ip);
        uint32_t bcast = htonl(ip | (prefix >= 32 ? 0 : ((1u << (32 - prefix)) - 1)));
        mnl_attr_put_u32(h, IFA_LOCAL, be);
        mnl_attr_put_u32(h, IFA_ADDRESS, be);
        if (type == RTM_NEWADDR && prefix < 31)
                mnl_attr_put_u32(h, IFA_BROADCAST, bcast);
        return nl_talk(nl, h, NULL, NULL);
}

int nl_addr_add(struct nl *nl, int ifindex, uint32_t ip, int prefix)
{
        return addr_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, ip, prefix);
}

int nl_addr_del(struct nl *nl, int ifindex, uint32_t ip, int prefix)
{
        int r = addr_msg(nl, RTM_DELADDR, 0, ifindex, ip, prefix);
        return r == -EADDRNOTAVAIL ? 0 : r;
}

int nl_route_default(struct nl *nl, int ifindex, uint32_t gateway)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
        rtm->rtm_family = AF_INET;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_STATIC;
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        mnl_attr_put_u32(h, RTA_GATEWAY, htonl(gateway));
        mnl_attr_put_u32(h, RTA_OIF, (uint32_t)ifindex);
        return nl_talk(nl, h, NULL, NULL);
}

/* ---- dumps ---- */

struct vec {
        void *items;
        size_t n, cap, size;
};

static void *vec_push(struct vec *v)
{
        if (v->n == v->cap) {
                v->cap = v->cap ? v->cap * 2 : 16;
                v->items = xrealloc(v->items, v->cap * v->size);
        }
        void *p = (char *)v->items + v->n++ * v->size;
        memset(p, 0, v->size);
        return p;
}

static int attr_collect(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        uint16_t type = mnl_attr_get_type(a);
        if (type < TB_SIZE)
                tb[type] = a;
        return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *h, void *data)
{
        const struct nlattr *tb[TB_SIZE] = {0};
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
        mnl_attr_parse(h, sizeof(*ifi), attr_collect, tb);
        struct nl_link *l = vec_push(data);
        l->index = ifi->ifi_index;
        if (tb[IFLA_IFNAME])
                snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
        if (tb[IFLA_MASTER])
                l->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
        if (tb[IFLA_GROUP])
                l->group = mnl_attr_get_u32(tb[IFLA_GROUP]);
        if (tb[IFLA_LINKINFO]) {
                const struct nlattr *info[TB_SIZE] = {0};
                mnl_attr_parse_nested(tb[IFLA_LINKINFO], attr_collect, info);
                if (info[IFLA_INFO_KIND])
                        snprintf(l->kind, sizeof(l->kind), "%s",
                                 mnl_attr_get_str(info[IFLA_INFO_KIND]));
        }
        return MNL_CB_OK;
}

int nl_links(struct nl *nl, struct nl_link **out, size_t *n)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_GETLINK, NLM_F_DUMP);
        ifi_put(h, AF_UNSPEC, 0);
        mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        struct vec v = {.size = sizeof(struct nl_link)};
        int r = nl_talk(nl, h, link_cb, &v);
        if (r < 0) {
                free(v.items);
                return r;
        }
        *out = v.items;
        *n = v.n;
        return 0;
}

static int addr_cb(const struct nlmsghdr *h, void *data)
{
        const struct nlattr *tb[TB_SIZE] = {0};
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
        if (ifa->ifa_family != AF_INET)
                return MNL_CB_OK;
        mnl_attr_parse(h, sizeof(*ifa), attr_collect, tb);
        const struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
        if (!a)
                return MNL_CB_OK;
        struct nl_addr4 *x = vec_push(data);
        x->index = (int)ifa->ifa_index;
        x->ip = ntohl(mnl_attr_get_u32(a));
        x->prefix = ifa->ifa_prefixlen;
        return MNL_CB_OK;
}

int nl_addrs4(struct nl *nl, struct nl_addr4 **out, size_t *n)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_GETADDR, NLM_F_DUMP);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
        ifa->ifa_family = AF_INET;
        struct vec v = {.size = sizeof(struct nl_addr4)};
        int r = nl_talk(nl, h, addr_cb, &v);
        if (r < 0) {
                free(v.items);
                return r;
        }
        *out = v.items;
        *n = v.n;
        return 0;
}

static int route_cb(const struct nlmsghdr *h, void *data)
{
        const struct nlattr *tb[TB_SIZE] = {0};
        const struct rtmsg *rtm = mnl_nlmsg_get_payload(h);
        if (rtm->rtm_family != AF_INET)
                return MNL_CB_OK;
        mnl_attr_parse(h, sizeof(*rtm), attr_collect, tb);
        struct nl_route4 *x = vec_push(data);
        x->prefix = rtm->rtm_dst_len;
        x->type = rtm->rtm_type;
        x->table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
        if (tb[RTA_DST])
                x->dst = ntohl(mnl_attr_get_u32(tb[RTA_DST]));
        if (tb[RTA_OIF])
                x->oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);
        return MNL_CB_OK;
}

int nl_routes4(struct nl *nl, struct nl_route4 **out, size_t *n)
{
        char buf[NL_BUF];
        struct nlmsghdr *h = msg_new(buf, RTM_GETROUTE, NLM_F_DUMP);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
        rtm->rtm_family = AF_INET;
        struct vec v = {.size = sizeof(struct nl_route4)};
        int r = nl_talk(nl, h, route_cb, &v);
        if (r < 0) {
                free(v.items);
                return r;
        }
        *out = v.items;
        *n = v.n;
        return 0;
}
