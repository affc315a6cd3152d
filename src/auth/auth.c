/*
 * The authenticator of include/sio/auth.h, on the public API only: key material and the JWKS URL
 * (this file), the connect middleware and the per-socket expiry (protect.c). jwt.c stays the
 * pure verifier; this layer owns the loop side: file reads at start-up, HTTP fetches, timers.
 * Owner tree: sio_auth -> key set, key material, fetch, refresh timer, waiting connections;
 * each socket's state is owned by its slot (freed with the socket) and linked here.
 */
#include "auth/auth_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/log.h"

enum { MAX_KEY_FILE = 1 << 20, DEFAULT_JWKS_MAX = 1 << 20 };

int64_t sio_auth_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sio_auth_config_init(sio_auth_config *c)
{
    memset(c, 0, sizeof(*c));
    c->jwks_refresh_s = 600;
    c->jwks_min_refetch_s = 30;
    c->jwks_timeout_ms = 5000;
    c->jwks_max_bytes = DEFAULT_JWKS_MAX;
    c->leeway_s = 30;
    c->max_token_bytes = SIO_JWT_MAX_TOKEN_LEN;
    c->expiring_notice_s = 60;
}

/* Reads a whole file of at most MAX_KEY_FILE bytes; *len excludes the added NUL. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(MAX_KEY_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_KEY_FILE + 1, f) : 0;
    int bad = !buf || ferror(f) || n > MAX_KEY_FILE;
    fclose(f);
    if (bad) {
        free(buf);
        errno = EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Adds the key material that never changes (secret, PEM files, JWKS file) and, if given, a
 * fetched JWKS to a new set. Returns it, or NULL with *why set. */
static sio_jwt_keyset *build_keyset(const auth_sources *src, const char *jwks, size_t jwks_len,
                                    const char **why)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    int rc = ks ? 0 : SIO_ENOMEM;
    *why = "out of memory";
    if (rc == 0 && src->secret)
        rc = sio_jwt_keyset_add_secret(ks, src->secret, src->secret_len, NULL, 0, why);
    for (size_t i = 0; rc == 0 && i < src->npems; i++)
        rc = sio_jwt_keyset_add_pem(ks, src->pems[i], src->pem_lens[i], NULL, 0, why);
    if (rc == 0 && src->jwks_text)
        rc = sio_jwt_keyset_add_jwks(ks, src->jwks_text, src->jwks_len, why);
    if (rc == 0 && jwks)
        rc = sio_jwt_keyset_add_jwks(ks, jwks, jwks_len, why);
    if (rc != 0) {
        sio_jwt_keyset_free(ks);
        return NULL;
    }
    return ks;
}

/* ---- JWKS URL ------------------------------------------------------------------------------ */

static void schedule_refresh(sio_auth *a, unsigned s)
{
    struct timeval tv = {(time_t)s, 0};
    evtimer_add(a->refresh_ev, &tv);
}

static void on_jwks(sio_httpc *req, const sio_httpc_response *res, void *user)
{
    sio_auth *a = user;
    const char *why = res->reason;
    sio_jwt_keyset *ks = NULL;
    a->fetch = NULL;
    if (res->status == 200) {
        ks = build_keyset(&a->src, res->body, res->body_len, &why);
    } else if (res->status > 0) {
        why = "unexpected HTTP status";
    }
    if (ks) {
        sio_jwt_keyset_free(a->src.ks);
        a->src.ks = ks;
        a->url_keys_loaded = 1;
        sio_log(SIO_LOG_INFO, "auth", "JWKS %s: %zu keys in the set", a->src.jwks_url,
                sio_jwt_keyset_count(ks));
        schedule_refresh(a, a->refresh_s);
    } else {
        a->stats.jwks_fetch_failures++;
        sio_log(SIO_LOG_WARN, "auth", "JWKS %s: fetch failed (status %d, %s); keeping %zu keys",
                a->src.jwks_url, res->status, why, sio_jwt_keyset_count(a->src.ks));
        schedule_refresh(a, a->min_refetch_s < a->refresh_s ? a->min_refetch_s : a->refresh_s);
    }
    sio_auth_waiters_resume(a);
}

