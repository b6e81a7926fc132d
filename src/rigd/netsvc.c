#include "rigd/netsvc.h"

#include "base/timeutil.h"
#include "hostnet/bridge.h"
#include "hostnet/nl.h"

#include <jansson.h>
#include <stdio.h>

#define NET_HOSTS_MAX      64 /* names resolved per allow list */
#define NET_ADDRS_PER_NAME 16
#define NET_DNS_RETRY_MS   30000 /* after a failed lookup */
/* Time one create, PATCH or background pass may spend on lookups (a dead resolver must not hold
 * a request, or one of the few work-pool threads, for long). */
#define NET_DNS_BUDGET_MS 3000

/* What is installed for one rig. */
struct net_rig {
        struct net_rig_rules rules; /* allow = given CIDRs + resolved addresses */
        struct net_cidr *given;
        size_t ngiven;
        char **hosts;
        size_t nhosts;
        int64_t resolve_at; /* mono ms of the next re-resolution; 0: no names */
        uint64_t gen;       /* bumped by every netsvc_rig_set */
};

static void net_rig_free(struct net_rig *x)
{
        net_rig_rules_clear(&x->rules);
        free(x->given);
        for (size_t i = 0; i < x->nhosts; i++)
                free(x->hosts[i]);
        free(x->hosts);
        memset(x, 0, sizeof(*x));
}

static struct net_rig *find(struct netsvc *n, const char *id)
{
        for (size_t i = 0; i < n->n; i++)
                if (streq(n->rigs[i].rules.id, id))
                        return &n->rigs[i];
        return NULL;
}

static void drop(struct netsvc *n, struct net_rig *x)
{
        net_rig_free(x);
        *x = n->rigs[--n->n];
}

static void push(struct netsvc *n, struct net_rig *x)
{
        if (n->n == n->cap) {
                n->cap = n->cap ? n->cap * 2 : 16;
                n->rigs = xrealloc(n->rigs, n->cap * sizeof(*n->rigs));
        }
        n->rigs[n->n++] = *x;
}

void netsvc_error(struct netsvc *n, char *out, size_t len)
{
        pthread_mutex_lock(&n->lock);
        snprintf(out, len, "%s", rules_error(n->rules));
        pthread_mutex_unlock(&n->lock);
}

/* ---- policy ---- */

static void cidr_push(struct net_cidr **v, size_t *n, uint32_t addr, int prefix)
{
        *v = xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = (struct net_cidr){addr, prefix};
}

static void parse_allow(json_t *allow, struct net_rig *x)
{
        size_t i;
        json_t *v;
        json_array_foreach(allow, i, v)
        {
                const char *s = json_string_value(v);
                uint32_t a;
                int p;
                int r = s ? net_cidr_parse(s, &a, &p) : -EINVAL;
                if (r == 0) {
                        cidr_push(&x->given, &x->ngiven, a, p);
                } else if (r == -EINVAL && s && *s && x->nhosts < NET_HOSTS_MAX) {
                        x->hosts = xrealloc(x->hosts, (x->nhosts + 1) * sizeof(char *));
                        x->hosts[x->nhosts++] = xstrdup(s);
                }
                /* IPv6 CIDRs allow nothing: rigs have no IPv6. */
        }
}

static void parse_ports(json_t *ports, struct net_rig_rules *r)
{
        size_t i;
        json_t *v;
        json_array_foreach(ports, i, v)
        {
                json_int_t p = json_integer_value(v);
                bool dup = false;
                for (size_t k = 0; k < r->nports; k++)
                        dup = dup || r->ports[k] == p;
                if (p >= 1 && p <= 65535 && !dup && r->nports < NET_MAX_PORTS)
                        r->ports[r->nports++] = (uint16_t)p;
        }
}

/* A rig's policy from its stored network JSON ({egress, loopback_exempt_ports}). Anything but
 * "open" or an allow list is "none": a policy that cannot be read lets nothing out. */
static int policy_parse(const char *text, struct net_rig *x)
{
        json_t *o = json_loads(text ? text : "{}", 0, NULL);
        if (!json_is_object(o)) {
                json_decref(o);
                return -EINVAL;
        }
        json_t *eg = json_object_get(o, "egress");
        x->rules.egress = EGRESS_NONE;
        if (!eg || (json_is_string(eg) && streq(json_string_value(eg), "open")))
                x->rules.egress = EGRESS_OPEN;
        else if (json_is_object(eg)) {
                x->rules.egress = EGRESS_ALLOW;
                parse_allow(json_object_get(eg, "allow"), x);
        }
        parse_ports(json_object_get(o, "loopback_exempt_ports"), &x->rules);
        json_decref(o);
        return 0;
}

