#include "core/store_internal.h"

#include <stdio.h>

/* Versioned migrations: migration i brings the schema from version i to i+1. Never edit an
 * applied migration; append a new one. */
static const char *const migrations[] = {
    /* 1: governance core */
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE users(id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  name TEXT NOT NULL, pw_hash TEXT, created_at INTEGER NOT NULL);"
    "CREATE TABLE orgs(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE projects(id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
    "  name TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE(org_id, name));"
    "CREATE TABLE members(org_id TEXT NOT NULL REFERENCES orgs(id),"
    "  user_id TEXT NOT NULL REFERENCES users(id), role TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, PRIMARY KEY(org_id, user_id));"
    "CREATE INDEX members_user ON members(user_id);"
    "CREATE TABLE api_keys(id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, prefix TEXT NOT NULL,"
    "  name TEXT NOT NULL, principal_id TEXT NOT NULL, principal_kind TEXT NOT NULL,"
    "  org_id TEXT NOT NULL REFERENCES orgs(id), project_id TEXT, scopes INTEGER NOT NULL,"
    "  expires_at INTEGER, created_at INTEGER NOT NULL, last_used_at INTEGER);"
    "CREATE INDEX api_keys_org ON api_keys(org_id, principal_id);"
    "CREATE TABLE sessions(hash BLOB PRIMARY KEY, user_id TEXT NOT NULL, org_id TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    "  at INTEGER NOT NULL, principal TEXT NOT NULL, kind TEXT NOT NULL, action TEXT NOT NULL,"
    "  target TEXT, org_id TEXT, project_id TEXT, result TEXT NOT NULL, ip TEXT,"
    "  hash BLOB NOT NULL);"
    "CREATE INDEX audit_org ON audit(org_id, seq);",
    /* 2: rigs */
    "CREATE TABLE rigs(id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
    "  project_id TEXT NOT NULL REFERENCES projects(id), name TEXT NOT NULL,"
    "  state TEXT NOT NULL, template TEXT NOT NULL, stateless INTEGER NOT NULL,"
    "  cpus REAL NOT NULL, memory_mb INTEGER NOT NULL, max_processes INTEGER NOT NULL,"
    "  disk_mb INTEGER NOT NULL, network TEXT NOT NULL, env TEXT NOT NULL,"
    "  ttl_s INTEGER, expires_at INTEGER, uid_base INTEGER NOT NULL UNIQUE, ip TEXT,"
    "  created_by TEXT NOT NULL, created_at INTEGER NOT NULL, error TEXT,"
    "  UNIQUE(project_id, name));"
    "CREATE INDEX rigs_org ON rigs(org_id);",
    /* 3: a rig address belongs to one rig */
    "CREATE UNIQUE INDEX rigs_ip ON rigs(ip);",
    /* 4: apps, their previews, and auto-sleep. Foreign keys are on (store_open): deleting a rig
     * deletes its apps, and deleting an app its previews. */
    "ALTER TABLE rigs ADD COLUMN auto_sleep_s INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE apps(name TEXT PRIMARY KEY,"
    "  rig_id TEXT NOT NULL REFERENCES rigs(id) ON DELETE CASCADE, org_id TEXT NOT NULL,"
    "  project_id TEXT NOT NULL, port INTEGER NOT NULL, visibility TEXT NOT NULL,"
    "  allowed_emails TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL UNIQUE);"
    "CREATE INDEX apps_rig ON apps(rig_id, seq);"
    "CREATE TABLE previews(hash BLOB PRIMARY KEY,"
    "  app_name TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE, rig_id TEXT NOT NULL,"
    "  org_id TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE INDEX previews_app ON previews(app_name);"
    "CREATE INDEX previews_expiry ON previews(expires_at);",
};

int store_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

static unsigned cache_slot(const char *sql)
{
        uintptr_t p = (uintptr_t)sql;
        return (unsigned)((p >> 3) ^ (p >> 11)) % STMT_CACHE;
}

sqlite3_stmt *store_stmt(struct store *st, const char *sql)
{
        unsigned i = cache_slot(sql);
        for (unsigned n = 0; n < STMT_CACHE; n++, i = (i + 1) % STMT_CACHE) {
                if (st->cache[i].sql == sql)
                        return st->cache[i].stmt;
                if (!st->cache[i].sql)
                        break;
        }
        if (st->cache[i].sql)
                return NULL; /* cache full: a programming error caught by tests */
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
                return NULL;
        st->cache[i].sql = sql;
        st->cache[i].stmt = s;
        return s;
}

