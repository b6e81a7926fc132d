/* Per-rig cgroups: what v1 and v2 share. Every path is "<hierarchy mount>/rigs/<id>[/<sub>]" and
 * is built only after the id and sub names were validated, so a crafted id can never name a
 * directory outside rigs/. */
#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"
#include "runtime/rtutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

/* How long a kill may take before it gives up with -ETIMEDOUT. */
#define KILL_TIMEOUT_NS   (5 * 1000000000LL)
#define FREEZE_TIMEOUT_NS (5 * 1000000000LL)
#define KILL_ROUND_NS     (100 * 1000000LL)
/* Nested cgroups below a rig (an exec's child, or what a rig with a delegated cgroup makes). */
#define MAX_DEPTH 16

static const struct cgroup_ops *ops_of(const struct cgroups *cg)
{
        return cg->version == CGROUP_V2 ? &cgroup_v2_ops : &cgroup_v1_ops;
}

size_t cg_roots(const struct cgroups *cg, const char *roots[4])
{
        if (cg->version == CGROUP_V2) {
                roots[0] = cg->v2_root;
                return 1;
        }
        const char *all[] = {cg->memory, cg->pids, cg->cpu, cg->freezer};
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
                bool dup = !all[i][0];
                for (size_t j = 0; j < n && !dup; j++)
                        dup = streq(roots[j], all[i]);
                if (!dup)
                        roots[n++] = all[i];
        }
        return n;
}

int cg_file(char *out, size_t outlen, const char *root, const char *rel, const char *file)
{
        if (file)
                return rt_path(out, outlen, "%s/%s/%s", root, rel, file);
        return rt_path(out, outlen, "%s/%s", root, rel);
}

int cg_write_int(const char *root, const char *rel, const char *file, int64_t v)
{
        char path[PATH_MAX], val[32];
        int r = cg_file(path, sizeof(path), root, rel, file);
        if (r < 0)
                return r;
        snprintf(val, sizeof(val), "%" PRId64, v);
        return rt_write_file(path, val);
}

int cg_read_int(const char *root, const char *rel, const char *file, int64_t *v)
{
        char path[PATH_MAX], buf[64];
        int r = cg_file(path, sizeof(path), root, rel, file);
        if (r < 0)
                return r;
        ssize_t n = rt_read_file(path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        if (strncmp(buf, "max", 3) == 0) {
                *v = INT64_MAX;
                return 0;
        }
        char *end;
        errno = 0;
        long long x = strtoll(buf, &end, 10);
        if (errno || end == buf)
                return -EIO;
        *v = x;
        return 0;
}

/* "rigs/<id>" or "rigs/<id>/<sub>", after validating both names. */
static int rel_path(char *out, size_t outlen, const char *id, const char *sub)
{
        if (!rt_id_valid(id))
                return -EINVAL;
        if (!sub)
                return rt_path(out, outlen, CG_PARENT "/%s", id);
        /* Never "." / ".." (no dots allowed) nor a control file name like "cgroup.procs". */
        if (!rt_name_valid(sub, 64, true, "_-"))
                return -EINVAL;
        return rt_path(out, outlen, CG_PARENT "/%s/%s", id, sub);
}

int cgroups_detect(struct cgroups *out)
{
        memset(out, 0, sizeof(*out));
        int r = cgroup_v2_detect(out);
        if (r == 0) {
                out->version = CGROUP_V2;
                return cgroup_v2_ops.setup(out);
        }
        /* Keep what v2 lacked as part of the answer if v1 is missing too. */
        char v2_missing[sizeof(out->missing)];
        snprintf(v2_missing, sizeof(v2_missing), "%s", out->missing);
        memset(out, 0, sizeof(*out));
        r = cgroup_v1_detect(out);
        if (r < 0) {
                char v1_missing[sizeof(out->missing)];
                snprintf(v1_missing, sizeof(v1_missing), "%s", out->missing);
                snprintf(out->missing, sizeof(out->missing), "%s; %s", v2_missing, v1_missing);
                return r;
        }
        out->version = CGROUP_V1;
        return cgroup_v1_ops.setup(out);
}

/* Removes rel and every cgroup below it in one hierarchy; a missing one is fine. Cgroups can only
 * be removed empty of processes; right after a kill the kernel may still be releasing the last
 * ones, so EBUSY is retried for a moment. */
static int remove_tree(char *path, size_t cap, int depth)
{
        if (depth > MAX_DEPTH)
                return -ELOOP;
        DIR *d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        int ret = 0;
        size_t len = strlen(path);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (len + 1 + strlen(de->d_name) + 1 > cap) {
                        ret = -ENAMETOOLONG;
                        continue;
                }
                path[len] = '/';
                strcpy(path + len + 1, de->d_name);
                int r = remove_tree(path, cap, depth + 1);
                path[len] = '\0';
                if (r < 0 && ret == 0)
                        ret = r;
        }
        closedir(d);
        int64_t deadline = rt_now_ns() + 1000000000LL;
        int64_t pause = 100000;
        while (rmdir(path) < 0) {
                if (errno == ENOENT)
                        break;
                if (errno != EBUSY || rt_now_ns() > deadline)
                        return ret ? ret : -errno;
                rt_sleep_ns(pause);
                pause = pause < 20000000 ? pause * 2 : pause;
        }
        return ret;
}

