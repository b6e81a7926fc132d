/* Rig disks: sparse ext4 images made by mkfs.ext4, kept warm in a pool, attached to loop devices.
 * Images are always built under a temporary name and renamed into place, so a crash leaves
 * either nothing or a complete image plus a ".tmp-*" file that the next fill or delete sweeps. */
#include "runtime/disk.h"
#include "runtime/rtutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define DISK_MIN_MB 16
#define DISK_MAX_MB (16LL * 1024 * 1024) /* 16 TiB */
/* Temporary files older than this are leftovers of a crashed fill, not a running one. */
#define STALE_TMP_S 600

static const char *const mkfs_paths[] = {"/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"};

int template_rootfs(const char *templates_dir, const char *name, char *out, size_t outlen)
{
        if (!rt_name_valid(name, 31, false, "-"))
                return -EINVAL;
        char path[PATH_MAX];
        int r = rt_path(path, sizeof(path), "%s/%s/rootfs", templates_dir, name);
        if (r < 0)
                return r;
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOENT;
        _cleanup_close_ int dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        /* A tree without a shell is half-built or not a template at all. */
        if (fstatat(dfd, "usr/bin/bash", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return -ENOENT;
        return rt_path(out, outlen, "%s", path);
}

/* mkdir -p with mode for every component it creates. */
static int mkdir_p(const char *path, mode_t mode)
{
        char buf[PATH_MAX];
        int r = rt_path(buf, sizeof(buf), "%s", path);
        if (r < 0)
                return r;
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Runs mkfs.ext4 on a regular file. Options, measured on this class of machine (1 GiB: ~8 ms,
 * 128 GiB: ~29 ms, 1 TiB: ~99 ms):
 *   -b 4096        mke2fs would pick 1 KiB blocks below 512 MiB ("small" type): slower I/O
 *   -I 256 -i 8192 twice the default inode count (a workspace of node_modules and .git trees runs
 *                  out of inodes before bytes), costing ~3% of the disk
 *   -m 0           no root reserve: the whole disk is the rig's
 *   lazy_itable_init, lazy_journal_init: nothing is zeroed; the image stays sparse (~700 KiB)
 *   nodiscard      the file is all holes already; discarding it is wasted work (~10%) */
static int run_mkfs(const char *image)
{
        char *const argv[] = {"mkfs.ext4",
                              "-q",
                              "-F",
                              "-b",
                              "4096",
                              "-I",
                              "256",
                              "-i",
                              "8192",
                              "-m",
                              "0",
                              "-E",
                              "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
                              "--",
                              (char *)image,
                              NULL};
        char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};

        _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0)
                return -errno;
        /* Signals stay blocked across fork so that no handler of the caller runs in the child
         * before it resets them. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pid_t pid = fork();
        if (pid == 0) {
                /* Only async-signal-safe calls from here on. */
                for (int sig = 1; sig < NSIG; sig++)
                        signal(sig, SIG_DFL);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
                        _exit(126);
                for (size_t i = 0; i < ARRAY_SIZE(mkfs_paths); i++)
                        execve(mkfs_paths[i], argv, envp);
                _exit(127);
        }
        int fork_errno = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (pid < 0)
                return -fork_errno;

        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return -ENOENT; /* no mkfs.ext4 (e2fsprogs) */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -EIO;
        return 0;
}

/* rename(2) that never replaces an existing target (falls back to link + unlink where the
 * filesystem lacks RENAME_NOREPLACE). */
static int rename_noreplace(const char *from, const char *to)
{
        if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return -errno;
        if (link(from, to) < 0)
                return -errno;
        (void)unlink(from);
        return 0;
}

/* Builds a formatted image of size_mb at final: a temp file "<dir>/.tmp-<tag>XXXXXX" is
 * truncated, formatted and renamed. With final == NULL the name is "<dir>/<tag><random>.img". */
static int make_image(const char *dir, const char *tag, const char *final, int64_t size_mb)
{
        char tmp[PATH_MAX];
        int r = rt_path(tmp, sizeof(tmp), "%s/.tmp-%sXXXXXX", dir, tag);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size_mb * 1024 * 1024) < 0) {
                r = -errno;
                goto fail;
        }
        close(TAKE_FD(fd)); /* mkfs opens the file by name */
        r = run_mkfs(tmp);
        if (r < 0)
                goto fail;

        char target[PATH_MAX];
        if (final) {
                r = rt_path(target, sizeof(target), "%s", final);
        } else {
                const char *rnd = tmp + strlen(tmp) - 6;
                r = rt_path(target, sizeof(target), "%s/%s%s.img", dir, tag, rnd);
        }
        if (r >= 0)
                r = rename_noreplace(tmp, target);
        if (r < 0)
                goto fail;
        return 0;
fail:
        (void)unlink(tmp);
        return r;
}

/* Removes ".tmp-*" files in dir (all of them, or those older than STALE_TMP_S). */
static void sweep_tmp(const char *dir, bool all)
{
        DIR *d = opendir(dir);
        if (!d)
                return;
        time_t now = time(NULL);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, ".tmp-", 5) != 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (all || now - st.st_mtime > STALE_TMP_S)
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

/* Pool entries are "<size_mb>M-<random>.img". */
static bool pool_entry(const char *name, const char *prefix)
{
        size_t pl = strlen(prefix), nl = strlen(name);
        return strncmp(name, prefix, pl) == 0 && nl > pl + 4 && streq(name + nl - 4, ".img");
}

