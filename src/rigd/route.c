#include "rigd/route.h"

static const char *const method_names[] = {
    [M_GET] = "GET",     [M_POST] = "POST",     [M_PUT] = "PUT",
    [M_PATCH] = "PATCH", [M_DELETE] = "DELETE", [M_HEAD] = "HEAD",
};

const char *http_method_name(enum http_method m)
{
        return (m >= M_GET && m <= M_HEAD) ? method_names[m] : "?";
}

enum http_method http_method_parse(const char *p, size_t len)
{
        for (int m = M_GET; m <= M_HEAD; m++)
                if (memeq_str(p, len, method_names[m]))
                        return (enum http_method)m;
        return 0;
}

/* Matches one pattern; fills params. */
static bool match_pattern(const char *pat, const char *path, size_t len, struct route_match *m)
{
        size_t i = 0;
        int np = 0;
        while (*pat) {
                if (*pat == '{') {
                        const char *close = strchr(pat, '}');
                        size_t start = i;
                        while (i < len && path[i] != '/')
                                i++;
                        if (i == start || i - start > 256 || np == ROUTE_MAX_PARAMS)
                                return false;
                        m->params[np].p = path + start;
                        m->params[np].len = i - start;
                        np++;
                        pat = close + 1;
                        continue;
                }
                if (i >= len || path[i] != *pat)
                        return false;
                i++;
                pat++;
        }
        if (i != len)
                return false;
        m->nparams = np;
        return true;
}

int route_lookup(const struct route *table, size_t n, enum http_method method, const char *path,
                 size_t len, struct route_match *m)
{
        memset(m, 0, sizeof(*m));
        /* A trailing slash is tolerated ("/api/keys/" is "/api/keys"), the root is not touched. */
        if (len > 1 && path[len - 1] == '/')
                len--;
        enum http_method want = method == M_HEAD ? M_GET : method;
        bool path_known = false;
        for (size_t i = 0; i < n; i++) {
                struct route_match tmp;
                memset(&tmp, 0, sizeof(tmp));
                if (!match_pattern(table[i].pattern, path, len, &tmp))
                        continue;
                path_known = true;
                m->allowed |= 1u << table[i].method;
                if (table[i].method == M_GET)
                        m->allowed |= 1u << M_HEAD;
                if (table[i].method == want && !m->route) {
                        unsigned allowed = m->allowed;
                        *m = tmp;
                        m->allowed = allowed;
                        m->route = &table[i];
                }
        }
        if (m->route)
                return 0;
        return path_known ? -EPERM : -ENOENT;
}

int route_table_validate(const struct route *table, size_t n, const char **bad)
{
        for (size_t i = 0; i < n; i++) {
                const struct route *r = &table[i];
                *bad = r->pattern;
                if (r->access == ACCESS_UNDECLARED || !r->fn || !r->pattern ||
                    r->pattern[0] != '/' || r->rl >= RL_CLASS_MAX)
                        return -EINVAL;
                if (r->method != M_GET && r->method != M_HEAD && !r->action)
                        return -EINVAL; /* every mutation names its audit action */
                /* A route open to rig credentials is about one rig, named first. */
                if ((r->access == ACCESS_RIG || r->access == ACCESS_RIG_WS) &&
                    strncmp(r->pattern, "/api/rigs/{id}", 14) != 0)
                        return -EINVAL;
                if (r->access == ACCESS_RIG_WS && r->method != M_GET)
                        return -EINVAL;
                int params = 0;
                for (const char *p = r->pattern; *p; p++) {
                        if (*p == '{') {
                                const char *close = strchr(p, '}');
                                if (!close || close == p + 1 || (close[1] && close[1] != '/'))
                                        return -EINVAL;
                                params++;
                        }
                }
                if (params > ROUTE_MAX_PARAMS)
                        return -EINVAL;
        }
        *bad = NULL;
        return 0;
}
