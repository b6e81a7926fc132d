/* The rig's root filesystem, assembled by the shim as host root inside its own private mount
 * namespace (so none of it is ever visible on the host, and all of it goes away with the shim
 * and the rig). Paths are relative to the rig dir, the shim's working directory:
 *
 *   mnt/            the rig's ext4 disk (disk.img on a loop device), nosuid,nodev
 *   mnt/upper       overlay upper layer: everything the rig writes, /home/user included
 *   mnt/work        overlay work dir
 *   lower/          the template's rootfs, bind-mounted read-only and idmapped through the rig's
 *                   user namespace: host uid/gid N shows as uid_base + N, so the template's
 *                   root- and user-owned files belong to rig root and rig user
 *   root/           the overlay of lower and upper: the rig's "/"
 *
 * The rig's PID 1 copies this tree into its own mount namespace and pivots into root/; the shim
 * then detaches its view (rootfs_detach), and the rig's namespace holds the last reference: when
 * its last process is gone, the kernel unmounts everything and the loop device (autoclear) goes. */
#include "shim/shim.h"

#include "runtime/disk.h"

#include <fcntl.h>
#include <ftw.h>
#include <linux/mount.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
                return -1;
        return 0;
}

/* rm -rf of a tree on the rig's disk, never leaving the disk's filesystem. */
static int remove_tree(const char *path)
{
        if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int ensure_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return -errno;
        struct stat st;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if ((st.st_uid != uid || st.st_gid != gid) && lchown(path, uid, gid) < 0)
                return -errno;
        if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0)
                return -errno;
        return 0;
}

int rootfs_mount_disk(struct shim *s, struct shim_err *e)
{
        const char *dirs[] = {"mnt", "lower", "root"};
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                int r = ensure_dir(dirs[i], 0700, 0, 0);
                if (r < 0)
                        return shim_fail(e, -r, "cannot create %s in the rig dir: %s", dirs[i],
                                         strerror(-r));
        }
        char image[4200];
        snprintf(image, sizeof(image), "%s/disk.img", s->cfg.rig_dir);
        int r = loop_attach(image, s->loop_dev, sizeof(s->loop_dev), &s->loop_fd);
        if (r < 0)
                return shim_fail(e, -r, "cannot attach the rig's disk: %s", strerror(-r));
        if (mount(s->loop_dev, "mnt", "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME, NULL) < 0)
                return shim_fail(e, errno, "cannot mount the rig's disk: %m");
        /* The mount holds the device now; autoclear releases it with the last unmount. */
        close(s->loop_fd);
        s->loop_fd = -1;
        /* A stateless rig starts from the template: whatever an earlier run left goes. */
        if (s->cfg.spec.stateless &&
            ((r = remove_tree("mnt/upper")) < 0 || (r = remove_tree("mnt/work")) < 0))
                return shim_fail(e, -r, "cannot wipe the stateless rig's disk: %s", strerror(-r));
        uid_t base = s->cfg.spec.uid_base;
        /* The upper dir is the rig's "/" as far as ownership goes: rig root's. */
        r = ensure_dir("mnt/upper", 0755, base, base);
        if (r >= 0)
                r = ensure_dir("mnt/work", 0700, 0, 0);
        if (r < 0)
                return shim_fail(e, -r, "cannot prepare the rig's disk: %s", strerror(-r));
        return 0;
}

/* The template, idmapped into the rig's ids, read-only, at lower/. */
static int mount_lower(struct shim *s, int userns_fd, struct shim_err *e)
{
        _cleanup_close_ int t = (int)syscall(SYS_open_tree, AT_FDCWD, s->cfg.rootfs,
                                             OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (t < 0)
                return shim_fail(e, errno, "cannot clone the template %s: %m", s->cfg.rootfs);
        struct mount_attr attr = {
            .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            .userns_fd = (uint64_t)userns_fd,
        };
        if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) <
            0)
                return shim_fail(e, errno,
                                 "cannot idmap the template (the filesystem of %s must support "
                                 "idmapped mounts, Linux >= 5.19): %m",
                                 s->cfg.rootfs);
        if (syscall(SYS_move_mount, t, "", AT_FDCWD, "lower", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return shim_fail(e, errno, "cannot mount the template: %m");
        return 0;
}

int rootfs_mount_root(struct shim *s, int userns_fd, struct shim_err *e)
{
        int r = mount_lower(s, userns_fd, e);
        if (r < 0)
                return r;
        /* Relative layer paths (resolved against the rig dir, our cwd): no escaping needed
         * whatever characters the data dir's path holds. */
        if (mount("overlay", "root", "overlay", MS_NOSUID | MS_NODEV,
                  "lowerdir=lower,upperdir=mnt/upper,workdir=mnt/work") < 0)
                return shim_fail(e, errno, "cannot mount the rig's root overlay: %m");
        return 0;
}

void rootfs_detach(struct shim *s)
{
        (void)s;
        umount2("root", MNT_DETACH);
        umount2("lower", MNT_DETACH);
        umount2("mnt", MNT_DETACH);
}
