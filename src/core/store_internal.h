/* Shared by the SQLite store's translation units only. */
#pragma once

#include "core/store.h"

#include <sqlite3.h>

#define STMT_CACHE 256

struct store {
        sqlite3 *db;
        struct {
                const char *sql;
                sqlite3_stmt *stmt;
        } cache[STMT_CACHE];
};

/* Returns the cached prepared statement for a static SQL string (keyed by pointer), or NULL. */
sqlite3_stmt *store_stmt(struct store *st, const char *sql);

static inline void stmt_releasep(sqlite3_stmt **s)
{
        if (*s) {
                sqlite3_reset(*s);
                sqlite3_clear_bindings(*s);
        }
}
#define _cleanup_stmt_ _cleanup_(stmt_releasep)

/* Maps an SQLite result code to a negative errno. */
int store_errno(int rc);
/* Copies column i as text into out (truncating to outlen-1); NULL becomes "". */
void col_text(sqlite3_stmt *s, int i, char *out, size_t outlen);
void bind_text(sqlite3_stmt *s, int i, const char *v); /* NULL or "" binds NULL */
void bind_str(sqlite3_stmt *s, int i, const char *v);  /* binds "" as "" */
/* Runs a statement that returns no rows; 0, -EEXIST on a constraint, or -EIO. */
int stmt_exec(sqlite3_stmt *s);
/* Page helper: limit+1 rows are fetched; sets out->next when there are more. */
int list_collect(sqlite3_stmt *s, const struct page *pg, size_t item_size, struct list *out,
                 int64_t (*row)(sqlite3_stmt *s, void *item));
/* row() fills one item and returns its sequence number (the cursor value). */
