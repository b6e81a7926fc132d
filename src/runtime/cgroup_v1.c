/* cgroup v1: separate memory, pids, cpu and freezer hierarchies, found in /proc/self/mountinfo
 * (never assumed to be at /sys/fs/cgroup/<name>: distributions mount "cpu,cpuacct" together,
 * containers mount them elsewhere). */
#include "runtime/cgroup_internal.h"
#include "runtime/rtutil.h"

#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

/* Undoes the octal escapes (\040 for a space, ...) of /proc/self/mountinfo in place. */
static void unescape_mount(char *s)
{
        char *w = s;
        for (const char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 4;
                } else {
                        *w++ = *r++;
                }
        }
        *w = '\0';
}

/* One mountinfo line: "id parent maj:min root mountpoint opts [optional...] - fstype src super". */
static void parse_line(char *line, struct cgroups *out)
{
        char *sep = strstr(line, " - ");
        if (!sep)
                return;
        *sep = '\0';
        char *save = NULL;
        const char *fstype = strtok_r(sep + 3, " \n", &save);
        strtok_r(NULL, " \n", &save); /* source */
        char *super = strtok_r(NULL, " \n", &save);
        if (!fstype || !super || !streq(fstype, "cgroup"))
                return;

        char *mnt = NULL;
        save = NULL;
        char *tok = strtok_r(line, " ", &save);
        for (int i = 1; tok && i < 5; i++) {
                tok = strtok_r(NULL, " ", &save);
                if (i == 4)
                        mnt = tok;
        }
        if (!mnt)
                return;
        unescape_mount(mnt);
        if (strlen(mnt) >= sizeof(out->memory))
                return;

        struct {
                const char *name;
                char *dst;
        } want[] = {
            {"memory", out->memory},
            {"pids", out->pids},
            {"cpu", out->cpu},
            {"freezer", out->freezer},
        };
        save = NULL;
        for (char *opt = strtok_r(super, ",", &save); opt; opt = strtok_r(NULL, ",", &save))
                for (size_t i = 0; i < ARRAY_SIZE(want); i++)
                        if (streq(opt, want[i].name) && !want[i].dst[0])
                                strcpy(want[i].dst, mnt);
}

int cgroup_v1_detect(struct cgroups *out)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0)
                parse_line(line, out);
        free(line);
        fclose(f);

        const struct {
                const char *name;
                const char *mnt;
        } need[] = {
            {"memory", out->memory},
            {"pids", out->pids},
            {"cpu", out->cpu},
            {"freezer", out->freezer},
        };
        size_t len = 0;
        for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
                if (need[i].mnt[0])
                        continue;
                int r = snprintf(out->missing + len, sizeof(out->missing) - len, "%s%s",
                                 len ? " " : "no v1 hierarchy for: ", need[i].name);
                if (r > 0 && (size_t)r < sizeof(out->missing) - len)
                        len += (size_t)r;
        }
        return len ? -ENOTSUP : 0;
}

static int v1_setup(struct cgroups *cg)
{
        const char *roots[4];
        size_t n = cg_roots(cg, roots);
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX];
                int r = rt_path(path, sizeof(path), "%s/" CG_PARENT, roots[i]);
                if (r < 0)
                        return r;
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return -errno;
        }
        /* Charges of a rig must count against rigs/ too; newer kernels always do this and
         * refuse the write, so this is best effort. */
        (void)cg_write_int(cg->memory, CG_PARENT, "memory.use_hierarchy", 1);
        char path[PATH_MAX];
        int r = cg_file(path, sizeof(path), cg->memory, CG_PARENT, "memory.memsw.limit_in_bytes");
        if (r < 0)
                return r;
        cg->swap_accounting = access(path, F_OK) == 0;
        return 0;
}

static int v1_set_memory(const struct cgroups *cg, const char *rel, int64_t bytes)
{
        (void)cg_write_int(cg->memory, rel, "memory.use_hierarchy", 1);
        int r = cg_write_int(cg->memory, rel, "memory.limit_in_bytes", bytes);
        if (cg->swap_accounting) {
                /* memsw (memory + swap) must stay >= the memory limit at every step: when the
                 * limit grows, raise memsw first. Equal values leave no room for swap. */
                if (r == -EINVAL) {
                        r = cg_write_int(cg->memory, rel, "memory.memsw.limit_in_bytes", bytes);
                        if (r >= 0)
                                r = cg_write_int(cg->memory, rel, "memory.limit_in_bytes", bytes);
                } else if (r >= 0) {
                        r = cg_write_int(cg->memory, rel, "memory.memsw.limit_in_bytes", bytes);
                }
        }
        if (r < 0)
                return r;
        /* Without swap accounting nothing caps swap, so keep the rig's pages off it; with it,
         * swapping could not free anything under memsw == limit anyway. */
        r = cg_write_int(cg->memory, rel, "memory.swappiness", 0);
        if (r < 0 && r != -ENOENT && cg->swap_accounting)
                r = 0;
        return r == -ENOENT ? 0 : r;
}

static int v1_set_limits(const struct cgroups *cg, const char *rel, const struct rig_limits *lim)
{
        int r = v1_set_memory(cg, rel, lim->memory_mb * 1024 * 1024);
        if (r < 0)
                return r;
        int64_t quota = (int64_t)(lim->cpus * 100000.0 + 0.5);
        if (quota < 1000)
                quota = 1000; /* the kernel's minimum quota (1 ms) */
        r = cg_write_int(cg->cpu, rel, "cpu.cfs_period_us", 100000);
        if (r >= 0)
                r = cg_write_int(cg->cpu, rel, "cpu.cfs_quota_us", quota);
        if (r < 0)
                return r;
        return cg_write_int(cg->pids, rel, "pids.max", lim->max_processes);
}

static int v1_freeze(const struct cgroups *cg, const char *rel, bool frozen, int64_t timeout_ns)
{
        char path[PATH_MAX];
        int r = cg_file(path, sizeof(path), cg->freezer, rel, "freezer.state");
        if (r < 0)
                return r;
        if (!frozen)
                return rt_write_file(path, "THAWED");

        int64_t deadline = rt_now_ns() + timeout_ns;
        int64_t pause = 20000;
        for (;;) {
                /* Writing FROZEN again while FREEZING makes the kernel retry the tasks that
                 * could not be frozen yet. */
                r = rt_write_file(path, "FROZEN");
                if (r < 0)
                        return r;
                char state[32];
                ssize_t n = rt_read_file(path, state, sizeof(state));
                if (n < 0)
                        return (int)n;
                if (strncmp(state, "FROZEN", 6) == 0)
                        return 0;
                if (rt_now_ns() > deadline) {
                        (void)rt_write_file(path, "THAWED");
                        return -ETIMEDOUT;
                }
                rt_sleep_ns(pause);
                pause = pause < 5000000 ? pause * 2 : pause;
        }
}

static int v1_kill(const struct cgroups *cg, const char *rel)
{
        (void)cg, (void)rel;
        return -EOPNOTSUPP;
}

static int v1_stats(const struct cgroups *cg, const char *rel, struct cgroup_stats *out)
{
        int r = cg_read_int(cg->memory, rel, "memory.usage_in_bytes", &out->memory_bytes);
        if (r < 0)
                return r;
        return cg_read_int(cg->pids, rel, "pids.current", &out->pids);
}

const struct cgroup_ops cgroup_v1_ops = {
    .setup = v1_setup,
    .set_limits = v1_set_limits,
    .freeze = v1_freeze,
    .kill = v1_kill,
    .stats = v1_stats,
};
