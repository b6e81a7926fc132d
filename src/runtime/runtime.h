/* The rig runtime: what rigd asks of a backend. The default backend ("ns") runs each rig under a
 * per-rig `rig-shim` process with Linux namespaces, cgroups, seccomp and an ext4 loop disk; a
 * gVisor backend can implement the same operations later.
 *
 * Every host resource a rig gets (shim, mounts, loop device, cgroup, veth) is named
 * after the rig id and created and torn down by one module, idempotently, so cleanup after a
 * crash is the same code as a normal stop/destroy. Functions block (they run on rigd's work pool,
 * never on an event loop) and return 0 or a negative errno. */
#pragma once

#include "base/util.h"

#include <sys/types.h>

#define RIG_ID_MAX 40

struct rig_limits {
        double cpus;           /* 0.1 .. host cores */
        int64_t memory_mb;     /* 64 .. host memory; swap is never allowed beyond it */
        int64_t max_processes; /* 16 .. 65536 */
        int64_t disk_mb;       /* 256 .. 1048576: size of the rig's ext4 disk */
};

/* The rig's network: a veth from its network namespace ("eth0") to the host bridge, whose host
 * end is "rv" + the id (hostnet/addr.h). The bridge, its gateway address and the nftables rules
 * are rigd's (src/hostnet/); the runtime only plugs the rig in and out. */
#define RIG_NET_DNS_MAX 3
struct rig_net {
        char bridge[16]; /* "" : no network but loopback */
        uint32_t ip;     /* host byte order */
        int prefix;
        uint32_t gateway;
        uint32_t group; /* interface group of the host end (nftables scope rules with it) */
        uint32_t dns[RIG_NET_DNS_MAX]; /* name servers for the rig's /etc/resolv.conf */
        size_t ndns;
};

struct rig_spec {
        char id[RIG_ID_MAX];    /* rig_...; names every host resource */
        char hostname[64];      /* the rig's name */
        char template_name[32]; /* "base" */
        bool stateless;         /* fresh root filesystem at every start; nothing kept after stop */
        struct rig_limits limits;
        uint32_t uid_base; /* host uid/gid that rig root maps to; 65536 ids from there */
        char **env;        /* NULL-terminated "KEY=VALUE" list for every process, or NULL */
        struct rig_net net;
};

enum rig_run_state {
        RUN_MISSING = 0, /* no shim: stopped (or never started) */
        RUN_RUNNING,
        RUN_PAUSED,
};

struct rig_status {
        enum rig_run_state state;
        pid_t init_pid;     /* host pid of the rig's PID 1 */
        int64_t started_at; /* epoch seconds when PID 1 started */
};

struct runtime;

struct runtime_ops {
        const char *name;
        /* Prepares everything a start needs that can be done once (the disk image). */
        int (*create)(struct runtime *rt, const struct rig_spec *spec);
        /* Starts the rig: returns once PID 1 runs and exec is possible. */
        int (*start)(struct runtime *rt, const struct rig_spec *spec);
        /* Stops every process of the rig and releases mounts, loop device, cgroup and veth. A
         * stateless rig's disk is deleted too. Idempotent. */
        int (*stop)(struct runtime *rt, const char *id, bool stateless);
        int (*pause)(struct runtime *rt, const char *id);
        int (*resume)(struct runtime *rt, const char *id);
        /* Stops (if needed) and deletes every host resource of the rig, its disk included. */
        int (*destroy)(struct runtime *rt, const char *id);
        int (*status)(struct runtime *rt, const char *id, struct rig_status *out);
        /* Opens a connection to the rig's shim for one exec/pty session (see shimproto.h); the
         * caller owns the returned fd (O_CLOEXEC, blocking). */
        int (*connect)(struct runtime *rt, const char *id);
        /* Returns an O_PATH directory fd of the rig's root filesystem as its processes see it,
         * for resolving file paths with openat2(RESOLVE_IN_ROOT). Caller closes. */
        int (*root_fd)(struct runtime *rt, const char *id);
        /* Returns an fd of the rig's user namespace (for writing on filesystems it owns, such as
         * its /tmp, from a child that joins it). Caller closes. */
        int (*userns_fd)(struct runtime *rt, const char *id);
        /* Removes host resources of rigs that are not in keep[] (crash leftovers). */
        int (*reconcile)(struct runtime *rt, const char *const *keep, size_t n);
};

#define RIGS_TEMPLATES_DIR "/var/cache/rigs/templates"

struct runtime {
        const struct runtime_ops *ops;
        char data_dir[4096];      /* rigd's data dir: rigs/<id>/ lives below it */
        char templates_dir[4096]; /* <templates_dir>/<name>/rootfs; set to RIGS_TEMPLATES_DIR by
                                   * runtime_ns_open, the caller may change it right after */
        void *backend;            /* backend state */
};

/* The namespace backend. */
int runtime_ns_open(const char *data_dir, struct runtime *out);
void runtime_close(struct runtime *rt);
