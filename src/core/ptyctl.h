/* Terminal control messages: the JSON carried in the text frames of a terminal WebSocket.
 *
 * Client -> server: {"type": "resize", "cols": C, "rows": R} (1 <= C, R <= PTYCTL_DIM_MAX).
 * Other types are ignored, so that clients may send more in the future.
 * Server -> client: {"type": "session", ...} on join, {"type": "control", ...} when control
 * changes hands, {"type": "exit", "code": N} before closing, {"type": "error", "message": ...}
 * (built by rigd; see docs/api.md). */
#pragma once

#include "base/util.h"

#define PTYCTL_DIM_MAX 1000
#define PTYCTL_MSG_MAX 4096 /* a longer control message is refused unread */

enum ptyctl_type {
        PTYCTL_OTHER = 0, /* a well-formed message of a type this server ignores */
        PTYCTL_RESIZE,
};

struct ptyctl {
        enum ptyctl_type type;
        unsigned cols, rows;
};

/* Parses a client's text frame p[0..len) (not NUL-terminated). Returns 0 with *out filled, or
 * -EINVAL for anything that is not a JSON object with a string "type", a resize whose cols and
 * rows are not integers in 1..PTYCTL_DIM_MAX, or a message over PTYCTL_MSG_MAX bytes. */
int ptyctl_parse(const char *p, size_t len, struct ptyctl *out);
