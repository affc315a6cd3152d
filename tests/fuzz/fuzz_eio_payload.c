/*
 * libFuzzer target for the polling payload codec. Iterates every packet of the input; when the
 * whole payload is valid, re-encodes the packets and checks that decoding gives them back.
 */
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "eio_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Packets decoded from one input; segs point into text (type digit + data) or the decoded body. */
struct decoded {
    eio_segment *segs;
    uint8_t *text;
    size_t n;
};

static void check_same(const struct decoded *d, uint8_t *enc, size_t m)
{
    eio_payload_iter it;
    eio_packet pkt;
    const char *reason = NULL;

    eio_payload_iter_init(&it, enc, m);
    for (size_t i = 0; i < d->n; i++) {
        const eio_segment *s = &d->segs[i];
        if (eio_payload_next(&it, &pkt, &reason) != 1 || pkt.binary != s->binary)
            abort();
        const uint8_t *want = s->binary ? s->data : s->data + 1;
        size_t want_len = s->binary ? s->len : s->len - 1;
        if (pkt.len != want_len || (want_len && memcmp(pkt.data, want, want_len) != 0))
            abort();
        if (!s->binary && pkt.type != (eio_packet_type)(s->data[0] - '0'))
            abort();
    }
    if (eio_payload_next(&it, &pkt, &reason) != 0)
        abort();
}

static void check_round_trip(const struct decoded *d)
{
    size_t m = eio_payload_encoded_len(d->segs, d->n);
    uint8_t *enc = malloc(m ? m : 1);

    if (!enc)
        abort();
    if (eio_payload_encode(enc, d->segs, d->n) != m)
        abort();
    check_same(d, enc, m);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Every packet takes at least one byte, so size + 1 bounds the count. */
    uint8_t *body = malloc(size ? size : 1);
    eio_segment *segs = malloc((size + 1) * sizeof(*segs));
    uint8_t *text = malloc(size + 1);
    if (!body || !segs || !text)
        abort();
    memcpy(body, data, size);

    struct decoded d = {segs, text, 0};
    uint8_t *t = text;
    eio_payload_iter it;
    eio_packet pkt;
    const char *reason = NULL;
    int rc;
    eio_payload_iter_init(&it, body, size);
    while ((rc = eio_payload_next(&it, &pkt, &reason)) == 1) {
        if (pkt.len > size || (pkt.len && (pkt.data < body || pkt.data + pkt.len > body + size)))
            abort();
        if (pkt.binary) {
            segs[d.n++] = (eio_segment){pkt.data, pkt.len, 1};
        } else {
            size_t n = eio_packet_encode_text(t, pkt.type, pkt.data, pkt.len);
            segs[d.n++] = (eio_segment){t, n, 0};
            t += n;
        }
    }
    if (rc == 0)
        check_round_trip(&d);
    else if (rc != SIO_EPROTO || reason == NULL)
        abort();
    free(text);
    free(segs);
    free(body);
    return 0;
}
