/* JSON request bodies: object parsing and table-driven decoding into typed structs. */
#include "rigd/jsonin.h"

#include "tap.h"

struct in {
        char name[8];
        int64_t n;
        bool flag;
        json_t *meta;
        char email[32];
        int64_t opt;
};

static const struct jfield fields[] = {
    JF_STR_FIELD(struct in, name, true),   JF_INT_FIELD(struct in, n, true, 1, 100),
    JF_BOOL_FIELD(struct in, flag, false), JF_JSON_FIELD(struct in, meta, false),
    JF_STR_FIELD(struct in, email, false), JF_INT_FIELD(struct in, opt, false, -5, 5),
};
#define NF ARRAY_SIZE(fields)

static void parse_bad(const char *body, size_t len, const char *msg_prefix, const char *what)
{
        struct jerr e = {{0}};
        json_t *o = (json_t *)0x1;
        is_int(json_parse_object(body, len, &o, &e), -EINVAL, "parse rejects %s", what);
        ok(o == (json_t *)0x1, "  no object returned");
        ok(strncmp(e.msg, msg_prefix, strlen(msg_prefix)) == 0, "  message '%s'", e.msg);
}

/* For literals: the length includes embedded NULs but not the terminating one. */
#define PARSE_BAD(lit, ...) parse_bad(lit, sizeof(lit) - 1, __VA_ARGS__)

static void test_parse(void)
{
        parse_bad(NULL, 0, "request body must be a JSON object", "no body");
        parse_bad("", 0, "request body must be a JSON object", "an empty body");
        parse_bad("{}", 0, "request body must be a JSON object", "a zero length");
        PARSE_BAD("{", "malformed JSON", "an unclosed object");
        PARSE_BAD("{\"a\":}", "malformed JSON", "a missing value");
        PARSE_BAD("{'a':1}", "malformed JSON", "single quotes");
        PARSE_BAD("{\"a\":1,}", "malformed JSON", "a trailing comma");
        PARSE_BAD("{\"a\":1}{}", "malformed JSON", "two objects");
        PARSE_BAD("{\"a\":1} x", "malformed JSON", "trailing garbage");
        PARSE_BAD("{\"a\":1,\"a\":2}", "malformed JSON", "duplicate members");
        PARSE_BAD("{\"a\":\"\\u0000\"}", "malformed JSON", "an escaped NUL in a string");
        PARSE_BAD("{\"a\":\"\xff\"}", "malformed JSON", "invalid UTF-8");
        PARSE_BAD("{\"a\":1}\0", "malformed JSON", "a NUL byte after the object");
        PARSE_BAD("{\"a\":NaN}", "malformed JSON", "NaN");
        PARSE_BAD("{\"a\":99999999999999999999}", "malformed JSON", "an integer overflow");
        PARSE_BAD("[]", "request body must be a JSON object", "an array");
        PARSE_BAD("[{}]", "request body must be a JSON object", "an array of objects");
        /* Scalars at the top level are refused by jansson itself (no JSON_DECODE_ANY). */
        PARSE_BAD("\"{}\"", "malformed JSON", "a string");
        PARSE_BAD("1", "malformed JSON", "a number");
        PARSE_BAD("null", "malformed JSON", "null");
        PARSE_BAD("true", "malformed JSON", "true");

        /* Deep nesting inside an object is refused, not a stack overflow. */
        enum { DEPTH = 100000 };
        char *deep = malloc(2 * DEPTH + 16);
        size_t o = 0;
        o += (size_t)sprintf(deep, "{\"a\":");
        memset(deep + o, '[', DEPTH);
        o += DEPTH;
        memset(deep + o, ']', DEPTH);
        o += DEPTH;
        deep[o++] = '}';
        parse_bad(deep, o, "malformed JSON", "100000 nested arrays");
        free(deep);

        struct jerr e;
        json_t *obj = NULL;
        is_int(json_parse_object("{}", 2, &obj, &e), 0, "{} parses");
        ok(json_is_object(obj) && json_object_size(obj) == 0, "  to an empty object");
        json_decref(obj);
        obj = NULL;
        is_int(json_parse_object(" \n{ \"a\" : [1, {\"b\": null}] }\n ", 29, &obj, &e), 0,
               "whitespace and nesting");
        ok(json_is_array(json_object_get(obj, "a")), "  a is an array");
        json_decref(obj);
        obj = NULL;
        is_int(json_parse_object("{\"a\":1}garbage", 7, &obj, &e), 0, "only len bytes are parsed");
        is_int(json_integer_value(json_object_get(obj, "a")), 1, "  a is 1");
        json_decref(obj);
}

/* The parsed root of the last decode(): JF_JSON fields borrow from it. */
static json_t *last_root;

/* Parses body and decodes it into *in (prefilled with 'X' bytes). */
static int decode(const char *body, struct in *in, uint32_t *present, struct jerr *e)
{
        memset(in, 'X', sizeof(*in));
        json_decref(last_root);
        last_root = NULL;
        int r = json_parse_object(body, strlen(body), &last_root, e);
        if (r < 0) {
                diag("unexpected parse failure: %s", e->msg);
                return -999;
        }
        return json_decode(last_root, fields, NF, in, present, e);
}

static void decode_bad(const char *body, const char *msg)
{
        struct in in;
        struct jerr e = {{0}};
        uint32_t present = 0xabcd;
        is_int(decode(body, &in, &present, &e), -EINVAL, "decode rejects %s", body);
        is_str(e.msg, msg, "  message");
}

