/*
 * JWT authentication of Socket.IO connections (docs/auth.md). A sio_auth holds a key set (a
 * secret, PEM public keys, a JWKS file, a JWKS URL refreshed in the background) and protects
 * namespaces with an asynchronous connect middleware: a connection without a valid token is
 * refused with CONNECT_ERROR {"message":..., "data":{"code":"TOKEN_*"}}. An accepted socket
 * carries its identity in its data ({"user_id","organization_id","role"}) and in native claims
 * (sio_auth_claims_of); before its token expires it gets "auth:expiring", may send
 * "auth:refresh" with a new token, and is disconnected by the server at expiry otherwise.
 * Every call happens on the loop thread (sio.h).
 */
#ifndef SIO_AUTH_H
#define SIO_AUTH_H

#include <sio/sio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sio_auth sio_auth;

/** Where the keys come from and what a token must satisfy. Fill with sio_auth_config_init();
 *  every pointer is borrowed by sio_auth_new (which copies or reads what it needs). */
typedef struct sio_auth_config {
    /* keys: at least one source; they add up */
    const void *secret; /* HMAC secret bytes (HS256/384/512) */
    size_t secret_len;
    const char *secret_file;             /* file holding the secret (one trailing newline cut) */
    const char *secret_env;              /* environment variable holding the secret */
    const char *const *public_key_files; /* PEM public keys or certificates: RSA, EC, Ed25519 */
    size_t n_public_key_files;           /* entries of public_key_files */
    const char *jwks_file;               /* a JWKS ({"keys":[...]}) or a single JWK, read once */
    const char *jwks_url;                /* http(s) JWKS, fetched at start and refreshed */
    const char *jwks_ca_file;            /* https: PEM bundle to trust instead of the system */
    unsigned jwks_refresh_s;             /* 600: periodic refresh */
    unsigned jwks_min_refetch_s;         /* 30: fewest seconds between fetches for unknown kids */
    unsigned jwks_timeout_ms;            /* 5000: one fetch, DNS to last byte */
    size_t jwks_max_bytes;               /* 1 MiB: a larger JWKS response is a failed fetch */
    /* policy */
    const char *algorithms; /* "RS256,ES256": only these (NULL: all the keys are pinned to) */
    const char *issuer;     /* "iss" must equal it (NULL: not checked) */
    const char *audience;   /* "aud" must be or contain it (NULL: not checked) */
    unsigned leeway_s;      /* 30: clock skew allowed on exp and nbf */
    size_t max_token_bytes; /* 8192: longer tokens are TOKEN_INVALID */
    /* identity: comma-separated claim names tried in order (NULL: the default) */
    const char *user_claim; /* "sub,nameid,user_id" */
    const char *org_claim;  /* "organization_id,tenant_id" */
    const char *role_claim; /* "role" */
    /* expiry during a session */
    unsigned expiring_notice_s; /* 60: "auth:expiring" this long before exp (0: no notice) */
} sio_auth_config;

/** Sets the defaults above (no key source). */
SIO_API void sio_auth_config_init(sio_auth_config *c);

/**
 * Creates an authenticator for srv (borrowed; must outlive the sio_auth). Reads the key files
 * and the environment now (call it at start-up) and starts fetching jwks_url in the background
 * on sio_server_base(srv). Returns the new sio_auth, or NULL with *err (may be NULL) set to
 * SIO_EINVAL (no key source, an unreadable or unusable key, a bad algorithm list or URL; the
 * reason is logged at error level) or SIO_ENOMEM. Never calls back synchronously.
 */
SIO_API sio_auth *sio_auth_new(sio_server *srv, const sio_auth_config *c, int *err);

/**
 * Frees the authenticator: stops the JWKS refresh and every socket's expiry timers, and refuses
 * the connections still waiting for a JWKS fetch. Call it after sio_server_run returned and
 * before sio_server_free; protected namespaces must not see new connections afterwards. NULL is
 * accepted.
 */
SIO_API void sio_auth_free(sio_auth *a);

/**
 * Requires a valid token on nsp: appends an asynchronous middleware (sio_namespace_use) and the
 * "auth:refresh" event handler. The token is taken from, first found: the CONNECT auth "token",
 * the query parameter "token" or "access_token", the "Authorization: Bearer" header. A
 * middleware registered after this one runs only for accepted sockets and sees their claims
 * (that is where a connection cap or an authorisation check belongs). Register it on every
 * namespace the application creates, dynamic ones included (from their setup callback).
 * Returns 0 or SIO_ENOMEM.
 */
SIO_API int sio_auth_protect(sio_auth *a, sio_namespace *nsp);

/** The identity of an accepted socket. Strings are NUL-terminated, NULL when the claim is
 *  absent. */
typedef struct sio_auth_claims {
    const char *user_id;
    const char *organization_id;
    const char *role;
    int64_t exp;              /* seconds since the epoch; 0 when the token has no exp */
    const char *payload_json; /* the whole verified payload, compact JSON */
} sio_auth_claims;

/**
 * The claims of a socket accepted by a sio_auth, or NULL (not authenticated). Borrowed, valid
 * until the socket's token is refreshed or the socket is freed. Usable from a later middleware,
 * the connection callback and event handlers.
 */
SIO_API const sio_auth_claims *sio_auth_claims_of(const sio_socket *s);

/** Counters since sio_auth_new. */
typedef struct sio_auth_stats {
    uint64_t accepted; /* connections whose token verified */
    /* connections refused, by connect_error code */
    uint64_t refused_missing, refused_invalid, refused_expired, refused_not_yet_valid,
        refused_algorithm, refused_audience, refused_issuer;
    uint64_t refreshes_ok, refreshes_refused;   /* "auth:refresh" outcomes */
    uint64_t expiring_notices;                  /* "auth:expiring" sent */
    uint64_t expired_disconnects;               /* sockets disconnected at expiry */
    uint64_t jwks_fetches, jwks_fetch_failures; /* JWKS URL fetches started; failed */
    size_t keys;                                /* keys in the current set */
} sio_auth_stats;

/**
 * Verifies a bearer token with the current key set, for HTTP APIs authenticated with the same
 * tokens (sio-server's backend API). No key fetch happens here: a kid unknown to the current set
 * fails. On success the role claim (the configured names) is copied into role (NUL-terminated,
 * "" when absent; cut to role_cap - 1 bytes). Returns 0, or a negative code with *code set to
 * the connect_error name ("TOKEN_INVALID", "TOKEN_EXPIRED", ...; static). Never logs the token.
 */
SIO_API int sio_auth_verify_token(sio_auth *a, const char *token, char *role, size_t role_cap,
                                  const char **code);

/**
 * Reloads the key sources and the policy from c (an operator's SIGHUP): the secret, the secret
 * file, the PEM files and the JWKS file are read again, the JWKS URL is fetched again (it may
 * change), and algorithms, issuer, audience, leeway, expiring notice and the JWKS timings are
 * replaced. Connected sockets stay; new connections and "auth:refresh" use the new set. The
 * claim names and max_token_bytes keep their values from sio_auth_new. On any error (logged) the
 * keys in use are kept: returns SIO_EINVAL or SIO_ENOMEM; else 0.
 */
SIO_API int sio_auth_reload(sio_auth *a, const sio_auth_config *c);

/** Fills out with a's counters. */
SIO_API void sio_auth_get_stats(const sio_auth *a, sio_auth_stats *out);

#ifdef __cplusplus
}
#endif

#endif
