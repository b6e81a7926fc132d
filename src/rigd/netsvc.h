/* The rig network service inside rigd: the bridge and address pool it owns, the nftables rules
 * of every rig (hostnet/rules.h) kept in line with the store, and the periodic re-resolution of
 * host names in allow lists. The runtime plugs each rig into the bridge (hostnet/veth.h); this
 * module decides what may flow.
 *
 * Thread-safe: calls may come from any work-pool thread. Blocking calls (DNS) never hold the
 * lock while they wait. */
#pragma once

#include "core/rigs.h"
#include "hostnet/dns.h"
#include "hostnet/rules.h"
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdatomic.h>

struct netsvc_config {
        const char *bridge;   /* NULL: NET_DEFAULT_BRIDGE */
        const char *subnet;   /* NULL: NET_DEFAULT_SUBNET */
        const char *resolver; /* "IP[:PORT]" for allow-list names; NULL: the host's */
};

struct net_rig;

struct netsvc {
        struct net_host host;
        struct net_dns dns;
        struct rules *rules;
        int lock_fd; /* holds the bridge against other rigds */
        pthread_mutex_t lock;
        struct net_rig *rigs; /* what is installed, per rig */
        size_t n, cap;
        atomic_bool resolving; /* a re-resolution job is queued or running */
};

/* Takes the bridge, checks that the subnet is free on the host, sets the bridge up and loads an
 * empty rule set. On failure `why` says what an operator must change. */
int netsvc_open(struct netsvc **out, const struct netsvc_config *cfg, char *why, size_t len);
/* Releases the bridge. When no rig port is attached any more, the bridge and both nftables
 * tables are deleted too (the next start makes them again). NULL is fine. */
void netsvc_close(struct netsvc *n);

/* Allocates an address for a new rig inside the store's current transaction. */
int netsvc_alloc_ip(struct netsvc *n, struct store *st, char ip[64]);
/* The runtime's view of a rig's network (an empty bridge when the rig has no address). */
void netsvc_fill(struct netsvc *n, const struct rig *r, struct rig_net *out);

/* Installs a rig's rules, or changes them to what r->network says now (resolving host names
 * first: blocking). */
int netsvc_rig_set(struct netsvc *n, const struct rig *r);
/* Removes every rule of a rig; 0 when it had none. */
int netsvc_rig_remove(struct netsvc *n, const char *id);

/* At start: gives rigs without an address of this pool one, replaces the rule set with exactly
 * the rules of the store's rigs, and deletes rig ports that no running rig owns. */
int netsvc_reconcile(struct netsvc *n, struct store *st);

/* Whether some allow-list name is due for re-resolution (cheap; sweep thread). */
bool netsvc_resolve_due(struct netsvc *n, int64_t now_ms);
/* Re-resolves the due names and updates the rules of rigs whose addresses changed (blocking). */
void netsvc_resolve(struct netsvc *n);

/* Copies the one-line message of the last rules failure (for logs). */
void netsvc_error(struct netsvc *n, char *out, size_t len);
