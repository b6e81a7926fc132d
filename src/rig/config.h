/* Where rig finds its server and key: $RIGS_URL / $RIGS_API_KEY, else the config file that
 * `rig login` writes ($XDG_CONFIG_HOME/rigs/config.json or ~/.config/rigs/config.json). */
#pragma once

#include "base/util.h"

#define RIG_DEFAULT_URL "http://127.0.0.1:7070"

struct rig_config {
        char *path;            /* the config file's path; NULL when neither XDG nor HOME is known */
        char *url;             /* effective server URL, never NULL after config_load */
        char *api_key;         /* effective key or NULL; wiped on free */
        char *file_key;        /* the key saved in the file, or NULL; wiped on free */
        char *key_id;          /* id of the saved key when `rig login` created it, else NULL */
        char *file_url;        /* the URL stored in the file, or NULL */
        const char *url_from;  /* "RIGS_URL", "the config file" or "the default" */
        const char *key_from;  /* "RIGS_API_KEY" or "the config file"; NULL without a key */
        bool file_key_ignored; /* the file has a key, but for another URL than $RIGS_URL */
        bool file_too_open;    /* the file is readable or writable by group or others */
};

/* Computes the config file path into *out (caller frees). -ENOENT if neither $XDG_CONFIG_HOME
 * nor a home directory is known. */
int config_path(char **out);

/* Fills cfg from the environment and the file. A missing file is not an error; -EBADMSG when
 * the file is not a JSON object, other -errno when it cannot be read. cfg->url is always set
 * when this returns 0. */
int config_load(struct rig_config *cfg);

/* Writes {url, api_key?, key_id?} to path atomically with mode 0600, creating its directory
 * with mode 0700. Returns 0 or -errno. */
int config_save(const char *path, const char *url, const char *api_key, const char *key_id);

/* Frees what cfg owns, wiping the key. Accepts NULL. */
void config_free(struct rig_config *cfg);

/* Wipes and frees a secret string. Accepts NULL. */
void secret_free(char *s);

/* Two URLs name the same server (ignores trailing slashes). */
bool url_same(const char *a, const char *b);
