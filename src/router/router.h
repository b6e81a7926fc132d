/* The app router: a Host-based reverse proxy from NAME.DOMAIN to a rig's exposed port, with the
 * app's visibility enforced before a byte reaches the rig. It runs on rigd's event loops, beside
 * the API, on its own listeners (--apps-listen, --apps-tls-listen). */
#pragma once

#include "core/ids.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTER_CODE_LEN   32
#define ROUTER_CODES      256
#define ROUTER_CODE_TTL_S 60

struct rigd;
struct rigd_thread;
struct router;

/* The URL of app `name`: https://NAME.DOMAIN when the HTTPS router is configured, else
 * http://NAME.DOMAIN, with :PORT when --apps-url-port is set. Returns snprintf's length. */
int router_app_url(const struct rigd *d, const char *name, char *out, size_t outlen);

/* Set-up before the loops start: probes the ports, loads the certificate. Logs and returns a
 * negative errno when the router cannot serve. */
int router_open(struct rigd *d);
void router_free(struct rigd *d);
/* Per loop thread: listeners on, a tick once a second, everything closed at the end. */
void router_thread_start(struct rigd_thread *t);
void router_thread_tick(struct rigd_thread *t);
void router_thread_stop_listening(struct rigd_thread *t);
/* A request of this loop is between its head and the end of its answer (drain waits). */
bool router_thread_busy(struct rigd_thread *t);
void router_thread_stop(struct rigd_thread *t);

/* A one-time code that signs the browser of (user, email) into app `name` at the router:
 * single use, valid ROUTER_CODE_TTL_S seconds. */
int router_code_mint(struct router *r, const char *app, const char *user_id, const char *email,
                     char out[ROUTER_CODE_LEN + 1]);
