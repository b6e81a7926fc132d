/* The audit hash chain: appends, verification, and tampering an attacker with write access to the
 * database file (but not to the key) could attempt. */
#include "core/audit.h"

#include <sodium.h>
#include <sqlite3.h>

#include "tap.h"
#include "testutil.h"

#define NENTRIES 6 /* the tampering SQL below assumes 6 */

static char tmpdir[256];
static int dbcount;
static uint8_t key[SECRET_KEY_LEN];

struct fixture {
        char path[300];
        struct store *st;
        char ids[NENTRIES + 1][ID_MAX]; /* ids[seq] */
};

static struct audit_entry entry(int i)
{
        struct audit_entry e = {0};
        e.at = 1700000000 + i;
        snprintf(e.principal, sizeof(e.principal), "usr_%d", i);
        snprintf(e.kind, sizeof(e.kind), "user");
        snprintf(e.action, sizeof(e.action), "%s", i % 2 ? "key.create" : "org.create");
        if (i != 2) /* entry 2 has no target */
                snprintf(e.target, sizeof(e.target), "key_%d", i);
        snprintf(e.org, sizeof(e.org), "%s", i < 4 ? "org_a" : "org_b");
        snprintf(e.project, sizeof(e.project), "%s", i == 3 ? "prj_x" : "");
        snprintf(e.result, sizeof(e.result), "%s", i == 5 ? "denied" : "ok");
        snprintf(e.ip, sizeof(e.ip), "192.0.2.%d", i);
        return e;
}

/* A fresh store with NENTRIES entries: seq 1 alone, 2+3 in one transaction, then one each. */
static int fixture_open(struct fixture *f)
{
        memset(f, 0, sizeof(*f));
        snprintf(f->path, sizeof(f->path), "%s/audit%d.db", tmpdir, ++dbcount);
        int r = store_open(f->path, true, &f->st);
        if (r < 0)
                return r;
        int i = 1;
        while (i <= NENTRIES) {
                if ((r = store_begin(f->st)) < 0)
                        return r;
                int batch = i == 2 ? 2 : 1;
                for (int k = 0; k < batch; k++, i++) {
                        struct audit_entry e = entry(i);
                        if ((r = audit_append(f->st, key, &e)) < 0) {
                                store_rollback(f->st);
                                return r;
                        }
                        if (e.seq != i)
                                return -EPROTO;
                        memcpy(f->ids[i], e.id, ID_MAX);
                }
                if ((r = store_commit(f->st)) < 0)
                        return r;
        }
        return 0;
}

/* Runs SQL on the database file through a separate connection (the attacker's). */
static int raw_sql(const struct fixture *f, const char *sql)
{
        sqlite3 *db = NULL;
        int rc = sqlite3_open(f->path, &db);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                diag("sqlite: %s: %s", sql, sqlite3_errmsg(db));
        sqlite3_close(db);
        return rc == SQLITE_OK ? 0 : -EIO;
}

static void fixture_close(struct fixture *f)
{
        store_close(f->st);
        f->st = NULL;
}

