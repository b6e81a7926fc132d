/* rigd: the Rigs daemon and its host commands. */
#include "rigd/commands.h"
#include "rigd/http.h"
#include "runtime/runtime.h"

#include "base/log.h"

#include <ctype.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>

static const char usage_text[] =
    "NAME\n"
    "    rigd - the Rigs daemon and its host commands\n"
    "\n"
    "SYNOPSIS\n"
    "    rigd init [--data-dir D] [--email E] [--password-file F]\n"
    "    rigd serve [--data-dir D] [--listen ADDR:PORT] [OPTIONS]\n"
    "    rigd audit verify [--data-dir D]\n"
    "    rigd routes\n"
    "    rigd --version | --help\n"
    "\n"
    "DESCRIPTION\n"
    "    init creates the data directory, the first admin user, org and project \"default\",\n"
    "    and prints the admin API key once: the last line of standard output is the bare key.\n"
    "    Run on an initialised directory it exits 1 and changes nothing.\n"
    "\n"
    "    serve runs the HTTP API in the foreground, one event loop per core, logging to\n"
    "    standard error. SIGTERM or SIGINT stops accepting, finishes in-flight requests and\n"
    "    exits 0.\n"
    "\n"
    "    audit verify recomputes the audit log's hash chain; it exits 0 when intact and 1\n"
    "    naming the first entry that was changed, removed or reordered.\n"
    "\n"
    "    routes prints every served endpoint as \"METHOD PATH\".\n"
    "\n"
    "OPTIONS (serve)\n"
    "    --data-dir D           data directory (default $RIGS_DATA_DIR or /var/lib/rigs)\n"
    "    --listen ADDR:PORT     API address (default $RIGS_LISTEN or 127.0.0.1:7070)\n"
    "    --threads N            event loops (default: one per core)\n"
    "    --rate-limit CLASS=N   requests per minute for auth|rigs|apps|other; 0 disables\n"
    "                           (defaults auth=120 rigs=180 apps=240 other=600); repeatable\n"
    "    --allowed-origin O     extra Origin accepted for cookie-authenticated requests;\n"
    "                           repeatable\n"
    "    --max-connections N    open client connections (default 4096)\n"
    "    --max-upload-mb N      file upload limit (default 1024)\n"
    "    --header-timeout-ms N  time a client has to send a request's headers (default\n"
    "                           10000); idle keep-alive connections close after it too\n"
    "    --templates-dir D      where <name>/rootfs templates live (default\n"
    "                           /var/cache/rigs/templates, built by scripts/build-template.sh)\n"
    "    --quota-project-rigs N rigs per project (default 100)\n"
    "    --quota-project-memory-mb N\n"
    "                           total memory_mb of a project's rigs (default 262144)\n"
    "    --pty-idle-timeout S   a terminal session with no input or output for S seconds\n"
    "                           ends (default 1800; 0: never)\n"
    "    --bridge NAME          the rigs' bridge, which also names rigd's nftables tables\n"
    "                           (default rigs0); one rigd per bridge\n"
    "    --rig-subnet CIDR      the rigs' addresses, /16 to /29 (default 10.213.0.0/16); serve\n"
    "                           refuses to start when a host route or address overlaps it\n"
    "    --allow-resolver IP[:PORT]\n"
    "                           DNS server for host names in egress allow lists (default:\n"
    "                           the host's /etc/resolv.conf)\n"
    "    --no-network           rigs get loopback only: no bridge, addresses or rules\n"
    "    --apps-listen ADDR:PORT|off\n"
    "                           the app router, plain HTTP (default 127.0.0.1:7080)\n"
    "    --apps-tls-listen ADDR:PORT\n"
    "                           the app router over HTTPS; needs --tls-cert and --tls-key\n"
    "    --tls-cert FILE, --tls-key FILE\n"
    "                           PEM certificate chain and private key for the HTTPS router\n"
    "                           (a wildcard certificate for *.DOMAIN)\n"
    "    --apps-domain DOMAIN   apps are served at NAME.DOMAIN (default rigs.localhost)\n"
    "    --apps-url-port N      port written into app URLs when clients reach the router on a\n"
    "                           port other than 80/443 (default: none)\n"
    "    --ssh-listen, --ai-upstream PROVIDER=URL\n"
    "                           edge settings (SSH gateway, AI proxy); accepted now, served by\n"
    "                           the releases that ship those edges\n"
    "\n"
    "ENVIRONMENT\n"
    "    RIGS_DATA_DIR, RIGS_LISTEN\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 1 failure (already initialised, broken audit chain, cannot start);\n"
    "    2 usage error.\n";