static int cidr_cmp(const void *a, const void *b)
{
        const struct net_cidr *x = a, *y = b;
        if (x->addr != y->addr)
                return x->addr < y->addr ? -1 : 1;
        return x->prefix - y->prefix;
}

/* The allow set: given CIDRs plus resolved addresses, sorted, without duplicates. */
static void allow_build(struct net_rig *x, const struct net_cidr *resolved, size_t nres)
{
        net_rig_rules_clear(&x->rules);
        size_t n = x->ngiven + nres;
        if (!n)
                return;
        struct net_cidr *v = xcalloc(n, sizeof(*v));
        if (x->ngiven)
                memcpy(v, x->given, x->ngiven * sizeof(*v));
        if (nres)
                memcpy(v + x->ngiven, resolved, nres * sizeof(*v));
        qsort(v, n, sizeof(*v), cidr_cmp);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (k == 0 || cidr_cmp(&v[k - 1], &v[i]) != 0)
                        v[k++] = v[i];
        x->rules.allow = v;
        x->rules.nallow = k;
}

/* Resolves the names (blocking) until the budget is spent; returns when to do it again (mono
 * ms), 0 without names. Names left over for lack of time are due again at once. */
static int64_t resolve_names(const struct net_dns *dns, char **hosts, size_t nhosts,
                             struct net_cidr **out, size_t *nout)
{
        int64_t next = 0, deadline = mono_ms() + NET_DNS_BUDGET_MS;
        for (size_t i = 0; i < nhosts; i++) {
                uint32_t addrs[NET_ADDRS_PER_NAME], ttl = 0;
                if (mono_ms() > deadline) {
                        next = 1;
                        break;
                }
                int c = net_resolve_a(dns, hosts[i], addrs, NET_ADDRS_PER_NAME, &ttl);
                int64_t again = c > 0 ? (int64_t)ttl * 1000 : NET_DNS_RETRY_MS;
                for (int k = 0; k < c; k++)
                        cidr_push(out, nout, addrs[k], 32);
                if (next == 0 || again < next)
                        next = again;
        }
        return next ? mono_ms() + next : 0;
}

/* ---- rigs ---- */

static bool rig_ip(struct netsvc *n, const struct rig *r, uint32_t *ip)
{
        return r->ip[0] && net_ip_parse(r->ip, ip) == 0 && net_pool_contains(&n->host.pool, *ip);
}

/* Builds what a rig's rules should be; names are resolved now or marked due. */
static int rig_build(struct netsvc *n, const struct rig *r, uint32_t ip, bool resolve,
                     struct net_rig *x)
{
        memset(x, 0, sizeof(*x));
        int ret = policy_parse(r->network, x);
        if (ret < 0)
                return ret;
        snprintf(x->rules.id, sizeof(x->rules.id), "%s", r->id);
        x->rules.ip = ip;
        _cleanup_free_ struct net_cidr *res = NULL;
        size_t nres = 0;
        if (resolve)
                x->resolve_at = resolve_names(&n->dns, x->hosts, x->nhosts, &res, &nres);
        else
                x->resolve_at = x->nhosts ? mono_ms() : 0;
        allow_build(x, res, nres);
        return 0;
}

int netsvc_rig_set(struct netsvc *n, const struct rig *r)
{
        uint32_t ip;
        if (!rig_ip(n, r, &ip))
                return 0; /* no address of this pool: no network, no rules */
        struct net_rig x;
        int ret = rig_build(n, r, ip, true, &x);
        if (ret < 0)
                return ret;
        pthread_mutex_lock(&n->lock);
        struct net_rig *cur = find(n, r->id);
        if (cur && cur->rules.ip != ip) {
                ret = rules_rig_remove(n->rules, &n->host, &cur->rules);
                if (ret == 0)
                        drop(n, cur);
                cur = NULL;
        }
        if (ret == 0)
                ret = cur ? rules_rig_update(n->rules, &n->host, &cur->rules, &x.rules)
                          : rules_rig_add(n->rules, &n->host, &x.rules);
        if (ret == 0 && cur) {
                x.gen = cur->gen + 1;
                net_rig_free(cur);
                *cur = x;
        } else if (ret == 0) {
                push(n, &x);
        } else {
                net_rig_free(&x);
        }
        pthread_mutex_unlock(&n->lock);
        return ret;
}

