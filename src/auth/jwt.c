/*
 * JWT verification (see jwt.h): splits and decodes a compact JWS (RFC 7515 section 7.1), checks
 * the header, picks keys by kid and pinning, verifies the signature with OpenSSL EVP (RFC 7518
 * section 3, RFC 8037 section 3.1) and checks the registered time, issuer and audience claims
 * (RFC 7519 section 4.1). Owns no state; never logs; never copies the token into a message.
 */
#include "auth/jwt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <sio/error.h>

#include "auth/jwt_internal.h"

/* ---- algorithm table ------------------------------------------------------------------------- */

enum alg_family { FAM_HMAC, FAM_RSA_PKCS1, FAM_RSA_PSS, FAM_ECDSA, FAM_EDDSA };

struct alg_info {
    const char *name;
    enum alg_family family;
    const EVP_MD *(*md)(void); /* NULL for EdDSA, which hashes internally */
    size_t ec_half;            /* ECDSA: bytes of r and of s in the raw signature (RFC 7518 3.4) */
};

/* Indexed by sio_jwt_alg. */
static const struct alg_info alg_table[SIO_JWT_ALG_COUNT] = {
    [SIO_JWT_HS256] = {"HS256", FAM_HMAC, EVP_sha256, 0},
    [SIO_JWT_HS384] = {"HS384", FAM_HMAC, EVP_sha384, 0},
    [SIO_JWT_HS512] = {"HS512", FAM_HMAC, EVP_sha512, 0},
    [SIO_JWT_RS256] = {"RS256", FAM_RSA_PKCS1, EVP_sha256, 0},
    [SIO_JWT_RS384] = {"RS384", FAM_RSA_PKCS1, EVP_sha384, 0},
    [SIO_JWT_RS512] = {"RS512", FAM_RSA_PKCS1, EVP_sha512, 0},
    [SIO_JWT_PS256] = {"PS256", FAM_RSA_PSS, EVP_sha256, 0},
    [SIO_JWT_PS384] = {"PS384", FAM_RSA_PSS, EVP_sha384, 0},
    [SIO_JWT_PS512] = {"PS512", FAM_RSA_PSS, EVP_sha512, 0},
    [SIO_JWT_ES256] = {"ES256", FAM_ECDSA, EVP_sha256, 32},
    [SIO_JWT_ES384] = {"ES384", FAM_ECDSA, EVP_sha384, 48},
    [SIO_JWT_ES512] = {"ES512", FAM_ECDSA, EVP_sha512, 66}, /* P-521: 521 bits round up to 66 */
    [SIO_JWT_EDDSA] = {"EdDSA", FAM_EDDSA, NULL, 0},
};

const char *sio_jwt_alg_name(int alg)
{
    if (alg < 0 || alg >= SIO_JWT_ALG_COUNT)
        return NULL;
    return alg_table[alg].name;
}

int sio_jwt_alg_from_name(const char *name, size_t len)
{
    /* Exact and case-sensitive (RFC 7515 4.1.1 names are case-sensitive): "hs256" is not HS256. */
    for (int i = 0; i < SIO_JWT_ALG_COUNT; i++)
        if (strlen(alg_table[i].name) == len && memcmp(alg_table[i].name, name, len) == 0)
            return i;
    return SIO_EINVAL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

int sio_jwt_algs_parse(const char *list, unsigned *mask, const char **reason)
{
    unsigned m = 0;
    const char *p = list;

    if (!list) {
        if (reason)
            *reason = "no algorithm list";
        return SIO_EINVAL;
    }
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && is_space(*p)) {
            p++;
            n--;
        }
        while (n > 0 && is_space(p[n - 1]))
            n--;
        int alg = sio_jwt_alg_from_name(p, n);
        if (alg < 0) {
            if (reason)
                *reason = n ? "unknown algorithm in list" : "empty algorithm name in list";
            return SIO_EINVAL;
        }
        m |= SIO_JWT_ALG_BIT(alg);
        if (!end)
            break;
        p = end + 1;
    }
    *mask = m;
    return 0;
}

/* ---- result codes ---------------------------------------------------------------------------- */

