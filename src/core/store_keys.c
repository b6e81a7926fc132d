/* API keys and browser sessions in SQLite. Tokens never reach this file: only their hashes. */
#include "core/store_internal.h"

const char *principal_kind_name(enum principal_kind k)
{
        switch (k) {
        case PK_USER:
                return "user";
        case PK_AGENT:
                return "agent";
        case PK_RIG_CREDENTIAL:
                return "rig_credential";
        default:
                return "anonymous";
        }
}

static enum principal_kind kind_from_name(const char *s)
{
        if (streq(s, "user"))
                return PK_USER;
        if (streq(s, "agent"))
                return PK_AGENT;
        return PK_ANONYMOUS;
}

int store_key_insert(struct store *st, const struct apikey *k, const uint8_t hash[TOKEN_HASH_LEN])
{
        static const char sql[] =
            "INSERT INTO api_keys(id, hash, prefix, name, principal_id, principal_kind, org_id,"
            " project_id, scopes, expires_at, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, k->id);
        sqlite3_bind_blob(s, 2, hash, TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        bind_str(s, 3, k->prefix);
        bind_str(s, 4, k->name);
        bind_str(s, 5, k->principal_id);
        bind_str(s, 6, principal_kind_name(k->principal_kind));
        bind_str(s, 7, k->org_id);
        bind_text(s, 8, k->project_id);
        sqlite3_bind_int64(s, 9, k->scopes);
        if (k->expires_at)
                sqlite3_bind_int64(s, 10, k->expires_at);
        else
                sqlite3_bind_null(s, 10);
        sqlite3_bind_int64(s, 11, k->created_at);
        return stmt_exec(s);
}

int store_key_authenticate(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], int64_t now,
                           struct principal *out)
{
        static const char sql[] =
            "SELECT k.id, k.principal_id, k.principal_kind, k.org_id, o.name, k.project_id,"
            " p.name, k.scopes, k.expires_at, k.last_used_at, u.email, u.name, m.role "
            "FROM api_keys k JOIN orgs o ON o.id=k.org_id "
            "LEFT JOIN projects p ON p.id=k.project_id "
            "LEFT JOIN users u ON u.id=k.principal_id "
            "LEFT JOIN members m ON m.org_id=k.org_id AND m.user_id=k.principal_id "
            "WHERE k.hash=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_blob(s, 1, hash, TOKEN_HASH_LEN, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        memset(out, 0, sizeof(*out));
        char kind[16];
        col_text(s, 0, out->key_id, sizeof(out->key_id));
        col_text(s, 1, out->id, sizeof(out->id));
        col_text(s, 2, kind, sizeof(kind));
        out->kind = kind_from_name(kind);
        col_text(s, 3, out->org_id, sizeof(out->org_id));
        col_text(s, 4, out->org_name, sizeof(out->org_name));
        col_text(s, 5, out->project_id, sizeof(out->project_id));
        col_text(s, 6, out->project_name, sizeof(out->project_name));
        scopeset_t scopes = (scopeset_t)sqlite3_column_int64(s, 7);
        int64_t expires = sqlite3_column_type(s, 8) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 8);
        out->last_used_at = sqlite3_column_int64(s, 9);
        col_text(s, 10, out->email, sizeof(out->email));
        col_text(s, 11, out->name, sizeof(out->name));
        const unsigned char *role = sqlite3_column_text(s, 12);
        out->role = role ? role_from_name((const char *)role) : ROLE_NONE;
        out->method = AUTH_KEY;
        out->expires_at = expires;
        out->granted = scopes;
        if (expires && expires <= now)
                return -EKEYEXPIRED;
        if (out->kind == PK_USER) {
                if (out->role == ROLE_NONE)
                        return -EACCES;
                /* Fail closed: a key never holds more than its owner's role grants today. */
                out->scopes = scopes & role_scopes(out->role);
        } else {
                out->scopes = scopes;
        }
        return 0;
}

int store_key_touch(struct store *st, const char *id, int64_t now)
{
        static const char sql[] = "UPDATE api_keys SET last_used_at=? WHERE id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_int64(s, 1, now);
        bind_str(s, 2, id);
        return stmt_exec(s);
}

#define KEY_COLS                                                                                   \
        "k.id, k.name, k.prefix, k.principal_id, k.principal_kind, k.org_id, k.project_id,"        \
        " p.name, k.scopes, k.expires_at, k.created_at, k.last_used_at, k.rowid "                  \
        "FROM api_keys k LEFT JOIN projects p ON p.id=k.project_id "

static int64_t key_row(sqlite3_stmt *s, void *item)
{
        struct apikey *k = item;
        char kind[16];
        col_text(s, 0, k->id, sizeof(k->id));
        col_text(s, 1, k->name, sizeof(k->name));
        col_text(s, 2, k->prefix, sizeof(k->prefix));
        col_text(s, 3, k->principal_id, sizeof(k->principal_id));
        col_text(s, 4, kind, sizeof(kind));
        k->principal_kind = kind_from_name(kind);
        col_text(s, 5, k->org_id, sizeof(k->org_id));
        col_text(s, 6, k->project_id, sizeof(k->project_id));
        col_text(s, 7, k->project_name, sizeof(k->project_name));
        k->scopes = (scopeset_t)sqlite3_column_int64(s, 8);
        k->expires_at = sqlite3_column_int64(s, 9);
        k->created_at = sqlite3_column_int64(s, 10);
        k->last_used_at = sqlite3_column_int64(s, 11);
        k->seq = sqlite3_column_int64(s, 12);
        return k->seq;
}

