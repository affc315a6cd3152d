/* WebSocket frame basics (RFC 6455 5.2) shared by the two standalone bench programs (the load
 * generator and the floor server): opcodes and the header's length fields. Header-only. */
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

#endif
