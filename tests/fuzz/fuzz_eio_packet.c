/*
 * libFuzzer target for eio_packet_decode. Input byte 0 picks the frame kind ('B' = binary frame,
 * anything else = text frame); the rest is the frame. Successful decodes must re-encode to an
 * equivalent frame.
 */
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "base64.h"
#include "eio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Text packets must re-encode byte for byte; 'b' packets must survive decode(encode(x)). */
static void check_round_trip(const uint8_t *orig, size_t len, const eio_packet *pkt)
{
    uint8_t *enc = malloc(1 + sio_base64_encoded_len(pkt->len) + len);
    eio_packet again;
    const char *reason = NULL;

    if (!enc)
        abort();
    if (!pkt->binary) {
        size_t n = eio_packet_encode_text(enc, pkt->type, pkt->data, pkt->len);
        if (n != len || memcmp(enc, orig, len) != 0)
            abort();
    } else {
        size_t n = eio_packet_encode_base64(enc, pkt->data, pkt->len);
        if (eio_packet_decode(enc, n, 0, &again, &reason) != 0 || !again.binary ||
            again.len != pkt->len || (pkt->len && memcmp(again.data, pkt->data, pkt->len)))
            abort();
    }
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int binary_frame = data[0] == 'B';
    size_t len = size - 1;
    /* The decoder writes in place, so it gets a private exact-size copy. */
    uint8_t *frame = malloc(len ? len : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 1, len);

    eio_packet pkt;
    const char *reason = NULL;
    int rc = eio_packet_decode(frame, len, binary_frame, &pkt, &reason);
    if (rc == 0) {
        if (pkt.len > len || (pkt.len && (pkt.data < frame || pkt.data + pkt.len > frame + len)))
            abort();
        if (pkt.type > EIO_PACKET_NOOP || (pkt.binary && pkt.type != EIO_PACKET_MESSAGE))
            abort();
        if (!binary_frame)
            check_round_trip(data + 1, len, &pkt);
    } else if (rc != SIO_EPROTO || reason == NULL) {
        abort();
    }
    free(frame);
    return 0;
}
