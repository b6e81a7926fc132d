/* rig-shimctl: drives the "ns" runtime backend and rig shims without rigd, for the end-to-end
 * tests and for poking at a rig by hand. Not installed.
 *
 *   rig-shimctl --data-dir D [--templates-dir T] COMMAND --id ID [options] [-- argv...]
 *
 * COMMAND: create | start | stop | destroy | status | pause | resume | exec | cat | reconcile
 *   create/start: --name N --uid-base U [--stateless] [--cpus C] [--memory-mb M]
 *                 [--max-processes P] [--disk-mb D] [--env K=V]...
 *   stop:         [--stateless]
 *   exec:         [--user user|root] [--cwd P] [--timeout S] [--env K=V]... [--pty] -- argv...
 *                 stdin is forwarded; stdout/stderr come out as they are; the exit status is the
 *                 command's; --result F writes the exit frame's JSON to F. A refusal prints
 *                 "refused: <errno> <message>" and exits 125.
 *   cat:          --path P: prints a file of the rig's root, resolved with RESOLVE_IN_ROOT
 *   bench:        [--timeout N] -- argv: N exec round trips (default 20), 50 ms apart; prints
 *                 min/median/p90 milliseconds as JSON
 *   reconcile:    [--keep ID]... */
#include "base/buf.h"
#include "runtime/runtime.h"
#include "runtime/shimclient.h"

#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>

struct opts {
        const char *data_dir, *templates_dir, *cmd, *result, *path, *user, *cwd;
        struct rig_spec spec;
        bool pty;
        int64_t timeout;
        char **env, **keep;
        size_t nenv, nkeep;
        char **argv;
};

__attribute__((noreturn)) static void die_usage(void)
{
        fprintf(stderr, "usage: rig-shimctl --data-dir D COMMAND --id ID [options] [-- argv]\n");
        exit(2);
}

static void push(char ***v, size_t *n, const char *s)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = (char *)s;
        (*v)[*n] = NULL;
}

/* One option; returns false for an unknown one. */
static bool set_opt(struct opts *o, int c)
{
        switch (c) {
        case 'd':
                o->data_dir = optarg;
                break;
        case 'T':
                o->templates_dir = optarg;
                break;
        case 'i':
                snprintf(o->spec.id, sizeof(o->spec.id), "%s", optarg);
                break;
        case 'n':
                snprintf(o->spec.hostname, sizeof(o->spec.hostname), "%s", optarg);
                break;
        case 'u':
                o->spec.uid_base = (uint32_t)strtoul(optarg, NULL, 10);
                break;
        case 's':
                o->spec.stateless = true;
                break;
        case 'c':
                o->spec.limits.cpus = atof(optarg);
                break;
        case 'm':
                o->spec.limits.memory_mb = atoll(optarg);
                break;
        case 'P':
                o->spec.limits.max_processes = atoll(optarg);
                break;
        case 'D':
                o->spec.limits.disk_mb = atoll(optarg);
                break;
        case 'e':
                push(&o->env, &o->nenv, optarg);
                break;
        case 'U':
                o->user = optarg;
                break;
        case 'C':
                o->cwd = optarg;
                break;
        case 't':
                o->timeout = atoll(optarg);
                break;
        case 'p':
                o->pty = true;
                break;
        case 'r':
                o->result = optarg;
                break;
        case 'f':
                o->path = optarg;
                break;
        case 'k':
                push(&o->keep, &o->nkeep, optarg);
                break;
        default:
                return false;
        }
        return true;
}

