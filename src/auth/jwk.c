/*
 * sio_jwt_keyset: loads verification keys from secrets, PEM (SPKI or X.509) and JWK/JWKS text
 * (RFC 7517, key parameters from RFC 7518 section 6 and RFC 8037 section 2) and pins each key to
 * the algorithms it may verify. Loading is all-or-nothing per call; a loaded set is read-only.
 */
#include "auth/jwt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <sio/error.h>

#include "auth/jwt_internal.h"

/* Bounds on what a caller or a fetched JWKS can make us hold. RSA stops at OpenSSL's own
 * verification limit; a secret beyond 4 KiB is a configuration mistake, not a stronger key. */
#define SECRET_MAX 4096
#define RSA_MAX_BITS 16384
#define PEM_MAX (64 * 1024)

#define ALGS_ES256 SIO_JWT_ALG_BIT(SIO_JWT_ES256)
#define ALGS_ES384 SIO_JWT_ALG_BIT(SIO_JWT_ES384)
#define ALGS_ES512 SIO_JWT_ALG_BIT(SIO_JWT_ES512)
#define ALGS_EDDSA SIO_JWT_ALG_BIT(SIO_JWT_EDDSA)

static int err_reason(const char **reason, const char *text, int rc)
{
    if (reason)
        *reason = text;
    return rc;
}

void sio_jwt_secret_free(void *p, size_t n)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}

static void key_clear(jwt_key *k)
{
    free(k->kid);
    EVP_PKEY_free(k->pkey);
    sio_jwt_secret_free(k->secret, k->secret_len);
    memset(k, 0, sizeof(*k));
}

sio_jwt_keyset *sio_jwt_keyset_new(void)
{
    return calloc(1, sizeof(sio_jwt_keyset));
}

void sio_jwt_keyset_free(sio_jwt_keyset *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->count; i++)
        key_clear(&ks->keys[i]);
    free(ks->keys);
    free(ks);
}

size_t sio_jwt_keyset_count(const sio_jwt_keyset *ks)
{
    return ks ? ks->count : 0;
}

/* Appends n keys, taking their contents (the caller's copies are zeroed). All or nothing. */
static int keyset_append(sio_jwt_keyset *ks, jwt_key *keys, size_t n, const char **reason)
{
    if (n > SIO_JWT_KEYSET_MAX - ks->count)
        return err_reason(reason, "too many keys", SIO_ELIMIT);
    jwt_key *grown = realloc(ks->keys, (ks->count + n) * sizeof(*grown));
    if (!grown)
        return err_reason(reason, "out of memory", SIO_ENOMEM);
    ks->keys = grown;
    memcpy(&ks->keys[ks->count], keys, n * sizeof(*keys));
    memset(keys, 0, n * sizeof(*keys));
    ks->count += n;
    return 0;
}

/* Narrows what the key type allows by an explicit request (0 = no narrowing). */
static int pin_algs(unsigned allowed, unsigned requested, unsigned *out, const char **reason)
{
    unsigned algs = requested ? allowed & requested : allowed;
    if (!algs || (requested & ~SIO_JWT_ALGS_ALL))
        return err_reason(reason, "algorithm does not suit this key type", SIO_EPROTO);
    *out = algs;
    return 0;
}

static int set_kid(jwt_key *k, const char *kid, const char **reason)
{
    if (!kid)
        return 0;
    k->kid = strdup(kid);
    return k->kid ? 0 : err_reason(reason, "out of memory", SIO_ENOMEM);
}

int sio_jwt_keyset_add_secret(sio_jwt_keyset *ks, const void *secret, size_t len, const char *kid,
                              unsigned algs, const char **reason)
{
    jwt_key k = {0};
    int rc;

    if (!ks || !secret || len == 0 || len > SECRET_MAX)
        return err_reason(reason, "secret must be 1 to 4096 bytes", SIO_EINVAL);
    if (algs & ~SIO_JWT_ALGS_HS)
        return err_reason(reason, "a secret only verifies HS256/HS384/HS512", SIO_EINVAL);
    k.algs = algs ? algs : SIO_JWT_ALGS_HS;
    k.secret = malloc(len);
    if (!k.secret)
        return err_reason(reason, "out of memory", SIO_ENOMEM);
    memcpy(k.secret, secret, len);
    k.secret_len = len;
    rc = set_kid(&k, kid, reason);
    if (rc == 0)
        rc = keyset_append(ks, &k, 1, reason);
    key_clear(&k);
    return rc;
}

