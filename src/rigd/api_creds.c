/* POST /api/rigs/{id}/credentials: mints a short-lived rig credential (core/rigcred.h). The
 * token is returned once and kept nowhere: not in the store, not in the audit log (which names
 * the rig), not in any log line. */
#include "rigd/live.h"

#include "base/timeutil.h"
#include "core/rigcred.h"
#include "core/rigs.h"
#include "rigd/api.h"

#include <pthread.h>
#include <sodium.h>

static uint8_t cred_key[RIGCRED_KEY_LEN];
static pthread_once_t cred_key_once = PTHREAD_ONCE_INIT;

static void cred_key_init(void)
{
        /* Best effort: keep the key out of swap and core dumps. */
        (void)sodium_mlock(cred_key, sizeof(cred_key));
        randombytes_buf(cred_key, sizeof(cred_key));
}

const uint8_t *rigcred_key(void)
{
        pthread_once(&cred_key_once, cred_key_init);
        return cred_key;
}

struct creds_in {
        int64_t ttl_s;
};

void api_rigs_credentials(struct reqctx *c)
{
        static const struct jfield fields[] = {
            JF_INT_FIELD(struct creds_in, ttl_s, false, 1, RIGCRED_TTL_MAX),
        };
        _cleanup_(rig_free_fields) struct rig r;
        memset(&r, 0, sizeof(r));
        if (rig_from_path(c, &r) < 0)
                return;
        struct creds_in in = {.ttl_s = RIGCRED_TTL_DEF};
        if (c->req->entity.len > 0) {
                json_t *root = NULL;
                if (body_decode(c, fields, ARRAY_SIZE(fields), &in, NULL, &root) < 0)
                        return;
                json_decref(root);
        }
        struct rigcred rc;
        memset(&rc, 0, sizeof(rc));
        snprintf(rc.rig_id, sizeof(rc.rig_id), "%s", r.id);
        snprintf(rc.principal_id, sizeof(rc.principal_id), "%s", c->p.id);
        snprintf(rc.org_id, sizeof(rc.org_id), "%s", r.org_id);
        snprintf(rc.project_id, sizeof(rc.project_id), "%s", r.project_id);
        rc.kind = c->p.kind;
        rc.expires_at = now_ms() / 1000 + in.ttl_s;
        char tok[RIGCRED_MAX_LEN];
        int n = rigcred_mint(rigcred_key(), &rc, tok, sizeof(tok));
        if (n < 0) {
                reply_errno(c, -EIO, "credential");
                return;
        }
        /* Audit before the reply, with the rig as target and never the token. */
        audit_now(c, "credential.mint", "ok");
        json_t *o = json_pack("{s:s%,s:o,s:s,s:I}", "token", tok, (size_t)n, "expires_at",
                              json_time(rc.expires_at), "rig", r.id, "ttl_s", (json_int_t)in.ttl_s);
        sodium_memzero(tok, sizeof(tok));
        reply_json(c, 201, o);
}
