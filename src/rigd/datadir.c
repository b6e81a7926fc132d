/* The data directory: the SQLite database and the master secret (0600). */
#include "rigd/rigd.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

int datadir_paths(const char *dir, char *db, size_t dblen, char *key, size_t keylen)
{
        if (snprintf(db, dblen, "%s/rigs.db", dir) >= (int)dblen ||
            snprintf(key, keylen, "%s/secret.key", dir) >= (int)keylen)
                return -ENAMETOOLONG;
        return 0;
}

int datadir_load_secrets(const char *dir, struct secrets *out)
{
        char db[PATH_MAX + 16], key[PATH_MAX + 16];
        int r = datadir_paths(dir, db, sizeof(db), key, sizeof(key));
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        struct stat stt;
        if (fstat(fd, &stt) < 0)
                return -errno;
        if ((stt.st_mode & 077) != 0)
                return -EPERM; /* readable by others: refuse rather than trust a leaked secret */
        uint8_t master[SECRET_KEY_LEN];
        ssize_t n = read(fd, master, sizeof(master));
        if (n != (ssize_t)sizeof(master))
                return -EBADMSG;
        secrets_derive(master, out);
        explicit_bzero(master, sizeof(master));
        return 0;
}
