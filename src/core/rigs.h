/* Rigs in the store: every query is scoped to a tenant (org, and project for project-bound
 * credentials); another tenant's rig is indistinguishable from a missing one. */
#pragma once

#include "core/store.h"

enum rig_state {
        RIG_CREATING = 0,
        RIG_RUNNING,
        RIG_PAUSED,
        RIG_STOPPED,
        RIG_ERROR,
};

struct rig {
        char id[ID_MAX];
        char org_id[ID_MAX];
        char project_id[ID_MAX];
        char project_name[64];
        char name[64];
        enum rig_state state;
        char template_name[32];
        bool stateless;
        double cpus;
        int64_t memory_mb, max_processes, disk_mb;
        char *network; /* JSON text, owned */
        char *env;     /* JSON object text, owned */
        int64_t ttl_s, expires_at;
        int64_t auto_sleep_s; /* pause after this long without activity; 0: never */
        uint32_t uid_base;
        char ip[64];
        char created_by[ID_MAX];
        int64_t created_at;
        char error[256];
        int64_t seq;
};

void rig_free_fields(struct rig *r);
const char *rig_state_name(enum rig_state s);

/* The tenant a request acts in: project_id set for project-bound credentials. */
struct tenant {
        const char *org_id;
        const char *project_id; /* NULL: any project of the org */
};

/* Inserts a rig in state creating; allocates uid_base. -EEXIST when the name is taken in the
 * project. */
int store_rig_insert(struct store *st, struct rig *r);
/* Looks a rig up by id, or by name within name_project. */
int store_rig_get(struct store *st, const struct tenant *t, const char *id_or_name,
                  const char *name_project, struct rig *out);
int store_rig_set_state(struct store *st, const char *id, enum rig_state s, const char *error);
int store_rig_set_network(struct store *st, const char *id, const char *network_json,
                          const char *ip);
int store_rig_set_auto_sleep(struct store *st, const char *id, int64_t auto_sleep_s);
/* The lowest IPv4 address in [first, last] (host byte order) that no rig has, as a dotted quad:
 * addresses of deleted rigs are reused. -ENOSPC when the range is full. Call inside the
 * transaction that stores it. */
int store_rig_alloc_ip(struct store *st, uint32_t first, uint32_t last, char out[64]);
int store_rig_delete(struct store *st, const char *id);
/* Lists rigs of the tenant, optionally of one project. Items are struct rig; free with
 * rigs_list_free. */
int store_rigs_list(struct store *st, const struct tenant *t, const char *project_id,
                    const struct page *pg, struct list *out);
void rigs_list_free(struct list *l);
/* Counts rigs and their total memory in a project (for quotas). */
int store_rig_usage(struct store *st, const char *project_id, int64_t *count, int64_t *memory_mb);
/* All rigs regardless of tenant, for rigd's own reconcile and ttl sweeps (never for requests). */
int store_rigs_all(struct store *st, struct list *out);
