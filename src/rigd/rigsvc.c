#include "rigd/rigsvc.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "core/audit.h"
#include "rigd/netsvc.h"

#include <jansson.h>
#include <stdio.h>
#include <sys/sysinfo.h>

int rigsvc_init(struct rigsvc *s, const char *data_dir, const char *templates_dir)
{
        memset(s, 0, sizeof(*s));
        pthread_mutex_init(&s->lock, NULL);
        snprintf(s->templates_dir, sizeof(s->templates_dir), "%s", templates_dir);
        s->host_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
        struct sysinfo si;
        s->host_memory_mb =
            sysinfo(&si) == 0 ? (int64_t)(si.totalram / 1048576 * si.mem_unit) : 1024;
        s->defaults = (struct rig_defaults){
            .cpus = 1, .memory_mb = 512, .max_processes = 512, .disk_mb = 1024};
        if (s->defaults.cpus > s->host_cpus)
                s->defaults.cpus = s->host_cpus;
        s->quota = (struct rig_quota){.project_rigs = 100, .project_memory_mb = 262144};
        int r = runtime_ns_open(data_dir, &s->rt);
        if (r == 0)
                snprintf(s->rt.templates_dir, sizeof(s->rt.templates_dir), "%s", templates_dir);
        if (r < 0) {
                snprintf(s->why, sizeof(s->why), "the rig runtime is unavailable: %s",
                         strerror(-r));
                return r;
        }
        s->ready = true;
        return 0;
}

void rigsvc_free(struct rigsvc *s)
{
        netsvc_close(s->net);
        s->net = NULL;
        if (s->ready)
                runtime_close(&s->rt);
        free(s->busy);
        pthread_mutex_destroy(&s->lock);
}

bool rigsvc_claim(struct rigsvc *s, const char *id)
{
        bool ok = true;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->nbusy; i++)
                if (streq(s->busy[i], id))
                        ok = false;
        if (ok) {
                if (s->nbusy == s->capbusy) {
                        s->capbusy = s->capbusy ? s->capbusy * 2 : 16;
                        s->busy = xrealloc(s->busy, s->capbusy * sizeof(*s->busy));
                }
                snprintf(s->busy[s->nbusy++], ID_MAX, "%s", id);
        }
        pthread_mutex_unlock(&s->lock);
        return ok;
}

void rigsvc_release(struct rigsvc *s, const char *id)
{
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->nbusy; i++)
                if (streq(s->busy[i], id)) {
                        memcpy(s->busy[i], s->busy[s->nbusy - 1], ID_MAX);
                        s->nbusy--;
                        break;
                }
        pthread_mutex_unlock(&s->lock);
}

int rigsvc_spec(struct rigsvc *s, const struct rig *r, struct rig_spec *spec)
{
        memset(spec, 0, sizeof(*spec));
        netsvc_fill(s->net, r, &spec->net);
        snprintf(spec->id, sizeof(spec->id), "%s", r->id);
        snprintf(spec->hostname, sizeof(spec->hostname), "%s", r->name);
        snprintf(spec->template_name, sizeof(spec->template_name), "%s", r->template_name);
        spec->stateless = r->stateless;
        spec->limits = (struct rig_limits){.cpus = r->cpus,
                                           .memory_mb = r->memory_mb,
                                           .max_processes = r->max_processes,
                                           .disk_mb = r->disk_mb};
        spec->uid_base = r->uid_base;
        json_t *env = json_loads(r->env ? r->env : "{}", 0, NULL);
        if (!json_is_object(env)) {
                json_decref(env);
                return -EINVAL;
        }
        spec->env = xcalloc(json_object_size(env) + 1, sizeof(char *));
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v)
        {
                spec->env[i++] =
                    xasprintf("%s=%s", k, json_string_value(v) ? json_string_value(v) : "");
        }
        json_decref(env);
        return 0;
}

void rigsvc_spec_free(struct rig_spec *spec)
{
        if (spec->env)
                for (char **e = spec->env; *e; e++)
                        free(*e);
        free(spec->env);
        spec->env = NULL;
}

int rigsvc_create(struct rigsvc *s, const struct rig *r)
{
        struct runtime *rt = &s->rt;
        struct rig_spec spec;
        int ret = rigsvc_spec(s, r, &spec);
        if (ret == 0)
                ret = rt->ops->create(rt, &spec);
        /* The rules come first: a rig's port passes nothing until its rules exist. */
        if (ret == 0 && s->net && (ret = netsvc_rig_set(s->net, r)) < 0) {
                char why[256];
                netsvc_error(s->net, why, sizeof(why));
                log_warn("rig %s: cannot install its network rules: %s", r->id, why);
        }
        if (ret == 0)
                ret = rt->ops->start(rt, &spec);
        rigsvc_spec_free(&spec);
        if (ret < 0) {
                /* Leave nothing behind. */
                (void)rt->ops->destroy(rt, r->id);
                if (s->net)
                        (void)netsvc_rig_remove(s->net, r->id);
        }
        return ret;
}

