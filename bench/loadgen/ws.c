/* sio-loadgen WebSocket client framing (RFC 6455): the upgrade request, masked client frames and
 * the server frames a Socket.IO server sends (text, binary, ping, close; fragments are joined).
 * Sec-WebSocket-Accept is not verified: the peer is a local server under test, not an attacker. */
#include "loadgen.h"
#include "../ws_frame.h"

#include <stdio.h>
#include <string.h>

int lg_ws_request(lg_ctx *ctx, lg_conn *c)
{
    uint8_t key[16];
    uint64_t a = lg_rand(&ctx->rng), b = lg_rand(&ctx->rng);
    memcpy(key, &a, 8);
    memcpy(key + 8, &b, 8);
    char key64[25];
    bench_base64(key, sizeof(key), key64);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                     "Host: %s:%u\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     ctx->o->host, (unsigned)ctx->o->port, key64);
    if (n < 0 || (size_t)n >= sizeof(req))
        return -1;
    return lg_buf_append(&c->out, req, (size_t)n);
}

/* Client frames must be masked (RFC 6455 5.3). */
int lg_ws_send(lg_ctx *ctx, lg_conn *c, int opcode, const void *p, size_t n)
{
    if (c->state == LG_CS_CLOSED)
        return -1;
    uint8_t hdr[14];
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        hdr[h++] = (uint8_t)(0x80 | n);
    } else if (n <= 0xFFFF) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint32_t mask32 = (uint32_t)lg_rand(&ctx->rng);
    uint8_t mask[4];
    memcpy(mask, &mask32, 4);
    memcpy(hdr + h, mask, 4);
    h += 4;
    if (lg_buf_reserve(&c->out, h + n) < 0)
        return -1;
    uint8_t *dst = (uint8_t *)c->out.data + c->out.len;
    memcpy(dst, hdr, h);
    const uint8_t *src = p;
    for (size_t i = 0; i < n; i++)
        dst[h + i] = src[i] ^ mask[i & 3];
    c->out.len += h + n;
    return lg_conn_flush(ctx, c);
}

static void ws_message(lg_ctx *ctx, lg_conn *c, int op, char *p, size_t n)
{
    /* Engine.IO v4 puts one packet per frame; binary frames are attachments the bench never
     * uses, so only text matters. */
    if (op == WS_OP_TEXT)
        lg_client_on_eio(ctx, c->client, p, n);
}

/* Handles one frame; returns false when the connection was closed meanwhile. */
static bool ws_frame(lg_ctx *ctx, lg_conn *c, int op, bool fin, char *p, size_t n)
{
    uint32_t gen = c->gen;
    switch (op) {
    case WS_OP_CLOSE:
        lg_ws_send(ctx, c, WS_OP_CLOSE, p, n < 2 ? n : 2);
        lg_conn_down(ctx, c, "websocket closed by server");
        return false;
    case WS_OP_PING:
        lg_ws_send(ctx, c, WS_OP_PONG, p, n);
        break;
    case WS_OP_PONG:
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (fin) {
            ws_message(ctx, c, op, p, n);
            break;
        }
        c->frag.off = c->frag.len = 0;
        c->frag_op = (uint8_t)op;
        if (lg_buf_append(&c->frag, p, n) < 0) {
            lg_conn_down(ctx, c, "out of memory");
            return false;
        }
        break;
    case WS_OP_CONT:
        if (c->frag_op == 0 || c->frag.len + n > LG_MAX_FRAME ||
            lg_buf_append(&c->frag, p, n) < 0) {
            lg_conn_down(ctx, c, "bad websocket continuation");
            return false;
        }
        if (fin) {
            int fop = c->frag_op;
            c->frag_op = 0;
            size_t len = c->frag.len;
            c->frag.len = 0;
            ws_message(ctx, c, fop, c->frag.data, len);
        }
        break;
    default:
        lg_conn_down(ctx, c, "unknown websocket opcode");
        return false;
    }
    return c->gen == gen;
}

ssize_t lg_ws_on_data(lg_ctx *ctx, lg_conn *c, char *p, size_t n)
{
    size_t off = 0;
    while (n - off >= 2) {
        const uint8_t *h = (const uint8_t *)p + off;
        bool fin = h[0] & 0x80;
        int op = h[0] & 0x0F;
        bool masked = h[1] & 0x80;
        uint64_t len;
        size_t hlen = bench_ws_length(h, n - off, &len);
        if (!hlen)
            break;
        if (len > LG_MAX_FRAME)
            return -1;
        size_t mlen = masked ? 4 : 0;
        if (n - off < hlen + mlen + len)
            break;
        char *pl = p + off + hlen + mlen;
        if (masked) {
            /* servers must not mask, but unmasking costs nothing */
            for (size_t i = 0; i < len; i++)
                pl[i] ^= (char)h[hlen + (i & 3)];
        }
        off += hlen + mlen + (size_t)len;
        if (!ws_frame(ctx, c, op, fin, pl, (size_t)len))
            return (ssize_t)off;
    }
    return (ssize_t)off;
}
