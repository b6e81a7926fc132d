/* Users, orgs, members and projects in SQLite. */
#include "core/store_internal.h"

#include <stdio.h>

static enum role role_col(sqlite3_stmt *s, int i)
{
        const unsigned char *t = sqlite3_column_text(s, i);
        return t ? role_from_name((const char *)t) : ROLE_NONE;
}

int store_user_insert(struct store *st, const struct user *u)
{
        static const char sql[] =
            "INSERT INTO users(id, email, name, pw_hash, created_at) VALUES(?,?,?,?,?)";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, u->id);
        bind_str(s, 2, u->email);
        bind_str(s, 3, u->name);
        bind_text(s, 4, u->pw_hash);
        sqlite3_bind_int64(s, 5, u->created_at);
        return stmt_exec(s);
}

static void user_row(sqlite3_stmt *s, struct user *u)
{
        col_text(s, 0, u->id, sizeof(u->id));
        col_text(s, 1, u->email, sizeof(u->email));
        col_text(s, 2, u->name, sizeof(u->name));
        col_text(s, 3, u->pw_hash, sizeof(u->pw_hash));
        u->created_at = sqlite3_column_int64(s, 4);
}

static int user_one(sqlite3_stmt *s, struct user *out)
{
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        user_row(s, out);
        return 0;
}

int store_user_by_email(struct store *st, const char *email, struct user *out)
{
        static const char sql[] =
            "SELECT id, email, name, pw_hash, created_at FROM users WHERE email=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, email);
        return user_one(s, out);
}

int store_user_by_id(struct store *st, const char *id, struct user *out)
{
        static const char sql[] =
            "SELECT id, email, name, pw_hash, created_at FROM users WHERE id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, id);
        return user_one(s, out);
}

int store_user_set_password(struct store *st, const char *id, const char *pw_hash)
{
        static const char sql[] = "UPDATE users SET pw_hash=? WHERE id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_text(s, 1, pw_hash);
        bind_str(s, 2, id);
        int r = stmt_exec(s);
        if (r == 0 && sqlite3_changes(st->db) == 0)
                return -ENOENT;
        return r;
}

static int64_t user_list_row(sqlite3_stmt *s, void *item)
{
        struct user *u = item;
        user_row(s, u);
        u->pw_hash[0] = '\0';
        u->role = role_col(s, 5);
        u->seq = sqlite3_column_int64(s, 6);
        return u->seq;
}

int store_users_list(struct store *st, const char *org_id, const struct page *pg, struct list *out)
{
        static const char sql[] =
            "SELECT u.id, u.email, u.name, NULL, u.created_at, m.role, m.rowid FROM members m "
            "JOIN users u ON u.id=m.user_id WHERE m.org_id=? AND m.rowid>? "
            "ORDER BY m.rowid LIMIT ?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        sqlite3_bind_int64(s, 2, pg->after);
        sqlite3_bind_int(s, 3, pg->limit + 1);
        return list_collect(s, pg, sizeof(struct user), out, user_list_row);
}

static int org_insert(struct store *st, const struct org *o)
{
        static const char sql[] = "INSERT INTO orgs(id, name, created_at) VALUES(?,?,?)";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, o->id);
        bind_str(s, 2, o->name);
        sqlite3_bind_int64(s, 3, o->created_at);
        return stmt_exec(s);
}

int store_org_create(struct store *st, const char *name, const char *creator_id, int64_t now,
                     struct org *out, struct project *default_project)
{
        struct org o = {.created_at = now, .role = ROLE_ADMIN};
        id_new("org_", o.id);
        snprintf(o.name, sizeof(o.name), "%s", name);
        int r = org_insert(st, &o);
        if (r < 0)
                return r;
        bool created;
        r = store_member_put(st, o.id, creator_id, ROLE_ADMIN, now, &created);
        if (r < 0)
                return r;
        struct project p = {.created_at = now};
        id_new("prj_", p.id);
        memcpy(p.org_id, o.id, sizeof(p.org_id));
        snprintf(p.name, sizeof(p.name), "default");
        r = store_project_insert(st, &p);
        if (r < 0)
                return r;
        if (out)
                *out = o;
        if (default_project)
                *default_project = p;
        return 0;
}

static void org_row(sqlite3_stmt *s, struct org *o)
{
        col_text(s, 0, o->id, sizeof(o->id));
        col_text(s, 1, o->name, sizeof(o->name));
        o->created_at = sqlite3_column_int64(s, 2);
        o->role = role_col(s, 3);
        o->seq = sqlite3_column_int64(s, 4);
}

int store_org_resolve(struct store *st, const char *id_or_name, const char *user_id,
                      struct org *out)
{
        static const char sql_any[] =
            "SELECT id, name, created_at, NULL, rowid FROM orgs WHERE id=?1 OR name=?1";
        static const char sql_member[] =
            "SELECT o.id, o.name, o.created_at, m.role, o.rowid FROM orgs o "
            "JOIN members m ON m.org_id=o.id AND m.user_id=?2 WHERE o.id=?1 OR o.name=?1";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, user_id ? sql_member : sql_any);
        if (!s)
                return -EIO;
        bind_str(s, 1, id_or_name);
        if (user_id)
                bind_str(s, 2, user_id);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        org_row(s, out);
        return 0;
}

static int64_t org_list_row(sqlite3_stmt *s, void *item)
{
        struct org *o = item;
        org_row(s, o);
        return o->seq;
}

