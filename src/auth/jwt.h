/*
 * JWT verification for connect-time auth: the JWS compact serialization (RFC 7515) carrying JWT
 * claims (RFC 7519), algorithms from RFC 7518 plus EdDSA (RFC 8037). Verify only, and pure: no
 * sockets, no loop, no logging, no clock (the caller passes the time). Must not fetch keys: a JWKS
 * refresh is the caller's job, triggered by SIO_JWT_TOKEN_INVALID with detail.unknown_kid set.
 */
#ifndef SIO_AUTH_JWT_H
#define SIO_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- algorithms ------------------------------------------------------------------------------ */

/** The supported "alg" values. "none" is deliberately absent: no code path can accept it. */
typedef enum sio_jwt_alg {
    SIO_JWT_HS256,
    SIO_JWT_HS384,
    SIO_JWT_HS512,
    SIO_JWT_RS256,
    SIO_JWT_RS384,
    SIO_JWT_RS512,
    SIO_JWT_PS256,
    SIO_JWT_PS384,
    SIO_JWT_PS512,
    SIO_JWT_ES256,
    SIO_JWT_ES384,
    SIO_JWT_ES512,
    SIO_JWT_EDDSA, /* Ed25519 or Ed448, whichever the key is */
    SIO_JWT_ALG_COUNT
} sio_jwt_alg;

/* Algorithm sets are bit masks of (1 << sio_jwt_alg). */
#define SIO_JWT_ALG_BIT(a) (1u << (a))
#define SIO_JWT_ALGS_HS                                                                            \
    (SIO_JWT_ALG_BIT(SIO_JWT_HS256) | SIO_JWT_ALG_BIT(SIO_JWT_HS384) |                             \
     SIO_JWT_ALG_BIT(SIO_JWT_HS512))
#define SIO_JWT_ALGS_RS                                                                            \
    (SIO_JWT_ALG_BIT(SIO_JWT_RS256) | SIO_JWT_ALG_BIT(SIO_JWT_RS384) |                             \
     SIO_JWT_ALG_BIT(SIO_JWT_RS512))
#define SIO_JWT_ALGS_PS                                                                            \
    (SIO_JWT_ALG_BIT(SIO_JWT_PS256) | SIO_JWT_ALG_BIT(SIO_JWT_PS384) |                             \
     SIO_JWT_ALG_BIT(SIO_JWT_PS512))
#define SIO_JWT_ALGS_ALL ((1u << SIO_JWT_ALG_COUNT) - 1u)

/** The registered name of alg ("HS256", ..., "EdDSA"): a static string, or NULL if out of range. */
const char *sio_jwt_alg_name(int alg);

/**
 * Looks up an exact, case-sensitive algorithm name of len bytes (borrowed; need not be
 * NUL-terminated). Returns the sio_jwt_alg (>= 0) or SIO_EINVAL for anything else, "none" included.
 */
int sio_jwt_alg_from_name(const char *name, size_t len);

/**
 * Parses a comma-separated allow-list such as "RS256,ES256" (spaces around names are ignored) into
 * *mask. Borrows list. Returns 0, or SIO_EINVAL with *reason (static, may be NULL) set for an
 * unknown name or an empty list; *mask is untouched on error.
 */
int sio_jwt_algs_parse(const char *list, unsigned *mask, const char **reason);

/* ---- result codes ---------------------------------------------------------------------------- */

/**
 * Outcome of sio_jwt_verify(). The names after SIO_JWT_ match the Socket.IO connect_error codes
 * the connect hook will send (sio_jwt_code_str()).
 */
typedef enum sio_jwt_code {
    SIO_JWT_OK = 0,
    SIO_JWT_TOKEN_MISSING = -1,       /* no token, or an empty one */
    SIO_JWT_TOKEN_INVALID = -2,       /* malformed, bad signature, unknown kid, bad claim types */
    SIO_JWT_TOKEN_EXPIRED = -3,       /* now >= exp + leeway */
    SIO_JWT_TOKEN_NOT_YET_VALID = -4, /* now + leeway < nbf */
    SIO_JWT_TOKEN_ALGORITHM = -5, /* alg missing, none, unsupported, not allowed, no key for it */
    SIO_JWT_TOKEN_AUDIENCE = -6,  /* expected audience absent from aud */
    SIO_JWT_TOKEN_ISSUER = -7,    /* iss missing or different */
    SIO_JWT_INTERNAL = -8,        /* allocation failure: not the token's fault */
} sio_jwt_code;

