/* Blocking client side of the shim protocol. */
#include "runtime/shimclient.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

static int connect_to(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                if (errno != EINTR)
                        return -errno;
        return TAKE_FD(fd);
}

int shimc_connect(const char *sock_path)
{
        int r = connect_to(sock_path);
        if (r != -ENAMETOOLONG)
                return r;
        /* A deep data dir: reach the socket through an fd of its directory. */
        const char *slash = strrchr(sock_path, '/');
        if (!slash || slash == sock_path)
                return r;
        _cleanup_free_ char *dir = xstrndup(sock_path, (size_t)(slash - sock_path));
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        char via[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
        snprintf(via, sizeof(via), "/proc/self/fd/%d/%s", dfd, slash + 1);
        return connect_to(via);
}

int shimc_send_json(int fd, json_t *req)
{
        _cleanup_free_ char *s = json_dumps(req, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        return shim_write_frame(fd, SF_JSON, s, strlen(s));
}

static int wait_readable(int fd, int timeout_ms)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        for (;;) {
                int r = poll(&p, 1, timeout_ms);
                if (r > 0)
                        return 0;
                if (r == 0)
                        return -ETIMEDOUT;
                if (errno != EINTR)
                        return -errno;
        }
}

/* Maps a parsed 'J' reply to 0 / -errno. */
static int reply_result(json_t *o)
{
        if (!json_is_object(o))
                return -EPROTO;
        if (json_is_true(json_object_get(o, "ok")))
                return 0;
        json_int_t e = json_integer_value(json_object_get(o, "errno"));
        return e > 0 && e < 4096 ? -(int)e : -EIO;
}

int shimc_read_reply(int fd, int timeout_ms, json_t **reply)
{
        if (reply)
                *reply = NULL;
        if (timeout_ms >= 0) {
                int w = wait_readable(fd, timeout_ms);
                if (w < 0)
                        return w;
        }
        char type;
        uint32_t len;
        _cleanup_free_ char *p = NULL;
        int r = shim_read_frame(fd, &type, &p, &len);
        if (r < 0)
                return r;
        if (type != SF_JSON)
                return -EPROTO;
        json_t *o = json_loadb(p, len, 0, NULL);
        r = reply_result(o);
        if (reply && o)
                *reply = o;
        else
                json_decref(o);
        return r;
}

int shimc_call(const char *sock_path, json_t *req, int timeout_ms, json_t **reply)
{
        _cleanup_close_ int fd = shimc_connect(sock_path);
        if (fd < 0)
                return fd;
        int r = shimc_send_json(fd, req);
        if (r < 0)
                return r;
        return shimc_read_reply(fd, timeout_ms, reply);
}

/* The stdin side of an exec: frames of `in` written without blocking as the socket takes them. */
struct stdin_feed {
        const char *in;
        size_t len, off; /* bytes of `in` already framed */
        uint8_t frame[SHIM_HDR_LEN + SHIM_FRAME_MAX];
        size_t flen, foff; /* current frame and how much of it went out */
        bool closed;       /* the close frame went out */
};

static void feed_next(struct stdin_feed *f)
{
        size_t n = f->len - f->off;
        if (n == 0) {
                shim_hdr(f->frame, SF_STDIN_CLOSE, 0);
                f->flen = SHIM_HDR_LEN;
        } else {
                if (n > SHIM_FRAME_MAX)
                        n = SHIM_FRAME_MAX;
                shim_hdr(f->frame, SF_STDIN, (uint32_t)n);
                memcpy(f->frame + SHIM_HDR_LEN, f->in + f->off, n);
                f->off += n;
                f->flen = SHIM_HDR_LEN + n;
        }
        f->foff = 0;
}

/* Writes what the socket takes now; -EPIPE etc. on a dead connection. */
static int feed_write(int fd, struct stdin_feed *f)
{
        while (!f->closed) {
                if (f->foff == f->flen)
                        feed_next(f);
                ssize_t w =
                    send(fd, f->frame + f->foff, f->flen - f->foff, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                f->foff += (size_t)w;
                if (f->foff == f->flen && f->frame[0] == SF_STDIN_CLOSE)
                        f->closed = true;
        }
        return 0;
}

/* Handles one frame from the shim; returns 1 when the exec ended, 0 to go on, or -errno. */
static int exec_frame(char type, const char *p, uint32_t len, shimc_output_fn out, void *ud,
                      struct shimc_exit *ex)
{
        if (type == SF_STDOUT || type == SF_STDERR)
                return out ? out(ud, type, p, len) : 0;
        json_t *o = json_loadb(p, len, 0, NULL);
        int r;
        if (type == SF_JSON) {
                r = reply_result(o);
                if (r == 0)
                        r = -EPROTO; /* an exec is answered with frames, not {"ok":true} */
        } else if (type == SF_EXIT && json_is_object(o)) {
                ex->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
                ex->signal = (int)json_integer_value(json_object_get(o, "signal"));
                ex->timed_out = json_is_true(json_object_get(o, "timed_out"));
                r = 1;
        } else {
                r = -EPROTO;
        }
        json_decref(o);
        return r;
}

int shimc_exec(int fd, json_t *req, const void *in, size_t in_len, shimc_output_fn out, void *ud,
               struct shimc_exit *ex)
{
        memset(ex, 0, sizeof(*ex));
        int r = shimc_send_json(fd, req);
        if (r < 0)
                return r;
        struct stdin_feed *f = xcalloc(1, sizeof(*f));
        f->in = in;
        f->len = in ? in_len : 0;
        f->foff = f->flen = 0;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN | (f->closed ? 0 : POLLOUT)};
                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if ((p.revents & POLLOUT) && (r = feed_write(fd, f)) < 0) {
                        /* The shim stops reading once the command is gone: not an error. */
                        if (r != -EPIPE && r != -ECONNRESET)
                                break;
                        f->closed = true;
                }
                if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                char type;
                uint32_t len;
                char *buf = NULL;
                r = shim_read_frame(fd, &type, &buf, &len);
                if (r == 0)
                        r = exec_frame(type, buf, len, out, ud, ex);
                free(buf);
                if (r != 0)
                        break;
        }
        free(f);
        return r == 1 ? 0 : r;
}

int shimc_collect_fn(void *ud, char type, const char *p, size_t n)
{
        struct shimc_collect *c = ud;
        struct buf *b = type == SF_STDERR ? &c->err : &c->out;
        bool *trunc = type == SF_STDERR ? &c->err_truncated : &c->out_truncated;
        size_t room = c->cap > b->len ? c->cap - b->len : 0;
        if (n > room) {
                *trunc = true;
                n = room;
        }
        if (n)
                buf_append(b, p, n);
        return 0;
}

void shimc_collect_free(struct shimc_collect *c)
{
        buf_free(&c->out);
        buf_free(&c->err);
}
