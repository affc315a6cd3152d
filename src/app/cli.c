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

/* The flag's value, else the environment variable's (NULL when neither or empty). */
static const char *flag_or_env(const char *flag, const char *env)
{
    const char *v = flag ? flag : getenv(env);
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

/* SIO_JWT_PUBLIC_KEY: comma-separated paths, split in a static copy (the program's lifetime). */
static int env_public_keys(sio_cli_strs *l)
{
    static char copy[4096];
    const char *v = getenv("SIO_JWT_PUBLIC_KEY");
    if (!v || !*v)
        return 0;
    if (strlen(v) >= sizeof(copy))
        return -1;
    strcpy(copy, v);
    for (char *save = NULL, *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (l->n == SIO_CLI_STRS_MAX)
            return -1;
        l->v[l->n++] = p;
    }
    return 0;
}

int sio_cli_auth_apply(sio_cli_auth *a, const char *prog)
{
    sio_auth_config *c = &a->cfg;
    const char *secret = flag_or_env(a->secret, "SIO_JWT_SECRET");
    if (secret) {
        c->secret = secret;
        c->secret_len = strlen(secret);
    }
    c->secret_file = flag_or_env(c->secret_file, "SIO_JWT_SECRET_FILE");
    if (!a->public_keys.n && env_public_keys(&a->public_keys) < 0) {
        fprintf(stderr, "%s: SIO_JWT_PUBLIC_KEY: too many or too long\n", prog);
        return -1;
    }
    c->public_key_files = a->public_keys.v;
    c->n_public_key_files = a->public_keys.n;
    c->jwks_file = flag_or_env(c->jwks_file, "SIO_JWKS_FILE");
    c->jwks_url = flag_or_env(c->jwks_url, "SIO_JWKS_URL");
    c->jwks_ca_file = flag_or_env(c->jwks_ca_file, "SIO_JWKS_CA_FILE");
    c->algorithms = flag_or_env(c->algorithms, "SIO_JWT_ALGORITHMS");
    c->issuer = flag_or_env(c->issuer, "SIO_JWT_ISSUER");
    c->audience = flag_or_env(c->audience, "SIO_JWT_AUDIENCE");
    c->user_claim = flag_or_env(c->user_claim, "SIO_JWT_USER_CLAIM");
    c->org_claim = flag_or_env(c->org_claim, "SIO_JWT_ORG_CLAIM");
    c->role_claim = flag_or_env(c->role_claim, "SIO_JWT_ROLE_CLAIM");
    if (seconds(flag_or_env(a->leeway, "SIO_JWT_LEEWAY"), &c->leeway_s, "--jwt-leeway", prog) ||
        seconds(flag_or_env(a->notice, "SIO_JWT_EXPIRING_NOTICE"), &c->expiring_notice_s,
                "--jwt-expiring-notice", prog) ||
        seconds(flag_or_env(a->refresh, "SIO_JWKS_REFRESH"), &c->jwks_refresh_s, "--jwks-refresh",
                prog) ||
        seconds(flag_or_env(a->min_refetch, "SIO_JWKS_MIN_REFETCH"), &c->jwks_min_refetch_s,
                "--jwks-min-refetch", prog))
        return -1;
    a->enabled =
        c->secret || c->secret_file || c->n_public_key_files || c->jwks_file || c->jwks_url;
    return 0;
}
