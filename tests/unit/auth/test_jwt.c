/* JWT verification: RFC vectors, tokens from jsonwebtoken and jose, and every refusal rule. */
#include "auth/jwt.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <sio/error.h>

#include "fixtures/node_tokens.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static const char test_secret[] = "a test secret of thirty-two bytes";
static const char *const all_payload = "{\"sub\":\"u1\",\"exp\":2000,\"nbf\":1000}";

static size_t b64url_encode(char *out, const void *in, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = in;
    size_t o = 0, i = 0;

    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        out[o++] = alphabet[p[i] >> 2];
        out[o++] = alphabet[(p[i] & 3) << 4];
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 8 | p[i + 1];
        out[o++] = alphabet[v >> 10];
        out[o++] = alphabet[(v >> 4) & 63];
        out[o++] = alphabet[(v & 15) << 2];
    }
    out[o] = '\0';
    return o;
}

/* An HMAC-signed token over the given header and payload JSON (a static buffer). */
static const char *hmac_token(const char *hdr, const char *payload, const EVP_MD *md,
                              const void *key, size_t keylen)
{
    static char buf[32768];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    size_t n = b64url_encode(buf, hdr, strlen(hdr));

    buf[n++] = '.';
    n += b64url_encode(buf + n, payload, strlen(payload));
    cr_assert(HMAC(md, key, (int)keylen, (unsigned char *)buf, n, mac, &maclen));
    buf[n++] = '.';
    b64url_encode(buf + n, mac, maclen);
    return buf;
}

static const char *hs256(const char *hdr, const char *payload)
{
    return hmac_token(hdr, payload, EVP_sha256(), test_secret, strlen(test_secret));
}

static sio_jwt_keyset *secret_keyset(void)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    cr_assert_not_null(ks);
    cr_assert_eq(sio_jwt_keyset_add_secret(ks, test_secret, strlen(test_secret), NULL, 0, NULL), 0);
    return ks;
}

static int verify_at(const sio_jwt_keyset *ks, const sio_jwt_options *o, const char *token,
                     int64_t now, sio_jwt_detail *d)
{
    json_t *payload = NULL;
    int rc = sio_jwt_verify(ks, o, token, token ? strlen(token) : 0, now, &payload, d);
    cr_assert_eq(rc == SIO_JWT_OK, payload != NULL, "payload only on success");
    json_decref(payload);
    return rc;
}

static int verify(const sio_jwt_keyset *ks, const char *token, sio_jwt_detail *d)
{
    return verify_at(ks, NULL, token, 1500, d);
}

/* Asserts the code and, if given, the reason. */
#define expect(rc_, d_, code_, reason_)                                                            \
    do {                                                                                           \
        cr_assert_eq((rc_), (code_), "got %s (%s)", sio_jwt_code_str(rc_), (d_).reason);           \
        cr_assert_eq((d_).code, (code_));                                                          \
        if (reason_)                                                                               \
            cr_assert_str_eq((d_).reason, (const char *)(reason_));                                \
    } while (0)

/* ---- RFC 7515 appendix A and RFC 8037 A.4 ---------------------------------------------------- */

/* The A.1..A.3 payload carries exp 1300819380 (March 2011). */
#define RFC_NOW INT64_C(1300819000)

static const char rfc_payload_b64[] = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
                                      "eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

static const char rfc_a1_jwk[] =
    "{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
    "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}";
static const char rfc_a1_token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                                   "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGF"
                                   "tcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
                                   "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

static const char rfc_a2_jwk[] =
    "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_"
    "wWJcyQoTbji9k0l8W26mP"
    "ddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo"
    "9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZl"
    "xvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRW"
    "yuXpoQ\"}";
static const char rfc_a2_token[] =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5j"
    "ujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L0"
    "7Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUip"
    "UTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

