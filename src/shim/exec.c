/* One command in the rig, in two processes so that the rig never sees a host process:
 *
 * Stage 1 is the shim's child in the host's PID namespace, invisible to the rig (forked ahead of
 * time as the "zygote" of the next exec, or on demand). It makes itself non-dumpable, keeps only
 * its stdio and the status channel (closing every other fd of the shim), joins the exec's own
 * cgroup (rigs/<id>/x<n>: a timeout kills exactly that tree), the rig's mount, net, uts, ipc and
 * cgroup namespaces and, for its children, the PID namespace, and takes rig root's host ids
 * (uid_base) keeping its capabilities.
 *
 * Stage 2 is forked by stage 1 as the shim's child (CLONE_PARENT) and is born in the rig's PID
 * namespace already as rig root; stage 1 reports its pid and pidfd to the shim and exits. Stage 2
 * joins the rig's user namespace, becomes rig root or rig user (uid/gid 1000) with host-only
 * capabilities dropped, enters the cwd, builds the environment, applies no_new_privs and the
 * seccomp filter, and execve()s argv[0], searched in the rig's PATH. Its mm was created by a
 * host-namespace process and it is non-dumpable until execve, so no rig process can trace it.
 *
 * Failures before execve are reported over the status channel ("E<errno> <message>"); a
 * successful execve closes it (CLOEXEC). With a pty, stage 2 opens the master on the rig's
 * devpts as the target user (so the terminal belongs to that user) and passes it back ("P"). */
#include "shim/shim.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <linux/securebits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>

#define RIG_UID       1000
#define EXEC_ARGV_MAX 4096
#define EXEC_ENV_MAX  4096

extern char **environ;
extern struct rlimit shim_nofile_orig;

/* ---- request ---- */

static char **strv_new(size_t n)
{
        return xcalloc(n + 1, sizeof(char *));
}

static void strv_free(char **v)
{
        if (v)
                for (char **p = v; *p; p++)
                        free(*p);
        free(v);
}

static bool clean_str(json_t *v)
{
        return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int parse_argv(json_t *a, struct exec_req *req, struct shim_err *e)
{
        if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > EXEC_ARGV_MAX)
                return shim_fail(e, EINVAL, "argv must be a non-empty array of strings");
        req->argv = strv_new(json_array_size(a));
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
                if (!clean_str(v))
                        return shim_fail(e, EINVAL, "argv must be a non-empty array of strings");
                req->argv[i] = xstrdup(json_string_value(v));
        }
        if (!req->argv[0][0])
                return shim_fail(e, EINVAL, "argv[0] is empty");
        return 0;
}

static int parse_env(json_t *o, struct exec_req *req, struct shim_err *e)
{
        if (!o || json_is_null(o)) {
                req->env = strv_new(0);
                return 0;
        }
        if (!json_is_object(o) || json_object_size(o) > EXEC_ENV_MAX)
                return shim_fail(e, EINVAL, "env must be an object of strings");
        req->env = strv_new(json_object_size(o));
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
                if (!k[0] || strchr(k, '=') || !clean_str(v))
                        return shim_fail(e, EINVAL, "env must map names (no '=') to strings");
                req->env[i++] = xasprintf("%s=%s", k, json_string_value(v));
        }
        return 0;
}

static int parse_opts(json_t *o, struct exec_req *req, struct shim_err *e)
{
        json_t *v = json_object_get(o, "cwd");
        if (v && !json_is_null(v)) {
                if (!clean_str(v) || json_string_value(v)[0] != '/')
                        return shim_fail(e, EINVAL, "cwd must be an absolute path");
                req->cwd = xstrdup(json_string_value(v));
        } else {
                req->cwd = xstrdup("/home/user");
        }
        const char *user = json_string_value(json_object_get(o, "user"));
        if (user && !streq(user, "user") && !streq(user, "root"))
                return shim_fail(e, EINVAL, "user must be \"user\" or \"root\"");
        req->root = user && streq(user, "root");
        v = json_object_get(o, "timeout_s");
        if (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0))
                return shim_fail(e, EINVAL, "timeout_s must be a non-negative integer");
        req->timeout_s = v ? json_integer_value(v) : 0;
        req->pty = json_is_true(json_object_get(o, "pty"));
        json_int_t cols = json_integer_value(json_object_get(o, "cols"));
        json_int_t rows = json_integer_value(json_object_get(o, "rows"));
        req->cols = (unsigned short)(cols > 0 && cols < 10000 ? cols : 80);
        req->rows = (unsigned short)(rows > 0 && rows < 10000 ? rows : 24);
        return 0;
}

