#include "hostnet/rules.h"

#include "base/buf.h"

#include <nftables/libnftables.h>
#include <stdio.h>

struct rules {
        struct nft_ctx *nft;
        char error[512];
};

int rules_new(struct rules **out)
{
        struct rules *r = xcalloc(1, sizeof(*r));
        r->nft = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!r->nft) {
                free(r);
                return -ENOMEM;
        }
        nft_ctx_buffer_output(r->nft);
        nft_ctx_buffer_error(r->nft);
        *out = r;
        return 0;
}

void rules_free(struct rules *r)
{
        if (!r)
                return;
        nft_ctx_free(r->nft);
        free(r);
}

const char *rules_error(const struct rules *r)
{
        return r->error;
}

/* Runs one batch: libnftables applies it as one transaction. */
static int run(struct rules *r, struct buf *b)
{
        buf_puts(b, "");
        r->error[0] = '\0';
        int rc = nft_run_cmd_from_buffer(r->nft, b->data);
        if (rc != 0) {
                const char *e = nft_ctx_get_error_buffer(r->nft);
                snprintf(r->error, sizeof(r->error), "%s", e && *e ? e : "nftables failed");
                /* One line is enough for a log. */
                char *nl = strchr(r->error, '\n');
                if (nl)
                        *nl = '\0';
        }
        (void)nft_ctx_get_output_buffer(r->nft); /* discard */
        return rc == 0 ? 0 : -EIO;
}

void net_rig_rules_copy(struct net_rig_rules *dst, const struct net_rig_rules *src)
{
        *dst = *src;
        dst->allow = NULL;
        if (src->nallow) {
                dst->allow = xcalloc(src->nallow, sizeof(*dst->allow));
                memcpy(dst->allow, src->allow, src->nallow * sizeof(*dst->allow));
        }
}

void net_rig_rules_clear(struct net_rig_rules *x)
{
        free(x->allow);
        x->allow = NULL;
        x->nallow = 0;
}

/* ---- text ---- */

static void put_ip(struct buf *b, uint32_t ip)
{
        char s[NET_IP_STR];
        net_ip_str(ip, s);
        buf_puts(b, s);
}

static void base_bridge(struct buf *b, const struct net_host *h)
{
        const char *t = h->bridge;
        buf_printf(b, "add table bridge %s\ndelete table bridge %s\n", t, t);
        buf_printf(b,
                   "table bridge %s {\n"
                   " map rig_ports { type ifname : verdict; }\n"
                   /* A port's own chain accepts what may leave it; a port of this bridge without
                    * one (a stranger, or a rig being torn down) sends nothing. */
                   " chain prerouting { type filter hook prerouting priority filter; policy accept;"
                   " iifname vmap @rig_ports; iifgroup %u drop; }\n"
                   /* Nothing is ever bridged between two rig ports (the ports are isolated too). */
                   " chain forward { type filter hook forward priority filter; policy accept;"
                   " iifgroup %u drop; oifgroup %u drop; }\n"
                   "}\n",
                   t, h->group, h->group, h->group);
}

static void base_inet(struct buf *b, const struct net_host *h)
{
        const char *t = h->bridge;
        buf_printf(b, "add table inet %s\ndelete table inet %s\n", t, t);
        buf_printf(b,
                   "table inet %s {\n"
                   " set resolvers { type ipv4_addr; }\n"
                   " set rig_exempt { type ipv4_addr . inet_proto . inet_service; }\n"
                   " map rig_egress { type ipv4_addr : verdict; }\n"
                   /* route_localnet is on for the bridge (for the exempt DNAT): nothing from a rig
                    * may name loopback itself. */
                   " chain raw_pre { type filter hook prerouting priority raw; policy accept;"
                   " iifname \"%s\" ip daddr 127.0.0.0/8 drop;"
                   " iifname \"%s\" ip saddr 127.0.0.0/8 drop;"
                   " iifname \"%s\" meta nfproto ipv6 drop; }\n",
                   t, t, t, t);
        buf_printf(b,
                   " chain nat_pre { type nat hook prerouting priority dstnat; policy accept;"
                   " iifname \"%s\" ip daddr ",
                   t);
        put_ip(b, h->pool.gateway);
        buf_printf(b,
                   " ip saddr . meta l4proto . th dport @rig_exempt dnat ip to 127.0.0.1; }\n"
                   " chain input { type filter hook input priority filter; policy accept;"
                   " iifname \"%s\" jump from_rigs; }\n"
                   /* A rig reaches the host only through its exempt ports (checked on every
                    * packet, so that revoking one cuts its connections) and answers connections
                    * the host opened. */
                   " chain from_rigs {"
                   " ct status dnat ip saddr . meta l4proto . th dport @rig_exempt accept;"
                   " ct status dnat drop; ct state established,related accept; drop; }\n"
                   " chain forward { type filter hook forward priority filter; policy accept;"
                   " oifname \"%s\" ct state established,related accept; oifname \"%s\" drop;"
                   " iifname \"%s\" jump from_rigs_out; }\n"
                   " chain from_rigs_out { ip daddr 169.254.0.0/16 drop;"
                   " ip saddr vmap @rig_egress; drop; }\n"
                   " chain nat_post { type nat hook postrouting priority srcnat; policy accept;"
                   " iifname \"%s\" oifname != \"%s\" masquerade; }\n"
                   "}\n",
                   t, t, t, t, t, t);
        if (h->nresolvers) {
                buf_printf(b, "add element inet %s resolvers { ", t);
                for (size_t i = 0; i < h->nresolvers; i++) {
                        buf_puts(b, i ? ", " : "");
                        put_ip(b, h->resolvers[i]);
                }
                buf_puts(b, " }\n");
        }
}

