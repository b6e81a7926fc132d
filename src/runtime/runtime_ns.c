/* The "ns" runtime backend: each running rig is a rig-shim process (src/shim/) that owns the
 * rig's namespaces, mounts, loop disk and cgroup, and serves <data>/rigs/<id>/shim.sock. This
 * file is rigd's side: it writes the rig's config.json, starts the shim detached from rigd,
 * talks to it over the socket, and cleans up after a shim that is gone with the same code a
 * normal stop runs (cgroup, socket, pid file; the mounts and the loop device need nothing: they
 * lived in the shim's and the rig's private mount namespaces and died with them).
 *
 * <data>/rigs/<id>/ (0700): disk.img, config.json, shim.sock, shim.pid, shim.log, and the empty
 * mount points mnt/, lower/, root/ (used only inside the shim's mount namespace). */
#include "hostnet/addr.h"
#include "hostnet/veth.h"
#include "runtime/cgroup.h"
#include "runtime/disk.h"
#include "runtime/rtutil.h"
#include "runtime/runtime.h"
#include "runtime/shimclient.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define READY_TIMEOUT_MS 10000
#define REPLY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS  20000
#define SHIM_LOG_MAX     (1 << 20)

struct ns_backend {
        struct cgroups cg;
        char shim_path[PATH_MAX];
};

static struct ns_backend *B(struct runtime *rt)
{
        return rt->backend;
}

static int rig_file(struct runtime *rt, const char *id, const char *file, char *out, size_t len)
{
        if (!rt_id_valid(id))
                return -EINVAL;
        if (!file)
                return rt_path(out, len, "%s/rigs/%s", rt->data_dir, id);
        return rt_path(out, len, "%s/rigs/%s/%s", rt->data_dir, id, file);
}

/* ---- the shim binary ---- */

static bool executable(const char *p)
{
        struct stat st;
        return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* $RIGS_SHIM, else next to the running binary (installed: <prefix>/bin/rigd and
 * <prefix>/libexec/rig-shim; build tree: src/rigd/rigd and src/shim/rig-shim), else the usual
 * libexec directories. */
static int find_shim(char *out, size_t len)
{
        const char *env = getenv("RIGS_SHIM");
        if (env && *env)
                return executable(env) ? rt_path(out, len, "%s", env) : -ENOENT;
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        const char *rel[] = {"rig-shim", "../shim/rig-shim", "../libexec/rig-shim",
                                             "../lib/rigs/rig-shim"};
                        for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
                                char p[PATH_MAX];
                                if (rt_path(p, sizeof(p), "%s/%s", self, rel[i]) >= 0 &&
                                    executable(p) && realpath(p, out))
                                        return 0;
                        }
                }
        }
        const char *fixed[] = {"/usr/local/libexec/rig-shim", "/usr/libexec/rig-shim"};
        for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
                if (executable(fixed[i]))
                        return rt_path(out, len, "%s", fixed[i]);
        return -ENOENT;
}

/* ---- config.json ---- */

/* "net": {"bridge", "ip", "prefix", "gateway", "group", "dns": [...]} */
static json_t *net_json(const struct rig_net *n)
{
        char ip[NET_IP_STR], gw[NET_IP_STR];
        net_ip_str(n->ip, ip);
        net_ip_str(n->gateway, gw);
        json_t *dns = json_array();
        for (size_t i = 0; i < n->ndns && i < RIG_NET_DNS_MAX; i++) {
                char s[NET_IP_STR];
                net_ip_str(n->dns[i], s);
                json_array_append_new(dns, json_string(s));
        }
        return json_pack("{s:s,s:s,s:i,s:s,s:I,s:o}", "bridge", n->bridge, "ip", ip, "prefix",
                         n->prefix, "gateway", gw, "group", (json_int_t)n->group, "dns", dns);
}

static json_t *spec_json(struct runtime *rt, const struct rig_spec *spec, const char *rootfs)
{
        char dir[PATH_MAX];
        rig_file(rt, spec->id, NULL, dir, sizeof(dir));
        json_t *env = json_array();
        for (char **e = spec->env; e && *e; e++)
                json_array_append_new(env, json_string(*e));
        json_t *o = json_pack(
            "{s:s,s:s,s:s,s:b,s:I,s:{s:f,s:I,s:I,s:I},s:o,s:s,s:s,s:s}", "id", spec->id, "hostname",
            spec->hostname, "template", spec->template_name[0] ? spec->template_name : "base",
            "stateless", spec->stateless, "uid_base", (json_int_t)spec->uid_base, "limits", "cpus",
            spec->limits.cpus, "memory_mb", (json_int_t)spec->limits.memory_mb, "max_processes",
            (json_int_t)spec->limits.max_processes, "disk_mb", (json_int_t)spec->limits.disk_mb,
            "env", env, "rig_dir", dir, "data_dir", rt->data_dir, "rootfs", rootfs);
        if (o && spec->net.bridge[0])
                json_object_set_new(o, "net", net_json(&spec->net));
        return o;
}