static const char rfc_a3_jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                                 "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
static const char rfc_a3_token[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/* A.4 signs the non-JSON payload "Payload", so a good signature ends at the payload check. */
static const char rfc_a4_jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-521\","
                                 "\"x\":\"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_"
                                 "NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk\","
                                 "\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-"
                                 "x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2\"}";
static const char rfc_a4_token[] =
    "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA."
    "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_"
    "7XdtAG8GaSw"
    "FKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";

/* RFC 8037 A.4: Ed25519 over the non-JSON payload "Example of Ed25519 signing". */
static const char rfc8037_jwk[] =
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
static const char rfc8037_token[] =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

static sio_jwt_keyset *jwks_keyset(const char *jwks)
{
    const char *reason = NULL;
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    int rc = sio_jwt_keyset_add_jwks(ks, jwks, strlen(jwks), &reason);
    cr_assert_eq(rc, 0, "add_jwks: %s", reason);
    return ks;
}

/* Flips one signature character (keeping it canonical base64url) to break the signature. */
static char *tampered(const char *token)
{
    char *t = strdup(token);
    char *sig = strrchr(t, '.') + 1;
    sig[2] = sig[2] == 'A' ? 'B' : 'A';
    return t;
}

Test(jwt_rfc, a1_hs256_verifies_with_its_jwk)
{
    sio_jwt_keyset *ks = jwks_keyset(rfc_a1_jwk);
    json_t *payload = NULL;
    sio_jwt_detail d;
    int rc = sio_jwt_verify(ks, NULL, rfc_a1_token, strlen(rfc_a1_token), RFC_NOW, &payload, &d);
    expect(rc, d, SIO_JWT_OK, "ok");
    cr_assert_eq(d.alg, SIO_JWT_HS256);
    cr_assert_str_eq(json_string_value(json_object_get(payload, "iss")), "joe");
    cr_assert(json_is_true(json_object_get(payload, "http://example.com/is_root")));
    json_decref(payload);
    sio_jwt_keyset_free(ks);
}

Test(jwt_rfc, a1_is_expired_after_its_exp)
{
    sio_jwt_keyset *ks = jwks_keyset(rfc_a1_jwk);
    sio_jwt_detail d;
    expect(verify_at(ks, NULL, rfc_a1_token, 1300819380, &d), d, SIO_JWT_TOKEN_EXPIRED, NULL);
    expect(verify_at(ks, NULL, rfc_a1_token, 1300819379, &d), d, SIO_JWT_OK, NULL);
    sio_jwt_keyset_free(ks);
}

Test(jwt_rfc, a2_rs256_verifies_with_its_jwk)
{
    sio_jwt_keyset *ks = jwks_keyset(rfc_a2_jwk);
    sio_jwt_detail d;
    expect(verify_at(ks, NULL, rfc_a2_token, RFC_NOW, &d), d, SIO_JWT_OK, NULL);
    char *bad = tampered(rfc_a2_token);
    expect(verify_at(ks, NULL, bad, RFC_NOW, &d), d, SIO_JWT_TOKEN_INVALID, "signature mismatch");
    free(bad);
    sio_jwt_keyset_free(ks);
}

Test(jwt_rfc, a3_es256_verifies_with_its_jwk)
{
    sio_jwt_keyset *ks = jwks_keyset(rfc_a3_jwk);
    sio_jwt_detail d;
    expect(verify_at(ks, NULL, rfc_a3_token, RFC_NOW, &d), d, SIO_JWT_OK, NULL);
    char *bad = tampered(rfc_a3_token);
    expect(verify_at(ks, NULL, bad, RFC_NOW, &d), d, SIO_JWT_TOKEN_INVALID, "signature mismatch");
    free(bad);
    sio_jwt_keyset_free(ks);
}

Test(jwt_rfc, a4_es512_signature_verifies_then_payload_is_refused)
{
    sio_jwt_keyset *ks = jwks_keyset(rfc_a4_jwk);
    sio_jwt_detail d;
    expect(verify_at(ks, NULL, rfc_a4_token, RFC_NOW, &d), d, SIO_JWT_TOKEN_INVALID,
           "payload is not a JSON object");
    char *bad = tampered(rfc_a4_token);
    expect(verify_at(ks, NULL, bad, RFC_NOW, &d), d, SIO_JWT_TOKEN_INVALID, "signature mismatch");
    free(bad);
    sio_jwt_keyset_free(ks);
}

Test(jwt_rfc, rfc8037_ed25519_signature_verifies_then_payload_is_refused)
{
    sio_jwt_keyset *ks = jwks_keyset(rfc8037_jwk);
    sio_jwt_detail d;
    expect(verify(ks, rfc8037_token, &d), d, SIO_JWT_TOKEN_INVALID, "payload is not a JSON object");
    cr_assert_eq(d.alg, SIO_JWT_EDDSA);
    char *bad = tampered(rfc8037_token);
    expect(verify(ks, bad, &d), d, SIO_JWT_TOKEN_INVALID, "signature mismatch");
    free(bad);
    sio_jwt_keyset_free(ks);
}

Test(jwt_rfc, hs384_and_hs512_over_the_a1_input)
{
    sio_jwt_keyset *ks = jwks_keyset(rfc_a1_jwk);
    sio_jwt_detail d;
    cr_assert(strstr(node_a1_hs384, rfc_payload_b64));
    expect(verify_at(ks, NULL, node_a1_hs384, RFC_NOW, &d), d, SIO_JWT_OK, NULL);
    cr_assert_eq(d.alg, SIO_JWT_HS384);
    expect(verify_at(ks, NULL, node_a1_hs512, RFC_NOW, &d), d, SIO_JWT_OK, NULL);
    cr_assert_eq(d.alg, SIO_JWT_HS512);
    sio_jwt_keyset_free(ks);
}

/* ---- tokens from jsonwebtoken 9.0.3 and jose 6 ----------------------------------------------- */

#define NODE_TOKEN_COUNT (sizeof(node_tokens) / sizeof(node_tokens[0]))

static sio_jwt_options node_options(void)
{
    sio_jwt_options o;
    sio_jwt_options_init(&o);
    o.issuer = "https://issuer.example";
    o.audience = "sio-test";
    o.require_exp = true;
    return o;
}

static void verify_all_node_tokens(const sio_jwt_keyset *ks)
{
    sio_jwt_options o = node_options();
    for (size_t i = 0; i < NODE_TOKEN_COUNT; i++) {
        const struct node_token *t = &node_tokens[i];
        json_t *payload = NULL;
        sio_jwt_detail d;
        int rc = sio_jwt_verify(ks, &o, t->token, strlen(t->token), NODE_NOW, &payload, &d);
        cr_assert_eq(rc, SIO_JWT_OK, "%s %s: %s", t->lib, t->alg, d.reason);
        cr_assert_str_eq(sio_jwt_alg_name(d.alg), t->alg);
        cr_assert_str_eq(json_string_value(json_object_get(payload, "sub")), "user-42");
        json_decref(payload);
    }
}

Test(jwt_node, every_algorithm_verifies_against_the_jwks)
{
    sio_jwt_keyset *ks = jwks_keyset(node_jwks);
    cr_assert_eq(sio_jwt_keyset_count(ks), 7, "the use=enc key is skipped");
    verify_all_node_tokens(ks);
    sio_jwt_keyset_free(ks);
}

static sio_jwt_keyset *node_pem_keyset(void)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    const char *reason = NULL;
    struct {
        const char *pem, *kid;
    } pems[] = {
        {node_rsa_pem, "rsa"},   {node_p256_pem, "p256"},       {node_p384_pem, "p384"},
        {node_p521_pem, "p521"}, {node_ed25519_pem, "ed25519"}, {node_ed448_pem, "ed448"},
    };
    for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]); i++) {
        int rc =
            sio_jwt_keyset_add_pem(ks, pems[i].pem, strlen(pems[i].pem), pems[i].kid, 0, &reason);
        cr_assert_eq(rc, 0, "%s: %s", pems[i].kid, reason);
    }
    /* The secret arrives base64url-encoded in the fixture; decode it through a one-key JWK. */
    char jwk[256];
    snprintf(jwk, sizeof(jwk), "{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"%s\"}", node_secret_b64url);
    cr_assert_eq(sio_jwt_keyset_add_jwks(ks, jwk, strlen(jwk), NULL), 0);
    return ks;
}

Test(jwt_node, every_algorithm_verifies_against_pem_keys)
{
    sio_jwt_keyset *ks = node_pem_keyset();
    cr_assert_eq(sio_jwt_keyset_count(ks), 7);
    verify_all_node_tokens(ks);
    sio_jwt_keyset_free(ks);
}

static const char *node_token(const char *lib, const char *alg)
{
    for (size_t i = 0; i < NODE_TOKEN_COUNT; i++)
        if (strcmp(node_tokens[i].lib, lib) == 0 && strcmp(node_tokens[i].alg, alg) == 0)
            return node_tokens[i].token;
    cr_assert_fail("no %s token for %s", lib, alg);
    return NULL;
}

Test(jwt_node, an_x509_certificate_supplies_the_rsa_key)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    sio_jwt_detail d;
    const char *reason = NULL;
    cr_assert_eq(
        sio_jwt_keyset_add_pem(ks, node_rsa_cert_pem, strlen(node_rsa_cert_pem), NULL, 0, &reason),
        0, "%s", reason);
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "RS256"), NODE_NOW, &d), d, SIO_JWT_OK,
           NULL);
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "PS512"), NODE_NOW, &d), d, SIO_JWT_OK,
           NULL);
    sio_jwt_keyset_free(ks);
}