static void test_append_verify(void)
{
        struct fixture f;
        char bad[ID_MAX] = "x";
        char path[300];
        snprintf(path, sizeof(path), "%s/empty.db", tmpdir);
        struct store *st = NULL;
        if (is_int(store_open(path, true, &st), 0, "open an empty store")) {
                is_int(audit_verify(st, key, bad), 0, "empty log verifies with 0 entries");
                is_str(bad, "", "  bad id cleared");
                store_close(st);
        }

        if (!is_int(fixture_open(&f), 0, "append %d entries", NENTRIES))
                return;
        is_int(audit_verify(f.st, key, bad), NENTRIES, "verify counts %d entries", NENTRIES);
        is_str(bad, "", "  no bad id");
        ok(id_valid("aud_", f.ids[1], strlen(f.ids[1])), "entry id has the aud_ shape (%s)",
           f.ids[1]);
        ok(strcmp(f.ids[1], f.ids[2]) != 0, "entry ids differ");

        /* An entry appended in a transaction that rolls back leaves no trace, head included. */
        is_int(store_begin(f.st), 0, "begin");
        struct audit_entry e = entry(7);
        is_int(audit_append(f.st, key, &e), 0, "append inside a transaction");
        is_int(e.seq, NENTRIES + 1, "  gets the next seq");
        store_rollback(f.st);
        is_int(audit_verify(f.st, key, bad), NENTRIES, "after rollback the chain still verifies");
        is_int(store_begin(f.st), 0, "begin");
        e = entry(7);
        is_int(audit_append(f.st, key, &e), 0, "append again");
        is_int(e.seq, NENTRIES + 1, "  reuses the rolled-back seq");
        is_int(store_commit(f.st), 0, "commit");
        is_int(audit_verify(f.st, key, bad), NENTRIES + 1, "chain verifies with %d entries",
               NENTRIES + 1);

        /* Reopening the file: the chain and its head are persistent. */
        fixture_close(&f);
        if (is_int(store_open(f.path, false, &f.st), 0, "reopen")) {
                is_int(audit_verify(f.st, key, bad), NENTRIES + 1, "chain verifies after reopen");
                fixture_close(&f);
        }
}

static void test_list(void)
{
        struct fixture f;
        if (!is_int(fixture_open(&f), 0, "fixture for listing"))
                return;
        struct audit_filter flt = {.org_id = "org_a"};
        struct page pg = {.after = 0, .limit = 2};
        struct list l = {0};
        is_int(audit_list(f.st, &flt, &pg, &l), 0, "list org_a, 2 per page");
        is_int(l.n, 2, "  2 items");
        struct audit_entry *it = l.items;
        if (l.n == 2) {
                is_str(it[0].id, f.ids[3], "  newest first: seq 3");
                is_str(it[1].id, f.ids[2], "  then seq 2");
                is_str(it[0].project, "prj_x", "  project read back");
                is_str(it[1].target, "", "  empty target read back as empty");
                is_str(it[0].ip, "192.0.2.3", "  ip read back");
                is_int(it[0].at, 1700000003, "  at read back");
        }
        is_int(l.next, 2, "  next is seq 2");
        pg.after = l.next;
        free(l.items);
        is_int(audit_list(f.st, &flt, &pg, &l), 0, "second page");
        is_int(l.n, 1, "  1 item");
        if (l.n == 1)
                is_str(((struct audit_entry *)l.items)[0].id, f.ids[1], "  seq 1");
        is_int(l.next, 0, "  last page");
        free(l.items);

        flt = (struct audit_filter){.org_id = "org_b", .action = "key.create"};
        pg = (struct page){.after = 0, .limit = 50};
        is_int(audit_list(f.st, &flt, &pg, &l), 0, "filter by action in org_b");
        is_int(l.n, 1, "  one key.create in org_b (seq 5)");
        if (l.n == 1)
                is_str(((struct audit_entry *)l.items)[0].result, "denied", "  result denied");
        free(l.items);

        flt = (struct audit_filter){.org_id = "org_a", .since = 1700000002, .principal = "usr_3"};
        is_int(audit_list(f.st, &flt, &pg, &l), 0, "filter by since and principal");
        is_int(l.n, 1, "  one entry");
        free(l.items);
        flt = (struct audit_filter){.org_id = "org_c"};
        is_int(audit_list(f.st, &flt, &pg, &l), 0, "another org");
        is_int(l.n, 0, "  sees nothing");
        free(l.items);
        fixture_close(&f);
}

/* Opens a fixture, runs the attacker's SQL, and expects verify to name `want_bad`. */
static void tamper(const char *what, const char *sql, int want_bad_seq,
                   const char *want_bad_literal)
{
        struct fixture f;
        if (!is_int(fixture_open(&f), 0, "fixture for: %s", what))
                return;
        if (!is_int(raw_sql(&f, sql), 0, "tamper: %s", what)) {
                fixture_close(&f);
                return;
        }
        char bad[ID_MAX] = "";
        is_int(audit_verify(f.st, key, bad), -EBADMSG, "%s is detected", what);
        is_str(bad, want_bad_literal ? want_bad_literal : f.ids[want_bad_seq],
               "  bad entry named for: %s", what);
        fixture_close(&f);
}

