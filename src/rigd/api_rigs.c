/* Rigs: create, list, get, lifecycle actions, delete. Runtime work runs on the work pool; the
 * store update and its audit entry commit together before the reply. */
#include "rigd/api.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "rigd/netsvc.h"
#include "rigd/rigsvc.h"
#include "rigd/worker.h"
#include "router/activity.h"
#include "runtime/disk.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>

#define RIG_TTL_MAX_S (365ll * 24 * 3600)
#define ENV_MAX_VARS  256
#define ENV_MAX_BYTES (64 * 1024)

json_t *rig_json(const struct rig *r)
{
        json_t *net = json_loads(r->network ? r->network : "{}", 0, NULL);
        if (!json_is_object(net)) {
                json_decref(net);
                net = json_object();
        }
        json_object_set_new(net, "ip", r->ip[0] ? json_string(r->ip) : json_null());
        json_t *env = json_loads(r->env ? r->env : "{}", 0, NULL);
        if (!env)
                env = json_object();
        json_t *o = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:{s:f,s:I,s:I,s:I},s:o,s:o,s:o,s:o,s:s,s:o}", "id",
            r->id, "name", r->name, "org", r->org_id, "project", r->project_id, "state",
            rig_state_name(r->state), "template", r->template_name, "stateless", r->stateless,
            "resources", "cpus", r->cpus, "memory_mb", (json_int_t)r->memory_mb, "max_processes",
            (json_int_t)r->max_processes, "disk_mb", (json_int_t)r->disk_mb, "network", net, "env",
            env, "ttl_s", r->ttl_s ? json_integer(r->ttl_s) : json_null(), "expires_at",
            json_time(r->expires_at), "created_by", r->created_by, "created_at",
            json_time(r->created_at));
        if (r->error[0])
                json_object_set_new(o, "error", json_string(r->error));
        json_object_set_new(o, "auto_sleep_s", json_integer(r->auto_sleep_s));
        return o;
}

static struct rigsvc *svc(struct reqctx *c)
{
        return c->d->rigs;
}

/* Rig routes need a working runtime: otherwise 503 says why. */
static bool runtime_ok(struct reqctx *c)
{
        if (svc(c)->ready)
                return true;
        reply_error(c, 503, "unavailable", "%s", svc(c)->why);
        return false;
}

static void tenant_of(const struct reqctx *c, struct tenant *t)
{
        t->org_id = c->p.org_id;
        t->project_id = c->p.project_id[0] ? c->p.project_id : NULL;
}

/* The project a rig name is looked up in: the credential's, else the org's "default". */
static void name_project(struct reqctx *c, char out[ID_MAX])
{
        struct project p;
        out[0] = '\0';
        if (c->p.project_id[0])
                snprintf(out, ID_MAX, "%s", c->p.project_id);
        else if (store_project_resolve(c->st, c->p.org_id, "default", &p) == 0)
                snprintf(out, ID_MAX, "%s", p.id);
}

int rig_from_path(struct reqctx *c, struct rig *out)
{
        char ref[128], prj[ID_MAX];
        struct tenant t;
        if (path_param(c, 0, ref, sizeof(ref)) < 0)
                return -ENOENT;
        tenant_of(c, &t);
        name_project(c, prj);
        snprintf(c->target, sizeof(c->target), "%s", ref);
        int r = store_rig_get(c->st, &t, ref, prj, out);
        if (r < 0) {
                reply_errno(c, r, "rig");
                return r;
        }
        snprintf(c->target, sizeof(c->target), "%s", out->id);
        snprintf(c->project, sizeof(c->project), "%s", out->project_id);
        return 0;
}

/* ---- create: validation ---- */

struct create_in {
        char name[64];
        char project[128];
        char template[32];
        bool stateless;
        json_t *resources;
        json_t *network;
        json_t *env;
        int64_t ttl_s;
        int64_t auto_sleep_s;
};

static int int_field(struct reqctx *c, json_t *obj, const char *name, int64_t lo, int64_t hi,
                     int64_t *out)
{
        json_t *v = json_object_get(obj, name);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
                reply_error(c, 400, "invalid_request",
                            "resources.%s must be an integer from %lld to %lld", name,
                            (long long)lo, (long long)hi);
                return -EINVAL;
        }
        *out = json_integer_value(v);
        return 0;
}

