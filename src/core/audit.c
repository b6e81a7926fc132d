#include "core/audit.h"

#include "core/store_internal.h"

#include <sodium.h>
#include <stdio.h>

static void put_field(crypto_generichash_state *h, const char *s)
{
        uint32_t n = (uint32_t)strlen(s);
        uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        crypto_generichash_update(h, len, sizeof(len));
        crypto_generichash_update(h, (const unsigned char *)s, n);
}

void audit_chain_hash(const uint8_t key[SECRET_KEY_LEN], const uint8_t prev[AUDIT_HASH_LEN],
                      const struct audit_entry *e, uint8_t out[AUDIT_HASH_LEN])
{
        crypto_generichash_state h;
        char num[48];
        crypto_generichash_init(&h, key, SECRET_KEY_LEN, AUDIT_HASH_LEN);
        crypto_generichash_update(&h, prev, AUDIT_HASH_LEN);
        snprintf(num, sizeof(num), "%lld:%lld", (long long)e->seq, (long long)e->at);
        put_field(&h, num);
        put_field(&h, e->id);
        put_field(&h, e->principal);
        put_field(&h, e->kind);
        put_field(&h, e->action);
        put_field(&h, e->target);
        put_field(&h, e->org);
        put_field(&h, e->project);
        put_field(&h, e->result);
        put_field(&h, e->ip);
        crypto_generichash_final(&h, out, AUDIT_HASH_LEN);
}

/* The chain head ("seq:hex") lives in meta so that dropping the newest rows is detected too. */
static int head_get(struct store *st, int64_t *seq, uint8_t hash[AUDIT_HASH_LEN])
{
        char v[128];
        int r = store_meta_get(st, "audit_head", v, sizeof(v));
        if (r == -ENOENT) {
                *seq = 0;
                memset(hash, 0, AUDIT_HASH_LEN);
                return 0;
        }
        if (r < 0)
                return r;
        char *colon = strchr(v, ':');
        if (!colon)
                return -EBADMSG;
        *seq = strtoll(v, NULL, 10);
        size_t bin_len = 0;
        if (sodium_hex2bin(hash, AUDIT_HASH_LEN, colon + 1, strlen(colon + 1), NULL, &bin_len,
                           NULL) != 0 ||
            bin_len != AUDIT_HASH_LEN)
                return -EBADMSG;
        return 0;
}

static int head_set(struct store *st, int64_t seq, const uint8_t hash[AUDIT_HASH_LEN])
{
        char hex[AUDIT_HASH_LEN * 2 + 1];
        char v[128];
        sodium_bin2hex(hex, sizeof(hex), hash, AUDIT_HASH_LEN);
        snprintf(v, sizeof(v), "%lld:%s", (long long)seq, hex);
        return store_meta_set(st, "audit_head", v);
}

int audit_append(struct store *st, const uint8_t key[SECRET_KEY_LEN], struct audit_entry *e)
{
        static const char sql[] =
            "INSERT INTO audit(seq, id, at, principal, kind, action, target, org_id,"
            " project_id, result, ip, hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)";
        uint8_t prev[AUDIT_HASH_LEN], hash[AUDIT_HASH_LEN];
        int64_t seq;
        int r = head_get(st, &seq, prev);
        if (r < 0)
                return r;
        e->seq = seq + 1;
        id_new("aud_", e->id);
        audit_chain_hash(key, prev, e, hash);
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        sqlite3_bind_int64(s, 1, e->seq);
        bind_str(s, 2, e->id);
        sqlite3_bind_int64(s, 3, e->at);
        bind_str(s, 4, e->principal);
        bind_str(s, 5, e->kind);
        bind_str(s, 6, e->action);
        bind_text(s, 7, e->target);
        bind_text(s, 8, e->org);
        bind_text(s, 9, e->project);
        bind_str(s, 10, e->result);
        bind_text(s, 11, e->ip);
        sqlite3_bind_blob(s, 12, hash, AUDIT_HASH_LEN, SQLITE_STATIC);
        r = stmt_exec(s);
        if (r < 0)
                return r;
        return head_set(st, e->seq, hash);
}