static int write_config(struct runtime *rt, const struct rig_spec *spec, const char *rootfs,
                        char *path, size_t len)
{
        char tmp[PATH_MAX];
        int r = rig_file(rt, spec->id, "config.json", path, len);
        if (r >= 0)
                r = rig_file(rt, spec->id, "config.json.tmp", tmp, sizeof(tmp));
        if (r < 0)
                return r;
        json_t *o = spec_json(rt, spec, rootfs);
        if (!o)
                return -EINVAL;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        r = fd < 0 ? -errno : json_dumpfd(o, fd, JSON_COMPACT) < 0 ? -EIO : 0;
        json_decref(o);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        return r;
}

/* ---- pid file ---- */

struct shim_pids {
        pid_t shim, init;
        unsigned long long shim_ticks, init_ticks;
};

static int proc_ticks(pid_t pid, unsigned long long *ticks)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        ssize_t n = rt_read_file(path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        char *p = strrchr(buf, ')');
        if (!p || sscanf(p + 2,
                         "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                         "%*d %*d %*d %llu",
                         ticks) != 1)
                return -EIO;
        return 0;
}

static int read_pids(struct runtime *rt, const char *id, struct shim_pids *out)
{
        char path[PATH_MAX], buf[256];
        int r = rig_file(rt, id, "shim.pid", path, sizeof(path));
        if (r < 0)
                return r;
        ssize_t n = rt_read_file(path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        int sp, ip;
        if (sscanf(buf, "shim %d %llu init %d %llu", &sp, &out->shim_ticks, &ip,
                   &out->init_ticks) != 4 ||
            sp <= 1 || ip <= 1)
                return -EIO;
        out->shim = sp;
        out->init = ip;
        return 0;
}

/* A pidfd of pid if it is still the process that started at ticks, else -ESRCH. */
static int pidfd_verified(pid_t pid, unsigned long long ticks)
{
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return -errno;
        unsigned long long now;
        if (proc_ticks(pid, &now) < 0 || now != ticks) {
                close(fd);
                return -ESRCH;
        }
        return fd;
}

/* ---- start ---- */

static void trim_log(const char *path)
{
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size > SHIM_LOG_MAX)
                truncate(path, 0);
}

static char **shim_envp(void)
{
        static const char *const pass[] = {"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"};
        char **envp = xcalloc(ARRAY_SIZE(pass) + 2, sizeof(char *));
        size_t n = 0;
        envp[n++] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        for (size_t i = 0; i < ARRAY_SIZE(pass); i++)
                if (getenv(pass[i]))
                        envp[n++] = xasprintf("%s=%s", pass[i], getenv(pass[i]));
        return envp;
}

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

/* Starts the shim in a new session with the ready pipe's write end as fd 3; the shim forks
 * once more and the intermediate is reaped here, so the shim is never rigd's child. */
static int spawn_shim(struct runtime *rt, const char *id, const char *config, int ready_w)
{
        char log[PATH_MAX];
        int r = rig_file(rt, id, "shim.log", log, sizeof(log));
        if (r < 0)
                return r;
        trim_log(log);
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, ready_w, 3);
        posix_spawnattr_init(&at);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &all);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
        char *argv[] = {"rig-shim", "--config", (char *)config, "--ready-fd", "3", NULL};
        char **envp = shim_envp();
        pid_t pid;
        r = -posix_spawn(&pid, B(rt)->shim_path, &fa, &at, argv, envp);
        strv_free(envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (r < 0)
                return r;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return 0;
}