int netsvc_rig_remove(struct netsvc *n, const char *id)
{
        pthread_mutex_lock(&n->lock);
        struct net_rig *cur = find(n, id);
        int ret = cur ? rules_rig_remove(n->rules, &n->host, &cur->rules) : 0;
        if (cur && ret == 0)
                drop(n, cur);
        pthread_mutex_unlock(&n->lock);
        return ret;
}

int netsvc_alloc_ip(struct netsvc *n, struct store *st, char ip[64])
{
        return store_rig_alloc_ip(st, n->host.pool.first, n->host.pool.last, ip);
}

void netsvc_fill(struct netsvc *n, const struct rig *r, struct rig_net *out)
{
        memset(out, 0, sizeof(*out));
        uint32_t ip;
        if (!n || !rig_ip(n, r, &ip))
                return;
        snprintf(out->bridge, sizeof(out->bridge), "%s", n->host.bridge);
        out->ip = ip;
        out->prefix = n->host.pool.prefix;
        out->gateway = n->host.pool.gateway;
        out->group = n->host.group;
        for (size_t i = 0; i < n->host.nresolvers && i < RIG_NET_DNS_MAX; i++)
                out->dns[out->ndns++] = n->host.resolvers[i];
}

/* ---- re-resolution ---- */

bool netsvc_resolve_due(struct netsvc *n, int64_t now)
{
        bool due = false;
        pthread_mutex_lock(&n->lock);
        for (size_t i = 0; i < n->n && !due; i++)
                due = n->rigs[i].resolve_at && n->rigs[i].resolve_at <= now;
        pthread_mutex_unlock(&n->lock);
        return due;
}

/* A due rig's names and given CIDRs, copied so that the lookups run unlocked. */
struct due {
        char id[40];
        uint64_t gen;
        struct net_rig names;
};

static size_t collect_due(struct netsvc *n, struct due **out)
{
        int64_t now = mono_ms();
        size_t k = 0;
        pthread_mutex_lock(&n->lock);
        *out = xcalloc(n->n + 1, sizeof(**out));
        for (size_t i = 0; i < n->n; i++) {
                const struct net_rig *x = &n->rigs[i];
                if (!x->resolve_at || x->resolve_at > now)
                        continue;
                struct due *d = &(*out)[k++];
                snprintf(d->id, sizeof(d->id), "%s", x->rules.id);
                d->gen = x->gen;
                d->names.hosts = xcalloc(x->nhosts + 1, sizeof(char *));
                for (size_t h = 0; h < x->nhosts; h++)
                        d->names.hosts[h] = xstrdup(x->hosts[h]);
                d->names.nhosts = x->nhosts;
        }
        pthread_mutex_unlock(&n->lock);
        return k;
}

/* Installs fresh addresses for a rig unless its policy changed meanwhile. */
static void apply_resolved(struct netsvc *n, const struct due *d, struct net_cidr *res, size_t nres,
                           int64_t next)
{
        pthread_mutex_lock(&n->lock);
        struct net_rig *cur = find(n, d->id);
        if (cur && cur->gen == d->gen) {
                struct net_rig x = *cur;
                x.rules.allow = NULL;
                x.rules.nallow = 0;
                allow_build(&x, res, nres);
                bool same =
                    x.rules.nallow == cur->rules.nallow &&
                    (x.rules.nallow == 0 || memcmp(x.rules.allow, cur->rules.allow,
                                                   x.rules.nallow * sizeof(struct net_cidr)) == 0);
                if (same || rules_rig_update(n->rules, &n->host, &cur->rules, &x.rules) == 0) {
                        net_rig_rules_clear(&cur->rules);
                        cur->rules = x.rules;
                } else {
                        net_rig_rules_clear(&x.rules);
                        next = mono_ms() + NET_DNS_RETRY_MS;
                }
                cur->resolve_at = next;
        }
        pthread_mutex_unlock(&n->lock);
}