/* Wire code and message of each sio_jwt_code, by -code. */
static const struct {
    const char *code, *message;
} jwt_codes[] = {
    [-SIO_JWT_OK] = {"OK", "token accepted"},
    [-SIO_JWT_TOKEN_MISSING] = {"TOKEN_MISSING", "authentication token missing"},
    [-SIO_JWT_TOKEN_INVALID] = {"TOKEN_INVALID", "authentication token invalid"},
    [-SIO_JWT_TOKEN_EXPIRED] = {"TOKEN_EXPIRED", "authentication token expired"},
    [-SIO_JWT_TOKEN_NOT_YET_VALID] = {"TOKEN_NOT_YET_VALID", "authentication token not yet valid"},
    [-SIO_JWT_TOKEN_ALGORITHM] = {"TOKEN_ALGORITHM", "token signing algorithm not accepted"},
    [-SIO_JWT_TOKEN_AUDIENCE] = {"TOKEN_AUDIENCE", "token audience not accepted"},
    [-SIO_JWT_TOKEN_ISSUER] = {"TOKEN_ISSUER", "token issuer not accepted"},
    [-SIO_JWT_INTERNAL] = {"INTERNAL_ERROR", "internal error while checking the token"},
};
_Static_assert(sizeof(jwt_codes) / sizeof(jwt_codes[0]) == 1 - SIO_JWT_INTERNAL, "a row per code");

/* Any other code reads as TOKEN_INVALID. */
static int jwt_code_index(int code)
{
    return code <= 0 && -code < (int)(sizeof(jwt_codes) / sizeof(jwt_codes[0]))
               ? -code
               : -SIO_JWT_TOKEN_INVALID;
}

const char *sio_jwt_code_str(int code)
{
    return jwt_codes[jwt_code_index(code)].code;
}

const char *sio_jwt_code_message(int code)
{
    return jwt_codes[jwt_code_index(code)].message;
}

/* ---- base64url ------------------------------------------------------------------------------- */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t sio_jwt_b64url_decoded_len(size_t n)
{
    return n / 4 * 3 + (n % 4 > 1 ? n % 4 - 1 : 0);
}

ssize_t sio_jwt_b64url_decode(uint8_t *out, size_t cap, const char *in, size_t n)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;

    /* One leftover character carries only 6 bits: no byte can end there. */
    if (n % 4 == 1 || sio_jwt_b64url_decoded_len(n) > cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = ((acc << 6) | (uint32_t)v) & 0x3fff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The 2 or 4 spare bits of a partial group must be zero, or several spellings would decode to
     * the same bytes (RFC 4648 section 3.5). */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (ssize_t)o;
}

/* ---- signature ------------------------------------------------------------------------------- */

static int verify_hmac(const jwt_key *k, const struct alg_info *a, const uint8_t *in, size_t n,
                       const uint8_t *sig, size_t slen)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;

    if (!HMAC(a->md(), k->secret, (int)k->secret_len, in, n, mac, &maclen))
        return 0;
    /* Constant time, so the comparison does not leak how many leading bytes matched. */
    int ok = slen == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok;
}

/* JWS carries ECDSA signatures as fixed-size big-endian r || s; EVP wants DER. Returns the DER
 * length (the caller OPENSSL_free()s *der) or -1. */
static int ecdsa_raw_to_der(const uint8_t *sig, size_t half, uint8_t **der)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
    BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
    int len = -1;

    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* now owned by es */
        *der = NULL;
        len = i2d_ECDSA_SIG(es, der);
        if (len <= 0)
            len = -1;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return len;
}

