/* The terminal WebSocket's client side as rigd reads it: the input is a byte stream from a
 * client, fed to a libwslay server context (framing, masking, fragmentation, control frames, as
 * in src/rigd/ws.c, with the same message size limit); every text message goes to the control
 * message parser (core/ptyctl.c). The first byte of the input selects a mode: below 0x80 the rest
 * is a single control message given to the parser directly. */
#include "core/ptyctl.h"

#include <wslay/wslay.h>

#include "fuzz.h"

struct feed {
        const uint8_t *p;
        size_t n, off;
        int messages;
};

static void check_parse(const uint8_t *p, size_t n)
{
        struct ptyctl m;
        int r = ptyctl_parse((const char *)p, n, &m);
        CHECK(r == 0 || r == -EINVAL);
        if (r < 0) {
                CHECK(m.type == PTYCTL_OTHER && m.cols == 0 && m.rows == 0);
                return;
        }
        CHECK(n > 0 && n <= PTYCTL_MSG_MAX);
        if (m.type == PTYCTL_RESIZE)
                CHECK(m.cols >= 1 && m.cols <= PTYCTL_DIM_MAX && m.rows >= 1 &&
                      m.rows <= PTYCTL_DIM_MAX);
        else
                CHECK(m.type == PTYCTL_OTHER && m.cols == 0 && m.rows == 0);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
        struct feed *f = ud;
        if (f->off >= f->n) {
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
        }
        /* Small reads, to cut frames at every place. */
        size_t k = f->n - f->off < len ? f->n - f->off : len;
        if (k > 7)
                k = 7;
        memcpy(buf, f->p + f->off, k);
        f->off += k;
        return (ssize_t)k;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *p, size_t len, int flags,
                       void *ud)
{
        return (ssize_t)len; /* replies (pong, close) go nowhere */
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
        struct feed *f = ud;
        f->messages++;
        CHECK(arg->msg_length <= (1u << 20));
        if (arg->opcode == WSLAY_TEXT_FRAME)
                check_parse(arg->msg, arg->msg_length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        uint8_t *in = (uint8_t *)dup_exact(data + 1, size - 1);
        if (data[0] < 0x80) {
                check_parse(in, size - 1);
                free(in);
                return 0;
        }
        static const struct wslay_event_callbacks cbs = {
            .recv_callback = recv_cb, .send_callback = send_cb, .on_msg_recv_callback = msg_cb};
        struct feed f = {.p = in, .n = size - 1};
        wslay_event_context_ptr ctx;
        CHECK(wslay_event_context_server_init(&ctx, &cbs, &f) == 0);
        wslay_event_config_set_max_recv_msg_length(ctx, 1u << 20);
        for (int i = 0; i < 4 && wslay_event_want_read(ctx); i++) {
                if (wslay_event_recv(ctx) != 0)
                        break;
                if (wslay_event_want_write(ctx))
                        (void)wslay_event_send(ctx);
        }
        CHECK(f.off <= f.n);
        wslay_event_context_free(ctx);
        free(in);
        return 0;
}
