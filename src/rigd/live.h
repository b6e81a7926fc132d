/* Live sessions: short-lived rig credentials and the terminal (PTY) WebSockets with human
 * takeover. Credentials: api_creds.c; terminals: pty.c (sessions on their own event loop),
 * ws.c (WebSocket connections over libwslay). */
#pragma once

#include "rigd/http.h"

/* The MAC key of rig credentials: random, generated on first use in this process and kept only
 * in memory (locked, never written anywhere), so a restart of rigd invalidates every credential. */
const uint8_t *rigcred_key(void);

void api_rigs_credentials(struct reqctx *c); /* POST /api/rigs/{id}/credentials */
void api_rigs_pty(struct reqctx *c);         /* GET /api/rigs/{id}/pty (WebSocket) */
void api_sessions_list(struct reqctx *c);    /* GET /api/rigs/{id}/sessions */
void api_sessions_attach(struct reqctx *c);  /* GET /api/rigs/{id}/sessions/{sid}/attach (WS) */

/* Ends every terminal session (their clients get a close frame) and joins the loop thread. */
void pty_stop(void);
