#include "rigd/worker.h"

#include <pthread.h>

struct job_guard {
        struct job *job;
};

struct workpool {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct job *head, *tail;
        bool stop;
        int n;
        pthread_t *threads;
};

static void *pool_main(void *arg)
{
        struct workpool *p = arg;
        for (;;) {
                pthread_mutex_lock(&p->lock);
                while (!p->head && !p->stop)
                        pthread_cond_wait(&p->cond, &p->lock);
                if (!p->head) {
                        pthread_mutex_unlock(&p->lock);
                        return NULL;
                }
                struct job *j = p->head;
                p->head = j->next;
                if (!p->head)
                        p->tail = NULL;
                pthread_mutex_unlock(&p->lock);
                j->work(j);
                h2o_multithread_send_message(&j->t->jobs_done, &j->super);
        }
}

struct workpool *workpool_new(int nthreads)
{
        struct workpool *p = xcalloc(1, sizeof(*p));
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->n = nthreads;
        p->threads = xcalloc((size_t)nthreads, sizeof(pthread_t));
        for (int i = 0; i < nthreads; i++)
                pthread_create(&p->threads[i], NULL, pool_main, p);
        return p;
}

void workpool_free(struct workpool *p)
{
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (int i = 0; i < p->n; i++)
                pthread_join(p->threads[i], NULL);
        free(p->threads);
        free(p);
}

static void guard_dispose(void *arg)
{
        struct job_guard *g = arg;
        if (g->job) {
                g->job->c = NULL;
                g->job->guard = NULL;
        }
}

static void enqueue(struct workpool *p, struct job *j)
{
        pthread_mutex_lock(&p->lock);
        if (p->tail)
                p->tail->next = j;
        else
                p->head = j;
        p->tail = j;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
}

void workpool_submit(struct workpool *p, struct reqctx *c, struct job *j)
{
        struct job_guard *g = h2o_mem_alloc_shared(&c->req->pool, sizeof(*g), guard_dispose);
        g->job = j;
        j->guard = g;
        j->c = c;
        j->t = c->t;
        j->next = NULL;
        memset(&j->super, 0, sizeof(j->super));
        atomic_fetch_add(&c->d->jobs_pending, 1);
        enqueue(p, j);
}

void workpool_submit_bg(struct workpool *p, struct rigd_thread *t, struct job *j)
{
        j->guard = NULL;
        j->c = NULL;
        j->t = t;
        j->next = NULL;
        memset(&j->super, 0, sizeof(j->super));
        atomic_fetch_add(&t->d->jobs_pending, 1);
        enqueue(p, j);
}

struct reqctx *job_take_request(struct job *j)
{
        if (j->guard) {
                j->guard->job = NULL;
                j->guard = NULL;
        }
        struct reqctx *c = j->c;
        j->c = NULL;
        return c;
}

void workpool_on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
        while (!h2o_linklist_is_empty(messages)) {
                h2o_multithread_message_t *msg =
                    H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
                h2o_linklist_unlink(&msg->link);
                struct job *j = (struct job *)(void *)msg;
                struct rigd *d = j->t->d;
                j->done(j);
                atomic_fetch_sub(&d->jobs_pending, 1);
        }
}
