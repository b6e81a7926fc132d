#include "core/ptyctl.h"

#include <jansson.h>

static int dim(json_t *o, const char *name, unsigned *out)
{
        json_t *v = json_object_get(o, name);
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > PTYCTL_DIM_MAX)
                return -EINVAL;
        *out = (unsigned)json_integer_value(v);
        return 0;
}

int ptyctl_parse(const char *p, size_t len, struct ptyctl *out)
{
        memset(out, 0, sizeof(*out));
        if (len == 0 || len > PTYCTL_MSG_MAX)
                return -EINVAL;
        json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
        const char *type = json_string_value(json_object_get(o, "type"));
        int r = json_is_object(o) && type ? 0 : -EINVAL;
        if (r == 0 && streq(type, "resize")) {
                out->type = PTYCTL_RESIZE;
                if (dim(o, "cols", &out->cols) < 0 || dim(o, "rows", &out->rows) < 0)
                        r = -EINVAL;
        }
        json_decref(o);
        if (r < 0)
                memset(out, 0, sizeof(*out));
        return r;
}
