#include "rigd/metrics.h"

static const double bucket_le[METRIC_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

void metrics_observe(struct metrics *m, int cls, int status, int64_t micros)
{
        if (cls < 0 || cls >= METRIC_CLASSES)
                cls = METRIC_CLASSES - 1;
        if (status < 0 || status >= 600)
                status = 0;
        atomic_fetch_add_explicit(&m->requests[cls][status], 1, memory_order_relaxed);
        double s = (double)micros / 1e6;
        for (int i = 0; i < METRIC_BUCKETS; i++)
                if (s <= bucket_le[i]) {
                        atomic_fetch_add_explicit(&m->latency_bucket[i], 1, memory_order_relaxed);
                        break;
                }
        atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&m->latency_sum_us, (uint64_t)(micros < 0 ? 0 : micros),
                                  memory_order_relaxed);
}

static const char *class_label(int c)
{
        return c < RL_CLASS_MAX ? rl_class_name((enum rl_class)c) : "none";
}

void metrics_render(struct metrics *m, struct buf *out, int active_sessions, int connections,
                    int64_t uptime_s)
{
        buf_puts(out, "# HELP rigs_http_requests_total HTTP requests by route class and status.\n"
                      "# TYPE rigs_http_requests_total counter\n");
        for (int c = 0; c < METRIC_CLASSES; c++)
                for (int s = 0; s < 600; s++) {
                        uint64_t v = atomic_load_explicit(&m->requests[c][s], memory_order_relaxed);
                        if (v)
                                buf_printf(out,
                                           "rigs_http_requests_total{class=\"%s\",status=\"%d\"} "
                                           "%llu\n",
                                           class_label(c), s, (unsigned long long)v);
                }
        buf_puts(out, "# HELP rigs_router_requests_total Requests answered by the app router, by "
                      "status.\n# TYPE rigs_router_requests_total counter\n");
        for (int s = 100; s < 600; s++) {
                uint64_t v = atomic_load_explicit(&m->router_requests[s], memory_order_relaxed);
                if (v)
                        buf_printf(out, "rigs_router_requests_total{status=\"%d\"} %llu\n", s,
                                   (unsigned long long)v);
        }
        buf_puts(out, "# HELP rigs_http_request_duration_seconds Time to answer a request.\n"
                      "# TYPE rigs_http_request_duration_seconds histogram\n");
        uint64_t cum = 0;
        for (int i = 0; i < METRIC_BUCKETS; i++) {
                cum += atomic_load_explicit(&m->latency_bucket[i], memory_order_relaxed);
                buf_printf(out, "rigs_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                           bucket_le[i], (unsigned long long)cum);
        }
        uint64_t count = atomic_load_explicit(&m->latency_count, memory_order_relaxed);
        buf_printf(out, "rigs_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                   (unsigned long long)count);
        buf_printf(out, "rigs_http_request_duration_seconds_sum %.6f\n",
                   (double)atomic_load_explicit(&m->latency_sum_us, memory_order_relaxed) / 1e6);
        buf_printf(out, "rigs_http_request_duration_seconds_count %llu\n",
                   (unsigned long long)count);
        buf_printf(
            out,
            "# HELP rigs_active_sessions Browser sessions that are neither expired nor idle.\n"
            "# TYPE rigs_active_sessions gauge\nrigs_active_sessions %d\n",
            active_sessions);
        buf_printf(out,
                   "# HELP rigs_http_connections Open client connections.\n"
                   "# TYPE rigs_http_connections gauge\nrigs_http_connections %d\n",
                   connections);
        buf_printf(out,
                   "# HELP rigs_rate_limited_total Requests refused with 429.\n"
                   "# TYPE rigs_rate_limited_total counter\nrigs_rate_limited_total %llu\n",
                   (unsigned long long)atomic_load(&m->rate_limited));
        buf_printf(out,
                   "# HELP rigs_auth_failures_total Requests refused with 401.\n"
                   "# TYPE rigs_auth_failures_total counter\nrigs_auth_failures_total %llu\n",
                   (unsigned long long)atomic_load(&m->auth_failures));
        buf_printf(out,
                   "# HELP rigs_uptime_seconds Seconds since rigd started.\n"
                   "# TYPE rigs_uptime_seconds gauge\nrigs_uptime_seconds %lld\n",
                   (long long)uptime_s);
}
