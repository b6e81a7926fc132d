#include "rigd/jsonin.h"

#include <stdio.h>

int json_parse_object(const char *p, size_t len, json_t **out, struct jerr *e)
{
        json_error_t err;
        if (!p || len == 0) {
                snprintf(e->msg, sizeof(e->msg), "request body must be a JSON object");
                return -EINVAL;
        }
        json_t *root = json_loadb(p, len, JSON_REJECT_DUPLICATES, &err);
        if (!root) {
                snprintf(e->msg, sizeof(e->msg), "malformed JSON at line %d column %d: %s",
                         err.line, err.column, err.text);
                return -EINVAL;
        }
        if (!json_is_object(root)) {
                json_decref(root);
                snprintf(e->msg, sizeof(e->msg), "request body must be a JSON object");
                return -EINVAL;
        }
        *out = root;
        return 0;
}

static int decode_one(const struct jfield *f, json_t *v, void *out, struct jerr *e)
{
        char *dst = (char *)out + f->offset;
        switch (f->type) {
        case JF_STR: {
                if (!json_is_string(v))
                        goto type;
                size_t n = json_string_length(v);
                if (n >= f->size) {
                        snprintf(e->msg, sizeof(e->msg), "field '%s' is too long (max %zu bytes)",
                                 f->name, f->size - 1);
                        return -EINVAL;
                }
                memcpy(dst, json_string_value(v), n);
                dst[n] = '\0';
                return 0;
        }
        case JF_INT: {
                if (!json_is_integer(v))
                        goto type;
                json_int_t x = json_integer_value(v);
                if (x < f->min || x > f->max) {
                        snprintf(e->msg, sizeof(e->msg), "field '%s' must be between %lld and %lld",
                                 f->name, (long long)f->min, (long long)f->max);
                        return -EINVAL;
                }
                *(int64_t *)(void *)dst = x;
                return 0;
        }
        case JF_BOOL:
                if (!json_is_boolean(v))
                        goto type;
                *(bool *)(void *)dst = json_is_true(v);
                return 0;
        case JF_JSON:
                *(json_t **)(void *)dst = v;
                return 0;
        }
type:
        snprintf(e->msg, sizeof(e->msg), "field '%s' must be %s", f->name,
                 f->type == JF_STR    ? "a string"
                 : f->type == JF_INT  ? "an integer"
                 : f->type == JF_BOOL ? "a boolean"
                                      : "valid");
        return -EINVAL;
}

int json_decode(json_t *obj, const struct jfield *fields, size_t n, void *out, uint32_t *present,
                struct jerr *e)
{
        uint32_t seen = 0;
        for (size_t i = 0; i < n && i < 32; i++) {
                const struct jfield *f = &fields[i];
                json_t *v = json_object_get(obj, f->name);
                if (!v || (json_is_null(v) && !f->required)) {
                        if (f->required) {
                                snprintf(e->msg, sizeof(e->msg), "field '%s' is required", f->name);
                                return -EINVAL;
                        }
                        continue;
                }
                int r = decode_one(f, v, out, e);
                if (r < 0)
                        return r;
                seen |= 1u << i;
        }
        if (present)
                *present = seen;
        return 0;
}
