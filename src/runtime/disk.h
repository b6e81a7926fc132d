/* Rig disks: a sparse ext4 image per rig (<data_dir>/rigs/<id>/disk.img) and the read-only
 * templates under <templates_dir>/<name>/rootfs. Formatting costs ~10 ms (fork + mkfs.ext4), so
 * images of the default size are prepared ahead in a pool (<data_dir>/pool/<size>M-*.img) and
 * moved into place with rename(2) on the request path (tens of microseconds).
 *
 * Ids must match ^rig_[0-9A-Za-z]{20}$ and template names ^[a-z0-9-]{1,31}$, else -EINVAL.
 * Functions return 0 (or a count) or a negative errno and never log. */
#pragma once

#include "runtime/runtime.h"

#define DISK_DEFAULT_MB 1024

/* Path of a template's root filesystem directory; -ENOENT if it is not built. */
int template_rootfs(const char *templates_dir, const char *name, char *out, size_t outlen);
/* Creates the rig's disk image of size_mb (from the pool when it has one of that size) in a
 * 0700 <data_dir>/rigs/<id>/. An existing image of that size is kept (0); of another size,
 * -EEXIST. */
int disk_create(const char *data_dir, const char *id, int64_t size_mb);
/* Deletes the rig's disk image, and the rig's directory when nothing else is left in it
 * (idempotent). */
int disk_delete(const char *data_dir, const char *id);
/* Keeps `count` formatted images of size_mb in the pool; returns how many it made. */
int disk_pool_fill(const char *data_dir, int64_t size_mb, int count);
/* Attaches an image to a free loop device (LOOP_CTL_GET_FREE + LOOP_CONFIGURE, retrying when
 * another allocator takes the device first); writes "/dev/loopN" into dev and the open device
 * into *loop_fd (O_CLOEXEC). The caller mounts dev, then closes *loop_fd.
 *
 * The device is configured with LO_FLAGS_AUTOCLEAR: the kernel detaches it when its last opener
 * goes away. Before the mount that opener is *loop_fd, after it the mount itself; so whatever
 * happens - a normal umount, the rig's mount namespace dying with its last process, or the
 * shim or rigd crashing between attach and mount (the kernel closes the fd) - the loop device
 * is released with nothing left to clean up, and no loop device ever outlives its user.
 * Needs Linux >= 5.8 (LOOP_CONFIGURE). */
int loop_attach(const char *image, char *dev, size_t devlen, int *loop_fd);
