/* The audit log: append-only, hash-chained with a keyed BLAKE2b so that editing, deleting or
 * reordering a row is detectable by `rigd audit verify`. */
#pragma once

#include "core/store.h"

#define AUDIT_HASH_LEN 32

struct audit_entry {
        char id[ID_MAX];
        int64_t at;             /* seconds since the epoch */
        char principal[ID_MAX]; /* principal id, or "anonymous" */
        char kind[16];          /* user, agent, rig_credential, anonymous */
        char action[64];        /* dotted verb, e.g. key.create */
        char target[128];       /* object id or "" */
        char org[ID_MAX];
        char project[ID_MAX];
        char result[8]; /* ok, denied, error */
        char ip[64];
        int64_t seq;
};

/* Computes an entry's chain hash from the previous one. Pure; exposed for unit tests. */
void audit_chain_hash(const uint8_t key[SECRET_KEY_LEN], const uint8_t prev[AUDIT_HASH_LEN],
                      const struct audit_entry *e, uint8_t out[AUDIT_HASH_LEN]);

/* Appends an entry (assigning id and seq). Must run inside a store transaction so that the entry
 * commits together with the effect it records. */
int audit_append(struct store *st, const uint8_t key[SECRET_KEY_LEN], struct audit_entry *e);

struct audit_filter {
        const char *org_id;    /* required: tenant scope */
        int64_t since;         /* 0 = none */
        const char *principal; /* NULL = any */
        const char *target;    /* NULL = any */
        const char *action;    /* NULL = any */
};
/* Newest first; pg->after is a seq upper bound (0 = newest). */
int audit_list(struct store *st, const struct audit_filter *f, const struct page *pg,
               struct list *out);

/* Recomputes the whole chain. Returns the number of entries, or -EBADMSG with bad_id set to the
 * first entry whose hash does not match (or "head" when the recorded head does not match). */
int audit_verify(struct store *st, const uint8_t key[SECRET_KEY_LEN], char bad_id[ID_MAX]);