/** The wire code of a sio_jwt_code ("TOKEN_INVALID", ...): static, never NULL. */
const char *sio_jwt_code_str(int code);

/** A short human message for a sio_jwt_code: static, never NULL, never quotes the token. */
const char *sio_jwt_code_message(int code);

/** Why sio_jwt_verify() decided what it did. Filled in on every call. */
typedef struct sio_jwt_detail {
    int code;           /* the sio_jwt_code also returned */
    const char *reason; /* static text for logs ("signature mismatch", ...); never the token */
    bool unknown_kid;   /* the token named a kid no key has: worth a JWKS refresh */
    int alg;            /* the token's sio_jwt_alg, or -1 if it was not reached or not valid */
} sio_jwt_detail;

/* ---- key set --------------------------------------------------------------------------------- */

/**
 * A set of verification keys. Every key is pinned to the algorithms it may verify: a secret to
 * HS*, RSA to RS* and PS*, EC to the ES* of its curve, Ed25519/Ed448 to EdDSA, narrowed further by
 * a JWK "alg" or an explicit mask. Filled once, then read-only: verifying never changes it, so one
 * set may serve every connection; refresh by building a new set and swapping it in.
 */
typedef struct sio_jwt_keyset sio_jwt_keyset;

/** Most keys one set holds (bounds a hostile JWKS). */
#define SIO_JWT_KEYSET_MAX 64
/** RSA keys below this many bits are refused at load. */
#define SIO_JWT_RSA_MIN_BITS 2048

/** A new empty set, or NULL on OOM. The caller owns it and frees it with sio_jwt_keyset_free(). */
sio_jwt_keyset *sio_jwt_keyset_new(void);

/** Frees the set and every key in it (secrets are wiped). NULL is a no-op. */
void sio_jwt_keyset_free(sio_jwt_keyset *ks);
/** Wipes key material p[0..n) (OPENSSL_cleanse), then frees it. NULL is a no-op. */
void sio_jwt_secret_free(void *p, size_t n);

/** Number of keys loaded. */
size_t sio_jwt_keyset_count(const sio_jwt_keyset *ks);

/**
 * Adds an HMAC secret of len bytes (1..4096), copied. kid (borrowed, copied; NULL for none) is
 * matched against the token's "kid". algs narrows the key to a subset of SIO_JWT_ALGS_HS; 0 means
 * all of HS*. Returns 0, SIO_EINVAL (empty or oversized secret, algs outside HS*), SIO_ELIMIT
 * (set full) or SIO_ENOMEM; *reason (may be NULL) gets static text on error. No change on error.
 */
int sio_jwt_keyset_add_secret(sio_jwt_keyset *ks, const void *secret, size_t len, const char *kid,
                              unsigned algs, const char **reason);

/**
 * Adds the public key of a PEM text of len bytes (borrowed): a SubjectPublicKeyInfo ("BEGIN PUBLIC
 * KEY") or an X.509 certificate ("BEGIN CERTIFICATE"), RSA (>= 2048 bits), EC P-256/P-384/P-521,
 * Ed25519 or Ed448. kid and algs as for sio_jwt_keyset_add_secret(); algs 0 means everything the
 * key type allows, otherwise it must overlap that. Returns 0, SIO_EPROTO (unreadable PEM,
 * unsupported key type or curve, RSA too short, algs not for this key), SIO_EINVAL, SIO_ELIMIT or
 * SIO_ENOMEM, with *reason set on error. No change on error.
 */
int sio_jwt_keyset_add_pem(sio_jwt_keyset *ks, const char *pem, size_t len, const char *kid,
                           unsigned algs, const char **reason);