Test(jwt_node, claims_extract_user_org_and_role)
{
    sio_jwt_keyset *ks = jwks_keyset(node_jwks);
    sio_jwt_options o = node_options();
    json_t *payload = NULL;
    const char *t = node_token("jose", "ES256");
    cr_assert_eq(sio_jwt_verify(ks, &o, t, strlen(t), NODE_NOW, &payload, NULL), SIO_JWT_OK);
    sio_jwt_claims c;
    cr_assert_eq(sio_jwt_claims_extract(payload, NULL, &c), 0);
    cr_assert_str_eq(c.user_id, "user-42");
    cr_assert_str_eq(c.organization, "org-7");
    cr_assert_str_eq(c.role, "admin");
    sio_jwt_claims_deinit(&c);
    cr_assert_null(c.user_id);
    json_decref(payload);
    sio_jwt_keyset_free(ks);
}

Test(jwt_node, tampered_payload_is_refused)
{
    sio_jwt_keyset *ks = jwks_keyset(node_jwks);
    sio_jwt_detail d;
    const char *algs[] = {"HS256", "RS256", "PS384", "ES512", "EdDSA"};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char *t = strdup(node_token("jose", algs[i]));
        char *p = strchr(t, '.') + 5;
        *p = *p == 'A' ? 'B' : 'A';
        int rc = verify_at(ks, NULL, t, NODE_NOW, &d);
        cr_assert_eq(rc, SIO_JWT_TOKEN_INVALID, "%s", algs[i]);
        free(t);
    }
    sio_jwt_keyset_free(ks);
}

/* ---- key pinning and algorithm confusion ----------------------------------------------------- */

static sio_jwt_keyset *pem_keyset(const char *pem, const char *kid, unsigned algs)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    const char *reason = NULL;
    cr_assert_eq(sio_jwt_keyset_add_pem(ks, pem, strlen(pem), kid, algs, &reason), 0, "%s", reason);
    return ks;
}

Test(jwt_pinning, hs256_signed_with_the_rsa_public_pem_is_refused)
{
    const char *t = hmac_token("{\"alg\":\"HS256\"}", all_payload, EVP_sha256(), node_rsa_pem,
                               strlen(node_rsa_pem));
    sio_jwt_detail d;

    /* Only the RSA key: nothing may verify HS256 at all. */
    sio_jwt_keyset *ks = pem_keyset(node_rsa_pem, NULL, 0);
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_ALGORITHM, "no key accepts this alg");
    /* With a secret in the set too, the secret is tried, and the MAC does not match it. */
    cr_assert_eq(sio_jwt_keyset_add_secret(ks, test_secret, strlen(test_secret), NULL, 0, NULL), 0);
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_INVALID, "signature mismatch");
    sio_jwt_keyset_free(ks);

    /* Naming the RSA key's kid does not make it an HMAC key. */
    ks = pem_keyset(node_rsa_pem, "rsa", 0);
    cr_assert_eq(sio_jwt_keyset_add_secret(ks, test_secret, strlen(test_secret), "hs", 0, NULL), 0);
    t = hmac_token("{\"alg\":\"HS256\",\"kid\":\"rsa\"}", all_payload, EVP_sha256(), node_rsa_pem,
                   strlen(node_rsa_pem));
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_ALGORITHM, "no key accepts this alg");
    sio_jwt_keyset_free(ks);
}

Test(jwt_pinning, ec_key_verifies_only_the_es_of_its_curve)
{
    sio_jwt_keyset *ks = pem_keyset(node_p256_pem, NULL, 0);
    sio_jwt_detail d;
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "ES256"), NODE_NOW, &d), d, SIO_JWT_OK,
           NULL);
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "ES384"), NODE_NOW, &d), d,
           SIO_JWT_TOKEN_ALGORITHM, NULL);
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "RS256"), NODE_NOW, &d), d,
           SIO_JWT_TOKEN_ALGORITHM, NULL);
    sio_jwt_keyset_free(ks);
    cr_assert_eq(sio_jwt_keyset_add_pem(ks = sio_jwt_keyset_new(), node_p256_pem,
                                        strlen(node_p256_pem), NULL, SIO_JWT_ALG_BIT(SIO_JWT_ES384),
                                        NULL),
                 SIO_EPROTO, "P-256 cannot be pinned to ES384");
    sio_jwt_keyset_free(ks);
}

Test(jwt_pinning, jwk_alg_pins_the_rsa_key_to_exactly_one_algorithm)
{
    char jwk[1024];
    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"AQAB\"}",
             node_rsa_n);
    sio_jwt_keyset *ks = jwks_keyset(jwk);
    sio_jwt_detail d;
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "RS256"), NODE_NOW, &d), d, SIO_JWT_OK,
           NULL);
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "PS256"), NODE_NOW, &d), d,
           SIO_JWT_TOKEN_ALGORITHM, NULL);
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "RS512"), NODE_NOW, &d), d,
           SIO_JWT_TOKEN_ALGORITHM, NULL);
    sio_jwt_keyset_free(ks);
}

Test(jwt_pinning, pem_key_narrowed_by_an_explicit_mask)
{
    sio_jwt_keyset *ks = pem_keyset(node_rsa_pem, NULL, SIO_JWT_ALGS_PS);
    sio_jwt_detail d;
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "PS256"), NODE_NOW, &d), d, SIO_JWT_OK,
           NULL);
    expect(verify_at(ks, NULL, node_token("jsonwebtoken", "RS256"), NODE_NOW, &d), d,
           SIO_JWT_TOKEN_ALGORITHM, NULL);
    sio_jwt_keyset_free(ks);
}

Test(jwt_pinning, global_allow_list_narrows_further)
{
    sio_jwt_keyset *ks = jwks_keyset(node_jwks);
    sio_jwt_options o = node_options();
    sio_jwt_detail d;
    cr_assert_eq(sio_jwt_algs_parse("RS256, ES256", &o.algs, NULL), 0);
    expect(verify_at(ks, &o, node_token("jose", "RS256"), NODE_NOW, &d), d, SIO_JWT_OK, NULL);
    expect(verify_at(ks, &o, node_token("jose", "ES256"), NODE_NOW, &d), d, SIO_JWT_OK, NULL);
    expect(verify_at(ks, &o, node_token("jose", "PS256"), NODE_NOW, &d), d, SIO_JWT_TOKEN_ALGORITHM,
           "alg not allowed");
    expect(verify_at(ks, &o, node_token("jose", "HS256"), NODE_NOW, &d), d, SIO_JWT_TOKEN_ALGORITHM,
           "alg not allowed");
    sio_jwt_keyset_free(ks);
}

