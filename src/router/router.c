/* The app router's life on rigd's loops: listeners (plain and TLS), the shared state, ticks. */
#include "router/router.h"

#include "base/log.h"
#include "router/rinternal.h"

#include <openssl/err.h>
#include <sodium.h>
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

int router_app_url(const struct rigd *d, const char *name, char *out, size_t outlen)
{
        const struct rigd_config *c = &d->cfg;
        bool tls = c->apps_tls_port != 0;
        if (c->apps_url_port && c->apps_url_port != (tls ? 443 : 80))
                return snprintf(out, outlen, "%s://%s.%s:%u", tls ? "https" : "http", name,
                                c->apps_domain, c->apps_url_port);
        return snprintf(out, outlen, "%s://%s.%s", tls ? "https" : "http", name, c->apps_domain);
}

static SSL_CTX *load_tls(const struct rigd_config *cfg)
{
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return NULL;
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
                char err[256];
                ERR_error_string_n(ERR_get_error(), err, sizeof(err));
                log_error("cannot load the router's certificate %s / key %s: %s", cfg->tls_cert,
                          cfg->tls_key, err);
                SSL_CTX_free(ctx);
                return NULL;
        }
        return ctx;
}

int router_open(struct rigd *d)
{
        const struct rigd_config *cfg = &d->cfg;
        int r;
        if (cfg->apps_port && (r = rigd_port_free(cfg->apps_host, cfg->apps_port)) < 0) {
                log_error("cannot listen on %s:%u for the app router: %s (move it with "
                          "--apps-listen ADDR:PORT, or turn it off with --apps-listen off)",
                          cfg->apps_host, cfg->apps_port, strerror(-r));
                return r;
        }
        if (cfg->apps_tls_port &&
            (r = rigd_port_free(cfg->apps_tls_host, cfg->apps_tls_port)) < 0) {
                log_error("cannot listen on %s:%u for the HTTPS app router: %s", cfg->apps_tls_host,
                          cfg->apps_tls_port, strerror(-r));
                return r;
        }
        struct router *rt = xcalloc(1, sizeof(*rt));
        rt->d = d;
        rt->fd = rt->tls_fd = -1;
        pthread_mutex_init(&rt->mu, NULL);
        randombytes_buf(rt->cookie_key, sizeof(rt->cookie_key));
        d->router = rt;
        if (cfg->apps_tls_port && !(rt->ssl_ctx = load_tls(cfg)))
                return -EINVAL;
        if (cfg->apps_port && (rt->fd = rigd_open_listener(cfg->apps_host, cfg->apps_port)) < 0) {
                log_error("app router: cannot listen on %s:%u: %s", cfg->apps_host, cfg->apps_port,
                          strerror(-rt->fd));
                return rt->fd;
        }
        if (cfg->apps_tls_port &&
            (rt->tls_fd = rigd_open_listener(cfg->apps_tls_host, cfg->apps_tls_port)) < 0) {
                log_error("app router: cannot listen on %s:%u: %s", cfg->apps_tls_host,
                          cfg->apps_tls_port, strerror(-rt->tls_fd));
                return rt->tls_fd;
        }
        return 0;
}

void router_free(struct rigd *d)
{
        struct router *r = d->router;
        if (!r)
                return;
        if (r->ssl_ctx)
                SSL_CTX_free(r->ssl_ctx);
        if (r->fd >= 0)
                close(r->fd);
        if (r->tls_fd >= 0)
                close(r->tls_fd);
        sodium_memzero(r->cookie_key, sizeof(r->cookie_key));
        pthread_mutex_destroy(&r->mu);
        free(r);
        d->router = NULL;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
        struct rthread *rt = listener->data;
        if (err)
                return;
        bool tls = listener == rt->tls_listener;
        for (int i = 0; i < 16; i++) {
                h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
                if (!sock)
                        return;
                if (atomic_fetch_add(&rt->t->d->nconns, 1) >= rt->t->d->cfg.max_connections) {
                        atomic_fetch_sub(&rt->t->d->nconns, 1);
                        h2o_socket_close(sock);
                        continue;
                }
                sock->on_close.cb = rigd_on_conn_close;
                sock->on_close.data = rt->t->d;
                rconn_accept(rt, sock, tls);
        }
}