int exec_req_parse(const char *json, size_t len, struct exec_req *req, struct shim_err *e)
{
        memset(req, 0, sizeof(*req));
        json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
        int r = json_is_object(o) ? 0 : shim_fail(e, EINVAL, "the request is not a JSON object");
        if (r == 0)
                r = parse_argv(json_object_get(o, "argv"), req, e);
        if (r == 0)
                r = parse_env(json_object_get(o, "env"), req, e);
        if (r == 0)
                r = parse_opts(o, req, e);
        json_decref(o);
        if (r < 0)
                exec_req_free(req);
        return r;
}

void exec_req_free(struct exec_req *req)
{
        strv_free(req->argv);
        strv_free(req->env);
        free(req->cwd);
        memset(req, 0, sizeof(*req));
}

/* ---- the child ---- */

__attribute__((noreturn)) static void child_fail(int status, int err, const char *fmt, ...)
    _printf_(3, 4);

__attribute__((noreturn)) static void child_fail(int status, int err, const char *fmt, ...)
{
        char msg[512];
        int n = snprintf(msg, sizeof(msg), "E%d ", err);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
        va_end(ap);
        ssize_t w = send(status, msg, strlen(msg), MSG_NOSIGNAL);
        (void)w;
        _exit(127);
}

/* Sets KEY=VALUE in env (n entries, room for more), replacing an entry with the same key. */
static void env_set(char **env, size_t *n, const char *kv)
{
        size_t klen = (size_t)(strchr(kv, '=') - kv);
        for (size_t i = 0; i < *n; i++)
                if (strncmp(env[i], kv, klen + 1) == 0) {
                        env[i] = (char *)kv;
                        return;
                }
        env[(*n)++] = (char *)kv;
}