/* ---- public keys ----------------------------------------------------------------------------- */

static int rsa_algs(const EVP_PKEY *pkey, unsigned family, unsigned *algs, const char **reason)
{
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < SIO_JWT_RSA_MIN_BITS)
        return err_reason(reason, "RSA key shorter than 2048 bits", SIO_EPROTO);
    if (bits > RSA_MAX_BITS)
        return err_reason(reason, "RSA key longer than 16384 bits", SIO_EPROTO);
    *algs = family;
    return 0;
}

/* An EC key verifies only the ES* of its own curve (RFC 7518 3.4: ES256 is P-256 and so on). */
static int ec_algs(const EVP_PKEY *pkey, unsigned *algs, const char **reason)
{
    char group[64];
    size_t n = 0;

    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &n) != 1)
        return err_reason(reason, "EC key without a named curve", SIO_EPROTO);
    if (strcmp(group, "prime256v1") == 0)
        *algs = ALGS_ES256;
    else if (strcmp(group, "secp384r1") == 0)
        *algs = ALGS_ES384;
    else if (strcmp(group, "secp521r1") == 0)
        *algs = ALGS_ES512;
    else
        return err_reason(reason, "EC curve not supported (need P-256, P-384 or P-521)",
                          SIO_EPROTO);
    return 0;
}

/* What a public key's type allows it to verify. */
static int pkey_algs(const EVP_PKEY *pkey, unsigned *algs, const char **reason)
{
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        return rsa_algs(pkey, SIO_JWT_ALGS_RS | SIO_JWT_ALGS_PS, algs, reason);
    case EVP_PKEY_RSA_PSS:
        /* An id-RSASSA-PSS key is restricted to PSS by its own encoding. */
        return rsa_algs(pkey, SIO_JWT_ALGS_PS, algs, reason);
    case EVP_PKEY_EC:
        return ec_algs(pkey, algs, reason);
    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
        *algs = ALGS_EDDSA;
        return 0;
    }
    return err_reason(reason, "key type not supported", SIO_EPROTO);
}

/* Pins pkey (taken, freed on error) into *k. */
static int key_from_pkey(jwt_key *k, EVP_PKEY *pkey, unsigned requested, const char **reason)
{
    unsigned allowed = 0;
    int rc = pkey_algs(pkey, &allowed, reason);

    if (rc == 0)
        rc = pin_algs(allowed, requested, &k->algs, reason);
    if (rc != 0) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    k->pkey = pkey;
    return 0;
}

/* Never prompt for a pass phrase: public keys and certificates are not encrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *user)
{
    return -1;
}

static EVP_PKEY *pem_read_pubkey(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = NULL;

    if (!bio)
        return NULL;
    pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    if (!pkey && BIO_reset(bio) == 1) {
        X509 *cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
        if (cert)
            pkey = X509_get_pubkey(cert);
        X509_free(cert);
    }
    BIO_free(bio);
    return pkey;
}

int sio_jwt_keyset_add_pem(sio_jwt_keyset *ks, const char *pem, size_t len, const char *kid,
                           unsigned algs, const char **reason)
{
    jwt_key k = {0};

    if (!ks || !pem || len == 0 || len > PEM_MAX)
        return err_reason(reason, "PEM text must be 1 byte to 64 KiB", SIO_EINVAL);
    EVP_PKEY *pkey = pem_read_pubkey(pem, len);
    ERR_clear_error();
    if (!pkey)
        return err_reason(reason, "no PUBLIC KEY or CERTIFICATE in PEM text", SIO_EPROTO);
    int rc = key_from_pkey(&k, pkey, algs, reason);
    if (rc == 0)
        rc = set_kid(&k, kid, reason);
    if (rc == 0)
        rc = keyset_append(ks, &k, 1, reason);
    key_clear(&k);
    return rc;
}

/* ---- JWK ------------------------------------------------------------------------------------- */

