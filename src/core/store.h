/* The store: persistent state behind one interface (SQLite today; PostgreSQL later as a second
 * implementation of the same functions). One `struct store` is one connection and belongs to one
 * thread. Functions return 0 (or a positive count) on success and a negative errno on failure:
 * -ENOENT not found (including another tenant's object), -EEXIST name taken, -EIO store failure. */
#pragma once

#include "base/util.h"
#include "core/ids.h"
#include "core/scope.h"
#include "core/token.h"

struct store;

/* Opens (and with create, creates) the database file and runs pending migrations. */
int store_open(const char *path, bool create, struct store **out);
void store_close(struct store *st);
static inline void store_closep(struct store **st)
{
        store_close(*st);
}
#define _cleanup_store_ _cleanup_(store_closep)

/* Write transactions (BEGIN IMMEDIATE): effect and audit entry commit together. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
const char *store_errmsg(struct store *st);

/* Key/value metadata (schema version, init marker, audit chain head). */
int store_meta_get(struct store *st, const char *k, char *out, size_t outlen);
int store_meta_set(struct store *st, const char *k, const char *v);

/* Pagination: items after `after` (an opaque increasing sequence; 0 = start). */
struct page {
        int64_t after;
        int limit;
};

struct user {
        char id[ID_MAX];
        char email[256];
        char name[256];
        char pw_hash[128];
        int64_t created_at;
        enum role role; /* in the org of the query, when the query has one */
        int64_t seq;
};

struct org {
        char id[ID_MAX];
        char name[64];
        int64_t created_at;
        enum role role; /* the caller's role when listed for a user */
        int64_t seq;
};

struct project {
        char id[ID_MAX];
        char org_id[ID_MAX];
        char name[64];
        int64_t created_at;
        int64_t seq;
};

struct member {
        char user_id[ID_MAX];
        char email[256];
        char name[256];
        enum role role;
        int64_t seq;
};

/* A page of results; items is an array of the listed type, caller frees. */
struct list {
        void *items;
        size_t n;
        int64_t next; /* 0 = no more */
};
static inline void list_freep(struct list *l)
{
        free(l->items);
}
#define _cleanup_list_ _cleanup_(list_freep)

/* Users (global identities; membership ties them to orgs). */
int store_user_insert(struct store *st, const struct user *u);
int store_user_by_email(struct store *st, const char *email, struct user *out);
int store_user_by_id(struct store *st, const char *id, struct user *out);
int store_user_set_password(struct store *st, const char *id, const char *pw_hash);
int store_users_list(struct store *st, const char *org_id, const struct page *pg, struct list *out);

/* Orgs. store_org_create also makes the creator admin and a project "default". */
int store_org_create(struct store *st, const char *name, const char *creator_id, int64_t now,
                     struct org *out, struct project *default_project);
/* Resolves an org by id or name, visible only if user_id is a member (NULL: no check). */
int store_org_resolve(struct store *st, const char *id_or_name, const char *user_id,
                      struct org *out);
int store_orgs_for_user(struct store *st, const char *user_id, const struct page *pg,
                        struct list *out);
int store_org_first_for_user(struct store *st, const char *user_id, struct org *out);

/* Members. */
int store_member_role(struct store *st, const char *org_id, const char *user_id, enum role *out);
int store_member_put(struct store *st, const char *org_id, const char *user_id, enum role role,
                     int64_t now, bool *created);
int store_member_delete(struct store *st, const char *org_id, const char *user_id);
int store_admin_count(struct store *st, const char *org_id);
int store_members_list(struct store *st, const char *org_id, const struct page *pg,
                       struct list *out);

/* Projects (always within an org). */
int store_project_insert(struct store *st, const struct project *p);
int store_project_resolve(struct store *st, const char *org_id, const char *id_or_name,
                          struct project *out);
/* only_id: restricts the list to one project (project-bound credentials); NULL for all. */
int store_projects_list(struct store *st, const char *org_id, const char *only_id,
                        const struct page *pg, struct list *out);

#include "core/principal.h"

/* API keys: only the keyed hash of the token is stored. */
int store_key_insert(struct store *st, const struct apikey *k, const uint8_t hash[TOKEN_HASH_LEN]);
/* Resolves a key hash into a principal (no tenant filter: this is authentication). -ENOENT for
 * unknown, -EKEYEXPIRED for expired, -EACCES when the owner is no longer a member. */
int store_key_authenticate(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], int64_t now,
                           struct principal *out);
int store_key_touch(struct store *st, const char *id, int64_t now);
/* Tenant-scoped: a key of another org is -ENOENT. principal_id NULL = any key of the org. */
int store_key_get(struct store *st, const char *org_id, const char *id, struct apikey *out);
int store_keys_list(struct store *st, const char *org_id, const char *principal_id,
                    const struct page *pg, struct list *out);
int store_key_delete(struct store *st, const char *org_id, const char *id);
int store_key_rehash(struct store *st, const char *org_id, const char *id,
                     const uint8_t hash[TOKEN_HASH_LEN], const char *prefix);

/* Browser sessions: only the hash of the cookie value is stored. */
int store_session_insert(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], const char *user_id,
                         const char *org_id, int64_t now, int64_t expires);
int store_session_authenticate(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], int64_t now,
                               struct principal *out);
int store_session_touch(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], int64_t now);
int store_session_set_org(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], const char *org_id);
int store_session_delete(struct store *st, const uint8_t hash[TOKEN_HASH_LEN]);
int store_sessions_active(struct store *st, int64_t now);
int store_sessions_sweep(struct store *st, int64_t now);

/* Session lifetime: idle timeout and absolute maximum, seconds. */
#define SESSION_IDLE_S (12 * 3600)
#define SESSION_MAX_S  (7 * 24 * 3600)
