/* Rig disks against the real kernel (needs root): a fresh image is sparse ext4, attaches to a loop
 * device, mounts in a private mount namespace, fills up to ENOSPC without the image ever growing
 * past its size, and the loop device goes away by itself after the umount (autoclear) - and after
 * a crash, with the mount namespace dying or the fd closing unmounted. The pool makes creation a
 * rename; delete leaves nothing. Names that could escape a directory are rejected. */
#include "runtime/disk.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define MiB (1024 * 1024)

static char data[PATH_MAX];

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

static void image_path(char *out, size_t len, const char *id)
{
        snprintf(out, len, "%s/rigs/%s/disk.img", data, id);
}

static bool exists(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0;
}

/* The loop device's sysfs directory exists only while it is bound to a file. */
static bool loop_bound(const char *dev)
{
        char path[128];
        snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", dev + 5);
        return exists(path);
}

static bool wait_unbound(const char *dev, int ms)
{
        for (int i = 0; i < ms; i += 5) {
                if (!loop_bound(dev))
                        return true;
                sleep_ms(5);
        }
        return !loop_bound(dev);
}

static int read_sys_int(const char *dev, const char *file)
{
        char path[128], buf[32];
        snprintf(path, sizeof(path), "/sys/block/%s/loop/%s", dev + 5, file);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        int v = fgets(buf, sizeof(buf), f) ? atoi(buf) : -1;
        fclose(f);
        return v;
}

static int count_pool(int64_t size_mb)
{
        char path[PATH_MAX], prefix[32];
        snprintf(path, sizeof(path), "%s/pool", data);
        snprintf(prefix, sizeof(prefix), "%lldM-", (long long)size_mb);
        DIR *d = opendir(path);
        if (!d)
                return 0;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
        closedir(d);
        return n;
}

static void test_names(void)
{
        char out[PATH_MAX];
        static const char *const bad[] = {
            "..", "a/b", "../base", "Base", "", "base.x", "abcdefghijklmnopqrstuvwxyzabcdef"};
        bool all = true;
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                all &= template_rootfs(data, bad[i], out, sizeof(out)) == -EINVAL;
        ok(all, "template names outside ^[a-z0-9-]{1,31}$ are rejected");

        static const char *const bad_ids[] = {"rig_../../../../../etc", "../x", "rig_short",
                                              "rig_aaaaaaaaaaaaaaaaaaa/", ""};
        all = true;
        for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
                all &= disk_create(data, bad_ids[i], 256) == -EINVAL;
                all &= disk_delete(data, bad_ids[i]) == -EINVAL;
        }
        ok(all, "rig ids with '..', '/' or a wrong shape are rejected");
        is_int(disk_create(data, "rig_aaaaaaaaaaaaaaaaaaaa", 1), -EINVAL,
               "a 1 MiB disk is refused");
}

static void test_templates(void)
{
        char tdir[PATH_MAX + 32], path[PATH_MAX + 64], out[PATH_MAX];
        snprintf(tdir, sizeof(tdir), "%s/templates", data);
        mkdir(tdir, 0755);
        is_int(template_rootfs(tdir, "base", out, sizeof(out)), -ENOENT, "a missing template");
        snprintf(path, sizeof(path), "%s/fake", tdir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/fake/rootfs", tdir);
        mkdir(path, 0755);
        is_int(template_rootfs(tdir, "fake", out, sizeof(out)), -ENOENT,
               "a template without usr/bin/bash is not built");
        snprintf(path, sizeof(path), "%s/fake/rootfs/usr", tdir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/fake/rootfs/usr/bin", tdir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/fake/rootfs/usr/bin/bash", tdir);
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0755));
        is_int(template_rootfs(tdir, "fake", out, sizeof(out)), 0, "a template with bash");
        snprintf(path, sizeof(path), "%s/fake/rootfs", tdir);
        is_str(out, path, "its rootfs path");
        char tiny[8];
        is_int(template_rootfs(tdir, "fake", tiny, sizeof(tiny)), -ENAMETOOLONG,
               "a short buffer is -ENAMETOOLONG");

        const char *real = getenv("RIGS_TEMPLATES_DIR");
        if (!real)
                real = "/var/cache/rigs/templates";
        int r = template_rootfs(real, "base", out, sizeof(out));
        if (r == 0)
                ok(true, "the built base template is found at %s", out);
        else
                printf("ok %d # SKIP no base template in %s (scripts/build-template.sh)\n",
                       ++tap_run, real);
}

