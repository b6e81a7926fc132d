/* JSON request bodies: json_parse_object, then json_decode with a table that covers every field
 * type, once with every field optional and once with required fields. */
#include "rigd/jsonin.h"

#include "fuzz.h"

struct body {
        char name[16];
        char tiny[2]; /* one byte of text at most */
        char none[1]; /* only "" fits */
        int64_t small;
        int64_t any;
        int64_t positive;
        bool flag;
        json_t *extra;
        char scopes[64];
};

#define FIELDS(req)                                                                                \
        {                                                                                          \
                JF_STR_FIELD(struct body, name, req), JF_STR_FIELD(struct body, tiny, false),      \
                    JF_STR_FIELD(struct body, none, false),                                        \
                    JF_INT_FIELD(struct body, small, false, -10, 10),                              \
                    JF_INT_FIELD(struct body, any, false, INT64_MIN, INT64_MAX),                   \
                    JF_INT_FIELD(struct body, positive, req, 1, 31536000),                         \
                    JF_BOOL_FIELD(struct body, flag, req),                                         \
                    JF_JSON_FIELD(struct body, extra, false),                                      \
                    JF_STR_FIELD(struct body, scopes, false),                                      \
        }

static const struct jfield optional_fields[] = FIELDS(false);
static const struct jfield required_fields[] = FIELDS(true);
#define NFIELDS ARRAY_SIZE(optional_fields)

static void check_err(const struct jerr *e)
{
        CHECK(memchr(e->msg, '\0', sizeof(e->msg)) != NULL);
        CHECK(e->msg[0] != '\0');
}

static void decode_and_check(json_t *root, const struct jfield *fields)
{
        struct body b;
        struct jerr e;
        uint32_t present = 0xdeadbeef;
        memset(&b, 0xa5, sizeof(b));
        memset(&e, 0xa5, sizeof(e));
        int r = json_decode(root, fields, NFIELDS, &b, &present, &e);
        if (r < 0) {
                CHECK(r == -EINVAL);
                CHECK(present == 0xdeadbeef);
                check_err(&e);
                return;
        }
        CHECK(r == 0);
        CHECK((present >> NFIELDS) == 0);
        for (size_t i = 0; i < NFIELDS; i++) {
                const struct jfield *f = &fields[i];
                json_t *v = json_object_get(root, f->name);
                bool given = v && !(json_is_null(v) && !f->required);
                CHECK(given == !!(present & (1u << i)));
                if (f->required)
                        CHECK(given);
                if (!given)
                        continue;
                const char *dst = (const char *)&b + f->offset;
                switch (f->type) {
                case JF_STR: {
                        /* NUL-terminated inside the buffer, with exactly the JSON string. */
                        const char *nul = memchr(dst, '\0', f->size);
                        CHECK(nul != NULL);
                        CHECK(json_is_string(v));
                        CHECK((size_t)(nul - dst) == json_string_length(v));
                        CHECK(memcmp(dst, json_string_value(v), json_string_length(v)) == 0);
                        break;
                }
                case JF_INT: {
                        int64_t x;
                        memcpy(&x, dst, sizeof(x));
                        CHECK(json_is_integer(v) && x == json_integer_value(v));
                        CHECK(x >= f->min && x <= f->max);
                        break;
                }
                case JF_BOOL: {
                        unsigned char raw;
                        memcpy(&raw, dst, 1);
                        CHECK(raw == 0 || raw == 1);
                        CHECK(json_is_boolean(v) && (raw == 1) == json_is_true(v));
                        break;
                }
                case JF_JSON: {
                        json_t *got;
                        memcpy(&got, dst, sizeof(got));
                        CHECK(got == v);
                        break;
                }
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *body = dup_exact(data, size);
        json_t *root = (json_t *)0x1;
        struct jerr e;
        memset(&e, 0xa5, sizeof(e));
        int r = json_parse_object(body, size, &root, &e);
        if (r < 0) {
                CHECK(r == -EINVAL);
                CHECK(root == (json_t *)0x1);
                check_err(&e);
        } else {
                CHECK(r == 0 && json_is_object(root));
                decode_and_check(root, optional_fields);
                decode_and_check(root, required_fields);
                json_decref(root);
        }
        free(body);
        return 0;
}
