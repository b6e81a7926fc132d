/* Per-rig cgroups, v2 (unified) or v1 (memory, pids, cpu, freezer hierarchies), detected at
 * start. A rig's cgroup is "rigs/<id>" under each hierarchy rigd uses; an exec gets a child
 * "rigs/<id>/x<n>" so that a timeout kills every process of that exec and nothing else. */
#pragma once

#include "runtime/runtime.h"

enum cgroup_version { CGROUP_V1 = 1, CGROUP_V2 = 2 };

struct cgroups {
        enum cgroup_version version;
        char v2_root[256]; /* v2: the unified mount, e.g. /sys/fs/cgroup */
        char memory[256];  /* v1 mount points of each controller */
        char pids[256];
        char cpu[256];
        char freezer[256];
        bool swap_accounting; /* v1: memory.memsw.* exists; v2: memory.swap.max exists */
        char missing[128];    /* after -ENOTSUP from cgroups_detect: what the host lacks */
};

struct cgroup_stats {
        int64_t memory_bytes;
        int64_t pids;
};

/* Detects the hierarchy and creates the parent "rigs" cgroups. -ENOTSUP when the host lacks a
 * controller; out->missing names it. Ids must match ^rig_[0-9A-Za-z]{20}$ and subs
 * ^[0-9A-Za-z_-]{1,64}$ in every function below, else -EINVAL. */
int cgroups_detect(struct cgroups *out);
/* Creates rigs/<id> and applies limits (cpu quota, memory with swap capped at 0 extra, pids). */
int cgroup_create(const struct cgroups *cg, const char *id, const struct rig_limits *lim);
/* Creates a child of rigs/<id> (sub != NULL) with no limits of its own. */
int cgroup_create_sub(const struct cgroups *cg, const char *id, const char *sub);
/* Moves pid (0: the caller) into rigs/<id>[/sub] in every hierarchy. */
int cgroup_attach(const struct cgroups *cg, const char *id, const char *sub, pid_t pid);
/* Kills every process in rigs/<id>[/sub] and below (SIGKILL) and waits until it is empty (5 s,
 * then -ETIMEDOUT). A missing cgroup counts as empty. On v1 the processes of a sub die only when
 * the rig is not paused (frozen tasks cannot act on a signal until thawed). */
int cgroup_kill(const struct cgroups *cg, const char *id, const char *sub);
int cgroup_freeze(const struct cgroups *cg, const char *id);
int cgroup_thaw(const struct cgroups *cg, const char *id);
/* Kills and removes rigs/<id> with its children. Idempotent (a missing cgroup is fine). */
int cgroup_destroy(const struct cgroups *cg, const char *id);
/* Removes a drained child; -EBUSY while processes (e.g. an exec's background jobs) live in it. */
int cgroup_destroy_sub(const struct cgroups *cg, const char *id, const char *sub);
int cgroup_stats(const struct cgroups *cg, const char *id, struct cgroup_stats *out);
/* Lists the ids under rigs/ (caller frees each string and the array). */
int cgroup_list(const struct cgroups *cg, char ***ids, size_t *n);