struct fill_result {
        int mounted;
        int err;
        int64_t written;
        int umount_err;
};

/* In a child with its own mount namespace: mount dev, fill it to ENOSPC, umount. */
static void fill_child(const char *dev, const char *mnt, struct fill_result *res, int loop_fd,
                       int ready_fd)
{
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                _exit(2);
        if (mount(dev, mnt, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0) {
                res->err = errno;
                _exit(3);
        }
        res->mounted = 1;
        close(loop_fd); /* the mount holds the device now */
        if (write(ready_fd, "m", 1) != 1)
                _exit(4);
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s/fill", mnt);
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
                _exit(5);
        static char buf[MiB];
        memset(buf, 0xab, sizeof(buf));
        for (;;) {
                ssize_t w = write(fd, buf, sizeof(buf));
                if (w < 0) {
                        res->err = errno;
                        break;
                }
                res->written += w;
                if (res->written > 2LL * 1024 * MiB)
                        break;
        }
        if (fsync(fd) < 0 && !res->err)
                res->err = errno;
        close(fd);
        res->umount_err = umount(mnt) < 0 ? errno : 0;
        _exit(0);
}

static void test_fresh_disk_and_loop(void)
{
        const char *id = "rig_Test0Disk0Fresh00001";
        char img[PATH_MAX + 64], dir[PATH_MAX + 64];
        image_path(img, sizeof(img), id);
        snprintf(dir, sizeof(dir), "%s/rigs/%s", data, id);

        int64_t t0 = now_ns();
        is_int(disk_create(data, id, 256), 0, "create a fresh 256 MiB disk");
        diag("fresh 256 MiB disk (truncate + mkfs.ext4): %.2f ms", (now_ns() - t0) / 1e6);
        struct stat st;
        ok(stat(img, &st) == 0 && st.st_size == 256LL * MiB, "the image is 256 MiB long");
        ok(st.st_blocks * 512 < 8LL * MiB, "the image is sparse (%lld KiB allocated)",
           (long long)st.st_blocks / 2);
        is_int(st.st_mode & 0777, 0600, "the image is 0600");
        ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "the rig dir is 0700");
        is_int(disk_create(data, id, 256), 0, "create again with the same size keeps it");
        is_int(disk_create(data, id, 512), -EEXIST, "create with another size is -EEXIST");

        char dev[64];
        int loop_fd = -1;
        is_int(loop_attach(img, dev, sizeof(dev), &loop_fd), 0, "attach to a loop device");
        ok(loop_fd >= 0 && (fcntl(loop_fd, F_GETFD) & FD_CLOEXEC), "the loop fd is O_CLOEXEC");
        ok(strncmp(dev, "/dev/loop", 9) == 0, "device %s", dev);
        is_int(read_sys_int(dev, "autoclear"), 1, "autoclear is on");
        is_int(read_sys_int(dev, "dio"), 0, "direct I/O is off");

        char mnt[PATH_MAX + 16];
        snprintf(mnt, sizeof(mnt), "%s/mnt", data);
        mkdir(mnt, 0755);
        struct fill_result *res =
            mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (res == MAP_FAILED)
                abort();
        memset(res, 0, sizeof(*res));
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0)
                abort();
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
                close(ready[0]);
                fill_child(dev, mnt, res, loop_fd, ready[1]);
        }
        close(ready[1]);
        char c;
        bool mounted = read(ready[0], &c, 1) == 1;
        close(ready[0]);
        ok(mounted, "mounted as ext4 in a private mount namespace");
        close(loop_fd);
        /* The mount lives in the child's namespace only. */
        bool leaked = false;
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];
        while (f && fgets(line, sizeof(line), f))
                leaked |= strstr(line, mnt) != NULL;
        if (f)
                fclose(f);
        ok(!leaked, "the mount is invisible outside the child's namespace");
        int status = 0;
        waitpid(pid, &status, 0);
        is_int(WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status), 0,
               "the filling child finished");
        is_int(res->err, ENOSPC, "writing stops with ENOSPC");
        ok(res->written > 200LL * MiB && res->written < 256LL * MiB,
           "about the disk's size was written (%lld MiB)", (long long)(res->written / MiB));
        is_int(res->umount_err, 0, "umount");
        ok(stat(img, &st) == 0 && st.st_size == 256LL * MiB, "the image is still 256 MiB long");
        ok(st.st_blocks * 512 <= 256LL * MiB, "and occupies at most 256 MiB (%lld MiB)",
           (long long)(st.st_blocks * 512 / MiB));
        ok(wait_unbound(dev, 2000), "after the umount the loop device is released (autoclear)");
        munmap(res, sizeof(*res));

        /* A crash between attach and mount: the fd dies with its process. */
        pid = fork();
        if (pid == 0) {
                char d2[64];
                int fd2;
                if (loop_attach(img, d2, sizeof(d2), &fd2) < 0)
                        _exit(1);
                printf("# crash-before-mount child attached %s\n", d2);
                fflush(stdout);
                kill(getpid(), SIGKILL);
        }
        waitpid(pid, &status, 0);
        ok(WIFSIGNALED(status), "a process that attached and was killed before mounting");
        /* Any loop device still bound to our image? */
        char dev2[64];
        int fd3 = -1;
        is_int(loop_attach(img, dev2, sizeof(dev2), &fd3), 0, "attach again");
        close(fd3);
        ok(wait_unbound(dev2, 2000), "closing an unmounted loop fd releases the device");

        /* A crash after mounting: the namespace dies with its last process, and the mount. */
        if (loop_attach(img, dev2, sizeof(dev2), &fd3) == 0) {
                int pp[2];
                if (pipe2(pp, O_CLOEXEC) < 0)
                        abort();
                fflush(stdout);
                pid = fork();
                if (pid == 0) {
                        close(pp[0]);
                        if (unshare(CLONE_NEWNS) < 0 ||
                            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                            mount(dev2, mnt, "ext4", 0, NULL) < 0)
                                _exit(1);
                        close(fd3);
                        if (write(pp[1], "m", 1) != 1)
                                _exit(1);
                        for (;;)
                                pause();
                }
                close(pp[1]);
                bool m = read(pp[0], &c, 1) == 1;
                close(pp[0]);
                close(fd3);
                ok(m && loop_bound(dev2), "mounted in a child namespace, the device is bound");
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                ok(wait_unbound(dev2, 5000), "killing the mounting process releases the device");
        } else {
                ok(false, "attach for the crash-after-mount case");
        }

        t0 = now_ns();
        is_int(disk_delete(data, id), 0, "delete");
        diag("delete of a filled 256 MiB image: %.2f ms", (now_ns() - t0) / 1e6);
        ok(!exists(img) && !exists(dir), "the image and the rig dir are gone");
        is_int(disk_delete(data, id), 0, "delete again is fine (idempotent)");
}

