/* rig cat, rig cp: files inside a rig (GET and PUT /api/rigs/{id}/files?path=P). Bytes stream
 * both ways: downloads are written as they arrive, uploads are read while they are sent. */
#include "rig/cmd_rigs.h"

#include "rig/cli.h"
#include "rig/http.h"
#include "rig/output.h"

#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

/* A directory listing is JSON and kept in memory; beyond this it is not rigd talking. */
#define LISTING_MAX (64u * 1024 * 1024)

static char *files_path(const char *ref, const char *path)
{
        _cleanup_free_ char *p = http_escape(path);
        _cleanup_free_ char *suffix = xasprintf("/files?path=%s", p);
        return rig_path(ref, suffix);
}

static bool is_json(const char *content_type)
{
        return content_type && strncasecmp(content_type, "application/json", 16) == 0;
}

static bool write_fd(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return false;
                p += w;
                n -= (size_t)w;
        }
        return true;
}

/* The last component of a path, without trailing slashes; "" for "/" or "". Caller frees. */
static char *base_name(const char *path)
{
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/')
                n--;
        size_t start = n;
        while (start > 0 && path[start - 1] != '/')
                start--;
        return xstrndup(path + start, n - start);
}

/* Where a download goes, and whether the answer was a directory listing. */
struct sink_to_fd {
        int fd;
        const char *what; /* "standard output" or the file's name, for messages */
        bool decided, listing;
        struct buf json;          /* the listing, when it is one */
        const char *remote;       /* REF:PATH, for the message about a directory */
        bool listing_is_an_error; /* cp: a directory cannot be copied */
};

static bool fd_sink(struct rig_req *x, const char *p, size_t n)
{
        struct sink_to_fd *s = x->ud;
        if (!s->decided) {
                s->decided = true;
                s->listing = is_json(x->content_type);
                if (s->listing && s->listing_is_an_error) {
                        cli_error("%s is a directory: rig cp copies single files (`rig cat %s` "
                                  "lists it)",
                                  s->remote, s->remote);
                        x->sink_exit = RIG_EXIT_REFUSED;
                        return false;
                }
        }
        if (s->listing) {
                if (s->json.len + n > LISTING_MAX) {
                        cli_error("the directory listing is larger than %u MiB", LISTING_MAX >> 20);
                        x->sink_exit = RIG_EXIT_TRANSPORT;
                        return false;
                }
                buf_append(&s->json, p, n);
                return true;
        }
        if (!write_fd(s->fd, p, n)) {
                cli_error("cannot write to %s: %s", s->what, strerror(errno ? errno : EIO));
                x->sink_exit = RIG_EXIT_USAGE;
                return false;
        }
        return true;
}

/* ---- cat ---- */

static int cmp_entry(const void *a, const void *b)
{
        const char *x = json_str(*(json_t *const *)a, "name");
        const char *y = json_str(*(json_t *const *)b, "name");
        return strcmp(x ? x : "", y ? y : "");
}

static int print_dir(json_t *listing)
{
        json_t *entries = json_object_get(listing, "entries");
        if (!json_is_array(entries)) {
                cli_error("the directory listing has no entries array: is RIGS_URL pointing at "
                          "rigd?");
                return RIG_EXIT_TRANSPORT;
        }
        size_t n = json_array_size(entries);
        json_t **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
        for (size_t i = 0; i < n; i++)
                sorted[i] = json_array_get(entries, i);
        qsort(sorted, n, sizeof(*sorted), cmp_entry);
        static const char *const headers[] = {"TYPE", "MODE", "SIZE", "MODIFIED", "NAME"};
        _cleanup_table_ struct table t;
        table_init(&t, ARRAY_SIZE(headers), headers);
        for (size_t i = 0; i < n; i++) {
                json_t *e = sorted[i];
                json_t *mode = json_object_get(e, "mode");
                char *cells[] = {
                    json_display(json_object_get(e, "type")),
                    json_is_integer(mode)
                        ? xasprintf("%04llo", (unsigned long long)json_integer_value(mode) & 07777)
                        : NULL,
                    json_display(json_object_get(e, "size")),
                    json_display(json_object_get(e, "mtime")),
                    json_display(json_object_get(e, "name")),
                };
                table_add_row(&t, cells);
        }
        free(sorted);
        table_print(&t, stdout);
        return RIG_EXIT_OK;
}

