/*
 * Base64 (RFC 4648 section 4: standard alphabet, '=' padding), the form Engine.IO v4 uses for
 * binary packets inside polling payloads ("b" + base64). Sans-I/O: no allocation, no logging.
 */
#ifndef SIO_BASE64_H
#define SIO_BASE64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * Length of the padded encoding of n bytes: 4 * ceil(n / 3). The caller bounds n (input limits
 * keep it far below the point where this would overflow).
 */
size_t sio_base64_encoded_len(size_t n);

/** Upper bound of the decoded length of n base64 characters: 3 * (n / 4). */
size_t sio_base64_decoded_max(size_t n);

/**
 * Encodes n bytes of in into out, which must hold sio_base64_encoded_len(n) bytes. Borrows both
 * buffers; they must not overlap. Returns the number of bytes written; no NUL is appended.
 */
size_t sio_base64_encode(char *out, const uint8_t *in, size_t n);

/**
 * Strictly decodes n characters of in into out (at most sio_base64_decoded_max(n) bytes). Rejects
 * a length that is not a multiple of 4, characters outside the alphabet (including whitespace and
 * the URL-safe '-' '_'), and '=' anywhere but the last one or two positions. Non-zero bits under
 * the padding are accepted, as every common decoder does. out may equal in (in-place decoding); any
 * other overlap is undefined. Returns the decoded length, or SIO_EPROTO, in which case out holds
 * unspecified bytes.
 */
ssize_t sio_base64_decode(uint8_t *out, const char *in, size_t n);

#endif
