/* Apps and preview links in the SQLite store (core/apps.h). */
#include "core/apps.h"

#include "core/store_internal.h"

static const char *const vis_names[] = {
    [APP_PRIVATE] = "private",
    [APP_PUBLIC] = "public",
    [APP_PRIVILEGED] = "privileged",
};

const char *app_visibility_name(enum app_visibility v)
{
        return v <= APP_PRIVILEGED ? vis_names[v] : "private";
}

int app_visibility_parse(const char *s, enum app_visibility *out)
{
        for (size_t i = 0; i < ARRAY_SIZE(vis_names); i++)
                if (streq(s, vis_names[i])) {
                        *out = (enum app_visibility)i;
                        return 0;
                }
        return -EINVAL;
}

void app_free_fields(struct app *a)
{
        free(a->allowed_emails);
        a->allowed_emails = NULL;
}

void apps_list_free(struct list *l)
{
        for (size_t i = 0; i < l->n; i++)
                app_free_fields(&((struct app *)l->items)[i]);
        free(l->items);
        l->items = NULL;
        l->n = 0;
}

int store_app_insert(struct store *st, const struct app *a)
{
        static const char sql[] =
            "INSERT INTO apps(name, rig_id, org_id, project_id, port, visibility, allowed_emails,"
            " created_by, created_at, seq) VALUES(?,?,?,?,?,?,?,?,?,"
            " (SELECT COALESCE(MAX(seq), 0) + 1 FROM apps))";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, a->name);
        bind_str(s, 2, a->rig_id);
        bind_str(s, 3, a->org_id);
        bind_str(s, 4, a->project_id);
        sqlite3_bind_int(s, 5, a->port);
        bind_str(s, 6, app_visibility_name(a->visibility));
        bind_str(s, 7, a->allowed_emails ? a->allowed_emails : "[]");
        bind_str(s, 8, a->created_by);
        sqlite3_bind_int64(s, 9, a->created_at);
        return stmt_exec(s);
}

#define APP_COLS                                                                                   \
        "a.name, a.rig_id, a.org_id, a.project_id, a.port, a.visibility, a.allowed_emails,"        \
        " a.created_by, a.created_at, a.seq "

static int64_t app_row(sqlite3_stmt *s, void *item)
{
        struct app *a = item;
        char vis[16];
        col_text(s, 0, a->name, sizeof(a->name));
        col_text(s, 1, a->rig_id, sizeof(a->rig_id));
        col_text(s, 2, a->org_id, sizeof(a->org_id));
        col_text(s, 3, a->project_id, sizeof(a->project_id));
        a->port = sqlite3_column_int(s, 4);
        col_text(s, 5, vis, sizeof(vis));
        if (app_visibility_parse(vis, &a->visibility) < 0)
                a->visibility = APP_PRIVATE; /* the strictest, should a row ever be odd */
        const unsigned char *t = sqlite3_column_text(s, 6);
        a->allowed_emails = xstrdup(t ? (const char *)t : "[]");
        col_text(s, 7, a->created_by, sizeof(a->created_by));
        a->created_at = sqlite3_column_int64(s, 8);
        a->seq = sqlite3_column_int64(s, 9);
        return a->seq;
}

int store_app_get(struct store *st, const struct tenant *t, const char *rig_id, const char *name,
                  struct app *out)
{
        static const char sql[] = "SELECT " APP_COLS "FROM apps a WHERE a.org_id=?1 AND "
                                  "(?2 IS NULL OR a.project_id=?2) AND a.rig_id=?3 AND a.name=?4";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, t->org_id);
        bind_text(s, 2, t->project_id);
        bind_str(s, 3, rig_id);
        bind_str(s, 4, name);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        memset(out, 0, sizeof(*out));
        app_row(s, out);
        return 0;
}

int store_apps_list(struct store *st, const struct tenant *t, const char *rig_id,
                    const struct page *pg, struct list *out)
{
        static const char sql[] = "SELECT " APP_COLS "FROM apps a WHERE a.org_id=?1 AND "
                                  "(?2 IS NULL OR a.project_id=?2) AND a.rig_id=?3 AND a.seq>?4 "
                                  "ORDER BY a.seq LIMIT ?5";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, t->org_id);
        bind_text(s, 2, t->project_id);
        bind_str(s, 3, rig_id);
        sqlite3_bind_int64(s, 4, pg->after);
        sqlite3_bind_int(s, 5, pg->limit + 1);
        return list_collect(s, pg, sizeof(struct app), out, app_row);
}

