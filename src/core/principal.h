/* Who is making a request: resolved from a credential before any handler runs. */
#pragma once

#include "core/ids.h"
#include "core/scope.h"
#include "core/token.h"

enum principal_kind { PK_ANONYMOUS = 0, PK_USER, PK_AGENT, PK_RIG_CREDENTIAL };
enum auth_method { AUTH_NONE = 0, AUTH_KEY, AUTH_SESSION };

struct principal {
        enum principal_kind kind;
        enum auth_method method;
        char id[ID_MAX];
        char email[256];
        char name[256];
        char org_id[ID_MAX];
        char org_name[64];
        char project_id[ID_MAX]; /* "" when the credential is not bound to a project */
        char project_name[64];
        enum role role;
        scopeset_t scopes;  /* effective: credential scopes within what the role grants */
        scopeset_t granted; /* the credential's own scopes (all for a session) */
        char key_id[ID_MAX];
        uint8_t session_hash[TOKEN_HASH_LEN];
        int64_t last_used_at; /* keys: for coarse last-use updates */
        int64_t expires_at;   /* credential expiry, 0 = never */
        char rig_id[ID_MAX];  /* a rig credential: the one rig it acts for */
};

const char *principal_kind_name(enum principal_kind k);

struct apikey {
        char id[ID_MAX];
        char name[128];
        char prefix[12];
        char principal_id[ID_MAX];
        enum principal_kind principal_kind;
        char org_id[ID_MAX];
        char project_id[ID_MAX];
        char project_name[64];
        scopeset_t scopes;
        int64_t expires_at; /* 0 = never */
        int64_t created_at;
        int64_t last_used_at;
        int64_t seq;
};