/* RSA, ECDSA and EdDSA through EVP_DigestVerify. Returns 1 if the signature is good, else 0. */
static int verify_pkey(const jwt_key *k, const struct alg_info *a, const uint8_t *in, size_t n,
                       const uint8_t *sig, size_t slen)
{
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t *der = NULL;
    int ok = 0;

    if (a->family == FAM_ECDSA) {
        /* Exactly 2 * half bytes: no DER, no short or padded forms (RFC 7518 3.4). */
        if (slen != 2 * a->ec_half)
            return 0;
        int dl = ecdsa_raw_to_der(sig, a->ec_half, &der);
        if (dl < 0)
            return 0;
        sig = der;
        slen = (size_t)dl;
    } else if (slen != (size_t)EVP_PKEY_get_size(k->pkey)) {
        /* RSA signatures are exactly the modulus size, EdDSA ones 64 or 114 bytes. */
        return 0;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, a->md ? a->md() : NULL, NULL, k->pkey) != 1)
        goto out;
    if (a->family == FAM_RSA_PKCS1 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    /* PS*: MGF1 with the same hash and a salt exactly as long as the digest (RFC 7518 3.5). */
    if (a->family == FAM_RSA_PSS &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, a->md()) != 1))
        goto out;
    ok = EVP_DigestVerify(ctx, sig, slen, in, n) == 1;
out:
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

static int verify_signature(const jwt_key *k, int alg, const uint8_t *in, size_t n,
                            const uint8_t *sig, size_t slen)
{
    const struct alg_info *a = &alg_table[alg];
    int ok;

    if (a->family == FAM_HMAC)
        ok = k->secret ? verify_hmac(k, a, in, n, sig, slen) : 0;
    else
        ok = k->pkey ? verify_pkey(k, a, in, n, sig, slen) : 0;
    /* A failed verification leaves entries on OpenSSL's thread error queue; they mean nothing to
     * the next caller. */
    ERR_clear_error();
    return ok;
}

/* ---- token checks ---------------------------------------------------------------------------- */

static int fail(sio_jwt_detail *d, int code, const char *reason)
{
    d->code = code;
    d->reason = reason;
    return code;
}

/* The three segments of a compact JWS. */
struct segments {
    const char *p[3];
    size_t n[3];
};

static int split_token(const char *t, size_t len, struct segments *s)
{
    int i = 0;
    size_t start = 0;

    for (size_t j = 0; j <= len; j++) {
        if (j < len && t[j] != '.')
            continue;
        if (i == 3)
            return -1;
        s->p[i] = t + start;
        s->n[i] = j - start;
        i++;
        start = j + 1;
    }
    return i == 3 ? 0 : -1;
}

/* Parses n decoded bytes as a JSON object. Duplicate members are refused: two readers could
 * otherwise disagree on "alg" or "sub". Returns a new reference or NULL. */
static json_t *parse_object(const uint8_t *buf, size_t n)
{
    json_error_t err;
    json_t *v = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &err);

    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* Checks the protected header; sets d->alg and *kid (borrowed from hdr). */
static int check_header(const json_t *hdr, const sio_jwt_options *o, const char **kid,
                        sio_jwt_detail *d)
{
    const json_t *alg = json_object_get(hdr, "alg");
    const json_t *k = json_object_get(hdr, "kid");
    const json_t *typ = json_object_get(hdr, "typ");

    if (!alg)
        return fail(d, SIO_JWT_TOKEN_ALGORITHM, "alg missing");
    if (!json_is_string(alg))
        return fail(d, SIO_JWT_TOKEN_ALGORITHM, "alg is not a string");
    const char *name = json_string_value(alg);
    int a = sio_jwt_alg_from_name(name, json_string_length(alg));
    if (a < 0)
        return fail(d, SIO_JWT_TOKEN_ALGORITHM,
                    strcasecmp(name, "none") == 0 ? "alg none refused" : "alg not supported");
    d->alg = a;
    if (!(o->algs & SIO_JWT_ALG_BIT(a)))
        return fail(d, SIO_JWT_TOKEN_ALGORITHM, "alg not allowed");
    /* We understand no extension, so RFC 7515 4.1.11 says any "crit" makes the token invalid. */
    if (json_object_get(hdr, "crit"))
        return fail(d, SIO_JWT_TOKEN_INVALID, "crit header not supported");
    if (k && !json_is_string(k))
        return fail(d, SIO_JWT_TOKEN_INVALID, "kid is not a string");
    /* "typ" is advisory (JWT, at+jwt, absent are all fine) but must be a string if present. */
    if (typ && !json_is_string(typ))
        return fail(d, SIO_JWT_TOKEN_INVALID, "typ is not a string");
    *kid = k ? json_string_value(k) : NULL;
    return SIO_JWT_OK;
}

