/* Last activity per rig, for auto_sleep_s. A small chained hash table under one mutex: touched
 * once per routed request, read by the once-a-second sweep. */
#include "router/activity.h"

#include "base/util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define ACTIVITY_BUCKETS 1024

struct act_entry {
        struct act_entry *next;
        int64_t last_ms;
        char rig_id[ID_MAX];
};

struct activity {
        pthread_mutex_t mu;
        struct act_entry *b[ACTIVITY_BUCKETS];
};

static size_t bucket(const char *id)
{
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (; *id; id++)
                h = (h ^ (uint8_t)*id) * 1099511628211ull;
        return (size_t)(h % ACTIVITY_BUCKETS);
}

struct activity *activity_new(void)
{
        struct activity *a = xcalloc(1, sizeof(*a));
        pthread_mutex_init(&a->mu, NULL);
        return a;
}

void activity_free(struct activity *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < ACTIVITY_BUCKETS; i++)
                for (struct act_entry *e = a->b[i], *n; e; e = n) {
                        n = e->next;
                        free(e);
                }
        pthread_mutex_destroy(&a->mu);
        free(a);
}

void activity_touch(struct activity *a, const char *rig_id, int64_t now_ms)
{
        size_t i = bucket(rig_id);
        pthread_mutex_lock(&a->mu);
        struct act_entry *e = a->b[i];
        while (e && strcmp(e->rig_id, rig_id))
                e = e->next;
        if (!e) {
                e = xcalloc(1, sizeof(*e));
                snprintf(e->rig_id, sizeof(e->rig_id), "%s", rig_id);
                e->next = a->b[i];
                a->b[i] = e;
        }
        if (now_ms > e->last_ms)
                e->last_ms = now_ms;
        pthread_mutex_unlock(&a->mu);
}

int64_t activity_last(struct activity *a, const char *rig_id)
{
        int64_t v = 0;
        pthread_mutex_lock(&a->mu);
        for (struct act_entry *e = a->b[bucket(rig_id)]; e; e = e->next)
                if (!strcmp(e->rig_id, rig_id)) {
                        v = e->last_ms;
                        break;
                }
        pthread_mutex_unlock(&a->mu);
        return v;
}

void activity_forget(struct activity *a, const char *rig_id)
{
        pthread_mutex_lock(&a->mu);
        for (struct act_entry **p = &a->b[bucket(rig_id)]; *p; p = &(*p)->next)
                if (!strcmp((*p)->rig_id, rig_id)) {
                        struct act_entry *e = *p;
                        *p = e->next;
                        free(e);
                        break;
                }
        pthread_mutex_unlock(&a->mu);
}