int store_key_get(struct store *st, const char *org_id, const char *id, struct apikey *out)
{
        static const char sql[] = "SELECT " KEY_COLS "WHERE k.org_id=? AND k.id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        bind_str(s, 2, id);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        key_row(s, out);
        return 0;
}

int store_keys_list(struct store *st, const char *org_id, const char *principal_id,
                    const struct page *pg, struct list *out)
{
        static const char sql[] =
            "SELECT " KEY_COLS "WHERE k.org_id=?1 AND (?2 IS NULL OR k.principal_id=?2) "
            "AND k.rowid>?3 ORDER BY k.rowid LIMIT ?4";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        bind_text(s, 2, principal_id);
        sqlite3_bind_int64(s, 3, pg->after);
        sqlite3_bind_int(s, 4, pg->limit + 1);
        return list_collect(s, pg, sizeof(struct apikey), out, key_row);
}

int store_key_delete(struct store *st, const char *org_id, const char *id)
{
        static const char sql[] = "DELETE FROM api_keys WHERE org_id=? AND id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        bind_str(s, 2, id);
        int r = stmt_exec(s);
        if (r == 0 && sqlite3_changes(st->db) == 0)
                return -ENOENT;
        return r;
}

int store_key_rehash(struct store *st, const char *org_id, const char *id,
                     const uint8_t hash[TOKEN_HASH_LEN], const char *prefix)
{
        static const char sql[] = "UPDATE api_keys SET hash=?, prefix=? WHERE org_id=? AND id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_blob(s, 1, hash, TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        bind_str(s, 2, prefix);
        bind_str(s, 3, org_id);
        bind_str(s, 4, id);
        int r = stmt_exec(s);
        if (r == 0 && sqlite3_changes(st->db) == 0)
                return -ENOENT;
        return r;
}

int store_session_insert(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], const char *user_id,
                         const char *org_id, int64_t now, int64_t expires)
{
        static const char sql[] = "INSERT INTO sessions(hash, user_id, org_id, created_at,"
                                  " last_seen, expires_at) VALUES(?,?,?,?,?,?)";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_blob(s, 1, hash, TOKEN_HASH_LEN, SQLITE_TRANSIENT);
        bind_str(s, 2, user_id);
        bind_str(s, 3, org_id);
        sqlite3_bind_int64(s, 4, now);
        sqlite3_bind_int64(s, 5, now);
        sqlite3_bind_int64(s, 6, expires);
        return stmt_exec(s);
}

int store_session_authenticate(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], int64_t now,
                               struct principal *out)
{
        static const char sql[] =
            "SELECT s.user_id, s.org_id, o.name, u.email, u.name, m.role, s.last_seen,"
            " s.expires_at FROM sessions s JOIN users u ON u.id=s.user_id "
            "JOIN orgs o ON o.id=s.org_id "
            "LEFT JOIN members m ON m.org_id=s.org_id AND m.user_id=s.user_id WHERE s.hash=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_blob(s, 1, hash, TOKEN_HASH_LEN, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        memset(out, 0, sizeof(*out));
        col_text(s, 0, out->id, sizeof(out->id));
        col_text(s, 1, out->org_id, sizeof(out->org_id));
        col_text(s, 2, out->org_name, sizeof(out->org_name));
        col_text(s, 3, out->email, sizeof(out->email));
        col_text(s, 4, out->name, sizeof(out->name));
        const unsigned char *role = sqlite3_column_text(s, 5);
        out->role = role ? role_from_name((const char *)role) : ROLE_NONE;
        out->last_used_at = sqlite3_column_int64(s, 6);
        int64_t expires = sqlite3_column_int64(s, 7);
        out->kind = PK_USER;
        out->method = AUTH_SESSION;
        memcpy(out->session_hash, hash, TOKEN_HASH_LEN);
        out->expires_at = expires;
        if (expires <= now || out->last_used_at + SESSION_IDLE_S <= now)
                return -EKEYEXPIRED;
        if (out->role == ROLE_NONE)
                return -EACCES;
        out->granted = SCOPES_ALL;
        out->scopes = role_scopes(out->role);
        return 0;
}

int store_session_touch(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], int64_t now)
{
        static const char sql[] = "UPDATE sessions SET last_seen=? WHERE hash=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_blob(s, 2, hash, TOKEN_HASH_LEN, SQLITE_STATIC);
        return stmt_exec(s);
}

int store_session_set_org(struct store *st, const uint8_t hash[TOKEN_HASH_LEN], const char *org_id)
{
        static const char sql[] = "UPDATE sessions SET org_id=? WHERE hash=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, org_id);
        sqlite3_bind_blob(s, 2, hash, TOKEN_HASH_LEN, SQLITE_STATIC);
        return stmt_exec(s);
}

int store_session_delete(struct store *st, const uint8_t hash[TOKEN_HASH_LEN])
{
        static const char sql[] = "DELETE FROM sessions WHERE hash=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_blob(s, 1, hash, TOKEN_HASH_LEN, SQLITE_STATIC);
        return stmt_exec(s);
}

int store_sessions_active(struct store *st, int64_t now)
{
        static const char sql[] =
            "SELECT count(*) FROM sessions WHERE expires_at>? AND last_seen>?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_int64(s, 2, now - SESSION_IDLE_S);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -EIO;
        return sqlite3_column_int(s, 0);
}

int store_sessions_sweep(struct store *st, int64_t now)
{
        static const char sql[] = "DELETE FROM sessions WHERE expires_at<=? OR last_seen<=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_int64(s, 1, now);
        sqlite3_bind_int64(s, 2, now - SESSION_IDLE_S);
        return stmt_exec(s);
}