static void parse(int argc, char **argv, struct opts *o)
{
        static const struct option lo[] = {
            {"data-dir", 1, 0, 'd'},
            {"templates-dir", 1, 0, 'T'},
            {"id", 1, 0, 'i'},
            {"name", 1, 0, 'n'},
            {"uid-base", 1, 0, 'u'},
            {"stateless", 0, 0, 's'},
            {"cpus", 1, 0, 'c'},
            {"memory-mb", 1, 0, 'm'},
            {"max-processes", 1, 0, 'P'},
            {"disk-mb", 1, 0, 'D'},
            {"env", 1, 0, 'e'},
            {"user", 1, 0, 'U'},
            {"cwd", 1, 0, 'C'},
            {"timeout", 1, 0, 't'},
            {"pty", 0, 0, 'p'},
            {"result", 1, 0, 'r'},
            {"path", 1, 0, 'f'},
            {"keep", 1, 0, 'k'},
            {0},
        };
        o->spec.limits =
            (struct rig_limits){.cpus = 1, .memory_mb = 512, .max_processes = 512, .disk_mb = 1024};
        snprintf(o->spec.template_name, sizeof(o->spec.template_name), "base");
        int c;
        while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
                if (!set_opt(o, c))
                        die_usage();
                /* The command may come first or among the options. */
                if (!o->cmd && optind < argc && argv[optind][0] != '-')
                        o->cmd = argv[optind++];
        }
        if (!o->cmd && optind < argc)
                o->cmd = argv[optind++];
        o->argv = argv + optind;
        if (!o->data_dir || !o->cmd)
                die_usage();
}

static int stream_out(void *ud, char type, const char *p, size_t n)
{
        (void)ud;
        FILE *f = type == SF_STDERR ? stderr : stdout;
        fwrite(p, 1, n, f);
        fflush(f);
        return 0;
}

static json_t *env_object(struct opts *o)
{
        json_t *env = json_object();
        for (size_t i = 0; i < o->nenv; i++) {
                char *eq = strchr(o->env[i], '=');
                if (!eq)
                        continue;
                char *k = xstrndup(o->env[i], (size_t)(eq - o->env[i]));
                json_object_set_new(env, k, json_string(eq + 1));
                free(k);
        }
        return env;
}