static void policy_text(struct buf *b, const struct net_host *h, const struct net_rig_rules *x)
{
        const char *t = h->bridge;
        if (x->egress == EGRESS_OPEN) {
                buf_printf(b, "add rule inet %s %s accept\n", t, x->id);
                return;
        }
        if (x->egress == EGRESS_ALLOW) {
                buf_printf(b, "add rule inet %s %s ip daddr @%s_allow accept\n", t, x->id, x->id);
                /* Allowed names must resolve inside the rig too. */
                buf_printf(b,
                           "add rule inet %s %s ip daddr @resolvers meta l4proto { tcp, udp } th "
                           "dport 53 accept\n",
                           t, x->id);
        }
        buf_printf(b, "add rule inet %s %s drop\n", t, x->id);
        if (x->egress == EGRESS_ALLOW && x->nallow) {
                buf_printf(b, "add element inet %s %s_allow { ", t, x->id);
                for (size_t i = 0; i < x->nallow; i++) {
                        buf_puts(b, i ? ", " : "");
                        put_ip(b, x->allow[i].addr);
                        buf_printf(b, "/%d", x->allow[i].prefix);
                }
                buf_puts(b, " }\n");
        }
}

/* "add element" (or "delete element") of the given ports of a rig in rig_exempt. */
static void exempt_text(struct buf *b, const struct net_host *h, const char *verb, uint32_t ip,
                        const uint16_t *ports, size_t n)
{
        if (!n)
                return;
        char s[NET_IP_STR];
        net_ip_str(ip, s);
        buf_printf(b, "%s element inet %s rig_exempt { ", verb, h->bridge);
        for (size_t i = 0; i < n; i++)
                buf_printf(b, "%s%s . tcp . %u, %s . udp . %u", i ? ", " : "", s, ports[i], s,
                           ports[i]);
        buf_puts(b, " }\n");
}

static void port_chain(struct buf *b, const struct net_host *h, const struct net_rig_rules *x)
{
        const char *t = h->bridge;
        char mac[18], ip[NET_IP_STR], veth[IFNAMSIZ];
        uint8_t m[NET_MAC_LEN];
        net_mac_of(x->ip, m);
        net_mac_str(m, mac);
        net_ip_str(x->ip, ip);
        if (net_veth_name(x->id, veth) < 0)
                snprintf(veth, sizeof(veth), "rv-invalid");
        /* "create": a rig's chains exist once; a second add is a bug that must fail. */
        buf_printf(b, "create chain bridge %s %s\n", t, x->id);
        buf_printf(b,
                   "add rule bridge %s %s ether saddr != %s drop\n"
                   "add rule bridge %s %s arp hlen != 6 drop\n"
                   "add rule bridge %s %s arp plen != 4 drop\n"
                   "add rule bridge %s %s arp saddr ether != %s drop\n"
                   "add rule bridge %s %s arp saddr ip != %s drop\n"
                   "add rule bridge %s %s ether type ip ip saddr != %s drop\n"
                   "add rule bridge %s %s ether type != { ip, arp } drop\n"
                   "add rule bridge %s %s accept\n",
                   t, x->id, mac, t, x->id, t, x->id, t, x->id, mac, t, x->id, ip, t, x->id, ip, t,
                   x->id, t, x->id);
        buf_printf(b, "add element bridge %s rig_ports { \"%s\" : jump %s }\n", t, veth, x->id);
}

