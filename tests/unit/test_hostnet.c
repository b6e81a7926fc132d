/* Rig networking on the host (src/hostnet): the address pool, names and MACs derived from a rig,
 * and, as root, the nftables rule set of a rigd: rebuild, per-rig add, update and remove, checked
 * against what the kernel lists. */
#include "hostnet/addr.h"
#include "hostnet/rules.h"

#include <stdio.h>

#include "tap.h"

static void test_pool(void)
{
        struct net_pool p;
        char s[NET_CIDR_STR], ip[NET_IP_STR];
        is_int(net_pool_parse("10.213.0.0/16", &p), 0, "the default pool");
        net_pool_str(&p, s);
        is_str(s, "10.213.0.0/16", "  prints back");
        net_ip_str(p.gateway, ip);
        is_str(ip, "10.213.0.1", "  gateway .1");
        net_ip_str(p.first, ip);
        is_str(ip, "10.213.0.2", "  first rig .2");
        net_ip_str(p.last, ip);
        is_str(ip, "10.213.255.254", "  last rig below the broadcast");
        ok(net_pool_contains(&p, p.first) && net_pool_contains(&p, p.last), "  both ends in");
        ok(!net_pool_contains(&p, p.gateway) && !net_pool_contains(&p, p.last + 1),
           "  gateway and broadcast out");
        is_int(net_pool_parse("10.64.3.0/24", &p), 0, "a /24");
        is_int(net_pool_parse("10.213.0.1/16", &p), -EINVAL, "host bits set: -EINVAL");
        is_int(net_pool_parse("10.0.0.0/8", &p), -EINVAL, "wider than /16: -EINVAL");
        is_int(net_pool_parse("10.0.0.0/30", &p), -EINVAL, "narrower than /29: -EINVAL");
        is_int(net_pool_parse("10.0.0.0", &p), -EINVAL, "no prefix: -EINVAL");
        is_int(net_pool_parse("fd00::/64", &p), -EINVAL, "IPv6: -EINVAL");
        is_int(net_pool_parse("10.0.0.0/16x", &p), -EINVAL, "junk: -EINVAL");
}

static void test_cidrs(void)
{
        uint32_t a;
        int n;
        char ip[NET_IP_STR];
        is_int(net_cidr_parse("192.168.1.77/24", &a, &n), 0, "a CIDR");
        net_ip_str(a, ip);
        ok(streq(ip, "192.168.1.0") && n == 24, "  host bits cleared");
        is_int(net_cidr_parse("203.0.113.9", &a, &n), 0, "an address");
        ok(n == 32, "  is a /32");
        is_int(net_cidr_parse("2001:db8::/32", &a, &n), -EAFNOSUPPORT, "IPv6: -EAFNOSUPPORT");
        is_int(net_cidr_parse("10.0.0.0/33", &a, &n), -EINVAL, "/33: -EINVAL");
        is_int(net_cidr_parse("example.com", &a, &n), -EINVAL, "a name: -EINVAL");
        is_int(net_cidr_parse("10.1/8", &a, &n), -EINVAL, "a short form: -EINVAL");
        ok(net_overlap(0x0a000000, 8, 0x0ad50000, 16), "10/8 overlaps 10.213/16");
        ok(net_overlap(0x0ad50500, 24, 0x0ad50000, 16), "10.213.5/24 overlaps 10.213/16");
        ok(!net_overlap(0x0ad60000, 16, 0x0ad50000, 16), "10.214/16 does not");
}

static void test_names(void)
{
        char name[IFNAMSIZ], mac[18];
        uint8_t m[NET_MAC_LEN];
        is_int(net_veth_name("rig_AbCdEfGhIjKlMnOpQrSt", name), 0, "a veth name");
        is_str(name, "rvAbCdEfGhIjKlM", "  rv + 13 characters of the id");
        ok(strlen(name) == IFNAMSIZ - 1, "  the kernel's 15");
        is_int(net_veth_name("rig_short", name), -EINVAL, "a short id: -EINVAL");
        is_int(net_veth_name("rig_AbCdEfGhIjKlMnOp/..", name), -EINVAL, "a bad id: -EINVAL");
        is_int(net_veth_name("usr_AbCdEfGhIjKlMnOpQrSt", name), -EINVAL, "not a rig: -EINVAL");
        net_mac_of(0x0ad50002, m);
        net_mac_str(m, mac);
        is_str(mac, "02:72:0a:d5:00:02", "MAC: 02:72 and the address");
        ok(net_bridge_name_ok("rigs0") && net_bridge_name_ok("rgt12345"), "bridge names");
        ok(!net_bridge_name_ok("rv0") && !net_bridge_name_ok("0rigs") &&
               !net_bridge_name_ok("a-name-too-long-x") && !net_bridge_name_ok("a b") &&
               !net_bridge_name_ok(""),
           "bad bridge names");
        ok(net_port_group("rigs0") != 0 && net_port_group("rigs0") == net_port_group("rigs0") &&
               net_port_group("rigs0") != net_port_group("rigs1"),
           "port groups: stable, distinct, never 0");
}

