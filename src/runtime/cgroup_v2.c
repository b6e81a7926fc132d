/* cgroup v2: one unified hierarchy at /sys/fs/cgroup. rigs/ enables memory, pids and cpu for its
 * children (each rig's cgroup holds the limits); a rig's own children (exec cgroups) enable no
 * controllers, so processes may live in rigs/<id> itself and still be charged to its limits.
 * Freezing and killing are core interfaces (cgroup.freeze, cgroup.kill) that work at any level. */
#include "runtime/cgroup_internal.h"
#include "runtime/rtutil.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define V2_MOUNT "/sys/fs/cgroup"

static const char *const needed[] = {"memory", "pids", "cpu"};

/* True when the space-separated list has the word. */
static bool has_word(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
                    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

int cgroup_v2_detect(struct cgroups *out)
{
        struct statfs sfs;
        if (statfs(V2_MOUNT, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
                snprintf(out->missing, sizeof(out->missing), "%s is not cgroup2", V2_MOUNT);
                return -ENOTSUP;
        }
        char ctl[512];
        ssize_t n = rt_read_file(V2_MOUNT "/cgroup.controllers", ctl, sizeof(ctl));
        if (n < 0)
                return (int)n;
        size_t len = 0;
        for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
                if (has_word(ctl, needed[i]))
                        continue;
                int r = snprintf(out->missing + len, sizeof(out->missing) - len, "%s%s",
                                 len ? " " : "no v2 controller: ", needed[i]);
                if (r > 0 && (size_t)r < sizeof(out->missing) - len)
                        len += (size_t)r;
        }
        if (len)
                return -ENOTSUP;
        snprintf(out->v2_root, sizeof(out->v2_root), "%s", V2_MOUNT);
        return 0;
}

/* Enables memory, pids and cpu in dir's cgroup.subtree_control unless they already are. */
static int enable_controllers(const char *root, const char *rel)
{
        char path[PATH_MAX], cur[512];
        int r = cg_file(path, sizeof(path), root, rel, "cgroup.subtree_control");
        if (r < 0)
                return r;
        ssize_t n = rt_read_file(path, cur, sizeof(cur));
        if (n < 0)
                return (int)n;
        for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
                if (has_word(cur, needed[i]))
                        continue;
                char want[32];
                snprintf(want, sizeof(want), "+%s", needed[i]);
                r = rt_write_file(path, want);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v2_setup(struct cgroups *cg)
{
        /* The root hands the controllers to rigs/ (systemd normally did this already). */
        int r = enable_controllers(cg->v2_root, ".");
        if (r < 0) {
                snprintf(cg->missing, sizeof(cg->missing),
                         "cannot enable memory pids cpu in %s/cgroup.subtree_control", cg->v2_root);
                return r;
        }
        char path[PATH_MAX];
        r = rt_path(path, sizeof(path), "%s/" CG_PARENT, cg->v2_root);
        if (r < 0)
                return r;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -errno;
        r = enable_controllers(cg->v2_root, CG_PARENT);
        if (r < 0) {
                snprintf(cg->missing, sizeof(cg->missing),
                         "cannot enable memory pids cpu in %s/" CG_PARENT "/cgroup.subtree_control",
                         cg->v2_root);
                return r;
        }
        r = cg_file(path, sizeof(path), cg->v2_root, CG_PARENT, "memory.swap.max");
        if (r < 0)
                return r;
        cg->swap_accounting = access(path, F_OK) == 0;
        return 0;
}

static int v2_set_limits(const struct cgroups *cg, const char *rel, const struct rig_limits *lim)
{
        int r = cg_write_int(cg->v2_root, rel, "memory.max", lim->memory_mb * 1024 * 1024);
        if (r < 0)
                return r;
        if (cg->swap_accounting) {
                r = cg_write_int(cg->v2_root, rel, "memory.swap.max", 0);
                if (r < 0)
                        return r;
        }
        int64_t quota = (int64_t)(lim->cpus * 100000.0 + 0.5);
        if (quota < 1000)
                quota = 1000; /* the kernel's minimum quota (1 ms) */
        char path[PATH_MAX], val[64];
        r = cg_file(path, sizeof(path), cg->v2_root, rel, "cpu.max");
        if (r < 0)
                return r;
        snprintf(val, sizeof(val), "%lld 100000", (long long)quota);
        r = rt_write_file(path, val);
        if (r < 0)
                return r;
        return cg_write_int(cg->v2_root, rel, "pids.max", lim->max_processes);
}

/* Reads "key N" from cgroup.events through an open fd (from the start each time). */
static int events_value(int fd, const char *key, int *out)
{
        char buf[256];
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        size_t klen = strlen(key);
        const char *line = buf;
        while (*line) {
                if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
                        *out = atoi(line + klen + 1);
                        return 0;
                }
                const char *nl = strchr(line, '\n');
                if (!nl)
                        break;
                line = nl + 1;
        }
        return -ENOENT;
}

static int v2_freeze(const struct cgroups *cg, const char *rel, bool frozen, int64_t timeout_ns)
{
        char path[PATH_MAX];
        int r = cg_file(path, sizeof(path), cg->v2_root, rel, "cgroup.freeze");
        if (r < 0)
                return r;
        r = rt_write_file(path, frozen ? "1" : "0");
        if (r < 0 || !frozen)
                return r;

        /* The kernel reports "frozen 1" in cgroup.events once every task stopped, and wakes
         * pollers (POLLPRI) when that file changes. */
        r = cg_file(path, sizeof(path), cg->v2_root, rel, "cgroup.events");
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int64_t deadline = rt_now_ns() + timeout_ns;
        int64_t pause = 20000;
        for (;;) {
                int v = 0;
                r = events_value(fd, "frozen", &v);
                if (r < 0)
                        return r;
                if (v == 1)
                        return 0;
                int64_t left = deadline - rt_now_ns();
                if (left <= 0) {
                        r = cg_file(path, sizeof(path), cg->v2_root, rel, "cgroup.freeze");
                        if (r >= 0)
                                (void)rt_write_file(path, "0");
                        return -ETIMEDOUT;
                }
                /* The kernel rate-limits cgroup.events notifications to one per 10 ms, so a
                 * freeze right after a thaw would wait for the limiter: poll with a short,
                 * growing timeout as well. */
                int64_t wait = pause < left ? pause : left;
                struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
                struct pollfd pfd = {.fd = fd, .events = POLLPRI};
                if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
                        return -errno;
                pause = pause < 10000000 ? pause * 2 : pause;
        }
}

static int v2_kill(const struct cgroups *cg, const char *rel)
{
        char path[PATH_MAX];
        int r = cg_file(path, sizeof(path), cg->v2_root, rel, "cgroup.kill");
        if (r < 0)
                return r;
        r = rt_write_file(path, "1");
        /* Kernels before 5.14 have no cgroup.kill. */
        return r == -ENOENT && access(path, F_OK) < 0 ? -EOPNOTSUPP : r;
}

static int v2_stats(const struct cgroups *cg, const char *rel, struct cgroup_stats *out)
{
        int r = cg_read_int(cg->v2_root, rel, "memory.current", &out->memory_bytes);
        if (r < 0)
                return r;
        return cg_read_int(cg->v2_root, rel, "pids.current", &out->pids);
}

const struct cgroup_ops cgroup_v2_ops = {
    .setup = v2_setup,
    .set_limits = v2_set_limits,
    .freeze = v2_freeze,
    .kill = v2_kill,
    .stats = v2_stats,
};