void netsvc_resolve(struct netsvc *n)
{
        struct due *due = NULL;
        size_t k = collect_due(n, &due);
        for (size_t i = 0; i < k; i++) {
                _cleanup_free_ struct net_cidr *res = NULL;
                size_t nres = 0;
                int64_t next =
                    resolve_names(&n->dns, due[i].names.hosts, due[i].names.nhosts, &res, &nres);
                apply_resolved(n, &due[i], res, nres, next);
                net_rig_free(&due[i].names);
        }
        free(due);
}

/* ---- start and stop ---- */

static int parse_resolver(const char *s, struct net_dns *out)
{
        char host[64];
        const char *colon = strchr(s, ':');
        size_t hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl == 0 || hl >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, hl);
        host[hl] = '\0';
        long port = 53;
        if (colon) {
                char *end;
                port = strtol(colon + 1, &end, 10);
                if (!colon[1] || *end || port < 1 || port > 65535)
                        return -EINVAL;
        }
        out->port = (uint16_t)port;
        return net_ip_parse(host, &out->server);
}

static int config_parse(struct netsvc *n, const struct netsvc_config *cfg, char *why, size_t len)
{
        const char *br = cfg->bridge ? cfg->bridge : NET_DEFAULT_BRIDGE;
        const char *subnet = cfg->subnet ? cfg->subnet : NET_DEFAULT_SUBNET;
        if (!net_bridge_name_ok(br)) {
                snprintf(why, len,
                         "--bridge %s: a bridge name is 1-15 letters, digits, '-' or '_', "
                         "starting with a letter (not \"rv\")",
                         br);
                return -EINVAL;
        }
        if (net_pool_parse(subnet, &n->host.pool) < 0) {
                snprintf(why, len,
                         "--rig-subnet %s: an IPv4 network from /16 to /29 without host bits, "
                         "such as %s",
                         subnet, NET_DEFAULT_SUBNET);
                return -EINVAL;
        }
        if (cfg->resolver && parse_resolver(cfg->resolver, &n->dns) < 0) {
                snprintf(why, len, "--allow-resolver %s: an IPv4 address with an optional :PORT",
                         cfg->resolver);
                return -EINVAL;
        }
        snprintf(n->host.bridge, sizeof(n->host.bridge), "%s", br);
        n->host.group = net_port_group(br);
        return 0;
}

static int host_setup(struct netsvc *n, char *why, size_t len)
{
        n->lock_fd = net_bridge_lock(n->host.bridge);
        if (n->lock_fd == -EADDRINUSE) {
                snprintf(why, len,
                         "the bridge %s is in use by another rigd on this host: give this one its "
                         "own --bridge and --rig-subnet (or --no-network)",
                         n->host.bridge);
                return -EADDRINUSE;
        }
        struct nl nl;
        int r = n->lock_fd < 0 ? n->lock_fd : nl_open(&nl);
        if (r < 0) {
                snprintf(why, len, "rig network: %s", strerror(-r));
                return r;
        }
        r = net_check_subnet(&nl, &n->host, why, len);
        if (r == -EADDRINUSE)
                snprintf(why + strlen(why), len - strlen(why), "; pick a free --rig-subnet");
        else if (r < 0)
                snprintf(why, len, "cannot read the host's routes: %s", strerror(-r));
        if (r >= 0)
                r = net_bridge_setup(&nl, &n->host, why, len);
        if (r >= 0)
                n->host.nresolvers =
                    net_host_resolvers(&nl, &n->host.pool, n->host.resolvers, NET_MAX_RESOLVERS);
        nl_close(&nl);
        return r;
}

int netsvc_open(struct netsvc **out, const struct netsvc_config *cfg, char *why, size_t len)
{
        struct netsvc *n = xcalloc(1, sizeof(*n));
        n->lock_fd = -1;
        pthread_mutex_init(&n->lock, NULL);
        int r = config_parse(n, cfg, why, len);
        if (r >= 0)
                r = host_setup(n, why, len);
        if (r >= 0 && (r = rules_new(&n->rules)) < 0)
                snprintf(why, len, "libnftables: %s", strerror(-r));
        if (r >= 0 && (r = rules_rebuild(n->rules, &n->host, NULL, 0)) < 0)
                snprintf(why, len, "cannot load the rigs' nftables rules: %s",
                         rules_error(n->rules));
        if (r < 0) {
                if (n->lock_fd >= 0)
                        close(n->lock_fd);
                rules_free(n->rules);
                pthread_mutex_destroy(&n->lock);
                free(n);
                return r;
        }
        *out = n;
        return 0;
}

