/* Frame encoding of the rigd <-> shim protocol (see shimproto.h). */
#include "runtime/shimproto.h"

#include <sys/socket.h>
#include <sys/uio.h>

int shim_hdr_parse(const uint8_t hdr[SHIM_HDR_LEN], char *type, uint32_t *len)
{
        switch (hdr[0]) {
        case SF_JSON:
        case SF_STDIN:
        case SF_STDIN_CLOSE:
        case SF_RESIZE:
        case SF_KILL:
        case SF_STDOUT:
        case SF_STDERR:
        case SF_EXIT:
                break;
        default:
                return -EPROTO;
        }
        uint32_t n = (uint32_t)hdr[1] | (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3] << 16 |
                     (uint32_t)hdr[4] << 24;
        if (n > SHIM_FRAME_MAX)
                return -EPROTO;
        *type = (char)hdr[0];
        *len = n;
        return 0;
}

/* sendmsg with MSG_NOSIGNAL so that a vanished peer is -EPIPE, never SIGPIPE; plain writev for
 * fds that are not sockets. */
static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
                w = writev(fd, iov, n);
        return w;
}

int shim_write_frame(int fd, char type, const void *p, size_t len)
{
        if (len > SHIM_FRAME_MAX)
                return -EMSGSIZE;
        uint8_t hdr[SHIM_HDR_LEN];
        shim_hdr(hdr, type, (uint32_t)len);
        struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)p, len}};
        int n = len ? 2 : 1;
        struct iovec *v = iov;
        while (n > 0) {
                ssize_t w = send_iov(fd, v, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                while (n > 0 && (size_t)w >= v->iov_len) {
                        w -= (ssize_t)v->iov_len;
                        v++;
                        n--;
                }
                if (n > 0) {
                        v->iov_base = (char *)v->iov_base + w;
                        v->iov_len -= (size_t)w;
                }
        }
        return 0;
}

/* Reads exactly len bytes; returns len, 0 on EOF before the first byte, or -errno (-EPROTO for
 * EOF in the middle). */
static ssize_t read_full(int fd, void *p, size_t len)
{
        size_t got = 0;
        while (got < len) {
                ssize_t r = read(fd, (char *)p + got, len - got);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        return got ? -EPROTO : 0;
                got += (size_t)r;
        }
        return (ssize_t)got;
}

int shim_read_frame(int fd, char *type, char **buf, uint32_t *len)
{
        uint8_t hdr[SHIM_HDR_LEN];
        *buf = NULL;
        ssize_t r = read_full(fd, hdr, sizeof(hdr));
        if (r == 0)
                return -EPIPE;
        if (r < 0)
                return (int)r;
        int e = shim_hdr_parse(hdr, type, len);
        if (e < 0)
                return e;
        char *p = xmalloc((size_t)*len + 1);
        if (*len) {
                r = read_full(fd, p, *len);
                if (r <= 0) {
                        free(p);
                        return r == 0 ? -EPROTO : (int)r;
                }
        }
        p[*len] = '\0';
        *buf = p;
        return 0;
}
