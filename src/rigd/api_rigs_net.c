/* PATCH /api/rigs/{id} {"network": {...}, "auto_sleep_s": N}: a rig's egress policy and exempt
 * ports, changed at once on a running rig, and its auto-sleep setting; and the periodic
 * re-resolution of allow-list host names. The network service (netsvc.h) changes the rules on the
 * work pool; the store update and its audit entry (rig.update) commit together before the reply. */
#include "rigd/api.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "rigd/netsvc.h"
#include "rigd/rigsvc.h"
#include "rigd/worker.h"
#include "router/activity.h"

#include <stdio.h>

struct net_job {
        struct job super;
        struct rigsvc *svc;
        struct rig rig; /* its network JSON is the new one */
        int result;
        char why[256];  /* nftables' message when the rules could not change */
        bool set_sleep; /* rig.auto_sleep_s is new too */
        struct principal actor;
        char ip[64];
};

static void net_job_work(struct job *jb)
{
        struct net_job *j = (struct net_job *)jb;
        j->result = j->svc->net ? netsvc_rig_set(j->svc->net, &j->rig) : 0;
        if (j->result < 0)
                netsvc_error(j->svc->net, j->why, sizeof(j->why));
}

static int net_job_commit(struct net_job *j, struct store *st, const uint8_t *audit_key)
{
        struct audit_entry e;
        audit_fill(&e, &j->actor, j->ip, "rig.update", j->rig.id, j->rig.project_id,
                   j->result == 0 ? "ok" : "error");
        int r = store_begin(st);
        if (r < 0)
                return r;
        if (j->result == 0)
                r = store_rig_set_network(st, j->rig.id, j->rig.network, j->rig.ip);
        if (r == 0 && j->result == 0 && j->set_sleep)
                r = store_rig_set_auto_sleep(st, j->rig.id, j->rig.auto_sleep_s);
        if (r == 0)
                r = audit_append(st, audit_key, &e);
        if (r == 0)
                r = store_commit(st);
        else
                store_rollback(st);
        return r;
}

static void net_job_done(struct job *jb)
{
        struct net_job *j = (struct net_job *)jb;
        struct reqctx *c = job_take_request(jb);
        int r = net_job_commit(j, jb->t->st, jb->t->d->secrets.audit_key);
        rigsvc_release(j->svc, j->rig.id);
        if (j->result < 0)
                log_warn("rig %s: network change failed: %s (%s)", j->rig.id, strerror(-j->result),
                         j->why);
        if (c) {
                c->audited = true;
                if (j->result < 0 || r < 0)
                        reply_error(c, 500, "internal",
                                    "the rig's network could not be changed; nothing was");
                else
                        reply_json(c, 200, rig_json(&j->rig));
        }
        rig_free_fields(&j->rig);
        free(j);
}

/* The rig's current network settings with the given members replacing theirs. */
static int network_merge(struct reqctx *c, const struct rig *r, json_t *given, json_t **out)
{
        if (!json_is_object(given)) {
                reply_error(c, 400, "invalid_request", "network must be an object");
                return -EINVAL;
        }
        json_t *ip = json_object_get(given, "ip");
        if (ip && !json_is_null(ip) &&
            (!json_is_string(ip) || !streq(json_string_value(ip), r->ip))) {
                reply_error(c, 400, "invalid_request", "network.ip cannot be changed");
                return -EINVAL;
        }
        json_t *cur = json_loads(r->network ? r->network : "{}", 0, NULL);
        if (!json_is_object(cur)) {
                json_decref(cur);
                cur = json_object();
        }
        const char *k;
        json_t *v;
        json_object_foreach(given, k, v)
        {
                if (streq(k, "egress") || streq(k, "loopback_exempt_ports"))
                        json_object_set(cur, k, v);
                else if (!streq(k, "ip")) {
                        reply_error(c, 400, "invalid_request",
                                    "network.%s is not a network setting (egress, "
                                    "loopback_exempt_ports)",
                                    k);
                        json_decref(cur);
                        return -EINVAL;
                }
        }
        *out = cur;
        return 0;
}

struct rig_patch {
        json_t *network; /* NULL: unchanged */
        bool set_sleep;
        int64_t auto_sleep_s;
};

