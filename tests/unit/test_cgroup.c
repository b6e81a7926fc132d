/* Per-rig cgroups against the real kernel (needs root): limits read back, freeze stops a process
 * and thaw resumes it, a sub cgroup is killed alone, destroy leaves nothing in any hierarchy, the
 * memory limit OOM-kills the rig's process and not us, pids.max makes fork fail with EAGAIN, and
 * crafted ids never reach a path. On a v1 host that also mounts the unified hierarchy, the v2
 * freezer, cgroup.kill and removal paths run there too (that hierarchy has no controllers, so v2
 * limits are checked against a fake tree of control files). */
#include "runtime/cgroup.h"
#include "tap.h"
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) < 0)
                ;
}

static void make_id(char *id)
{
        static const char an[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        unsigned char rnd[20];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
                abort();
        close(fd);
        strcpy(id, "rig_");
        for (int i = 0; i < 20; i++)
                id[4 + i] = an[rnd[i] % 62];
        id[24] = '\0';
}

static bool read_str(const char *root, const char *id, const char *file, char *buf, size_t len)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/rigs/%s/%s", root, id, file);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        bool ok = fgets(buf, (int)len, f) != NULL;
        fclose(f);
        if (ok)
                buf[strcspn(buf, "\n")] = '\0';
        return ok;
}

static int64_t read_i64(const char *root, const char *id, const char *file)
{
        char buf[64];
        if (!read_str(root, id, file, buf, sizeof(buf)))
                return -1;
        return strtoll(buf, NULL, 10);
}

static bool dir_exists(const char *root, const char *id, const char *sub)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/rigs/%s%s%s", root, id, sub ? "/" : "", sub ? sub : "");
        struct stat st;
        return stat(path, &st) == 0;
}

/* True when rigs/<id> exists in none of the hierarchies cg uses. */
static bool gone_everywhere(const struct cgroups *cg, const char *id)
{
        if (cg->version == CGROUP_V2)
                return !dir_exists(cg->v2_root, id, NULL);
        return !dir_exists(cg->memory, id, NULL) && !dir_exists(cg->pids, id, NULL) &&
               !dir_exists(cg->cpu, id, NULL) && !dir_exists(cg->freezer, id, NULL);
}

static volatile uint64_t *counter;

/* A child that spins incrementing the shared counter. */
static pid_t spawn_spinner(void)
{
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                for (;;)
                        (*counter)++;
        }
        return pid;
}

static pid_t spawn_sleeper(void)
{
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                for (;;)
                        pause();
        }
        return pid;
}

/* Waits for pid and returns the signal that killed it (0 if it exited, -1 on timeout). */
static int reap_signal(pid_t pid, int timeout_ms)
{
        int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
        for (;;) {
                int st;
                pid_t r = waitpid(pid, &st, WNOHANG);
                if (r == pid)
                        return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
                if (r < 0 || now_ns() > end)
                        return -1;
                sleep_ms(2);
        }
}

/* True when the spinner moves within ms (polled: a loaded machine may not run it at once). */
static bool advances(int ms)
{
        uint64_t a = *counter;
        for (int i = 0; i < ms; i += 2) {
                sleep_ms(2);
                if (*counter != a)
                        return true;
        }
        return *counter != a;
}

/* True when the spinner does not move at all for ms. */
static bool stays_still(int ms)
{
        uint64_t a = *counter;
        sleep_ms(ms);
        return *counter == a;
}

static void test_invalid_ids(const struct cgroups *cg)
{
        static const struct rig_limits lim = {.cpus = 1, .memory_mb = 64, .max_processes = 16};
        static const char *const bad[] = {
            "../../../tmp/x",           "rig_../../../../../..",     "rig_aaaaaaaaaaaaaaaaaa/..",
            "rig_aaaaaaaaaaaaaaaaaaa/", "rig_aaaaaaaaaaaaaaaaaaaaa", "rig_aaaaaaaaaaaaaaaaaaa",
            "rig_aaaaaaaaa.aaaaaaaaaa", "RIG_aaaaaaaaaaaaaaaaaaaa",  "",
        };
        bool all = true;
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                all &= cgroup_create(cg, bad[i], &lim) == -EINVAL;
                all &= cgroup_destroy(cg, bad[i]) == -EINVAL;
                all &= cgroup_attach(cg, bad[i], NULL, 0) == -EINVAL;
                all &= cgroup_kill(cg, bad[i], NULL) == -EINVAL;
                all &= cgroup_freeze(cg, bad[i]) == -EINVAL;
        }
        ok(all, "ids with '..', '/', wrong length or charset are rejected with -EINVAL");
        is_int(cgroup_create(cg, NULL, &lim), -EINVAL, "NULL id is rejected");

        static const char *const bad_sub[] = {"..", ".", "a/b", "../x", "cgroup.procs", "", "x y"};
        all = true;
        const char *id = "rig_aaaaaaaaaaaaaaaaaaaa";
        for (size_t i = 0; i < ARRAY_SIZE(bad_sub); i++) {
                all &= cgroup_create_sub(cg, id, bad_sub[i]) == -EINVAL;
                all &= cgroup_kill(cg, id, bad_sub[i]) == -EINVAL;
                all &= cgroup_destroy_sub(cg, id, bad_sub[i]) == -EINVAL;
        }
        ok(all, "sub names with '.', '/' or control-file names are rejected with -EINVAL");
        struct rig_limits zero = {0};
        is_int(cgroup_create(cg, id, &zero), -EINVAL, "zero limits are rejected");
}

