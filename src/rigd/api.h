/* REST handlers. Each is a binding: it parses, calls core, renders. */
#pragma once

#include "core/rigstate.h"
#include "rigd/http.h"

/* Validation shared by handlers. */
bool name_valid(const char *s); /* ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ */
bool email_valid(const char *s);
/* Resolves the {org} path parameter: the caller's own org by id or name, else replies 404. */
int org_from_path(struct reqctx *c, struct org *out);

void api_healthz(struct reqctx *c);
void api_metrics(struct reqctx *c);

void api_login(struct reqctx *c);
void api_login_page(struct reqctx *c);
void api_logout(struct reqctx *c);
void api_switch(struct reqctx *c);
void api_me(struct reqctx *c);

void api_users_create(struct reqctx *c);
void api_users_list(struct reqctx *c);
void api_orgs_create(struct reqctx *c);
void api_orgs_list(struct reqctx *c);
void api_projects_create(struct reqctx *c);
void api_projects_list(struct reqctx *c);
void api_members_put(struct reqctx *c);
void api_members_list(struct reqctx *c);
void api_members_delete(struct reqctx *c);

void api_keys_create(struct reqctx *c);
void api_keys_list(struct reqctx *c);
void api_keys_delete(struct reqctx *c);
void api_keys_rotate(struct reqctx *c);

void api_audit_list(struct reqctx *c);

struct rig;
struct rigd_thread;
json_t *rig_json(const struct rig *r);
/* Resolves the {id} path parameter (id, or name in the credential's project); replies 404. */
int rig_from_path(struct reqctx *c, struct rig *out);
int env_validate(struct reqctx *c, json_t *env, char **out);
int network_validate(struct reqctx *c, json_t *net, char **out);
void rigs_ttl_sweep(struct rigd_thread *t);
/* Queues the re-resolution of allow-list host names whose TTL ran out (api_rigs_net.c). */
void rigs_net_tick(struct rigd_thread *t, int64_t now_mono_ms);

void api_rigs_create(struct reqctx *c);
void api_rigs_list(struct reqctx *c);
void api_rigs_get(struct reqctx *c);
void api_rigs_start(struct reqctx *c);
void api_rigs_stop(struct reqctx *c);
void api_rigs_restart(struct reqctx *c);
void api_rigs_pause(struct reqctx *c);
void api_rigs_resume(struct reqctx *c);
void api_rigs_delete(struct reqctx *c);
void api_rigs_patch(struct reqctx *c);
void api_rigs_exec(struct reqctx *c);
void api_files_get(struct reqctx *c);
void api_files_put(struct reqctx *c);
void api_files_delete(struct reqctx *c);

/* Apps and previews (api_apps.c). */
void api_apps_create(struct reqctx *c);
void api_apps_list(struct reqctx *c);
void api_apps_get(struct reqctx *c);
void api_apps_patch(struct reqctx *c);
void api_apps_delete(struct reqctx *c);
void api_previews_create(struct reqctx *c);
void api_previews_delete(struct reqctx *c);
/* Deletes expired previews now and then (every 30 s); from the sweep thread. */
void apps_previews_sweep(struct rigd_thread *t);

/* Auto-sleep (rigs_autosleep.c): pauses running rigs idle longer than their auto_sleep_s. rigs
 * is every rig of the store; from the sweep thread. */
void rigs_autosleep_tick(struct rigd_thread *t, const struct list *rigs);
/* auto_sleep_s is 0 (never) or AUTO_SLEEP_MIN_S..AUTO_SLEEP_MAX_S; replies 400 otherwise. */
#define AUTO_SLEEP_MIN_S 10
#define AUTO_SLEEP_MAX_S (30 * 24 * 3600)
int auto_sleep_validate(struct reqctx *c, int64_t v);
/* Queues a lifecycle action on a rig for rigd itself (no request): audited as `action` by
 * principal "rigd" (kind anonymous) from "host". The rig must be claimed (rigsvc_claim). */
void rigs_sweep_submit(struct rigd_thread *t, const struct rig *r, enum rig_action a,
                       enum rig_state to, const char *action);
