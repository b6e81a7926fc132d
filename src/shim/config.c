/* The rig's config.json, written by the runtime (runtime_ns.c) before it starts the shim:
 *   {"id", "hostname", "template", "stateless", "uid_base",
 *    "limits": {"cpus", "memory_mb", "max_processes", "disk_mb"},
 *    "env": ["K=V", ...], "rig_dir", "data_dir", "rootfs",
 *    "net": {"bridge", "ip", "prefix", "gateway", "group", "dns": [...]}}   (net: optional) */
#include "shim/shim.h"

#include "hostnet/addr.h"

#include "runtime/rtutil.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

int shim_fail(struct shim_err *e, int code, const char *fmt, ...)
{
        e->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        return -code;
}

static int copy_str(json_t *o, const char *key, char *out, size_t outlen, bool required)
{
        const char *v = json_string_value(json_object_get(o, key));
        if (!v)
                return required ? -EINVAL : 0;
        if (strlen(v) >= outlen || memchr(v, '\0', json_string_length(json_object_get(o, key))))
                return -EINVAL;
        strcpy(out, v);
        return 0;
}

static int load_env(json_t *arr, struct rig_spec *spec)
{
        if (!arr)
                return 0;
        if (!json_is_array(arr) || json_array_size(arr) > 4096)
                return -EINVAL;
        spec->env = xcalloc(json_array_size(arr) + 1, sizeof(char *));
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
                const char *s = json_string_value(v);
                if (!s || !strchr(s, '=') || strlen(s) != json_string_length(v))
                        return -EINVAL;
                spec->env[i] = xstrdup(s);
        }
        return 0;
}

static int load_limits(json_t *l, struct rig_limits *lim)
{
        if (!json_is_object(l))
                return -EINVAL;
        lim->cpus = json_number_value(json_object_get(l, "cpus"));
        lim->memory_mb = json_integer_value(json_object_get(l, "memory_mb"));
        lim->max_processes = json_integer_value(json_object_get(l, "max_processes"));
        lim->disk_mb = json_integer_value(json_object_get(l, "disk_mb"));
        if (lim->cpus <= 0 || lim->memory_mb <= 0 || lim->max_processes <= 0)
                return -EINVAL;
        return 0;
}

static int load_net(json_t *n, struct rig_net *net)
{
        if (!n)
                return 0;
        const char *br = json_string_value(json_object_get(n, "bridge"));
        json_t *prefix = json_object_get(n, "prefix");
        json_t *group = json_object_get(n, "group");
        json_t *dns = json_object_get(n, "dns");
        if (!br || !net_bridge_name_ok(br) ||
            net_ip_parse(json_string_value(json_object_get(n, "ip")), &net->ip) < 0 ||
            net_ip_parse(json_string_value(json_object_get(n, "gateway")), &net->gateway) < 0 ||
            !json_is_integer(prefix) || json_integer_value(prefix) < 8 ||
            json_integer_value(prefix) > 30 || !json_is_integer(group) ||
            (dns && (!json_is_array(dns) || json_array_size(dns) > RIG_NET_DNS_MAX)))
                return -EINVAL;
        snprintf(net->bridge, sizeof(net->bridge), "%s", br);
        net->prefix = (int)json_integer_value(prefix);
        net->group = (uint32_t)json_integer_value(group);
        size_t i;
        json_t *v;
        json_array_foreach(dns, i, v)
        {
                if (net_ip_parse(json_string_value(v), &net->dns[net->ndns++]) < 0)
                        return -EINVAL;
        }
        return 0;
}

int shim_config_load(const char *path, struct shim_config *cfg, struct shim_err *e)
{
        memset(cfg, 0, sizeof(*cfg));
        json_error_t je;
        json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!o)
                return shim_fail(e, EINVAL, "cannot read %s: %s", path, je.text);
        struct rig_spec *sp = &cfg->spec;
        int r = 0;
        if (copy_str(o, "id", sp->id, sizeof(sp->id), true) < 0 || !rt_id_valid(sp->id))
                r = shim_fail(e, EINVAL, "config: bad id");
        else if (copy_str(o, "hostname", sp->hostname, sizeof(sp->hostname), true) < 0 ||
                 !sp->hostname[0])
                r = shim_fail(e, EINVAL, "config: bad hostname");
        else if (copy_str(o, "template", sp->template_name, sizeof(sp->template_name), false) < 0)
                r = shim_fail(e, EINVAL, "config: bad template");
        else if (copy_str(o, "rig_dir", cfg->rig_dir, sizeof(cfg->rig_dir), true) < 0 ||
                 copy_str(o, "data_dir", cfg->data_dir, sizeof(cfg->data_dir), true) < 0 ||
                 copy_str(o, "rootfs", cfg->rootfs, sizeof(cfg->rootfs), true) < 0)
                r = shim_fail(e, EINVAL, "config: bad paths");
        else if (load_limits(json_object_get(o, "limits"), &sp->limits) < 0)
                r = shim_fail(e, EINVAL, "config: bad limits");
        else if (load_env(json_object_get(o, "env"), sp) < 0)
                r = shim_fail(e, EINVAL, "config: bad env");
        else if (load_net(json_object_get(o, "net"), &sp->net) < 0)
                r = shim_fail(e, EINVAL, "config: bad net");
        if (r == 0) {
                json_int_t base = json_integer_value(json_object_get(o, "uid_base"));
                sp->stateless = json_is_true(json_object_get(o, "stateless"));
                /* The rig's 65536 ids must stay clear of host root and of the id space's end. */
                if (base < 65536 || base > (json_int_t)UINT32_MAX - 65536)
                        r = shim_fail(e, EINVAL, "config: uid_base %lld out of range",
                                      (long long)base);
                sp->uid_base = (uint32_t)base;
        }
        json_decref(o);
        if (r < 0)
                shim_config_free(cfg);
        return r;
}

void shim_config_free(struct shim_config *cfg)
{
        if (cfg->spec.env)
                for (char **p = cfg->spec.env; *p; p++)
                        free(*p);
        free(cfg->spec.env);
        cfg->spec.env = NULL;
}
