/* Reading the audit log, and the health and metrics endpoints. */
#include "rigd/api.h"

#include "base/timeutil.h"

#include <stdio.h>

static json_t *entry_json(const struct audit_entry *e)
{
        return json_pack("{s:s,s:o,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:o}", "id", e->id, "at",
                         json_time(e->at), "principal", e->principal, "kind", e->kind, "action",
                         e->action, "target", e->target[0] ? json_string(e->target) : json_null(),
                         "org", e->org[0] ? json_string(e->org) : json_null(), "project",
                         e->project[0] ? json_string(e->project) : json_null(), "result", e->result,
                         "ip", e->ip[0] ? json_string(e->ip) : json_null());
}

void api_audit_list(struct reqctx *c)
{
        struct page pg;
        if (page_from_query(c, &pg) < 0)
                return;
        char since[64], principal[ID_MAX + 8], rig[128], action[64];
        struct audit_filter f = {.org_id = c->p.org_id};
        int r = query_get(c, "since", since, sizeof(since));
        if (r > 0) {
                if (parse_rfc3339(since, (size_t)r, &f.since) < 0) {
                        reply_error(c, 400, "invalid_request",
                                    "since must be an RFC 3339 time, e.g. 2026-01-02T03:04:05Z");
                        return;
                }
        } else if (r != -ENOENT && r != 0) {
                reply_error(c, 400, "invalid_request", "since is malformed");
                return;
        }
        if (query_get(c, "principal", principal, sizeof(principal)) > 0)
                f.principal = principal;
        if (query_get(c, "rig", rig, sizeof(rig)) > 0)
                f.target = rig;
        if (query_get(c, "action", action, sizeof(action)) > 0)
                f.action = action;
        _cleanup_list_ struct list l = {0};
        r = audit_list(c->st, &f, &pg, &l);
        if (r < 0) {
                reply_errno(c, r, "audit log");
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l.n; i++)
                json_array_append_new(items, entry_json(&((struct audit_entry *)l.items)[i]));
        reply_json(c, 200, json_list(items, l.next));
}

void api_healthz(struct reqctx *c)
{
        reply_json(c, 200, json_pack("{s:s,s:s}", "status", "ok", "version", RIGS_VERSION));
}

void api_metrics(struct reqctx *c)
{
        struct buf b = {0};
        int sessions = store_sessions_active(c->st, now_ms() / 1000);
        metrics_render(&c->d->metrics, &b, sessions < 0 ? 0 : sessions, atomic_load(&c->d->nconns),
                       (now_ms() - c->d->started_ms) / 1000);
        size_t len = b.len;
        reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf_steal(&b), len);
}