static void test_pool(void)
{
        const char *id = "rig_Test0Disk0Pool000001";
        char img[PATH_MAX + 64], dir[PATH_MAX + 64];
        image_path(img, sizeof(img), id);
        snprintf(dir, sizeof(dir), "%s/rigs/%s", data, id);

        int64_t t0 = now_ns();
        is_int(disk_pool_fill(data, DISK_DEFAULT_MB, 3), 3, "pool fill makes 3 images of 1 GiB");
        diag("pool fill, 3 x 1 GiB: %.2f ms", (now_ns() - t0) / 1e6);
        is_int(count_pool(DISK_DEFAULT_MB), 3, "3 images in the pool");
        is_int(disk_pool_fill(data, DISK_DEFAULT_MB, 3), 0, "a full pool makes none");
        is_int(disk_pool_fill(data, 256, 1), 1, "a pool of another size is separate");

        t0 = now_ns();
        is_int(disk_create(data, id, DISK_DEFAULT_MB), 0, "create takes a pool image");
        int64_t pool_ns = now_ns() - t0;
        is_int(count_pool(DISK_DEFAULT_MB), 2, "the pool has one image less");
        is_int(count_pool(256), 1, "and the other size is untouched");
        struct stat st;
        ok(stat(img, &st) == 0 && st.st_size == (off_t)DISK_DEFAULT_MB * MiB,
           "the rig's image is 1 GiB");
        is_int(disk_delete(data, id), 0, "delete");

        /* Fresh mkfs of the same size, for comparison. */
        const char *id2 = "rig_Test0Disk0Fresh00002";
        int64_t fresh_ns = 0;
        const int rounds = 5;
        bool all = true;
        for (int i = 0; i < rounds; i++) {
                t0 = now_ns();
                all &= disk_create(data, id2, 2048) == 0;
                fresh_ns += now_ns() - t0;
                all &= disk_delete(data, id2) == 0;
        }
        ok(all, "fresh 2 GiB creates (no pool of that size)");
        int64_t pooled = 0;
        for (int i = 0; i < 2; i++) {
                t0 = now_ns();
                all &= disk_create(data, id, DISK_DEFAULT_MB) == 0;
                pooled += now_ns() - t0;
                all &= disk_delete(data, id) == 0;
        }
        ok(all, "two more creates from the pool");
        diag("disk_create 1 GiB from the pool: first %.3f ms, avg of next two %.3f ms; fresh "
             "mkfs of 2 GiB: avg %.2f ms",
             pool_ns / 1e6, pooled / 2 / 1e6, fresh_ns / rounds / 1e6);
        ok(pool_ns < fresh_ns / rounds, "taking from the pool is faster than mkfs");
        is_int(count_pool(DISK_DEFAULT_MB), 0, "the pool is empty now");
        int64_t f0 = now_ns();
        is_int(disk_create(data, id, DISK_DEFAULT_MB), 0, "with the pool empty, create formats");
        diag("fresh 1 GiB create (pool empty): %.2f ms", (now_ns() - f0) / 1e6);

        /* The rig dir stays while something else (the shim's socket) lives in it. */
        char other[PATH_MAX + 80];
        snprintf(other, sizeof(other), "%s/shim.sock", dir);
        close(open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        is_int(disk_delete(data, id), 0, "delete with another file in the rig dir");
        ok(!exists(img) && exists(dir), "the image is gone, the rig dir stays");
        unlink(other);
        is_int(disk_delete(data, id), 0, "delete once more removes the empty dir");
        ok(!exists(dir), "the rig dir is gone");
}

int main(void)
{
        if (geteuid() != 0)
                return skip_all("disk tests need root (loop devices, mount)");
        if (access("/dev/loop-control", R_OK | W_OK) < 0)
                return skip_all("no /dev/loop-control");
        if (access("/sbin/mkfs.ext4", X_OK) < 0 && access("/usr/sbin/mkfs.ext4", X_OK) < 0)
                return skip_all("no mkfs.ext4 (e2fsprogs)");
        /* Not tmpfs: the image must be a sparse file on a real filesystem. */
        const char *base = getenv("RIGS_TEST_TMPDIR");
        snprintf(data, sizeof(data), "%s/rigs-disk-XXXXXX", base ? base : "/var/tmp");
        if (!mkdtemp(data))
                return skip_all("cannot create a temp dir under /var/tmp");

        test_names();
        test_templates();
        test_fresh_disk_and_loop();
        test_pool();

        tu_rmrf(data);
        return done_testing();
}
