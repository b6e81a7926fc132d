/* The cgroup backends behind cgroup.h: one ops struct per hierarchy version. cgroup.c does what
 * both share (validating names, creating and removing directories in every hierarchy, attaching,
 * the kill loop, listing); the backends do what differs (limits, freezer, native kill, stats).
 * `rel` is always a validated path relative to a hierarchy's mount, "rigs/<id>[/<sub>]". */
#pragma once

#include "runtime/cgroup.h"

#define CG_PARENT "rigs"

struct cgroup_ops {
        /* Creates the parent "rigs" cgroups and enables the controllers they hand down. */
        int (*setup)(struct cgroups *cg);
        /* Applies limits to the existing cgroup rel. */
        int (*set_limits)(const struct cgroups *cg, const char *rel, const struct rig_limits *lim);
        /* Freezes (frozen = true) or thaws rel; a freeze waits up to timeout_ns until the kernel
         * reports the cgroup frozen (-ETIMEDOUT otherwise, and the cgroup is thawed again). */
        int (*freeze)(const struct cgroups *cg, const char *rel, bool frozen, int64_t timeout_ns);
        /* SIGKILLs every process in rel and below in one step, or -EOPNOTSUPP when the kernel
         * has no such interface (the caller then freezes, signals each pid and thaws). */
        int (*kill)(const struct cgroups *cg, const char *rel);
        int (*stats)(const struct cgroups *cg, const char *rel, struct cgroup_stats *out);
};

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* Fill the mount points of *out when the machine has that hierarchy with every controller rigs
 * need; -ENOTSUP otherwise, with out->missing naming what is missing. */
int cgroup_v1_detect(struct cgroups *out);
int cgroup_v2_detect(struct cgroups *out);

/* The distinct hierarchy mounts in use (1 on v2, up to 4 on v1); returns how many. */
size_t cg_roots(const struct cgroups *cg, const char *roots[4]);
/* "<root>/<rel>/<file>" (file may be NULL). */
int cg_file(char *out, size_t outlen, const char *root, const char *rel, const char *file);
/* Writes a decimal integer to a control file. */
int cg_write_int(const char *root, const char *rel, const char *file, int64_t v);
/* Reads a control file holding one integer ("max" reads as INT64_MAX). */
int cg_read_int(const char *root, const char *rel, const char *file, int64_t *v);