static int cmd_cat(struct rig_ctx *ctx, int argc, char **argv)
{
        bool json = false;
        int r = cli_simple(ctx, argc, argv, "NAME|ID PATH", &json);
        if (r >= 0)
                return r;
        const char *ref = argv[optind], *path = argv[optind + 1];
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        _cleanup_free_ char *url = files_path(ref, path);
        struct sink_to_fd s = {.fd = STDOUT_FILENO, .what = "standard output"};
        struct rig_req x = {
            .method = "GET",
            .path = url,
            .accept = "application/octet-stream, application/json",
            .sink = fd_sink,
            .ud = &s,
            .ref = ref,
            .scope = "rigs:instances:control",
            .about = ABOUT_FILE,
        };
        r = rig_req_run(&cn, &x);
        rig_req_free(&x);
        if (r == RIG_EXIT_OK && s.listing) {
                _cleanup_json_ json_t *listing = json_loadb(s.json.data, s.json.len, 0, NULL);
                if (!json_is_object(listing)) {
                        cli_error("the directory listing is not a JSON object: is RIGS_URL "
                                  "pointing at rigd?");
                        r = RIG_EXIT_TRANSPORT;
                } else if (json) {
                        r = print_json(stdout, listing) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
                } else {
                        r = print_dir(listing);
                }
        }
        buf_free(&s.json);
        return r;
}

/* ---- cp ---- */

/* "NAME:PATH" names a file in a rig; a colon after a slash (./a:b) or "-" does not. */
static bool split_remote(const char *s, char **ref, const char **path)
{
        const char *colon = strchr(s, ':');
        if (!colon || colon == s || memchr(s, '/', (size_t)(colon - s)))
                return false;
        *ref = xstrndup(s, (size_t)(colon - s));
        *path = colon + 1;
        return true;
}

struct upload {
        FILE *f;
        int64_t size; /* -1: unknown */
        char *target; /* the path in the rig */
};

static void upload_close(struct upload *u)
{
        if (u->f && u->f != stdin)
                fclose(u->f);
        free(u->target);
}

/* Opens the local side of an upload and settles the path in the rig. */
static int upload_open(struct rig_ctx *ctx, const char *src, const char *rpath, struct upload *u)
{
        *u = (struct upload){.size = -1};
        bool from_stdin = streq(src, "-");
        size_t rlen = strlen(rpath);
        if (rlen == 0 || rpath[rlen - 1] == '/') {
                if (from_stdin)
                        return cli_usage(ctx, "name the file in the rig: NAME:PATH, not NAME:%s",
                                         rpath);
                _cleanup_free_ char *base = base_name(src);
                u->target = xasprintf("%s%s", rpath, base);
        } else {
                u->target = xstrdup(rpath);
        }
        u->f = from_stdin ? stdin : fopen(src, "rbe");
        if (!u->f) {
                cli_error("cannot open %s: %s", src, strerror(errno));
                return RIG_EXIT_USAGE;
        }
        struct stat st;
        if (fstat(fileno(u->f), &st) < 0) {
                cli_error("cannot read %s: %s", from_stdin ? "standard input" : src,
                          strerror(errno));
                return RIG_EXIT_USAGE;
        }
        if (S_ISDIR(st.st_mode)) {
                cli_error("%s is a directory: rig cp copies single files", src);
                return RIG_EXIT_USAGE;
        }
        if (S_ISREG(st.st_mode)) {
                off_t at = from_stdin ? lseek(STDIN_FILENO, 0, SEEK_CUR) : 0;
                if (at >= 0 && at <= st.st_size)
                        u->size = st.st_size - at;
        }
        return -1;
}

static int cp_up(struct rig_conn *cn, const char *ref, struct upload *u)
{
        _cleanup_free_ char *url = files_path(ref, u->target);
        struct rig_req x = {
            .method = "PUT",
            .path = url,
            .upload = u->f,
            .upload_size = u->size,
            .ref = ref,
            .scope = "rigs:instances:control",
            .about = ABOUT_FILE,
        };
        int r = rig_req_run(cn, &x);
        rig_req_free(&x);
        return r;
}