static char **build_env(const struct shim *s, const struct exec_req *req)
{
        size_t cap = 16, n = 0;
        for (char **p = s->cfg.spec.env; p && *p; p++)
                cap++;
        for (char **p = req->env; p && *p; p++)
                cap++;
        char **env = xcalloc(cap + 1, sizeof(char *));
        env_set(env, &n, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env_set(env, &n, req->root ? "HOME=/root" : "HOME=/home/user");
        env_set(env, &n, req->root ? "USER=root" : "USER=user");
        env_set(env, &n, req->root ? "LOGNAME=root" : "LOGNAME=user");
        env_set(env, &n, "SHELL=/bin/bash");
        env_set(env, &n, xasprintf("HOSTNAME=%s", s->cfg.spec.hostname));
        env_set(env, &n, "TERM=xterm-256color");
        env_set(env, &n, "LANG=C.UTF-8");
        for (char **p = s->cfg.spec.env; p && *p; p++)
                env_set(env, &n, *p);
        for (char **p = req->env; p && *p; p++)
                env_set(env, &n, *p);
        env[n] = NULL;
        return env;
}

/* Closes every fd but 0-2, the status channel and the rig's namespace fds. */
static void close_other_fds(const struct shim *s, int status)
{
        int keep[NS_COUNT + 1];
        size_t n = 0;
        keep[n++] = status;
        for (int i = 0; i < NS_COUNT; i++)
                keep[n++] = s->ns_fd[i];
        /* Sort, then close the gaps. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
                        int t = keep[j];
                        keep[j] = keep[j - 1];
                        keep[j - 1] = t;
                }
        unsigned from = 3;
        for (size_t i = 0; i < n; i++) {
                if ((unsigned)keep[i] > from)
                        close_range(from, (unsigned)keep[i] - 1, 0);
                if ((unsigned)keep[i] + 1 > from)
                        from = (unsigned)keep[i] + 1;
        }
        close_range(from, ~0U, 0);
}

/* Stage 1, in the host's PID namespace (the rig cannot see it): joins the exec's cgroup and
 * every rig namespace but the user namespace, and takes rig root's host uid/gid (uid_base) while
 * it keeps its capabilities, so that the process it forks is never a host-root process in the
 * rig's PID namespace: it is rig root from birth, and still non-dumpable with a host-owned mm
 * (no rig process can trace or inspect it). */
static void stage1_join(const struct shim *s, const char *sub, int status)
{
        int fds[4];
        int r = sub ? fastcg_open(&s->cg, s->cfg.spec.id, sub, fds) : 0;
        if (r > 0)
                r = fastcg_join(fds, r);
        else if (sub)
                r = cgroup_attach(&s->cg, s->cfg.spec.id, sub, 0);
        if (r < 0)
                child_fail(status, -r, "cannot join the exec's cgroup: %s", strerror(-r));
        static const int types[NS_COUNT] = {
            [NS_MNT] = CLONE_NEWNS,  [NS_NET] = CLONE_NEWNET,       [NS_UTS] = CLONE_NEWUTS,
            [NS_IPC] = CLONE_NEWIPC, [NS_CGROUP] = CLONE_NEWCGROUP, [NS_PID] = CLONE_NEWPID,
        };
        for (int i = 0; i < NS_COUNT; i++) {
                if (i == NS_USER)
                        continue;
                if (setns(s->ns_fd[i], types[i]) < 0)
                        child_fail(status, errno, "cannot join the rig's namespaces: %m");
                close(s->ns_fd[i]);
        }
        gid_t base = s->cfg.spec.uid_base;
        if (setgroups(0, NULL) < 0 || setresgid(base, base, base) < 0 ||
            prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0 ||
            setresuid(base, base, base) < 0)
                child_fail(status, errno, "cannot take the rig's ids: %m");
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Stage 2, born in the rig's PID namespace: enters the rig's user namespace as rig root. */
static void stage2_enter(const struct shim *s, int status)
{
        if (setns(s->ns_fd[NS_USER], CLONE_NEWUSER) < 0)
                child_fail(status, errno, "cannot join the rig's user namespace: %m");
        close(s->ns_fd[NS_USER]);
        /* Capabilities follow uid changes again from here on. */
        if (prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) < 0 || setresgid(0, 0, 0) < 0 ||
            setresuid(0, 0, 0) < 0)
                child_fail(status, errno, "cannot become rig root: %m");
}

static void become_user(const struct exec_req *req, int status)
{
        gid_t id = req->root ? 0 : RIG_UID;
        if (setresgid(id, id, id) < 0 || setgroups(1, &id) < 0)
                child_fail(status, errno, "cannot set the group: %m");
        shim_drop_host_caps();
        if (setresuid(id, id, id) < 0)
                child_fail(status, errno, "cannot set the user: %m");
}

/* Opens a pty on the rig's devpts as the target user, hands the master to the shim and makes
 * the slave the controlling terminal and stdio. */
static void setup_pty(const struct exec_req *req, int status)
{
        int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (m < 0)
                child_fail(status, errno, "cannot open a pty: %m");
        int unlock = 0;
        struct winsize ws = {.ws_row = req->rows, .ws_col = req->cols};
        if (ioctl(m, TIOCSPTLCK, &unlock) < 0 || ioctl(m, TIOCSWINSZ, &ws) < 0)
                child_fail(status, errno, "cannot set up the pty: %m");
        int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (sl < 0)
                child_fail(status, errno, "cannot open the pty's terminal: %m");
        char msg[] = "P";
        struct iovec iov = {msg, 1};
        union {
                char b[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof(u));
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &m, sizeof(int));
        if (sendmsg(status, &mh, MSG_NOSIGNAL) < 0)
                _exit(127);
        close(m);
        if (dup2(sl, 0) < 0 || dup2(sl, 1) < 0 || dup2(sl, 2) < 0)
                child_fail(status, errno, "dup2: %m");
        if (sl > 2)
                close(sl);
        if (ioctl(0, TIOCSCTTY, 0) < 0)
                child_fail(status, errno, "cannot set the controlling terminal: %m");
}

static void reset_process(void)
{
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setrlimit(RLIMIT_NOFILE, &shim_nofile_orig);
        umask(022);
}

/* Everything that does not depend on the request: runs ahead of time in a zygote. */
static void prepare(const struct shim *s, const char *sub, int status)
{
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        reset_process();
        close_other_fds(s, status);
        stage1_join(s, sub, status);
}

__attribute__((noreturn)) static void finish(const struct shim *s, const struct exec_req *req,
                                             int status)
{
        become_user(req, status);
        if (chdir(req->cwd) < 0)
                child_fail(status, errno, "cwd %s: %m", req->cwd);
        if (setsid() < 0)
                child_fail(status, errno, "setsid: %m");
        if (req->pty)
                setup_pty(req, status);
        char **env = build_env(s, req);
        int r = filter_apply(&s->filter);
        if (r < 0)
                child_fail(status, -r, "seccomp: %s", strerror(-r));
        environ = env;
        execvp(req->argv[0], req->argv);
        int err = errno;
        if (err == ENOENT)
                child_fail(status, err, "%s: command not found", req->argv[0]);
        child_fail(status, err, "%s: %s", req->argv[0], strerror(err));
}

static void zygote_receive(int chan, struct exec_req *req);

/* Stage 2: joins the rig's user namespace; a zygote (req NULL) then waits for its request. */
__attribute__((noreturn)) static void stage2_main(const struct shim *s, const struct exec_req *req,
                                                  int status)
{
        stage2_enter(s, status);
        if (req)
                finish(s, req, status);
        prctl(PR_SET_NAME, "rig-exec", 0, 0, 0);
        if (send(status, "R", 1, MSG_NOSIGNAL) < 0)
                _exit(0);
        struct exec_req r;
        zygote_receive(status, &r);
        finish(s, &r, status);
}

/* Forks the rig's process as a child of the shim (CLONE_PARENT), tells the shim its pid and
 * pidfd ("B <pid>"), and leaves. */
__attribute__((noreturn)) static void spawn_stage2(const struct shim *s, const struct exec_req *req,
                                                   int status)
{
        int pidfd = -1;
        bool placed;
        pid_t pid = fastcg_clone(CLONE_PARENT, -1, &pidfd, &placed);
        if (pid == 0)
                stage2_main(s, req, status);
        if (pid < 0)
                child_fail(status, errno, "cannot fork: %m");
        char msg[32];
        snprintf(msg, sizeof(msg), "B %d", (int)pid);
        struct iovec iov = {msg, strlen(msg)};
        union {
                char b[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof(u));
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
        if (sendmsg(status, &mh, MSG_NOSIGNAL) < 0)
                kill(pid, SIGKILL); /* the shim is gone */
        _exit(0);
}

void exec_child(const struct shim *s, const struct exec_req *req, const char *sub,
                const struct exec_child_fds *fds)
{
        if (!req->pty && (dup2(fds->in, 0) < 0 || dup2(fds->out, 1) < 0 || dup2(fds->err, 2) < 0))
                child_fail(fds->status, errno, "dup2: %m");
        prepare(s, sub, fds->status);
        spawn_stage2(s, req, fds->status);
}

/* Receives the request: "J" + its JSON, with the three stdio pipe ends unless it is a pty. */
static void zygote_receive(int chan, struct exec_req *req)
{
        char *msg = xmalloc(SHIM_ZYGOTE_MSG_MAX + 1);
        int fds[3] = {-1, -1, -1};
        union {
                char b[CMSG_SPACE(sizeof(fds))];
                struct cmsghdr align;
        } u;
        struct iovec iov = {msg, SHIM_ZYGOTE_MSG_MAX};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
        ssize_t n;
        do
                n = recvmsg(chan, &mh, 0);
        while (n < 0 && errno == EINTR);
        if (n <= 1 || msg[0] != 'J')
                _exit(0); /* the shim let us go */
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(fds)))
                memcpy(fds, CMSG_DATA(c), sizeof(fds));
        struct shim_err e;
        if (exec_req_parse(msg + 1, (size_t)n - 1, req, &e) < 0)
                child_fail(chan, e.code, "%s", e.msg);
        free(msg);
        if (req->pty)
                return;
        /* 0-2 are still the shim's (never a rig's), so the passed fds sit above them. */
        for (int i = 0; i < 3; i++)
                if (fds[i] < 3 || dup2(fds[i], i) < 0)
                        child_fail(chan, EBADF, "bad stdio for the exec");
        for (int i = 0; i < 3; i++)
                close(fds[i]);
}

void zygote_main(const struct shim *s, const char *sub, int chan)
{
        prepare(s, sub, chan);
        spawn_stage2(s, NULL, chan);
}
