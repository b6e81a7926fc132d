/* The shim's event loop: one thread, poll(2) over the listening socket, PID 1's pidfd, a
 * signalfd, and per connection its socket plus (for an exec) the child's pidfd, status channel
 * and stdio pipes or pty master.
 *
 * Flow control: an exec's output pipe is read only while the connection has nothing queued, so
 * at most one frame (OUT_CHUNK bytes) per exec waits in the shim; a slow reader stalls the
 * command, never the shim's memory. Likewise the connection is read only while no stdin bytes
 * wait for the command. */
#include "shim/shim.h"

#include "base/buf.h"
#include "runtime/shimproto.h"

#include <fcntl.h>
#include <jansson.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#define OUT_CHUNK       (32u * 1024)
#define MAX_CONNS       512
#define LINGER_RETRY_MS 10000
#define ZYGOTE_IDLE_MS  2 /* quiet this long: time to fork the next exec's zygote */

struct exec {
        struct exec_req req;
        char sub[16]; /* its cgroup, "x<n>" */
        pid_t pid;
        int pidfd;
        int status_fd;      /* until the child has exec'd */
        int in_fd;          /* stdin pipe (write end); -1 once closed */
        int out_fd, err_fd; /* output pipes, or out_fd = the pty master */
        bool exited;
        int wstatus;
        bool timed_out;
        bool refused;     /* the child reported an error before execve */
        int64_t deadline; /* ms; 0: none */
        char *pending;    /* stdin bytes the command has not taken yet */
        size_t pending_len, pending_off;
        bool close_in; /* close stdin once pending is written */
};

enum conn_state { C_REQ, C_EXEC, C_DONE };

struct conn {
        struct conn *next;
        int fd;
        enum conn_state state;
        uint8_t hdr[SHIM_HDR_LEN];
        size_t hdr_got;
        char *payload;
        uint32_t plen, pgot;
        bool in_eof;    /* the client will send nothing more */
        struct buf out; /* frames not yet written */
        size_t out_off;
        bool dead;      /* drop at the end of this iteration */
        bool keep_open; /* the stop request: its client waits for EOF at the shim's exit */
        struct exec *ex;
};

int64_t shim_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
        if (*fd >= 0) {
                close(*fd);
                *fd = -1;
        }
}

/* ---- output ---- */

static void queue_frame(struct conn *c, char type, const void *p, size_t len)
{
        uint8_t hdr[SHIM_HDR_LEN];
        shim_hdr(hdr, type, (uint32_t)len);
        buf_append(&c->out, hdr, sizeof(hdr));
        if (len)
                buf_append(&c->out, p, len);
}

static void queue_json(struct conn *c, char type, json_t *o)
{
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (s)
                queue_frame(c, type, s, strlen(s));
        free(s);
}

static void queue_error(struct conn *c, int code, const char *msg)
{
        queue_json(c, SF_JSON, json_pack("{s:b,s:i,s:s}", "ok", 0, "errno", code, "message", msg));
}

static bool out_empty(const struct conn *c)
{
        return c->out_off >= c->out.len;
}

static void flush_out(struct conn *c)
{
        while (!out_empty(c)) {
                ssize_t w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                c->dead = true;
                        return;
                }
                c->out_off += (size_t)w;
        }
        /* Keep no buffer around between frames: an idle shim stays small. */
        buf_free(&c->out);
        c->out_off = 0;
}

/* ---- exec lifecycle ---- */

static void linger_add(struct shim *s, const char *sub)
{
        if (s->nlingering == 0)
                s->linger_at = shim_now_ms() + LINGER_RETRY_MS;
        s->lingering = xrealloc(s->lingering, (s->nlingering + 1) * sizeof(char *));
        s->lingering[s->nlingering++] = xstrdup(sub);
}

/* Removes exec cgroups whose background processes have ended. */
static void linger_sweep(struct shim *s)
{
        size_t j = 0;
        for (size_t i = 0; i < s->nlingering; i++) {
                if (cgroup_destroy_sub(&s->cg, s->cfg.spec.id, s->lingering[i]) == -EBUSY)
                        s->lingering[j++] = s->lingering[i];
                else
                        free(s->lingering[i]);
        }
        s->nlingering = j;
}

static void reap(struct exec *ex, bool block)
{
        if (ex->exited || ex->pidfd < 0)
                return;
        siginfo_t si = {0};
        if (waitid((idtype_t)P_PIDFD, (id_t)ex->pidfd, &si, WEXITED | (block ? 0 : WNOHANG)) < 0)
                return;
        if (si.si_pid == 0)
                return;
        ex->exited = true;
        ex->wstatus = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        if (si.si_code != CLD_EXITED)
                ex->wstatus |= 1 << 16; /* marks "killed by signal" */
}