static int parse_resources(struct reqctx *c, json_t *res, struct rig *r)
{
        struct rigsvc *s = svc(c);
        r->cpus = s->defaults.cpus;
        r->memory_mb = s->defaults.memory_mb;
        r->max_processes = s->defaults.max_processes;
        r->disk_mb = s->defaults.disk_mb;
        if (!res)
                return 0;
        if (!json_is_object(res)) {
                reply_error(c, 400, "invalid_request", "resources must be an object");
                return -EINVAL;
        }
        json_t *cpus = json_object_get(res, "cpus");
        if (cpus && !json_is_null(cpus)) {
                double v = json_number_value(cpus);
                if (!json_is_number(cpus) || !isfinite(v) || v < 0.1 || v > s->host_cpus) {
                        reply_error(c, 400, "invalid_request",
                                    "resources.cpus must be a number from 0.1 to %d", s->host_cpus);
                        return -EINVAL;
                }
                r->cpus = v;
        }
        if (int_field(c, res, "memory_mb", 64, s->host_memory_mb, &r->memory_mb) < 0 ||
            int_field(c, res, "max_processes", 16, 65536, &r->max_processes) < 0 ||
            int_field(c, res, "disk_mb", 256, 1048576, &r->disk_mb) < 0)
                return -EINVAL;
        return 0;
}

