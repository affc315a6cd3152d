/* WebSocket basics shared by the two standalone bench programs (the load generator and the
 * floor server): opcodes and the header's length fields (RFC 6455 5.2), and the base64 of the
 * handshake keys. Header-only. */
#ifndef SIO_BENCH_WS_FRAME_H
#define SIO_BENCH_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* h holds avail >= 2 bytes of a frame. Returns the header length up to the masking key
 * (2, 4 or 10) and stores the payload length in *len, or returns 0 when the extended length
 * has not fully arrived yet. */
static inline size_t bench_ws_length(const uint8_t *h, size_t avail, uint64_t *len)
{
    uint64_t n = h[1] & 0x7F;
    if (n == 126) {
        if (avail < 4)
            return 0;
        *len = (uint64_t)h[2] << 8 | h[3];
        return 4;
    }
    if (n == 127) {
        if (avail < 10)
            return 0;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | h[2 + i];
        *len = n;
        return 10;
    }
    *len = n;
    return 2;
}

/* Standard base64 with padding of in[0, n); out needs 4 * ((n + 2) / 3) + 1 bytes. */
static inline void bench_base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = 0;
}

#endif