Test(jwt_pinning, kid_selects_only_keys_with_that_kid)
{
    sio_jwt_keyset *ks = jwks_keyset(node_jwks);
    sio_jwt_detail d;
    /* The P-256 key's kid on an HS256 token: the kid matches, the pinning does not. */
    const char *hdr = "{\"alg\":\"HS256\",\"kid\":\"p256\"}";
    expect(verify(ks, hs256(hdr, all_payload), &d), d, SIO_JWT_TOKEN_ALGORITHM, NULL);
    cr_assert_not(d.unknown_kid);
    expect(verify(ks, hs256("{\"alg\":\"HS256\",\"kid\":\"nope\"}", all_payload), &d), d,
           SIO_JWT_TOKEN_INVALID, "unknown kid");
    cr_assert(d.unknown_kid);
    /* The use=enc key was skipped, so its kid is unknown too. */
    expect(verify(ks, hs256("{\"alg\":\"RS256\",\"kid\":\"enc\"}", all_payload), &d), d,
           SIO_JWT_TOKEN_INVALID, "unknown kid");
    cr_assert(d.unknown_kid);
    expect(verify(ks, hs256("{\"alg\":\"HS256\",\"kid\":7}", all_payload), &d), d,
           SIO_JWT_TOKEN_INVALID, "kid is not a string");
    sio_jwt_keyset_free(ks);
}

Test(jwt_pinning, keys_without_kid_serve_any_kid)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    /* a secret loaded without kid verifies a token that names one, and reports it unknown only
     * when the signature does not match */
    expect(verify(ks, hs256("{\"alg\":\"HS256\",\"kid\":\"k1\"}", all_payload), &d), d, SIO_JWT_OK,
           NULL);
    const char *t =
        hmac_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", all_payload, EVP_sha256(), "other", 5);
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_INVALID, "unknown kid");
    cr_assert(d.unknown_kid);
    sio_jwt_keyset_free(ks);
}

/* ---- key loading ----------------------------------------------------------------------------- */

Test(jwt_keys, rsa_1024_is_refused_at_load)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    const char *reason = NULL;
    cr_assert_eq(
        sio_jwt_keyset_add_pem(ks, node_rsa1024_pem, strlen(node_rsa1024_pem), NULL, 0, &reason),
        SIO_EPROTO);
    cr_assert_str_eq(reason, "RSA key shorter than 2048 bits");
    char jwk[512];
    snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", node_rsa1024_n);
    reason = NULL;
    cr_assert_eq(sio_jwt_keyset_add_jwks(ks, jwk, strlen(jwk), &reason), SIO_EPROTO);
    cr_assert_str_eq(reason, "RSA key shorter than 2048 bits");
    cr_assert_eq(sio_jwt_keyset_count(ks), 0);
    sio_jwt_keyset_free(ks);
}

Test(jwt_keys, unsupported_curves_and_types)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    const char *reason = NULL;
    cr_assert_eq(sio_jwt_keyset_add_pem(ks, node_secp256k1_pem, strlen(node_secp256k1_pem), NULL, 0,
                                        &reason),
                 SIO_EPROTO);
    const char *k1 = "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\"}";
    cr_assert_eq(sio_jwt_keyset_add_jwks(ks, k1, strlen(k1), &reason), SIO_ENOTFOUND);
    const char *x25519 = "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}";
    cr_assert_eq(sio_jwt_keyset_add_jwks(ks, x25519, strlen(x25519), &reason), SIO_ENOTFOUND);
    const char *priv = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    cr_assert_eq(sio_jwt_keyset_add_pem(ks, priv, strlen(priv), NULL, 0, &reason), SIO_EPROTO);
    cr_assert_eq(sio_jwt_keyset_add_pem(ks, "junk", 4, NULL, 0, &reason), SIO_EPROTO);
    cr_assert_eq(sio_jwt_keyset_count(ks), 0);
    sio_jwt_keyset_free(ks);
}

Test(jwt_keys, jwks_is_all_or_nothing)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    const char *reason = NULL;
    /* The second key's x is one byte short of P-256's field size. */
    const char *jwks = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},"
                       "{\"kty\":\"EC\",\"crv\":\"P-256\","
                       "\"x\":\"g83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVA\","
                       "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";
    cr_assert_eq(sio_jwt_keyset_add_jwks(ks, jwks, strlen(jwks), &reason), SIO_EPROTO);
    cr_assert_str_eq(reason, "bad EC JWK (x, y)");
    cr_assert_eq(sio_jwt_keyset_count(ks), 0);
    sio_jwt_keyset_free(ks);
}

Test(jwt_keys, ec_point_off_the_curve_is_refused)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    /* The A.3 key with y changed: right sizes, but not a point on P-256. */
    const char *jwk = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                      "\"y\":\"y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
    cr_assert_eq(sio_jwt_keyset_add_jwks(ks, jwk, strlen(jwk), NULL), SIO_EPROTO);
    sio_jwt_keyset_free(ks);
}

Test(jwt_keys, jwk_fields_must_be_well_formed)
{
    const char *bad[] = {
        "[]",
        "{\"keys\":{}}",
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"k\":\"c2VjcmV0\"}",      /* duplicate member */
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0=\"}",                        /* padding */
        "{\"kty\":\"oct\",\"k\":\"\"}",                                 /* empty secret */
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"use\":1}",               /* use not a string */
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":[]}",              /* kid not a string */
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"alg\":\"RS256\"}",       /* alg not for a secret */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}", /* short coordinates */
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}",         /* short x */
        "{\"kty\":\"RSA\",\"n\":\"AQAB\"}",                             /* no e */
        "{\"kty\":7}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sio_jwt_keyset *ks = sio_jwt_keyset_new();
        const char *reason = NULL;
        int rc = sio_jwt_keyset_add_jwks(ks, bad[i], strlen(bad[i]), &reason);
        cr_assert_eq(rc, SIO_EPROTO, "case %zu: %d", i, rc);
        cr_assert_not_null(reason);
        sio_jwt_keyset_free(ks);
    }
}

Test(jwt_keys, skipped_keys_use_enc_key_ops_and_foreign_algs)
{
    const char *jwks = "{\"keys\":["
                       "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"use\":\"enc\"},"
                       "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"key_ops\":[\"encrypt\"]},"
                       "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"alg\":\"A128KW\"},"
                       "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"alg\":\"none\"},"
                       "{\"kty\":\"XYZ\"},"
                       "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"key_ops\":[\"sign\",\"verify\"],"
                       "\"use\":\"sig\",\"alg\":\"HS384\",\"kid\":\"ok\"}]}";
    sio_jwt_keyset *ks = jwks_keyset(jwks);
    cr_assert_eq(sio_jwt_keyset_count(ks), 1);
    sio_jwt_keyset_free(ks);
}