static void test_tamper(void)
{
        tamper("action of a middle row", "UPDATE audit SET action='key.revoke' WHERE seq=3", 3,
               NULL);
        tamper("principal", "UPDATE audit SET principal='usr_evil' WHERE seq=3", 3, NULL);
        tamper("kind", "UPDATE audit SET kind='agent' WHERE seq=3", 3, NULL);
        tamper("target", "UPDATE audit SET target='key_other' WHERE seq=3", 3, NULL);
        tamper("an empty target filled", "UPDATE audit SET target='key_x' WHERE seq=2", 2, NULL);
        tamper("org", "UPDATE audit SET org_id='org_b' WHERE seq=3", 3, NULL);
        tamper("project", "UPDATE audit SET project_id=NULL WHERE seq=3", 3, NULL);
        tamper("result", "UPDATE audit SET result='ok' WHERE seq=5", 5, NULL);
        tamper("ip", "UPDATE audit SET ip='198.51.100.1' WHERE seq=3", 3, NULL);
        tamper("time", "UPDATE audit SET at=at-3600 WHERE seq=3", 3, NULL);
        tamper("stored hash", "UPDATE audit SET hash=zeroblob(32) WHERE seq=4", 4, NULL);
        tamper("truncated hash", "UPDATE audit SET hash=substr(hash,1,31) WHERE seq=4", 4, NULL);
        tamper("the first row's action", "UPDATE audit SET action='x' WHERE seq=1", 1, NULL);
        tamper("the last row's action", "UPDATE audit SET action='x' WHERE seq=6", NENTRIES, NULL);
        tamper("a middle row deleted", "DELETE FROM audit WHERE seq=3", 4, NULL);
        tamper("the first row deleted", "DELETE FROM audit WHERE seq=1", 2, NULL);
        tamper("the last row deleted", "DELETE FROM audit WHERE seq=6", 0, "head");
        tamper("the last two rows deleted", "DELETE FROM audit WHERE seq>=5", 0, "head");
        tamper("every row deleted", "DELETE FROM audit WHERE seq>=1", 0, "head");
        tamper("the head removed", "DELETE FROM meta WHERE k='audit_head'", 0, "head");
        tamper("the head garbled", "UPDATE meta SET v='garbage' WHERE k='audit_head'", 0, "head");
        tamper("the head's hash changed",
               "UPDATE meta SET v=substr(v,1,length(v)-1)||"
               "CASE WHEN substr(v,-1)='0' THEN '1' ELSE '0' END WHERE k='audit_head'",
               0, "head");
        /* Rows 3 and 4 exchange places: the row now at seq 3 (entry 4) is the first bad one. */
        tamper("two rows swapped",
               "UPDATE audit SET seq=-seq WHERE seq IN (3, 4);"
               "UPDATE audit SET seq=CASE seq WHEN -3 THEN 4 ELSE 3 END WHERE seq<0",
               4, NULL);
        /* A forged row appended after the head. */
        tamper("a row appended",
               "INSERT INTO audit(seq,id,at,principal,kind,action,target,org_id,project_id,"
               "result,ip,hash) SELECT seq+1,'aud_forged',at,principal,kind,action,target,org_id,"
               "project_id,result,ip,hash FROM audit WHERE seq=6",
               0, "aud_forged");

        /* The wrong key: every entry fails, the first is named. */
        struct fixture f;
        if (is_int(fixture_open(&f), 0, "fixture for the wrong key")) {
                uint8_t other[SECRET_KEY_LEN];
                memcpy(other, key, sizeof(other));
                other[0] ^= 0x80;
                char bad[ID_MAX] = "";
                is_int(audit_verify(f.st, other, bad), -EBADMSG, "the wrong key is detected");
                is_str(bad, f.ids[1], "  at the first entry");
                is_int(audit_verify(f.st, key, bad), NENTRIES, "the right key still verifies");
                fixture_close(&f);
        }
}

