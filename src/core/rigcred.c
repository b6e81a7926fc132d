#include "core/rigcred.h"

#include <sodium.h>

#define VERSION   1
#define NONCE_LEN 16
#define HEAD_LEN  (1 + NONCE_LEN + 8 + 1)
#define MAC_LEN   crypto_auth_BYTES
#define RAW_MAX   (HEAD_LEN + 4 * ID_MAX + MAC_LEN)

_Static_assert(RIGCRED_KEY_LEN == crypto_auth_KEYBYTES, "crypto_auth key size");
_Static_assert(3 + (RAW_MAX * 4 + 2) / 3 < RIGCRED_MAX_LEN, "mint buffer size");

static bool id_chars(const char *p, size_t len)
{
        if (len == 0 || len >= ID_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!is_base62(p[i]) && p[i] != '_')
                        return false;
        return true;
}

bool rigcred_shape(const char *p, size_t len)
{
        if (len < RIGCRED_MIN_LEN || len > RIGCRED_MAX_LEN || memcmp(p, RIGCRED_PREFIX, 3) != 0)
                return false;
        for (size_t i = 3; i < len; i++)
                if (!is_base62(p[i]) && p[i] != '-' && p[i] != '_')
                        return false;
        return true;
}

static size_t put_str(uint8_t *o, const char *s)
{
        size_t n = strlen(s);
        o[0] = (uint8_t)n;
        memcpy(o + 1, s, n);
        return n + 1;
}

int rigcred_mint(const uint8_t key[RIGCRED_KEY_LEN], const struct rigcred *cred, char *out,
                 size_t outlen)
{
        const char *ids[4] = {cred->rig_id, cred->principal_id, cred->org_id, cred->project_id};
        for (int i = 0; i < 4; i++)
                if (!id_chars(ids[i], strlen(ids[i])))
                        return -EINVAL;
        if (outlen < RIGCRED_MAX_LEN || cred->expires_at <= 0 || cred->kind < PK_USER ||
            cred->kind > PK_RIG_CREDENTIAL)
                return -EINVAL;
        uint8_t raw[RAW_MAX];
        size_t n = 0;
        raw[n++] = VERSION;
        randombytes_buf(raw + n, NONCE_LEN);
        n += NONCE_LEN;
        uint64_t exp = (uint64_t)cred->expires_at;
        for (int i = 7; i >= 0; i--)
                raw[n++] = (uint8_t)(exp >> (i * 8));
        raw[n++] = (uint8_t)cred->kind;
        for (int i = 0; i < 4; i++)
                n += put_str(raw + n, ids[i]);
        crypto_auth(raw + n, raw, n, key);
        n += MAC_LEN;
        memcpy(out, RIGCRED_PREFIX, 3);
        sodium_bin2base64(out + 3, outlen - 3, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof(raw));
        return (int)strlen(out);
}

/* Reads one length-prefixed id at raw[*off..end) into out. */
static int get_str(const uint8_t *raw, size_t end, size_t *off, char out[ID_MAX])
{
        if (*off >= end)
                return -EINVAL;
        size_t n = raw[*off];
        if (n > end - *off - 1 || !id_chars((const char *)raw + *off + 1, n))
                return -EINVAL;
        memcpy(out, raw + *off + 1, n);
        out[n] = '\0';
        *off += n + 1;
        return 0;
}

static int decode_fields(const uint8_t *raw, size_t end, struct rigcred *out)
{
        size_t off = 1 + NONCE_LEN;
        uint64_t exp = 0;
        for (int i = 0; i < 8; i++)
                exp = exp << 8 | raw[off++];
        int kind = raw[off++];
        if (exp == 0 || exp > INT64_MAX || kind < PK_USER || kind > PK_RIG_CREDENTIAL)
                return -EINVAL;
        out->expires_at = (int64_t)exp;
        out->kind = (enum principal_kind)kind;
        if (get_str(raw, end, &off, out->rig_id) < 0 ||
            get_str(raw, end, &off, out->principal_id) < 0 ||
            get_str(raw, end, &off, out->org_id) < 0 ||
            get_str(raw, end, &off, out->project_id) < 0 || off != end)
                return -EINVAL;
        return 0;
}

int rigcred_verify(const uint8_t key[RIGCRED_KEY_LEN], const char *p, size_t len, int64_t now,
                   struct rigcred *out)
{
        memset(out, 0, sizeof(*out));
        if (!rigcred_shape(p, len))
                return -EINVAL;
        uint8_t raw[RAW_MAX + 4];
        size_t n = 0;
        if (sodium_base642bin(raw, sizeof(raw), p + 3, len - 3, NULL, &n, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
                return -EINVAL;
        if (n < HEAD_LEN + 4 * 2 + MAC_LEN || raw[0] != VERSION)
                return -EINVAL;
        size_t body = n - MAC_LEN;
        if (crypto_auth_verify(raw + body, raw, body, key) != 0)
                return -EINVAL;
        int r = decode_fields(raw, body, out);
        if (r < 0) {
                memset(out, 0, sizeof(*out));
                return r;
        }
        return now >= out->expires_at ? -ETIMEDOUT : 0;
}
