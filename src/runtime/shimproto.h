/* The protocol between rigd and a rig's shim, over the shim's unix stream socket
 * (<data_dir>/rigs/<id>/shim.sock, in a 0700 directory: only rigd reaches it; nothing inside the
 * rig can). One connection carries one request.
 *
 * Frames: 1 byte type, 4 bytes payload length (little endian, at most SHIM_FRAME_MAX), payload.
 *
 *   rigd -> shim   'J' JSON request (first frame of every connection)
 *                  'I' stdin bytes          'C' stdin closed (empty payload)
 *                  'R' JSON {"cols":C,"rows":R} (pty resize)
 *                  'K' JSON {"signal":N} (signal the exec's processes)
 *   shim -> rigd   'J' JSON reply to a non-exec request: {"ok":true,...} or
 *                      {"ok":false,"errno":N,"message":"..."}
 *                  'O' stdout bytes (or pty output)     'E' stderr bytes
 *                  'X' JSON exit of an exec: {"exit_code":N,"timed_out":bool,"signal":N|0}
 *
 * Requests ('J' from rigd):
 *   {"op":"ping"} -> {"ok":true,"init_pid":N,"started_at":S,"state":"running"|"paused"}
 *   {"op":"exec","argv":[...],"env":{...},"cwd":"/home/user","user":"user"|"root",
 *    "timeout_s":N,"pty":false,"cols":80,"rows":24}
 *        -> 'O'/'E' frames, then one 'X' frame; the shim closes the connection after 'X'.
 *        Exit code 128+N for a process killed by signal N. On timeout every process of that
 *        exec is killed and timed_out is true. Processes left in the background by an exec
 *        that ended normally keep running. An exec cannot start while the rig is paused
 *        ({"ok":false,"errno":EBUSY}).
 *   {"op":"pause"} / {"op":"resume"} -> {"ok":true}
 *   {"op":"stop"} -> {"ok":true}; then the shim kills every process of the rig, releases its
 *        resources and exits.
 */
#pragma once

#include "base/util.h"

#define SHIM_FRAME_MAX (64u * 1024)
#define SHIM_HDR_LEN   5

enum shim_frame {
        SF_JSON = 'J',
        SF_STDIN = 'I',
        SF_STDIN_CLOSE = 'C',
        SF_RESIZE = 'R',
        SF_KILL = 'K',
        SF_STDOUT = 'O',
        SF_STDERR = 'E',
        SF_EXIT = 'X',
};

/* Encodes a frame header into hdr. */
static inline void shim_hdr(uint8_t hdr[SHIM_HDR_LEN], char type, uint32_t len)
{
        hdr[0] = (uint8_t)type;
        hdr[1] = (uint8_t)len;
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)(len >> 16);
        hdr[4] = (uint8_t)(len >> 24);
}

/* Decodes a header; returns 0, or -EPROTO for an unknown type or an oversize length. */
int shim_hdr_parse(const uint8_t hdr[SHIM_HDR_LEN], char *type, uint32_t *len);
/* Blocking helpers on a stream fd. */
int shim_write_frame(int fd, char type, const void *p, size_t len);
/* Reads one frame; *buf is malloc'd (NUL-terminated for convenience). -EPIPE on clean EOF. */
int shim_read_frame(int fd, char *type, char **buf, uint32_t *len);