Test(jwt_keys, secrets_are_bounded_and_pinned_to_hs)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    static char big[4097];
    cr_assert_eq(sio_jwt_keyset_add_secret(ks, "", 0, NULL, 0, NULL), SIO_EINVAL);
    cr_assert_eq(sio_jwt_keyset_add_secret(ks, big, sizeof(big), NULL, 0, NULL), SIO_EINVAL);
    cr_assert_eq(sio_jwt_keyset_add_secret(ks, "s", 1, NULL, SIO_JWT_ALGS_RS, NULL), SIO_EINVAL);
    cr_assert_eq(
        sio_jwt_keyset_add_secret(ks, big, 4096, "k", SIO_JWT_ALG_BIT(SIO_JWT_HS512), NULL), 0);
    cr_assert_eq(sio_jwt_keyset_count(ks), 1);
    sio_jwt_keyset_free(ks);
}

Test(jwt_keys, keyset_holds_at_most_max_keys)
{
    sio_jwt_keyset *ks = sio_jwt_keyset_new();
    for (int i = 0; i < SIO_JWT_KEYSET_MAX; i++)
        cr_assert_eq(sio_jwt_keyset_add_secret(ks, "s", 1, NULL, 0, NULL), 0);
    cr_assert_eq(sio_jwt_keyset_add_secret(ks, "s", 1, NULL, 0, NULL), SIO_ELIMIT);
    sio_jwt_keyset_free(ks);
    sio_jwt_keyset_free(NULL);
}

/* ---- header and algorithm refusals ----------------------------------------------------------- */

Test(jwt_alg, none_is_refused_in_any_case)
{
    sio_jwt_keyset *ks = secret_keyset();
    const char *hdrs[] = {"{\"alg\":\"none\"}", "{\"alg\":\"NONE\"}", "{\"alg\":\"None\"}",
                          "{\"alg\":\"nOnE\"}"};
    sio_jwt_detail d;
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        expect(verify(ks, hs256(hdrs[i], all_payload), &d), d, SIO_JWT_TOKEN_ALGORITHM,
               "alg none refused");
        /* The classic unsigned form, with an empty signature segment. */
        char t[256], h[64];
        b64url_encode(h, hdrs[i], strlen(hdrs[i]));
        snprintf(t, sizeof(t), "%s.eyJzdWIiOiJ1MSJ9.", h);
        expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_ALGORITHM, "alg none refused");
    }
    sio_jwt_keyset_free(ks);
}

Test(jwt_alg, names_are_exact_and_case_sensitive)
{
    sio_jwt_keyset *ks = secret_keyset();
    const char *hdrs[] = {"{\"alg\":\"hs256\"}",  "{\"alg\":\"HS256 \"}", "{\"alg\":\"HS\"}",
                          "{\"alg\":\"HS1024\"}", "{\"alg\":\"ES256K\"}", "{\"alg\":\"Ed25519\"}",
                          "{\"alg\":\"\"}"};
    sio_jwt_detail d;
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
        expect(verify(ks, hs256(hdrs[i], all_payload), &d), d, SIO_JWT_TOKEN_ALGORITHM,
               "alg not supported");
    expect(verify(ks, hs256("{\"typ\":\"JWT\"}", all_payload), &d), d, SIO_JWT_TOKEN_ALGORITHM,
           "alg missing");
    expect(verify(ks, hs256("{\"alg\":256}", all_payload), &d), d, SIO_JWT_TOKEN_ALGORITHM,
           "alg is not a string");
    expect(verify(ks, hs256("{\"alg\":null}", all_payload), &d), d, SIO_JWT_TOKEN_ALGORITHM,
           "alg is not a string");
    sio_jwt_keyset_free(ks);
}

Test(jwt_alg, typ_is_optional)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    expect(verify(ks, hs256("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", all_payload), &d), d, SIO_JWT_OK,
           NULL);
    expect(verify(ks, hs256("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", all_payload), &d), d,
           SIO_JWT_OK, NULL);
    expect(verify(ks, hs256("{\"alg\":\"HS256\"}", all_payload), &d), d, SIO_JWT_OK, NULL);
    expect(verify(ks, hs256("{\"alg\":\"HS256\",\"typ\":1}", all_payload), &d), d,
           SIO_JWT_TOKEN_INVALID, "typ is not a string");
    sio_jwt_keyset_free(ks);
}

Test(jwt_alg, crit_is_refused)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    expect(verify(ks, hs256("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", all_payload), &d),
           d, SIO_JWT_TOKEN_INVALID, "crit header not supported");
    expect(
        verify(ks, hs256("{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}", all_payload), &d),
        d, SIO_JWT_TOKEN_INVALID, "crit header not supported");
    sio_jwt_keyset_free(ks);
}

Test(jwt_alg, algorithm_list_parsing)
{
    unsigned m = 0;
    const char *reason = NULL;
    cr_assert_eq(sio_jwt_algs_parse("RS256,ES256", &m, NULL), 0);
    cr_assert_eq(m, SIO_JWT_ALG_BIT(SIO_JWT_RS256) | SIO_JWT_ALG_BIT(SIO_JWT_ES256));
    cr_assert_eq(sio_jwt_algs_parse(" EdDSA ", &m, NULL), 0);
    cr_assert_eq(m, SIO_JWT_ALG_BIT(SIO_JWT_EDDSA));
    m = 99;
    cr_assert_eq(sio_jwt_algs_parse("RS256,none", &m, &reason), SIO_EINVAL);
    cr_assert_eq(m, 99);
    cr_assert_eq(sio_jwt_algs_parse("RS256,", &m, &reason), SIO_EINVAL);
    cr_assert_eq(sio_jwt_algs_parse("", &m, &reason), SIO_EINVAL);
    cr_assert_eq(sio_jwt_algs_parse("rs256", &m, &reason), SIO_EINVAL);
    cr_assert_eq(sio_jwt_algs_parse(NULL, &m, &reason), SIO_EINVAL);
    cr_assert_eq(sio_jwt_alg_from_name("PS384", 5), SIO_JWT_PS384);
    cr_assert_eq(sio_jwt_alg_from_name("PS3840", 6), SIO_EINVAL);
    cr_assert_null(sio_jwt_alg_name(SIO_JWT_ALG_COUNT));
    cr_assert_null(sio_jwt_alg_name(-1));
}

