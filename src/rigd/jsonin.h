/* Decoding of JSON request bodies into typed structs, driven by a field table. */
#pragma once

#include "base/util.h"

#include <jansson.h>

enum jf_type {
        JF_STR = 1, /* char array of size `size` at `offset` */
        JF_INT,     /* int64_t at `offset`, within [min, max] */
        JF_BOOL,    /* bool at `offset` */
        JF_JSON,    /* json_t * (borrowed from the parsed root) at `offset`, any type */
};

struct jfield {
        const char *name;
        enum jf_type type;
        bool required;
        size_t offset;
        size_t size;      /* JF_STR: buffer size including the NUL */
        int64_t min, max; /* JF_INT */
};

#define JF_STR_FIELD(st, f, req)                                                                   \
        {                                                                                          \
#f, JF_STR, req, offsetof(st, f), sizeof(((st *)0)->f), 0, 0                       \
        }
#define JF_INT_FIELD(st, f, req, lo, hi)                                                           \
        {                                                                                          \
#f, JF_INT, req, offsetof(st, f), 0, lo, hi                                        \
        }
#define JF_BOOL_FIELD(st, f, req)                                                                  \
        {                                                                                          \
#f, JF_BOOL, req, offsetof(st, f), 0, 0, 0                                         \
        }
#define JF_JSON_FIELD(st, f, req)                                                                  \
        {                                                                                          \
#f, JF_JSON, req, offsetof(st, f), 0, 0, 0                                         \
        }

struct jerr {
        char msg[192];
};

/* Parses a body that must be one JSON object. Returns 0 or -EINVAL with a message. */
int json_parse_object(const char *p, size_t len, json_t **out, struct jerr *e);
/* Decodes the fields of obj into out. A field bit i is set in *present when field i was given
 * (JSON null counts as absent for optional fields). Unknown members are ignored. Returns 0 or
 * -EINVAL with a message naming the field. */
int json_decode(json_t *obj, const struct jfield *fields, size_t n, void *out, uint32_t *present,
                struct jerr *e);