/**
 * Adds the keys of a JWKS ({"keys":[...]}) or of a single JWK, JSON text of len bytes (borrowed).
 * Key types: RSA (n, e), EC (crv, x, y), OKP (crv Ed25519/Ed448, x), oct (k). Keys whose "use" is
 * not "sig", whose "key_ops" lacks "verify", whose "alg" is not a supported signature algorithm,
 * or whose kty/crv is not supported (X25519, secp256k1, ...) are skipped. A JWK "alg" pins the key
 * to exactly that algorithm and must suit its type. Private members are ignored. All or nothing:
 * returns 0 having added every usable key, or SIO_EPROTO (bad JSON, duplicate members, malformed
 * or weak key), SIO_ENOTFOUND (no usable key at all), SIO_ELIMIT or SIO_ENOMEM with *reason set
 * and the set unchanged.
 */
int sio_jwt_keyset_add_jwks(sio_jwt_keyset *ks, const char *json, size_t len, const char **reason);

/* ---- verification ---------------------------------------------------------------------------- */

/** Default cap on the token length in bytes. */
#define SIO_JWT_MAX_TOKEN_LEN 8192

/** Verification policy. Fill with sio_jwt_options_init(), then change fields. */
typedef struct sio_jwt_options {
    unsigned algs;        /* global allow-list (mask); default SIO_JWT_ALGS_ALL */
    size_t max_token_len; /* longer tokens are TOKEN_INVALID; default SIO_JWT_MAX_TOKEN_LEN */
    int64_t leeway;       /* seconds of clock skew allowed on exp and nbf; default 0 */
    const char *issuer;   /* borrowed; if set, "iss" must equal it exactly; default NULL */
    const char *audience; /* borrowed; if set, "aud" must be it or an array holding it */
    bool require_exp;     /* refuse tokens without "exp" (TOKEN_INVALID); default false */
} sio_jwt_options;

/** Sets the defaults above. */
void sio_jwt_options_init(sio_jwt_options *o);

/**
 * Verifies a compact JWS token of len bytes (borrowed) against ks and opts (borrowed; NULL opts
 * means the defaults) at time now (seconds since the epoch). Checks, in order: length, three
 * strict base64url segments, a JSON object header without duplicate members or "crit", an "alg"
 * from the table and allowed by opts, a key whose kid and pinning admit the token, the signature,
 * a JSON object payload, then exp, nbf, iss and aud. On SIO_JWT_OK, *payload (if payload is not
 * NULL) receives a new reference to the claims, which the caller json_decref()s; on any error
 * *payload is NULL. detail (may be NULL) is always filled. Returns a sio_jwt_code. Thread-safe
 * for a shared ks as long as nobody adds keys to it meanwhile.
 */
int sio_jwt_verify(const sio_jwt_keyset *ks, const sio_jwt_options *opts, const char *token,
                   size_t len, int64_t now, json_t **payload, sio_jwt_detail *detail);

/* ---- claims ---------------------------------------------------------------------------------- */

/**
 * Where to find each identity field: NULL-terminated lists of claim names tried in order, all
 * borrowed. A NULL list means the default: user {"sub", "nameid", "user_id"}, organization
 * {"organization_id", "tenant_id"}, role {"role"}.
 */
typedef struct sio_jwt_claim_names {
    const char *const *user_id;
    const char *const *organization;
    const char *const *role;
} sio_jwt_claim_names;

/** Identity read from a verified payload. Each field is owned (malloc) or NULL if absent. */
typedef struct sio_jwt_claims {
    char *user_id;
    char *organization;
    char *role;
} sio_jwt_claims;

/**
 * Fills *out from payload (borrowed, normally from sio_jwt_verify()). For each field the first
 * listed claim that is a non-empty string or an integer wins; integers (and integral numbers up to
 * 2^53) become decimal strings; other types are skipped. names may be NULL for all defaults.
 * Returns 0 (fields without a match stay NULL), SIO_EINVAL (payload not an object) or SIO_ENOMEM;
 * on error *out holds no allocations. Free with sio_jwt_claims_deinit().
 */
int sio_jwt_claims_extract(const json_t *payload, const sio_jwt_claim_names *names,
                           sio_jwt_claims *out);

/** Frees the strings in c and sets them to NULL. */
void sio_jwt_claims_deinit(sio_jwt_claims *c);

#endif