int store_orgs_for_user(struct store *st, const char *user_id, const struct page *pg,
                        struct list *out)
{
        static const char sql[] = "SELECT o.id, o.name, o.created_at, m.role, o.rowid FROM orgs o "
                                  "JOIN members m ON m.org_id=o.id AND m.user_id=? WHERE o.rowid>? "
                                  "ORDER BY o.rowid LIMIT ?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, user_id);
        sqlite3_bind_int64(s, 2, pg->after);
        sqlite3_bind_int(s, 3, pg->limit + 1);
        return list_collect(s, pg, sizeof(struct org), out, org_list_row);
}

int store_org_first_for_user(struct store *st, const char *user_id, struct org *out)
{
        struct page pg = {.after = 0, .limit = 1};
        _cleanup_list_ struct list l = {0};
        int r = store_orgs_for_user(st, user_id, &pg, &l);
        if (r < 0)
                return r;
        if (l.n == 0)
                return -ENOENT;
        *out = ((struct org *)l.items)[0];
        return 0;
}

int store_member_role(struct store *st, const char *org_id, const char *user_id, enum role *out)
{
        static const char sql[] = "SELECT role FROM members WHERE org_id=? AND user_id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        bind_str(s, 2, user_id);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        *out = role_col(s, 0);
        return 0;
}

int store_member_put(struct store *st, const char *org_id, const char *user_id, enum role role,
                     int64_t now, bool *created)
{
        enum role old;
        int r = store_member_role(st, org_id, user_id, &old);
        if (r < 0 && r != -ENOENT)
                return r;
        *created = r == -ENOENT;
        static const char ins[] =
            "INSERT INTO members(org_id, user_id, role, created_at) VALUES(?,?,?,?)";
        static const char upd[] = "UPDATE members SET role=?3 WHERE org_id=?1 AND user_id=?2";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, *created ? ins : upd);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        bind_str(s, 2, user_id);
        bind_str(s, 3, role_name(role));
        if (*created)
                sqlite3_bind_int64(s, 4, now);
        return stmt_exec(s);
}

int store_member_delete(struct store *st, const char *org_id, const char *user_id)
{
        static const char sql[] = "DELETE FROM members WHERE org_id=? AND user_id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        bind_str(s, 2, user_id);
        int r = stmt_exec(s);
        if (r == 0 && sqlite3_changes(st->db) == 0)
                return -ENOENT;
        return r;
}

int store_admin_count(struct store *st, const char *org_id)
{
        static const char sql[] = "SELECT count(*) FROM members WHERE org_id=? AND role='admin'";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -EIO;
        return sqlite3_column_int(s, 0);
}

static int64_t member_row(sqlite3_stmt *s, void *item)
{
        struct member *m = item;
        col_text(s, 0, m->user_id, sizeof(m->user_id));
        col_text(s, 1, m->email, sizeof(m->email));
        col_text(s, 2, m->name, sizeof(m->name));
        m->role = role_col(s, 3);
        m->seq = sqlite3_column_int64(s, 4);
        return m->seq;
}

int store_members_list(struct store *st, const char *org_id, const struct page *pg,
                       struct list *out)
{
        static const char sql[] = "SELECT u.id, u.email, u.name, m.role, m.rowid FROM members m "
                                  "JOIN users u ON u.id=m.user_id WHERE m.org_id=? AND m.rowid>? "
                                  "ORDER BY m.rowid LIMIT ?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        sqlite3_bind_int64(s, 2, pg->after);
        sqlite3_bind_int(s, 3, pg->limit + 1);
        return list_collect(s, pg, sizeof(struct member), out, member_row);
}

int store_project_insert(struct store *st, const struct project *p)
{
        static const char sql[] =
            "INSERT INTO projects(id, org_id, name, created_at) VALUES(?,?,?,?)";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, p->id);
        bind_str(s, 2, p->org_id);
        bind_str(s, 3, p->name);
        sqlite3_bind_int64(s, 4, p->created_at);
        return stmt_exec(s);
}

static int64_t project_row(sqlite3_stmt *s, void *item)
{
        struct project *p = item;
        col_text(s, 0, p->id, sizeof(p->id));
        col_text(s, 1, p->org_id, sizeof(p->org_id));
        col_text(s, 2, p->name, sizeof(p->name));
        p->created_at = sqlite3_column_int64(s, 3);
        p->seq = sqlite3_column_int64(s, 4);
        return p->seq;
}

int store_project_resolve(struct store *st, const char *org_id, const char *id_or_name,
                          struct project *out)
{
        static const char sql[] = "SELECT id, org_id, name, created_at, rowid FROM projects "
                                  "WHERE org_id=?1 AND (id=?2 OR name=?2)";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        bind_str(s, 2, id_or_name);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        project_row(s, out);
        return 0;
}

int store_projects_list(struct store *st, const char *org_id, const char *only_id,
                        const struct page *pg, struct list *out)
{
        static const char sql[] = "SELECT id, org_id, name, created_at, rowid FROM projects "
                                  "WHERE org_id=?1 AND (?2 IS NULL OR id=?2) AND rowid>?3 "
                                  "ORDER BY rowid LIMIT ?4";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        bind_text(s, 2, only_id);
        sqlite3_bind_int64(s, 3, pg->after);
        sqlite3_bind_int(s, 4, pg->limit + 1);
        return list_collect(s, pg, sizeof(struct project), out, project_row);
}
