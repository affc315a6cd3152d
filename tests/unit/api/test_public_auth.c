/*
 * The public auth API (include/sio/auth.h) end to end on a real server and long-polling clients
 * on one loop: HS256 tokens made here, refusal codes, the claims seen by a later middleware and
 * in the socket's data, "auth:refresh", the expiry notice and disconnect, the counters.
 */
#include "poll_client.h"

#include <sio/auth.h>
#include <sio/error.h>
#include <sio/sio.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 5000
#define SECRET "test-secret"

static size_t b64url(char *out, const void *in, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = in;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = tab[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = tab[v & 63];
    }
    out[o] = '\0';
    return o;
}

/* An HS256 token for payload, in a static buffer. */
static const char *token(const char *payload)
{
    static char buf[2048];
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t n = b64url(buf, hdr, strlen(hdr));
    buf[n++] = '.';
    n += b64url(buf + n, payload, strlen(payload));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)buf, n, mac, &maclen);
    buf[n++] = '.';
    b64url(buf + n, mac, maclen);
    return buf;
}

typedef struct app {
    struct event_base *base;
    sio_server *srv;
    int after_calls;
    char after_user[32];
    char data[256];
} app;

/* A middleware after sio_auth_protect: runs only for accepted sockets, sees their claims. */
static void after_auth(sio_socket *s, sio_next *next, void *user)
{
    app *a = user;
    const sio_auth_claims *c = sio_auth_claims_of(s);
    cr_assert_not_null(c);
    a->after_calls++;
    snprintf(a->after_user, sizeof(a->after_user), "%s", c->user_id ? c->user_id : "(null)");
    snprintf(a->data, sizeof(a->data), "%s", sio_socket_data(s));
    sio_next_accept(next);
}

static char *connect_with(app *a, const char *auth_json)
{
    poll_client *c = poll_client_open(a->base, sio_server_port(a->srv), NULL, WAIT_MS);
    cr_assert_not_null(c);
    char *p = poll_client_connect(c, "/", auth_json, WAIT_MS);
    cr_assert_not_null(p);
    poll_client_free(c);
    return p;
}

static void expect_prefix(const char *p, const char *prefix)
{
    cr_assert(p && strncmp(p, prefix, strlen(prefix)) == 0, "got %s, want %s...", p, prefix);
}