static int remove_everywhere(const struct cgroups *cg, const char *rel)
{
        const char *roots[4];
        size_t n = cg_roots(cg, roots);
        int ret = 0;
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX];
                int r = cg_file(path, sizeof(path), roots[i], rel, NULL);
                if (r >= 0)
                        r = remove_tree(path, sizeof(path), 0);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

static int mkdir_everywhere(const struct cgroups *cg, const char *rel)
{
        const char *roots[4];
        size_t n = cg_roots(cg, roots);
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX];
                int r = cg_file(path, sizeof(path), roots[i], rel, NULL);
                if (r < 0)
                        return r;
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

static bool exists_anywhere(const struct cgroups *cg, const char *rel)
{
        const char *roots[4];
        size_t n = cg_roots(cg, roots);
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX];
                if (cg_file(path, sizeof(path), roots[i], rel, NULL) < 0)
                        continue;
                if (access(path, F_OK) == 0)
                        return true;
        }
        return false;
}

static bool valid_limits(const struct rig_limits *lim)
{
        return lim && lim->cpus > 0 && lim->cpus <= 4096 && lim->memory_mb > 0 &&
               lim->memory_mb <= (INT64_MAX >> 21) && lim->max_processes > 0 &&
               lim->max_processes <= INT32_MAX;
}

int cgroup_create(const struct cgroups *cg, const char *id, const struct rig_limits *lim)
{
        char rel[128];
        int r = rel_path(rel, sizeof(rel), id, NULL);
        if (r < 0)
                return r;
        if (!valid_limits(lim))
                return -EINVAL;
        bool existed = exists_anywhere(cg, rel);
        r = mkdir_everywhere(cg, rel);
        if (r >= 0)
                r = ops_of(cg)->set_limits(cg, rel, lim);
        /* Never leave a rig cgroup without its limits behind. */
        if (r < 0 && !existed)
                remove_everywhere(cg, rel);
        return r;
}

int cgroup_create_sub(const struct cgroups *cg, const char *id, const char *sub)
{
        char rel[256];
        int r = rel_path(rel, sizeof(rel), id, sub);
        if (r < 0)
                return r;
        return mkdir_everywhere(cg, rel);
}

int cgroup_attach(const struct cgroups *cg, const char *id, const char *sub, pid_t pid)
{
        char rel[256];
        int r = rel_path(rel, sizeof(rel), id, sub);
        if (r < 0)
                return r;
        if (pid < 0)
                return -EINVAL;
        const char *roots[4];
        size_t n = cg_roots(cg, roots);
        for (size_t i = 0; i < n; i++) {
                r = cg_write_int(roots[i], rel, "cgroup.procs", pid);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Calls fn for every process in path and the cgroups below it; returns how many there were. */
static int walk_procs(char *path, size_t cap, int depth, void (*fn)(pid_t))
{
        if (depth > MAX_DEPTH)
                return -ELOOP;
        size_t len = strlen(path);
        if (len + sizeof("/cgroup.procs") > cap)
                return -ENAMETOOLONG;
        strcpy(path + len, "/cgroup.procs");
        FILE *f = fopen(path, "re");
        path[len] = '\0';
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        int count = 0;
        long pid;
        while (fscanf(f, "%ld", &pid) == 1) {
                if (pid <= 0)
                        continue;
                count++;
                if (fn)
                        fn((pid_t)pid);
        }
        fclose(f);

        DIR *d = opendir(path);
        if (!d)
                return errno == ENOENT ? count : -errno;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (len + 1 + strlen(de->d_name) + 1 > cap)
                        continue;
                path[len] = '/';
                strcpy(path + len + 1, de->d_name);
                int r = walk_procs(path, cap, depth + 1, fn);
                path[len] = '\0';
                if (r > 0)
                        count += r;
        }
        closedir(d);
        return count;
}

/* Every process of rel in any hierarchy (a process may have been moved into some only). */
static int walk_all(const struct cgroups *cg, const char *rel, void (*fn)(pid_t))
{
        const char *roots[4];
        size_t n = cg_roots(cg, roots);
        int count = 0;
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX];
                int r = cg_file(path, sizeof(path), roots[i], rel, NULL);
                if (r >= 0)
                        r = walk_procs(path, sizeof(path), 0, fn);
                if (r < 0)
                        return r;
                count += r;
        }
        return count;
}