/* Reads the shim's verdict: "ok\n" or "error <errno> <message>\n". */
static int wait_ready(int fd)
{
        char buf[512];
        size_t got = 0;
        int64_t deadline = rt_now_ns() / 1000000 + READY_TIMEOUT_MS;
        while (got < sizeof(buf) - 1) {
                int left = (int)(deadline - rt_now_ns() / 1000000);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (left <= 0 || poll(&p, 1, left) == 0)
                        return -ETIMEDOUT;
                ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
                if (memchr(buf, '\n', got))
                        break;
        }
        buf[got] = '\0';
        if (strncmp(buf, "ok\n", 3) == 0)
                return 0;
        int code = 0;
        if (sscanf(buf, "error %d", &code) == 1 && code > 0 && code < 4096)
                return -code;
        return -EIO; /* the shim died: its shim.log says why */
}

static int prepare_disk(struct runtime *rt, const struct rig_spec *spec)
{
        if (spec->stateless) {
                int r = disk_delete(rt->data_dir, spec->id);
                if (r < 0)
                        return r;
        }
        int r = disk_create(rt->data_dir, spec->id, spec->limits.disk_mb);
        /* An existing disk keeps the size it was made with (ext4 is not resized here). */
        return r == -EEXIST ? 0 : r;
}

static int ns_stop(struct runtime *rt, const char *id, bool stateless);
static int ns_status(struct runtime *rt, const char *id, struct rig_status *out);

static int ns_start(struct runtime *rt, const struct rig_spec *spec)
{
        if (!rt_id_valid(spec->id))
                return -EINVAL;
        struct rig_status st;
        if (ns_status(rt, spec->id, &st) == 0 && st.state != RUN_MISSING)
                return 0;
        /* Whatever a dead shim left behind goes first (a no-op normally). */
        int r = ns_stop(rt, spec->id, false);
        if (r < 0)
                return r;
        if (!B(rt)->shim_path[0] && (r = find_shim(B(rt)->shim_path, PATH_MAX)) < 0)
                return r;
        char rootfs[PATH_MAX], config[PATH_MAX];
        r = template_rootfs(rt->templates_dir,
                            spec->template_name[0] ? spec->template_name : "base", rootfs,
                            sizeof(rootfs));
        if (r >= 0)
                r = prepare_disk(rt, spec);
        if (r >= 0)
                r = write_config(rt, spec, rootfs, config, sizeof(config));
        if (r < 0)
                return r;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* fd 3 in the shim: keep our write end off 3 so that dup2 clears its CLOEXEC. */
        int w = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
        close(p[1]);
        r = w < 0 ? -errno : spawn_shim(rt, spec->id, config, w);
        if (w >= 0)
                close(w);
        if (r >= 0)
                r = wait_ready(p[0]);
        close(p[0]);
        return r;
}

/* ---- stop ---- */

/* Kills a shim that does not answer (and its PID 1, which would follow it anyway). */
static void kill_stale(struct runtime *rt, const char *id)
{
        struct shim_pids pids;
        if (read_pids(rt, id, &pids) < 0)
                return;
        int fd = pidfd_verified(pids.shim, pids.shim_ticks);
        if (fd >= 0) {
                syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                poll(&p, 1, 5000);
                close(fd);
        }
        fd = pidfd_verified(pids.init, pids.init_ticks);
        if (fd >= 0) {
                syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
                close(fd);
        }
}

/* Asks the shim to stop and waits for its exit (EOF on the connection). */
static int stop_shim(const char *sock)
{
        _cleanup_close_ int fd = shimc_connect(sock);
        if (fd < 0)
                return fd;
        json_t *req = json_pack("{s:s}", "op", "stop");
        int r = shimc_send_json(fd, req);
        json_decref(req);
        if (r >= 0)
                r = shimc_read_reply(fd, REPLY_TIMEOUT_MS, NULL);
        if (r < 0)
                return r;
        char c;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t deadline = rt_now_ns() / 1000000 + STOP_TIMEOUT_MS;
        for (;;) {
                int left = (int)(deadline - rt_now_ns() / 1000000);
                if (left <= 0 || poll(&p, 1, left) == 0)
                        return -ETIMEDOUT;
                ssize_t n = read(fd, &c, 1);
                if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                        return 0;
        }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
                return -1;
        return 0;
}

/* Removes <data>/rigs/<id> with what is left in it: empty mount points, config, log. Never
 * crosses into another filesystem. */
