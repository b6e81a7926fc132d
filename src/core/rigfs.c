#include "core/rigfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif

static int open_in_root(int rootfd, const char *path, uint64_t flags, uint64_t mode)
{
        struct open_how how = {.flags = flags | O_CLOEXEC,
                               .mode = mode,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        /* Paths are given relative to the rig's root. */
        while (*path == '/')
                path++;
        long fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

/* Only ordinary filesystems are served: the rig's disk (ext4 / overlay) and its tmpfs. */
static int fs_allowed(int fd)
{
        struct statfs sf;
        if (fstatfs(fd, &sf) < 0)
                return -errno;
        switch ((unsigned long)sf.f_type) {
        case EXT4_SUPER_MAGIC:
        case OVERLAYFS_SUPER_MAGIC:
        case TMPFS_MAGIC:
                return 0;
        default:
                return -EXDEV;
        }
}

int rigfs_normalize(const char *in, char *out, size_t outlen)
{
        char tmp[RIGFS_PATH_MAX + 16];
        if (strlen(in) > RIGFS_PATH_MAX || outlen < 2)
                return -EINVAL;
        snprintf(tmp, sizeof(tmp), "%s%s", in[0] == '/' ? "" : "/home/user/", in);
        size_t o = 0;
        out[o++] = '/';
        char *save = NULL;
        for (char *comp = strtok_r(tmp, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
                if (streq(comp, "."))
                        continue;
                if (streq(comp, "..")) {
                        while (o > 1 && out[o - 1] != '/')
                                o--;
                        if (o > 1)
                                o--;
                        continue;
                }
                size_t n = strlen(comp);
                if (o + (o > 1) + n + 1 > outlen)
                        return -EINVAL;
                if (o > 1)
                        out[o++] = '/';
                memcpy(out + o, comp, n);
                o += n;
        }
        out[o] = '\0';
        return 0;
}

/* Whether the deepest existing directory on path's way is on an allowed filesystem: a missing
 * /proc/self/x must say "not allowed", not "missing", whichever way it was reached. */
static int deepest_allowed(int rootfd, const char *path)
{
        char dir[RIGFS_PATH_MAX + 1];
        snprintf(dir, sizeof(dir), "%s", path);
        for (;;) {
                char *slash = strrchr(dir, '/');
                if (!slash || slash == dir)
                        return 0; /* the rig's root itself is allowed */
                *slash = '\0';
                int fd = open_in_root(rootfd, dir, O_PATH | O_DIRECTORY, 0);
                if (fd >= 0) {
                        int r = fs_allowed(fd);
                        close(fd);
                        return r;
                }
        }
}

/* Special top-level trees of a rig are never served, whatever exists there. */
static bool special_path(const char *path)
{
        static const char *const trees[] = {"/proc", "/sys", "/dev"};
        for (size_t i = 0; i < ARRAY_SIZE(trees); i++) {
                size_t n = strlen(trees[i]);
                if (strncmp(path, trees[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
                        return !(streq(trees[i], "/dev") && strncmp(path, "/dev/shm", 8) == 0 &&
                                 (path[8] == '\0' || path[8] == '/'));
        }
        return false;
}

int rigfs_open(int rootfd, const char *path, int *fd, struct stat *st)
{
        if (special_path(path))
                return -EXDEV;
        int f = open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
        if (f == -ENOENT || f == -ENOTDIR)
                return deepest_allowed(rootfd, path) < 0 ? -EXDEV : f;
        if (f < 0)
                return f;
        int r = fs_allowed(f);
        if (r == 0 && fstat(f, st) < 0)
                r = -errno;
        if (r == 0 && !S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
                r = -EXDEV;
        if (r < 0) {
                close(f);
                return r;
        }
        *fd = f;
        return 0;
}

static const char *type_of(mode_t m)
{
        return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : "other";
}

int rigfs_list(int dirfd, struct rigfs_entry **out, size_t *n)
{
        int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
        if (dup_fd < 0)
                return -errno;
        DIR *dir = fdopendir(dup_fd);
        if (!dir) {
                close(dup_fd);
                return -errno;
        }
        size_t cap = 32, cnt = 0;
        struct rigfs_entry *e = xcalloc(cap, sizeof(*e));
        struct dirent *de;
        while ((de = readdir(dir))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (cnt == cap) {
                        cap *= 2;
                        e = xrealloc(e, cap * sizeof(*e));
                }
                snprintf(e[cnt].name, sizeof(e[cnt].name), "%s", de->d_name);
                snprintf(e[cnt].type, sizeof(e[cnt].type), "%s", type_of(st.st_mode));
                e[cnt].size = st.st_size;
                e[cnt].mode = st.st_mode & 07777;
                e[cnt].mtime = st.st_mtim.tv_sec;
                cnt++;
        }
        closedir(dir);
        *out = e;
        *n = cnt;
        return 0;
}

/* mkdir -p of path's parent, each step resolved from the rig's root. */
static int make_parents(int rootfd, const char *path, uid_t uid, gid_t gid)
{
        char dir[RIGFS_PATH_MAX + 1];
        snprintf(dir, sizeof(dir), "%s", path);
        for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                char *slash = strrchr(dir, '/');
                *slash = '\0';
                int parent = open_in_root(rootfd, dir[0] ? dir : "/", O_PATH | O_DIRECTORY, 0);
                *slash = '/';
                if (parent < 0)
                        return parent;
                int r = fs_allowed(parent);
                if (r == 0 && mkdirat(parent, slash + 1, 0755) == 0) {
                        if (fchownat(parent, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                                r = -errno;
                } else if (r == 0 && errno != EEXIST) {
                        r = -errno;
                }
                close(parent);
                *p = '/';
                if (r < 0)
                        return r;
        }
        return 0;
}

int rigfs_write(int rootfd, const char *path, const void *data, size_t len, uid_t uid, gid_t gid)
{
        /* -EOVERFLOW: a filesystem mounted inside the rig's user namespace (its /tmp) cannot own
         * a file created by host root; such paths answer invalid_path (reads still work). */
        if (streq(path, "/"))
                return -EISDIR;
        if (special_path(path) || deepest_allowed(rootfd, path) < 0)
                return -EXDEV;
        int r = make_parents(rootfd, path, uid, gid);
        if (r < 0)
                return r;
        struct stat before;
        bool existed = false;
        int probe = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW, 0);
        if (probe >= 0) {
                existed = fstat(probe, &before) == 0;
                close(probe);
                if (existed && S_ISDIR(before.st_mode))
                        return -EISDIR;
                if (existed && !S_ISREG(before.st_mode))
                        return -EXDEV;
        }
        _cleanup_close_ int fd = open_in_root(
            rootfd, path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0644);
        if (fd < 0)
                return fd;
        struct stat st;
        if ((r = fs_allowed(fd)) < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EXDEV;
        if (!existed && st.st_uid != uid && fchown(fd, uid, gid) < 0)
                return -errno;
        if (ftruncate(fd, 0) < 0)
                return -errno;
        const char *p = data;
        while (len) {
                ssize_t w = write(fd, p, len);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

int rigfs_delete(int rootfd, const char *path)
{
        if (streq(path, "/") || special_path(path))
                return -EXDEV;
        char parent[RIGFS_PATH_MAX + 1];
        snprintf(parent, sizeof(parent), "%s", path);
        char *slash = strrchr(parent, '/');
        const char *name = path + (slash - parent) + 1;
        *slash = '\0';
        _cleanup_close_ int dfd =
            open_in_root(rootfd, parent[0] ? parent : "/", O_PATH | O_DIRECTORY, 0);
        if (dfd < 0)
                return dfd;
        int r = fs_allowed(dfd);
        if (r < 0)
                return r;
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (unlinkat(dfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
                return -errno;
        return 0;
}

int rigfs_write_userns(int usernsfd, int rootfd, const char *path, const void *data, size_t len,
                       uid_t uid, gid_t gid)
{
        /* A forked child is single-threaded, so it may join the rig's user namespace; as the
         * rig's root there it owns the namespace's filesystems. rigd itself never changes. */
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int r = 0;
                if (setns(usernsfd, CLONE_NEWUSER) < 0 || setresgid(0, 0, 0) < 0 ||
                    setresuid(0, 0, 0) < 0)
                        r = -errno;
                if (r == 0)
                        r = rigfs_write(rootfd, path, data, len, uid, gid);
                _exit(r < 0 && -r < 255 ? -r : (r < 0 ? 254 : 0));
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status))
                return -EIO;
        return -WEXITSTATUS(status);
}
