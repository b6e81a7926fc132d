/* Every served endpoint, the access it needs, its rate-limit class and its audit action.
 * rigd refuses to start if an entry leaves its access rule undeclared. */
#include "rigd/api.h"

#define AD SCOPE_ADMIN

const struct route rigd_routes[] = {
    {M_GET, "/healthz", ACCESS_PUBLIC, 0, RL_OTHER, NULL, api_healthz},
    {M_GET, "/metrics", ACCESS_METRICS, 0, RL_OTHER, NULL, api_metrics},

    {M_POST, "/api/auth/login", ACCESS_PUBLIC, 0, RL_AUTH, "auth.login", api_login},
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
};

const size_t rigd_nroutes = ARRAY_SIZE(rigd_routes);
