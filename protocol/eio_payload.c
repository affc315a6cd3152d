/*
 * Engine.IO v4 polling payload codec (docs/protocol.md §1.5). Like the reference decoder, iteration
 * stops at the first undecodable packet; unlike it, an empty segment is an error, not an "open".
 */
#include "eio_payload.h"

#include <string.h>

#include <sio/error.h>

#include "base64.h"

void eio_payload_iter_init(eio_payload_iter *it, uint8_t *body, size_t len)
{
    it->p = body;
    it->len = len;
    it->pos = 0;
    it->done = 0;
}

static int fail(eio_payload_iter *it, const char **reason, const char *why)
{
    it->done = -1;
    *reason = why;
    return SIO_EPROTO;
}

int eio_payload_next(eio_payload_iter *it, eio_packet *out, const char **reason)
{
    if (it->done > 0)
        return 0;
    /* An in-place base64 failure may have rewritten the bad segment, so it cannot be retried. */
    if (it->done < 0)
        return fail(it, reason, "payload already failed");
    if (it->len == 0)
        return fail(it, reason, "empty payload");

    uint8_t *seg = it->p + it->pos;
    size_t rest = it->len - it->pos;
    uint8_t *sep = memchr(seg, EIO_PAYLOAD_SEPARATOR, rest);
    size_t n = sep ? (size_t)(sep - seg) : rest;

    /* A separator always announces one more segment, so "4a\x1e" ends in an empty one. */
    if (sep) {
        it->pos += n + 1;
    } else {
        it->pos = it->len;
        it->done = 1;
    }
    if (n == 0)
        return fail(it, reason, "empty packet");
    if (eio_packet_decode(seg, n, 0, out, reason) < 0) {
        it->done = -1;
        return SIO_EPROTO;
    }
    return 1;
}

static size_t segment_len(const eio_segment *s)
{
    return s->binary ? 1 + sio_base64_encoded_len(s->len) : s->len;
}

size_t eio_payload_encoded_len(const eio_segment *segs, size_t n)
{
    size_t total = 0;

    for (size_t i = 0; i < n; i++)
        total += segment_len(&segs[i]) + (i > 0);
    return total;
}

size_t eio_payload_encode(uint8_t *out, const eio_segment *segs, size_t n)
{
    uint8_t *o = out;

    for (size_t i = 0; i < n; i++) {
        const eio_segment *s = &segs[i];
        if (i > 0)
            *o++ = EIO_PAYLOAD_SEPARATOR;
        if (s->binary) {
            o += eio_packet_encode_base64(o, s->data, s->len);
        } else if (s->len > 0) {
            memcpy(o, s->data, s->len);
            o += s->len;
        }
    }
    return (size_t)(o - out);
}
