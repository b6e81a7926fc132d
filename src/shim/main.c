/* rig-shim --config <rig dir>/config.json --ready-fd N
 *
 * Started by the runtime (runtime_ns.c) in a new session; forks once more so that it is nobody's
 * child but init's (rigs outlive rigd), enters a private mount namespace (every mount it makes
 * dies with it), starts the rig, writes "ok\n" or "error <errno> <message>\n" to the ready fd,
 * and serves <rig dir>/shim.sock until told to stop. It logs to its stderr (the rig dir's
 * shim.log). */
#include "shim/shim.h"

#include "base/log.h"
#include "hostnet/veth.h"
#include "runtime/disk.h"

#include <fcntl.h>
#include <sched.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define LOOP_RELEASE_TIMEOUT_MS 3000

char *shim_args_start;
size_t shim_args_len;
struct rlimit shim_nofile_orig;

static void usage(void)
{
        fprintf(stderr, "usage: rig-shim --config PATH --ready-fd N\n");
        exit(2);
}

static void parse_args(int argc, char **argv, const char **config, int *ready_fd)
{
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"ready-fd", required_argument, NULL, 'r'},
            {0},
        };
        int o;
        *config = NULL;
        *ready_fd = -1;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (o == 'c')
                        *config = optarg;
                else if (o == 'r')
                        *ready_fd = atoi(optarg);
                else
                        usage();
        }
        if (!*config || *ready_fd < 3 || optind != argc || fcntl(*ready_fd, F_GETFD) < 0)
                usage();
        *config = xstrdup(*config);
        /* Every process the shim forks starts as a copy of it, some inside the rig's PID
         * namespace: their command line must not tell the rig where the data dir is. */
        char *args = argv[0];
        size_t len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
        memset(args, 0, len);
        snprintf(args, len, "rig-shim");
        shim_args_start = args;
        shim_args_len = len;
}

static void ready_write(int *fd, const char *msg)
{
        if (*fd < 0)
                return;
        ssize_t w = write(*fd, msg, strlen(msg));
        (void)w;
        close(*fd);
        *fd = -1;
}

/* "shim <pid> <start ticks>\ninit <pid> <start ticks>\n", for the runtime to find (and verify)
 * both processes when the socket does not answer. */