/* The body takes network and auto_sleep_s: nothing else of a rig changes after its creation. */
static int patch_body(struct reqctx *c, json_t **root, struct rig_patch *out)
{
        static const struct jfield none[] = {{0}};
        char dummy;
        if (body_decode(c, none, 0, &dummy, NULL, root) < 0)
                return -EINVAL;
        const char *k;
        json_t *v;
        json_object_foreach(*root, k, v)
        {
                if (!streq(k, "network") && !streq(k, "auto_sleep_s")) {
                        reply_error(c, 400, "invalid_request",
                                    "%s cannot be changed; PATCH takes {\"network\": {...}} and "
                                    "auto_sleep_s",
                                    k);
                        return -EINVAL;
                }
        }
        json_t *sleep = json_object_get(*root, "auto_sleep_s");
        if (sleep && !json_is_null(sleep)) {
                /* -1 for a non-integer: out of range, so the same message */
                if (auto_sleep_validate(c, json_is_integer(sleep) ? json_integer_value(sleep)
                                                                  : -1) < 0)
                        return -EINVAL;
                out->set_sleep = true;
                out->auto_sleep_s = json_integer_value(sleep);
        }
        out->network = json_object_get(*root, "network");
        if (!out->network && !out->set_sleep) {
                reply_error(c, 400, "invalid_request", "network or auto_sleep_s is required");
                return -EINVAL;
        }
        return 0;
}

/* PATCH of auto_sleep_s alone: a store change, no work on the host. */
static void sleep_patch(struct reqctx *c, struct rig *r, int64_t auto_sleep_s)
{
        r->auto_sleep_s = auto_sleep_s;
        int ret = store_begin(c->st);
        if (ret == 0)
                ret = store_rig_set_auto_sleep(c->st, r->id, auto_sleep_s);
        if (ret == 0)
                ret = audit_here(c, "ok");
        if (ret == 0)
                ret = store_commit(c->st);
        else
                store_rollback(c->st);
        if (ret < 0) {
                c->audited = false;
                reply_errno(c, ret, "rig");
                return;
        }
        /* The idle clock restarts: enabling auto-sleep does not pause a rig the same second. */
        activity_touch(c->d->activity, r->id, now_ms());
        reply_json(c, 200, rig_json(r));
}

void api_rigs_patch(struct reqctx *c)
{
        json_t *root = NULL;
        struct rig_patch pt = {0};
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        json_t *merged = NULL;
        char *text = NULL;
        int ret = patch_body(c, &root, &pt);
        if (ret == 0)
                ret = rig_from_path(c, &r);
        if (ret == 0 && !pt.network) {
                json_decref(root);
                sleep_patch(c, &r, pt.auto_sleep_s);
                return;
        }
        if (ret == 0)
                ret = network_merge(c, &r, pt.network, &merged);
        if (ret == 0)
                ret = network_validate(c, merged, &text);
        json_decref(merged);
        json_decref(root);
        if (ret < 0)
                return;
        if (!rigsvc_claim(c->d->rigs, r.id)) {
                free(text);
                reply_error(c, 409, "conflict",
                            "the rig is busy with another operation; retry when it finishes");
                return;
        }
        struct net_job *j = xcalloc(1, sizeof(*j));
        j->svc = c->d->rigs;
        j->rig = r;
        j->rig.network = text;
        j->rig.env = xstrdup(r.env ? r.env : "{}");
        j->set_sleep = pt.set_sleep;
        if (pt.set_sleep)
                j->rig.auto_sleep_s = pt.auto_sleep_s;
        j->actor = c->p;
        snprintf(j->ip, sizeof(j->ip), "%s", c->ip);
        j->super.work = net_job_work;
        j->super.done = net_job_done;
        workpool_submit(c->d->pool, c, &j->super);
}

/* ---- re-resolution of allow-list names ---- */

struct resolve_job {
        struct job super;
        struct netsvc *net;
};

static void resolve_work(struct job *jb)
{
        netsvc_resolve(((struct resolve_job *)jb)->net);
}

static void resolve_done(struct job *jb)
{
        struct resolve_job *j = (struct resolve_job *)jb;
        atomic_store(&j->net->resolving, false);
        free(j);
}

void rigs_net_tick(struct rigd_thread *t, int64_t now_mono_ms)
{
        struct netsvc *n = t->d->rigs->net;
        bool expected = false;
        if (!n || !netsvc_resolve_due(n, now_mono_ms) ||
            !atomic_compare_exchange_strong(&n->resolving, &expected, true))
                return;
        struct resolve_job *j = xcalloc(1, sizeof(*j));
        j->net = n;
        j->super.work = resolve_work;
        j->super.done = resolve_done;
        workpool_submit_bg(t->d->pool, t, &j->super);
}
