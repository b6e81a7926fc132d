/* The rig's PID 1.
 *
 * The shim clones it into a new user and PID namespace only (CLONE_NEWUSER | CLONE_NEWPID), so
 * that it still shares the shim's mount namespace while the shim, as host root, writes its id
 * maps, builds the root filesystem with the new user namespace's idmapping (which only exists
 * now) and moves it into the rig's cgroup. Then it hands PID 1 an fd of the root overlay and
 * PID 1, as rig root, unshares the remaining namespaces itself (they are owned by the rig's user
 * namespace; the cgroup namespace is rooted at the rig's cgroup because it was joined first),
 * mounts /proc, /sys, /dev and /tmp, pivots into the root, and becomes a reaper under the rig's
 * seccomp filter. The mounts it inherits are locked (copied into a less privileged namespace),
 * so they cannot be peeled off from inside to reveal what is below.
 *
 * PID 1 dies with the shim (PR_SET_PDEATHSIG), and the rig's processes die with PID 1 (that is
 * what a PID namespace does), so a crashed shim never leaves a rig running unmanaged. */
#include "shim/shim.h"

#include "hostnet/addr.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define INIT_READY_TIMEOUT_MS 8000

/* Set by main: the argument area, overwritten in PID 1 so that the rig's `ps` shows "rig-init"
 * rather than the shim's host paths. */
extern char *shim_args_start;
extern size_t shim_args_len;

/* ---- helpers shared by both sides ---- */