static void sigkill(pid_t pid)
{
        kill(pid, SIGKILL);
}

static int kill_rel(const struct cgroups *cg, const char *rel)
{
        const struct cgroup_ops *ops = ops_of(cg);
        int64_t deadline = rt_now_ns() + KILL_TIMEOUT_NS;
        int64_t last_round = 0;
        int64_t pause = 50000;
        for (;;) {
                int n = walk_all(cg, rel, NULL);
                if (n <= 0)
                        return n;
                int64_t now = rt_now_ns();
                if (now > deadline)
                        return -ETIMEDOUT;
                /* A process with SIGKILL pending can no longer fork, so one round normally
                 * suffices and the rest is waiting for the exits; repeat it now and then in case
                 * something was moved in meanwhile. */
                if (last_round == 0 || now - last_round > KILL_ROUND_NS) {
                        last_round = now;
                        if (ops->kill(cg, rel) == -EOPNOTSUPP) {
                                /* Frozen, nothing can fork or exit (and free its pid for reuse)
                                 * between reading the list and signalling it; the kills land at
                                 * the thaw. */
                                int fr = ops->freeze(cg, rel, true, KILL_ROUND_NS);
                                walk_all(cg, rel, sigkill);
                                if (fr >= 0)
                                        ops->freeze(cg, rel, false, 0);
                        }
                }
                rt_sleep_ns(pause);
                pause = pause < 5000000 ? pause * 2 : pause;
        }
}

int cgroup_kill(const struct cgroups *cg, const char *id, const char *sub)
{
        char rel[256];
        int r = rel_path(rel, sizeof(rel), id, sub);
        if (r < 0)
                return r;
        return kill_rel(cg, rel);
}

int cgroup_freeze(const struct cgroups *cg, const char *id)
{
        char rel[128];
        int r = rel_path(rel, sizeof(rel), id, NULL);
        if (r < 0)
                return r;
        return ops_of(cg)->freeze(cg, rel, true, FREEZE_TIMEOUT_NS);
}

int cgroup_thaw(const struct cgroups *cg, const char *id)
{
        char rel[128];
        int r = rel_path(rel, sizeof(rel), id, NULL);
        if (r < 0)
                return r;
        return ops_of(cg)->freeze(cg, rel, false, 0);
}

int cgroup_destroy(const struct cgroups *cg, const char *id)
{
        char rel[128];
        int r = rel_path(rel, sizeof(rel), id, NULL);
        if (r < 0)
                return r;
        int k = kill_rel(cg, rel);
        r = remove_everywhere(cg, rel);
        return k < 0 ? k : r;
}

int cgroup_destroy_sub(const struct cgroups *cg, const char *id, const char *sub)
{
        char rel[256];
        int r = rel_path(rel, sizeof(rel), id, sub);
        if (r < 0)
                return r;
        /* Background processes an exec left behind keep running: never kill here. */
        r = walk_all(cg, rel, NULL);
        if (r < 0)
                return r;
        if (r > 0)
                return -EBUSY;
        return remove_everywhere(cg, rel);
}

int cgroup_stats(const struct cgroups *cg, const char *id, struct cgroup_stats *out)
{
        char rel[128];
        int r = rel_path(rel, sizeof(rel), id, NULL);
        if (r < 0)
                return r;
        memset(out, 0, sizeof(*out));
        return ops_of(cg)->stats(cg, rel, out);
}

static void free_ids(char **ids, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
}

int cgroup_list(const struct cgroups *cg, char ***ids, size_t *n)
{
        const char *roots[4];
        size_t nroots = cg_roots(cg, roots);
        char **list = NULL;
        size_t len = 0, cap = 0;
        *ids = NULL;
        *n = 0;
        for (size_t i = 0; i < nroots; i++) {
                char path[PATH_MAX];
                int r = rt_path(path, sizeof(path), "%s/" CG_PARENT, roots[i]);
                if (r < 0) {
                        free_ids(list, len);
                        return r;
                }
                DIR *d = opendir(path);
                if (!d) {
                        if (errno == ENOENT)
                                continue;
                        r = -errno;
                        free_ids(list, len);
                        return r;
                }
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_type != DT_DIR || !rt_id_valid(de->d_name))
                                continue;
                        bool dup = false;
                        for (size_t j = 0; j < len && !dup; j++)
                                dup = streq(list[j], de->d_name);
                        if (dup)
                                continue;
                        if (len == cap) {
                                cap = cap ? cap * 2 : 16;
                                list = xrealloc(list, cap * sizeof(*list));
                        }
                        list[len++] = xstrdup(de->d_name);
                }
                closedir(d);
        }
        *ids = list;
        *n = len;
        return 0;
}