static void test_limits(const struct cgroups *cg, const char *id)
{
        struct rig_limits lim = {.cpus = 0.5, .memory_mb = 64, .max_processes = 16};
        is_int(cgroup_create(cg, id, &lim), 0, "create rigs/%s", id);
        if (cg->version == CGROUP_V1) {
                is_int(read_i64(cg->memory, id, "memory.limit_in_bytes"), 64 << 20,
                       "memory.limit_in_bytes = 64 MiB");
                if (cg->swap_accounting)
                        is_int(read_i64(cg->memory, id, "memory.memsw.limit_in_bytes"), 64 << 20,
                               "memory.memsw.limit_in_bytes = memory limit (no swap)");
                is_int(read_i64(cg->memory, id, "memory.swappiness"), 0, "memory.swappiness = 0");
                is_int(read_i64(cg->cpu, id, "cpu.cfs_period_us"), 100000, "cfs_period_us");
                is_int(read_i64(cg->cpu, id, "cpu.cfs_quota_us"), 50000, "cfs_quota_us = 0.5 cpu");
                is_int(read_i64(cg->pids, id, "pids.max"), 16, "pids.max = 16");
        } else {
                char buf[64] = "";
                is_int(read_i64(cg->v2_root, id, "memory.max"), 64 << 20, "memory.max = 64 MiB");
                if (cg->swap_accounting)
                        is_int(read_i64(cg->v2_root, id, "memory.swap.max"), 0, "swap.max = 0");
                read_str(cg->v2_root, id, "cpu.max", buf, sizeof(buf));
                is_str(buf, "50000 100000", "cpu.max = 0.5 cpu");
                is_int(read_i64(cg->v2_root, id, "pids.max"), 16, "pids.max = 16");
        }

        /* Re-applying limits: raising memory (memsw must be raised first on v1), then lowering. */
        lim.memory_mb = 256;
        lim.cpus = 2;
        is_int(cgroup_create(cg, id, &lim), 0, "create again raises the limits");
        const char *mroot = cg->version == CGROUP_V1 ? cg->memory : cg->v2_root;
        const char *mfile = cg->version == CGROUP_V1 ? "memory.limit_in_bytes" : "memory.max";
        is_int(read_i64(mroot, id, mfile), 256 << 20, "memory limit raised to 256 MiB");
        if (cg->version == CGROUP_V1 && cg->swap_accounting)
                is_int(read_i64(cg->memory, id, "memory.memsw.limit_in_bytes"), 256 << 20,
                       "memsw raised with it");
        lim.memory_mb = 64;
        is_int(cgroup_create(cg, id, &lim), 0, "create again lowers the limits");
        is_int(read_i64(mroot, id, mfile), 64 << 20, "memory limit lowered to 64 MiB");
        if (cg->version == CGROUP_V1 && cg->swap_accounting)
                is_int(read_i64(cg->memory, id, "memory.memsw.limit_in_bytes"), 64 << 20,
                       "memsw lowered with it");
}