/* Tries every key the kid and the pinning admit. With a kid, only keys carrying that kid qualify
 * (or, when none does, keys without a kid); without one, every key pinned to alg does. */
static int check_signature(const sio_jwt_keyset *ks, int alg, const char *kid, const uint8_t *in,
                           size_t n, const uint8_t *sig, size_t slen, sio_jwt_detail *d)
{
    int kid_seen = 0, pinned = 0;

    for (size_t i = 0; ks && i < ks->count; i++) {
        const jwt_key *k = &ks->keys[i];
        if (kid && (!k->kid || strcmp(k->kid, kid) != 0))
            continue;
        kid_seen = 1;
        if (!(k->algs & SIO_JWT_ALG_BIT(alg)))
            continue;
        pinned = 1;
        if (verify_signature(k, alg, in, n, sig, slen))
            return SIO_JWT_OK;
    }
    if (kid && !kid_seen) {
        /* No key carries this kid. Keys loaded without one (a secret, a PEM file) serve any kid:
         * issuers stamp a kid on tokens whatever the verifier was configured with. The kid stays
         * reported as unknown, so that a JWKS refresh is still tried when they do not verify. */
        for (size_t i = 0; ks && i < ks->count; i++) {
            const jwt_key *k = &ks->keys[i];
            if (!k->kid && (k->algs & SIO_JWT_ALG_BIT(alg)) &&
                verify_signature(k, alg, in, n, sig, slen))
                return SIO_JWT_OK;
        }
        d->unknown_kid = true;
        return fail(d, SIO_JWT_TOKEN_INVALID, "unknown kid");
    }
    /* Keys exist but none may verify this alg: algorithm confusion, or a token for another
     * issuer. */
    if (!pinned)
        return fail(d, SIO_JWT_TOKEN_ALGORITHM, "no key accepts this alg");
    return fail(d, SIO_JWT_TOKEN_INVALID, "signature mismatch");
}

/* A NumericDate claim, which must be a JSON number when present. 1 = present, 0 = absent,
 * -1 = wrong type. */
static int numeric_claim(const json_t *claims, const char *name, double *v)
{
    const json_t *c = json_object_get(claims, name);
    if (!c)
        return 0;
    if (!json_is_number(c))
        return -1;
    *v = json_number_value(c);
    return 1;
}

static int check_times(const json_t *claims, const sio_jwt_options *o, int64_t now,
                       sio_jwt_detail *d)
{
    double exp = 0, nbf = 0, iat = 0;
    double t = (double)now, leeway = o->leeway > 0 ? (double)o->leeway : 0;
    int has_exp = numeric_claim(claims, "exp", &exp);
    int has_nbf = numeric_claim(claims, "nbf", &nbf);

    if (has_exp < 0)
        return fail(d, SIO_JWT_TOKEN_INVALID, "exp is not a number");
    if (has_nbf < 0)
        return fail(d, SIO_JWT_TOKEN_INVALID, "nbf is not a number");
    if (numeric_claim(claims, "iat", &iat) < 0)
        return fail(d, SIO_JWT_TOKEN_INVALID, "iat is not a number");
    if (!has_exp && o->require_exp)
        return fail(d, SIO_JWT_TOKEN_INVALID, "exp missing");
    /* RFC 7519 4.1.4: the token must not be accepted on or after exp. */
    if (has_exp && t >= exp + leeway)
        return fail(d, SIO_JWT_TOKEN_EXPIRED, "token expired");
    if (has_nbf && t + leeway < nbf)
        return fail(d, SIO_JWT_TOKEN_NOT_YET_VALID, "token not yet valid");
    return SIO_JWT_OK;
}

static int audience_matches(const json_t *aud, const char *want)
{
    size_t i;
    const json_t *v;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return 1;
    }
    return 0;
}

static int check_claims(const json_t *claims, const sio_jwt_options *o, int64_t now,
                        sio_jwt_detail *d)
{
    int rc = check_times(claims, o, now, d);
    if (rc != SIO_JWT_OK)
        return rc;
    if (o->issuer) {
        const json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), o->issuer) != 0)
            return fail(d, SIO_JWT_TOKEN_ISSUER, "issuer mismatch");
    }
    if (o->audience && !audience_matches(json_object_get(claims, "aud"), o->audience))
        return fail(d, SIO_JWT_TOKEN_AUDIENCE, "audience mismatch");
    return SIO_JWT_OK;
}