/* Decodes the base64url string member name of jwk into a new buffer (*out, freed by the caller).
 * Returns 0, or SIO_EPROTO if the member is missing, not a string, not strict base64url or empty.
 */
static int jwk_bytes(const json_t *jwk, const char *name, uint8_t **out, size_t *len)
{
    const json_t *v = json_object_get(jwk, name);

    *out = NULL;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return SIO_EPROTO;
    size_t cap = sio_jwt_b64url_decoded_len(json_string_length(v));
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return SIO_ENOMEM;
    ssize_t n = sio_jwt_b64url_decode(buf, cap, json_string_value(v), json_string_length(v));
    if (n <= 0) {
        free(buf);
        return SIO_EPROTO;
    }
    *out = buf;
    *len = (size_t)n;
    return 0;
}

/* Builds a public key of type name ("RSA", "EC") from params. NULL on failure. */
static EVP_PKEY *pkey_from_params(const char *name, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    EVP_PKEY *pkey = NULL;

    if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* The two base64url members of a JWK made into a key (RSA n and e, EC x and y); NULL when they
 * do not make one. ctx: what the key type needs besides. */
typedef EVP_PKEY *(*two_member_key)(const uint8_t *a, size_t al, const uint8_t *b, size_t bl,
                                    const void *ctx);

/* Reads the members a and b of jwk and makes the key. 0 with *out set, or an error (*reason
 * says what, bad naming the key type). */
static int jwk_two_members(const json_t *jwk, const char *a, const char *b, two_member_key make,
                           const void *ctx, const char *bad, EVP_PKEY **out, const char **reason)
{
    uint8_t *ab = NULL, *bb = NULL;
    size_t al = 0, bl = 0;
    int rc = jwk_bytes(jwk, a, &ab, &al);

    if (rc == 0)
        rc = jwk_bytes(jwk, b, &bb, &bl);
    if (rc == 0 && !(*out = make(ab, al, bb, bl, ctx)))
        rc = SIO_EPROTO;
    free(ab);
    free(bb);
    if (rc != 0)
        return err_reason(reason, rc == SIO_ENOMEM ? "out of memory" : bad, rc);
    return 0;
}

static EVP_PKEY *rsa_from_ne(const uint8_t *nb, size_t nl, const uint8_t *eb, size_t el,
                             const void *unused)
{
    (void)unused;
    if (nl > RSA_MAX_BITS / 8 + 1 || el > 64)
        return NULL;
    BIGNUM *n = BN_bin2bn(nb, (int)nl, NULL), *e = BN_bin2bn(eb, (int)el, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;

    /* A public exponent must be odd and above 1, or every signature check is meaningless. */
    if (n && e && bld && BN_is_odd(e) && !BN_is_one(e) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
        pkey = pkey_from_params("RSA", params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static int jwk_rsa(const json_t *jwk, EVP_PKEY **out, const char **reason)
{
    return jwk_two_members(jwk, "n", "e", rsa_from_ne, NULL, "bad RSA JWK (n, e)", out, reason);
}

/* The curves of RFC 7518 6.2.1.1 with their OpenSSL names and field sizes in bytes. */
typedef struct ec_curve {
    const char *crv, *group;
    size_t len;
} ec_curve;

static const ec_curve ec_curves[] = {
    {"P-256", "prime256v1", 32},
    {"P-384", "secp384r1", 48},
    {"P-521", "secp521r1", 66},
};

/* RFC 7518 6.2.1: x and y are exactly the field size, big-endian. The point is checked to be on
 * the curve and of the right order, so a hostile JWKS cannot plant an invalid-curve key. */
static EVP_PKEY *ec_from_xy(const uint8_t *x, size_t xl, const uint8_t *y, size_t yl,
                            const void *curve)
{
    const ec_curve *cv = curve;
    const size_t fl = cv->len;
    uint8_t pub[1 + 2 * 66];
    OSSL_PARAM params[3];
    EVP_PKEY *pkey;

    if (xl != fl || yl != fl)
        return NULL;

    pub[0] = 0x04; /* uncompressed point (SEC 1 2.3.3) */
    memcpy(pub + 1, x, fl);
    memcpy(pub + 1 + fl, y, fl);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)cv->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * fl);
    params[2] = OSSL_PARAM_construct_end();
    pkey = pkey_from_params("EC", params);
    if (pkey) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!ctx || EVP_PKEY_public_check(ctx) != 1) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        EVP_PKEY_CTX_free(ctx);
    }
    return pkey;
}

/* Returns 0 with *out set, 1 for an unsupported curve (skip the key), or an error. */
static int jwk_ec(const json_t *jwk, EVP_PKEY **out, const char **reason)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    size_t c;

    if (!crv)
        return err_reason(reason, "EC JWK without crv", SIO_EPROTO);
    for (c = 0; c < sizeof(ec_curves) / sizeof(ec_curves[0]); c++)
        if (strcmp(crv, ec_curves[c].crv) == 0)
            break;
    if (c == sizeof(ec_curves) / sizeof(ec_curves[0]))
        return 1;
    return jwk_two_members(jwk, "x", "y", ec_from_xy, &ec_curves[c], "bad EC JWK (x, y)", out,
                           reason);
}