static void usage(FILE *f)
{
        fputs(usage_text, f);
}

static const char *default_data_dir(void)
{
        const char *e = getenv("RIGS_DATA_DIR");
        return e && *e ? e : "/var/lib/rigs";
}

static int parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port_out)
{
        const char *colon = strrchr(s, ':');
        if (!colon || colon == s || !colon[1])
                return -EINVAL;
        char *end;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (*end || port == 0 || port > 65535)
                return -EINVAL;
        const char *h = s;
        size_t hl = (size_t)(colon - s);
        if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
                h++, hl -= 2;
        if (hl == 0 || hl >= hostlen)
                return -EINVAL;
        memcpy(host, h, hl);
        host[hl] = '\0';
        *port_out = (uint16_t)port;
        return 0;
}

static int parse_listen(const char *s, struct rigd_config *cfg)
{
        return parse_hostport(s, cfg->listen_host, sizeof(cfg->listen_host), &cfg->listen_port);
}

/* A DNS name of labels [a-z0-9-] (lowercased), for --apps-domain. */
static int parse_domain(const char *s, char *out, size_t outlen)
{
        size_t n = strlen(s);
        if (n == 0 || n >= outlen || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
                return -EINVAL;
        for (size_t i = 0; i <= n; i++) {
                char ch = (char)tolower((unsigned char)s[i]);
                if (ch && !(isalnum((unsigned char)ch) || ch == '-' || ch == '.'))
                        return -EINVAL;
                out[i] = ch;
        }
        return 0;
}

static int parse_uint(const char *s, long lo, long hi, long *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || !*s || v < lo || v > hi)
                return -EINVAL;
        *out = v;
        return 0;
}

enum {
        OPT_TEMPLATES = 900,
        OPT_QUOTA_RIGS,
        OPT_QUOTA_MEM,
        OPT_PTY_IDLE,
        OPT_BRIDGE,
        OPT_RIG_SUBNET,
        OPT_ALLOW_RESOLVER,
        OPT_NO_NETWORK,
        OPT_APPS_LISTEN,
        OPT_APPS_TLS_LISTEN,
        OPT_TLS_CERT,
        OPT_TLS_KEY,
        OPT_APPS_DOMAIN,
        OPT_APPS_URL_PORT,
        OPT_DATA_DIR = 1000,
        OPT_LISTEN,
        OPT_THREADS,
        OPT_RATE,
        OPT_ORIGIN,
        OPT_MAXCONN,
        OPT_UPLOAD,
        OPT_HDR_TIMEOUT,
        OPT_EMAIL,
        OPT_PWFILE,
        OPT_EDGE,
};