void netsvc_close(struct netsvc *n)
{
        if (!n)
                return;
        struct nl nl;
        /* Rigs outlive rigd: while one of its rigs is plugged in, the bridge and rules stay.
         * Ports of rigs deleted just before (their namespaces are still being cleaned up) do not
         * count. */
        char(*mine)[IFNAMSIZ] = xcalloc(n->n + 1, IFNAMSIZ);
        size_t nmine = 0;
        for (size_t i = 0; i < n->n; i++)
                if (net_veth_name(n->rigs[i].rules.id, mine[nmine]) == 0)
                        nmine++;
        if (nl_open(&nl) == 0) {
                if (net_bridge_ports(&nl, n->host.bridge, mine, nmine) == 0 &&
                    rules_drop(n->rules, &n->host) == 0)
                        (void)net_bridge_delete(&nl, n->host.bridge);
                nl_close(&nl);
        }
        free(mine);
        close(n->lock_fd);
        for (size_t i = 0; i < n->n; i++)
                net_rig_free(&n->rigs[i]);
        free(n->rigs);
        rules_free(n->rules);
        pthread_mutex_destroy(&n->lock);
        free(n);
}

/* ---- reconcile ---- */

/* Rigs whose address is missing or outside the pool (made with --no-network, or before the pool
 * changed) get one; a running one keeps its old address until it restarts. */
static void assign_ips(struct netsvc *n, struct store *st, struct rig *rigs, size_t count)
{
        for (size_t i = 0; i < count; i++) {
                struct rig *r = &rigs[i];
                uint32_t ip;
                if (r->state == RIG_CREATING || rig_ip(n, r, &ip))
                        continue;
                char fresh[64];
                if (store_begin(st) < 0)
                        continue;
                if (netsvc_alloc_ip(n, st, fresh) == 0 &&
                    store_rig_set_network(st, r->id, r->network ? r->network : "{}", fresh) == 0 &&
                    store_commit(st) == 0)
                        snprintf(r->ip, sizeof(r->ip), "%s", fresh);
                else
                        store_rollback(st);
        }
}

int netsvc_reconcile(struct netsvc *n, struct store *st)
{
        _cleanup_(rigs_list_free) struct list l = {0};
        int ret = store_rigs_all(st, &l);
        if (ret < 0)
                return ret;
        struct rig *rigs = l.items;
        assign_ips(n, st, rigs, l.n);
        struct net_rig *v = xcalloc(l.n + 1, sizeof(*v));
        char(*keep)[IFNAMSIZ] = xcalloc(l.n + 1, IFNAMSIZ);
        size_t nv = 0, nkeep = 0;
        for (size_t i = 0; i < l.n; i++) {
                uint32_t ip;
                if (rigs[i].state == RIG_CREATING || !rig_ip(n, &rigs[i], &ip) ||
                    rig_build(n, &rigs[i], ip, false, &v[nv]) < 0)
                        continue;
                nv++;
                if ((rigs[i].state == RIG_RUNNING || rigs[i].state == RIG_PAUSED) &&
                    net_veth_name(rigs[i].id, keep[nkeep]) == 0)
                        nkeep++;
        }
        struct net_rig_rules *rr = xcalloc(nv + 1, sizeof(*rr));
        for (size_t i = 0; i < nv; i++)
                rr[i] = v[i].rules;
        pthread_mutex_lock(&n->lock);
        ret = rules_rebuild(n->rules, &n->host, rr, nv);
        if (ret == 0) {
                for (size_t i = 0; i < n->n; i++)
                        net_rig_free(&n->rigs[i]);
                n->n = 0;
                for (size_t i = 0; i < nv; i++)
                        push(n, &v[i]);
                nv = 0;
        }
        pthread_mutex_unlock(&n->lock);
        for (size_t i = 0; i < nv; i++)
                net_rig_free(&v[i]);
        free(rr);
        free(v);
        struct nl nl;
        if (ret == 0 && (ret = nl_open(&nl)) == 0) {
                int swept = net_sweep_ports(&nl, &n->host, keep, nkeep);
                ret = swept < 0 ? swept : 0;
                nl_close(&nl);
        }
        free(keep);
        return ret;
}
