/* rig-shim: one process per running rig. It owns the rig's host resources (loop disk, mounts,
 * cgroup), is the parent of the rig's PID 1, and serves rigd over <rig dir>/shim.sock
 * (shimproto.h). Everything privileged the runtime does to a rig happens in this program.
 *
 *   main.c     arguments, config.json, daemonizing, start-up order, stop
 *   rootfs.c   the rig's disk and root filesystem (host side, in the shim's own mount ns)
 *   init.c     the rig's PID 1: namespaces, mounts inside the rig, pivot_root, reaper loop
 *   exec.c     a process started in the rig: joining namespaces and cgroup, user, env, execve
 *   server.c   the event loop: connections, exec I/O pumping, timeouts
 *   filter.c   the seccomp filter every rig process runs under */
#pragma once

#include "runtime/cgroup.h"
#include "runtime/runtime.h"
#include "runtime/shimproto.h"

#include <linux/filter.h>
#include <sys/types.h>

/* A failure with a message for rigd (through the ready pipe or a reply). */
struct shim_err {
        int code; /* errno */
        char msg[256];
};
/* Records code and message in e; returns -code. */
int shim_fail(struct shim_err *e, int code, const char *fmt, ...) _printf_(3, 4);

struct shim_config {
        struct rig_spec spec; /* spec.env is malloc'd, NULL-terminated */
        char rig_dir[4096];
        char data_dir[4096];
        char rootfs[4096]; /* the template's root filesystem */
};

/* The syscall filter of every rig process: libseccomp's deny-list plus a small hand-written
 * filter for personality(2) (libseccomp cannot express "one of these values"). */
struct rig_filter {
        struct sock_fprog main;
        struct sock_fprog persona;
};

enum { NS_MNT, NS_NET, NS_UTS, NS_IPC, NS_CGROUP, NS_PID, NS_USER, NS_COUNT };

struct conn;

struct shim {
        struct shim_config cfg;
        struct cgroups cg;
        int dir_fd;  /* the rig dir, O_PATH */
        int loop_fd; /* the disk's loop device until it is mounted */
        char loop_dev[32];
        pid_t init_pid; /* host pid */
        int init_pidfd;
        int init_chan;                 /* to PID 1 until it reports */
        unsigned long long init_ticks; /* start time of PID 1, clock ticks after boot */
        int64_t started_at;            /* the same as epoch seconds */
        int ns_fd[NS_COUNT]; /* the rig's namespaces (pid: joined for children at start) */
        int init_cg_fd[4];   /* `tasks` of the rig's v1 cgroups, for PID 1 to join */
        int init_cg_n;
        bool init_placed; /* PID 1 is in its cgroup without an attach by pid */
        struct rig_filter filter;
        int listen_fd;
        int signal_fd;
        bool paused;
        bool stopping;
        unsigned exec_seq;
        struct conn *conns;
        char **lingering; /* exec cgroups kept for background processes */
        struct {
                pid_t pid; /* 0: none */
                int pidfd, chan;
                char sub[16];
                bool ready;
                int64_t retry_at;
        } zygote;
        size_t nlingering;
        int64_t linger_at; /* next attempt to remove them */
        int *reapq;        /* pidfds of exited or exiting helpers still to reap */
        size_t nreapq;
        char **doomed; /* exec cgroups to kill once the rig is thawed */
        size_t ndoomed;
};

/* config.c */
int shim_config_load(const char *path, struct shim_config *cfg, struct shim_err *e);
void shim_config_free(struct shim_config *cfg);

/* rootfs.c: run in the shim's private mount namespace, as host root. */
int rootfs_mount_disk(struct shim *s, struct shim_err *e);
int rootfs_mount_root(struct shim *s, int userns_fd, struct shim_err *e);
/* Detaches the shim's own view of the mounts (the rig's namespace keeps its copy). */
void rootfs_detach(struct shim *s);

