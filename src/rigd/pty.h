/* The terminal sessions' loop (pty.c) as the request handlers (api_pty.c) see it. */
#pragma once

#include "core/principal.h"
#include "rigd/rigd.h"

#define PTY_SCROLLBACK   (64u * 1024) /* output replayed to a client that joins */
#define PTY_MAX_SESSIONS 64
#define PTY_MAX_CLIENTS  256

enum pty_mode { PTY_OBSERVE = 0, PTY_CONTROL };

/* What GET /api/rigs/{id}/sessions shows of a session. */
struct pty_info {
        char id[ID_MAX];
        char rig_id[ID_MAX];
        char principal[ID_MAX]; /* who opened it */
        enum principal_kind kind;
        int64_t started_at;      /* epoch s */
        char controller[ID_MAX]; /* "" while nobody controls it */
        enum principal_kind controller_kind;
        int observers;
        unsigned cols, rows;
};

/* An upgraded WebSocket handed to the pty loop: a new session (shim_fd >= 0, info filled) or an
 * attach to session info.id. */
struct pty_handoff {
        h2o_multithread_message_t super;
        h2o_socket_export_t sock;
        int shim_fd;
        struct pty_info info;
        char principal[ID_MAX]; /* the client */
        enum principal_kind kind;
        enum pty_mode mode;
};

/* Starts the pty loop thread on first use; idle_s is the sessions' idle timeout. */
int pty_ensure_started(int idle_s);
/* Reserves room for a new session (with its first client) or one more client; false when the
 * limit is reached. The loop gives the room back when the session or client ends. */
bool pty_reserve(bool session);
void pty_release(bool session);
/* Posts h to the pty loop, which owns it from then on. */
void pty_handoff_post(struct pty_handoff *h);
/* Frees a handoff that was not posted, closing what it holds and releasing its reservation. */
void pty_handoff_drop(struct pty_handoff *h);
/* Copies up to max listed sessions of rig_id into out, oldest first; returns how many. */
size_t pty_list(const char *rig_id, struct pty_info *out, size_t max);
/* Looks up session sid of rig_id; true with *out filled when it is live. */
bool pty_find(const char *rig_id, const char *sid, struct pty_info *out);
