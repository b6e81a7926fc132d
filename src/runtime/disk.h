/* Rig disks: a sparse ext4 image per rig (<data_dir>/rigs/<id>/disk.img) and the read-only
 * templates under <templates_dir>/<name>/rootfs. Formatting costs ~16 ms, so images of the
 * default size are prepared ahead in a pool (<data_dir>/pool/) and moved into place with
 * rename(2) on the request path. */
#pragma once

#include "runtime/runtime.h"

#define DISK_DEFAULT_MB 1024

/* Path of a template's root filesystem directory; -ENOENT if it is not built. */
int template_rootfs(const char *templates_dir, const char *name, char *out, size_t outlen);
/* Creates the rig's disk image of size_mb (from the pool when it has one of that size). */
int disk_create(const char *data_dir, const char *id, int64_t size_mb);
/* Deletes the rig's disk image (idempotent). */
int disk_delete(const char *data_dir, const char *id);
/* Keeps `count` formatted images of size_mb in the pool; returns how many it made. */
int disk_pool_fill(const char *data_dir, int64_t size_mb, int count);
/* Attaches an image to a free loop device (LOOP_CTL_GET_FREE + LOOP_CONFIGURE, autoclear so the
 * device goes away with its last mount); writes "/dev/loopN" into dev. */
int loop_attach(const char *image, char *dev, size_t devlen, int *loop_fd);
