/* The rig service inside rigd: the runtime backend, the set of rigs with an operation in flight,
 * rig defaults and quotas, and the blocking lifecycle steps that run on the work pool. */
#pragma once

#include "core/rigs.h"
#include "core/rigstate.h"
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdatomic.h>

struct rig_defaults {
        double cpus;
        int64_t memory_mb, max_processes, disk_mb;
};

struct rig_quota {
        int64_t project_rigs;      /* rigs per project */
        int64_t project_memory_mb; /* sum of memory_mb per project */
};

struct netsvc;

struct rigsvc {
        struct runtime rt;
        struct netsvc *net; /* the rig network, or NULL (serve --no-network: loopback only) */
        bool ready;         /* the backend opened; otherwise rig routes answer 503 */
        char why[256];      /* why it is not ready */
        char templates_dir[4096];
        struct rig_defaults defaults;
        struct rig_quota quota;
        int host_cpus;
        int64_t host_memory_mb;
        atomic_bool pool_filling;   /* a disk-pool refill is queued or running */
        atomic_bool health_running; /* a liveness check is queued or running */
        int64_t health_next;        /* epoch s of the next liveness check (sweep thread only) */
        pthread_mutex_t lock;       /* guards busy */
        char (*busy)[ID_MAX];       /* rig ids with an operation in flight */
        size_t nbusy, capbusy;
};

int rigsvc_init(struct rigsvc *s, const char *data_dir, const char *templates_dir);
void rigsvc_free(struct rigsvc *s);
/* Marks a rig busy; false when another operation holds it. */
bool rigsvc_claim(struct rigsvc *s, const char *id);
void rigsvc_release(struct rigsvc *s, const char *id);

/* Fills a runtime spec from a stored rig (env parsed from its JSON, network from the rig network
 * service). Caller frees spec->env. */
int rigsvc_spec(struct rigsvc *s, const struct rig *r, struct rig_spec *spec);
void rigsvc_spec_free(struct rig_spec *spec);

/* Formatted disks of the default size kept ready, so that a create only renames one. */
#define RIG_DISK_POOL 4

/* Blocking lifecycle steps (work pool). */
/* Makes a new rig's host resources and network rules and starts it; on failure leaves nothing. */
int rigsvc_create(struct rigsvc *s, const struct rig *r);
int rigsvc_apply(struct rigsvc *s, const struct rig *r, enum rig_action a);
/* Brings the host in line with the store at start: rigs left `creating` are destroyed (returned
 * in *dropped for the caller to delete), running rigs whose shim is gone become stopped. */
int rigsvc_reconcile(struct rigsvc *s, struct store *st, const uint8_t audit_key[32]);