#define AUDIT_COLS "seq, id, at, principal, kind, action, target, org_id, project_id, result, ip"

static int64_t audit_row(sqlite3_stmt *s, void *item)
{
        struct audit_entry *e = item;
        e->seq = sqlite3_column_int64(s, 0);
        col_text(s, 1, e->id, sizeof(e->id));
        e->at = sqlite3_column_int64(s, 2);
        col_text(s, 3, e->principal, sizeof(e->principal));
        col_text(s, 4, e->kind, sizeof(e->kind));
        col_text(s, 5, e->action, sizeof(e->action));
        col_text(s, 6, e->target, sizeof(e->target));
        col_text(s, 7, e->org, sizeof(e->org));
        col_text(s, 8, e->project, sizeof(e->project));
        col_text(s, 9, e->result, sizeof(e->result));
        col_text(s, 10, e->ip, sizeof(e->ip));
        return e->seq;
}

int audit_list(struct store *st, const struct audit_filter *f, const struct page *pg,
               struct list *out)
{
        static const char sql[] = "SELECT " AUDIT_COLS " FROM audit WHERE org_id=?1 "
                                  "AND (?2=0 OR seq<?2) AND at>=?3 "
                                  "AND (?4 IS NULL OR principal=?4) AND (?5 IS NULL OR target=?5) "
                                  "AND (?6 IS NULL OR action=?6) ORDER BY seq DESC LIMIT ?7";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        bind_str(s, 1, f->org_id);
        sqlite3_bind_int64(s, 2, pg->after);
        sqlite3_bind_int64(s, 3, f->since);
        bind_text(s, 4, f->principal);
        bind_text(s, 5, f->target);
        bind_text(s, 6, f->action);
        sqlite3_bind_int(s, 7, pg->limit + 1);
        return list_collect(s, pg, sizeof(struct audit_entry), out, audit_row);
}

int audit_verify(struct store *st, const uint8_t key[SECRET_KEY_LEN], char bad_id[ID_MAX])
{
        static const char sql[] = "SELECT " AUDIT_COLS ", hash FROM audit ORDER BY seq";
        _cleanup_stmt_ sqlite3_stmt *s = store_stmt(st, sql);
        if (!s)
                return -EIO;
        uint8_t prev[AUDIT_HASH_LEN] = {0}, calc[AUDIT_HASH_LEN];
        int64_t expect_seq = 1;
        int n = 0, rc;
        bad_id[0] = '\0';
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct audit_entry e = {0};
                audit_row(s, &e);
                const void *stored = sqlite3_column_blob(s, 11);
                bool ok =
                    e.seq == expect_seq && stored && sqlite3_column_bytes(s, 11) == AUDIT_HASH_LEN;
                if (ok) {
                        audit_chain_hash(key, prev, &e, calc);
                        ok = sodium_memcmp(calc, stored, AUDIT_HASH_LEN) == 0;
                }
                if (!ok) {
                        snprintf(bad_id, ID_MAX, "%s", e.id);
                        return -EBADMSG;
                }
                memcpy(prev, stored, AUDIT_HASH_LEN);
                expect_seq++;
                n++;
        }
        if (rc != SQLITE_DONE)
                return store_errno(rc);
        int64_t head_seq;
        uint8_t head_hash[AUDIT_HASH_LEN];
        int r = head_get(st, &head_seq, head_hash);
        if (r < 0 || head_seq != expect_seq - 1 ||
            (n && sodium_memcmp(head_hash, prev, AUDIT_HASH_LEN) != 0)) {
                snprintf(bad_id, ID_MAX, "head");
                return -EBADMSG;
        }
        return n;
}