/* A download into a temporary file beside the target, renamed over it once complete. */
struct download {
        char *target; /* NULL for standard output */
        char *tmp;
        int fd;
};

static void download_close(struct download *d)
{
        if (d->fd >= 0 && d->fd != STDOUT_FILENO)
                close(d->fd);
        if (d->tmp)
                unlink(d->tmp);
        free(d->tmp);
        free(d->target);
}

static int download_open(struct rig_ctx *ctx, const char *dst, const char *rpath,
                         struct download *d)
{
        *d = (struct download){.fd = -1};
        if (streq(dst, "-")) {
                d->fd = STDOUT_FILENO;
                return -1;
        }
        struct stat st;
        size_t n = strlen(dst);
        if ((stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) || (n && dst[n - 1] == '/')) {
                _cleanup_free_ char *base = base_name(rpath);
                if (!*base)
                        return cli_usage(ctx, "name the local file: %s is a directory", dst);
                d->target = xasprintf("%s%s%s", dst, n && dst[n - 1] == '/' ? "" : "/", base);
        } else {
                d->target = xstrdup(dst);
        }
        _cleanup_free_ char *base = base_name(d->target);
        const char *slash = strrchr(d->target, '/');
        _cleanup_free_ char *dir =
            slash ? xstrndup(d->target, (size_t)(slash - d->target) + 1) : xstrdup("");
        d->tmp = xasprintf("%s.%s.rig-XXXXXX", dir, base);
        d->fd = mkostemp(d->tmp, O_CLOEXEC);
        if (d->fd < 0) {
                cli_error("cannot create %s: %s", d->target, strerror(errno));
                free(d->tmp);
                d->tmp = NULL;
                return RIG_EXIT_USAGE;
        }
        return -1;
}

/* Gives the finished temporary file the target's mode (or the umask's) and its name. */
static int download_finish(struct download *d)
{
        if (!d->target)
                return RIG_EXIT_OK;
        struct stat st;
        mode_t mode;
        if (stat(d->target, &st) == 0 && S_ISREG(st.st_mode)) {
                mode = st.st_mode & 07777;
        } else {
                mode_t mask = umask(0);
                umask(mask);
                mode = 0666 & ~mask;
        }
        int fd = TAKE_FD(d->fd);
        if (fchmod(fd, mode) < 0 || close(fd) < 0 || rename(d->tmp, d->target) < 0) {
                cli_error("cannot write %s: %s", d->target, strerror(errno));
                return RIG_EXIT_USAGE;
        }
        free(TAKE_PTR(d->tmp));
        return RIG_EXIT_OK;
}

static int cp_down(struct rig_conn *cn, const char *ref, const char *rpath, const char *src,
                   struct download *d)
{
        _cleanup_free_ char *url = files_path(ref, rpath);
        struct sink_to_fd s = {
            .fd = d->fd,
            .what = d->target ? d->target : "standard output",
            .remote = src,
            .listing_is_an_error = true,
        };
        struct rig_req x = {
            .method = "GET",
            .path = url,
            .accept = "application/octet-stream, application/json",
            .sink = fd_sink,
            .ud = &s,
            .ref = ref,
            .scope = "rigs:instances:control",
            .about = ABOUT_FILE,
        };
        int r = rig_req_run(cn, &x);
        rig_req_free(&x);
        buf_free(&s.json);
        if (r == RIG_EXIT_OK)
                r = download_finish(d);
        return r;
}