static void rig_text(struct buf *b, const struct net_host *h, const struct net_rig_rules *x)
{
        const char *t = h->bridge;
        port_chain(b, h, x);
        buf_printf(b, "add set inet %s %s_allow { type ipv4_addr; flags interval; auto-merge; }\n",
                   t, x->id);
        buf_printf(b, "create chain inet %s %s\n", t, x->id);
        policy_text(b, h, x);
        buf_printf(b, "add element inet %s rig_egress { ", t);
        put_ip(b, x->ip);
        buf_printf(b, " : jump %s }\n", x->id);
        exempt_text(b, h, "add", x->ip, x->ports, x->nports);
}

/* ---- operations ---- */

int rules_rebuild(struct rules *r, const struct net_host *h, const struct net_rig_rules *rigs,
                  size_t n)
{
        _cleanup_buf_ struct buf b = {0};
        base_bridge(&b, h);
        base_inet(&b, h);
        for (size_t i = 0; i < n; i++)
                rig_text(&b, h, &rigs[i]);
        return run(r, &b);
}

int rules_drop(struct rules *r, const struct net_host *h)
{
        _cleanup_buf_ struct buf b = {0};
        buf_printf(&b, "add table bridge %s\ndelete table bridge %s\n", h->bridge, h->bridge);
        buf_printf(&b, "add table inet %s\ndelete table inet %s\n", h->bridge, h->bridge);
        return run(r, &b);
}

int rules_rig_add(struct rules *r, const struct net_host *h, const struct net_rig_rules *rig)
{
        _cleanup_buf_ struct buf b = {0};
        rig_text(&b, h, rig);
        return run(r, &b);
}

static bool has_port(const struct net_rig_rules *x, uint16_t p)
{
        for (size_t i = 0; i < x->nports; i++)
                if (x->ports[i] == p)
                        return true;
        return false;
}

int rules_rig_update(struct rules *r, const struct net_host *h, const struct net_rig_rules *old,
                     const struct net_rig_rules *now)
{
        _cleanup_buf_ struct buf b = {0};
        uint16_t add[NET_MAX_PORTS], del[NET_MAX_PORTS];
        size_t nadd = 0, ndel = 0;
        for (size_t i = 0; i < now->nports; i++)
                if (!has_port(old, now->ports[i]))
                        add[nadd++] = now->ports[i];
        for (size_t i = 0; i < old->nports; i++)
                if (!has_port(now, old->ports[i]))
                        del[ndel++] = old->ports[i];
        buf_printf(&b, "flush chain inet %s %s\n", h->bridge, now->id);
        buf_printf(&b, "flush set inet %s %s_allow\n", h->bridge, now->id);
        policy_text(&b, h, now);
        exempt_text(&b, h, "add", now->ip, add, nadd);
        /* Adding first makes the delete succeed whatever was there. */
        exempt_text(&b, h, "add", old->ip, del, ndel);
        exempt_text(&b, h, "delete", old->ip, del, ndel);
        return run(r, &b);
}

int rules_rig_remove(struct rules *r, const struct net_host *h, const struct net_rig_rules *old)
{
        const char *t = h->bridge;
        char veth[IFNAMSIZ];
        int ret = net_veth_name(old->id, veth);
        if (ret < 0)
                return ret;
        _cleanup_buf_ struct buf b = {0};
        /* Each object is made to exist first, so that the batch deletes whatever part of the
         * rig is left, whatever that is. */
        buf_printf(&b, "add chain bridge %s %s\n", t, old->id);
        buf_printf(&b, "add element bridge %s rig_ports { \"%s\" : jump %s }\n", t, veth, old->id);
        buf_printf(&b, "delete element bridge %s rig_ports { \"%s\" }\n", t, veth);
        buf_printf(&b, "flush chain bridge %s %s\ndelete chain bridge %s %s\n", t, old->id, t,
                   old->id);
        buf_printf(&b, "add chain inet %s %s\n", t, old->id);
        buf_printf(&b, "add set inet %s %s_allow { type ipv4_addr; flags interval; auto-merge; }\n",
                   t, old->id);
        buf_printf(&b, "add element inet %s rig_egress { ", t);
        put_ip(&b, old->ip);
        buf_printf(&b, " : jump %s }\ndelete element inet %s rig_egress { ", old->id, t);
        put_ip(&b, old->ip);
        buf_puts(&b, " }\n");
        buf_printf(&b, "flush chain inet %s %s\ndelete chain inet %s %s\n", t, old->id, t, old->id);
        buf_printf(&b, "delete set inet %s %s_allow\n", t, old->id);
        exempt_text(&b, h, "add", old->ip, old->ports, old->nports);
        exempt_text(&b, h, "delete", old->ip, old->ports, old->nports);
        return run(r, &b);
}
