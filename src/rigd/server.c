/* The event loops: one thread per core, each with its own h2o context, store connection and
 * SO_REUSEPORT listener. The main thread waits for SIGTERM/SIGINT and drains. */
#include "rigd/http.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "rigd/api.h"
#include "rigd/authcache.h"
#include "rigd/live.h"
#include "rigd/netsvc.h"
#include "rigd/rigsvc.h"
#include "rigd/worker.h"
#include "router/activity.h"
#include "router/router.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/file.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#define SHUTDOWN_GRACE_MS 30000

int rigd_open_listener(const char *host, uint16_t port)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
        struct addrinfo *ai = NULL;
        char ps[8];
        snprintf(ps, sizeof(ps), "%u", port);
        int r = getaddrinfo(host, ps, &hints, &ai);
        if (r != 0)
                return -EINVAL;
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                freeaddrinfo(ai);
                return r;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
                r = -errno;
                close(fd);
                freeaddrinfo(ai);
                return r;
        }
        freeaddrinfo(ai);
        return fd;
}

/* SO_REUSEPORT would let a second daemon share the port silently: probe it exclusively first. */
int rigd_port_free(const char *host, uint16_t port)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
        struct addrinfo *ai = NULL;
        char ps[8];
        snprintf(ps, sizeof(ps), "%u", port);
        if (getaddrinfo(host, ps, &hints, &ai) != 0)
                return -EINVAL;
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1, r = 0;
        if (fd < 0)
                r = -errno;
        else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                 bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
                r = -errno;
        if (fd >= 0)
                close(fd);
        freeaddrinfo(ai);
        return r;
}

/* One daemon per data dir: a second one would race the first over the store and the rigs. */
static int lock_data_dir(const char *dir)
{
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s/rigd.lock", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;
                close(fd);
                return r == -EWOULDBLOCK ? -EBUSY : r;
        }
        return fd; /* held until the process exits */
}

void rigd_on_conn_close(void *data)
{
        struct rigd *d = data;
        atomic_fetch_sub(&d->nconns, 1);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
        struct rigd_thread *t = listener->data;
        if (err)
                return;
        /* Accept a bounded batch per wake-up so that one loop cannot starve the others. */
        for (int i = 0; i < 16; i++) {
                h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
                if (!sock)
                        return;
                if (atomic_fetch_add(&t->d->nconns, 1) >= t->d->cfg.max_connections) {
                        atomic_fetch_sub(&t->d->nconns, 1);
                        h2o_socket_close(sock);
                        continue;
                }
                sock->on_close.cb = rigd_on_conn_close;
                sock->on_close.data = t->d;
                h2o_accept(&t->accept_ctx, sock);
        }
}

static void stop_listening(struct rigd_thread *t)
{
        if (t->listener) {
                h2o_socket_read_stop(t->listener);
                h2o_socket_close(t->listener);
                t->listener = NULL;
        }
}

static void on_wake(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
        struct rigd_thread *t = H2O_STRUCT_FROM_MEMBER(struct rigd_thread, wake, receiver);
        while (!h2o_linklist_is_empty(messages)) {
                h2o_multithread_message_t *msg =
                    H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
                h2o_linklist_unlink(&msg->link);
                free(msg);
        }
        stop_listening(t);
        router_thread_stop_listening(t);
        t->woken = true;
}

static void on_sweep(h2o_timeout_entry_t *entry)
{
        struct rigd_thread *t = H2O_STRUCT_FROM_MEMBER(struct rigd_thread, sweep_timer, entry);
        if (t->index == 0) {
                ratelimiter_sweep(t->d->rl, mono_ms());
                (void)store_sessions_sweep(t->st, now_ms() / 1000);
                rigs_ttl_sweep(t);
        }
        router_thread_tick(t);
        h2o_timeout_link(t->ctx.loop, &t->ctx.one_sec_timeout, &t->sweep_timer);
}

