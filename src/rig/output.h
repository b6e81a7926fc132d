/* Rendering for humans and scripts: aligned tables, "label: value" blocks, pretty JSON. */
#pragma once

#include "base/util.h"

#include <jansson.h>
#include <stdio.h>

struct table {
        size_t ncols;
        const char *const *headers;
        char **cells; /* nrows * ncols, owned */
        size_t nrows, cap;
};

void table_init(struct table *t, size_t ncols, const char *const *headers);
/* Appends a row; takes ownership of the ncols malloc'ed cells (NULL prints as "-"). */
void table_add_row(struct table *t, char **cells);
/* Appends a row made of item's fields named by keys (ncols of them), via json_display. */
void table_add_fields(struct table *t, json_t *item, const char *const *keys);
/* Prints with columns separated by two spaces; the last column is not padded. */
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

#define _cleanup_table_ _cleanup_(table_free)

/* A display string for a JSON value: strings as is, null/missing "-", arrays joined by ",",
 * objects by their "name" (else compact JSON). Caller frees. */
char *json_display(json_t *v);

/* Prints "label:  value" lines for obj's fields, labels aligned. labels and keys have n items;
 * a key may be "a.b" to reach a nested field. */
void print_fields(FILE *f, json_t *obj, const char *const *labels, const char *const *keys,
                  size_t n);

/* Prints a listing: the items array as indented JSON when json, else a table whose n columns
 * are titled headers and filled from each item's fields. Returns an enum rig_exit. */
int print_listing(json_t *items, bool json, const char *const *headers, const char *const *fields,
                  size_t n);

/* Prints v as indented JSON followed by a newline. Returns 0 or -EIO. */
int print_json(FILE *f, json_t *v);

/* Looks up "a.b.c" in nested objects; NULL if any step is missing. */
json_t *json_path(json_t *obj, const char *path);

/* The string at key in obj, or NULL when absent or not a string. */
const char *json_str(json_t *obj, const char *key);

/* json_decrefp comes with jansson (>= 2.11). */
#define _cleanup_json_ _cleanup_(json_decrefp)