/* ---- encoding and structure ------------------------------------------------------------------ */

/* The token with extra inserted at offset at (a static buffer). */
static const char *splice(const char *token, size_t at, const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)at, token, extra, token + at);
    return buf;
}

Test(jwt_encoding, non_strict_base64url_is_refused)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    const char *good = strdup(hs256("{\"alg\":\"HS256\"}", all_payload));
    size_t hlen = strchr(good, '.') - good;
    size_t len = strlen(good);
    expect(verify(ks, good, &d), d, SIO_JWT_OK, NULL);

    /* '=' padding on the signature (43 characters, so one '=' would pad it to 44). */
    expect(verify(ks, splice(good, len, "="), &d), d, SIO_JWT_TOKEN_INVALID,
           "signature is not base64url");
    expect(verify(ks, splice(good, hlen, "="), &d), d, SIO_JWT_TOKEN_INVALID,
           "header is not base64url");
    /* Whitespace anywhere. */
    expect(verify(ks, splice(good, 3, " "), &d), d, SIO_JWT_TOKEN_INVALID,
           "header is not base64url");
    expect(verify(ks, splice(good, hlen + 4, "\n"), &d), d, SIO_JWT_TOKEN_INVALID,
           "payload is not base64url");
    expect(verify(ks, splice(good, len - 3, "\t"), &d), d, SIO_JWT_TOKEN_INVALID, NULL);
    /* The standard alphabet's '+' and '/' in place of '-' and '_'. */
    char *t = strdup(good);
    t[len - 4] = '+';
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_INVALID, "signature is not base64url");
    t[len - 4] = '/';
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_INVALID, "signature is not base64url");
    free(t);
    /* A length of 1 mod 4 cannot be base64url. */
    expect(verify(ks, splice(good, len, "AA"), &d), d, SIO_JWT_TOKEN_INVALID,
           "signature is not base64url");
    sio_jwt_keyset_free(ks);
    free((char *)good);
}

Test(jwt_encoding, non_canonical_trailing_bits_are_refused)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    char *t = strdup(hs256("{\"alg\":\"HS256\"}", all_payload));
    size_t len = strlen(t);
    /* A 32-byte MAC is 43 characters; the last one carries 4 data bits and 2 spare zero bits. */
    cr_assert_eq(len - (strrchr(t, '.') - t) - 1, 43);
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alphabet, t[len - 1]) - alphabet);
    cr_assert_eq(v & 3, 0);
    t[len - 1] = alphabet[v | 1];
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_INVALID, "signature is not base64url");
    /* Same in the header: {"alg":"HS256"} is 15 bytes, 20 characters, no spare bits; a 16-byte
     * header has 4 spare bits. */
    const char *hdr16 = "{\"alg\":\"HS256\" }";
    char *t2 = strdup(hs256(hdr16, all_payload));
    char *dot = strchr(t2, '.');
    cr_assert_eq(dot - t2, 22);
    int hv = (int)(strchr(alphabet, dot[-1]) - alphabet);
    cr_assert_eq(hv & 15, 0);
    expect(verify(ks, t2, &d), d, SIO_JWT_OK, NULL);
    dot[-1] = alphabet[hv | 8];
    expect(verify(ks, t2, &d), d, SIO_JWT_TOKEN_INVALID, "header is not base64url");
    free(t);
    free(t2);
    sio_jwt_keyset_free(ks);
}

Test(jwt_encoding, segment_count_must_be_three)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    const char *good = hs256("{\"alg\":\"HS256\"}", all_payload);
    const char *cases[] = {"abc", "a.b", "a.b.c.d", "..", "...", ".", "eyJ9"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = verify(ks, cases[i], &d);
        cr_assert_eq(rc, SIO_JWT_TOKEN_INVALID, "%s", cases[i]);
    }
    expect(verify(ks, "a.b", &d), d, SIO_JWT_TOKEN_INVALID, "not three dot-separated segments");
    expect(verify(ks, splice(good, strlen(good), ".x"), &d), d, SIO_JWT_TOKEN_INVALID,
           "not three dot-separated segments");
    /* A JWE has five segments. */
    expect(verify(ks, "a.b.c.d.e", &d), d, SIO_JWT_TOKEN_INVALID,
           "not three dot-separated segments");
    sio_jwt_keyset_free(ks);
}

Test(jwt_encoding, empty_and_missing_tokens)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    json_t *p = (json_t *)1;
    expect(sio_jwt_verify(ks, NULL, NULL, 0, 0, &p, &d), d, SIO_JWT_TOKEN_MISSING, NULL);
    cr_assert_null(p);
    expect(sio_jwt_verify(ks, NULL, "", 0, 0, NULL, &d), d, SIO_JWT_TOKEN_MISSING, NULL);
    cr_assert_eq(sio_jwt_verify(ks, NULL, "x", 0, 0, NULL, NULL), SIO_JWT_TOKEN_MISSING);
    sio_jwt_keyset_free(ks);
}

Test(jwt_encoding, size_cap)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    static char payload[12000];
    /* A payload claim long enough to push the token past 8192 bytes. */
    snprintf(payload, sizeof(payload), "{\"pad\":\"%07000d\"}", 0);
    const char *t = hs256("{\"alg\":\"HS256\"}", payload);
    cr_assert_gt(strlen(t), 8192);
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_INVALID, "token too long");
    sio_jwt_options o;
    sio_jwt_options_init(&o);
    o.max_token_len = 16384;
    expect(verify_at(ks, &o, t, 0, &d), d, SIO_JWT_OK, NULL);
    o.max_token_len = 64;
    expect(verify_at(ks, &o, hs256("{\"alg\":\"HS256\"}", all_payload), 1500, &d), d,
           SIO_JWT_TOKEN_INVALID, "token too long");
    sio_jwt_keyset_free(ks);
}

Test(jwt_encoding, duplicate_members_are_refused)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    expect(verify(ks, hs256("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", all_payload), &d), d,
           SIO_JWT_TOKEN_INVALID, "header is not a JSON object");
    expect(verify(ks, hs256("{\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"sub\":\"b\"}"), &d), d,
           SIO_JWT_TOKEN_INVALID, "payload is not a JSON object");
    sio_jwt_keyset_free(ks);
}