static void test_freeze(const struct cgroups *cg, const char *id, pid_t spinner, const char *what)
{
        is_int(cgroup_attach(cg, id, NULL, spinner), 0, "%s: attach the spinner", what);
        ok(advances(1000), "%s: the spinner runs", what);
        int64_t worst = 0, total = 0;
        const int rounds = 5;
        bool all = true;
        for (int i = 0; i < rounds; i++) {
                int64_t t0 = now_ns();
                all &= cgroup_freeze(cg, id) == 0;
                int64_t dt = now_ns() - t0;
                total += dt;
                worst = dt > worst ? dt : worst;
                all &= stays_still(30);
                all &= cgroup_thaw(cg, id) == 0;
                all &= advances(1000);
        }
        ok(all, "%s: frozen the spinner stops, thawed it runs again (%d rounds)", what, rounds);
        diag("%s: freeze latency avg %.3f ms, worst %.3f ms", what, total / rounds / 1e6,
             worst / 1e6);
        is_int(cgroup_freeze(cg, id), 0, "%s: freeze", what);
        is_int(cgroup_freeze(cg, id), 0, "%s: freezing a frozen rig is fine", what);
        ok(stays_still(100), "%s: stays frozen for 100 ms", what);
        is_int(cgroup_thaw(cg, id), 0, "%s: thaw", what);
        ok(advances(1000), "%s: runs after thaw", what);
}

static void test_sub(const struct cgroups *cg, const char *id, pid_t spinner, const char *what)
{
        is_int(cgroup_create_sub(cg, id, "x1"), 0, "%s: create_sub x1", what);
        is_int(cgroup_create_sub(cg, id, "x1"), 0, "%s: create_sub x1 again is fine", what);
        pid_t s1 = spawn_sleeper(), s2 = spawn_sleeper();
        is_int(cgroup_attach(cg, id, "x1", s1), 0, "%s: attach a sleeper to x1", what);
        is_int(cgroup_create_sub(cg, id, "x2"), 0, "%s: create_sub x2", what);
        is_int(cgroup_attach(cg, id, "x2", s2), 0, "%s: attach a sleeper to x2", what);
        is_int(cgroup_destroy_sub(cg, id, "x1"), -EBUSY, "%s: destroy_sub of a busy sub", what);

        int64_t t0 = now_ns();
        is_int(cgroup_kill(cg, id, "x1"), 0, "%s: kill x1", what);
        diag("%s: kill of a sub took %.3f ms", what, (now_ns() - t0) / 1e6);
        is_int(reap_signal(s1, 2000), SIGKILL, "%s: the x1 sleeper died of SIGKILL", what);
        ok(kill(s2, 0) == 0 && waitpid(s2, NULL, WNOHANG) == 0, "%s: the x2 sleeper lives", what);
        ok(advances(1000), "%s: the rig's own process lives", what);
        is_int(cgroup_destroy_sub(cg, id, "x1"), 0, "%s: destroy_sub x1", what);
        const char *root = cg->version == CGROUP_V2 ? cg->v2_root : cg->freezer;
        ok(!dir_exists(root, id, "x1"), "%s: x1 is gone", what);
        is_int(cgroup_destroy_sub(cg, id, "x1"), 0, "%s: destroy_sub again is fine", what);
        is_int(cgroup_kill(cg, id, "x9"), 0, "%s: kill of a missing sub is a no-op", what);
        /* x2 and its sleeper stay: destroy must take them along. */
        (void)s2;
}

static void test_destroy(const struct cgroups *cg, const char *id, pid_t spinner, const char *what)
{
        int64_t t0 = now_ns();
        is_int(cgroup_destroy(cg, id), 0, "%s: destroy", what);
        diag("%s: destroy (kill + rmdir) took %.3f ms", what, (now_ns() - t0) / 1e6);
        is_int(reap_signal(spinner, 2000), SIGKILL, "%s: the spinner died of SIGKILL", what);
        ok(gone_everywhere(cg, id), "%s: rigs/<id> is gone from every hierarchy", what);
        is_int(cgroup_destroy(cg, id), 0, "%s: destroy again is fine (idempotent)", what);
        /* Reap the x2 sleeper. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

static void test_paused_destroy(const struct cgroups *cg, const char *what)
{
        char id[RIG_ID_MAX];
        make_id(id);
        struct rig_limits lim = {.cpus = 1, .memory_mb = 128, .max_processes = 64};
        if (cg->version == CGROUP_V1)
                cgroup_create(cg, id, &lim);
        else {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/rigs/%s", cg->v2_root, id);
                if (cgroup_create(cg, id, &lim) < 0)
                        mkdir(path, 0755);
        }
        /* A process that keeps forking: the kill must win the race. */
        fflush(stdout);
        pid_t forker = fork();
        if (forker == 0) {
                for (;;) {
                        pid_t c = fork();
                        if (c == 0) {
                                sleep_ms(20);
                                _exit(0);
                        }
                        if (c > 0)
                                waitpid(c, NULL, WNOHANG);
                }
        }
        is_int(cgroup_attach(cg, id, NULL, forker), 0, "%s: attach a fork loop", what);
        sleep_ms(50);
        is_int(cgroup_freeze(cg, id), 0, "%s: pause the rig", what);
        is_int(cgroup_destroy(cg, id), 0, "%s: destroy a paused rig with a fork loop", what);
        is_int(reap_signal(forker, 2000), SIGKILL, "%s: the fork loop died", what);
        ok(gone_everywhere(cg, id), "%s: nothing is left of it", what);
}