void col_text(sqlite3_stmt *s, int i, char *out, size_t outlen)
{
        const unsigned char *t = sqlite3_column_text(s, i);
        size_t n = t ? (size_t)sqlite3_column_bytes(s, i) : 0;
        if (n >= outlen)
                n = outlen - 1;
        if (n)
                memcpy(out, t, n);
        out[n] = '\0';
}

void bind_text(sqlite3_stmt *s, int i, const char *v)
{
        if (v && *v)
                sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(s, i);
}

void bind_str(sqlite3_stmt *s, int i, const char *v)
{
        sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

int stmt_exec(sqlite3_stmt *s)
{
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE || rc == SQLITE_ROW)
                return 0;
        return store_errno(rc);
}

int list_collect(sqlite3_stmt *s, const struct page *pg, size_t item_size, struct list *out,
                 int64_t (*row)(sqlite3_stmt *s, void *item))
{
        int64_t last = 0;
        size_t limit = (size_t)pg->limit, cap = limit < 64 ? (limit ? limit : 1) : 64;
        out->items = xcalloc(cap, item_size);
        out->n = 0;
        out->next = 0;
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                if (out->n == limit) {
                        /* One more row exists: continue after the last returned one. */
                        out->next = last;
                        break;
                }
                if (out->n == cap) {
                        cap *= 2;
                        out->items = xrealloc(out->items, cap * item_size);
                }
                memset((char *)out->items + out->n * item_size, 0, item_size);
                last = row(s, (char *)out->items + out->n * item_size);
                out->n++;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                free(out->items);
                out->items = NULL;
                out->n = 0;
                return store_errno(rc);
        }
        return 0;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
        return store_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static int migrate(struct store *st)
{
        sqlite3_stmt *s = NULL;
        int version = 0;
        if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
                return -EIO;
        if (sqlite3_step(s) == SQLITE_ROW)
                version = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
        if (version > (int)ARRAY_SIZE(migrations))
                return -EPROTO; /* a newer rigd wrote this database */
        for (int v = version; v < (int)ARRAY_SIZE(migrations); v++) {
                char pragma[64];
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", v + 1);
                int r = exec_sql(st->db, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                if ((r = exec_sql(st->db, migrations[v])) < 0 ||
                    (r = exec_sql(st->db, pragma)) < 0) {
                        exec_sql(st->db, "ROLLBACK");
                        return r;
                }
                if ((r = exec_sql(st->db, "COMMIT")) < 0)
                        return r;
        }
        return 0;
}

int store_open(const char *path, bool create, struct store **out)
{
        struct store *st = xcalloc(1, sizeof(*st));
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
        int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
        if (rc != SQLITE_OK) {
                int r = rc == SQLITE_CANTOPEN ? -ENOENT : store_errno(rc);
                store_close(st);
                return r;
        }
        sqlite3_busy_timeout(st->db, 5000);
        int r;
        if ((r = exec_sql(st->db, "PRAGMA journal_mode=WAL")) < 0 ||
            (r = exec_sql(st->db, "PRAGMA synchronous=NORMAL")) < 0 ||
            (r = exec_sql(st->db, "PRAGMA foreign_keys=ON")) < 0 ||
            (r = exec_sql(st->db, "PRAGMA secure_delete=ON")) < 0 || (r = migrate(st)) < 0) {
                store_close(st);
                return r;
        }
        *out = st;
        return 0;
}

void store_close(struct store *st)
{
        if (!st)
                return;
        for (size_t i = 0; i < STMT_CACHE; i++)
                if (st->cache[i].stmt)
                        sqlite3_finalize(st->cache[i].stmt);
        sqlite3_close(st->db);
        free(st);
}

int store_begin(struct store *st)
{
        return exec_sql(st->db, "BEGIN IMMEDIATE");
}

int store_commit(struct store *st)
{
        int r = exec_sql(st->db, "COMMIT");
        if (r < 0)
                exec_sql(st->db, "ROLLBACK");
        return r;
}

void store_rollback(struct store *st)
{
        if (!sqlite3_get_autocommit(st->db))
                exec_sql(st->db, "ROLLBACK");
}

const char *store_errmsg(struct store *st)
{
        return sqlite3_errmsg(st->db);
}

int store_meta_get(struct store *st, const char *k, char *out, size_t outlen)
{
        static const char sql[] = "SELECT v FROM meta WHERE k=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, k);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        col_text(s, 0, out, outlen);
        return 0;
}

int store_meta_set(struct store *st, const char *k, const char *v)
{
        static const char sql[] = "INSERT INTO meta(k, v) VALUES(?, ?) "
                                  "ON CONFLICT(k) DO UPDATE SET v=excluded.v";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, k);
        bind_str(s, 2, v);
        return stmt_exec(s);
}