static void test_decode(void)
{
        struct in in;
        struct jerr e;
        uint32_t present = 0;
        json_t *obj = NULL;
        const char *all = "{\"name\":\"abc\",\"n\":42,\"flag\":true,\"meta\":{\"k\":[1]},"
                          "\"email\":\"a@example.com\",\"opt\":-5,\"unknown\":[1,2,3]}";
        memset(&in, 'X', sizeof(in));
        if (is_int(json_parse_object(all, strlen(all), &obj, &e), 0, "parse a full body")) {
                is_int(json_decode(obj, fields, NF, &in, &present, &e), 0, "decode every field");
                is_str(in.name, "abc", "  name");
                is_int(in.n, 42, "  n");
                ok(in.flag == true, "  flag");
                ok(json_is_object(in.meta) && json_object_get(in.meta, "k"),
                   "  meta is the object, borrowed from the root");
                is_str(in.email, "a@example.com", "  email");
                is_int(in.opt, -5, "  opt");
                is_int(present, 0x3f, "  all six present bits");
                json_decref(obj);
        }

        is_int(decode("{\"name\":\"\",\"n\":1}", &in, &present, &e), 0, "required fields only");
        is_str(in.name, "", "  empty string is a value");
        is_int(in.n, 1, "  n at its minimum");
        is_int(present, 0x3, "  present: name and n");
        ok(in.email[0] == 'X' && in.opt == (int64_t)0x5858585858585858LL,
           "  absent fields are left untouched");

        is_int(decode("{\"name\":\"1234567\",\"n\":100,\"flag\":null,\"meta\":null,\"email\":null,"
                      "\"opt\":null}",
                      &in, &present, &e),
               0, "null for every optional field");
        is_int(present, 0x3, "  null counts as absent");
        is_str(in.name, "1234567", "  7 bytes fit in char[8]");
        is_int(in.n, 100, "  n at its maximum");
        ok(in.name[7] == '\0', "  NUL-terminated at the end of the buffer");

        is_int(decode("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\",\"n\":5,\"flag\":false,\"meta\":0}",
                      &in, &present, &e),
               0, "UTF-8 string of 6 bytes, false, any JSON");
        is_str(in.name, "\xc3\xa9\xc3\xa9\xc3\xa9", "  bytes copied");
        ok(in.flag == false, "  flag false");
        ok(json_is_integer(in.meta), "  meta is the integer");
        is_int(present, 0xf, "  present: name, n, flag, meta");

        is_int(decode("{\"name\":\"a\",\"n\":3,\"meta\":[null]}", &in, NULL, &e), 0,
               "present may be NULL");

        decode_bad("{}", "field 'name' is required");
        decode_bad("{\"name\":\"a\"}", "field 'n' is required");
        decode_bad("{\"n\":1}", "field 'name' is required");
        decode_bad("{\"name\":null,\"n\":1}", "field 'name' must be a string");
        decode_bad("{\"name\":\"a\",\"n\":null}", "field 'n' must be an integer");
        decode_bad("{\"name\":5,\"n\":1}", "field 'name' must be a string");
        decode_bad("{\"name\":[\"a\"],\"n\":1}", "field 'name' must be a string");
        decode_bad("{\"name\":{},\"n\":1}", "field 'name' must be a string");
        decode_bad("{\"name\":\"a\",\"n\":\"5\"}", "field 'n' must be an integer");
        decode_bad("{\"name\":\"a\",\"n\":5.0}", "field 'n' must be an integer");
        decode_bad("{\"name\":\"a\",\"n\":true}", "field 'n' must be an integer");
        decode_bad("{\"name\":\"a\",\"n\":1,\"flag\":1}", "field 'flag' must be a boolean");
        decode_bad("{\"name\":\"a\",\"n\":1,\"flag\":\"true\"}", "field 'flag' must be a boolean");
        decode_bad("{\"name\":\"a\",\"n\":1,\"email\":false}", "field 'email' must be a string");
        decode_bad("{\"name\":\"12345678\",\"n\":1}", "field 'name' is too long (max 7 bytes)");
        decode_bad("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"n\":1}",
                   "field 'name' is too long (max 7 bytes)");
        decode_bad("{\"name\":\"a\",\"n\":0}", "field 'n' must be between 1 and 100");
        decode_bad("{\"name\":\"a\",\"n\":101}", "field 'n' must be between 1 and 100");
        decode_bad("{\"name\":\"a\",\"n\":-1}", "field 'n' must be between 1 and 100");
        decode_bad("{\"name\":\"a\",\"n\":9223372036854775807}",
                   "field 'n' must be between 1 and 100");
        decode_bad("{\"name\":\"a\",\"n\":-9223372036854775808}",
                   "field 'n' must be between 1 and 100");
        decode_bad("{\"name\":\"a\",\"n\":1,\"opt\":6}", "field 'opt' must be between -5 and 5");
        decode_bad("{\"name\":\"a\",\"n\":1,\"opt\":-6}", "field 'opt' must be between -5 and 5");
        /* Names are matched exactly. */
        decode_bad("{\"Name\":\"a\",\"n\":1}", "field 'name' is required");
        decode_bad("{\"name \":\"a\",\"n\":1}", "field 'name' is required");

        /* A failure does not report present bits. */
        present = 0xabcd;
        decode("{\"name\":\"a\",\"n\":0}", &in, &present, &e);
        is_int(present, 0xabcd, "present is not written on failure");

        /* An empty table decodes anything; an optional-only table decodes {}. */
        json_t *empty = json_object();
        is_int(json_decode(empty, fields, 0, &in, &present, &e), 0, "no fields: ok");
        is_int(present, 0, "  nothing present");
        is_int(json_decode(empty, fields + 2, NF - 2, &in, &present, &e), 0,
               "optional fields only, empty object: ok");
        is_int(present, 0, "  nothing present");
        json_decref(empty);
}

int main(void)
{
        test_parse();
        test_decode();
        json_decref(last_root);
        return done_testing();
}
