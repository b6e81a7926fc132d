/* GET/PUT/DELETE /api/rigs/{id}/files?path=P: files inside a rig, resolved in its root. */
#include "rigd/api.h"

#include "core/rigfs.h"
#include "rigd/rigsvc.h"

#include <stdio.h>
#include <sys/stat.h>

#define FILE_CHUNK (64u * 1024)

struct file_stream {
        h2o_generator_t gen;
        int fd;
        off_t off, size;
        char buf[FILE_CHUNK];
};

static void file_stream_dispose(void *arg)
{
        struct file_stream *fs = arg;
        if (fs->fd >= 0)
                close(fs->fd);
        fs->fd = -1;
}

static void file_stream_send(struct file_stream *fs, h2o_req_t *req)
{
        ssize_t n = pread(fs->fd, fs->buf, sizeof(fs->buf), fs->off);
        if (n < 0)
                n = 0; /* the client sees a short body; nothing better can be said mid-stream */
        fs->off += n;
        h2o_iovec_t iov = h2o_iovec_init(fs->buf, (size_t)n);
        bool last = n == 0 || fs->off >= fs->size;
        h2o_send(req, &iov, 1, last ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void file_stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
        file_stream_send(H2O_STRUCT_FROM_MEMBER(struct file_stream, gen, gen), req);
}

static void file_stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
        struct file_stream *fs = H2O_STRUCT_FROM_MEMBER(struct file_stream, gen, gen);
        file_stream_dispose(fs);
}

static void reply_fs_error(struct reqctx *c, int r, const char *path)
{
        switch (r) {
        case -ENOENT:
        case -ENOTDIR:
                reply_error(c, 404, "not_found", "no such file in the rig: %s", path);
                return;
        case -EOVERFLOW:
                reply_error(
                    c, 400, "invalid_path",
                    "%s is on a filesystem of the rig's own namespace (such as /tmp), which "
                    "the files API cannot write; write under /home/user or use exec",
                    path);
                return;
        case -EXDEV:
        case -ELOOP:
        case -EINVAL:
        case -ENAMETOOLONG:
                reply_error(c, 400, "invalid_path",
                            "path %s is not allowed: it leaves the rig, crosses a symlink at its "
                            "end, or names a special file or filesystem",
                            path);
                return;
        case -EISDIR:
                reply_error(c, 409, "conflict", "%s is a directory", path);
                return;
        case -ENOTEMPTY:
                reply_error(c, 409, "conflict", "directory %s is not empty", path);
                return;
        case -ENOSPC:
        case -EDQUOT:
                reply_error(c, 422, "quota_exceeded", "the rig's disk is full");
                return;
        default:
                reply_errno(c, r, "file");
        }
}

/* Common prelude: the rig, its root fd and the normalised path. Replies itself on failure. */
static int files_prelude(struct reqctx *c, struct rig *r, int *rootfd, char *path, size_t plen)
{
        struct rigsvc *s = c->d->rigs;
        if (!s->ready) {
                reply_error(c, 503, "unavailable", "%s", s->why);
                return -EAGAIN;
        }
        if (rig_from_path(c, r) < 0)
                return -ENOENT;
        char raw[RIGFS_PATH_MAX + 1];
        int n = query_get(c, "path", raw, sizeof(raw));
        if (n <= 0 || rigfs_normalize(raw, path, plen) < 0) {
                reply_error(c, 400, "invalid_request",
                            "query parameter 'path' is required (an absolute path in the rig)");
                return -EINVAL;
        }
        if (r->state != RIG_RUNNING && r->state != RIG_PAUSED) {
                reply_error(c, 409, "conflict", "the rig is %s; start it first",
                            rig_state_name(r->state));
                return -EBUSY;
        }
        *rootfd = s->rt.ops->root_fd(&s->rt, r->id);
        if (*rootfd < 0) {
                reply_error(c, 409, "conflict", "the rig is not running");
                return *rootfd;
        }
        return 0;
}

static void list_dir(struct reqctx *c, int fd, const char *path)
{
        struct rigfs_entry *e = NULL;
        size_t n = 0;
        int r = rigfs_list(fd, &e, &n);
        if (r < 0) {
                reply_fs_error(c, r, path);
                return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(
                    items, json_pack("{s:s,s:s,s:I,s:I,s:o}", "name", e[i].name, "type", e[i].type,
                                     "size", (json_int_t)e[i].size, "mode", (json_int_t)e[i].mode,
                                     "mtime", json_time(e[i].mtime)));
        free(e);
        reply_json(c, 200, json_pack("{s:s,s:o}", "path", path, "entries", items));
}

void api_files_get(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        char path[RIGFS_PATH_MAX + 1];
        _cleanup_close_ int rootfd = -1;
        if (files_prelude(c, &r, &rootfd, path, sizeof(path)) < 0)
                return;
        int fd;
        struct stat st;
        int ret = rigfs_open(rootfd, path, &fd, &st);
        if (ret < 0) {
                reply_fs_error(c, ret, path);
                return;
        }
        if (S_ISDIR(st.st_mode)) {
                list_dir(c, fd, path);
                close(fd);
                return;
        }
        struct file_stream *fs =
            h2o_mem_alloc_shared(&c->req->pool, sizeof(*fs), file_stream_dispose);
        fs->fd = fd;
        fs->off = 0;
        fs->size = st.st_size;
        fs->gen.proceed = file_stream_proceed;
        fs->gen.stop = file_stream_stop;
        c->req->res.content_length = (size_t)st.st_size;
        reply_stream_begin(c, 200, "application/octet-stream");
        h2o_start_response(c->req, &fs->gen);
        file_stream_send(fs, c->req);
}

void api_files_put(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        char path[RIGFS_PATH_MAX + 1];
        _cleanup_close_ int rootfd = -1;
        if (files_prelude(c, &r, &rootfd, path, sizeof(path)) < 0)
                return;
        h2o_iovec_t body = c->req->entity;
        if (body.len > c->d->cfg.max_upload_mb * 1048576) {
                reply_error(c, 413, "too_large", "uploads are limited to %llu MiB",
                            (unsigned long long)c->d->cfg.max_upload_mb);
                return;
        }
        /* Files the API creates belong to the rig's `user` (uid 1000 inside). */
        uid_t uid = r.uid_base + 1000;
        int ret = rigfs_write(rootfd, path, body.base ? body.base : "", body.len, uid, uid);
        if (ret == -EOVERFLOW) {
                /* A filesystem of the rig's own user namespace (its /tmp): write from inside. */
                struct rigsvc *s = c->d->rigs;
                _cleanup_close_ int ns = s->rt.ops->userns_fd(&s->rt, r.id);
                ret = ns < 0 ? ns
                             : rigfs_write_userns(ns, rootfd, path, body.base ? body.base : "",
                                                  body.len, 1000, 1000);
        }
        if (ret < 0) {
                reply_fs_error(c, ret, path);
                return;
        }
        reply_json(c, 200, json_pack("{s:s,s:I}", "path", path, "size", (json_int_t)body.len));
}

void api_files_delete(struct reqctx *c)
{
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        char path[RIGFS_PATH_MAX + 1];
        _cleanup_close_ int rootfd = -1;
        if (files_prelude(c, &r, &rootfd, path, sizeof(path)) < 0)
                return;
        int ret = rigfs_delete(rootfd, path);
        if (ret < 0) {
                reply_fs_error(c, ret, path);
                return;
        }
        reply_empty(c, 204);
}