Test(jwt_encoding, header_and_payload_must_be_json_objects)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    const char *not_objects[] = {"[\"alg\",\"HS256\"]",   "\"HS256\"",         "42", "null", "",
                                 "{\"alg\":\"HS256\"} x", "{\"alg\":\"HS256\""};
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
        expect(verify(ks, hs256(not_objects[i], all_payload), &d), d, SIO_JWT_TOKEN_INVALID,
               "header is not a JSON object");
        expect(verify(ks, hs256("{\"alg\":\"HS256\"}", not_objects[i]), &d), d,
               SIO_JWT_TOKEN_INVALID, "payload is not a JSON object");
    }
    sio_jwt_keyset_free(ks);
}

Test(jwt_encoding, ecdsa_signature_length_is_exact)
{
    sio_jwt_keyset *ks = jwks_keyset(rfc_a3_jwk);
    sio_jwt_detail d;
    size_t len = strlen(rfc_a3_token);
    /* 64 bytes are 86 characters; keep 80 (60 bytes), or append 4 (67 bytes). */
    char *t = strndup(rfc_a3_token, len - 6);
    expect(verify_at(ks, NULL, t, RFC_NOW, &d), d, SIO_JWT_TOKEN_INVALID, "signature mismatch");
    free(t);
    expect(verify_at(ks, NULL, splice(rfc_a3_token, len, "AAAA"), RFC_NOW, &d), d,
           SIO_JWT_TOKEN_INVALID, NULL);
    sio_jwt_keyset_free(ks);
}

Test(jwt_encoding, signature_of_wrong_length_for_hmac)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    const char *good = hs256("{\"alg\":\"HS256\"}", all_payload);
    char *t = strndup(good, strlen(good) - 3);
    expect(verify(ks, t, &d), d, SIO_JWT_TOKEN_INVALID, "signature mismatch");
    free(t);
    sio_jwt_keyset_free(ks);
}

/* ---- claims ---------------------------------------------------------------------------------- */

static int claims_at(const char *payload, const sio_jwt_options *o, int64_t now, sio_jwt_detail *d)
{
    sio_jwt_keyset *ks = secret_keyset();
    int rc = verify_at(ks, o, hs256("{\"alg\":\"HS256\"}", payload), now, d);
    sio_jwt_keyset_free(ks);
    return rc;
}

Test(jwt_claims, exp_and_nbf_with_leeway)
{
    sio_jwt_options o;
    sio_jwt_detail d;
    sio_jwt_options_init(&o);
    expect(claims_at(all_payload, &o, 1999, &d), d, SIO_JWT_OK, NULL);
    expect(claims_at(all_payload, &o, 2000, &d), d, SIO_JWT_TOKEN_EXPIRED, "token expired");
    expect(claims_at(all_payload, &o, 1000, &d), d, SIO_JWT_OK, NULL);
    expect(claims_at(all_payload, &o, 999, &d), d, SIO_JWT_TOKEN_NOT_YET_VALID,
           "token not yet valid");
    o.leeway = 30;
    expect(claims_at(all_payload, &o, 2029, &d), d, SIO_JWT_OK, NULL);
    expect(claims_at(all_payload, &o, 2030, &d), d, SIO_JWT_TOKEN_EXPIRED, NULL);
    expect(claims_at(all_payload, &o, 970, &d), d, SIO_JWT_OK, NULL);
    expect(claims_at(all_payload, &o, 969, &d), d, SIO_JWT_TOKEN_NOT_YET_VALID, NULL);
    /* Fractional NumericDates are allowed (RFC 7519 2). */
    expect(claims_at("{\"exp\":1500.5}", &o, 1530, &d), d, SIO_JWT_OK, NULL);
    expect(claims_at("{\"exp\":1500.5}", &o, 1531, &d), d, SIO_JWT_TOKEN_EXPIRED, NULL);
}

Test(jwt_claims, time_claims_must_be_numbers)
{
    sio_jwt_detail d;
    expect(claims_at("{\"exp\":\"2000\"}", NULL, 1500, &d), d, SIO_JWT_TOKEN_INVALID,
           "exp is not a number");
    expect(claims_at("{\"exp\":null}", NULL, 1500, &d), d, SIO_JWT_TOKEN_INVALID,
           "exp is not a number");
    expect(claims_at("{\"nbf\":true}", NULL, 1500, &d), d, SIO_JWT_TOKEN_INVALID,
           "nbf is not a number");
    expect(claims_at("{\"iat\":[1]}", NULL, 1500, &d), d, SIO_JWT_TOKEN_INVALID,
           "iat is not a number");
    /* Out of int64 range: jansson refuses the integer, so the payload is not valid JSON to us. */
    expect(claims_at("{\"exp\":99999999999999999999}", NULL, 1500, &d), d, SIO_JWT_TOKEN_INVALID,
           "payload is not a JSON object");
}

Test(jwt_claims, require_exp)
{
    sio_jwt_options o;
    sio_jwt_detail d;
    sio_jwt_options_init(&o);
    expect(claims_at("{\"sub\":\"a\"}", &o, 1500, &d), d, SIO_JWT_OK, NULL);
    o.require_exp = true;
    expect(claims_at("{\"sub\":\"a\"}", &o, 1500, &d), d, SIO_JWT_TOKEN_INVALID, "exp missing");
}

Test(jwt_claims, issuer_is_exact)
{
    sio_jwt_options o;
    sio_jwt_detail d;
    sio_jwt_options_init(&o);
    o.issuer = "https://idp.example";
    expect(claims_at("{\"iss\":\"https://idp.example\"}", &o, 1500, &d), d, SIO_JWT_OK, NULL);
    expect(claims_at("{\"iss\":\"https://idp.example/\"}", &o, 1500, &d), d, SIO_JWT_TOKEN_ISSUER,
           "issuer mismatch");
    expect(claims_at("{\"iss\":\"HTTPS://idp.example\"}", &o, 1500, &d), d, SIO_JWT_TOKEN_ISSUER,
           NULL);
    expect(claims_at("{\"sub\":\"x\"}", &o, 1500, &d), d, SIO_JWT_TOKEN_ISSUER, NULL);
    expect(claims_at("{\"iss\":[\"https://idp.example\"]}", &o, 1500, &d), d, SIO_JWT_TOKEN_ISSUER,
           NULL);
}

