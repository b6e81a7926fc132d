/* Joining a cgroup v1 hierarchy without the kernel's global lock.
 *
 * Writing a pid to cgroup.procs takes cgroup_threadgroup_rwsem for writing, a percpu rwsem whose
 * writer waits for an RCU grace period: 10-20 ms on this machine, on every attach that is not
 * right after another one. Writing "0" (the caller) to the v1 `tasks` file moves only the
 * calling thread and skips that lock; for a single-threaded process it is the same move. The
 * rig's PID 1 and every exec child join their cgroups this way. cgroup v2 has no `tasks` file,
 * but clone3's CLONE_INTO_CGROUP places a child at birth, with no attach at all. (The next exec's
 * process is also forked ahead of time, see the zygote in server.c, so even a slow attach stays
 * off the request path.) Paths follow cgroup.h: <hierarchy>/rigs/<id>[/<sub>]. */
#include "shim/shim.h"

#include "runtime/rtutil.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>

int fastcg_open(const struct cgroups *cg, const char *id, const char *sub, int fds[4])
{
        if (cg->version != CGROUP_V1 || !rt_id_valid(id))
                return 0;
        const char *all[] = {cg->memory, cg->pids, cg->cpu, cg->freezer};
        int n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
                bool dup = !all[i][0];
                for (size_t j = 0; j < i && !dup; j++)
                        dup = streq(all[j], all[i]);
                if (dup)
                        continue;
                char path[PATH_MAX];
                int r = sub ? rt_path(path, sizeof(path), "%s/rigs/%s/%s/tasks", all[i], id, sub)
                            : rt_path(path, sizeof(path), "%s/rigs/%s/tasks", all[i], id);
                int fd = r < 0 ? -1 : open(path, O_WRONLY | O_CLOEXEC);
                if (fd < 0) {
                        r = r < 0 ? r : -errno;
                        while (n > 0)
                                close(fds[--n]);
                        return r;
                }
                fds[n++] = fd;
        }
        return n;
}

int fastcg_join(int fds[4], int n)
{
        int ret = 0;
        for (int i = 0; i < n; i++) {
                if (write(fds[i], "0", 1) != 1 && ret == 0)
                        ret = -errno;
                close(fds[i]);
                fds[i] = -1;
        }
        return ret;
}

int fastcg_dirfd(const struct cgroups *cg, const char *id, const char *sub)
{
        if (cg->version != CGROUP_V2 || !rt_id_valid(id))
                return -1;
        char path[PATH_MAX];
        int r = sub ? rt_path(path, sizeof(path), "%s/rigs/%s/%s", cg->v2_root, id, sub)
                    : rt_path(path, sizeof(path), "%s/rigs/%s", cg->v2_root, id);
        return r < 0 ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

pid_t fastcg_clone(uint64_t flags, int cgroup_fd, int *pidfd, bool *placed)
{
        struct clone_args ca = {
            .flags = flags | CLONE_PIDFD,
            .pidfd = (uint64_t)(uintptr_t)pidfd,
            /* A CLONE_PARENT child inherits its exit signal (SIGCHLD) from its sibling. */
            .exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD,
        };
        *placed = cgroup_fd >= 0;
        if (*placed) {
                ca.flags |= CLONE_INTO_CGROUP;
                ca.cgroup = (uint64_t)cgroup_fd;
                pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
                /* EAGAIN is the cgroup's pids.max speaking: no way around it. */
                if (pid >= 0 || errno == EAGAIN)
                        return pid;
                /* An older kernel, or a cgroup that cannot take it: the child joins itself. */
                *placed = false;
                ca.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
                ca.cgroup = 0;
        }
        return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}
