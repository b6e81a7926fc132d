/* Prometheus metrics: counters updated with relaxed atomics from every loop thread. */
#pragma once

#include "base/buf.h"
#include "core/ratelimit.h"

#include <stdatomic.h>

#define METRIC_CLASSES (RL_CLASS_MAX + 1) /* the rate-limit classes plus "none" (public) */
#define METRIC_BUCKETS 14

struct metrics {
        atomic_uint_fast64_t requests[METRIC_CLASSES][600]; /* by class and status */
        atomic_uint_fast64_t latency_bucket[METRIC_BUCKETS];
        atomic_uint_fast64_t latency_count;
        atomic_uint_fast64_t latency_sum_us;
        atomic_uint_fast64_t rate_limited;
        atomic_uint_fast64_t auth_failures;
        atomic_uint_fast64_t router_requests[600]; /* the app router's answers by status */
};

/* Counts an answer of the app router (its own or the app's). */
static inline void metrics_router(struct metrics *m, int status)
{
        if (status >= 100 && status < 600)
                atomic_fetch_add_explicit(&m->router_requests[status], 1, memory_order_relaxed);
}

void metrics_observe(struct metrics *m, int cls, int status, int64_t micros);
/* Renders the exposition text; gauges are passed in by the caller. */
void metrics_render(struct metrics *m, struct buf *out, int active_sessions, int connections,
                    int64_t uptime_s);
