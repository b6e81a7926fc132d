/* Runs LLVMFuzzerTestOneInput on every file of the directories (or on the files) given as
 * arguments: the corpus replay that the normal test run does without libFuzzer. Each input is a
 * heap buffer of exactly its size, as libFuzzer provides it. Fails when an argument holds no
 * input, so that a wrong path cannot pass silently. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t cap = 4096, n = 0;
        uint8_t *buf = malloc(cap);
        size_t got;
        while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
                n += got;
                if (n == cap) {
                        cap *= 2;
                        uint8_t *nb = realloc(buf, cap);
                        if (!nb)
                                free(buf);
                        buf = nb;
                }
        }
        int err = ferror(f);
        fclose(f);
        if (!buf || err) {
                fprintf(stderr, "replay: %s: read error\n", path);
                free(buf);
                return -1;
        }
        /* Exactly n bytes, so that a read past the end is caught by ASan. */
        uint8_t *exact = malloc(n);
        if (n)
                memcpy(exact, buf, n);
        free(buf);
        printf("replay %s (%zu bytes)\n", path, n);
        fflush(stdout);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
        return 0;
}

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, int *count)
{
        DIR *d = opendir(dir);
        if (!d) {
                fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
                return -1;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char **nn = realloc(names, (n + 1) * sizeof(*names));
                if (!nn)
                        abort();
                names = nn;
                size_t len = strlen(dir) + strlen(de->d_name) + 2;
                names[n] = malloc(len);
                snprintf(names[n], len, "%s/%s", dir, de->d_name);
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp);
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                struct stat s;
                if (stat(names[i], &s) == 0 && S_ISDIR(s.st_mode))
                        r |= replay_dir(names[i], count);
                else if (replay_file(names[i]) == 0)
                        (*count)++;
                else
                        r = -1;
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
                return 2;
        }
        int failed = 0;
        for (int i = 1; i < argc; i++) {
                struct stat s;
                int count = 0;
                if (stat(argv[i], &s) < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        failed = 1;
                        continue;
                }
                if (S_ISDIR(s.st_mode)) {
                        if (replay_dir(argv[i], &count) < 0)
                                failed = 1;
                } else if (replay_file(argv[i]) == 0) {
                        count = 1;
                } else {
                        failed = 1;
                }
                printf("replayed %d inputs from %s\n", count, argv[i]);
                if (count == 0) {
                        fprintf(stderr, "replay: %s holds no input\n", argv[i]);
                        failed = 1;
                }
        }
        return failed;
}