/* Reaps pidfd's process now if it has exited, else once it does (it may sit in a frozen cgroup
 * for a while). */
static void reap_later(struct shim *s, int pidfd)
{
        siginfo_t si = {0};
        if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid) {
                close(pidfd);
                return;
        }
        s->reapq = xrealloc(s->reapq, (s->nreapq + 1) * sizeof(int));
        s->reapq[s->nreapq++] = pidfd;
}

static void reap_event(struct shim *s, int pidfd)
{
        for (size_t i = 0; i < s->nreapq; i++)
                if (s->reapq[i] == pidfd) {
                        siginfo_t si;
                        waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
                        close(pidfd);
                        s->reapq[i] = s->reapq[--s->nreapq];
                        return;
                }
}

static bool known_child(struct shim *s, pid_t pid)
{
        if (pid == s->init_pid || pid == s->zygote.pid)
                return true;
        for (struct conn *c = s->conns; c; c = c->next)
                if (c->ex && c->ex->pid == pid && !c->ex->exited)
                        return true;
        return false;
}

/* Reaps exited children of the shim that no exec tracks any more. */
static void reap_orphans(struct shim *s)
{
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return;
        buf[n] = '\0';
        for (char *p = buf, *end; *p; p = end) {
                long pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                siginfo_t si = {0};
                if (pid > 0 && !known_child(s, (pid_t)pid))
                        waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG);
        }
}

/* Kills every process of an exec. A paused rig's processes cannot die before the thaw (and
 * waiting for them would hang the shim): the main one gets its SIGKILL now, the cgroup is killed
 * at the resume. */
static void kill_tree(struct shim *s, struct exec *ex)
{
        if (!s->paused) {
                cgroup_kill(&s->cg, s->cfg.spec.id, ex->sub);
                return;
        }
        if (ex->pidfd >= 0)
                syscall(SYS_pidfd_send_signal, ex->pidfd, SIGKILL, NULL, 0);
        s->doomed = xrealloc(s->doomed, (s->ndoomed + 1) * sizeof(char *));
        s->doomed[s->ndoomed++] = xstrdup(ex->sub);
}

/* After a thaw: the trees killed while paused. */
static void kill_doomed(struct shim *s)
{
        for (size_t i = 0; i < s->ndoomed; i++) {
                cgroup_kill(&s->cg, s->cfg.spec.id, s->doomed[i]);
                free(s->doomed[i]);
        }
        free(s->doomed);
        s->doomed = NULL;
        s->ndoomed = 0;
}

static void exec_free(struct shim *s, struct exec *ex)
{
        if (!ex)
                return;
        if (!ex->exited && ex->pidfd >= 0) {
                /* The client left or the command never started: end the whole tree. */
                kill_tree(s, ex);
                if (s->paused) {
                        reap_later(s, TAKE_FD(ex->pidfd));
                } else {
                        reap(ex, true);
                        /* A stage 1 killed between forking stage 2 and reporting it leaves
                         * that child unknown to us. */
                        reap_orphans(s);
                }
        }
        close_fd(&ex->pidfd);
        close_fd(&ex->status_fd);
        close_fd(&ex->in_fd);
        close_fd(&ex->out_fd);
        close_fd(&ex->err_fd);
        free(ex->pending);
        if (ex->sub[0] && cgroup_destroy_sub(&s->cg, s->cfg.spec.id, ex->sub) == -EBUSY)
                linger_add(s, ex->sub);
        exec_req_free(&ex->req);
        free(ex);
}

static void conn_free(struct shim *s, struct conn *c)
{
        exec_free(s, c->ex);
        if (!c->keep_open)
                close_fd(&c->fd);
        free(c->payload);
        buf_free(&c->out);
        free(c);
}

static int make_pipes(struct exec *ex, struct exec_child_fds *cf)
{
        int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, st[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, st) < 0)
                return -errno;
        ex->status_fd = st[0];
        cf->status = st[1];
        cf->in = cf->out = cf->err = -1;
        if (ex->req.pty)
                return 0;
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                int e = -errno;
                for (int i = 0; i < 2; i++) {
                        close_fd(&in[i]);
                        close_fd(&out[i]);
                }
                close_fd(&cf->status); /* ex->status_fd goes with the exec */
                return e;
        }
        ex->in_fd = in[1];
        ex->out_fd = out[0];
        ex->err_fd = err[0];
        cf->in = in[0];
        cf->out = out[1];
        cf->err = err[1];
        fcntl(ex->in_fd, F_SETFL, O_NONBLOCK);
        fcntl(ex->out_fd, F_SETFL, O_NONBLOCK);
        fcntl(ex->err_fd, F_SETFL, O_NONBLOCK);
        return 0;
}

