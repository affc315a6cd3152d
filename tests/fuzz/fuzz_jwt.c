/*
 * libFuzzer target for JWT verification against a fixed keyset: the RFC 7515 A.1 secret (with kid
 * "hs"), the A.2 RSA key, the A.3 P-256 key and the RFC 8037 Ed25519 key. The first input byte
 * picks a mode. Bit 0 clear: the rest is a token, verified as is. Bit 0 set: the rest is
 * "header.payload" and gets a valid HS256 signature, so inputs reach the payload and claim checks
 * behind the signature. Bit 1 turns on issuer, audience, require_exp and a leeway.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char keys_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
    "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"},"
    "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"e\":\"AQAB\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_"
    "wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_"
    "YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-"
    "UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"},"
    "{\"kty\":\"EC\",\"kid\":\"p256\",\"crv\":\"P-256\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

/* Before the exp (1300819380) of the RFC 7515 examples. */
#define FUZZ_NOW 1300819000

static sio_jwt_keyset *keyset(void)
{
    static sio_jwt_keyset *ks;
    if (!ks) {
        ks = sio_jwt_keyset_new();
        if (!ks || sio_jwt_keyset_add_jwks(ks, keys_jwks, strlen(keys_jwks), NULL) != 0 ||
            sio_jwt_keyset_count(ks) != 4)
            abort();
    }
    return ks;
}

static size_t b64url_encode(char *out, const uint8_t *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;

    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        out[o++] = abc[p[i] >> 2];
        out[o++] = abc[(p[i] & 3) << 4];
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 8 | p[i + 1];
        out[o++] = abc[v >> 10];
        out[o++] = abc[(v >> 4) & 63];
        out[o++] = abc[(v & 15) << 2];
    }
    return o;
}

/* Appends ".<HS256 signature>" with the A.1 secret. Returns the new length. */
static size_t sign_hs256(char *buf, size_t n)
{
    static const uint8_t secret_b64[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static uint8_t secret[66]; /* EVP_DecodeBlock counts the two padding bytes */
    static int have;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;

    if (!have) {
        /* Decode once with EVP so the harness does not trust the decoder under test. */
        char std[sizeof(secret_b64) + 4];
        size_t i;
        for (i = 0; secret_b64[i]; i++)
            std[i] = secret_b64[i] == '-' ? '+' : secret_b64[i] == '_' ? '/' : (char)secret_b64[i];
        std[i++] = '=';
        std[i++] = '=';
        if (EVP_DecodeBlock(secret, (const unsigned char *)std, (int)i) != 66)
            abort();
        have = 1;
    }
    if (!HMAC(EVP_sha256(), secret, 64, (const uint8_t *)buf, n, mac, &maclen))
        abort();
    buf[n++] = '.';
    return n + b64url_encode(buf + n, mac, maclen);
}

static void check(const char *token, size_t len, const sio_jwt_options *o)
{
    json_t *payload = (json_t *)1;
    sio_jwt_detail d;
    int rc = sio_jwt_verify(keyset(), o, token, len, FUZZ_NOW, &payload, &d);

    if (rc > 0 || rc < SIO_JWT_INTERNAL || d.code != rc || !d.reason)
        abort();
    if ((rc == SIO_JWT_OK) != (payload != NULL))
        abort();
    if (d.unknown_kid && rc != SIO_JWT_TOKEN_INVALID)
        abort();
    if (d.alg != -1 && !sio_jwt_alg_name(d.alg))
        abort();
    if (rc == SIO_JWT_OK) {
        sio_jwt_claims c;
        if (sio_jwt_claims_extract(payload, NULL, &c) != 0)
            abort();
        sio_jwt_claims_deinit(&c);
        json_decref(payload);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sio_jwt_options o;
    char *buf;
    size_t n;

    if (size < 1 || size > 2 * SIO_JWT_MAX_TOKEN_LEN)
        return 0;
    sio_jwt_options_init(&o);
    if (data[0] & 2) {
        o.issuer = "joe";
        o.audience = "sio";
        o.require_exp = true;
        o.leeway = 60;
    }
    n = size - 1;
    /* Room for a signature: '.' plus 43 characters. */
    buf = malloc(n + 64);
    if (!buf)
        return 0;
    if (n > 0)
        memcpy(buf, data + 1, n);
    if (data[0] & 1)
        n = sign_hs256(buf, n);
    /* An exact-size copy, so ASan sees any read past the token's end. */
    char *token = malloc(n ? n : 1);
    if (token) {
        memcpy(token, buf, n);
        check(token, n, &o);
        free(token);
    }
    free(buf);
    return 0;
}