int rigsvc_apply(struct rigsvc *s, const struct rig *r, enum rig_action a)
{
        struct runtime *rt = &s->rt;
        struct rig_spec spec;
        int ret = rigsvc_spec(s, r, &spec);
        if (ret < 0)
                return ret;
        switch (a) {
        case RA_START:
                ret = rt->ops->start(rt, &spec);
                break;
        case RA_STOP:
                ret = rt->ops->stop(rt, r->id, r->stateless);
                break;
        case RA_RESTART:
                ret = rt->ops->stop(rt, r->id, r->stateless);
                if (ret == 0)
                        ret = rt->ops->start(rt, &spec);
                break;
        case RA_PAUSE:
                ret = rt->ops->pause(rt, r->id);
                break;
        case RA_RESUME:
                ret = rt->ops->resume(rt, r->id);
                break;
        case RA_DELETE:
                ret = rt->ops->destroy(rt, r->id);
                if (ret == 0 && s->net && (ret = netsvc_rig_remove(s->net, r->id)) < 0) {
                        char why[256];
                        netsvc_error(s->net, why, sizeof(why));
                        log_warn("rig %s: cannot remove its network rules: %s", r->id, why);
                }
                break;
        case RA_EXEC:
                ret = -EINVAL;
                break;
        }
        rigsvc_spec_free(&spec);
        return ret;
}

static void reconcile_audit(struct store *st, const uint8_t key[32], const struct rig *r,
                            const char *action)
{
        struct audit_entry e = {.at = now_ms() / 1000};
        snprintf(e.principal, sizeof(e.principal), "rigd");
        snprintf(e.kind, sizeof(e.kind), "anonymous"); /* rigd itself, not a principal */
        snprintf(e.action, sizeof(e.action), "%s", action);
        snprintf(e.target, sizeof(e.target), "%s", r->id);
        snprintf(e.org, sizeof(e.org), "%s", r->org_id);
        snprintf(e.project, sizeof(e.project), "%s", r->project_id);
        snprintf(e.result, sizeof(e.result), "ok");
        (void)audit_append(st, key, &e);
}

/* One rig: make the store and the host agree. */
static void reconcile_one(struct rigsvc *s, struct store *st, const uint8_t key[32],
                          const struct rig *r)
{
        struct runtime *rt = &s->rt;
        struct rig_status status = {0};
        if (r->state == RIG_CREATING) {
                /* The create never answered: undo it entirely. */
                (void)rt->ops->destroy(rt, r->id);
                if (store_begin(st) == 0) {
                        (void)store_rig_delete(st, r->id);
                        reconcile_audit(st, key, r, "rig.create.rollback");
                        (void)store_commit(st);
                }
                log_info("reconcile: removed %s, left half-created by a crash", r->id);
                return;
        }
        (void)rt->ops->status(rt, r->id, &status);
        bool alive = status.state != RUN_MISSING;
        enum rig_state now = r->state;
        if ((r->state == RIG_RUNNING || r->state == RIG_PAUSED) && !alive) {
                (void)rt->ops->stop(rt, r->id, r->stateless);
                now = RIG_STOPPED;
        } else if (alive && (r->state == RIG_STOPPED || r->state == RIG_ERROR)) {
                (void)rt->ops->stop(rt, r->id, r->stateless);
        } else if (alive) {
                now = status.state == RUN_PAUSED ? RIG_PAUSED : RIG_RUNNING;
        }
        if (now != r->state && store_begin(st) == 0) {
                (void)store_rig_set_state(st, r->id, now, alive ? NULL : "its processes ended");
                reconcile_audit(st, key, r, "rig.reconcile");
                (void)store_commit(st);
                log_info("reconcile: %s %s -> %s", r->id, rig_state_name(r->state),
                         rig_state_name(now));
        }
}

int rigsvc_reconcile(struct rigsvc *s, struct store *st, const uint8_t audit_key[32])
{
        if (!s->ready)
                return 0;
        _cleanup_(rigs_list_free) struct list l = {0};
        int r = store_rigs_all(st, &l);
        if (r < 0)
                return r;
        const char **keep = xcalloc(l.n + 1, sizeof(char *));
        size_t nkeep = 0;
        for (size_t i = 0; i < l.n; i++) {
                const struct rig *rg = &((struct rig *)l.items)[i];
                reconcile_one(s, st, audit_key, rg);
                if (rg->state != RIG_CREATING)
                        keep[nkeep++] = rg->id;
        }
        r = s->rt.ops->reconcile(&s->rt, keep, nkeep);
        free(keep);
        if (s->net) {
                /* After the rigs above: rules and ports of deleted rigs go too. */
                int n = netsvc_reconcile(s->net, st);
                if (n < 0 && r >= 0)
                        r = n;
        }
        return r;
}
