/* A small pool of threads for blocking work (argon2id, later rig operations). A job's done()
 * runs back on the event loop thread that submitted it; if the client went away meanwhile,
 * job->c is NULL and done() must only release the job's own resources. */
#pragma once

#include "rigd/http.h"

struct job {
        h2o_multithread_message_t super;
        void (*work)(struct job *j); /* on a pool thread: no h2o, no store of the loop */
        void (*done)(struct job *j); /* on the loop thread */
        struct reqctx *c;            /* NULL once the request is gone */
        struct job_guard *guard;
        struct rigd_thread *t;
        struct job *next;
};

struct workpool *workpool_new(int nthreads);
void workpool_free(struct workpool *p);
/* Queues j for c's request; j must be heap-allocated and is freed by done(). */
void workpool_submit(struct workpool *p, struct reqctx *c, struct job *j);
/* Queues a job that belongs to no request (sweeps); done() runs on t's loop with j->c NULL. */
void workpool_submit_bg(struct workpool *p, struct rigd_thread *t, struct job *j);
/* Receiver callback registered on each loop thread's jobs_done receiver. */
void workpool_on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
/* Marks the job finished for the request: detaches the guard. Call first thing in done(). */
struct reqctx *job_take_request(struct job *j);
