/* Flag parsing of the executables (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(const sio_cli_flag *flags, const char *prog)
{
    fprintf(stderr, "usage: %s [flags]\n", prog);
    for (const sio_cli_flag *f = flags; f->name; f++)
        fprintf(stderr, "  %-22s %s\n", f->name, f->help);
}

static int parse_value(const sio_cli_flag *f, const char *v)
{
    char *end;
    errno = 0;
    switch (f->type) {
    case SIO_CLI_INT: {
        long n = strtol(v, &end, 10);
        if (errno || *end || n < -2147483647L || n > 2147483647L)
            return -1;
        *(int *)f->target = (int)n;
        return 0;
    }
    case SIO_CLI_UINT: {
        unsigned long n = strtoul(v, &end, 10);
        if (errno || *end || v[0] == '-' || n > 4294967295UL)
            return -1;
        *(unsigned *)f->target = (unsigned)n;
        return 0;
    }
    case SIO_CLI_SIZE: {
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end || v[0] == '-')
            return -1;
        *(size_t *)f->target = (size_t)n;
        return 0;
    }
    case SIO_CLI_STR:
        *(const char **)f->target = v;
        return 0;
    case SIO_CLI_STRS: {
        sio_cli_strs *l = f->target;
        if (l->n == SIO_CLI_STRS_MAX)
            return -1;
        l->v[l->n++] = v;
        return 0;
    }
    case SIO_CLI_BOOL:
        break;
    }
    return -1;
}

int sio_cli_parse(int argc, char **argv, const sio_cli_flag *flags, const char *prog)
{
    for (int i = 1; i < argc; i++) {
        const sio_cli_flag *f = flags;
        size_t nlen = strcspn(argv[i], "=");
        while (f->name && (strlen(f->name) != nlen || strncmp(f->name, argv[i], nlen)))
            f++;
        if (!f->name) {
            usage(flags, prog);
            return -1;
        }
        if (f->type == SIO_CLI_BOOL) {
            *(int *)f->target = 1;
            continue;
        }
        const char *v =
            argv[i][nlen] == '=' ? argv[i] + nlen + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v || parse_value(f, v) < 0) {
            fprintf(stderr, "%s: bad value for %s\n", prog, f->name);
            return -1;
        }
    }
    return 0;
}

void sio_cli_redis_init(sio_cli_redis *r)
{
    sio_redis_adapter_config_init(&r->cfg);
    r->mode = "classic";
    r->subscription_mode = "dynamic";
}

int sio_cli_redis_apply(sio_cli_redis *r, sio_server_options *o, const char *prog)
{
    if (!r->cfg.url)
        return 0;
    if (!strcmp(r->mode, "sharded")) {
        r->cfg.sharded = 1;
    } else if (strcmp(r->mode, "classic") != 0) {
        fprintf(stderr, "%s: --redis-mode must be classic or sharded\n", prog);
        return -1;
    }
    if (!strcmp(r->subscription_mode, "static")) {
        r->cfg.subscription_mode = SIO_REDIS_SUB_STATIC;
    } else if (!strcmp(r->subscription_mode, "dynamic-private")) {
        r->cfg.subscription_mode = SIO_REDIS_SUB_DYNAMIC_PRIVATE;
    } else if (!strcmp(r->subscription_mode, "dynamic")) {
        r->cfg.subscription_mode = SIO_REDIS_SUB_DYNAMIC;
    } else {
        fprintf(stderr, "%s: --redis-subscription-mode: static, dynamic or dynamic-private\n",
                prog);
        return -1;
    }
    o->adapter.ops = sio_adapter_redis();
    o->adapter.config = &r->cfg;
    return 0;
}

void sio_cli_auth_init(sio_cli_auth *a)
{
    memset(a, 0, sizeof(*a));
    sio_auth_config_init(&a->cfg);
}

/* NULL for an empty string: a key given empty in the file means unset. */
static const char *nonempty(const char *v)
{
    return v && *v ? v : NULL;
}

static int seconds(const char *v, unsigned *out, const char *name, const char *prog)
{
    char *end;
    errno = 0;
    unsigned long n = v ? strtoul(v, &end, 10) : 0;
    if (!v)
        return 0;
    if (errno || *end || v[0] == '-' || n > 100000000UL) {
        fprintf(stderr, "%s: bad value for %s: %s\n", prog, name, v);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

int sio_cli_auth_apply(sio_cli_auth *a, const char *prog)
{
    sio_auth_config *c = &a->cfg, d;
    sio_auth_config_init(&d);
    const char *secret = nonempty(a->secret);
    c->secret = secret;
    c->secret_len = secret ? strlen(secret) : 0;
    c->secret_file = nonempty(c->secret_file);
    c->public_key_files = a->public_keys.n ? a->public_keys.v : NULL;
    c->n_public_key_files = a->public_keys.n;
    c->jwks_file = nonempty(c->jwks_file);
    c->jwks_url = nonempty(c->jwks_url);
    c->jwks_ca_file = nonempty(c->jwks_ca_file);
    c->algorithms = nonempty(c->algorithms);
    c->issuer = nonempty(c->issuer);
    c->audience = nonempty(c->audience);
    c->user_claim = nonempty(c->user_claim);
    c->org_claim = nonempty(c->org_claim);
    c->role_claim = nonempty(c->role_claim);
    c->leeway_s = d.leeway_s;
    c->expiring_notice_s = d.expiring_notice_s;
    c->jwks_refresh_s = d.jwks_refresh_s;
    c->jwks_min_refetch_s = d.jwks_min_refetch_s;
    if (seconds(nonempty(a->leeway), &c->leeway_s, "--jwt-leeway", prog) ||
        seconds(nonempty(a->notice), &c->expiring_notice_s, "--jwt-expiring-notice", prog) ||
        seconds(nonempty(a->refresh), &c->jwks_refresh_s, "--jwks-refresh", prog) ||
        seconds(nonempty(a->min_refetch), &c->jwks_min_refetch_s, "--jwks-min-refetch", prog))
        return -1;
    a->enabled =
        c->secret || c->secret_file || c->n_public_key_files || c->jwks_file || c->jwks_url;
    return 0;
}