/* What `nft list` says about the test's tables contains `needle`. */
static bool listed(const char *family, const char *table, const char *needle)
{
        char cmd[128], line[512];
        snprintf(cmd, sizeof(cmd), "nft list table %s %s 2>/dev/null", family, table);
        FILE *f = popen(cmd, "r");
        bool found = false;
        while (f && fgets(line, sizeof(line), f))
                found = found || strstr(line, needle);
        if (f)
                pclose(f);
        return found;
}

static void test_rules(void)
{
        struct net_host h = {.nresolvers = 1, .resolvers = {0x0affff35}};
        snprintf(h.bridge, sizeof(h.bridge), "rgu%05d", (int)(getpid() % 100000));
        net_pool_parse("10.126.250.0/24", &h.pool);
        h.group = net_port_group(h.bridge);
        struct rules *r;
        is_int(rules_new(&r), 0, "a libnftables context");
        is_int(rules_rebuild(r, &h, NULL, 0), 0, "an empty rule set");
        ok(listed("inet", h.bridge, "chain from_rigs"), "  the inet table");
        ok(listed("bridge", h.bridge, "map rig_ports"), "  the bridge table");
        struct net_cidr allow[] = {{0xc0000200, 24}, {0xc0000201, 32}};
        struct net_rig_rules x = {.id = "rig_UnitTest00000000000A",
                                  .ip = h.pool.first,
                                  .egress = EGRESS_ALLOW,
                                  .allow = allow,
                                  .nallow = 2,
                                  .ports = {5432},
                                  .nports = 1};
        is_int(rules_rig_add(r, &h, &x), 0, "a rig with an allow list and an exempt port");
        ok(listed("inet", h.bridge, "chain rig_UnitTest00000000000A"), "  its chain");
        ok(listed("inet", h.bridge, "10.126.250.2 . tcp . 5432"), "  its exempt port");
        ok(listed("bridge", h.bridge, "\"rvUnitTest00000\" : jump rig_UnitTest00000000000A"),
           "  its port");
        is_int(rules_rig_add(r, &h, &x), -EIO, "the same rig twice: -EIO");
        ok(strlen(rules_error(r)) > 0, "  with a message");
        struct net_rig_rules y = x;
        y.egress = EGRESS_NONE;
        y.nallow = 0;
        y.ports[0] = 8080;
        is_int(rules_rig_update(r, &h, &x, &y), 0, "its policy becomes none");
        ok(!listed("inet", h.bridge, ". 5432"), "  the old port is gone");
        ok(listed("inet", h.bridge, "10.126.250.2 . tcp . 8080"), "  the new one is there");
        is_int(rules_rig_remove(r, &h, &y), 0, "remove the rig");
        ok(!listed("inet", h.bridge, "rig_UnitTest") && !listed("bridge", h.bridge, "rvUnit"),
           "  nothing of it is left");
        is_int(rules_rig_remove(r, &h, &y), 0, "remove it again: nothing to do");
        is_int(rules_rebuild(r, &h, &x, 1), 0, "a rebuild with the rig");
        ok(listed("inet", h.bridge, "chain rig_UnitTest00000000000A"), "  has its chain");
        is_int(rules_rebuild(r, &h, NULL, 0), 0, "a rebuild without it");
        ok(!listed("inet", h.bridge, "rig_UnitTest"), "  drops it");
        is_int(rules_drop(r, &h), 0, "drop the tables");
        ok(!listed("inet", h.bridge, "table") && !listed("bridge", h.bridge, "table"),
           "  both gone");
        is_int(rules_drop(r, &h), 0, "drop them again: nothing to do");
        rules_free(r);
}

int main(void)
{
        test_pool();
        test_cidrs();
        test_names();
        if (geteuid() != 0 || system("nft list tables >/dev/null 2>&1") != 0)
                diag("skipping the nftables tests: they need root and nft");
        else
                test_rules();
        return done_testing();
}
