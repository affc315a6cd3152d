/*
 * Base64 codec for Engine.IO binary packets (docs/protocol.md §1.5, RFC 4648 section 4). Decoding
 * is strict and works in place, so a polling body can be decoded without a second buffer.
 */
#include "base64.h"

#include <sio/error.h>

static const char alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character -> 6-bit value; X marks characters outside the alphabet. Every valid value is < 64, so
 * OR-ing the four lookups of a quantum and testing bit 7 validates it in one branch. */
#define X 255
static const uint8_t values[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x00 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63, /* 0x20 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  /* 0x30 */
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,  /* 0x50 */
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x80 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x90 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xa0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xb0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xc0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xd0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xe0 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0xf0 */
};
#undef X

size_t sio_base64_encoded_len(size_t n)
{
    /* n / 3 first, so n close to SIZE_MAX does not wrap in the rounding. */
    return 4 * (n / 3 + (n % 3 != 0));
}

size_t sio_base64_decoded_max(size_t n)
{
    return 3 * (n / 4);
}

size_t sio_base64_encode(char *out, const uint8_t *in, size_t n)
{
    char *o = out;
    size_t i = 0;

    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* Decodes the final quantum, the only one where '=' may appear: "xx==" gives 1 byte, "xxx=" 2,
 * "xxxx" 3. A '=' in the first two positions, or "xx=x", is malformed. Returns -1 then. */
static int decode_last(uint8_t *out, const unsigned char *q)
{
    uint8_t a = values[q[0]], b = values[q[1]];
    uint8_t c = q[2] == '=' ? 0 : values[q[2]];
    uint8_t d = q[3] == '=' ? 0 : values[q[3]];
    int nout = q[2] == '=' ? 1 : q[3] == '=' ? 2 : 3;

    if ((a | b | c | d) & 0x80 || (q[2] == '=' && q[3] != '='))
        return -1;
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
    out[0] = (uint8_t)(v >> 16);
    if (nout > 1)
        out[1] = (uint8_t)(v >> 8);
    if (nout > 2)
        out[2] = (uint8_t)v;
    return nout;
}

ssize_t sio_base64_decode(uint8_t *out, const char *in, size_t n)
{
    const unsigned char *q = (const unsigned char *)in;
    uint8_t *o = out;

    if (n % 4 != 0)
        return SIO_EPROTO;
    if (n == 0)
        return 0;
    /* All quanta but the last are padding-free. Each one is read whole before its 3 bytes are
     * written; since output trails input by at least one byte per quantum, in-place is safe. */
    for (const unsigned char *end = q + n - 4; q < end; q += 4) {
        uint8_t a = values[q[0]], b = values[q[1]], c = values[q[2]], d = values[q[3]];
        if ((a | b | c | d) & 0x80)
            return SIO_EPROTO;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        *o++ = (uint8_t)(v >> 16);
        *o++ = (uint8_t)(v >> 8);
        *o++ = (uint8_t)v;
    }
    int last = decode_last(o, q);
    if (last < 0)
        return SIO_EPROTO;
    return (ssize_t)(o - out) + last;
}
