/* Files inside a rig, reached only through a directory fd of the rig's root and openat2(2) with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: "..", absolute symlinks and symlinks pointing outside
 * resolve inside the rig, never outside. Special filesystems (proc, sysfs, devpts, ...) are
 * refused: rigd acts as host root, and a rig's /proc/sys must never become a way to write host
 * kernel settings. Errors: -ENOENT missing, -EXDEV/-ELOOP path not allowed, -ENOTEMPTY,
 * -EISDIR, -ENOTDIR, -ENOSPC disk full, -EOVERFLOW a filesystem of the rig's own user namespace
 * (its /tmp: not writable from the host), other negative errno. */
#pragma once

#include "base/util.h"

#include <sys/stat.h>

#define RIGFS_PATH_MAX 4096

struct rigfs_entry {
        char name[256];
        char type[8]; /* file, dir, symlink, other */
        int64_t size;
        unsigned mode;
        int64_t mtime;
};

/* Lexically normalises a path into an absolute one ("." and empty components dropped, ".."
 * clamped at "/"); a relative path is taken from /home/user. -EINVAL when too long. */
int rigfs_normalize(const char *in, char *out, size_t outlen);
/* Opens a regular file or a directory for reading; *st tells which. */
int rigfs_open(int rootfd, const char *path, int *fd, struct stat *st);
/* Lists a directory opened by rigfs_open; *out is malloc'd. */
int rigfs_list(int dirfd, struct rigfs_entry **out, size_t *n);
/* Writes a file (creating parents owned by uid/gid), replacing its content. */
int rigfs_write(int rootfd, const char *path, const void *data, size_t len, uid_t uid, gid_t gid);
/* The same as rigfs_write, from a child process that joins the rig's user namespace (usernsfd)
 * as its root: for filesystems that namespace owns (its /tmp), where rigfs_write answers
 * -EOVERFLOW. uid/gid are ids inside the rig. */
int rigfs_write_userns(int usernsfd, int rootfd, const char *path, const void *data, size_t len,
                       uid_t uid, gid_t gid);
/* Removes a file, a symlink or an empty directory. */
int rigfs_delete(int rootfd, const char *path);