static void test_memory_limit(const struct cgroups *cg)
{
        char id[RIG_ID_MAX];
        make_id(id);
        struct rig_limits lim = {.cpus = 1, .memory_mb = 64, .max_processes = 64};
        if (cgroup_create(cg, id, &lim) < 0) {
                ok(false, "memory: create");
                return;
        }
        int go[2];
        if (pipe2(go, O_CLOEXEC) < 0)
                abort();
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) != 1)
                        _exit(2);
                /* 4x the limit, touched page by page. */
                for (int i = 0; i < 256; i++) {
                        char *p = malloc(1 << 20);
                        if (!p)
                                _exit(3);
                        memset(p, i + 1, 1 << 20);
                }
                _exit(0);
        }
        close(go[0]);
        is_int(cgroup_attach(cg, id, NULL, pid), 0, "memory: attach the allocator");
        if (write(go[1], "g", 1) != 1)
                abort();
        close(go[1]);
        is_int(reap_signal(pid, 20000), SIGKILL,
               "memory: allocating 256 MiB under a 64 MiB limit is OOM-killed");
        ok(true, "memory: the test process survived");
        is_int(cgroup_destroy(cg, id), 0, "memory: destroy");
}

static void test_pids_limit(const struct cgroups *cg)
{
        char id[RIG_ID_MAX];
        make_id(id);
        struct rig_limits lim = {.cpus = 1, .memory_mb = 256, .max_processes = 16};
        if (cgroup_create(cg, id, &lim) < 0) {
                ok(false, "pids: create");
                return;
        }
        volatile int *res =
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (res == MAP_FAILED)
                abort();
        res[0] = res[1] = res[2] = 0;
        int go[2];
        if (pipe2(go, O_CLOEXEC) < 0)
                abort();
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) != 1)
                        _exit(2);
                int n = 0;
                for (;;) {
                        pid_t k = fork();
                        if (k == 0) {
                                for (;;)
                                        pause();
                        }
                        if (k < 0) {
                                res[1] = errno;
                                break;
                        }
                        if (++n > 1000)
                                break;
                }
                res[0] = n;
                res[2] = 1;
                for (;;)
                        pause();
        }
        close(go[0]);
        is_int(cgroup_attach(cg, id, NULL, pid), 0, "pids: attach the forker");
        if (write(go[1], "g", 1) != 1)
                abort();
        close(go[1]);
        for (int i = 0; i < 2000 && !res[2]; i++)
                sleep_ms(1);
        is_int(res[0], 15, "pids: 15 children fit beside their parent under pids.max = 16");
        is_int(res[1], EAGAIN, "pids: the next fork fails with EAGAIN");
        struct cgroup_stats st;
        is_int(cgroup_stats(cg, id, &st), 0, "pids: stats");
        is_int(st.pids, 16, "pids: stats count 16 processes");
        ok(st.memory_bytes > 0, "pids: stats report memory in use (%lld bytes)",
           (long long)st.memory_bytes);
        is_int(cgroup_destroy(cg, id), 0, "pids: destroy kills all 16");
        is_int(reap_signal(pid, 2000), SIGKILL, "pids: the forker died");
        ok(gone_everywhere(cg, id), "pids: nothing is left");
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

static void test_list(const struct cgroups *cg, const char *id)
{
        char **ids = NULL;
        size_t n = 0;
        is_int(cgroup_list(cg, &ids, &n), 0, "list");
        bool found = false;
        for (size_t i = 0; i < n; i++) {
                found |= streq(ids[i], id);
                free(ids[i]);
        }
        free(ids);
        ok(found, "list has the rig");
}

/* The unified hierarchy mounted beside v1 (e.g. /sys/fs/cgroup/unified), if any. */
static bool find_unified(char *out, size_t len)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        char line[4096];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - cgroup2 ");
                if (!sep)
                        continue;
                char mnt[1024];
                if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) == 1 && !strchr(mnt, '\\')) {
                        snprintf(out, len, "%s", mnt);
                        found = true;
                }
        }
        fclose(f);
        return found;
}

