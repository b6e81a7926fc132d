/* Blocking client helpers for the shim protocol (shimproto.h), for rigd's work pool, the runtime
 * backend and the test driver. Nothing here logs; every function returns 0 or a negative errno. */
#pragma once

#include "base/buf.h"
#include "runtime/shimproto.h"

#include <jansson.h>

/* Connects to a shim's unix socket; returns a blocking O_CLOEXEC fd or -errno (-ENOENT or
 * -ECONNREFUSED when no shim serves it). */
int shimc_connect(const char *sock_path);
/* Sends req as a 'J' frame. */
int shimc_send_json(int fd, json_t *req);
/* Reads the next frame, which must be 'J', and parses it into *reply (caller decrefs; may be
 * NULL to discard). Returns 0 for {"ok":true,...}, -errno of an {"ok":false,"errno":N} reply
 * (-EIO when it names none), -EPROTO for anything else. Waits at most timeout_ms (< 0: forever),
 * then -ETIMEDOUT. */
int shimc_read_reply(int fd, int timeout_ms, json_t **reply);
/* One request on a fresh connection: connect, send req, read the reply (timeout_ms as above). */
int shimc_call(const char *sock_path, json_t *req, int timeout_ms, json_t **reply);

/* How an exec ended ('X' frame). */
struct shimc_exit {
        int exit_code; /* 128+N when killed by signal N */
        int signal;    /* N, or 0 */
        bool timed_out;
};

/* Output sink: type is SF_STDOUT or SF_STDERR (a pty's output is SF_STDOUT). Return 0 to go on;
 * a negative errno ends the exec call with that error (the caller then closes the connection,
 * which kills the exec's processes). */
typedef int (*shimc_output_fn)(void *ud, char type, const char *p, size_t n);

/* Runs one exec on a fresh connection fd: sends req ({"op":"exec",...}), then in_len bytes of
 * stdin (in may be NULL) followed by the stdin close, while it pumps output frames to out until
 * the 'X' frame. Reading and writing are interleaved with poll(2), so a command that writes
 * before it has read all its input never deadlocks. Returns 0 with *ex filled, the -errno of a
 * refusal (-EBUSY paused, -ENOENT missing cwd or command, ...), or an I/O error (-EPIPE if the
 * shim went away). */
int shimc_exec(int fd, json_t *req, const void *in, size_t in_len, shimc_output_fn out, void *ud,
               struct shimc_exit *ex);

/* A shimc_output_fn that collects each stream into a buffer up to cap bytes; the rest is counted
 * but dropped, and the stream is marked truncated. */
struct shimc_collect {
        size_t cap;
        struct buf out, err;
        bool out_truncated, err_truncated;
};
int shimc_collect_fn(void *ud, char type, const char *p, size_t n);
void shimc_collect_free(struct shimc_collect *c);