static int do_exec(struct runtime *rt, struct opts *o)
{
        if (!o->argv[0])
                die_usage();
        json_t *argv = json_array();
        for (char **a = o->argv; *a; a++)
                json_array_append_new(argv, json_string(*a));
        json_t *req = json_pack("{s:s,s:o,s:o,s:s,s:s,s:I,s:b}", "op", "exec", "argv", argv, "env",
                                env_object(o), "cwd", o->cwd ? o->cwd : "/home/user", "user",
                                o->user ? o->user : "user", "timeout_s", (json_int_t)o->timeout,
                                "pty", o->pty);
        struct buf in = {0};
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
                buf_append(&in, chunk, n);
        int fd = rt->ops->connect(rt, o->spec.id);
        if (fd < 0) {
                fprintf(stderr, "connect: %s\n", strerror(-fd));
                return 125;
        }
        struct shimc_exit ex;
        int r = shimc_exec(fd, req, in.data, in.len, stream_out, NULL, &ex);
        close(fd);
        json_decref(req);
        buf_free(&in);
        if (r < 0) {
                printf("refused: %d %s\n", -r, strerror(-r));
                return 125;
        }
        if (o->result) {
                FILE *f = fopen(o->result, "w");
                if (f) {
                        fprintf(f, "{\"exit_code\":%d,\"timed_out\":%s,\"signal\":%d}\n",
                                ex.exit_code, ex.timed_out ? "true" : "false", ex.signal);
                        fclose(f);
                }
        }
        return ex.exit_code & 0xff;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* bench: N (--timeout) round trips of argv, spaced by 50 ms; prints min/median/p90 in ms. */
static int do_bench(struct runtime *rt, struct opts *o)
{
        int n = o->timeout > 0 ? (int)o->timeout : 20;
        double *ms = xcalloc((size_t)n, sizeof(double));
        for (int i = 0; i < n; i++) {
                json_t *argv = json_array();
                for (char **a = o->argv; *a; a++)
                        json_array_append_new(argv, json_string(*a));
                json_t *req = json_pack("{s:s,s:o}", "op", "exec", "argv", argv);
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                int fd = rt->ops->connect(rt, o->spec.id);
                struct shimc_exit ex;
                int r = fd < 0 ? fd : shimc_exec(fd, req, NULL, 0, NULL, NULL, &ex);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                if (fd >= 0)
                        close(fd);
                json_decref(req);
                if (r < 0) {
                        fprintf(stderr, "bench: %s\n", strerror(-r));
                        free(ms);
                        return 1;
                }
                ms[i] =
                    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
                usleep(50000);
        }
        qsort(ms, (size_t)n, sizeof(double), cmp_double);
        printf("{\"min_ms\":%.3f,\"median_ms\":%.3f,\"p90_ms\":%.3f}\n", ms[0], ms[n / 2],
               ms[n * 9 / 10]);
        free(ms);
        return 0;
}

static int do_cat(struct runtime *rt, struct opts *o)
{
        if (!o->path)
                die_usage();
        int root = rt->ops->root_fd(rt, o->spec.id);
        if (root < 0) {
                fprintf(stderr, "root_fd: %s\n", strerror(-root));
                return 1;
        }
        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        int fd = (int)syscall(SYS_openat2, root, o->path, &how, sizeof(how));
        close(root);
        if (fd < 0) {
                fprintf(stderr, "open %s: %m\n", o->path);
                return 1;
        }
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                fwrite(buf, 1, (size_t)n, stdout);
        close(fd);
        return 0;
}

static int do_status(struct runtime *rt, struct opts *o)
{
        struct rig_status st;
        int r = rt->ops->status(rt, o->spec.id, &st);
        if (r < 0) {
                fprintf(stderr, "status: %s\n", strerror(-r));
                return 1;
        }
        static const char *const names[] = {"missing", "running", "paused"};
        printf("{\"state\":\"%s\",\"init_pid\":%d,\"started_at\":%lld}\n", names[st.state],
               (int)st.init_pid, (long long)st.started_at);
        return 0;
}

static int run(struct runtime *rt, struct opts *o)
{
        const char *c = o->cmd;
        int r = 0;
        if (streq(c, "exec"))
                return do_exec(rt, o);
        if (streq(c, "cat"))
                return do_cat(rt, o);
        if (streq(c, "bench"))
                return do_bench(rt, o);
        if (streq(c, "status"))
                return do_status(rt, o);
        if (streq(c, "create"))
                r = rt->ops->create(rt, &o->spec);
        else if (streq(c, "start"))
                r = rt->ops->start(rt, &o->spec);
        else if (streq(c, "stop"))
                r = rt->ops->stop(rt, o->spec.id, o->spec.stateless);
        else if (streq(c, "destroy"))
                r = rt->ops->destroy(rt, o->spec.id);
        else if (streq(c, "pause"))
                r = rt->ops->pause(rt, o->spec.id);
        else if (streq(c, "resume"))
                r = rt->ops->resume(rt, o->spec.id);
        else if (streq(c, "reconcile"))
                r = rt->ops->reconcile(rt, (const char *const *)o->keep, o->nkeep);
        else
                die_usage();
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", c, strerror(-r));
                return 1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct opts o = {0};
        parse(argc, argv, &o);
        o.spec.env = o.env;
        struct runtime rt;
        int r = runtime_ns_open(o.data_dir, &rt);
        if (r < 0) {
                fprintf(stderr, "runtime: %s\n", strerror(-r));
                return 1;
        }
        if (o.templates_dir)
                snprintf(rt.templates_dir, sizeof(rt.templates_dir), "%s", o.templates_dir);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = run(&rt, &o);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (getenv("RIGS_SHIMCTL_TIME"))
                fprintf(stderr, "time: %.3f ms\n",
                        (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                            (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        runtime_close(&rt);
        free(o.env);
        free(o.keep);
        return r;
}
