/*
 * Engine.IO v4 polling payloads (docs/protocol.md §1.5): packets joined by the record separator
 * 0x1E, binary messages written as 'b' + base64. Sans-I/O: decoding is in place, encoding into
 * caller buffers sized by eio_payload_encoded_len().
 */
#ifndef SIO_EIO_PAYLOAD_H
#define SIO_EIO_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "eio_packet.h"

/** The byte that separates packets in a polling payload. */
#define EIO_PAYLOAD_SEPARATOR 0x1e

/**
 * Iterator over the packets of one payload. Plain caller storage; set up with
 * eio_payload_iter_init(). done is 0 while packets remain, 1 at the end, -1 after an error.
 */
typedef struct eio_payload_iter {
    uint8_t *p;
    size_t len;
    size_t pos;
    int done;
} eio_payload_iter;

/** Starts iterating over len bytes of body. Borrows body, which must outlive the iterator. */
void eio_payload_iter_init(eio_payload_iter *it, uint8_t *body, size_t len);

/**
 * Decodes the next packet into *out (same grammar and in-place base64 as a text WebSocket frame,
 * see eio_packet_decode). Returns 1 with *out filled, 0 when the payload is exhausted, or
 * SIO_EPROTO with *reason set to a static string on the first malformed packet: "empty payload"
 * (len 0), "empty packet" (e.g. "\x1e", a trailing separator), "unknown packet type",
 * "invalid utf-8", "invalid base64". Decoding stops there: every later call returns SIO_EPROTO
 * with "payload already failed", so packets before the bad one are delivered and none after it.
 * out->data points into body and stays valid while body does; decoding a later packet never
 * touches the bytes of an earlier one.
 */
int eio_payload_next(eio_payload_iter *it, eio_packet *out, const char **reason);

/**
 * One packet to encode. Text (binary == 0): data is the whole packet, type digit included, written
 * as is. Binary (binary == 1): data is the raw message, written as 'b' + base64.
 */
typedef struct eio_segment {
    const uint8_t *data;
    size_t len;
    int binary;
} eio_segment;

/** Exact number of bytes eio_payload_encode() writes for these n segments (0 when n == 0). */
size_t eio_payload_encoded_len(const eio_segment *segs, size_t n);

/**
 * Writes the n segments joined by 0x1E into out, which must hold eio_payload_encoded_len(segs, n)
 * bytes and not overlap any segment. Borrows everything. Returns the number of bytes written. The
 * caller makes sure text segments contain no 0x1E (the spec assumes text data never does).
 */
size_t eio_payload_encode(uint8_t *out, const eio_segment *segs, size_t n);

#endif
