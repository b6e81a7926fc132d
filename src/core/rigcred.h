/* Rig credentials: short-lived bearer tokens that act for one rig. They are never stored: the
 * token carries its own claims (rig, minting principal and kind, org, project, expiry) and a MAC
 * (libsodium crypto_auth, HMAC-SHA-512-256) under a key that the daemon generates at start and
 * keeps only in memory, so a restart of rigd invalidates every credential.
 *
 * Token: "rc_" + base64url without padding of
 *   version (1, = 1) | nonce (16) | expires_at (8, big endian, epoch s) | kind (1) |
 *   rig id | principal id | org id | project id (each: 1 length byte + bytes) | MAC (32)
 * The MAC covers everything before it. */
#pragma once

#include "core/principal.h"

#define RIGCRED_PREFIX  "rc_"
#define RIGCRED_KEY_LEN 32
#define RIGCRED_TTL_MAX 900
#define RIGCRED_TTL_DEF 300
/* Bounds of a well-formed token's length (prefix included), and the size of a mint buffer. */
#define RIGCRED_MIN_LEN 64
#define RIGCRED_MAX_LEN 400

struct rigcred {
        char rig_id[ID_MAX];
        char principal_id[ID_MAX];
        enum principal_kind kind; /* the minting principal's kind: user or agent */
        char org_id[ID_MAX];
        char project_id[ID_MAX];
        int64_t expires_at; /* epoch seconds; the token is dead from this second on */
};

/* Writes the token for cred into out (outlen >= RIGCRED_MAX_LEN), NUL-terminated. Returns its
 * length, or -EINVAL when a field is empty, too long or not an id. */
int rigcred_mint(const uint8_t key[RIGCRED_KEY_LEN], const struct rigcred *cred, char *out,
                 size_t outlen);

/* Checks and decodes the token p[0..len). Returns 0 with *out filled; -EINVAL when it is not a
 * token of this daemon (shape, encoding, MAC, fields); -ETIMEDOUT when it has expired at now.
 * The MAC is compared in constant time before any field is trusted. */
int rigcred_verify(const uint8_t key[RIGCRED_KEY_LEN], const char *p, size_t len, int64_t now,
                   struct rigcred *out);

/* The token's shape only: prefix, length bounds, base64url alphabet. */
bool rigcred_shape(const char *p, size_t len);
