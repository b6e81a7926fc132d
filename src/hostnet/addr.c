#include "hostnet/addr.h"

#include <arpa/inet.h>
#include <stdio.h>

uint32_t net_mask(int prefix)
{
        return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

int net_ip_parse(const char *s, uint32_t *out)
{
        struct in_addr a;
        if (!s || inet_pton(AF_INET, s, &a) != 1)
                return -EINVAL;
        *out = ntohl(a.s_addr);
        return 0;
}

void net_ip_str(uint32_t ip, char out[NET_IP_STR])
{
        snprintf(out, NET_IP_STR, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
                 ip & 0xff);
}

int net_cidr_parse(const char *s, uint32_t *addr, int *prefix)
{
        char buf[64];
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        unsigned char v6[16];
        bool is6 = inet_pton(AF_INET6, buf, v6) == 1;
        uint32_t a = 0;
        if (!is6 && net_ip_parse(buf, &a) < 0)
                return -EINVAL;
        long bits = is6 ? 128 : 32;
        if (slash) {
                char *end;
                errno = 0;
                bits = strtol(slash + 1, &end, 10);
                if (!slash[1] || *end || errno || bits < 0 || bits > (is6 ? 128 : 32))
                        return -EINVAL;
        }
        if (is6)
                return -EAFNOSUPPORT;
        *prefix = (int)bits;
        *addr = a & net_mask((int)bits);
        return 0;
}

int net_pool_parse(const char *cidr, struct net_pool *out)
{
        uint32_t a;
        int prefix;
        if (!cidr || !strchr(cidr, '/') || net_cidr_parse(cidr, &a, &prefix) < 0)
                return -EINVAL;
        uint32_t given;
        char ip[64];
        snprintf(ip, sizeof(ip), "%.*s", (int)(strchr(cidr, '/') - cidr), cidr);
        if (net_ip_parse(ip, &given) < 0 || given != a || prefix < 16 || prefix > 29)
                return -EINVAL;
        out->net = a;
        out->prefix = prefix;
        out->gateway = a + 1;
        out->first = a + 2;
        out->last = (a | ~net_mask(prefix)) - 1;
        return 0;
}

bool net_pool_contains(const struct net_pool *p, uint32_t ip)
{
        return ip >= p->first && ip <= p->last;
}

void net_pool_str(const struct net_pool *p, char out[NET_CIDR_STR])
{
        char ip[NET_IP_STR];
        net_ip_str(p->net, ip);
        snprintf(out, NET_CIDR_STR, "%s/%d", ip, p->prefix);
}

bool net_overlap(uint32_t a, int pa, uint32_t b, int pb)
{
        uint32_t m = net_mask(pa < pb ? pa : pb);
        return (a & m) == (b & m);
}

void net_mac_of(uint32_t ip, uint8_t mac[NET_MAC_LEN])
{
        mac[0] = 0x02;
        mac[1] = 0x72;
        mac[2] = (uint8_t)(ip >> 24);
        mac[3] = (uint8_t)(ip >> 16);
        mac[4] = (uint8_t)(ip >> 8);
        mac[5] = (uint8_t)ip;
}

void net_mac_str(const uint8_t mac[NET_MAC_LEN], char out[18])
{
        snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                 mac[5]);
}

static bool alnum(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int net_veth_name(const char *rig_id, char out[IFNAMSIZ])
{
        if (!rig_id || strncmp(rig_id, "rig_", 4) != 0 || strlen(rig_id) != 24)
                return -EINVAL;
        for (const char *p = rig_id + 4; *p; p++)
                if (!alnum(*p))
                        return -EINVAL;
        snprintf(out, IFNAMSIZ, "rv%.13s", rig_id + 4);
        return 0;
}

uint32_t net_port_group(const char *bridge)
{
        /* FNV-1a; group 0 is every interface's default. */
        uint32_t h = 2166136261u;
        for (const char *p = "rigs-port:"; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        for (const char *p = bridge; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        return h ? h : 1;
}

bool net_bridge_name_ok(const char *s)
{
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n >= IFNAMSIZ ||
            !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return false;
        for (const char *p = s; *p; p++)
                if (!alnum(*p) && *p != '_' && *p != '-')
                        return false;
        /* "rv..." is the rigs' port prefix. */
        return strncmp(s, "rv", 2) != 0;
}