static void close_child_fds(struct exec_child_fds *cf)
{
        close_fd(&cf->status);
        close_fd(&cf->in);
        close_fd(&cf->out);
        close_fd(&cf->err);
}

/* Forks a child born in the exec cgroup `sub` where the kernel can do that (v2); *sub_out is
 * what the child must still join itself (NULL: nothing). */
static pid_t fork_into(struct shim *s, const char *sub, int *pidfd, const char **sub_out)
{
        int cfd = fastcg_dirfd(&s->cg, s->cfg.spec.id, sub);
        bool placed;
        pid_t pid = fastcg_clone(0, cfd, pidfd, &placed);
        if (cfd >= 0 && pid != 0)
                close(cfd);
        *sub_out = placed ? NULL : sub;
        return pid;
}

/* Receives one status-channel message (NUL-terminated) and at most one fd. Returns its length, 0
 * at EOF, or -errno (-EAGAIN: nothing there). */
static ssize_t recv_status(int fd, char *msg, size_t len, int *passed)
{
        union {
                char b[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = {msg, len - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
        *passed = -1;
        ssize_t n;
        do
                n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(passed, CMSG_DATA(cm), sizeof(int));
        msg[n] = '\0';
        return n;
}

/* ---- zygote: the next exec's process, forked and placed ahead of time ---- */

static void zygote_spawn(struct shim *s)
{
        if (s->zygote.pid > 0 || s->stopping || s->paused || shim_now_ms() < s->zygote.retry_at)
                return;
        char sub[16];
        snprintf(sub, sizeof(sub), "x%u", ++s->exec_seq);
        if (cgroup_create_sub(&s->cg, s->cfg.spec.id, sub) < 0)
                return;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                cgroup_destroy_sub(&s->cg, s->cfg.spec.id, sub);
                return;
        }
        int pidfd = -1;
        const char *join;
        pid_t pid = fork_into(s, sub, &pidfd, &join);
        if (pid == 0) {
                close(sv[0]);
                zygote_main(s, join, sv[1]);
        }
        close(sv[1]);
        if (pid < 0) {
                close(sv[0]);
                cgroup_destroy_sub(&s->cg, s->cfg.spec.id, sub);
                return;
        }
        s->zygote.pid = pid;
        s->zygote.pidfd = pidfd;
        s->zygote.chan = sv[0];
        s->zygote.ready = false;
        snprintf(s->zygote.sub, sizeof(s->zygote.sub), "%s", sub);
}

/* Ends the zygote (it died, or the shim stops). */
static void zygote_drop(struct shim *s)
{
        if (s->zygote.pid <= 0)
                return;
        syscall(SYS_pidfd_send_signal, s->zygote.pidfd, SIGKILL, NULL, 0);
        siginfo_t si;
        waitid((idtype_t)P_PIDFD, (id_t)s->zygote.pidfd, &si, WEXITED);
        close_fd(&s->zygote.pidfd);
        close_fd(&s->zygote.chan);
        if (cgroup_destroy_sub(&s->cg, s->cfg.spec.id, s->zygote.sub) == -EBUSY)
                linger_add(s, s->zygote.sub);
        s->zygote.pid = 0;
        s->zygote.ready = false;
}

/* It died or could not set up: execs go the direct way for a while. */
static void zygote_failed(struct shim *s)
{
        zygote_drop(s);
        s->zygote.retry_at = shim_now_ms() + 1000;
}

/* Messages of the zygote: "B <pid>" with the pidfd of stage 2 (which replaces stage 1, now
 * leaving), then "R" once it is ready. Returns false when the zygote failed. */
static bool zygote_messages(struct shim *s)
{
        for (;;) {
                char msg[64];
                int passed = -1;
                ssize_t n = recv_status(s->zygote.chan, msg, sizeof(msg), &passed);
                if (n == -EAGAIN)
                        return true;
                if (n > 2 && msg[0] == 'B' && passed >= 0) {
                        reap_later(s, s->zygote.pidfd);
                        s->zygote.pidfd = passed;
                        s->zygote.pid = (pid_t)atoi(msg + 2);
                        continue;
                }
                if (passed >= 0)
                        close(passed);
                if (n == 1 && msg[0] == 'R') {
                        s->zygote.ready = true;
                        continue;
                }
                return false; /* EOF or an error report: it could not set up */
        }
}

static void zygote_event(struct shim *s)
{
        if (!zygote_messages(s))
                zygote_failed(s);
}

/* Its pidfd fired: stage 1 left (normal, once it reported stage 2) or stage 2 died. */
static void zygote_exit_event(struct shim *s)
{
        if (!zygote_messages(s)) {
                zygote_failed(s);
                return;
        }
        struct pollfd p = {.fd = s->zygote.pidfd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0)
                zygote_failed(s);
}

/* Hands the request to the ready zygote; it becomes the exec's process. */
static int zygote_take(struct shim *s, struct exec *ex, struct conn *c, struct exec_child_fds *cf)
{
        char *msg = xmalloc(c->plen + 1);
        msg[0] = 'J';
        memcpy(msg + 1, c->payload, c->plen);
        int fds[3] = {cf->in, cf->out, cf->err};
        union {
                char b[CMSG_SPACE(sizeof(fds))];
                struct cmsghdr align;
        } u;
        memset(&u, 0, sizeof(u));
        struct iovec iov = {msg, c->plen + 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (!ex->req.pty) {
                mh.msg_control = u.b;
                mh.msg_controllen = sizeof(u.b);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(fds));
                memcpy(CMSG_DATA(cm), fds, sizeof(fds));
        }
        ssize_t w = sendmsg(s->zygote.chan, &mh, MSG_NOSIGNAL);
        free(msg);
        if (w < 0) {
                zygote_drop(s);
                return -1;
        }
        close_fd(&ex->status_fd);
        ex->pid = s->zygote.pid;
        ex->pidfd = TAKE_FD(s->zygote.pidfd);
        ex->status_fd = TAKE_FD(s->zygote.chan);
        snprintf(ex->sub, sizeof(ex->sub), "%s", s->zygote.sub);
        s->zygote.pid = 0;
        s->zygote.ready = false;
        return 0;
}

static int spawn(struct shim *s, struct conn *c, struct exec *ex, struct shim_err *e)
{
        struct exec_child_fds cf;
        int r = make_pipes(ex, &cf);
        if (r < 0)
                return shim_fail(e, -r, "cannot create pipes: %s", strerror(-r));
        if (s->zygote.ready && zygote_take(s, ex, c, &cf) == 0) {
                close_fd(&cf.status);
                close_child_fds(&cf);
                goto started;
        }
        snprintf(ex->sub, sizeof(ex->sub), "x%u", ++s->exec_seq);
        r = cgroup_create_sub(&s->cg, s->cfg.spec.id, ex->sub);
        if (r < 0) {
                ex->sub[0] = '\0';
                close_child_fds(&cf);
                return shim_fail(e, -r, "cannot create the exec's cgroup: %s", strerror(-r));
        }
        const char *join;
        ex->pid = fork_into(s, ex->sub, &ex->pidfd, &join);
        if (ex->pid < 0) {
                r = errno;
                close_child_fds(&cf);
                return shim_fail(e, r, "cannot fork: %s", strerror(r));
        }
        if (ex->pid == 0)
                exec_child(s, &ex->req, join, &cf);
        close_child_fds(&cf);
started:
        if (ex->req.timeout_s > 0)
                ex->deadline = shim_now_ms() + ex->req.timeout_s * 1000;
        return 0;
}

static void start_exec(struct shim *s, struct conn *c)
{
        struct shim_err e = {0};
        struct exec *ex = xcalloc(1, sizeof(*ex));
        ex->pidfd = ex->status_fd = ex->in_fd = ex->out_fd = ex->err_fd = -1;
        c->ex = ex;
        int r;
        if (s->paused)
                r = shim_fail(&e, EBUSY, "the rig is paused");
        else if (s->stopping)
                r = shim_fail(&e, ESHUTDOWN, "the rig is stopping");
        else
                r = exec_req_parse(c->payload, c->plen, &ex->req, &e);
        if (r == 0)
                r = spawn(s, c, ex, &e);
        if (r < 0) {
                queue_error(c, e.code, e.msg);
                c->state = C_DONE;
                return;
        }
        c->state = C_EXEC;
}

/* ---- requests ---- */

static void reply_ok(struct conn *c, json_t *extra)
{
        json_t *o = extra ? extra : json_object();
        json_object_set_new(o, "ok", json_true());
        queue_json(c, SF_JSON, o);
        c->state = C_DONE;
}

static void do_pause(struct shim *s, struct conn *c, bool pause)
{
        int r = pause ? cgroup_freeze(&s->cg, s->cfg.spec.id) : cgroup_thaw(&s->cg, s->cfg.spec.id);
        if (r < 0) {
                queue_error(c, -r, pause ? "cannot freeze the rig" : "cannot thaw the rig");
                c->state = C_DONE;
                return;
        }
        s->paused = pause;
        if (!pause)
                kill_doomed(s);
        reply_ok(c, NULL);
}

static void handle_request(struct shim *s, struct conn *c)
{
        json_t *o = json_loadb(c->payload, c->plen, 0, NULL);
        const char *op = json_string_value(json_object_get(o, "op"));
        if (!op) {
                queue_error(c, EINVAL, "a request needs an op");
                c->state = C_DONE;
        } else if (streq(op, "ping")) {
                reply_ok(c, json_pack("{s:i,s:I,s:s}", "init_pid", (int)s->init_pid, "started_at",
                                      (json_int_t)s->started_at, "state",
                                      s->paused ? "paused" : "running"));
        } else if (streq(op, "exec")) {
                start_exec(s, c);
        } else if (streq(op, "pause") || streq(op, "resume")) {
                do_pause(s, c, streq(op, "pause"));
        } else if (streq(op, "stop")) {
                reply_ok(c, NULL);
                c->keep_open = true;
                s->stopping = true;
        } else {
                queue_error(c, EINVAL, "unknown op");
                c->state = C_DONE;
        }
        json_decref(o);
}

/* Reads (part of) one frame; returns 1 when a frame is complete, 0 if more is needed, -1 at EOF
 * or on an error (c->in_eof / c->dead set). */
static int read_frame(struct conn *c)
{
        while (c->hdr_got < SHIM_HDR_LEN) {
                ssize_t n = read(c->fd, c->hdr + c->hdr_got, SHIM_HDR_LEN - c->hdr_got);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : (c->dead = true, -1);
                if (n == 0) {
                        c->in_eof = true;
                        return -1;
                }
                c->hdr_got += (size_t)n;
                if (c->hdr_got == SHIM_HDR_LEN) {
                        char type;
                        if (shim_hdr_parse(c->hdr, &type, &c->plen) < 0) {
                                c->dead = true;
                                return -1;
                        }
                        free(c->payload);
                        c->payload = xmalloc(c->plen + 1);
                        c->pgot = 0;
                }
        }
        while (c->pgot < c->plen) {
                ssize_t n = read(c->fd, c->payload + c->pgot, c->plen - c->pgot);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : (c->dead = true, -1);
                if (n == 0) {
                        c->dead = true;
                        return -1;
                }
                c->pgot += (uint32_t)n;
        }
        c->payload[c->plen] = '\0';
        c->hdr_got = 0;
        return 1;
}

/* ---- exec input ---- */

static void stdin_write(struct exec *ex)
{
        while (ex->in_fd >= 0 && ex->pending_off < ex->pending_len) {
                ssize_t w = write(ex->in_fd, ex->pending + ex->pending_off,
                                  ex->pending_len - ex->pending_off);
                if (w < 0) {
                        if (errno == EAGAIN)
                                return;
                        if (errno == EINTR)
                                continue;
                        /* EPIPE: the command does not read any more; drop the rest. */
                        ex->pending_off = ex->pending_len;
                        if (!ex->req.pty)
                                close_fd(&ex->in_fd);
                        break;
                }
                ex->pending_off += (size_t)w;
        }
        free(ex->pending);
        ex->pending = NULL;
        ex->pending_len = ex->pending_off = 0;
        if (ex->close_in && !ex->req.pty)
                close_fd(&ex->in_fd);
}

static void signal_exec(struct shim *s, struct exec *ex, const char *p, uint32_t n)
{
        json_t *o = json_loadb(p, n, 0, NULL);
        json_int_t sig = json_integer_value(json_object_get(o, "signal"));
        json_decref(o);
        if (sig <= 0 || sig >= 65 || ex->exited)
                return;
        if (sig == SIGKILL)
                kill_tree(s, ex);
        else
                kill(-ex->pid, (int)sig); /* its session's process group */
}

static void resize_exec(struct exec *ex, const char *p, uint32_t n)
{
        json_t *o = json_loadb(p, n, 0, NULL);
        json_int_t cols = json_integer_value(json_object_get(o, "cols"));
        json_int_t rows = json_integer_value(json_object_get(o, "rows"));
        json_decref(o);
        if (!ex->req.pty || ex->out_fd < 0 || cols <= 0 || rows <= 0 || cols > 9999 || rows > 9999)
                return;
        struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
        ioctl(ex->out_fd, TIOCSWINSZ, &ws);
}

static void exec_input(struct shim *s, struct conn *c)
{
        struct exec *ex = c->ex;
        if (ex->req.pty && ex->out_fd < 0 && ex->status_fd >= 0)
                return;
        while (!ex->pending && !c->dead && !c->in_eof) {
                int r = read_frame(c);
                if (r <= 0)
                        break;
                char type = (char)c->hdr[0];
                if (type == SF_STDIN) {
                        if (ex->in_fd < 0 || ex->close_in || c->plen == 0)
                                continue;
                        ex->pending = TAKE_PTR(c->payload);
                        ex->pending_len = c->plen;
                        ex->pending_off = 0;
                        stdin_write(ex);
                } else if (type == SF_STDIN_CLOSE) {
                        ex->close_in = true;
                        if (!ex->req.pty)
                                close_fd(&ex->in_fd);
                } else if (type == SF_RESIZE) {
                        resize_exec(ex, c->payload, c->plen);
                } else if (type == SF_KILL) {
                        signal_exec(s, ex, c->payload, c->plen);
                } else {
                        c->dead = true;
                }
        }
        if (c->in_eof && !ex->req.pty && !ex->pending)
                close_fd(&ex->in_fd);
}

/* ---- exec output and status ---- */

/* Reads one chunk of a stream into a frame; at EOF (or EIO from a pty whose terminal is gone)
 * or, once the command has exited, when nothing more is there, the stream is closed. */
static void pump(struct conn *c, int *fd, char type, bool draining)
{
        char *chunk = xmalloc(OUT_CHUNK);
        ssize_t n;
        do
                n = read(*fd, chunk, OUT_CHUNK);
        while (n < 0 && errno == EINTR);
        if (n > 0)
                queue_frame(c, type, chunk, (size_t)n);
        else if (n == 0 || errno != EAGAIN || draining)
                close_fd(fd);
        free(chunk);
}

static void read_status(struct shim *s, struct conn *c)
{
        struct exec *ex = c->ex;
        char msg[600];
        int passed;
        ssize_t n = recv_status(ex->status_fd, msg, sizeof(msg), &passed);
        if (n == -EAGAIN)
                return;
        if (n <= 0) {
                close_fd(&ex->status_fd); /* execve happened (or the child died) */
                return;
        }
        if (msg[0] == 'B' && passed >= 0) {
                /* Stage 1 forked the rig's process as our child and leaves now. */
                reap_later(s, ex->pidfd);
                ex->pidfd = passed;
                ex->pid = (pid_t)atoi(msg + 2);
                return;
        }
        if (msg[0] == 'P' && passed >= 0 && ex->req.pty && ex->out_fd < 0) {
                /* Only a real pty master answers TIOCGPTN. */
                unsigned ptn;
                if (ioctl(passed, TIOCGPTN, &ptn) == 0) {
                        fcntl(passed, F_SETFL, O_NONBLOCK);
                        ex->out_fd = passed;
                        ex->in_fd = fcntl(passed, F_DUPFD_CLOEXEC, 3);
                        return;
                }
        }
        if (passed >= 0 && passed != ex->out_fd)
                close(passed);
        if (msg[0] == 'E') {
                char *sp = strchr(msg, ' ');
                int code = atoi(msg + 1);
                queue_error(c, code > 0 ? code : EIO, sp ? sp + 1 : "the command failed to start");
                ex->refused = true;
                c->state = C_DONE;
                close_fd(&ex->status_fd);
        }
}

/* Once the command has exited (and execve is behind it): what the pipes hold now is taken, then
 * the exit is reported; a background process that keeps a pipe open does not hold the exec. */
static bool draining(const struct conn *c)
{
        const struct exec *ex = c->ex;
        return c->state == C_EXEC && ex->exited && ex->status_fd < 0 && out_empty(c) &&
               (ex->out_fd >= 0 || ex->err_fd >= 0);
}

static void exec_progress(struct conn *c)
{
        struct exec *ex = c->ex;
        while (draining(c)) {
                if (ex->out_fd >= 0)
                        pump(c, &ex->out_fd, SF_STDOUT, true);
                else
                        pump(c, &ex->err_fd, SF_STDERR, true);
        }
        if (ex->status_fd >= 0 || !ex->exited || !out_empty(c) || ex->out_fd >= 0 ||
            ex->err_fd >= 0)
                return;
        bool sig = ex->wstatus >> 16;
        int code = ex->wstatus & 0xffff;
        queue_json(c, SF_EXIT,
                   json_pack("{s:i,s:b,s:i}", "exit_code", code, "timed_out", ex->timed_out,
                             "signal", sig ? code - 128 : 0));
        c->state = C_DONE;
}

/* ---- the loop ---- */

enum slot_kind {
        K_REAP,
        K_LISTEN,
        K_SIGNAL,
        K_INIT,
        K_ZYGOTE,
        K_ZYPID,
        K_SOCK,
        K_PID,
        K_STATUS,
        K_OUT,
        K_ERR,
        K_IN
};

struct slots {
        struct pollfd *p;
        struct conn **c;
        enum slot_kind *k;
        size_t n, cap;
};

static void slot_add(struct slots *sl, int fd, short events, enum slot_kind k, struct conn *c)
{
        if (fd < 0)
                return;
        if (sl->n == sl->cap) {
                sl->cap = sl->cap ? sl->cap * 2 : 16;
                sl->p = xrealloc(sl->p, sl->cap * sizeof(*sl->p));
                sl->c = xrealloc(sl->c, sl->cap * sizeof(*sl->c));
                sl->k = xrealloc(sl->k, sl->cap * sizeof(*sl->k));
        }
        sl->p[sl->n] = (struct pollfd){.fd = fd, .events = events};
        sl->c[sl->n] = c;
        sl->k[sl->n] = k;
        sl->n++;
}

static void conn_slots(struct slots *sl, struct conn *c)
{
        short ev = out_empty(c) ? 0 : POLLOUT;
        struct exec *ex = c->ex;
        /* A pty's input waits until its master has arrived from the child. */
        bool ready_for_input = c->state == C_EXEC && !ex->pending && !c->in_eof &&
                               !(ex->req.pty && ex->out_fd < 0 && ex->status_fd >= 0);
        if (c->state == C_REQ || ready_for_input)
                ev |= POLLIN;
        /* Even with no events asked, poll reports POLLHUP: a client that went away is noticed
         * while its exec runs. */
        slot_add(sl, c->fd, ev, K_SOCK, c);
        if (c->state != C_EXEC)
                return;
        if (ex->status_fd >= 0)
                slot_add(sl, ex->status_fd, POLLIN, K_STATUS, c);
        if (!ex->exited)
                slot_add(sl, ex->pidfd, POLLIN, K_PID, c);
        if (out_empty(c)) {
                slot_add(sl, ex->out_fd, POLLIN, K_OUT, c);
                slot_add(sl, ex->err_fd, POLLIN, K_ERR, c);
        }
        if (ex->pending)
                slot_add(sl, ex->in_fd, POLLOUT, K_IN, c);
}

static int next_timeout(struct shim *s)
{
        int64_t now = shim_now_ms(), t = -1;
        if (s->nlingering)
                t = s->linger_at > now ? s->linger_at - now : 0;
        if (s->zygote.pid <= 0 && !s->paused) {
                int64_t z = s->zygote.retry_at > now ? s->zygote.retry_at - now : ZYGOTE_IDLE_MS;
                if (t < 0 || z < t)
                        t = z;
        }
        for (struct conn *c = s->conns; c; c = c->next) {
                if (draining(c))
                        return 0; /* its frame went out: take the next chunk at once */
                if (c->state != C_EXEC || !c->ex->deadline || c->ex->exited || s->paused)
                        continue;
                int64_t d = c->ex->deadline - now;
                if (d < 0)
                        d = 0;
                if (t < 0 || d < t)
                        t = d;
        }
        return (int)t;
}

static void check_deadlines(struct shim *s)
{
        if (s->paused)
                return;
        int64_t now = shim_now_ms();
        for (struct conn *c = s->conns; c; c = c->next) {
                struct exec *ex = c->ex;
                if (c->state != C_EXEC || !ex->deadline || ex->exited || ex->timed_out ||
                    now < ex->deadline)
                        continue;
                ex->timed_out = true;
                cgroup_kill(&s->cg, s->cfg.spec.id, ex->sub);
        }
}

static void accept_conns(struct shim *s)
{
        size_t n = 0;
        for (struct conn *c = s->conns; c; c = c->next)
                n++;
        for (;;) {
                int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return;
                if (n >= MAX_CONNS) {
                        close(fd);
                        continue;
                }
                struct conn *c = xcalloc(1, sizeof(*c));
                c->fd = fd;
                c->next = s->conns;
                s->conns = c;
                n++;
        }
}

static void on_sock(struct shim *s, struct conn *c, short rev)
{
        if (rev & POLLOUT)
                flush_out(c);
        if ((rev & (POLLHUP | POLLERR)) && c->state != C_DONE) {
                c->dead = true; /* the client is gone */
                return;
        }
        if (!(rev & POLLIN))
                return;
        if (c->state == C_EXEC) {
                exec_input(s, c);
                return;
        }
        if (c->state != C_REQ)
                return;
        int r = read_frame(c);
        if (r < 0 || (r == 1 && c->hdr[0] != SF_JSON))
                c->dead = true;
        else if (r == 1)
                handle_request(s, c);
}

static void on_event(struct shim *s, struct conn *c, enum slot_kind k, short rev)
{
        struct exec *ex = c->ex;
        switch (k) {
        case K_SOCK:
                on_sock(s, c, rev);
                break;
        case K_STATUS:
                read_status(s, c);
                break;
        case K_PID:
                if (ex->status_fd >= 0)
                        read_status(s, c); /* an error report comes before the exit */
                reap(ex, false);
                break;
        case K_OUT:
                pump(c, &ex->out_fd, SF_STDOUT, false);
                break;
        case K_ERR:
                pump(c, &ex->err_fd, SF_STDERR, false);
                break;
        case K_IN:
                stdin_write(ex);
                break;
        default:
                break;
        }
}

/* One pass over the connections after the events: progress, flush, drop finished ones. */
static void sweep(struct shim *s)
{
        for (struct conn **pc = &s->conns; *pc;) {
                struct conn *c = *pc;
                if (c->state == C_EXEC && !c->dead)
                        exec_progress(c);
                if (!c->dead)
                        flush_out(c);
                bool finished = c->state == C_DONE && out_empty(c) && !s->stopping;
                if (c->dead || finished) {
                        *pc = c->next;
                        conn_free(s, c);
                        continue;
                }
                pc = &c->next;
        }
}

static bool handle_own(struct shim *s, enum slot_kind k)
{
        if (k == K_LISTEN) {
                accept_conns(s);
        } else if (k == K_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si))
                        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                                s->stopping = true;
        } else if (k == K_INIT) {
                return false; /* PID 1 is gone: so is the rig */
        } else if (k == K_ZYGOTE) {
                zygote_event(s);
        } else if (k == K_ZYPID) {
                zygote_exit_event(s);
        }
        return true;
}