static int remove_rig_dir(struct runtime *rt, const char *id)
{
        char dir[PATH_MAX];
        int r = rig_file(rt, id, NULL, dir, sizeof(dir));
        if (r < 0)
                return r;
        if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int ns_stop(struct runtime *rt, const char *id, bool stateless)
{
        char sock[PATH_MAX], pidf[PATH_MAX];
        int r = rig_file(rt, id, "shim.sock", sock, sizeof(sock));
        if (r >= 0)
                r = rig_file(rt, id, "shim.pid", pidf, sizeof(pidf));
        if (r < 0)
                return r;
        bool stale = stop_shim(sock) < 0;
        if (stale)
                kill_stale(rt, id);
        /* The same cleanup whether the shim did it already or is gone. */
        r = cgroup_destroy(&B(rt)->cg, id);
        /* A rig's veth goes with its network namespace (asynchronously, after PID 1); only a shim
         * that did not stop cleanly is a reason to look for one that something kept. */
        int u = stale ? net_rig_unplug(id) : 0;
        if (r >= 0)
                r = u;
        unlink(sock);
        unlink(pidf);
        /* A stateless rig leaves nothing on the host once stopped: not its disk, nor its
         * config (which holds its env) or log. */
        if (stateless) {
                int d = disk_delete(rt->data_dir, id);
                if (d >= 0)
                        d = remove_rig_dir(rt, id);
                if (r >= 0)
                        r = d;
        }
        return r;
}

/* ---- the rest of the ops ---- */

static int ns_create(struct runtime *rt, const struct rig_spec *spec)
{
        if (!rt_id_valid(spec->id))
                return -EINVAL;
        return disk_create(rt->data_dir, spec->id, spec->limits.disk_mb);
}

static int call(struct runtime *rt, const char *id, const char *op, json_t **reply)
{
        char sock[PATH_MAX];
        int r = rig_file(rt, id, "shim.sock", sock, sizeof(sock));
        if (r < 0)
                return r;
        json_t *req = json_pack("{s:s}", "op", op);
        r = shimc_call(sock, req, REPLY_TIMEOUT_MS, reply);
        json_decref(req);
        return r == -ENOENT || r == -ECONNREFUSED ? -ESRCH : r;
}

static int ns_pause(struct runtime *rt, const char *id)
{
        return call(rt, id, "pause", NULL);
}

static int ns_resume(struct runtime *rt, const char *id)
{
        return call(rt, id, "resume", NULL);
}

static int ns_status(struct runtime *rt, const char *id, struct rig_status *out)
{
        memset(out, 0, sizeof(*out));
        json_t *reply = NULL;
        int r = call(rt, id, "ping", &reply);
        if (r == -ESRCH) {
                out->state = RUN_MISSING;
                return 0;
        }
        if (r < 0) {
                json_decref(reply);
                return r;
        }
        const char *state = json_string_value(json_object_get(reply, "state"));
        out->state = state && streq(state, "paused") ? RUN_PAUSED : RUN_RUNNING;
        out->init_pid = (pid_t)json_integer_value(json_object_get(reply, "init_pid"));
        out->started_at = json_integer_value(json_object_get(reply, "started_at"));
        json_decref(reply);
        return 0;
}

static int ns_connect(struct runtime *rt, const char *id)
{
        char sock[PATH_MAX];
        int r = rig_file(rt, id, "shim.sock", sock, sizeof(sock));
        if (r < 0)
                return r;
        r = shimc_connect(sock);
        return r == -ENOENT || r == -ECONNREFUSED ? -ESRCH : r;
}

/* Opens /proc/<PID 1>/<what> (checked against PID 1's start time: a recycled pid never
 * resolves). */
static int init_proc_fd(struct runtime *rt, const char *id, const char *what, int flags)
{
        struct shim_pids pids;
        int r = read_pids(rt, id, &pids);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        _cleanup_close_ int pfd = pidfd_verified(pids.init, pids.init_ticks);
        if (pfd < 0)
                return -ESRCH;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pids.init, what);
        int fd = open(path, flags | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* Still alive after the open: the pid was not recycled in between. */
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        if (poll(&p, 1, 0) != 0) {
                close(fd);
                return -ESRCH;
        }
        return fd;
}

static int ns_root_fd(struct runtime *rt, const char *id)
{
        return init_proc_fd(rt, id, "root", O_PATH | O_DIRECTORY);
}

static int ns_userns_fd(struct runtime *rt, const char *id)
{
        return init_proc_fd(rt, id, "ns/user", O_RDONLY);
}

static int ns_destroy(struct runtime *rt, const char *id)
{
        /* Stopping as stateless deletes the disk and the rig's directory. */
        return ns_stop(rt, id, true);
}

static bool kept(const char *id, const char *const *keep, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (streq(keep[i], id))
                        return true;
        return false;
}

/* The rig a process serves if it is a shim of this data dir (its cwd is the rig dir, maybe
 * deleted): writes the id, returns true. */
static bool shim_of(struct runtime *rt, pid_t pid, char id[RIG_ID_MAX])
{
        char path[64], comm[32], cwd[PATH_MAX], prefix[PATH_MAX];
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        if (rt_read_file(path, comm, sizeof(comm)) <= 0 || !streq(comm, "rig-shim\n"))
                return false;
        snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
        ssize_t n = readlink(path, cwd, sizeof(cwd) - 1);
        if (n <= 0 || rt_path(prefix, sizeof(prefix), "%s/rigs/", rt->data_dir) < 0)
                return false;
        cwd[n] = '\0';
        size_t pl = strlen(prefix);
        if (strncmp(cwd, prefix, pl) != 0)
                return false;
        snprintf(id, RIG_ID_MAX, "%.*s", (int)strcspn(cwd + pl, "/ "), cwd + pl);
        return rt_id_valid(id);
}

/* Shims whose rig directory is gone (deleted behind rigd's back) cannot be reached through
 * their socket; found by their cwd, they are killed (their rig dies with them). */
static void kill_lost_shims(struct runtime *rt, const char *const *keep, size_t n)
{
        DIR *d = opendir("/proc");
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                char id[RIG_ID_MAX];
                if (*end || pid <= 1 || pid == getpid())
                        continue;
                int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
                if (fd < 0)
                        continue;
                /* Checked after the pidfd exists: a recycled pid fails the check or the kill. */
                if (shim_of(rt, (pid_t)pid, id) && !kept(id, keep, n)) {
                        char dir[PATH_MAX];
                        struct stat st;
                        if (rig_file(rt, id, NULL, dir, sizeof(dir)) >= 0 && stat(dir, &st) < 0 &&
                            syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0) {
                                struct pollfd p = {.fd = fd, .events = POLLIN};
                                poll(&p, 1, 5000);
                                cgroup_destroy(&B(rt)->cg, id);
                        }
                }
                close(fd);
        }
        closedir(d);
}

