#include "core/rigs.h"

#include "core/store_internal.h"

#include <arpa/inet.h>
#include <stdio.h>

#define UID_BASE_FIRST 1000000u
#define UID_RANGE      65536u

static const char *const state_names[] = {
    [RIG_CREATING] = "creating", [RIG_RUNNING] = "running", [RIG_PAUSED] = "paused",
    [RIG_STOPPED] = "stopped",   [RIG_ERROR] = "error",
};

const char *rig_state_name(enum rig_state s)
{
        return s <= RIG_ERROR ? state_names[s] : "error";
}

static enum rig_state state_from(const char *s)
{
        for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
                if (streq(s, state_names[i]))
                        return (enum rig_state)i;
        return RIG_ERROR;
}

void rig_free_fields(struct rig *r)
{
        free(r->network);
        free(r->env);
        r->network = r->env = NULL;
}

void rigs_list_free(struct list *l)
{
        for (size_t i = 0; i < l->n; i++)
                rig_free_fields(&((struct rig *)l->items)[i]);
        free(l->items);
        l->items = NULL;
        l->n = 0;
}

/* The smallest free uid range: ranges of deleted rigs are reused. */
static int alloc_uid_base(struct store *st, uint32_t *out)
{
        static const char sql[] = "SELECT uid_base FROM rigs ORDER BY uid_base";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        uint64_t want = UID_BASE_FIRST;
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                uint64_t used = (uint64_t)sqlite3_column_int64(s, 0);
                if (used > want)
                        break;
                if (used == want)
                        want += UID_RANGE;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return store_errno(rc);
        if (want + UID_RANGE > UINT32_MAX)
                return -ENOSPC;
        *out = (uint32_t)want;
        return 0;
}

int store_rig_insert(struct store *st, struct rig *r)
{
        static const char sql[] =
            "INSERT INTO rigs(id, org_id, project_id, name, state, template, stateless, cpus,"
            " memory_mb, max_processes, disk_mb, network, env, ttl_s, expires_at, uid_base,"
            " ip, created_by, created_at, auto_sleep_s)"
            " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
        int r0 = alloc_uid_base(st, &r->uid_base);
        if (r0 < 0)
                return r0;
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, r->id);
        bind_str(s, 2, r->org_id);
        bind_str(s, 3, r->project_id);
        bind_str(s, 4, r->name);
        bind_str(s, 5, rig_state_name(r->state));
        bind_str(s, 6, r->template_name);
        sqlite3_bind_int(s, 7, r->stateless);
        sqlite3_bind_double(s, 8, r->cpus);
        sqlite3_bind_int64(s, 9, r->memory_mb);
        sqlite3_bind_int64(s, 10, r->max_processes);
        sqlite3_bind_int64(s, 11, r->disk_mb);
        bind_str(s, 12, r->network ? r->network : "{}");
        bind_str(s, 13, r->env ? r->env : "{}");
        if (r->ttl_s) {
                sqlite3_bind_int64(s, 14, r->ttl_s);
                sqlite3_bind_int64(s, 15, r->expires_at);
        }
        sqlite3_bind_int64(s, 16, r->uid_base);
        bind_text(s, 17, r->ip);
        bind_str(s, 18, r->created_by);
        sqlite3_bind_int64(s, 19, r->created_at);
        sqlite3_bind_int64(s, 20, r->auto_sleep_s);
        return stmt_exec(s);
}

#define RIG_COLS                                                                                   \
        "r.id, r.org_id, r.project_id, p.name, r.name, r.state, r.template, r.stateless, r.cpus,"  \
        " r.memory_mb, r.max_processes, r.disk_mb, r.network, r.env, r.ttl_s, r.expires_at,"       \
        " r.uid_base, r.ip, r.created_by, r.created_at, r.error, r.rowid, r.auto_sleep_s "         \
        "FROM rigs r JOIN projects p ON p.id=r.project_id "

static char *col_dup(sqlite3_stmt *s, int i)
{
        const unsigned char *t = sqlite3_column_text(s, i);
        return xstrdup(t ? (const char *)t : "{}");
}

static int64_t rig_row(sqlite3_stmt *s, void *item)
{
        struct rig *r = item;
        char state[16];
        col_text(s, 0, r->id, sizeof(r->id));
        col_text(s, 1, r->org_id, sizeof(r->org_id));
        col_text(s, 2, r->project_id, sizeof(r->project_id));
        col_text(s, 3, r->project_name, sizeof(r->project_name));
        col_text(s, 4, r->name, sizeof(r->name));
        col_text(s, 5, state, sizeof(state));
        r->state = state_from(state);
        col_text(s, 6, r->template_name, sizeof(r->template_name));
        r->stateless = sqlite3_column_int(s, 7) != 0;
        r->cpus = sqlite3_column_double(s, 8);
        r->memory_mb = sqlite3_column_int64(s, 9);
        r->max_processes = sqlite3_column_int64(s, 10);
        r->disk_mb = sqlite3_column_int64(s, 11);
        r->network = col_dup(s, 12);
        r->env = col_dup(s, 13);
        r->ttl_s = sqlite3_column_int64(s, 14);
        r->expires_at = sqlite3_column_int64(s, 15);
        r->uid_base = (uint32_t)sqlite3_column_int64(s, 16);
        col_text(s, 17, r->ip, sizeof(r->ip));
        col_text(s, 18, r->created_by, sizeof(r->created_by));
        r->created_at = sqlite3_column_int64(s, 19);
        col_text(s, 20, r->error, sizeof(r->error));
        r->seq = sqlite3_column_int64(s, 21);
        r->auto_sleep_s = sqlite3_column_int64(s, 22);
        return r->seq;
}

