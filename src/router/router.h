/* The app router: a Host-based reverse proxy from NAME.DOMAIN to a rig's exposed port, with the
 * app's visibility enforced before a byte reaches the rig. It runs on rigd's event loops, beside
 * the API, on its own listeners (--apps-listen, --apps-tls-listen). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct rigd;

/* The URL of app `name`: https://NAME.DOMAIN when the HTTPS router is configured, else
 * http://NAME.DOMAIN, with :PORT when --apps-url-port is set. Returns snprintf's length. */
int router_app_url(const struct rigd *d, const char *name, char *out, size_t outlen);