/* RFC 8037 2: OKP keys. Only the signature curves; X25519/X448 are skipped (returns 1). */
static int jwk_okp(const json_t *jwk, EVP_PKEY **out, const char **reason)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    uint8_t *x = NULL;
    size_t xl = 0;
    int type, want;

    if (!crv)
        return err_reason(reason, "OKP JWK without crv", SIO_EPROTO);
    if (strcmp(crv, "Ed25519") == 0) {
        type = EVP_PKEY_ED25519;
        want = 32;
    } else if (strcmp(crv, "Ed448") == 0) {
        type = EVP_PKEY_ED448;
        want = 57;
    } else {
        return 1;
    }
    int rc = jwk_bytes(jwk, "x", &x, &xl);
    if (rc == 0 && xl != (size_t)want)
        rc = SIO_EPROTO;
    if (rc == 0 && !(*out = EVP_PKEY_new_raw_public_key(type, NULL, x, xl)))
        rc = SIO_EPROTO;
    free(x);
    if (rc != 0)
        return err_reason(reason, rc == SIO_ENOMEM ? "out of memory" : "bad OKP JWK (x)", rc);
    return 0;
}

static int jwk_oct(const json_t *jwk, jwt_key *k, const char **reason)
{
    int rc = jwk_bytes(jwk, "k", &k->secret, &k->secret_len);
    if (rc == 0 && k->secret_len > SECRET_MAX)
        rc = SIO_EPROTO;
    if (rc != 0)
        return err_reason(reason, rc == SIO_ENOMEM ? "out of memory" : "bad oct JWK (k)", rc);
    k->algs = SIO_JWT_ALGS_HS;
    return 0;
}

/* Whether the JWK is meant for verifying signatures at all (RFC 7517 4.2, 4.3). */
static int jwk_is_for_signing(const json_t *jwk, const char **reason)
{
    const json_t *use = json_object_get(jwk, "use");
    const json_t *ops = json_object_get(jwk, "key_ops");
    const json_t *op;
    size_t i;

    if (use && !json_is_string(use))
        return err_reason(reason, "JWK use is not a string", SIO_EPROTO);
    if (use && strcmp(json_string_value(use), "sig") != 0)
        return 0;
    if (!ops)
        return 1;
    if (!json_is_array(ops))
        return err_reason(reason, "JWK key_ops is not an array", SIO_EPROTO);
    json_array_foreach(ops, i, op)
    {
        if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
            return 1;
    }
    return 0;
}

/* The key material by kty. Returns 0, 1 to skip an unsupported type, or an error. */
static int jwk_material(const json_t *jwk, const char *kty, jwt_key *k, const char **reason)
{
    EVP_PKEY *pkey = NULL;
    int rc;

    if (strcmp(kty, "oct") == 0)
        return jwk_oct(jwk, k, reason);
    if (strcmp(kty, "RSA") == 0)
        rc = jwk_rsa(jwk, &pkey, reason);
    else if (strcmp(kty, "EC") == 0)
        rc = jwk_ec(jwk, &pkey, reason);
    else if (strcmp(kty, "OKP") == 0)
        rc = jwk_okp(jwk, &pkey, reason);
    else
        return 1;
    if (rc != 0)
        return rc;
    return key_from_pkey(k, pkey, 0, reason);
}