static int serve_option(int opt, const char *arg, struct rigd_config *cfg)
{
        long v;
        switch (opt) {
        case OPT_DATA_DIR:
                snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", arg);
                return 0;
        case OPT_LISTEN:
                return parse_listen(arg, cfg);
        case OPT_THREADS:
                if (parse_uint(arg, 1, 256, &v) < 0)
                        return -EINVAL;
                cfg->threads = (int)v;
                return 0;
        case OPT_RATE:
                return rl_parse_setting(arg, cfg->rate);
        case OPT_ORIGIN:
                if (cfg->n_origins == RIGD_MAX_ORIGINS)
                        return -E2BIG;
                cfg->origins[cfg->n_origins++] = (char *)arg;
                return 0;
        case OPT_MAXCONN:
                if (parse_uint(arg, 1, 1000000, &v) < 0)
                        return -EINVAL;
                cfg->max_connections = (int)v;
                return 0;
        case OPT_UPLOAD:
                if (parse_uint(arg, 1, 1048576, &v) < 0)
                        return -EINVAL;
                cfg->max_upload_mb = (uint64_t)v;
                return 0;
        case OPT_HDR_TIMEOUT:
                if (parse_uint(arg, 100, 3600000, &v) < 0)
                        return -EINVAL;
                cfg->header_timeout_ms = (int)v;
                return 0;
        case OPT_EDGE:
                return 0;
        case OPT_APPS_LISTEN:
                if (!strcmp(arg, "off")) {
                        cfg->apps_port = 0;
                        return 0;
                }
                return parse_hostport(arg, cfg->apps_host, sizeof(cfg->apps_host), &cfg->apps_port);
        case OPT_APPS_TLS_LISTEN:
                return parse_hostport(arg, cfg->apps_tls_host, sizeof(cfg->apps_tls_host),
                                      &cfg->apps_tls_port);
        case OPT_TLS_CERT:
                return snprintf(cfg->tls_cert, sizeof(cfg->tls_cert), "%s", arg) <
                               (int)sizeof(cfg->tls_cert)
                           ? 0
                           : -EINVAL;
        case OPT_TLS_KEY:
                return snprintf(cfg->tls_key, sizeof(cfg->tls_key), "%s", arg) <
                               (int)sizeof(cfg->tls_key)
                           ? 0
                           : -EINVAL;
        case OPT_APPS_DOMAIN:
                return parse_domain(arg, cfg->apps_domain, sizeof(cfg->apps_domain));
        case OPT_APPS_URL_PORT:
                if (parse_uint(arg, 0, 65535, &v) < 0)
                        return -EINVAL;
                cfg->apps_url_port = (uint16_t)v;
                return 0;
        case OPT_TEMPLATES:
                snprintf(cfg->templates_dir, sizeof(cfg->templates_dir), "%s", arg);
                return 0;
        case OPT_QUOTA_RIGS:
                if (parse_uint(arg, 0, 1000000, &v) < 0)
                        return -EINVAL;
                cfg->quota_project_rigs = v;
                return 0;
        case OPT_BRIDGE:
                return snprintf(cfg->bridge, sizeof(cfg->bridge), "%s", arg) <
                               (int)sizeof(cfg->bridge)
                           ? 0
                           : -EINVAL;
        case OPT_RIG_SUBNET:
                return snprintf(cfg->rig_subnet, sizeof(cfg->rig_subnet), "%s", arg) <
                               (int)sizeof(cfg->rig_subnet)
                           ? 0
                           : -EINVAL;
        case OPT_ALLOW_RESOLVER:
                return snprintf(cfg->allow_resolver, sizeof(cfg->allow_resolver), "%s", arg) <
                               (int)sizeof(cfg->allow_resolver)
                           ? 0
                           : -EINVAL;
        case OPT_NO_NETWORK:
                cfg->no_network = true;
                return 0;
        case OPT_QUOTA_MEM:
                if (parse_uint(arg, 0, 1L << 40, &v) < 0)
                        return -EINVAL;
                cfg->quota_project_memory_mb = v;
                return 0;
        case OPT_PTY_IDLE:
                if (parse_uint(arg, 0, 7 * 86400, &v) < 0)
                        return -EINVAL;
                cfg->pty_idle_s = (int)v;
                return 0;
        default:
                return -EINVAL;
        }
}