static void test_chain_hash(void)
{
        uint8_t prev[AUDIT_HASH_LEN] = {0}, h1[AUDIT_HASH_LEN], h2[AUDIT_HASH_LEN];
        struct audit_entry base = entry(3);
        snprintf(base.id, sizeof(base.id), "aud_00000000000000000001");
        base.seq = 3;
        audit_chain_hash(key, prev, &base, h1);
        audit_chain_hash(key, prev, &base, h2);
        ok(memcmp(h1, h2, AUDIT_HASH_LEN) == 0, "chain hash is deterministic");

        int insensitive = 0;
        for (int field = 0; field < 13; field++) {
                struct audit_entry e = base;
                uint8_t p[AUDIT_HASH_LEN] = {0}, k[SECRET_KEY_LEN];
                memcpy(k, key, sizeof(k));
                const char *name = "";
                switch (field) {
                case 0:
                        e.seq++, name = "seq";
                        break;
                case 1:
                        e.at++, name = "at";
                        break;
                case 2:
                        e.id[5] ^= 1, name = "id";
                        break;
                case 3:
                        e.principal[0] ^= 1, name = "principal";
                        break;
                case 4:
                        e.kind[0] ^= 1, name = "kind";
                        break;
                case 5:
                        e.action[0] ^= 1, name = "action";
                        break;
                case 6:
                        e.target[0] ^= 1, name = "target";
                        break;
                case 7:
                        e.org[0] ^= 1, name = "org";
                        break;
                case 8:
                        e.project[0] = 'p', e.project[1] = '\0', name = "project";
                        break;
                case 9:
                        e.result[0] ^= 1, name = "result";
                        break;
                case 10:
                        e.ip[0] ^= 1, name = "ip";
                        break;
                case 11:
                        p[31] = 1, name = "prev";
                        break;
                case 12:
                        k[31] ^= 1, name = "key";
                        break;
                }
                audit_chain_hash(k, p, &e, h2);
                if (memcmp(h1, h2, AUDIT_HASH_LEN) == 0) {
                        diag("hash does not depend on %s", name);
                        insensitive++;
                }
        }
        is_int(insensitive, 0, "chain hash depends on seq, at, every text field, prev and key");

        /* Field boundaries are unambiguous: moving a character from one field to the next, or
         * between seq and at, changes the hash. */
        struct audit_entry a = base, b = base;
        snprintf(a.principal, sizeof(a.principal), "usr_ab");
        snprintf(a.kind, sizeof(a.kind), "c");
        snprintf(b.principal, sizeof(b.principal), "usr_a");
        snprintf(b.kind, sizeof(b.kind), "bc");
        audit_chain_hash(key, prev, &a, h1);
        audit_chain_hash(key, prev, &b, h2);
        ok(memcmp(h1, h2, AUDIT_HASH_LEN) != 0, "principal/kind boundary is part of the hash");
        a = base, b = base;
        a.seq = 1, a.at = 23;
        b.seq = 12, b.at = 3;
        audit_chain_hash(key, prev, &a, h1);
        audit_chain_hash(key, prev, &b, h2);
        ok(memcmp(h1, h2, AUDIT_HASH_LEN) != 0, "seq/at boundary is part of the hash");
        a = base, b = base;
        a.target[0] = '\0';
        snprintf(a.org, sizeof(a.org), "x");
        snprintf(b.target, sizeof(b.target), "x");
        b.org[0] = '\0';
        audit_chain_hash(key, prev, &a, h1);
        audit_chain_hash(key, prev, &b, h2);
        ok(memcmp(h1, h2, AUDIT_HASH_LEN) != 0, "an empty field is not skipped");
}

int main(void)
{
        if (sodium_init() < 0)
                return skip_all("libsodium failed to initialise");
        if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "audit") < 0)
                return skip_all("cannot create a temporary directory");
        for (size_t i = 0; i < sizeof(key); i++)
                key[i] = (uint8_t)(i * 7 + 1);
        test_append_verify();
        test_list();
        test_tamper();
        test_chain_hash();
        tu_rmrf(tmpdir);
        return done_testing();
}