Test(jwt_claims, audience_string_or_array)
{
    sio_jwt_options o;
    sio_jwt_detail d;
    sio_jwt_options_init(&o);
    o.audience = "chat";
    expect(claims_at("{\"aud\":\"chat\"}", &o, 1500, &d), d, SIO_JWT_OK, NULL);
    expect(claims_at("{\"aud\":[\"api\",\"chat\"]}", &o, 1500, &d), d, SIO_JWT_OK, NULL);
    expect(claims_at("{\"aud\":[\"api\",1,\"chatroom\"]}", &o, 1500, &d), d, SIO_JWT_TOKEN_AUDIENCE,
           "audience mismatch");
    expect(claims_at("{\"aud\":\"Chat\"}", &o, 1500, &d), d, SIO_JWT_TOKEN_AUDIENCE, NULL);
    expect(claims_at("{\"aud\":[]}", &o, 1500, &d), d, SIO_JWT_TOKEN_AUDIENCE, NULL);
    expect(claims_at("{\"sub\":\"x\"}", &o, 1500, &d), d, SIO_JWT_TOKEN_AUDIENCE, NULL);
    /* Without an expected audience, aud is not looked at. */
    o.audience = NULL;
    expect(claims_at("{\"aud\":7}", &o, 1500, &d), d, SIO_JWT_OK, NULL);
}

Test(jwt_claims, expiry_is_checked_before_issuer_and_audience)
{
    sio_jwt_options o;
    sio_jwt_detail d;
    sio_jwt_options_init(&o);
    o.issuer = "i";
    o.audience = "a";
    expect(claims_at("{\"exp\":1000,\"iss\":\"x\",\"aud\":\"y\"}", &o, 1500, &d), d,
           SIO_JWT_TOKEN_EXPIRED, NULL);
    expect(claims_at("{\"iss\":\"x\",\"aud\":\"y\"}", &o, 1500, &d), d, SIO_JWT_TOKEN_ISSUER, NULL);
}

/* ---- codes and messages ---------------------------------------------------------------------- */

Test(jwt_codes, strings_match_the_connect_error_codes)
{
    struct {
        int code;
        const char *str;
    } codes[] = {
        {SIO_JWT_TOKEN_MISSING, "TOKEN_MISSING"},
        {SIO_JWT_TOKEN_INVALID, "TOKEN_INVALID"},
        {SIO_JWT_TOKEN_EXPIRED, "TOKEN_EXPIRED"},
        {SIO_JWT_TOKEN_NOT_YET_VALID, "TOKEN_NOT_YET_VALID"},
        {SIO_JWT_TOKEN_ALGORITHM, "TOKEN_ALGORITHM"},
        {SIO_JWT_TOKEN_AUDIENCE, "TOKEN_AUDIENCE"},
        {SIO_JWT_TOKEN_ISSUER, "TOKEN_ISSUER"},
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        cr_assert_str_eq(sio_jwt_code_str(codes[i].code), codes[i].str);
        cr_assert_not_null(sio_jwt_code_message(codes[i].code));
    }
    cr_assert_str_eq(sio_jwt_code_str(SIO_JWT_INTERNAL), "INTERNAL_ERROR");
    cr_assert_str_eq(sio_jwt_code_str(12345), "TOKEN_INVALID");
    cr_assert_str_eq(sio_jwt_code_str(-9), "TOKEN_INVALID");
    cr_assert_str_eq(sio_jwt_code_message(-9), "authentication token invalid");
    cr_assert_str_eq(sio_jwt_code_message(SIO_JWT_OK), "token accepted");
    cr_assert_str_eq(sio_jwt_code_message(SIO_JWT_TOKEN_EXPIRED), "authentication token expired");
    cr_assert_not_null(sio_jwt_code_message(-999));
}

Test(jwt_codes, reasons_never_quote_the_token)
{
    sio_jwt_keyset *ks = secret_keyset();
    sio_jwt_detail d;
    const char *t = hs256("{\"alg\":\"HS256\",\"kid\":\"secret-kid-value\"}", all_payload);
    verify(ks, t, &d);
    cr_assert_null(strstr(d.reason, "secret-kid-value"));
    cr_assert_null(strstr(sio_jwt_code_message(d.code), "secret-kid-value"));
    sio_jwt_keyset_free(ks);
}

/* ---- claims extraction ----------------------------------------------------------------------- */

static sio_jwt_claims extract(const char *json, const sio_jwt_claim_names *names)
{
    json_t *p = json_loads(json, 0, NULL);
    sio_jwt_claims c;
    cr_assert_not_null(p);
    cr_assert_eq(sio_jwt_claims_extract(p, names, &c), 0);
    json_decref(p);
    return c;
}

Test(jwt_extract, default_claim_order)
{
    sio_jwt_claims c = extract("{\"nameid\":\"n\",\"user_id\":\"u\",\"tenant_id\":\"t\"}", NULL);
    cr_assert_str_eq(c.user_id, "n");
    cr_assert_str_eq(c.organization, "t");
    cr_assert_null(c.role);
    sio_jwt_claims_deinit(&c);
    c = extract("{\"sub\":\"s\",\"nameid\":\"n\",\"organization_id\":\"o\",\"tenant_id\":\"t\"}",
                NULL);
    cr_assert_str_eq(c.user_id, "s");
    cr_assert_str_eq(c.organization, "o");
    sio_jwt_claims_deinit(&c);
}

Test(jwt_extract, numbers_become_decimal_strings)
{
    sio_jwt_claims c =
        extract("{\"sub\":12345678901234,\"organization_id\":-7,\"role\":3.0}", NULL);
    cr_assert_str_eq(c.user_id, "12345678901234");
    cr_assert_str_eq(c.organization, "-7");
    cr_assert_str_eq(c.role, "3");
    sio_jwt_claims_deinit(&c);
    /* Fractions, huge reals, booleans, objects and empty strings are skipped. */
    c = extract("{\"sub\":1.5,\"nameid\":\"\",\"user_id\":true,\"organization_id\":1e300,"
                "\"tenant_id\":{},\"role\":null}",
                NULL);
    cr_assert_null(c.user_id);
    cr_assert_null(c.organization);
    cr_assert_null(c.role);
    sio_jwt_claims_deinit(&c);
}

Test(jwt_extract, configurable_claim_lists)
{
    const char *const user[] = {"email", "sub", NULL};
    const char *const role[] = {"roles", "role", NULL};
    sio_jwt_claim_names names = {user, NULL, role};
    sio_jwt_claims c =
        extract("{\"sub\":\"s\",\"email\":\"e@x\",\"role\":\"r\",\"tenant_id\":9}", &names);
    cr_assert_str_eq(c.user_id, "e@x");
    cr_assert_str_eq(c.organization, "9");
    cr_assert_str_eq(c.role, "r");
    sio_jwt_claims_deinit(&c);
}

Test(jwt_extract, payload_must_be_an_object)
{
    json_t *a = json_array();
    sio_jwt_claims c;
    cr_assert_eq(sio_jwt_claims_extract(a, NULL, &c), SIO_EINVAL);
    cr_assert_null(c.user_id);
    cr_assert_eq(sio_jwt_claims_extract(NULL, NULL, &c), SIO_EINVAL);
    json_decref(a);
}