void server_run(struct shim *s)
{
        struct slots sl = {0};
        bool alive = true;
        while (alive && !s->stopping) {
                sl.n = 0;
                slot_add(&sl, s->listen_fd, POLLIN, K_LISTEN, NULL);
                slot_add(&sl, s->signal_fd, POLLIN, K_SIGNAL, NULL);
                slot_add(&sl, s->init_pidfd, POLLIN, K_INIT, NULL);
                for (size_t i = 0; i < s->nreapq; i++)
                        slot_add(&sl, s->reapq[i], POLLIN, K_REAP, NULL);
                if (s->zygote.pid > 0) {
                        if (!s->zygote.ready)
                                slot_add(&sl, s->zygote.chan, POLLIN, K_ZYGOTE, NULL);
                        slot_add(&sl, s->zygote.pidfd, POLLIN, K_ZYPID, NULL);
                }
                for (struct conn *c = s->conns; c; c = c->next)
                        conn_slots(&sl, c);
                int r = poll(sl.p, sl.n, next_timeout(s));
                if (r < 0 && errno != EINTR)
                        break;
                for (size_t i = 0; r > 0 && i < sl.n; i++) {
                        short rev = sl.p[i].revents;
                        if (!rev)
                                continue;
                        if (sl.k[i] == K_REAP)
                                reap_event(s, sl.p[i].fd);
                        else if (!sl.c[i])
                                alive = handle_own(s, sl.k[i]) && alive;
                        else if (!sl.c[i]->dead)
                                on_event(s, sl.c[i], sl.k[i], rev);
                }
                check_deadlines(s);
                sweep(s);
                /* The next exec's zygote is made when nothing else is going on. */
                if (r == 0)
                        zygote_spawn(s);
                if (s->nlingering && shim_now_ms() >= s->linger_at) {
                        linger_sweep(s);
                        s->linger_at = shim_now_ms() + LINGER_RETRY_MS;
                }
        }
        s->stopping = true;
        /* Let the stop request's reply out; the connection itself stays open until the shim
         * exits, so that its client sees EOF only when everything is released. */
        for (struct conn *c = s->conns; c; c = c->next) {
                int fl = fcntl(c->fd, F_GETFL);
                fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
                if (c->state == C_DONE)
                        flush_out(c);
        }
        free(sl.p);
        free(sl.c);
        free(sl.k);
}