static int cmd_serve(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data-dir", required_argument, NULL, OPT_DATA_DIR},
            {"listen", required_argument, NULL, OPT_LISTEN},
            {"threads", required_argument, NULL, OPT_THREADS},
            {"rate-limit", required_argument, NULL, OPT_RATE},
            {"allowed-origin", required_argument, NULL, OPT_ORIGIN},
            {"max-connections", required_argument, NULL, OPT_MAXCONN},
            {"max-upload-mb", required_argument, NULL, OPT_UPLOAD},
            {"header-timeout-ms", required_argument, NULL, OPT_HDR_TIMEOUT},
            {"templates-dir", required_argument, NULL, OPT_TEMPLATES},
            {"quota-project-rigs", required_argument, NULL, OPT_QUOTA_RIGS},
            {"quota-project-memory-mb", required_argument, NULL, OPT_QUOTA_MEM},
            {"pty-idle-timeout", required_argument, NULL, OPT_PTY_IDLE},
            {"bridge", required_argument, NULL, OPT_BRIDGE},
            {"rig-subnet", required_argument, NULL, OPT_RIG_SUBNET},
            {"allow-resolver", required_argument, NULL, OPT_ALLOW_RESOLVER},
            {"no-network", no_argument, NULL, OPT_NO_NETWORK},
            {"apps-listen", required_argument, NULL, OPT_APPS_LISTEN},
            {"apps-tls-listen", required_argument, NULL, OPT_APPS_TLS_LISTEN},
            {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
            {"tls-key", required_argument, NULL, OPT_TLS_KEY},
            {"apps-domain", required_argument, NULL, OPT_APPS_DOMAIN},
            {"apps-url-port", required_argument, NULL, OPT_APPS_URL_PORT},
            {"ssh-listen", required_argument, NULL, OPT_EDGE},
            {"ai-upstream", required_argument, NULL, OPT_EDGE},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        struct rigd_config cfg = {
            .threads = (int)sysconf(_SC_NPROCESSORS_ONLN),
            .rate = {[RL_AUTH] = 120, [RL_RIGS] = 180, [RL_APPS] = 240, [RL_OTHER] = 600},
            .max_connections = 4096,
            .max_upload_mb = 1024,
            .header_timeout_ms = 10000,
            .templates_dir = RIGS_TEMPLATES_DIR,
            .quota_project_rigs = 100,
            .quota_project_memory_mb = 262144,
            .pty_idle_s = 1800,
            .apps_host = "127.0.0.1",
            .apps_port = 7080,
            .apps_domain = "rigs.localhost",
        };
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", default_data_dir());
        const char *listen = getenv("RIGS_LISTEN");
        if (parse_listen(listen && *listen ? listen : "127.0.0.1:7070", &cfg) < 0) {
                fprintf(stderr, "rigd serve: RIGS_LISTEN must be ADDR:PORT\n");
                return 2;
        }
        int opt;
        while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (opt == 'h') {
                        usage(stdout);
                        return 0;
                }
                if (opt == '?' || serve_option(opt, optarg, &cfg) < 0) {
                        for (const struct option *o = opts; opt != '?' && o->name; o++)
                                if (o->val == opt) {
                                        fprintf(stderr, "rigd serve: invalid value '%s' for --%s\n",
                                                optarg, o->name);
                                        break;
                                }
                        fprintf(stderr, "Try 'rigd --help'.\n");
                        return 2;
                }
        }
        if (cfg.threads < 1)
                cfg.threads = 1;
        if (cfg.apps_tls_port && (!cfg.tls_cert[0] || !cfg.tls_key[0])) {
                fprintf(stderr, "rigd serve: --apps-tls-listen needs --tls-cert and --tls-key\n"
                                "Try 'rigd --help'.\n");
                return 2;
        }
        return rigd_serve(&cfg);
}

static int cmd_init_main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data-dir", required_argument, NULL, OPT_DATA_DIR},
            {"email", required_argument, NULL, OPT_EMAIL},
            {"password-file", required_argument, NULL, OPT_PWFILE},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *dir = default_data_dir(), *email = "admin@localhost", *pwfile = NULL;
        int opt;
        while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (opt) {
                case OPT_DATA_DIR:
                        dir = optarg;
                        break;
                case OPT_EMAIL:
                        email = optarg;
                        break;
                case OPT_PWFILE:
                        pwfile = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "Try 'rigd --help'.\n");
                        return 2;
                }
        }
        if (!strchr(email, '@')) {
                fprintf(stderr, "rigd init: --email must be an email address\n");
                return 2;
        }
        return cmd_init(dir, email, pwfile);
}

static int cmd_audit(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data-dir", required_argument, NULL, OPT_DATA_DIR},
            {0},
        };
        if (argc < 2 || !streq(argv[1], "verify")) {
                fprintf(stderr, "usage: rigd audit verify [--data-dir D]\n");
                return 2;
        }
        const char *dir = default_data_dir();
        int opt;
        optind = 2;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (opt != OPT_DATA_DIR) {
                        fprintf(stderr, "usage: rigd audit verify [--data-dir D]\n");
                        return 2;
                }
                dir = optarg;
        }
        return cmd_audit_verify(dir);
}

static int cmd_routes(void)
{
        for (size_t i = 0; i < rigd_nroutes; i++)
                printf("%s %s\n", http_method_name(rigd_routes[i].method), rigd_routes[i].pattern);
        return 0;
}

int main(int argc, char **argv)
{
        if (sodium_init() < 0) {
                fprintf(stderr, "rigd: cannot initialise libsodium\n");
                return 1;
        }
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        const char *cmd = argv[1];
        if (streq(cmd, "--help") || streq(cmd, "-h") || streq(cmd, "help")) {
                usage(stdout);
                return 0;
        }
        if (streq(cmd, "--version")) {
                printf("rigd %s\n", RIGS_VERSION);
                return 0;
        }
        if (streq(cmd, "init"))
                return cmd_init_main(argc - 1, argv + 1);
        if (streq(cmd, "serve"))
                return cmd_serve(argc - 1, argv + 1);
        if (streq(cmd, "audit"))
                return cmd_audit(argc - 1, argv + 1);
        if (streq(cmd, "routes"))
                return cmd_routes();
        fprintf(stderr, "rigd: unknown command '%s'. Try 'rigd --help'.\n", cmd);
        return 2;
}