static int write_pidfile(struct shim *s)
{
        char buf[128];
        unsigned long long self = 0;
        (void)shim_proc_ticks(getpid(), &self);
        int n = snprintf(buf, sizeof(buf), "shim %d %llu\ninit %d %llu\n", (int)getpid(), self,
                         (int)s->init_pid, s->init_ticks);
        _cleanup_close_ int fd =
            openat(s->dir_fd, "shim.pid.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (write(fd, buf, (size_t)n) != n)
                return -EIO;
        if (renameat(s->dir_fd, "shim.pid.tmp", s->dir_fd, "shim.pid") < 0)
                return -errno;
        return 0;
}

/* Waits until the kernel has let go of the rig's loop device, so that a stop returns with
 * nothing of the rig left on the host. */
static void wait_loop_released(struct shim *s)
{
        if (!s->loop_dev[0])
                return;
        char path[96];
        snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", s->loop_dev + 5);
        for (int i = 0; i < LOOP_RELEASE_TIMEOUT_MS; i++) {
                if (access(path, F_OK) < 0)
                        return;
                usleep(1000);
        }
        log_warn("rig %s: %s is still attached", s->cfg.spec.id, s->loop_dev);
}

void shim_teardown(struct shim *s)
{
        const char *id = s->cfg.spec.id;
        s->stopping = true;
        if (s->listen_fd >= 0) {
                close(s->listen_fd);
                s->listen_fd = -1;
        }
        unlinkat(s->dir_fd, "shim.sock", 0);
        if (s->paused)
                cgroup_thaw(&s->cg, id);
        s->paused = false;
        int r = cgroup_destroy(&s->cg, id);
        if (r < 0)
                log_warn("rig %s: cgroup: %s", id, strerror(-r));
        /* The shim's own children in the rig's PID namespace (exec children, the zygote) are
         * reaped first: a dying PID 1 waits until every process of its namespace is gone. */
        server_close_all(s);
        if (s->init_chan >= 0) {
                close(s->init_chan);
                s->init_chan = -1;
        }
        if (s->init_pidfd >= 0) {
                /* Not in the cgroup if the start failed early. */
                syscall(SYS_pidfd_send_signal, s->init_pidfd, SIGKILL, NULL, 0);
                siginfo_t si;
                waitid((idtype_t)P_PIDFD, (id_t)s->init_pidfd, &si, WEXITED);
                close(s->init_pidfd);
                s->init_pidfd = -1;
        }
        for (int i = 0; i < NS_COUNT; i++)
                if (s->ns_fd[i] >= 0) {
                        close(s->ns_fd[i]);
                        s->ns_fd[i] = -1;
                }
        rootfs_detach(s);
        if (s->loop_fd >= 0)
                close(s->loop_fd);
        wait_loop_released(s);
        if (s->cfg.spec.stateless)
                disk_delete(s->cfg.data_dir, id);
        unlinkat(s->dir_fd, "shim.pid", 0);
}

/* Becomes a grandchild of the runtime: the runtime reaps the intermediate at once, and the shim
 * is reparented to init (or the nearest subreaper). */
static void daemonize(void)
{
        pid_t pid = fork();
        if (pid < 0) {
                perror("rig-shim: fork");
                exit(1);
        }
        if (pid > 0)
                _exit(0);
}

/* The rig's veth to rigd's bridge (hostnet/veth.h); nothing without a "net" config. There is no
 * unplug in the teardown: the veth dies with the rig's network namespace when PID 1 and our fds
 * of it are gone. Deleting it here would cost a stop 20-30 ms of RCU grace periods that the
 * kernel's namespace cleanup pays asynchronously (and in batches). */
static int plug(struct shim *s, struct shim_err *e)
{
        const struct rig_net *n = &s->cfg.spec.net;
        if (!n->bridge[0])
                return 0;
        struct net_plug p = {.rig_id = s->cfg.spec.id,
                             .bridge = n->bridge,
                             .netns_fd = s->ns_fd[NS_NET],
                             .ip = n->ip,
                             .gateway = n->gateway,
                             .prefix = n->prefix,
                             .group = n->group};
        char why[200];
        int r = net_rig_plug(&p, why, sizeof(why));
        return r < 0 ? shim_fail(e, -r, "network: %s", why) : 0;
}

static int start(struct shim *s, struct shim_err *e)
{
        s->dir_fd = open(s->cfg.rig_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->dir_fd < 0 || fchdir(s->dir_fd) < 0)
                return shim_fail(e, errno, "cannot enter %s: %m", s->cfg.rig_dir);
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return shim_fail(e, errno, "cannot make a private mount namespace: %m");
        int r = cgroups_detect(&s->cg);
        if (r < 0)
                return shim_fail(e, -r, "cgroups: %s", s->cg.missing);
        r = filter_build(&s->filter);
        if (r < 0)
                return shim_fail(e, -r, "cannot build the seccomp filter: %s", strerror(-r));
        r = cgroup_create(&s->cg, s->cfg.spec.id, &s->cfg.spec.limits);
        if (r < 0)
                return shim_fail(e, -r, "cannot create the rig's cgroup: %s", strerror(-r));
        /* PID 1 makes its network, UTS and IPC namespaces while the disk is mounted. */
        r = init_clone(s, e);
        if (r >= 0)
                r = rootfs_mount_disk(s, e);
        if (r >= 0)
                r = init_finish(s, e);
        if (r >= 0)
                r = plug(s, e);
        if (r < 0)
                return r;
        rootfs_detach(s);
        r = server_listen(s, e);
        if (r < 0)
                return r;
        r = write_pidfile(s);
        if (r < 0)
                return shim_fail(e, -r, "cannot write shim.pid: %s", strerror(-r));
        return 0;
}

int main(int argc, char **argv)
{
        const char *config;
        int ready_fd;
        parse_args(argc, argv, &config, &ready_fd);
        /* Nothing but stdio and the ready pipe crosses from the runtime. */
        close_range(3, (unsigned)ready_fd - 1, 0);
        close_range((unsigned)ready_fd + 1, ~0U, 0);
        fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
        signal(SIGPIPE, SIG_IGN);
        getrlimit(RLIMIT_NOFILE, &shim_nofile_orig);
        struct rlimit nofile = {shim_nofile_orig.rlim_max, shim_nofile_orig.rlim_max};
        setrlimit(RLIMIT_NOFILE, &nofile);
        daemonize();

        struct shim s = {.dir_fd = -1,
                         .loop_fd = -1,
                         .init_pidfd = -1,
                         .init_chan = -1,
                         .listen_fd = -1,
                         .signal_fd = -1};
        for (int i = 0; i < NS_COUNT; i++)
                s.ns_fd[i] = -1;
        struct shim_err e = {0};
        int r = shim_config_load(config, &s.cfg, &e);
        if (r == 0)
                r = start(&s, &e);
        if (r < 0) {
                char msg[320];
                snprintf(msg, sizeof(msg), "error %d %s\n", e.code, e.msg);
                log_error("rig %s: start failed: %s", s.cfg.spec.id, e.msg);
                if (s.cfg.rig_dir[0])
                        shim_teardown(&s);
                ready_write(&ready_fd, msg);
                _exit(1);
        }
        log_info("rig %s: running, PID 1 is %d", s.cfg.spec.id, (int)s.init_pid);
        ready_write(&ready_fd, "ok\n");
        server_run(&s);
        log_info("rig %s: stopping", s.cfg.spec.id);
        shim_teardown(&s);
        shim_config_free(&s.cfg);
        /* _exit: the shim's children are born in the rig's PID namespace, which is gone now, so
         * exit-time machinery that spawns a thread (LeakSanitizer's checker) cannot run. */
        _exit(0);
}
