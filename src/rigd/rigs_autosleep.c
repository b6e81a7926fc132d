/* Auto-sleep: a running rig with auto_sleep_s > 0 is paused once it has been idle that long.
 * Idle time counts from the rig's last activity (router/activity.h: requests the app router
 * forwards to it, API starts, resumes, execs and their output, terminals opened) or, when none
 * was recorded since rigd started, from rigd's start. An open terminal session counts as
 * activity. The pause is the pause endpoint's own job (rigsvc_apply on the work pool), audited
 * as `rig.autosleep` by principal "rigd". */
#include "rigd/api.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "rigd/pty.h"
#include "rigd/rigsvc.h"
#include "router/activity.h"

#include <stdio.h>

#define AUTOSLEEP_EVERY_MS 2000

int auto_sleep_validate(struct reqctx *c, int64_t v)
{
        if (v == 0 || (v >= AUTO_SLEEP_MIN_S && v <= AUTO_SLEEP_MAX_S))
                return 0;
        reply_error(c, 400, "invalid_request",
                    "auto_sleep_s must be 0 (never) or an integer from %d to %d", AUTO_SLEEP_MIN_S,
                    AUTO_SLEEP_MAX_S);
        return -EINVAL;
}

/* The rig is still running per the store once claimed: a stop or pause on another loop may
 * have finished since the sweep listed it. */
static bool still_running(struct rigd_thread *t, const struct rig *r)
{
        struct tenant tn = {.org_id = r->org_id};
        struct rig now;
        memset(&now, 0, sizeof(now));
        bool ok = store_rig_get(t->st, &tn, r->id, NULL, &now) == 0 && now.state == RIG_RUNNING &&
                  now.auto_sleep_s > 0;
        rig_free_fields(&now);
        return ok;
}

/* How long the rig has been idle, in ms; 0 while a terminal session is open. */
static int64_t idle_ms(struct rigd *d, const struct rig *r, int64_t now)
{
        struct pty_info info;
        if (pty_list(r->id, &info, 1) > 0) {
                activity_touch(d->activity, r->id, now);
                return 0;
        }
        int64_t last = activity_last(d->activity, r->id);
        return now - (last > d->started_ms ? last : d->started_ms);
}

void rigs_autosleep_tick(struct rigd_thread *t, const struct list *rigs)
{
        static int64_t next_ms; /* the sweep thread only */
        struct rigd *d = t->d;
        int64_t mono = mono_ms();
        if (mono < next_ms)
                return;
        next_ms = mono + AUTOSLEEP_EVERY_MS;
        int64_t now = now_ms();
        for (size_t i = 0; i < rigs->n; i++) {
                const struct rig *r = &((const struct rig *)rigs->items)[i];
                enum rig_state to;
                if (r->state != RIG_RUNNING || r->auto_sleep_s <= 0)
                        continue;
                int64_t idle = idle_ms(d, r, now);
                if (idle < r->auto_sleep_s * 1000 || rig_transition(r->state, RA_PAUSE, &to) < 0 ||
                    !rigsvc_claim(d->rigs, r->id))
                        continue;
                if (!still_running(t, r)) {
                        rigsvc_release(d->rigs, r->id);
                        continue;
                }
                log_info("rig %s: idle for %lld s (auto_sleep_s %lld): pausing it", r->id,
                         (long long)(idle / 1000), (long long)r->auto_sleep_s);
                rigs_sweep_submit(t, r, RA_PAUSE, to, "rig.autosleep");
        }
}