int server_listen(struct shim *s, struct shim_err *e)
{
        /* Relative to the rig dir, the shim's cwd: no limit on the data dir's depth. */
        struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "shim.sock"};
        s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->listen_fd < 0)
                return shim_fail(e, errno, "socket: %m");
        unlinkat(s->dir_fd, "shim.sock", 0);
        mode_t old = umask(077);
        int r = bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(s->listen_fd, 64) < 0)
                return shim_fail(e, errno, "cannot listen on %s/shim.sock: %m", s->cfg.rig_dir);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        s->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (s->signal_fd < 0)
                return shim_fail(e, errno, "signalfd: %m");
        return 0;
}

void server_close_all(struct shim *s)
{
        zygote_drop(s);
        while (s->conns) {
                struct conn *c = s->conns;
                s->conns = c->next;
                conn_free(s, c);
        }
        for (size_t i = 0; i < s->nreapq; i++) {
                siginfo_t si;
                waitid((idtype_t)P_PIDFD, (id_t)s->reapq[i], &si, WEXITED);
                close(s->reapq[i]);
        }
        free(s->reapq);
        s->reapq = NULL;
        s->nreapq = 0;
        for (size_t i = 0; i < s->ndoomed; i++)
                free(s->doomed[i]);
        free(s->doomed);
        s->doomed = NULL;
        s->ndoomed = 0;
        for (size_t i = 0; i < s->nlingering; i++)
                free(s->lingering[i]);
        free(s->lingering);
        s->lingering = NULL;
        s->nlingering = 0;
}
