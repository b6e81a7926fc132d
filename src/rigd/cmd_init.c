/* `rigd init`: creates the data dir, the first admin, org and project "default", and the admin's
 * API key (printed once, as the last line of standard output). */
#include "rigd/commands.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "core/audit.h"
#include "core/password.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>

static int mkdir_p(const char *path, mode_t mode)
{
        char tmp[PATH_MAX];
        if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        for (char *p = tmp + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Reads the password file; strips exactly one trailing newline. */
static int read_password(const char *path, char *out, size_t outlen, size_t *len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, out, outlen - 1);
        if (n < 0)
                return -errno;
        if ((size_t)n == outlen - 1)
                return -E2BIG;
        if (n > 0 && out[n - 1] == '\n')
                n--;
        out[n] = '\0';
        if (memchr(out, '\0', (size_t)n))
                return -EINVAL;
        *len = (size_t)n;
        return 0;
}

static int write_secret(const char *path)
{
        uint8_t master[SECRET_KEY_LEN];
        randombytes_buf(master, sizeof(master));
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, master, sizeof(master));
        sodium_memzero(master, sizeof(master));
        if (n != (ssize_t)sizeof(master) || fsync(fd) < 0)
                return -EIO;
        return 0;
}

struct init_ctx {
        const char *email;
        const char *pw_hash;
        const struct secrets *sec;
        char token[API_KEY_LEN + 1];
        char user_id[ID_MAX];
};

static int init_audit(struct store *st, const struct init_ctx *ic, const char *action,
                      const char *target, const char *org)
{
        struct audit_entry e = {.at = now_ms() / 1000};
        snprintf(e.principal, sizeof(e.principal), "%s", ic->user_id);
        snprintf(e.kind, sizeof(e.kind), "user");
        snprintf(e.action, sizeof(e.action), "%s", action);
        snprintf(e.target, sizeof(e.target), "%s", target);
        snprintf(e.org, sizeof(e.org), "%s", org);
        snprintf(e.result, sizeof(e.result), "ok");
        snprintf(e.ip, sizeof(e.ip), "host");
        return audit_append(st, ic->sec->audit_key, &e);
}

static int init_objects(struct store *st, struct init_ctx *ic)
{
        int64_t now = now_ms() / 1000;
        struct user u = {.created_at = now};
        id_new("usr_", u.id);
        memcpy(ic->user_id, u.id, sizeof(u.id));
        snprintf(u.email, sizeof(u.email), "%s", ic->email);
        snprintf(u.name, sizeof(u.name), "admin");
        snprintf(u.pw_hash, sizeof(u.pw_hash), "%s", ic->pw_hash);
        struct org org;
        struct project prj;
        int r = store_user_insert(st, &u);
        if (r == 0)
                r = store_org_create(st, "default", u.id, now, &org, &prj);
        if (r < 0)
                return r;
        struct apikey k = {.principal_kind = PK_USER, .scopes = SCOPES_ALL, .created_at = now};
        id_new("key_", k.id);
        snprintf(k.name, sizeof(k.name), "admin (rigd init)");
        snprintf(k.principal_id, sizeof(k.principal_id), "%s", u.id);
        snprintf(k.org_id, sizeof(k.org_id), "%s", org.id);
        token_generate(TOKEN_API_KEY, ic->token);
        snprintf(k.prefix, sizeof(k.prefix), "%.7s", ic->token);
        uint8_t hash[TOKEN_HASH_LEN];
        token_hash(ic->sec->pepper, ic->token, API_KEY_LEN, hash);
        if ((r = store_key_insert(st, &k, hash)) < 0 ||
            (r = init_audit(st, ic, "system.init", u.id, org.id)) < 0 ||
            (r = init_audit(st, ic, "key.create", k.id, org.id)) < 0)
                return r;
        return store_meta_set(st, "initialized_at", "1");
}

static void remove_files(const char *db, const char *key)
{
        char p[PATH_MAX + 32];
        unlink(db);
        snprintf(p, sizeof(p), "%s-wal", db);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", db);
        unlink(p);
        unlink(key);
}