/* init.c */
/* Clones the rig's PID 1, which sets up what needs no root filesystem and waits. */
int init_clone(struct shim *s, struct shim_err *e);
/* Once the disk is mounted: id maps, the root overlay, then PID 1 finishes and reports. */
int init_finish(struct shim *s, struct shim_err *e);
/* Start time of a process, clock ticks after boot (field 22 of /proc/<pid>/stat). */
int shim_proc_ticks(pid_t pid, unsigned long long *ticks);
/* Drops the capabilities that only ever act on the host from the bounding set. */
void shim_drop_host_caps(void);

/* filter.c */
int filter_build(struct rig_filter *f);
/* Sets no_new_privs and installs both filters in the calling thread. */
int filter_apply(const struct rig_filter *f);

/* fastcg.c */
/* Opens, for writing, the `tasks` files of rigs/<id>[/<sub>] in every v1 hierarchy; returns how
 * many (0 on cgroup v2). */
int fastcg_open(const struct cgroups *cg, const char *id, const char *sub, int fds[4]);
/* Moves the calling (single-threaded) process into the cgroups whose `tasks` fds are given, by
 * writing "0": unlike cgroup.procs this skips the kernel's global threadgroup lock and its RCU
 * grace period (10-20 ms per attach on this machine). Closes the fds. */
int fastcg_join(int fds[4], int n);
/* cgroup v2: an fd of rigs/<id>[/<sub>] for CLONE_INTO_CGROUP; -1 on v1 or on error. */
int fastcg_dirfd(const struct cgroups *cg, const char *id, const char *sub);
/* A fork-like clone3 with a pidfd (CLONE_PIDFD | flags), into cgroup_fd when it is >= 0 (Linux >=
 * 5.7, falling back to a plain clone if refused). *placed: the child was born in the cgroup. */
pid_t fastcg_clone(uint64_t flags, int cgroup_fd, int *pidfd, bool *placed);

/* exec.c */
struct exec_req {
        char **argv; /* NULL-terminated */
        char **env;  /* the request's KEY=VALUE list, NULL-terminated */
        char *cwd;
        bool root;
        bool pty;
        int64_t timeout_s; /* 0: none */
        unsigned short cols, rows;
};
int exec_req_parse(const char *json, size_t len, struct exec_req *req, struct shim_err *e);
void exec_req_free(struct exec_req *req);
/* What the exec child needs besides the request. */
struct exec_child_fds {
        int in, out, err; /* pipe ends for 0/1/2 (-1 with a pty) */
        int status;       /* SOCK_SEQPACKET to the shim: errors before execve, the pty master */
};
/* Runs in the forked child: never returns. sub: the exec's cgroup to join, NULL if the child was
 * born in it. */
void exec_child(const struct shim *s, const struct exec_req *req, const char *sub,
                const struct exec_child_fds *fds) __attribute__((noreturn));
/* The next exec's processes, made ahead of time: stage 1 joins the exec cgroup `sub` (NULL: born
 * in it) and the rig's namespaces and forks stage 2, reporting "B <pid>" with its pidfd; stage 2
 * joins the rig's user namespace, says "R" on chan and waits for "J" + the request's JSON with
 * the stdio fds. From there on it is an exec's process like any other. */
void zygote_main(const struct shim *s, const char *sub, int chan) __attribute__((noreturn));
#define SHIM_ZYGOTE_MSG_MAX (SHIM_FRAME_MAX + 1)

/* server.c */
int server_listen(struct shim *s, struct shim_err *e);
/* Serves until a stop request, SIGTERM or the death of PID 1; returns then. */
void server_run(struct shim *s);
/* Ends every connection and exec; a stop request's connection stays open until the exit. */
void server_close_all(struct shim *s);

/* main.c */
/* Kills the rig and releases every resource; the shim exits after it. */
void shim_teardown(struct shim *s);
/* Monotonic milliseconds. */
int64_t shim_now_ms(void);