/* v2 limits are plain writes of formatted values: check them against a fake tree. */
static void test_v2_limits_format(void)
{
        char dir[PATH_MAX], path[PATH_MAX + 64];
        if (tu_mkdtemp(dir, sizeof(dir), "cgv2") < 0) {
                ok(false, "v2 fake tree");
                return;
        }
        const char *id = "rig_V2fakeV2fakeV2fake00";
        snprintf(path, sizeof(path), "%s/rigs", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/rigs/%s", dir, id);
        mkdir(path, 0755);
        static const char *const files[] = {"memory.max", "memory.swap.max", "cpu.max", "pids.max"};
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                snprintf(path, sizeof(path), "%s/rigs/%s/%s", dir, id, files[i]);
                close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        }
        struct cgroups fake = {.version = CGROUP_V2, .swap_accounting = true};
        snprintf(fake.v2_root, sizeof(fake.v2_root), "%s", dir);
        struct rig_limits lim = {.cpus = 1.5, .memory_mb = 512, .max_processes = 100};
        is_int(cgroup_create(&fake, id, &lim), 0, "v2 fake: create writes the limits");
        char buf[64] = "";
        is_int(read_i64(dir, id, "memory.max"), 512 << 20, "v2 fake: memory.max");
        read_str(dir, id, "memory.swap.max", buf, sizeof(buf));
        is_str(buf, "0", "v2 fake: memory.swap.max = 0");
        read_str(dir, id, "cpu.max", buf, sizeof(buf));
        is_str(buf, "150000 100000", "v2 fake: cpu.max = 1.5 cpus");
        read_str(dir, id, "pids.max", buf, sizeof(buf));
        is_str(buf, "100", "v2 fake: pids.max");
        tu_rmrf(dir);
}

static void test_v2_core(const char *unified)
{
        struct cgroups cg2 = {.version = CGROUP_V2};
        snprintf(cg2.v2_root, sizeof(cg2.v2_root), "%s", unified);
        char id[RIG_ID_MAX], path[PATH_MAX];
        make_id(id);
        snprintf(path, sizeof(path), "%s/rigs", unified);
        bool made_parent = mkdir(path, 0755) == 0;
        snprintf(path, sizeof(path), "%s/rigs/%s", unified, id);
        if (mkdir(path, 0755) < 0) {
                ok(false, "v2 core: mkdir %s", path);
                return;
        }
        diag("v2 core interfaces on %s (no controllers there: limits are not tested)", unified);
        pid_t spinner = spawn_spinner();
        test_freeze(&cg2, id, spinner, "v2");
        test_sub(&cg2, id, spinner, "v2");
        test_destroy(&cg2, id, spinner, "v2");
        test_paused_destroy(&cg2, "v2");
        if (made_parent) {
                snprintf(path, sizeof(path), "%s/rigs", unified);
                rmdir(path);
        }
}

int main(void)
{
        if (geteuid() != 0)
                return skip_all("cgroup tests need root");
        struct cgroups cg;
        int r = cgroups_detect(&cg);
        if (r < 0) {
                char why[300];
                snprintf(why, sizeof(why), "no usable cgroups: %s (%s)", strerror(-r), cg.missing);
                return skip_all(why);
        }
        /* Killed grandchildren come back to us to be reaped. */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (counter == MAP_FAILED)
                abort();

        ok(cg.version == CGROUP_V1 || cg.version == CGROUP_V2, "detect: cgroup v%d",
           (int)cg.version);
        if (cg.version == CGROUP_V1)
                diag("v1: memory %s, pids %s, cpu %s, freezer %s, swap accounting %s", cg.memory,
                     cg.pids, cg.cpu, cg.freezer, cg.swap_accounting ? "on" : "off");
        else
                diag("v2: %s, swap accounting %s", cg.v2_root, cg.swap_accounting ? "on" : "off");

        test_invalid_ids(&cg);

        char id[RIG_ID_MAX];
        make_id(id);
        test_limits(&cg, id);
        pid_t spinner = spawn_spinner();
        const char *what = cg.version == CGROUP_V1 ? "v1" : "v2";
        test_freeze(&cg, id, spinner, what);
        test_sub(&cg, id, spinner, what);
        test_list(&cg, id);
        test_destroy(&cg, id, spinner, what);
        test_paused_destroy(&cg, what);
        test_memory_limit(&cg);
        test_pids_limit(&cg);

        char unified[1024];
        if (cg.version == CGROUP_V1 && find_unified(unified, sizeof(unified)))
                test_v2_core(unified);
        else
                diag("no separate unified hierarchy: v2 core interfaces tested above or absent");
        test_v2_limits_format();

        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        return done_testing();
}