static int ns_reconcile(struct runtime *rt, const char *const *keep, size_t n)
{
        char dir[PATH_MAX];
        int ret = rt_path(dir, sizeof(dir), "%s/rigs", rt->data_dir);
        if (ret < 0)
                return ret;
        DIR *d = opendir(dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (rt_id_valid(de->d_name) && !kept(de->d_name, keep, n)) {
                                int r = ns_destroy(rt, de->d_name);
                                if (r < 0 && ret == 0)
                                        ret = r;
                        }
                closedir(d);
        }
        /* Cgroups are host-wide while this data dir is not: another rigd (another data dir)
         * may own rigs/<id> cgroups this one never made, so only rigs with a directory here
         * are reclaimed (ns_destroy above removes their cgroups too). */
        kill_lost_shims(rt, keep, n);
        return ret;
}

static const struct runtime_ops ns_ops = {
    .name = "ns",
    .create = ns_create,
    .start = ns_start,
    .stop = ns_stop,
    .pause = ns_pause,
    .resume = ns_resume,
    .destroy = ns_destroy,
    .status = ns_status,
    .connect = ns_connect,
    .root_fd = ns_root_fd,
    .userns_fd = ns_userns_fd,
    .reconcile = ns_reconcile,
};

int runtime_ns_open(const char *data_dir, struct runtime *out)
{
        memset(out, 0, sizeof(*out));
        struct ns_backend *b = xcalloc(1, sizeof(*b));
        int r = cgroups_detect(&b->cg);
        if (r < 0) {
                free(b);
                return r;
        }
        /* Found again at the first start if it is not there yet. */
        (void)find_shim(b->shim_path, sizeof(b->shim_path));
        out->ops = &ns_ops;
        out->backend = b;
        snprintf(out->data_dir, sizeof(out->data_dir), "%s", data_dir);
        snprintf(out->templates_dir, sizeof(out->templates_dir), "%s", RIGS_TEMPLATES_DIR);
        char rigs[PATH_MAX];
        r = rt_path(rigs, sizeof(rigs), "%s/rigs", data_dir);
        if (r >= 0 && mkdir(rigs, 0700) < 0 && errno != EEXIST)
                r = -errno;
        if (r < 0) {
                runtime_close(out);
                return r;
        }
        return 0;
}

void runtime_close(struct runtime *rt)
{
        free(rt->backend);
        rt->backend = NULL;
        rt->ops = NULL;
}
