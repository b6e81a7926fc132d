#include "rig/config.h"

#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>

void secret_free(char *s)
{
        if (!s)
                return;
        explicit_bzero(s, strlen(s));
        free(s);
}

static const char *env_nonempty(const char *name)
{
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

int config_path(char **out)
{
        const char *xdg = env_nonempty("XDG_CONFIG_HOME");
        /* The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored. */
        if (xdg && xdg[0] == '/') {
                *out = xasprintf("%s/rigs/config.json", xdg);
                return 0;
        }
        const char *home = env_nonempty("HOME");
        if (!home) {
                struct passwd *pw = getpwuid(getuid());
                home = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
        }
        if (!home)
                return -ENOENT;
        *out = xasprintf("%s/.config/rigs/config.json", home);
        return 0;
}

bool url_same(const char *a, const char *b)
{
        if (!a || !b)
                return false;
        size_t la = strlen(a), lb = strlen(b);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (lb > 0 && b[lb - 1] == '/')
                lb--;
        return la == lb && strncasecmp(a, b, la) == 0;
}

static char *json_strdup(json_t *obj, const char *key)
{
        const char *s = json_string_value(json_object_get(obj, key));
        return s && *s ? xstrdup(s) : NULL;
}

/* Reads the file into cfg's file fields; a missing file leaves them NULL. */
static int config_read_file(struct rig_config *cfg)
{
        _cleanup_close_ int fd = open(cfg->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        cfg->file_too_open = (st.st_mode & 077) != 0;
        json_error_t jerr;
        json_t *root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
        if (!root || !json_is_object(root)) {
                json_decref(root);
                return -EBADMSG;
        }
        cfg->file_url = json_strdup(root, "url");
        cfg->file_key = json_strdup(root, "api_key");
        cfg->key_id = json_strdup(root, "key_id");
        /* The parsed copy of the key lives in jansson's memory: wipe it before freeing. */
        json_t *k = json_object_get(root, "api_key");
        if (json_is_string(k))
                explicit_bzero((char *)json_string_value(k), json_string_length(k));
        json_decref(root);
        return 0;
}

int config_load(struct rig_config *cfg)
{
        *cfg = (struct rig_config){0};
        if (config_path(&cfg->path) == 0) {
                int r = config_read_file(cfg);
                if (r < 0)
                        return r;
        }
        const char *env_url = env_nonempty("RIGS_URL");
        if (env_url) {
                cfg->url = xstrdup(env_url);
                cfg->url_from = "RIGS_URL";
        } else if (cfg->file_url) {
                cfg->url = xstrdup(cfg->file_url);
                cfg->url_from = "the config file";
        } else {
                cfg->url = xstrdup(RIG_DEFAULT_URL);
                cfg->url_from = "the default";
        }
        const char *env_key = env_nonempty("RIGS_API_KEY");
        if (env_key) {
                cfg->api_key = xstrdup(env_key);
                cfg->key_from = "RIGS_API_KEY";
        } else if (cfg->file_key && env_url && !url_same(env_url, cfg->file_url)) {
                /* Never send a key saved for one server to another one named by $RIGS_URL. */
                cfg->file_key_ignored = true;
        } else if (cfg->file_key) {
                cfg->api_key = xstrdup(cfg->file_key);
                cfg->key_from = "the config file";
        }
        return 0;
}

/* mkdir -p for the directory part of path; only the last component gets 0700 forced. */
static int mkdir_parents(const char *path)
{
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        for (char *p = dir + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (chmod(dir, 0700) < 0)
                return -errno;
        return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static char *config_render(const char *url, const char *api_key, const char *key_id)
{
        json_t *root = json_object();
        json_object_set_new(root, "url", json_string(url));
        if (api_key)
                json_object_set_new(root, "api_key", json_string(api_key));
        if (key_id)
                json_object_set_new(root, "key_id", json_string(key_id));
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_t *k = json_object_get(root, "api_key");
        if (k)
                explicit_bzero((char *)json_string_value(k), json_string_length(k));
        json_decref(root);
        if (!text)
                abort();
        return text;
}

int config_save(const char *path, const char *url, const char *api_key, const char *key_id)
{
        int r = mkdir_parents(path);
        if (r < 0)
                return r;
        _cleanup_free_ char *tmp = xasprintf("%s.XXXXXX", path);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        char *text = config_render(url, api_key, key_id);
        r = fchmod(fd, 0600) < 0 ? -errno : 0;
        if (r == 0)
                r = write_all(fd, text, strlen(text));
        if (r == 0)
                r = write_all(fd, "\n", 1);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        secret_free(text);
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

void config_free(struct rig_config *cfg)
{
        if (!cfg)
                return;
        free(cfg->path);
        free(cfg->url);
        secret_free(cfg->api_key);
        secret_free(cfg->file_key);
        free(cfg->key_id);
        free(cfg->file_url);
        *cfg = (struct rig_config){0};
}