static int cmd_cp(struct rig_ctx *ctx, int argc, char **argv)
{
        int r = cli_simple(ctx, argc, argv, "SRC DST", NULL);
        if (r >= 0)
                return r;
        const char *src = argv[optind], *dst = argv[optind + 1];
        _cleanup_free_ char *sref = NULL, *dref = NULL;
        const char *spath = NULL, *dpath = NULL;
        bool up = split_remote(dst, &dref, &dpath);
        bool down = split_remote(src, &sref, &spath);
        if (up && down)
                return cli_usage(ctx, "both SRC and DST are in rigs: copy through a local file");
        if (!up && !down)
                return cli_usage(ctx, "one of SRC and DST must be a file in a rig, NAME:PATH");
        if (down && !*spath)
                return cli_usage(ctx, "name the file in the rig: %s:PATH", sref);
        if (up) {
                _cleanup_(upload_close) struct upload u = {0};
                r = upload_open(ctx, src, dpath, &u);
                if (r >= 0)
                        return r;
                _cleanup_(rig_conn_close) struct rig_conn cn = {0};
                r = rig_conn_open(ctx, &cn);
                if (r != RIG_EXIT_OK)
                        return r;
                return cp_up(&cn, dref, &u);
        }
        _cleanup_(download_close) struct download d = {.fd = -1};
        r = download_open(ctx, dst, spath, &d);
        if (r >= 0)
                return r;
        _cleanup_(rig_conn_close) struct rig_conn cn = {0};
        r = rig_conn_open(ctx, &cn);
        if (r != RIG_EXIT_OK)
                return r;
        return cp_down(&cn, sref, spath, src, &d);
}

/* ---- manual pages ---- */

static const struct rig_help_opt cat_opts_help[] = {
    {"--json", "When PATH is a directory, print the server's listing as indented JSON."},
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help cat_help = {
    .synopsis = "cat NAME|ID PATH [--json]",
    .description = "Writes a file of a rig to standard output as it streams (GET "
                   "/api/rigs/ID/files?path=PATH), bytes unchanged. When PATH is a directory, "
                   "prints its listing instead: TYPE (file, dir, symlink, other), MODE, SIZE, "
                   "MODIFIED and NAME, sorted by name.\n\n"
                   "PATH is resolved inside the rig: a relative path starts at /home/user, and "
                   "neither `..` nor symlinks lead out of the rig (such a path is refused as "
                   "invalid). The rig must be running or paused. Needs rigs:instances:control.",
    .options = cat_opts_help,
    .examples = "  rig cat web /etc/os-release\n"
                "  rig cat web /home/user\n"
                "  rig cat web notes.txt | less",
    .talks_to_server = true,
};

static const struct rig_help_opt help_only_opts[] = {
    {"-h, --help", "Print this manual page."},
    {NULL, NULL},
};

static const struct rig_help cp_help = {
    .synopsis = "cp SRC DST",
    .description =
        "Copies one file into or out of a rig. Exactly one of SRC and DST is NAME:PATH (a rig's "
        "name or id, a colon, a path in the rig; a relative PATH starts at /home/user); the "
        "other is a local path, or `-` for standard input or output.\n\n"
        "Upload (DST is NAME:PATH): the local file's bytes are sent as they are read (PUT "
        "/api/rigs/ID/files?path=PATH); missing parent directories are created and the file "
        "belongs to the rig's `user`. A PATH ending in '/' (or empty) takes the local file's "
        "name.\n\n"
        "Download (SRC is NAME:PATH): the bytes are written as they arrive into a temporary "
        "file beside DST, which becomes DST only once complete; DST keeps its mode when it "
        "exists. When DST is a directory the file keeps its name. Directories are not copied.\n\n"
        "Local paths containing a colon are written with a slash before it (./a:b). The rig must "
        "be running or paused. Needs rigs:instances:control.",
    .options = help_only_opts,
    .examples = "  rig cp ./app.tar.gz web:\n"
                "  rig cp ./config.toml web:/home/user/app/\n"
                "  rig cp web:/etc/os-release .\n"
                "  tar cz src | rig cp - web:src.tar.gz\n"
                "  rig cp web:/home/user/report.pdf - > report.pdf",
    .talks_to_server = true,
};

const struct rig_cmd rig_cmd_cat = {
    .name = "cat",
    .summary = "print a file of a rig, or list a directory",
    .run = cmd_cat,
    .help = &cat_help,
};

const struct rig_cmd rig_cmd_cp = {
    .name = "cp",
    .summary = "copy a file into or out of a rig",
    .run = cmd_cp,
    .help = &cp_help,
};
