/*
 * Shared between jwt.c (token checks) and jwk.c (key loading) only: the key record, the keyset
 * body and the strict base64url decoder both need. Nothing outside src/auth includes this.
 */
#ifndef SIO_AUTH_JWT_INTERNAL_H
#define SIO_AUTH_JWT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

/* One verification key. Exactly one of pkey and secret is set. */
typedef struct jwt_key {
    char *kid;         /* owned, NUL-terminated; NULL if the key has none */
    unsigned algs;     /* the sio_jwt_alg bits this key may verify; never 0 */
    EVP_PKEY *pkey;    /* owned public key, or NULL */
    uint8_t *secret;   /* owned HMAC secret, or NULL */
    size_t secret_len; /* > 0 when secret is set */
} jwt_key;

struct sio_jwt_keyset {
    jwt_key *keys; /* count entries, owned */
    size_t count;
};

/*
 * Strict base64url (RFC 7515 section 2, RFC 4648 section 5 without padding): only A-Z a-z 0-9 - _,
 * no '=', no whitespace, a length that is not 1 mod 4, and zero bits after the last whole byte, so
 * every byte string has exactly one accepted spelling. Writes at most cap bytes to out. Returns the
 * decoded length, or -1 if in is not canonical or does not fit.
 */
ssize_t sio_jwt_b64url_decode(uint8_t *out, size_t cap, const char *in, size_t n);

/* Decoded size of n base64url characters (an upper bound if n is not canonical). */
size_t sio_jwt_b64url_decoded_len(size_t n);

#endif