int store_rig_get(struct store *st, const struct tenant *t, const char *id_or_name,
                  const char *name_project, struct rig *out)
{
        static const char sql[] =
            "SELECT " RIG_COLS "WHERE r.org_id=?1 AND (?2 IS NULL OR r.project_id=?2) AND "
            "(r.id=?3 OR (r.name=?3 AND r.project_id=?4))";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, t->org_id);
        bind_text(s, 2, t->project_id);
        bind_str(s, 3, id_or_name);
        bind_str(s, 4, name_project ? name_project : "");
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc);
        memset(out, 0, sizeof(*out));
        rig_row(s, out);
        return 0;
}

int store_rig_set_state(struct store *st, const char *id, enum rig_state state, const char *error)
{
        static const char sql[] = "UPDATE rigs SET state=?, error=? WHERE id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, rig_state_name(state));
        bind_text(s, 2, error);
        bind_str(s, 3, id);
        int r = stmt_exec(s);
        if (r == 0 && sqlite3_changes(st->db) == 0)
                return -ENOENT;
        return r;
}

int store_rig_set_network(struct store *st, const char *id, const char *network_json,
                          const char *ip)
{
        static const char sql[] = "UPDATE rigs SET network=?, ip=? WHERE id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, network_json);
        bind_text(s, 2, ip);
        bind_str(s, 3, id);
        return stmt_exec(s);
}

int store_rig_set_auto_sleep(struct store *st, const char *id, int64_t auto_sleep_s)
{
        static const char sql[] = "UPDATE rigs SET auto_sleep_s=? WHERE id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_int64(s, 1, auto_sleep_s);
        bind_str(s, 2, id);
        int r = stmt_exec(s);
        if (r == 0 && sqlite3_changes(st->db) == 0)
                return -ENOENT;
        return r;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

int store_rig_alloc_ip(struct store *st, uint32_t first, uint32_t last, char out[64])
{
        static const char sql[] = "SELECT ip FROM rigs WHERE ip IS NOT NULL AND ip != ''";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        uint32_t *used = NULL;
        size_t n = 0, cap = 0;
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct in_addr a;
                const char *t = (const char *)sqlite3_column_text(s, 0);
                if (!t || inet_pton(AF_INET, t, &a) != 1)
                        continue;
                if (n == cap)
                        used = xrealloc(used, (cap = cap ? cap * 2 : 64) * sizeof(*used));
                used[n++] = ntohl(a.s_addr);
        }
        if (rc != SQLITE_DONE) {
                free(used);
                return store_errno(rc);
        }
        if (n)
                qsort(used, n, sizeof(*used), cmp_u32);
        uint64_t want = first;
        for (size_t i = 0; i < n && used[i] <= want; i++)
                if (used[i] == want)
                        want++;
        free(used);
        if (want > last)
                return -ENOSPC;
        uint32_t ip = (uint32_t)want;
        snprintf(out, 64, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
        return 0;
}

int store_rig_delete(struct store *st, const char *id)
{
        static const char sql[] = "DELETE FROM rigs WHERE id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, id);
        int r = stmt_exec(s);
        if (r == 0 && sqlite3_changes(st->db) == 0)
                return -ENOENT;
        return r;
}

int store_rigs_list(struct store *st, const struct tenant *t, const char *project_id,
                    const struct page *pg, struct list *out)
{
        static const char sql[] =
            "SELECT " RIG_COLS "WHERE r.org_id=?1 AND (?2 IS NULL OR r.project_id=?2) AND "
            "(?3 IS NULL OR r.project_id=?3) AND r.rowid>?4 "
            "ORDER BY r.rowid LIMIT ?5";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, t->org_id);
        bind_text(s, 2, t->project_id);
        bind_text(s, 3, project_id);
        sqlite3_bind_int64(s, 4, pg->after);
        sqlite3_bind_int(s, 5, pg->limit + 1);
        return list_collect(s, pg, sizeof(struct rig), out, rig_row);
}

int store_rig_usage(struct store *st, const char *project_id, int64_t *count, int64_t *memory_mb)
{
        static const char sql[] =
            "SELECT count(*), COALESCE(sum(memory_mb),0) FROM rigs WHERE project_id=?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, project_id);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -EIO;
        *count = sqlite3_column_int64(s, 0);
        *memory_mb = sqlite3_column_int64(s, 1);
        return 0;
}

int store_rigs_all(struct store *st, struct list *out)
{
        static const char sql[] = "SELECT " RIG_COLS "WHERE r.rowid>? ORDER BY r.rowid LIMIT ?";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        struct page pg = {.after = 0, .limit = 1000000};
        sqlite3_bind_int64(s, 1, 0);
        sqlite3_bind_int(s, 2, pg.limit + 1);
        return list_collect(s, &pg, sizeof(struct rig), out, rig_row);
}