int cmd_init(const char *dir, const char *email, const char *password_file)
{
        char db[PATH_MAX + 16], key[PATH_MAX + 16];
        if (datadir_paths(dir, db, sizeof(db), key, sizeof(key)) < 0) {
                fprintf(stderr, "rigd init: data dir path is too long\n");
                return 1;
        }
        if (access(key, F_OK) == 0 || access(db, F_OK) == 0) {
                fprintf(
                    stderr,
                    "rigd init: %s is already initialised (found %s); nothing was changed.\n"
                    "Use the admin key printed by the first init, or pick another --data-dir.\n",
                    dir, access(key, F_OK) == 0 ? key : db);
                return 1;
        }
        char pw[PASSWORD_MAX_LEN + 2];
        size_t pwlen = 0;
        char pw_hash[PASSWORD_HASH_MAX] = "";
        int r;
        if (password_file) {
                if ((r = read_password(password_file, pw, sizeof(pw), &pwlen)) < 0) {
                        fprintf(stderr, "rigd init: cannot read password file %s: %s\n",
                                password_file, strerror(-r));
                        return 1;
                }
                if (pwlen && password_hash(pw, pwlen, pw_hash) < 0) {
                        fprintf(stderr, "rigd init: cannot hash the password\n");
                        return 1;
                }
                sodium_memzero(pw, sizeof(pw));
        }
        if ((r = mkdir_p(dir, 0700)) < 0) {
                fprintf(stderr, "rigd init: cannot create %s: %s\n", dir, strerror(-r));
                return 1;
        }
        if ((r = write_secret(key)) < 0) {
                fprintf(stderr, "rigd init: cannot write %s: %s\n", key, strerror(-r));
                return 1;
        }
        struct secrets sec;
        if ((r = datadir_load_secrets(dir, &sec)) < 0) {
                fprintf(stderr, "rigd init: cannot read back %s: %s\n", key, strerror(-r));
                remove_files(db, key);
                return 1;
        }
        struct init_ctx ic = {.email = email, .pw_hash = pw_hash, .sec = &sec};
        struct store *st = NULL;
        r = store_open(db, true, &st);
        if (r == 0 && (r = store_begin(st)) == 0) {
                if ((r = init_objects(st, &ic)) == 0)
                        r = store_commit(st);
                else
                        store_rollback(st);
        }
        store_close(st);
        if (r < 0) {
                fprintf(stderr, "rigd init: cannot create the store %s: %s\n", db, strerror(-r));
                remove_files(db, key);
                return 1;
        }
        chmod(db, 0600);
        printf("Initialised Rigs data dir %s\n", dir);
        printf("Admin user: %s%s\n", email, pwlen ? "" : " (no password: log in with the key)");
        printf("Org: default, project: default\n");
        printf("Admin API key (shown once, store it safely):\n%s\n", ic.token);
        fflush(stdout);
        sodium_memzero(ic.token, sizeof(ic.token));
        return 0;
}

int cmd_audit_verify(const char *dir)
{
        char db[PATH_MAX + 16], key[PATH_MAX + 16];
        struct secrets sec;
        int r = datadir_paths(dir, db, sizeof(db), key, sizeof(key));
        if (r == 0)
                r = datadir_load_secrets(dir, &sec);
        if (r < 0) {
                fprintf(stderr, "rigd audit verify: %s is not an initialised data dir: %s\n", dir,
                        strerror(-r));
                return 2;
        }
        _cleanup_store_ struct store *st = NULL;
        if ((r = store_open(db, false, &st)) < 0) {
                fprintf(stderr, "rigd audit verify: cannot open %s: %s\n", db, strerror(-r));
                return 2;
        }
        char bad[ID_MAX];
        r = audit_verify(st, sec.audit_key, bad);
        if (r == -EBADMSG) {
                printf(
                    "audit chain BROKEN at entry %s: the log was modified after it was written\n",
                    bad);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "rigd audit verify: cannot read the log: %s\n", strerror(-r));
                return 2;
        }
        printf("audit chain ok: %d entries\n", r);
        return 0;
}