void sio_jwt_options_init(sio_jwt_options *o)
{
    memset(o, 0, sizeof(*o));
    o->algs = SIO_JWT_ALGS_ALL;
    o->max_token_len = SIO_JWT_MAX_TOKEN_LEN;
}

/* Everything after the size checks. buf is len bytes of scratch: the header, then the payload
 * and signature side by side, decode into it (3 bytes per 4 characters, so they fit). */
static int verify_segments(const sio_jwt_keyset *ks, const sio_jwt_options *o,
                           const struct segments *s, uint8_t *buf, size_t len, int64_t now,
                           json_t **payload, sio_jwt_detail *d)
{
    const char *kid = NULL;
    json_t *hdr, *claims;
    size_t pl_cap = sio_jwt_b64url_decoded_len(s->n[1]);
    uint8_t *pl = buf, *sig = buf + pl_cap;
    ssize_t n = sio_jwt_b64url_decode(buf, len, s->p[0], s->n[0]);

    if (n < 0)
        return fail(d, SIO_JWT_TOKEN_INVALID, "header is not base64url");
    hdr = parse_object(buf, (size_t)n);
    if (!hdr)
        return fail(d, SIO_JWT_TOKEN_INVALID, "header is not a JSON object");
    int rc = check_header(hdr, o, &kid, d);
    if (rc != SIO_JWT_OK)
        goto out;
    ssize_t pl_len = sio_jwt_b64url_decode(pl, pl_cap, s->p[1], s->n[1]);
    ssize_t sig_len = sio_jwt_b64url_decode(sig, len - pl_cap, s->p[2], s->n[2]);
    if (pl_len < 0 || sig_len < 0) {
        rc = fail(d, SIO_JWT_TOKEN_INVALID,
                  pl_len < 0 ? "payload is not base64url" : "signature is not base64url");
        goto out;
    }
    /* The signing input is the ASCII header.payload exactly as sent (RFC 7515 5.2 step 8). */
    rc = check_signature(ks, d->alg, kid, (const uint8_t *)s->p[0], s->n[0] + 1 + s->n[1], sig,
                         (size_t)sig_len, d);
    if (rc != SIO_JWT_OK)
        goto out;
    claims = parse_object(pl, (size_t)pl_len);
    if (!claims) {
        rc = fail(d, SIO_JWT_TOKEN_INVALID, "payload is not a JSON object");
        goto out;
    }
    rc = check_claims(claims, o, now, d);
    if (rc == SIO_JWT_OK && payload)
        *payload = claims;
    else
        json_decref(claims);
out:
    json_decref(hdr);
    return rc;
}

int sio_jwt_verify(const sio_jwt_keyset *ks, const sio_jwt_options *opts, const char *token,
                   size_t len, int64_t now, json_t **payload, sio_jwt_detail *detail)
{
    sio_jwt_detail scratch;
    sio_jwt_options defaults;
    sio_jwt_detail *d = detail ? detail : &scratch;
    struct segments s;

    memset(d, 0, sizeof(*d));
    d->alg = -1;
    d->reason = "ok";
    if (payload)
        *payload = NULL;
    if (!opts) {
        sio_jwt_options_init(&defaults);
        opts = &defaults;
    }
    if (!token || len == 0)
        return fail(d, SIO_JWT_TOKEN_MISSING, "no token");
    if (len > opts->max_token_len)
        return fail(d, SIO_JWT_TOKEN_INVALID, "token too long");
    if (split_token(token, len, &s) != 0)
        return fail(d, SIO_JWT_TOKEN_INVALID, "not three dot-separated segments");
    uint8_t *buf = malloc(len);
    if (!buf)
        return fail(d, SIO_JWT_INTERNAL, "out of memory");
    int rc = verify_segments(ks, opts, &s, buf, len, now, payload, d);
    free(buf);
    if (rc == SIO_JWT_OK)
        fail(d, SIO_JWT_OK, "ok");
    return rc;
}