Test(public_auth, refusals_claims_refresh_and_expiry, .timeout = 30)
{
    app a = {0};
    a.base = event_base_new();
    sio_server_options o;
    sio_server_options_init(&o);
    o.http.host = "127.0.0.1";
    o.http.port = 0;
    a.srv = sio_server_new(a.base, &o);
    cr_assert_not_null(a.srv);

    sio_auth_config cfg;
    sio_auth_config_init(&cfg);
    cr_assert_eq(cfg.leeway_s, 30);
    cr_assert_eq(cfg.expiring_notice_s, 60);
    int err = 0;
    cr_assert_null(sio_auth_new(a.srv, &cfg, &err), "no key source");
    cr_assert_eq(err, SIO_EINVAL);
    cfg.secret = SECRET;
    cfg.secret_len = strlen(SECRET);
    cfg.algorithms = "HS256,none";
    cr_assert_null(sio_auth_new(a.srv, &cfg, &err), "\"none\" is not an algorithm");
    cr_assert_eq(err, SIO_EINVAL);
    cfg.algorithms = "HS256";
    cfg.leeway_s = 0;
    cfg.expiring_notice_s = 1;
    sio_auth *auth = sio_auth_new(a.srv, &cfg, &err);
    cr_assert_not_null(auth);
    sio_namespace *root = sio_server_of(a.srv, "/");
    cr_assert_eq(sio_auth_protect(auth, root), 0);
    cr_assert_eq(sio_namespace_use(root, after_auth, &a), 0);

    char *p = connect_with(&a, NULL);
    expect_prefix(p, "44{\"message\":\"authentication token missing\",\"data\":{\"code\":\"TOKEN_"
                     "MISSING\"}}");
    free(p);
    p = connect_with(&a, "{\"token\":\"a.b.c\"}");
    expect_prefix(p, "44");
    cr_assert(strstr(p, "TOKEN_INVALID"), "%s", p);
    free(p);
    p = connect_with(&a, "{\"token\":42}");
    cr_assert(strstr(p, "TOKEN_INVALID"), "%s", p);
    free(p);
    char json[1200];
    snprintf(json, sizeof(json), "{\"token\":\"%s\"}", token("{\"sub\":\"u\",\"exp\":1000}"));
    p = connect_with(&a, json);
    cr_assert(strstr(p, "TOKEN_EXPIRED"), "%s", p);
    free(p);
    cr_assert_eq(a.after_calls, 0, "refused connections never reach the next middleware");

    /* the same check for HTTP APIs: the role of a good token, the code of a bad one */
    long long now = (long long)time(NULL);
    char payload[256];
    char role[32];
    const char *code = NULL;
    snprintf(payload, sizeof(payload), "{\"sub\":\"svc\",\"role\":\"admin\",\"exp\":%lld}",
             now + 60);
    cr_assert_eq(sio_auth_verify_token(auth, token(payload), role, sizeof(role), &code), 0);
    cr_assert_str_eq(role, "admin");
    cr_assert_str_eq(code, "OK");
    cr_assert_lt(sio_auth_verify_token(auth, token("{\"sub\":\"u\",\"exp\":1000}"), role,
                                       sizeof(role), &code),
                 0);
    cr_assert_str_eq(code, "TOKEN_EXPIRED");
    cr_assert_lt(sio_auth_verify_token(auth, "a.b.c", role, sizeof(role), &code), 0);
    cr_assert_str_eq(code, "TOKEN_INVALID");

    /* a reload to another secret: tokens of the old one fail, of the new one pass; a reload
     * without a key source fails and keeps the keys */
    sio_auth_config other = cfg;
    other.secret = "another-secret";
    other.secret_len = strlen("another-secret");
    cr_assert_eq(sio_auth_reload(auth, &other), 0);
    cr_assert_lt(sio_auth_verify_token(auth, token(payload), role, sizeof(role), &code), 0);
    sio_auth_config none;
    sio_auth_config_init(&none);
    cr_assert_eq(sio_auth_reload(auth, &none), SIO_EINVAL);
    cr_assert_eq(sio_auth_reload(NULL, &cfg), SIO_EINVAL);
    cr_assert_eq(sio_auth_reload(auth, &cfg), 0);
    cr_assert_eq(sio_auth_verify_token(auth, token(payload), role, sizeof(role), &code), 0);

    /* accepted: claims and data, then a refresh, then expiry */
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"u1\",\"tenant_id\":7,\"role\":\"support\",\"exp\":%lld}", now + 2);
    snprintf(json, sizeof(json), "{\"token\":\"%s\"}", token(payload));
    poll_client *c = poll_client_open(a.base, sio_server_port(a.srv), NULL, WAIT_MS);
    p = poll_client_connect(c, "/", json, WAIT_MS);
    expect_prefix(p, "40");
    free(p);
    cr_assert_eq(a.after_calls, 1);
    cr_assert_str_eq(a.after_user, "u1");
    cr_assert_str_eq(a.data, "{\"user_id\":\"u1\",\"organization_id\":\"7\",\"role\":\"support\"}");

    snprintf(payload, sizeof(payload), "{\"sub\":\"u2\",\"exp\":%lld}", now + 60);
    snprintf(json, sizeof(json), "421[\"auth:refresh\",{\"token\":\"%s\"}]", token(payload));
    poll_client_send(c, json);
    p = poll_client_wait(c, "431", WAIT_MS);
    cr_assert(p && strstr(p, "another user"), "%s", p);
    free(p);
    snprintf(payload, sizeof(payload), "{\"sub\":\"u1\",\"role\":\"lead\",\"exp\":%lld}", now + 3);
    snprintf(json, sizeof(json), "422[\"auth:refresh\",{\"token\":\"%s\"}]", token(payload));
    poll_client_send(c, json);
    p = poll_client_wait(c, "432", WAIT_MS);
    char want[64];
    snprintf(want, sizeof(want), "432[{\"ok\":true,\"exp\":%lld}]", now + 3);
    cr_assert_str_eq(p, want);
    free(p);
    p = poll_client_wait(c, "42[\"auth:expiring\"", WAIT_MS);
    snprintf(want, sizeof(want), "42[\"auth:expiring\",{\"exp\":%lld}]", now + 3);
    cr_assert_str_eq(p, want);
    free(p);
    p = poll_client_wait(c, "42[\"error\"", WAIT_MS);
    cr_assert(p && strstr(p, "TOKEN_EXPIRED"), "%s", p);
    free(p);
    p = poll_client_wait(c, "41", WAIT_MS);
    cr_assert_not_null(p, "server disconnect");
    free(p);
    poll_client_free(c);

    sio_auth_stats st;
    sio_auth_get_stats(auth, &st);
    cr_assert_eq(st.accepted, 1);
    cr_assert_eq(st.refused_missing, 1);
    cr_assert_eq(st.refused_invalid, 2);
    cr_assert_eq(st.refused_expired, 1);
    cr_assert_eq(st.refreshes_ok, 1);
    cr_assert_eq(st.refreshes_refused, 1);
    cr_assert_eq(st.expiring_notices, 1);
    cr_assert_eq(st.expired_disconnects, 1);
    cr_assert_eq(st.keys, 1);
    cr_assert_null(sio_auth_claims_of(NULL));

    sio_auth_free(auth);
    sio_auth_free(NULL);
    sio_server_free(a.srv);
    event_base_free(a.base);
}