static int send_msg(int fd, const char *msg, int pass_fd)
{
        struct iovec iov = {(void *)msg, strlen(msg)};
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (pass_fd >= 0) {
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = sizeof(u.buf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Receives one message (NUL-terminated into buf) and at most one passed fd (*fd, or -1). */
static ssize_t recv_msg(int fd, char *buf, size_t len, int *passed)
{
        union {
                char b[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = {buf, len - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
        *passed = -1;
        ssize_t n;
        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                    c->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(passed, CMSG_DATA(c), sizeof(int));
        return n;
}

/* ---- PID 1 ---- */

/* Reports a failed setup step to the shim and dies. */
__attribute__((noreturn)) static void init_die(int fd, const char *what)
{
        char msg[256];
        snprintf(msg, sizeof(msg), "E%d %s: %s", errno, what, strerror(errno));
        send_msg(fd, msg, -1);
        _exit(1);
}

static int mount_dev_node(const char *name)
{
        char src[32], dst[32];
        snprintf(src, sizeof(src), "/dev/%s", name);
        snprintf(dst, sizeof(dst), "dev/%s", name);
        int fd = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0)
                return -1;
        close(fd);
        return mount(src, dst, NULL, MS_BIND, NULL);
}

/* /dev: a small tmpfs with the harmless host devices bound in, a private devpts, /dev/shm. */
static int setup_dev(unsigned shm_mb)
{
        static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
        static const char *const links[][2] = {
            {"pts/ptmx", "dev/ptmx"},          {"/proc/self/fd", "dev/fd"},
            {"/proc/self/fd/0", "dev/stdin"},  {"/proc/self/fd/1", "dev/stdout"},
            {"/proc/self/fd/2", "dev/stderr"},
        };
        char opts[64];
        if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME,
                  "mode=755,size=64k,nr_inodes=256") < 0)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(nodes); i++)
                if (mount_dev_node(nodes[i]) < 0)
                        return -1;
        if (mkdir("dev/pts", 0755) < 0 ||
            mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
                return -1;
        snprintf(opts, sizeof(opts), "mode=1777,size=%um", shm_mb);
        if (mkdir("dev/shm", 01777) < 0 ||
            mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(links); i++)
                if (symlink(links[i][0], links[i][1]) < 0)
                        return -1;
        return 0;
}

static void ensure_mountpoint(const char *path)
{
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return; /* the mount reports it */
}

/* Everything below the new root; the cwd is the root overlay. */
static void setup_mounts(const struct shim *s, int fd)
{
        /* /tmp and /dev/shm are memory: a quarter of the rig's memory, at most 1 GiB (what is
         * written there is charged to the rig's memory cgroup in any case). */
        int64_t mb = s->cfg.spec.limits.memory_mb / 4;
        unsigned tmp_mb = (unsigned)(mb < 16 ? 16 : mb > 1024 ? 1024 : mb);
        char opts[64];

        ensure_mountpoint("proc");
        if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                init_die(fd, "mount /proc");
        ensure_mountpoint("sys");
        if (mount("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                init_die(fd, "mount /sys");
        ensure_mountpoint("dev");
        if (setup_dev(tmp_mb) < 0)
                init_die(fd, "set up /dev");
        ensure_mountpoint("tmp");
        snprintf(opts, sizeof(opts), "mode=1777,size=%um", tmp_mb);
        if (mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                init_die(fd, "mount /tmp");
}

static void bring_up_lo(int fd)
{
        int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {0};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
                init_die(fd, "loopback");
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
                init_die(fd, "loopback up");
        close(sk);
}

/* The root overlay came from the shim's namespace, so here it is locked (and pivot_root refuses
 * a locked new root: it would move it away and reveal what it covers). A bind of it made in
 * this namespace is not locked: mount one on top and enter it. */
static void take_root(int fd)
{
        int top = (int)syscall(SYS_open_tree, AT_FDCWD, ".", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (top < 0 ||
            syscall(SYS_move_mount, top, "", AT_FDCWD, ".", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
            fchdir(top) < 0)
                init_die(fd, "bind the root");
        close(top);
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the rig. */
static void enter_root(int fd)
{
        int old = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
        if (old < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
                init_die(fd, "pivot_root");
        if (fchdir(old) < 0 || mount(NULL, ".", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                init_die(fd, "detach the host's root");
        close(old);
}

/* Rewrites a small file inside the rig if its content differs (best effort, as rig root). */
static void put_file(const char *path, const char *content)
{
        int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (f >= 0) {
                char cur[4096];
                ssize_t n = read(f, cur, sizeof(cur) - 1);
                close(f);
                if (n >= 0 && (cur[n] = '\0', streq(cur, content)))
                        return;
        }
        f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (f < 0)
                return;
        ssize_t w = write(f, content, strlen(content));
        (void)w;
        close(f);
}

/* /etc/hostname and the 127.0.1.1 line of /etc/hosts name the rig. */
static void name_rig(const char *name)
{
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
                        return;
        char buf[600];
        snprintf(buf, sizeof(buf), "%s\n", name);
        put_file("/etc/hostname", buf);
        snprintf(buf, sizeof(buf),
                 "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost "
                 "ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n",
                 name);
        put_file("/etc/hosts", buf);
}

/* /etc/resolv.conf names the host's resolvers (reached through the gateway's NAT when the rig's
 * egress allows it); a rig without a network keeps its own. */
static void write_resolv(const struct rig_net *n)
{
        if (!n->bridge[0])
                return;
        char buf[512];
        size_t off = (size_t)snprintf(
            buf, sizeof(buf), "# Written by Rigs at every start: the host's name servers.\n");
        for (size_t i = 0; i < n->ndns && i < RIG_NET_DNS_MAX; i++) {
                char ip[NET_IP_STR];
                net_ip_str(n->dns[i], ip);
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "nameserver %s\n", ip);
        }
        if (n->ndns == 0)
                snprintf(buf + off, sizeof(buf) - off, "# The host has none a rig can reach.\n");
        put_file("/etc/resolv.conf", buf);
}

void shim_drop_host_caps(void)
{
        /* Capabilities that act on the host (their checks are against the initial user
         * namespace) are meaningless for rig root; dropping them is defence in depth. */
        static const int caps[] = {
            16 /* SYS_MODULE */,   17 /* SYS_RAWIO */,     20 /* SYS_PACCT */,
            22 /* SYS_BOOT */,     25 /* SYS_TIME */,      30 /* AUDIT_CONTROL */,
            32 /* MAC_OVERRIDE */, 33 /* MAC_ADMIN */,     34 /* SYSLOG */,
            35 /* WAKE_ALARM */,   36 /* BLOCK_SUSPEND */, 37 /* AUDIT_READ */,
            38 /* PERFMON */,      39 /* BPF */,
        };
        for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
                prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0);
}

__attribute__((noreturn)) static void init_reap_forever(void)
{
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
        for (;;) {
                siginfo_t si;
                if (sigwaitinfo(&all, &si) < 0)
                        continue;
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
        }
}

static void rename_self(void)
{
        prctl(PR_SET_NAME, "rig-init", 0, 0, 0);
        if (shim_args_start && shim_args_len > sizeof("rig-init")) {
                memset(shim_args_start, 0, shim_args_len);
                strcpy(shim_args_start, "rig-init");
        }
}

__attribute__((noreturn)) static void init_main(const struct shim *s, int fd)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        int cg_fds[4];
        memcpy(cg_fds, s->init_cg_fd, sizeof(cg_fds));
        if (s->init_cg_n > 0 && fastcg_join(cg_fds, s->init_cg_n) < 0)
                init_die(fd, "join the rig's cgroup");
        /* Nothing of the shim's stays open here but the channel to it. */
        if (fd > 0)
                close_range(0, (unsigned)fd - 1, 0);
        close_range((unsigned)fd + 1, ~0U, 0);
        rename_self();
        /* What needs no root filesystem is done while the shim still mounts the disk. */
        if (unshare(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
                init_die(fd, "unshare");
        if (sethostname(s->cfg.spec.hostname, strlen(s->cfg.spec.hostname)) < 0)
                init_die(fd, "sethostname");
        bring_up_lo(fd);

        char msg[16];
        int rootfd;
        if (recv_msg(fd, msg, sizeof(msg), &rootfd) <= 0 || !streq(msg, "go") || rootfd < 0)
                _exit(1);
        if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                init_die(fd, "become rig root");
        /* Again: a change of credentials clears the parent-death signal. If the shim died
         * before this, the "ok" below fails. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        /* Enter the root before unsharing: the new mount namespace translates the cwd. */
        if (fchdir(rootfd) < 0)
                init_die(fd, "enter the root filesystem");
        close(rootfd);
        if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
                init_die(fd, "unshare");
        take_root(fd);
        setup_mounts(s, fd);
        enter_root(fd);
        name_rig(s->cfg.spec.hostname);
        write_resolv(&s->cfg.spec.net);
        umask(022);
        shim_drop_host_caps();
        /* Nothing of PID 1 (memory, fds) is for rig processes to inspect or trace, and it needs
         * no capability to reap. */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        struct __user_cap_header_struct ch = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct cd[2] = {{0}};
        if (syscall(SYS_capset, &ch, cd) < 0)
                init_die(fd, "drop capabilities");
        if (filter_apply(&s->filter) < 0)
                init_die(fd, "seccomp");
        if (send_msg(fd, "ok", -1) < 0)
                _exit(1);
        close(fd);
        init_reap_forever();
}

/* ---- the shim's side ---- */

static int write_proc(pid_t pid, const char *file, const char *val)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, val, strlen(val)) < 0)
                return -errno;
        return 0;
}

static int map_ids(struct shim *s)
{
        char map[64];
        snprintf(map, sizeof(map), "0 %u 65536\n", s->cfg.spec.uid_base);
        int r = write_proc(s->init_pid, "uid_map", map);
        if (r >= 0)
                r = write_proc(s->init_pid, "gid_map", map);
        return r;
}

/* Start time of a process in clock ticks after boot (field 22 of /proc/<pid>/stat). */
int shim_proc_ticks(pid_t pid, unsigned long long *ticks)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        /* After ")": field 3 (state) ... field 22 (starttime) is the 20th. */
        if (sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                   "%*d %*d %llu",
                   ticks) != 1)
                return -EIO;
        return 0;
}

static int64_t boot_time(void)
{
        struct timespec rt, bt;
        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_BOOTTIME, &bt);
        return rt.tv_sec - bt.tv_sec;
}

/* Waits for PID 1's verdict: "ok", or "E<errno> <message>". */
static int wait_init(struct shim *s, int fd, struct shim_err *e)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r;
        do
                r = poll(&p, 1, INIT_READY_TIMEOUT_MS);
        while (r < 0 && errno == EINTR);
        if (r == 0)
                return shim_fail(e, ETIMEDOUT, "the rig's PID 1 did not come up");
        char msg[256];
        int passed;
        ssize_t n = recv_msg(fd, msg, sizeof(msg), &passed);
        if (passed >= 0)
                close(passed);
        if (n > 1 && msg[0] == 'E') {
                int code = atoi(msg + 1);
                const char *text = strchr(msg, ' ');
                return shim_fail(e, code > 0 ? code : EIO, "rig PID 1: %s", text ? text + 1 : msg);
        }
        if (n <= 0 || !streq(msg, "ok"))
                return shim_fail(e, EIO, "the rig's PID 1 died during set-up");
        (void)s;
        return 0;
}

static int open_namespaces(struct shim *s, struct shim_err *e)
{
        static const char *const names[NS_COUNT] = {
            [NS_MNT] = "mnt",       [NS_NET] = "net", [NS_UTS] = "uts",   [NS_IPC] = "ipc",
            [NS_CGROUP] = "cgroup", [NS_PID] = "pid", [NS_USER] = "user",
        };
        char path[64];
        for (int i = 0; i < NS_COUNT; i++) {
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", s->init_pid, names[i]);
                s->ns_fd[i] = open(path, O_RDONLY | O_CLOEXEC);
                if (s->ns_fd[i] < 0)
                        return shim_fail(e, errno, "cannot open %s: %m", path);
        }
        return 0;
}

/* Everything between the clone and PID 1's "ok". */
static int init_prepare(struct shim *s, int chan, struct shim_err *e)
{
        int r = map_ids(s);
        if (r < 0)
                return shim_fail(e, -r, "cannot write the rig's id maps: %s", strerror(-r));
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", s->init_pid);
        _cleanup_close_ int userns = open(path, O_RDONLY | O_CLOEXEC);
        if (userns < 0)
                return shim_fail(e, errno, "cannot open the rig's user namespace: %m");
        r = rootfs_mount_root(s, userns, e);
        if (r < 0)
                return r;
        r = s->init_placed ? 0 : cgroup_attach(&s->cg, s->cfg.spec.id, NULL, s->init_pid);
        if (r < 0)
                return shim_fail(e, -r, "cannot move PID 1 into the rig's cgroup: %s",
                                 strerror(-r));
        /* PID 1 is tiny; the OOM killer should pick what filled the rig's memory. */
        (void)write_proc(s->init_pid, "oom_score_adj", "-1000");
        _cleanup_close_ int rootfd = open("root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return shim_fail(e, errno, "cannot open the rig's root: %m");
        r = send_msg(chan, "go", rootfd);
        if (r < 0)
                return shim_fail(e, -r, "the rig's PID 1 is gone");
        return wait_init(s, chan, e);
}

int init_clone(struct shim *s, struct shim_err *e)
{
        int sv[2];
        s->init_cg_n = fastcg_open(&s->cg, s->cfg.spec.id, NULL, s->init_cg_fd);
        if (s->init_cg_n < 0)
                return shim_fail(e, -s->init_cg_n, "cannot open the rig's cgroup: %s",
                                 strerror(-s->init_cg_n));
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return shim_fail(e, errno, "socketpair: %m");
        /* On v2, PID 1 is born in the rig's cgroup; on v1 it joins by itself (fastcg.c). */
        int cfd = fastcg_dirfd(&s->cg, s->cfg.spec.id, NULL);
        bool placed;
        s->init_pid = fastcg_clone(CLONE_NEWUSER | CLONE_NEWPID, cfd, &s->init_pidfd, &placed);
        if (cfd >= 0 && s->init_pid != 0)
                close(cfd);
        s->init_placed = placed || s->init_cg_n > 0;
        if (s->init_pid < 0) {
                int err = errno;
                close(sv[0]);
                close(sv[1]);
                return shim_fail(e, err, "cannot create the rig's namespaces: %s", strerror(err));
        }
        if (s->init_pid == 0) {
                close(sv[0]);
                init_main(s, sv[1]);
        }
        close(sv[1]);
        for (int i = 0; i < s->init_cg_n; i++)
                close(s->init_cg_fd[i]);
        s->init_chan = sv[0];
        return 0;
}

int init_finish(struct shim *s, struct shim_err *e)
{
        int r = init_prepare(s, s->init_chan, e);
        close(s->init_chan);
        s->init_chan = -1;
        if (r < 0)
                return r;
        r = shim_proc_ticks(s->init_pid, &s->init_ticks);
        if (r < 0)
                return shim_fail(e, -r, "cannot read PID 1's start time");
        s->started_at =
            boot_time() + (int64_t)(s->init_ticks / (unsigned long long)sysconf(_SC_CLK_TCK));
        return open_namespaces(s, e);
}