/* Parses one JWK into *k. Returns 0, 1 to skip the key, or an error with *reason set. */
static int jwk_parse(const json_t *jwk, jwt_key *k, const char **reason)
{
    const json_t *kty = json_object_get(jwk, "kty");
    const json_t *alg = json_object_get(jwk, "alg");
    const json_t *kid = json_object_get(jwk, "kid");
    int a = -1;

    if (!json_is_object(jwk) || !json_is_string(kty))
        return err_reason(reason, "JWK is not an object with a kty", SIO_EPROTO);
    if ((alg && !json_is_string(alg)) || (kid && !json_is_string(kid)))
        return err_reason(reason, "JWK alg or kid is not a string", SIO_EPROTO);
    int rc = jwk_is_for_signing(jwk, reason);
    if (rc <= 0)
        return rc < 0 ? rc : 1;
    if (alg) {
        /* An alg outside our table (RSA-OAEP, ES256K, none, ...) names a use we do not have. */
        a = sio_jwt_alg_from_name(json_string_value(alg), json_string_length(alg));
        if (a < 0)
            return 1;
    }
    rc = jwk_material(jwk, json_string_value(kty), k, reason);
    if (rc != 0)
        return rc;
    if (a >= 0) {
        rc = pin_algs(k->algs, SIO_JWT_ALG_BIT(a), &k->algs, reason);
        if (rc != 0)
            return err_reason(reason, "JWK alg does not suit its kty/crv", rc);
    }
    return set_kid(k, kid ? json_string_value(kid) : NULL, reason);
}

/* Parses every JWK of keys into out[] (zeroed by the caller); *n counts the usable ones. */
static int jwks_parse(const json_t *keys, jwt_key *out, size_t *n, const char **reason)
{
    size_t i;
    const json_t *jwk;

    json_array_foreach(keys, i, jwk)
    {
        int rc = jwk_parse(jwk, &out[*n], reason);
        if (rc < 0)
            return rc;
        if (rc == 0)
            (*n)++;
        else
            key_clear(&out[*n]);
    }
    return 0;
}

int sio_jwt_keyset_add_jwks(sio_jwt_keyset *ks, const char *json, size_t len, const char **reason)
{
    json_error_t err;
    json_t *root, *keys;
    jwt_key *staged;
    size_t n = 0;
    int rc;

    if (!ks || !json)
        return err_reason(reason, "no JWKS text", SIO_EINVAL);
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_reason(reason, "JWKS is not a JSON object", SIO_EPROTO);
    }
    keys = json_object_get(root, "keys");
    if (keys && !json_is_array(keys)) {
        json_decref(root);
        return err_reason(reason, "JWKS keys is not an array", SIO_EPROTO);
    }
    size_t total = keys ? json_array_size(keys) : 1;
    if (total > SIO_JWT_KEYSET_MAX) {
        json_decref(root);
        return err_reason(reason, "too many keys", SIO_ELIMIT);
    }
    staged = calloc(total ? total : 1, sizeof(*staged));
    if (!staged) {
        json_decref(root);
        return err_reason(reason, "out of memory", SIO_ENOMEM);
    }
    if (keys) {
        rc = jwks_parse(keys, staged, &n, reason);
    } else {
        rc = jwk_parse(root, &staged[0], reason);
        n = rc == 0;
        rc = rc > 0 ? 0 : rc;
    }
    if (rc == 0 && n == 0)
        rc = err_reason(reason, "no usable signature key in JWKS", SIO_ENOTFOUND);
    if (rc == 0)
        rc = keyset_append(ks, staged, n, reason);
    for (size_t i = 0; i < total; i++)
        key_clear(&staged[i]);
    free(staged);
    json_decref(root);
    /* Refused key material leaves OpenSSL errors queued; they are reported through reason. */
    ERR_clear_error();
    return rc;
}