static int changed_one(struct store *st, int r)
{
        if (r == 0 && sqlite3_changes(st->db) == 0)
                return -ENOENT;
        return r;
}

int store_app_update(struct store *st, const struct app *a)
{
        static const char sql[] =
            "UPDATE apps SET port=?, visibility=?, allowed_emails=? WHERE rig_id=? AND name=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_int(s, 1, a->port);
        bind_str(s, 2, app_visibility_name(a->visibility));
        bind_str(s, 3, a->allowed_emails ? a->allowed_emails : "[]");
        bind_str(s, 4, a->rig_id);
        bind_str(s, 5, a->name);
        return changed_one(st, stmt_exec(s));
}

int store_app_delete(struct store *st, const char *rig_id, const char *name)
{
        static const char sql[] = "DELETE FROM apps WHERE rig_id=? AND name=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, rig_id);
        bind_str(s, 2, name);
        return changed_one(st, stmt_exec(s));
}

static enum rig_state state_of(const char *s)
{
        for (int i = RIG_CREATING; i <= RIG_ERROR; i++)
                if (streq(s, rig_state_name((enum rig_state)i)))
                        return (enum rig_state)i;
        return RIG_ERROR;
}

int store_app_route(struct store *st, const char *name, struct app_route *out)
{
        static const char sql[] = "SELECT " APP_COLS ", r.created_by, r.ip, r.state, r.auto_sleep_s"
                                  " FROM apps a JOIN rigs r ON r.id=a.rig_id WHERE a.name=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, name);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        memset(out, 0, sizeof(*out));
        app_row(s, &out->app);
        char state[16];
        col_text(s, 10, out->rig_owner, sizeof(out->rig_owner));
        col_text(s, 11, out->rig_ip, sizeof(out->rig_ip));
        col_text(s, 12, state, sizeof(state));
        out->rig_state = state_of(state);
        out->auto_sleep_s = sqlite3_column_int64(s, 13);
        return 0;
}

/* ---- previews ---- */

int store_preview_insert(struct store *st, const uint8_t hash[TOKEN_HASH_LEN],
                         const struct preview *p)
{
        static const char sql[] =
            "INSERT INTO previews(hash, app_name, rig_id, org_id, created_by, created_at,"
            " expires_at) VALUES(?,?,?,?,?,?,?)";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_blob(s, 1, hash, TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        bind_str(s, 2, p->app_name);
        bind_str(s, 3, p->rig_id);
        bind_str(s, 4, p->org_id);
        bind_str(s, 5, p->created_by);
        sqlite3_bind_int64(s, 6, p->created_at);
        sqlite3_bind_int64(s, 7, p->expires_at);
        return stmt_exec(s);
}

int store_preview_check(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], const char *app_name,
                        int64_t now)
{
        static const char sql[] =
            "SELECT 1 FROM previews WHERE hash=? AND app_name=? AND expires_at>?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_blob(s, 1, hash, TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        bind_str(s, 2, app_name);
        sqlite3_bind_int64(s, 3, now);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                return 0;
        return rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
}

int store_preview_delete(struct store *st, const char *org_id, const uint8_t hash[TOKEN_HASH_LEN],
                         struct preview *out)
{
        static const char sql[] =
            "DELETE FROM previews WHERE hash=? AND org_id=? RETURNING app_name, rig_id, org_id,"
            " created_by, created_at, expires_at";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_blob(s, 1, hash, TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        bind_str(s, 2, org_id);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        if (out) {
                memset(out, 0, sizeof(*out));
                col_text(s, 0, out->app_name, sizeof(out->app_name));
                col_text(s, 1, out->rig_id, sizeof(out->rig_id));
                col_text(s, 2, out->org_id, sizeof(out->org_id));
                col_text(s, 3, out->created_by, sizeof(out->created_by));
                out->created_at = sqlite3_column_int64(s, 4);
                out->expires_at = sqlite3_column_int64(s, 5);
        }
        /* Step to the end so that the delete completes before the statement is reset. */
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
                ;
        return store_errno(rc);
}

int store_previews_sweep(struct store *st, int64_t now)
{
        static const char sql[] = "DELETE FROM previews WHERE expires_at<=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_int64(s, 1, now);
        int r = stmt_exec(s);
        return r < 0 ? r : sqlite3_changes(st->db);
}