/* Every loop polls the same listening socket (through its own dup): a busy loop accepts less, so
 * long-lived keep-alive connections spread by load rather than by a SO_REUSEPORT hash. */
static h2o_socket_t *listen_on(struct rthread *rt, int shared, int *fd)
{
        *fd = shared >= 0 ? fcntl(shared, F_DUPFD_CLOEXEC, 0) : -1;
        if (*fd < 0)
                return NULL;
        h2o_socket_t *s = h2o_evloop_socket_create(rt->t->ctx.loop, *fd, H2O_SOCKET_FLAG_DONT_READ);
        s->data = rt;
        h2o_socket_read_start(s, on_accept);
        return s;
}

void router_thread_start(struct rigd_thread *t)
{
        struct rigd *d = t->d;
        if (!d->router)
                return;
        struct rthread *rt = xcalloc(1, sizeof(*rt));
        rt->t = t;
        rt->r = d->router;
        h2o_linklist_init_anchor(&rt->conns);
        h2o_linklist_init_anchor(&rt->idle);
        h2o_timeout_init(t->ctx.loop, &rt->hdr_to, (uint64_t)d->cfg.header_timeout_ms);
        h2o_timeout_init(t->ctx.loop, &rt->io_to, ROUTER_IO_TIMEOUT_MS);
        h2o_timeout_init(t->ctx.loop, &rt->ws_to, ROUTER_WS_TIMEOUT_MS);
        rt->cache = rcache_new();
        t->router = rt;
        rt->listener = listen_on(rt, d->router->fd, &rt->fd);
        rt->tls_listener = listen_on(rt, d->router->tls_fd, &rt->tls_fd);
}

void router_thread_tick(struct rigd_thread *t)
{
        struct rthread *rt = t->router;
        if (!rt)
                return;
        rthread_idle_prune(rt, false);
        router_wait_tick(rt);
}

bool router_thread_busy(struct rigd_thread *t)
{
        struct rthread *rt = t->router;
        if (!rt)
                return false;
        for (h2o_linklist_t *l = rt->conns.next; l != &rt->conns; l = l->next) {
                struct rconn *c = H2O_STRUCT_FROM_MEMBER(struct rconn, link, l);
                if (c->st != RC_HEAD && c->st != RC_WS)
                        return true;
        }
        return false;
}

void router_thread_stop_listening(struct rigd_thread *t)
{
        struct rthread *rt = t->router;
        if (!rt)
                return;
        h2o_socket_t **ls[] = {&rt->listener, &rt->tls_listener};
        for (size_t i = 0; i < 2; i++)
                if (*ls[i]) {
                        h2o_socket_read_stop(*ls[i]);
                        h2o_socket_close(*ls[i]);
                        *ls[i] = NULL;
                }
}

/* Closes every connection of the loop; call before the loop is destroyed. */
void router_thread_stop(struct rigd_thread *t)
{
        struct rthread *rt = t->router;
        if (!rt)
                return;
        router_thread_stop_listening(t);
        rthread_idle_prune(rt, true);
        while (!h2o_linklist_is_empty(&rt->conns))
                rconn_close(H2O_STRUCT_FROM_MEMBER(struct rconn, link, rt->conns.next));
        for (int i = 0; i < 10; i++)
                h2o_evloop_run(t->ctx.loop, 0);
        h2o_timeout_dispose(t->ctx.loop, &rt->hdr_to);
        h2o_timeout_dispose(t->ctx.loop, &rt->io_to);
        h2o_timeout_dispose(t->ctx.loop, &rt->ws_to);
        rcache_free(rt->cache);
        free(rt);
        t->router = NULL;
}