static bool env_name_ok(const char *k)
{
        if (!*k || !((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_'))
                return false;
        for (const char *p = k; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return strlen(k) <= 256;
}

/* Validates an env object ({"NAME": "value"}); on success returns its JSON text. */
int env_validate(struct reqctx *c, json_t *env, char **out)
{
        if (!env) {
                *out = xstrdup("{}");
                return 0;
        }
        if (!json_is_object(env) || json_object_size(env) > ENV_MAX_VARS) {
                reply_error(c, 400, "invalid_request",
                            "env must be an object of at most %d string values", ENV_MAX_VARS);
                return -EINVAL;
        }
        size_t total = 0;
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v)
        {
                if (!env_name_ok(k) || !json_is_string(v)) {
                        reply_error(c, 400, "invalid_request",
                                    "env entries need a name like [A-Za-z_][A-Za-z0-9_]* and a "
                                    "string value");
                        return -EINVAL;
                }
                total += strlen(k) + json_string_length(v) + 2;
        }
        if (total > ENV_MAX_BYTES) {
                reply_error(c, 400, "invalid_request", "env is larger than %d bytes",
                            ENV_MAX_BYTES);
                return -EINVAL;
        }
        *out = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
        return 0;
}

static bool cidr_ok(const char *s)
{
        char addr[64];
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0 || n >= sizeof(addr))
                return false;
        memcpy(addr, s, n);
        addr[n] = '\0';
        unsigned char buf[16];
        int fam = inet_pton(AF_INET, addr, buf) == 1    ? 4
                  : inet_pton(AF_INET6, addr, buf) == 1 ? 6
                                                        : 0;
        if (!fam)
                return false;
        if (!slash)
                return true;
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        return slash[1] && !*end && bits >= 0 && bits <= (fam == 4 ? 32 : 128);
}

static bool host_ok(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
                        return false;
        return s[0] != '.' && s[0] != '-';
}

/* Validates a network object; returns its normalised JSON text (egress and exempt ports). */
int network_validate(struct reqctx *c, json_t *net, char **out)
{
        json_t *egress = net ? json_object_get(net, "egress") : NULL;
        json_t *ports = net ? json_object_get(net, "loopback_exempt_ports") : NULL;
        const char *bad = NULL;
        if (net && !json_is_object(net))
                bad = "network must be an object";
        else if (egress && json_is_string(egress) && !streq(json_string_value(egress), "open") &&
                 !streq(json_string_value(egress), "none"))
                bad = "network.egress must be \"open\", \"none\" or {\"allow\": [...]}";
        else if (egress && json_is_object(egress)) {
                json_t *allow = json_object_get(egress, "allow");
                size_t i;
                json_t *v;
                if (!json_is_array(allow) || json_array_size(allow) > 256)
                        bad = "network.egress.allow must be an array of CIDRs or host names";
                else
                        json_array_foreach(allow, i, v) if (!json_is_string(v) ||
                                                            (!cidr_ok(json_string_value(v)) &&
                                                             !host_ok(json_string_value(v)))) bad =
                            "network.egress.allow entries must be CIDRs or host names";
        } else if (egress && !json_is_string(egress) && !json_is_null(egress))
                bad = "network.egress must be \"open\", \"none\" or {\"allow\": [...]}";
        if (!bad && ports && !json_is_null(ports)) {
                size_t i;
                json_t *v;
                if (!json_is_array(ports) || json_array_size(ports) > 64)
                        bad = "network.loopback_exempt_ports must be an array of ports";
                else
                        json_array_foreach(ports, i, v) if (!json_is_integer(v) ||
                                                            json_integer_value(v) < 1 ||
                                                            json_integer_value(v) > 65535) bad =
                            "network.loopback_exempt_ports entries must be 1-65535";
        }
        if (bad) {
                reply_error(c, 400, "invalid_request", "%s", bad);
                return -EINVAL;
        }
        json_t *norm = json_object();
        if (egress && !json_is_null(egress))
                json_object_set(norm, "egress", egress);
        else
                json_object_set_new(norm, "egress", json_string("open"));
        if (ports && !json_is_null(ports))
                json_object_set(norm, "loopback_exempt_ports", ports);
        else
                json_object_set_new(norm, "loopback_exempt_ports", json_array());
        *out = json_dumps(norm, JSON_COMPACT);
        json_decref(norm);
        return 0;
}

/* ---- jobs ---- */

struct rig_job {
        struct job super;
        struct rigsvc *svc;
        struct rig rig;
        enum rig_action action;
        enum rig_state to;
        bool creating;
        int result;
        struct principal actor; /* for the audit entry, even if the client left */
        char ip[64];
        const char *audit_action; /* overrides the action's own name (rigd's sweeps) */
};

static void rig_job_free(struct rig_job *j)
{
        rig_free_fields(&j->rig);
        free(j);
}

static void rig_job_work(struct job *jb)
{
        struct rig_job *j = (struct rig_job *)jb;
        if (j->creating) {
                j->result = rigsvc_create(j->svc, &j->rig);
                return;
        }
        j->result = rigsvc_apply(j->svc, &j->rig, j->action);
}

static const char *action_audit_name(const struct rig_job *j)
{
        if (j->audit_action)
                return j->audit_action;
        if (j->creating)
                return "rig.create";
        switch (j->action) {
        case RA_START:
                return "rig.start";
        case RA_STOP:
                return "rig.stop";
        case RA_RESTART:
                return "rig.restart";
        case RA_PAUSE:
                return "rig.pause";
        case RA_RESUME:
                return "rig.resume";
        case RA_DELETE:
                return "rig.delete";
        default:
                return "rig.exec";
        }
}

/* Commits the outcome of a job: new state (or deletion) and the audit entry together. */
static int rig_job_commit(struct rig_job *j, struct store *st, const uint8_t *audit_key)
{
        struct audit_entry e;
        /* A failed create leaves nothing (no partial state); a successful delete removes the
         * row; any other failure leaves the rig in `error` with the reason. */
        bool gone = j->creating ? j->result < 0 : (j->action == RA_DELETE && j->result == 0);
        audit_fill(&e, &j->actor, j->ip, action_audit_name(j), j->rig.id, j->rig.project_id,
                   j->result == 0 ? "ok" : "error");
        int r = store_begin(st);
        if (r < 0)
                return r;
        if (gone)
                r = store_rig_delete(st, j->rig.id);
        else if (j->result == 0)
                r = store_rig_set_state(st, j->rig.id, j->to, NULL);
        else
                r = store_rig_set_state(st, j->rig.id, RIG_ERROR, strerror(-j->result));
        if (r == 0)
                r = audit_append(st, audit_key, &e);
        if (r == 0)
                r = store_commit(st);
        else
                store_rollback(st);
        return r;
}

static void rig_job_done(struct job *jb)
{
        struct rig_job *j = (struct rig_job *)jb;
        struct rigd *d = jb->t->d;
        struct reqctx *c = job_take_request(jb);
        int r = rig_job_commit(j, jb->t->st, d->secrets.audit_key);
        rigsvc_release(j->svc, j->rig.id);
        bool woke = j->creating || j->action == RA_START || j->action == RA_RESUME ||
                    j->action == RA_RESTART;
        if (j->result == 0 && woke) /* auto-sleep counts idle time from here */
                activity_touch(d->activity, j->rig.id, now_ms());
        if (j->result == 0 && !j->creating && j->action == RA_DELETE)
                activity_forget(d->activity, j->rig.id);
        if (!c) /* no request bumps auth_gen for rigd's own changes: the router must see them */
                atomic_fetch_add(&d->auth_gen, 1);
        if (r < 0)
                log_error("rig %s: cannot record %s: %s", j->rig.id, action_audit_name(j),
                          strerror(-r));
        if (j->result < 0)
                log_warn("rig %s: %s failed: %s", j->rig.id, action_audit_name(j),
                         strerror(-j->result));
        if (c) {
                c->audited = true;
                if (j->result < 0 || r < 0) {
                        if (j->creating)
                                reply_error(c, 500, "internal",
                                            "the rig could not be started (%s); nothing was kept",
                                            strerror(-(j->result < 0 ? j->result : r)));
                        else
                                reply_error(c, 500, "internal",
                                            "the rig could not be changed (%s); see GET "
                                            "/api/rigs/%s for its state",
                                            strerror(-(j->result < 0 ? j->result : r)), j->rig.id);
                } else if (!j->creating && j->action == RA_DELETE) {
                        reply_empty(c, 204);
                } else {
                        j->rig.state = j->to;
                        j->rig.error[0] = '\0';
                        reply_json(c, j->creating ? 201 : 200, rig_json(&j->rig));
                }
        }
        rig_job_free(j);
}

static struct rig_job *rig_job_new(struct reqctx *c, const struct rig *r, enum rig_action a)
{
        struct rig_job *j = xcalloc(1, sizeof(*j));
        j->svc = svc(c);
        j->rig = *r;
        j->rig.network = xstrdup(r->network ? r->network : "{}");
        j->rig.env = xstrdup(r->env ? r->env : "{}");
        j->action = a;
        j->actor = c->p;
        snprintf(j->ip, sizeof(j->ip), "%s", c->ip);
        j->super.work = rig_job_work;
        j->super.done = rig_job_done;
        return j;
}

/* ---- create ---- */

static int check_quota(struct reqctx *c, const struct rig *r)
{
        int64_t count, mem;
        int ret = store_rig_usage(c->st, r->project_id, &count, &mem);
        if (ret < 0)
                return ret;
        const struct rig_quota *q = &svc(c)->quota;
        if (count + 1 > q->project_rigs) {
                reply_error(c, 422, "quota_exceeded",
                            "project already has %lld rigs (quota %lld); delete one first",
                            (long long)count, (long long)q->project_rigs);
                return -EDQUOT;
        }
        if (mem + r->memory_mb > q->project_memory_mb) {
                reply_error(c, 422, "quota_exceeded",
                            "project rigs would use %lld MiB of memory (quota %lld MiB)",
                            (long long)(mem + r->memory_mb), (long long)q->project_memory_mb);
                return -EDQUOT;
        }
        return 0;
}

/* The rig's address, allocated in the transaction that inserts it. */
static int alloc_ip(struct reqctx *c, struct rig *r)
{
        struct netsvc *n = svc(c)->net;
        int ret = n ? netsvc_alloc_ip(n, c->st, r->ip) : 0;
        if (ret == -ENOSPC)
                reply_error(c, 503, "unavailable",
                            "the rig subnet has no free address left; delete a rig first");
        return ret;
}

static int create_validate(struct reqctx *c, struct create_in *in, uint32_t present, struct rig *r)
{
        if (!name_valid(in->name)) {
                reply_error(c, 400, "invalid_request",
                            "rig names are 1-63 characters of a-z, 0-9 and '-', not starting or "
                            "ending with '-'");
                return -EINVAL;
        }
        if (in->template[0] && !streq(in->template, "base")) {
                reply_error(c, 400, "invalid_request", "unknown template '%s'; available: base",
                            in->template);
                return -EINVAL;
        }
        if (parse_resources(c, in->resources, r) < 0 ||
            network_validate(c, in->network, &r->network) < 0 ||
            env_validate(c, in->env, &r->env) < 0 || auto_sleep_validate(c, in->auto_sleep_s) < 0)
                return -EINVAL;
        struct project p;
        const char *want = in->project[0]       ? in->project
                           : c->p.project_id[0] ? c->p.project_id
                                                : "default";
        int ret = store_project_resolve(c->st, c->p.org_id, want, &p);
        if (ret == 0 && c->p.project_id[0] && !streq(p.id, c->p.project_id))
                ret = -ENOENT;
        if (ret < 0) {
                reply_errno(c, ret, "project");
                return ret;
        }
        snprintf(r->project_id, sizeof(r->project_id), "%s", p.id);
        snprintf(r->project_name, sizeof(r->project_name), "%s", p.name);
        (void)present;
        return 0;
}

void api_rigs_create(struct reqctx *c)
{
        static const struct jfield fields[] = {
            JF_STR_FIELD(struct create_in, name, true),
            JF_STR_FIELD(struct create_in, project, false),
            JF_STR_FIELD(struct create_in, template, false),
            JF_BOOL_FIELD(struct create_in, stateless, false),
            JF_JSON_FIELD(struct create_in, resources, false),
            JF_JSON_FIELD(struct create_in, network, false),
            JF_JSON_FIELD(struct create_in, env, false),
            JF_INT_FIELD(struct create_in, ttl_s, false, 1, RIG_TTL_MAX_S),
            JF_INT_FIELD(struct create_in, auto_sleep_s, false, 0, AUTO_SLEEP_MAX_S),
        };
        if (!runtime_ok(c))
                return;
        struct create_in in;
        memset(&in, 0, sizeof(in));
        uint32_t present = 0;
        json_t *root = NULL;
        if (body_decode(c, fields, ARRAY_SIZE(fields), &in, &present, &root) < 0)
                return;
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        int ret = create_validate(c, &in, present, &r);
        json_decref(root);
        if (ret < 0)
                return;
        id_new("rig_", r.id);
        snprintf(r.org_id, sizeof(r.org_id), "%s", c->p.org_id);
        snprintf(r.name, sizeof(r.name), "%s", in.name);
        snprintf(r.template_name, sizeof(r.template_name), "base");
        snprintf(r.created_by, sizeof(r.created_by), "%s", c->p.id);
        r.stateless = in.stateless;
        r.state = RIG_CREATING;
        r.created_at = now_ms() / 1000;
        r.ttl_s = in.ttl_s;
        r.expires_at = in.ttl_s ? r.created_at + in.ttl_s : 0;
        r.auto_sleep_s = in.auto_sleep_s;
        snprintf(c->target, sizeof(c->target), "%s", r.id);
        snprintf(c->project, sizeof(c->project), "%s", r.project_id);
        if ((ret = store_begin(c->st)) == 0 && (ret = check_quota(c, &r)) == 0 &&
            (ret = alloc_ip(c, &r)) == 0 && (ret = store_rig_insert(c->st, &r)) == 0)
                ret = store_commit(c->st);
        if (ret < 0) {
                store_rollback(c->st);
                if (ret != -EDQUOT && ret != -ENOSPC)
                        reply_errno(c, ret, ret == -EEXIST ? "a rig with this name" : "rig");
                return;
        }
        rigsvc_claim(svc(c), r.id);
        struct rig_job *j = rig_job_new(c, &r, RA_START);
        j->creating = true;
        j->to = RIG_RUNNING;
        workpool_submit(c->d->pool, c, &j->super);
}

/* ---- read ---- */

void api_rigs_list(struct reqctx *c)
{
        struct page pg;
        if (page_from_query(c, &pg) < 0)
                return;
        char ref[128];
        const char *only = NULL;
        struct project p;
        int r = query_get(c, "project", ref, sizeof(ref));
        if (r > 0) {
                r = store_project_resolve(c->st, c->p.org_id, ref, &p);
                if (r == 0 && c->p.project_id[0] && !streq(p.id, c->p.project_id))
                        r = -ENOENT;
                if (r < 0) {
                        reply_errno(c, r, "project");
                        return;
                }
                only = p.id;
        }
        struct tenant t;
        tenant_of(c, &t);
        _cleanup_(rigs_list_free) struct list l = {0};
        r = store_rigs_list(c->st, &t, only, &pg, &l);
        if (r < 0) {
                reply_errno(c, r, "rigs");
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(items, rig_json(&((struct rig *)l.items)[i]));
        reply_json(c, 200, json_list(items, l.next));
}

void api_rigs_get(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        if (rig_from_path(c, &r) < 0)
                return;
        reply_json(c, 200, rig_json(&r));
}

/* ---- actions ---- */

static void rig_action(struct reqctx *c, enum rig_action a)
{
        if (!runtime_ok(c))
                return;
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        if (rig_from_path(c, &r) < 0)
                return;
        enum rig_state to;
        if (rig_transition(r.state, a, &to) < 0) {
                reply_error(c, 409, "conflict", "cannot %s a rig that is %s", rig_action_name(a),
                            rig_state_name(r.state));
                return;
        }
        if (!rigsvc_claim(svc(c), r.id)) {
                reply_error(c, 409, "conflict",
                            "the rig is busy with another operation; retry when it finishes");
                return;
        }
        if (a == RA_START || a == RA_RESUME || a == RA_RESTART)
                activity_touch(c->d->activity, r.id, now_ms());
        struct rig_job *j = rig_job_new(c, &r, a);
        j->to = to;
        workpool_submit(c->d->pool, c, &j->super);
}

void api_rigs_start(struct reqctx *c)
{
        rig_action(c, RA_START);
}

void api_rigs_stop(struct reqctx *c)
{
        rig_action(c, RA_STOP);
}

void api_rigs_restart(struct reqctx *c)
{
        rig_action(c, RA_RESTART);
}

void api_rigs_pause(struct reqctx *c)
{
        rig_action(c, RA_PAUSE);
}

void api_rigs_resume(struct reqctx *c)
{
        rig_action(c, RA_RESUME);
}

void api_rigs_delete(struct reqctx *c)
{
        rig_action(c, RA_DELETE);
}

/* ---- ttl ---- */

struct pool_job {
        struct job super;
        struct rigsvc *svc;
};

static void pool_work(struct job *jb)
{
        struct pool_job *j = (struct pool_job *)jb;
        (void)disk_pool_fill(j->svc->rt.data_dir, j->svc->defaults.disk_mb, RIG_DISK_POOL);
}

static void pool_done(struct job *jb)
{
        struct pool_job *j = (struct pool_job *)jb;
        atomic_store(&j->svc->pool_filling, false);
        free(j);
}

/* Keeps the pool of formatted disks topped up, off the request path. */
static void rigs_pool_tick(struct rigd_thread *t)
{
        struct rigsvc *s = t->d->rigs;
        bool expected = false;
        if (!s->ready || !atomic_compare_exchange_strong(&s->pool_filling, &expected, true))
                return;
        struct pool_job *j = xcalloc(1, sizeof(*j));
        j->svc = s;
        j->super.work = pool_work;
        j->super.done = pool_done;
        workpool_submit_bg(t->d->pool, t, &j->super);
}

/* Every HEALTH_EVERY_S the runtime is asked whether rigs the store believes live still are: a
 * rig whose PID 1 or shim died becomes `stopped` (with the reason) instead of lying. */
#define HEALTH_EVERY_S 10

struct health_job {
        struct job super;
        struct rigsvc *svc;
        size_t n;
        char (*ids)[ID_MAX];
        bool *dead;
        bool *claimed;
};

static void health_work(struct job *jb)
{
        struct health_job *j = (struct health_job *)jb;
        for (size_t i = 0; i < j->n; i++) {
                struct rig_status st = {0};
                struct runtime *rt = &j->svc->rt;
                if (rt->ops->status(rt, j->ids[i], &st) < 0 || st.state != RUN_MISSING)
                        continue; /* alive: never claimed, so user actions are never refused */
                /* Looks dead: hold it (until done() recorded the outcome) and look again, since
                 * an operation may have been between stop and start. */
                j->claimed[i] = rigsvc_claim(j->svc, j->ids[i]);
                if (!j->claimed[i])
                        continue;
                j->dead[i] = rt->ops->status(rt, j->ids[i], &st) == 0 && st.state == RUN_MISSING;
                if (j->dead[i])
                        (void)rt->ops->stop(rt, j->ids[i], false);
        }
}

static void health_done(struct job *jb)
{
        struct health_job *j = (struct health_job *)jb;
        struct store *st = jb->t->st;
        for (size_t i = 0; i < j->n; i++) {
                if (j->claimed[i] && !j->dead[i])
                        rigsvc_release(j->svc, j->ids[i]);
                if (!j->dead[i])
                        continue;
                if (store_begin(st) < 0) {
                        rigsvc_release(j->svc, j->ids[i]);
                        continue;
                }
                struct audit_entry e;
                struct principal sys = {.kind = PK_ANONYMOUS};
                snprintf(sys.id, sizeof(sys.id), "rigd");
                audit_fill(&e, &sys, "host", "rig.reconcile", j->ids[i], NULL, "ok");
                if (store_rig_set_state(st, j->ids[i], RIG_STOPPED, "its processes ended") == 0 &&
                    audit_append(st, jb->t->d->secrets.audit_key, &e) == 0)
                        (void)store_commit(st);
                else
                        store_rollback(st);
                rigsvc_release(j->svc, j->ids[i]);
        }
        atomic_store(&j->svc->health_running, false);
        free(j->ids);
        free(j->dead);
        free(j->claimed);
        free(j);
}

static void rigs_health_tick(struct rigd_thread *t, const struct list *l, int64_t now)
{
        struct rigsvc *s = t->d->rigs;
        bool expected = false;
        if (now < s->health_next ||
            !atomic_compare_exchange_strong(&s->health_running, &expected, true))
                return;
        s->health_next = now + HEALTH_EVERY_S;
        struct health_job *j = xcalloc(1, sizeof(*j));
        j->svc = s;
        j->ids = xcalloc(l->n + 1, sizeof(*j->ids));
        j->dead = xcalloc(l->n + 1, sizeof(*j->dead));
        j->claimed = xcalloc(l->n + 1, sizeof(*j->claimed));
        for (size_t i = 0; i < l->n; i++) {
                const struct rig *r = &((struct rig *)l->items)[i];
                if (r->state == RIG_RUNNING || r->state == RIG_PAUSED)
                        snprintf(j->ids[j->n++], ID_MAX, "%s", r->id);
        }
        j->super.work = health_work;
        j->super.done = health_done;
        workpool_submit_bg(t->d->pool, t, &j->super);
}

/* Deletes rigs whose ttl ran out; called from one loop thread's periodic sweep. */
void rigs_ttl_sweep(struct rigd_thread *t)
{
        struct rigd *d = t->d;
        apps_previews_sweep(t);
        if (!d->rigs->ready)
                return;
        rigs_pool_tick(t);
        rigs_net_tick(t, mono_ms());
        _cleanup_(rigs_list_free) struct list l = {0};
        if (store_rigs_all(t->st, &l) < 0)
                return;
        int64_t now = now_ms() / 1000;
        rigs_health_tick(t, &l, now);
        for (size_t i = 0; i < l.n; i++) {
                const struct rig *r = &((struct rig *)l.items)[i];
                if (!r->expires_at || r->expires_at > now || r->state == RIG_CREATING ||
                    !rigsvc_claim(d->rigs, r->id))
                        continue;
                rigs_sweep_submit(t, r, RA_DELETE, RIG_STOPPED, NULL);
        }
        rigs_autosleep_tick(t, &l);
}

void rigs_sweep_submit(struct rigd_thread *t, const struct rig *r, enum rig_action a,
                       enum rig_state to, const char *action)
{
        struct rigd *d = t->d;
        struct rig_job *j = xcalloc(1, sizeof(*j));
        j->svc = d->rigs;
        j->rig = *r;
        j->rig.network = xstrdup(r->network ? r->network : "{}");
        j->rig.env = xstrdup(r->env ? r->env : "{}");
        j->action = a;
        j->to = to;
        j->audit_action = action;
        snprintf(j->actor.id, sizeof(j->actor.id), "rigd");
        j->actor.kind = PK_ANONYMOUS;
        snprintf(j->actor.org_id, sizeof(j->actor.org_id), "%s", r->org_id);
        snprintf(j->ip, sizeof(j->ip), "host");
        j->super.work = rig_job_work;
        j->super.done = rig_job_done;
        workpool_submit_bg(d->pool, t, &j->super);
}
