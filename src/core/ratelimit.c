#include "core/ratelimit.h"

#include <pthread.h>
#include <stdio.h>

#define RL_STRIPES     64
#define RL_MAX_ENTRIES (1u << 20) /* hard cap on tracked (principal, class) pairs */
/* A bucket of N per minute gains N units per millisecond; one token is 60000 units. */
#define UNITS_PER_TOKEN 60000

struct bucket {
        struct bucket *next;
        uint64_t hash;
        int64_t units; /* tokens x UNITS_PER_TOKEN: integer arithmetic, no drift */
        int64_t last_ms;
        uint8_t cls;
        char who[];
};

struct stripe {
        pthread_mutex_t lock;
        struct bucket **slots;
        size_t nslots;
        size_t count;
};

struct ratelimiter {
        uint32_t per_min[RL_CLASS_MAX];
        struct stripe stripes[RL_STRIPES];
};

static const char *const class_names[RL_CLASS_MAX] = {"auth", "rigs", "apps", "other"};

const char *rl_class_name(enum rl_class c)
{
        return c < RL_CLASS_MAX ? class_names[c] : "?";
}

int rl_class_from_name(const char *s, size_t len)
{
        for (int i = 0; i < RL_CLASS_MAX; i++)
                if (memeq_str(s, len, class_names[i]))
                        return i;
        return -EINVAL;
}

int rl_parse_setting(const char *s, uint32_t per_min[RL_CLASS_MAX])
{
        const char *eq = strchr(s, '=');
        if (!eq)
                return -EINVAL;
        int c = rl_class_from_name(s, (size_t)(eq - s));
        if (c < 0)
                return c;
        char *end;
        errno = 0;
        unsigned long v = strtoul(eq + 1, &end, 10);
        if (errno || end == eq + 1 || *end || v > 1000000000ul || eq[1] == '-')
                return -EINVAL;
        per_min[c] = (uint32_t)v;
        return 0;
}

static uint64_t fnv1a(const char *s, uint8_t cls)
{
        uint64_t h = 1469598103934665603ull ^ cls;
        for (; *s; s++) {
                h ^= (uint8_t)*s;
                h *= 1099511628211ull;
        }
        return h;
}

struct ratelimiter *ratelimiter_new(const uint32_t per_min[RL_CLASS_MAX])
{
        struct ratelimiter *rl = xcalloc(1, sizeof(*rl));
        memcpy(rl->per_min, per_min, sizeof(rl->per_min));
        for (size_t i = 0; i < RL_STRIPES; i++) {
                pthread_mutex_init(&rl->stripes[i].lock, NULL);
                rl->stripes[i].nslots = 64;
                rl->stripes[i].slots = xcalloc(64, sizeof(struct bucket *));
        }
        return rl;
}

void ratelimiter_free(struct ratelimiter *rl)
{
        if (!rl)
                return;
        for (size_t i = 0; i < RL_STRIPES; i++) {
                struct stripe *st = &rl->stripes[i];
                for (size_t j = 0; j < st->nslots; j++) {
                        struct bucket *b = st->slots[j];
                        while (b) {
                                struct bucket *n = b->next;
                                free(b);
                                b = n;
                        }
                }
                free(st->slots);
                pthread_mutex_destroy(&st->lock);
        }
        free(rl);
}

static void stripe_grow(struct stripe *st)
{
        size_t n = st->nslots * 2;
        struct bucket **slots = xcalloc(n, sizeof(*slots));
        for (size_t j = 0; j < st->nslots; j++) {
                struct bucket *b = st->slots[j];
                while (b) {
                        struct bucket *next = b->next;
                        size_t k = (b->hash / RL_STRIPES) % n;
                        b->next = slots[k];
                        slots[k] = b;
                        b = next;
                }
        }
        free(st->slots);
        st->slots = slots;
        st->nslots = n;
}

static void refill(struct bucket *b, int64_t per_min, int64_t now_ms)
{
        int64_t full = per_min * UNITS_PER_TOKEN;
        if (now_ms > b->last_ms) {
                int64_t elapsed = now_ms - b->last_ms;
                /* Saturate before multiplying: an idle bucket is simply full. */
                b->units = elapsed >= UNITS_PER_TOKEN ? full : b->units + elapsed * per_min;
                if (b->units > full)
                        b->units = full;
                b->last_ms = now_ms;
        }
}

int ratelimit_take(struct ratelimiter *rl, enum rl_class c, const char *who, int64_t now_ms)
{
        if (c >= RL_CLASS_MAX || rl->per_min[c] == 0)
                return 0;
        int64_t cap = rl->per_min[c];
        uint64_t h = fnv1a(who, (uint8_t)c);
        struct stripe *st = &rl->stripes[h % RL_STRIPES];
        int retry = 0;
        pthread_mutex_lock(&st->lock);
        size_t k = (h / RL_STRIPES) % st->nslots;
        struct bucket *b = st->slots[k];
        while (b && !(b->hash == h && b->cls == c && streq(b->who, who)))
                b = b->next;
        if (!b) {
                if (st->count >= RL_MAX_ENTRIES / RL_STRIPES) {
                        /* Table full: fail closed for new principals until a sweep frees room. */
                        pthread_mutex_unlock(&st->lock);
                        return 1;
                }
                size_t wl = strlen(who);
                b = xmalloc(sizeof(*b) + wl + 1);
                memcpy(b->who, who, wl + 1);
                b->hash = h;
                b->cls = (uint8_t)c;
                b->units = cap * UNITS_PER_TOKEN;
                b->last_ms = now_ms;
                b->next = st->slots[k];
                st->slots[k] = b;
                if (++st->count > st->nslots * 2)
                        stripe_grow(st);
        }
        refill(b, cap, now_ms);
        if (b->units >= UNITS_PER_TOKEN) {
                b->units -= UNITS_PER_TOKEN;
        } else {
                /* Whole seconds until one token has accumulated: a client that waits exactly
                 * this long is served. */
                int64_t wait_ms = (UNITS_PER_TOKEN - b->units + cap - 1) / cap;
                retry = (int)((wait_ms + 999) / 1000);
                if (retry < 1)
                        retry = 1;
        }
        pthread_mutex_unlock(&st->lock);
        return retry;
}

void ratelimiter_sweep(struct ratelimiter *rl, int64_t now_ms)
{
        for (size_t i = 0; i < RL_STRIPES; i++) {
                struct stripe *st = &rl->stripes[i];
                pthread_mutex_lock(&st->lock);
                for (size_t j = 0; j < st->nslots; j++) {
                        struct bucket **pp = &st->slots[j];
                        while (*pp) {
                                struct bucket *b = *pp;
                                int64_t cap = rl->per_min[b->cls];
                                refill(b, cap, now_ms);
                                if (cap == 0 || b->units >= cap * UNITS_PER_TOKEN) {
                                        *pp = b->next;
                                        free(b);
                                        st->count--;
                                } else {
                                        pp = &b->next;
                                }
                        }
                }
                pthread_mutex_unlock(&st->lock);
        }
}

size_t ratelimiter_size(struct ratelimiter *rl)
{
        size_t n = 0;
        for (size_t i = 0; i < RL_STRIPES; i++) {
                pthread_mutex_lock(&rl->stripes[i].lock);
                n += rl->stripes[i].count;
                pthread_mutex_unlock(&rl->stripes[i].lock);
        }
        return n;
}