/* Moves a pool image of size_mb to image; -ENOENT when the pool has none. */
static int take_from_pool(const char *data_dir, int64_t size_mb, const char *image)
{
        char pool[PATH_MAX], prefix[32];
        int r = rt_path(pool, sizeof(pool), "%s/pool", data_dir);
        if (r < 0)
                return r;
        snprintf(prefix, sizeof(prefix), "%" PRId64 "M-", size_mb);
        DIR *d = opendir(pool);
        if (!d)
                return errno == ENOENT ? -ENOENT : -errno;
        r = -ENOENT;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!pool_entry(de->d_name, prefix))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode) || st.st_size != (off_t)size_mb * 1024 * 1024)
                        continue;
                char from[PATH_MAX];
                if (rt_path(from, sizeof(from), "%s/%s", pool, de->d_name) < 0)
                        continue;
                r = rename_noreplace(from, image);
                if (r == -ENOENT) /* another taker was first */
                        continue;
                break;
        }
        closedir(d);
        return r;
}

int disk_create(const char *data_dir, const char *id, int64_t size_mb)
{
        if (!rt_id_valid(id) || size_mb < DISK_MIN_MB || size_mb > DISK_MAX_MB)
                return -EINVAL;
        char dir[PATH_MAX], image[PATH_MAX];
        int r = rt_path(dir, sizeof(dir), "%s/rigs/%s", data_dir, id);
        if (r >= 0)
                r = rt_path(image, sizeof(image), "%s/disk.img", dir);
        if (r >= 0)
                r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;

        struct stat st;
        if (stat(image, &st) == 0)
                return st.st_size == (off_t)size_mb * 1024 * 1024 ? 0 : -EEXIST;
        r = take_from_pool(data_dir, size_mb, image);
        if (r == -ENOENT)
                r = make_image(dir, "disk-", image, size_mb);
        if (r == -EEXIST && stat(image, &st) == 0 && st.st_size == (off_t)size_mb * 1024 * 1024)
                r = 0; /* a concurrent create of the same rig won */
        return r;
}

int disk_delete(const char *data_dir, const char *id)
{
        if (!rt_id_valid(id))
                return -EINVAL;
        char dir[PATH_MAX], image[PATH_MAX];
        int r = rt_path(dir, sizeof(dir), "%s/rigs/%s", data_dir, id);
        if (r >= 0)
                r = rt_path(image, sizeof(image), "%s/disk.img", dir);
        if (r < 0)
                return r;
        if (unlink(image) < 0 && errno != ENOENT)
                return -errno;
        sweep_tmp(dir, true);
        /* The directory also holds the shim's socket while a rig runs: keep it then. */
        if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
                return -errno;
        return 0;
}

int disk_pool_fill(const char *data_dir, int64_t size_mb, int count)
{
        if (size_mb < DISK_MIN_MB || size_mb > DISK_MAX_MB || count < 0)
                return -EINVAL;
        char pool[PATH_MAX], prefix[32];
        int r = rt_path(pool, sizeof(pool), "%s/pool", data_dir);
        if (r >= 0)
                r = mkdir_p(pool, 0700);
        if (r < 0)
                return r;
        sweep_tmp(pool, false);
        snprintf(prefix, sizeof(prefix), "%" PRId64 "M-", size_mb);

        int have = 0;
        DIR *d = opendir(pool);
        if (!d)
                return -errno;
        struct dirent *de;
        while ((de = readdir(d)))
                if (pool_entry(de->d_name, prefix))
                        have++;
        closedir(d);

        int made = 0;
        while (have + made < count) {
                r = make_image(pool, prefix, NULL, size_mb);
                if (r < 0)
                        return made ? made : r;
                made++;
        }
        return made;
}

int loop_attach(const char *image, char *dev, size_t devlen, int *loop_fd)
{
        if (!loop_fd || !dev)
                return -EINVAL;
        *loop_fd = -1;
        _cleanup_close_ int img = open(image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (img < 0)
                return -errno;
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0)
                return -errno;

        struct loop_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.fd = (uint32_t)img;
        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR; /* and no LO_FLAGS_DIRECT_IO: page cache I/O */
        snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", image);

        /* Another allocator (losetup, a second rig starting) may configure the device that
         * LOOP_CTL_GET_FREE handed us before we do: then it is busy and we ask again. */
        for (int attempt = 0; attempt < 64; attempt++) {
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (n < 0)
                        return -errno;
                char path[32];
                snprintf(path, sizeof(path), "/dev/loop%d", n);
                int lfd = open(path, O_RDWR | O_CLOEXEC);
                if (lfd < 0) {
                        /* The node may not be there yet (no devtmpfs event so far): retry. */
                        if (errno == ENOENT || errno == EBUSY || errno == ENXIO) {
                                rt_sleep_ns(1000000);
                                continue;
                        }
                        return -errno;
                }
                if (ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
                        int e = errno;
                        close(lfd);
                        if (e == EBUSY)
                                continue;
                        return -e;
                }
                int r = rt_path(dev, devlen, "%s", path);
                if (r < 0) {
                        close(lfd); /* autoclear detaches the device again */
                        return r;
                }
                *loop_fd = lfd;
                return 0;
        }
        return -EBUSY;
}