int sio_auth_fetch_start(sio_auth *a)
{
    if (a->fetch)
        return 0;
    sio_httpc_header hs[] = {{"Accept", "application/jwk-set+json, application/json"}};
    sio_httpc_req req = {.url = a->src.jwks_url,
                         .headers = hs,
                         .n_headers = 1,
                         .timeout_ms = (int)a->timeout_ms,
                         .max_response_bytes = a->max_bytes,
                         .tls = a->src.tls};
    a->last_fetch_ms = sio_auth_mono_ms();
    a->stats.jwks_fetches++;
    a->fetch = sio_httpc_request(a->base, &req, on_jwks, a);
    if (!a->fetch) {
        a->stats.jwks_fetch_failures++;
        return SIO_ENOMEM;
    }
    return 0;
}

int sio_auth_fetch_allowed(const sio_auth *a)
{
    return a->src.jwks_url &&
           (a->fetch || sio_auth_mono_ms() - a->last_fetch_ms >= (int64_t)a->min_refetch_s * 1000);
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    sio_auth *a = arg;
    if (sio_auth_fetch_start(a) < 0)
        schedule_refresh(a, a->min_refetch_s ? a->min_refetch_s : 1);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

/* Frees a half-built a and reports code; returns NULL. */
static sio_auth *fail_new(sio_auth *a, int *err, int code, const char *what, const char *detail)
{
    if (what)
        sio_log(SIO_LOG_ERROR, "auth", "%s: %s", what, detail ? detail : "invalid");
    if (err)
        *err = code;
    sio_auth_free(a);
    return NULL;
}

static int set_secret(auth_sources *src, const void *p, size_t n)
{
    while (n && (((const char *)p)[n - 1] == '\n' || ((const char *)p)[n - 1] == '\r'))
        n--; /* files and environment values commonly end with a newline */
    if (!n)
        return SIO_EINVAL;
    sio_jwt_secret_free(src->secret, src->secret_len);
    if (!(src->secret = malloc(n)))
        return SIO_ENOMEM;
    memcpy(src->secret, p, n);
    src->secret_len = n;
    return 0;
}

/* Reads every key source into src. Returns 0, or SIO_EINVAL / SIO_ENOMEM after logging why. */
static int read_keys(auth_sources *src, const sio_auth_config *c)
{
    size_t n;
    char *text;
    if (c->secret && c->secret_len && set_secret(src, c->secret, c->secret_len) < 0)
        return SIO_EINVAL;
    if (c->secret_file) {
        if (!(text = read_file(c->secret_file, &n))) {
            sio_log(SIO_LOG_ERROR, "auth", "secret file %s: %s", c->secret_file, strerror(errno));
            return SIO_EINVAL;
        }
        int rc = set_secret(src, text, n);
        sio_jwt_secret_free(text, n);
        if (rc < 0) {
            sio_log(SIO_LOG_ERROR, "auth", "secret file %s is empty", c->secret_file);
            return rc;
        }
    }
    if (c->secret_env) {
        const char *v = getenv(c->secret_env);
        if (!v || !*v || set_secret(src, v, strlen(v)) < 0) {
            sio_log(SIO_LOG_ERROR, "auth", "environment variable %s is not set", c->secret_env);
            return SIO_EINVAL;
        }
    }
    if (c->n_public_key_files) {
        src->pems = calloc(c->n_public_key_files, sizeof(char *));
        src->pem_lens = calloc(c->n_public_key_files, sizeof(size_t));
        if (!src->pems || !src->pem_lens)
            return SIO_ENOMEM;
    }
    for (size_t i = 0; i < c->n_public_key_files; i++) {
        if (!(src->pems[i] = read_file(c->public_key_files[i], &src->pem_lens[i]))) {
            sio_log(SIO_LOG_ERROR, "auth", "public key %s: %s", c->public_key_files[i],
                    strerror(errno));
            return SIO_EINVAL;
        }
        src->npems++;
    }
    if (c->jwks_file && !(src->jwks_text = read_file(c->jwks_file, &src->jwks_len))) {
        sio_log(SIO_LOG_ERROR, "auth", "JWKS file %s: %s", c->jwks_file, strerror(errno));
        return SIO_EINVAL;
    }
    return 0;
}

/* Builds src (zeroed) from c: the policy strings, the key material, the key set and the JWKS
 * URL's TLS store, as sio_auth_new starts and sio_auth_reload replaces them. Returns 0, or
 * SIO_EINVAL / SIO_ENOMEM after logging why (each line starting with ctx). */
static int sources_load(auth_sources *src, const sio_auth_config *c, const char *ctx)
{
    const char *why = NULL;
    if ((c->issuer && !(src->issuer = strdup(c->issuer))) ||
        (c->audience && !(src->audience = strdup(c->audience))) ||
        (c->jwks_url && !(src->jwks_url = strdup(c->jwks_url))))
        return SIO_ENOMEM;
    int rc = read_keys(src, c);
    if (rc < 0)
        return rc;
    if (!src->secret && !src->npems && !src->jwks_text && !src->jwks_url) {
        sio_log(SIO_LOG_ERROR, "auth", "%skeys: no key source configured", ctx);
        return SIO_EINVAL;
    }
    if (!(src->ks = build_keyset(src, NULL, 0, &why))) {
        sio_log(SIO_LOG_ERROR, "auth", "%skeys: %s", ctx, why);
        return SIO_EINVAL;
    }
    if (src->jwks_url && strncmp(src->jwks_url, "https://", 8) == 0 &&
        !(src->tls = sio_httpc_tls_new(c->jwks_ca_file))) {
        sio_log(SIO_LOG_ERROR, "auth", "%sJWKS URL: cannot load the trusted certificates", ctx);
        return SIO_EINVAL;
    }
    return 0;
}

/* Frees src: the key material (cleansed), the key set, the JWKS URL and its TLS store, the
 * policy strings. */
static void sources_free(auth_sources *src)
{
    sio_httpc_tls_free(src->tls);
    sio_jwt_keyset_free(src->ks);
    sio_jwt_secret_free(src->secret, src->secret_len);
    for (size_t i = 0; i < src->npems; i++)
        free(src->pems[i]);
    free(src->pems);
    free(src->pem_lens);
    sio_jwt_secret_free(src->jwks_text, src->jwks_len); /* may hold "oct" secrets */
    free(src->jwks_url);
    free(src->issuer);
    free(src->audience);
}

static char **names_or_null(const char *list, int *bad)
{
    if (!list)
        return NULL;
    char **n = sio_auth_names_parse(list);
    if (!n)
        *bad = 1;
    return n;
}

sio_auth *sio_auth_new(sio_server *srv, const sio_auth_config *c, int *err)
{
    sio_auth *a = calloc(1, sizeof(*a));
    if (!srv || !c || !a) {
        free(a);
        if (err)
            *err = a || !srv || !c ? SIO_EINVAL : SIO_ENOMEM;
        return NULL;
    }
    a->srv = srv;
    a->base = sio_server_base(srv);
    sio_jwt_options_init(&a->opts);
    a->leeway_s = c->leeway_s;
    a->opts.leeway = c->leeway_s;
    a->opts.max_token_len = c->max_token_bytes ? c->max_token_bytes : SIO_JWT_MAX_TOKEN_LEN;
    a->notice_s = c->expiring_notice_s;
    a->refresh_s = c->jwks_refresh_s ? c->jwks_refresh_s : 600;
    a->min_refetch_s = c->jwks_min_refetch_s;
    a->timeout_ms = c->jwks_timeout_ms ? c->jwks_timeout_ms : 5000;
    a->max_bytes = c->jwks_max_bytes ? c->jwks_max_bytes : DEFAULT_JWKS_MAX;
    const char *why = NULL;
    if (c->algorithms && sio_jwt_algs_parse(c->algorithms, &a->opts.algs, &why) < 0)
        return fail_new(a, err, SIO_EINVAL, "algorithms", why);
    int bad = 0;
    a->names.user_id = (const char *const *)(a->user_names = names_or_null(c->user_claim, &bad));
    a->names.organization = (const char *const *)(a->org_names = names_or_null(c->org_claim, &bad));
    a->names.role = (const char *const *)(a->role_names = names_or_null(c->role_claim, &bad));
    if (bad)
        return fail_new(a, err, SIO_EINVAL, "claim names", "an empty or too long list");
    int rc = sources_load(&a->src, c, "");
    if (rc < 0)
        return fail_new(a, err, rc, NULL, NULL);
    a->opts.issuer = a->src.issuer;
    a->opts.audience = a->src.audience;
    if (a->src.jwks_url &&
        (!(a->refresh_ev = evtimer_new(a->base, on_refresh, a)) || sio_auth_fetch_start(a) < 0))
        return fail_new(a, err, SIO_EINVAL, "JWKS URL", "not a valid http(s) URL");
    sio_log(SIO_LOG_INFO, "auth", "JWT authentication: %zu keys%s%s",
            sio_jwt_keyset_count(a->src.ks), a->src.jwks_url ? ", JWKS from " : "",
            a->src.jwks_url ? a->src.jwks_url : "");
    return a;
}

void sio_auth_free(sio_auth *a)
{
    if (!a)
        return;
    sio_httpc_cancel(a->fetch);
    a->fetch = NULL;
    sio_auth_waiters_refuse_all(a);
    sio_auth_sessions_detach(a);
    if (a->refresh_ev)
        event_free(a->refresh_ev);
    sources_free(&a->src);
    free(a->user_names);
    free(a->org_names);
    free(a->role_names);
    free(a->waiters);
    free(a);
}

int sio_auth_reload(sio_auth *a, const sio_auth_config *c)
{
    if (!a || !c)
        return SIO_EINVAL;
    sio_jwt_options d;
    sio_jwt_options_init(&d);
    unsigned algs = d.algs;
    const char *why = NULL;
    auth_sources t = {0};
    int rc = 0;
    if (c->algorithms && sio_jwt_algs_parse(c->algorithms, &algs, &why) < 0) {
        sio_log(SIO_LOG_ERROR, "auth", "reload: algorithms: %s", why ? why : "invalid");
        rc = SIO_EINVAL;
    } else if ((rc = sources_load(&t, c, "reload: ")) == 0 && t.jwks_url && !a->refresh_ev &&
               !(a->refresh_ev = evtimer_new(a->base, on_refresh, a))) {
        rc = SIO_ENOMEM;
    }
    if (rc < 0) {
        sources_free(&t);
        sio_log(SIO_LOG_ERROR, "auth", "reload failed: keeping the %zu keys in use",
                sio_jwt_keyset_count(a->src.ks));
        return rc;
    }
    /* the old JWKS fetch answers nobody now: the waiters are verified again below */
    sio_httpc_cancel(a->fetch);
    a->fetch = NULL;
    if (a->refresh_ev)
        evtimer_del(a->refresh_ev);
    auth_sources old = a->src;
    a->src = t;
    sources_free(&old);
    a->opts.algs = algs;
    a->opts.leeway = c->leeway_s;
    a->opts.issuer = a->src.issuer;
    a->opts.audience = a->src.audience;
    a->leeway_s = c->leeway_s;
    a->notice_s = c->expiring_notice_s;
    a->refresh_s = c->jwks_refresh_s ? c->jwks_refresh_s : 600;
    a->min_refetch_s = c->jwks_min_refetch_s;
    a->url_keys_loaded = 0;
    sio_log(SIO_LOG_INFO, "auth", "reloaded: %zu keys%s%s", sio_jwt_keyset_count(a->src.ks),
            a->src.jwks_url ? ", fetching the JWKS from " : "",
            a->src.jwks_url ? a->src.jwks_url : "");
    if (a->src.jwks_url && sio_auth_fetch_start(a) < 0)
        schedule_refresh(a, a->min_refetch_s ? a->min_refetch_s : 1);
    if (!a->src.jwks_url)
        sio_auth_waiters_resume(a);
    return 0;
}

void sio_auth_get_stats(const sio_auth *a, sio_auth_stats *out)
{
    *out = a->stats;
    out->keys = sio_jwt_keyset_count(a->src.ks);
}
