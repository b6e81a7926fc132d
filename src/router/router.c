/* The app router's entry points shared with the API. */
#include "router/router.h"

#include "rigd/rigd.h"

#include <stdio.h>

int router_app_url(const struct rigd *d, const char *name, char *out, size_t outlen)
{
        const struct rigd_config *c = &d->cfg;
        bool tls = c->apps_tls_port != 0;
        if (c->apps_url_port && c->apps_url_port != (tls ? 443 : 80))
                return snprintf(out, outlen, "%s://%s.%s:%u", tls ? "https" : "http", name,
                                c->apps_domain, c->apps_url_port);
        return snprintf(out, outlen, "%s://%s.%s", tls ? "https" : "http", name, c->apps_domain);
}
