/* The daemon's context: configuration, secrets, shared limiters and metrics, and the per-thread
 * event loops. This is the only mutable state shared between threads. */
#pragma once

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "core/ratelimit.h"
#include "core/store.h"
#include "core/token.h"
#include "rigd/metrics.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#define RIGD_MAX_ORIGINS 16
#define JSON_BODY_MAX    (1u << 20)
#define HEADERS_MAX      (64u << 10)

struct rigd_config {
        char data_dir[PATH_MAX];
        char listen_host[256];
        uint16_t listen_port;
        int threads;
        uint32_t rate[RL_CLASS_MAX];
        char *origins[RIGD_MAX_ORIGINS];
        size_t n_origins;
        int max_connections;
        uint64_t max_upload_mb;
        int header_timeout_ms;
        char templates_dir[PATH_MAX];
        int64_t quota_project_rigs;
        int64_t quota_project_memory_mb;
        char bridge[16];         /* the rigs' bridge; "" : rigs0 */
        char rig_subnet[32];     /* "" : 10.213.0.0/16 */
        char allow_resolver[64]; /* DNS server for allow-list names; "" : the host's */
        bool no_network;         /* rigs get loopback only */
        int pty_idle_s;          /* a terminal session with no traffic this long ends; 0: never */
        /* The app router. */
        char apps_host[256];
        uint16_t apps_port; /* 0: no plain-HTTP router */
        char apps_tls_host[256];
        uint16_t apps_tls_port; /* 0: no HTTPS router */
        char tls_cert[PATH_MAX], tls_key[PATH_MAX];
        char apps_domain[200];
        uint16_t apps_url_port; /* appended to app URLs when set (a non-default public port) */
};

struct rigd_thread;
struct workpool;
struct rigsvc;
struct activity;
struct router;
struct rthread;

struct rigd {
        struct rigd_config cfg;
        struct secrets secrets;
        char db_path[PATH_MAX + 16];
        struct ratelimiter *rl;
        struct metrics metrics;
        struct workpool *pool;
        struct rigsvc *rigs;
        struct activity *activity; /* last activity per rig (router/activity.h) */
        struct router *router;     /* the app router; NULL when it is off */
        h2o_globalconf_t h2o;
        atomic_int nconns;
        atomic_int inflight;
        atomic_int jobs_pending; /* submitted to the work pool, done() not yet run */
        atomic_bool stopping;
        atomic_uint_fast64_t auth_gen; /* bumped by every mutation: invalidates auth caches */
        struct rigd_thread *threads;
        int nthreads;
        int64_t started_ms;
};

struct rigd_thread {
        h2o_context_t ctx; /* first member: handlers find their thread from req->conn->ctx */
        struct rigd *d;
        struct store *st;
        int index;
        pthread_t tid;
        int listen_fd;
        h2o_socket_t *listener;
        h2o_accept_ctx_t accept_ctx;
        h2o_multithread_receiver_t wake;      /* shutdown requests */
        h2o_multithread_receiver_t jobs_done; /* completions from the work pool */
        h2o_timeout_entry_t sweep_timer;
        struct auth_cache *auth_cache;
        struct rthread *router; /* this loop's part of the app router */
        bool woken;             /* the shutdown message reached this loop */
};

static inline struct rigd_thread *thread_of(h2o_req_t *req)
{
        return (struct rigd_thread *)(void *)req->conn->ctx;
}

/* Data dir layout. */
int datadir_paths(const char *dir, char *db, size_t dblen, char *key, size_t keylen);
/* Loads the master secret from the data dir and derives the subkeys. */
int datadir_load_secrets(const char *dir, struct secrets *out);

/* Listening sockets (server.c), shared with the app router. */
int rigd_open_listener(const char *host, uint16_t port);
int rigd_port_free(const char *host, uint16_t port);
void rigd_on_conn_close(void *data);

/* Runs the daemon until SIGTERM/SIGINT; returns the process exit code. */
int rigd_serve(struct rigd_config *cfg);
