#include "rig/output.h"

#include "base/buf.h"
#include "rig/rig.h"

void table_init(struct table *t, size_t ncols, const char *const *headers)
{
        *t = (struct table){.ncols = ncols, .headers = headers};
}

void table_add_row(struct table *t, char **cells)
{
        if (t->nrows == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 16;
                t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
        }
        for (size_t i = 0; i < t->ncols; i++)
                t->cells[t->nrows * t->ncols + i] = cells[i] ? cells[i] : xstrdup("-");
        t->nrows++;
}

void table_add_fields(struct table *t, json_t *item, const char *const *keys)
{
        char *cells[t->ncols];
        for (size_t i = 0; i < t->ncols; i++)
                cells[i] = json_display(json_path(item, keys[i]));
        table_add_row(t, cells);
}

/* Display width: counts UTF-8 code points, not bytes, so accented names stay aligned. */
static size_t text_width(const char *s)
{
        size_t w = 0;
        for (; *s; s++)
                if (((unsigned char)*s & 0xC0) != 0x80)
                        w++;
        return w;
}

/* Control characters from the server would let it move the cursor or rewrite the screen. */
static void put_clean(FILE *f, const char *s)
{
        for (; *s; s++)
                fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

void table_print(const struct table *t, FILE *f)
{
        size_t width[t->ncols];
        for (size_t c = 0; c < t->ncols; c++) {
                width[c] = text_width(t->headers[c]);
                for (size_t r = 0; r < t->nrows; r++) {
                        size_t w = text_width(t->cells[r * t->ncols + c]);
                        if (w > width[c])
                                width[c] = w;
                }
        }
        for (size_t r = 0; r <= t->nrows; r++) {
                for (size_t c = 0; c < t->ncols; c++) {
                        const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];
                        put_clean(f, s);
                        if (c + 1 < t->ncols)
                                fprintf(f, "%*s", (int)(width[c] - text_width(s) + 2), "");
                }
                fputc('\n', f);
        }
}

void table_free(struct table *t)
{
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i]);
        free(t->cells);
        *t = (struct table){0};
}

json_t *json_path(json_t *obj, const char *path)
{
        const char *p = path;
        json_t *v = obj;
        while (v && *p) {
                const char *dot = strchr(p, '.');
                size_t n = dot ? (size_t)(dot - p) : strlen(p);
                _cleanup_free_ char *key = xstrndup(p, n);
                v = json_is_object(v) ? json_object_get(v, key) : NULL;
                p += n + (dot ? 1 : 0);
        }
        return v;
}

const char *json_str(json_t *obj, const char *key)
{
        return json_string_value(json_object_get(obj, key));
}

char *json_display(json_t *v)
{
        if (!v || json_is_null(v))
                return xstrdup("-");
        if (json_is_string(v))
                return xstrdup(json_string_value(v));
        if (json_is_integer(v))
                return xasprintf("%lld", (long long)json_integer_value(v));
        if (json_is_boolean(v))
                return xstrdup(json_is_true(v) ? "yes" : "no");
        if (json_is_array(v)) {
                if (json_array_size(v) == 0)
                        return xstrdup("-");
                _cleanup_buf_ struct buf b = {0};
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e)
                {
                        _cleanup_free_ char *s = json_display(e);
                        buf_printf(&b, "%s%s", i ? "," : "", s);
                }
                return buf_steal(&b);
        }
        if (json_is_object(v) && json_is_string(json_object_get(v, "name")))
                return xstrdup(json_str(v, "name"));
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        char *r = xstrdup(s ? s : "?");
        free(s);
        return r;
}

void print_fields(FILE *f, json_t *obj, const char *const *labels, const char *const *keys,
                  size_t n)
{
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
                if (strlen(labels[i]) > w)
                        w = strlen(labels[i]);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = json_display(json_path(obj, keys[i]));
                fprintf(f, "%s:%*s", labels[i], (int)(w - strlen(labels[i]) + 2), "");
                put_clean(f, s);
                fputc('\n', f);
        }
}

int print_json(FILE *f, json_t *v)
{
        if (json_dumpf(v, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) < 0)
                return -EIO;
        fputc('\n', f);
        return 0;
}

int print_listing(json_t *items, bool json, const char *const *headers, const char *const *fields,
                  size_t n)
{
        if (json)
                return print_json(stdout, items) < 0 ? RIG_EXIT_USAGE : RIG_EXIT_OK;
        _cleanup_table_ struct table t;
        table_init(&t, n, headers);
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item) table_add_fields(&t, item, fields);
        table_print(&t, stdout);
        return RIG_EXIT_OK;
}