static void *thread_main(void *arg)
{
        struct rigd_thread *t = arg;
        struct rigd *d = t->d;
        h2o_context_init(&t->ctx, h2o_evloop_create(), &d->h2o);
        t->auth_cache = auth_cache_new();
        t->accept_ctx.ctx = &t->ctx;
        t->accept_ctx.hosts = d->h2o.hosts;
        h2o_multithread_register_receiver(t->ctx.queue, &t->wake, on_wake);
        h2o_multithread_register_receiver(t->ctx.queue, &t->jobs_done, workpool_on_done);
        t->listener =
            h2o_evloop_socket_create(t->ctx.loop, t->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
        t->listener->data = t;
        h2o_socket_read_start(t->listener, on_accept);
        t->sweep_timer.cb = on_sweep;
        h2o_timeout_link(t->ctx.loop, &t->ctx.one_sec_timeout, &t->sweep_timer);
        router_thread_start(t);

        /* Run until this thread's own wake-up message arrives (not merely until the stopping
         * flag is seen): main sends it to every loop, and the queue must outlive it. */
        while (!t->woken)
                h2o_evloop_run(t->ctx.loop, INT32_MAX);
        /* Drain: finish in-flight requests, then give their replies a moment to flush. */
        int64_t deadline = mono_ms() + SHUTDOWN_GRACE_MS;
        while ((atomic_load(&d->inflight) > 0 || atomic_load(&d->jobs_pending) > 0 ||
                router_thread_busy(t)) &&
               mono_ms() < deadline)
                h2o_evloop_run(t->ctx.loop, 50);
        /* Idle keep-alive connections wait on the request timeout: expire it now so that they
         * close, then let the loop run until every connection of this thread is gone. */
        t->ctx.http1.req_timeout.timeout = 0;
        int64_t flush = mono_ms() + 1000;
        while (!h2o_linklist_is_empty(&t->ctx.http1._conns) && mono_ms() < flush)
                h2o_evloop_run(t->ctx.loop, 10);
        stop_listening(t);
        router_thread_stop(t);
        if (h2o_timeout_is_linked(&t->sweep_timer))
                h2o_timeout_unlink(&t->sweep_timer);
        /* Deliver messages still queued for this loop before the receivers go away. */
        for (int i = 0; i < 100 && (!h2o_linklist_is_empty(&t->wake._messages) ||
                                    !h2o_linklist_is_empty(&t->jobs_done._messages));
             i++)
                h2o_evloop_run(t->ctx.loop, 10);
        h2o_multithread_unregister_receiver(t->ctx.queue, &t->wake);
        h2o_multithread_unregister_receiver(t->ctx.queue, &t->jobs_done);
        if (h2o_linklist_is_empty(&t->ctx.http1._conns)) {
                h2o_loop_t *loop = t->ctx.loop;
                h2o_context_dispose(&t->ctx);
                h2o_evloop_destroy(loop);
        }
        auth_cache_free(t->auth_cache);
        return NULL;
}

static int open_stores(struct rigd *d)
{
        for (int i = 0; i < d->nthreads; i++) {
                int r = store_open(d->db_path, false, &d->threads[i].st);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void setup_h2o(struct rigd *d)
{
        h2o_config_init(&d->h2o);
        d->h2o.server_name = h2o_iovec_init(H2O_STRLIT("rigd"));
        /* h2o answers bodies above the upload limit itself (413); JSON routes enforce their 1 MiB
         * with the contract's error body. h2o 2.2 buffers request bodies whole: an upload is held
         * in memory until written (see docs/design.md). */
        d->h2o.max_request_entity_size = (size_t)d->cfg.max_upload_mb << 20;
        d->h2o.http1.req_timeout = (uint64_t)d->cfg.header_timeout_ms;
        d->h2o.http1.upgrade_to_http2 = 0;
        h2o_hostconf_t *host =
            h2o_config_register_host(&d->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
        h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
        http_register(path);
}

static int start_threads(struct rigd *d)
{

        for (int i = 0; i < d->nthreads; i++) {
                struct rigd_thread *t = &d->threads[i];
                t->d = d;
                t->index = i;
                t->listen_fd = rigd_open_listener(d->cfg.listen_host, d->cfg.listen_port);
                if (t->listen_fd < 0) {
                        log_error("cannot listen on %s:%u: %s", d->cfg.listen_host,
                                  d->cfg.listen_port, strerror(-t->listen_fd));
                        return t->listen_fd;
                }
        }
        for (int i = 0; i < d->nthreads; i++)
                pthread_create(&d->threads[i].tid, NULL, thread_main, &d->threads[i]);
        return 0;
}

static void wait_for_signal(struct rigd *d)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        int sig = 0;
        sigwait(&set, &sig);
        log_info("received %s: draining in-flight requests", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        atomic_store(&d->stopping, true);
        for (int i = 0; i < d->nthreads; i++) {
                h2o_multithread_message_t *msg = xcalloc(1, sizeof(*msg));
                h2o_multithread_send_message(&d->threads[i].wake, msg);
        }
}

/* Frees what rigd_serve made before any loop ran, for a start that stops there. */
static void free_unstarted(struct rigd *d)
{
        router_free(d);
        workpool_free(d->pool);
        rigsvc_free(d->rigs);
        free(d->rigs);
        for (int i = 0; i < d->nthreads; i++)
                store_close(d->threads[i].st);
        ratelimiter_free(d->rl);
        activity_free(d->activity);
        free(d->threads);
        free(d);
}

/* The rig network. A rigd that cannot set it up refuses to start: no rig may run without its
 * rules. Without a working runtime there are no rigs to connect. */
static int open_network(struct rigd *d)
{
        const struct rigd_config *cfg = &d->cfg;
        if (!d->rigs->ready || cfg->no_network)
                return 0;
        struct netsvc_config nc = {
            .bridge = cfg->bridge[0] ? cfg->bridge : NULL,
            .subnet = cfg->rig_subnet[0] ? cfg->rig_subnet : NULL,
            .resolver = cfg->allow_resolver[0] ? cfg->allow_resolver : NULL,
        };
        char why[512] = "";
        int r = netsvc_open(&d->rigs->net, &nc, why, sizeof(why));
        if (r < 0)
                log_error("cannot set up the rig network: %s", why);
        return r;
}

int rigd_serve(struct rigd_config *cfg)
{
        struct rigd *d = xcalloc(1, sizeof(*d));
        d->cfg = *cfg;
        d->started_ms = now_ms();
        char keypath[PATH_MAX + 16];
        datadir_paths(cfg->data_dir, d->db_path, sizeof(d->db_path), keypath, sizeof(keypath));
        int r = datadir_load_secrets(cfg->data_dir, &d->secrets);
        if (r < 0) {
                log_error("%s is not an initialised data dir (%s): run `rigd init --data-dir %s`",
                          cfg->data_dir, strerror(-r), cfg->data_dir);
                return 1;
        }
        int lock = lock_data_dir(cfg->data_dir);
        if (lock < 0) {
                log_error("%s: %s", cfg->data_dir,
                          lock == -EBUSY ? "another rigd serves this data dir already"
                                         : strerror(-lock));
                return 1;
        }
        int pr = rigd_port_free(cfg->listen_host, cfg->listen_port);
        if (pr < 0) {
                log_error("cannot listen on %s:%u: %s", cfg->listen_host, cfg->listen_port,
                          strerror(-pr));
                return 1;
        }
        const char *bad;
        if (route_table_validate(rigd_routes, rigd_nroutes, &bad) < 0) {
                log_error("route %s does not declare its access rule: refusing to start", bad);
                return 1;
        }
        /* Block the signals before any thread starts so that only sigwait() sees them. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);

        d->nthreads = cfg->threads;
        d->threads = xcalloc((size_t)d->nthreads, sizeof(*d->threads));
        d->rl = ratelimiter_new(cfg->rate);
        d->activity = activity_new();
        d->pool = workpool_new(2);
        if ((r = open_stores(d)) < 0) {
                log_error("cannot open the store %s: %s", d->db_path, strerror(-r));
                return 1;
        }
        if (router_open(d) < 0) {
                d->rigs = xcalloc(1, sizeof(*d->rigs));
                free_unstarted(d);
                return 1;
        }
        d->rigs = xcalloc(1, sizeof(*d->rigs));
        if (rigsvc_init(d->rigs, cfg->data_dir, cfg->templates_dir) < 0)
                log_warn("%s; rig endpoints answer 503 until it is fixed", d->rigs->why);
        d->rigs->quota.project_rigs = cfg->quota_project_rigs;
        d->rigs->quota.project_memory_mb = cfg->quota_project_memory_mb;
        if (open_network(d) < 0) {
                free_unstarted(d);
                return 1;
        }
        if ((r = rigsvc_reconcile(d->rigs, d->threads[0].st, d->secrets.audit_key)) < 0)
                log_warn("reconcile: %s", strerror(-r));
        setup_h2o(d);
        if (start_threads(d) < 0)
                return 1;
        log_info("rigd %s listening on http://%s:%u (%d threads, data dir %s)", RIGS_VERSION,
                 cfg->listen_host, cfg->listen_port, d->nthreads, cfg->data_dir);
        if (cfg->apps_port)
                log_info("app router on http://%s:%u for *.%s", cfg->apps_host, cfg->apps_port,
                         cfg->apps_domain);
        if (cfg->apps_tls_port)
                log_info("app router on https://%s:%u for *.%s", cfg->apps_tls_host,
                         cfg->apps_tls_port, cfg->apps_domain);
        wait_for_signal(d);
        for (int i = 0; i < d->nthreads; i++)
                pthread_join(d->threads[i].tid, NULL);
        pty_stop(); /* terminal sessions: their clients hear why and are closed */
        router_free(d);
        workpool_free(d->pool);
        rigsvc_free(d->rigs);
        free(d->rigs);
        for (int i = 0; i < d->nthreads; i++)
                store_close(d->threads[i].st);
        ratelimiter_free(d->rl);
        activity_free(d->activity);
        h2o_config_dispose(&d->h2o);
        free(d->threads);
        free(d);
        log_info("rigd stopped");
        return 0;
}
