/* Every served endpoint, the access it needs, its rate-limit class and its audit action.
 * rigd refuses to start if an entry leaves its access rule undeclared. */
#include "rigd/api.h"
#include "rigd/live.h"

#define AD SCOPE_ADMIN
#define RD SCOPE_INSTANCES_READ
#define CR SCOPE_INSTANCES_CREATE
#define CT SCOPE_INSTANCES_CONTROL

const struct route rigd_routes[] = {
    {M_GET, "/healthz", ACCESS_PUBLIC, 0, RL_OTHER, NULL, api_healthz},
    {M_GET, "/metrics", ACCESS_METRICS, 0, RL_OTHER, NULL, api_metrics},

    {M_POST, "/api/auth/login", ACCESS_PUBLIC, 0, RL_AUTH, "auth.login", api_login},
    {M_GET, "/api/auth/app-login", ACCESS_PUBLIC, 0, RL_AUTH, NULL, api_login_page},
    {M_POST, "/api/auth/logout", ACCESS_AUTH, 0, RL_AUTH, "auth.logout", api_logout},
    {M_POST, "/api/auth/switch", ACCESS_SESSION, 0, RL_AUTH, "auth.switch", api_switch},
    {M_GET, "/api/me", ACCESS_AUTH, 0, RL_OTHER, NULL, api_me},

    {M_POST, "/api/users", ACCESS_USER, AD, RL_OTHER, "user.create", api_users_create},
    {M_GET, "/api/users", ACCESS_USER, AD, RL_OTHER, NULL, api_users_list},
    {M_POST, "/api/orgs", ACCESS_USER, 0, RL_OTHER, "org.create", api_orgs_create},
    {M_GET, "/api/orgs", ACCESS_USER, 0, RL_OTHER, NULL, api_orgs_list},
    {M_POST, "/api/orgs/{org}/projects", ACCESS_USER, AD, RL_OTHER, "project.create",
     api_projects_create},
    {M_GET, "/api/orgs/{org}/projects", ACCESS_USER, 0, RL_OTHER, NULL, api_projects_list},
    {M_POST, "/api/orgs/{org}/members", ACCESS_USER, AD, RL_OTHER, "member.add", api_members_put},
    {M_GET, "/api/orgs/{org}/members", ACCESS_USER, 0, RL_OTHER, NULL, api_members_list},
    {M_DELETE, "/api/orgs/{org}/members/{user}", ACCESS_USER, AD, RL_OTHER, "member.remove",
     api_members_delete},

    {M_POST, "/api/keys", ACCESS_USER, 0, RL_AUTH, "key.create", api_keys_create},
    {M_GET, "/api/keys", ACCESS_USER, 0, RL_OTHER, NULL, api_keys_list},
    {M_DELETE, "/api/keys/{id}", ACCESS_USER, 0, RL_OTHER, "key.revoke", api_keys_delete},
    {M_POST, "/api/keys/{id}/rotate", ACCESS_USER, 0, RL_AUTH, "key.rotate", api_keys_rotate},

    {M_GET, "/api/audit", ACCESS_USER, AD, RL_OTHER, NULL, api_audit_list},

    {M_POST, "/api/rigs", ACCESS_AUTH, CR, RL_RIGS, "rig.create", api_rigs_create},
    {M_GET, "/api/rigs", ACCESS_AUTH, RD, RL_RIGS, NULL, api_rigs_list},
    {M_GET, "/api/rigs/{id}", ACCESS_RIG, RD, RL_RIGS, NULL, api_rigs_get},
    {M_DELETE, "/api/rigs/{id}", ACCESS_AUTH, CT, RL_RIGS, "rig.delete", api_rigs_delete},
    {M_PATCH, "/api/rigs/{id}", ACCESS_AUTH, CT, RL_RIGS, "rig.update", api_rigs_patch},
    {M_POST, "/api/rigs/{id}/start", ACCESS_AUTH, CT, RL_RIGS, "rig.start", api_rigs_start},
    {M_POST, "/api/rigs/{id}/stop", ACCESS_AUTH, CT, RL_RIGS, "rig.stop", api_rigs_stop},
    {M_POST, "/api/rigs/{id}/restart", ACCESS_AUTH, CT, RL_RIGS, "rig.restart", api_rigs_restart},
    {M_POST, "/api/rigs/{id}/pause", ACCESS_AUTH, CT, RL_RIGS, "rig.pause", api_rigs_pause},
    {M_POST, "/api/rigs/{id}/resume", ACCESS_AUTH, CT, RL_RIGS, "rig.resume", api_rigs_resume},
    {M_POST, "/api/rigs/{id}/exec", ACCESS_RIG, CT, RL_RIGS, "rig.exec", api_rigs_exec},
    {M_GET, "/api/rigs/{id}/files", ACCESS_RIG, CT, RL_RIGS, NULL, api_files_get},
    {M_PUT, "/api/rigs/{id}/files", ACCESS_RIG, CT, RL_RIGS, "rig.file.write", api_files_put},
    {M_DELETE, "/api/rigs/{id}/files", ACCESS_RIG, CT, RL_RIGS, "rig.file.delete",
     api_files_delete},
    {M_POST, "/api/rigs/{id}/credentials", ACCESS_AUTH, CT, RL_RIGS, "credential.mint",
     api_rigs_credentials},
    {M_GET, "/api/rigs/{id}/pty", ACCESS_RIG_WS, CT, RL_RIGS, NULL, api_rigs_pty},
    {M_GET, "/api/rigs/{id}/sessions", ACCESS_RIG, RD, RL_RIGS, NULL, api_sessions_list},
    {M_GET, "/api/rigs/{id}/sessions/{sid}/attach", ACCESS_RIG_WS, CT, RL_RIGS, NULL,
     api_sessions_attach},

    {M_POST, "/api/rigs/{id}/apps", ACCESS_RIG, CT, RL_APPS, "app.create", api_apps_create},
    {M_GET, "/api/rigs/{id}/apps", ACCESS_RIG, RD, RL_APPS, NULL, api_apps_list},
    {M_GET, "/api/rigs/{id}/apps/{name}", ACCESS_RIG, RD, RL_APPS, NULL, api_apps_get},
    {M_PATCH, "/api/rigs/{id}/apps/{name}", ACCESS_RIG, CT, RL_APPS, "app.update", api_apps_patch},
    {M_DELETE, "/api/rigs/{id}/apps/{name}", ACCESS_RIG, CT, RL_APPS, "app.delete",
     api_apps_delete},
    {M_POST, "/api/rigs/{id}/apps/{name}/previews", ACCESS_RIG, CT, RL_APPS, "preview.create",
     api_previews_create},
    {M_DELETE, "/api/previews/{token}", ACCESS_AUTH, CT, RL_APPS, "preview.revoke",
     api_previews_delete},
};

const size_t rigd_nroutes = ARRAY_SIZE(rigd_routes);
