/* Apps (a port a rig exposes under a URL) and their preview links, in the store. Every query a
 * request makes is scoped to a tenant; the router's lookup by name is the one exception, because
 * the router decides access itself from what it returns. */
#pragma once

#include "core/rigs.h"

#define APP_NAME_MAX      64
#define APP_EMAILS_MAX    64 /* entries of allowed_emails */
#define PREVIEW_TOKEN_LEN 32

enum app_visibility {
        APP_PRIVATE = 0,
        APP_PUBLIC,
        APP_PRIVILEGED,
};

struct app {
        char name[APP_NAME_MAX]; /* unique per deployment */
        char rig_id[ID_MAX];
        char org_id[ID_MAX];
        char project_id[ID_MAX];
        int port; /* 1..65535 */
        enum app_visibility visibility;
        char *allowed_emails; /* JSON array text of lowercase emails, owned; never NULL once read */
        char created_by[ID_MAX];
        int64_t created_at;
        int64_t seq;
};

const char *app_visibility_name(enum app_visibility v);
int app_visibility_parse(const char *s, enum app_visibility *out); /* -EINVAL when unknown */
void app_free_fields(struct app *a);
void apps_list_free(struct list *l);

/* -EEXIST when the name is taken by any app of the deployment. */
int store_app_insert(struct store *st, const struct app *a);
/* An app of a rig the tenant sees; -ENOENT otherwise. */
int store_app_get(struct store *st, const struct tenant *t, const char *rig_id, const char *name,
                  struct app *out);
int store_apps_list(struct store *st, const struct tenant *t, const char *rig_id,
                    const struct page *pg, struct list *out);
/* Rewrites port, visibility and allowed_emails of the app (rig_id, name). */
int store_app_update(struct store *st, const struct app *a);
int store_app_delete(struct store *st, const char *rig_id, const char *name);

/* What the router needs to route and authorize a request for Host `name.domain`: the app and its
 * rig. No tenant filter. -ENOENT when no app has that name. */
struct app_route {
        struct app app;
        char rig_owner[ID_MAX]; /* the rig's created_by */
        char rig_ip[64];        /* "" when the rig has no network address */
        enum rig_state rig_state;
        int64_t auto_sleep_s; /* 0: never */
};
int store_app_route(struct store *st, const char *name, struct app_route *out);

/* Previews: only the keyed hash of the token is stored. */
struct preview {
        char app_name[APP_NAME_MAX];
        char rig_id[ID_MAX];
        char org_id[ID_MAX];
        char created_by[ID_MAX];
        int64_t created_at, expires_at;
};
int store_preview_insert(struct store *st, const uint8_t hash[TOKEN_HASH_LEN],
                         const struct preview *p);
/* 0 when hash names an unexpired preview of app_name; -ENOENT otherwise (unknown, revoked,
 * expired, or another app's). */
int store_preview_check(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], const char *app_name,
                        int64_t now);
/* Deletes a preview of the org (revocation); -ENOENT when none. Fills out (may be NULL). */
int store_preview_delete(struct store *st, const char *org_id, const uint8_t hash[TOKEN_HASH_LEN],
                         struct preview *out);
/* Deletes expired previews; returns how many. */
int store_previews_sweep(struct store *st, int64_t now);
