/* REST handlers. Each is a binding: it parses, calls core, renders. */
#pragma once

#include "rigd/http.h"

/* Validation shared by handlers. */
bool name_valid(const char *s); /* ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ */
bool email_valid(const char *s);
/* Resolves the {org} path parameter: the caller's own org by id or name, else replies 404. */
int org_from_path(struct reqctx *c, struct org *out);

void api_healthz(struct reqctx *c);
void api_metrics(struct reqctx *c);

void api_login(struct reqctx *c);
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
