/*
 * Engine.IO v4 packets (docs/protocol.md §1.5): one packet per WebSocket frame, and the grammar of
 * each polling payload segment. Sans-I/O: decoded packets point into the caller's buffer.
 */
#ifndef SIO_EIO_PACKET_H
#define SIO_EIO_PACKET_H

#include <stddef.h>
#include <stdint.h>

/** Packet types; the wire form of a text packet's type is the digit '0' + type. */
typedef enum eio_packet_type {
    EIO_PACKET_OPEN = 0,
    EIO_PACKET_CLOSE,
    EIO_PACKET_PING,
    EIO_PACKET_PONG,
    EIO_PACKET_MESSAGE,
    EIO_PACKET_UPGRADE,
    EIO_PACKET_NOOP,
} eio_packet_type;

/** A decoded packet. Borrowed view: data points into the buffer given to the decoder. */
typedef struct eio_packet {
    eio_packet_type type;
    int binary;          /* 1: data is raw binary message bytes (type is then MESSAGE) */
    const uint8_t *data; /* text: the bytes after the type char; binary: the decoded bytes */
    size_t len;
} eio_packet;

/**
 * Decodes one WebSocket frame. With binary_frame set, the whole frame is a binary MESSAGE (no type
 * byte; an empty frame is an empty message). A text frame is a type char '0'..'6' followed by data
 * that must be valid UTF-8, or 'b' followed by base64, which is a binary MESSAGE; the base64 is
 * decoded in place, which is why data is mutable ("b" alone is an empty binary message).
 *
 * Borrows data; out->data points into it and is valid as long as data is. Returns 0, or SIO_EPROTO
 * with *reason set to a static string: "empty packet", "unknown packet type", "invalid utf-8",
 * "invalid base64". On error *out is unspecified and a 'b' frame's bytes may have been rewritten.
 */
int eio_packet_decode(uint8_t *data, size_t len, int binary_frame, eio_packet *out,
                      const char **reason);

/**
 * Writes a text packet: the type digit, then len bytes of data. out must hold 1 + len bytes and
 * must not overlap data. Returns the number of bytes written (1 + len).
 */
size_t eio_packet_encode_text(uint8_t *out, eio_packet_type t, const uint8_t *data, size_t len);

/**
 * Writes a binary message in its text form, 'b' + base64 (polling payloads, and WebSocket peers
 * that cannot take binary frames). out must hold 1 + sio_base64_encoded_len(len) bytes and must not
 * overlap data. Returns the number of bytes written.
 */
size_t eio_packet_encode_base64(uint8_t *out, const uint8_t *data, size_t len);

/** Lower-case name of a packet type ("open", "message", ...) for logs; "unknown" if out of range.
 */
const char *eio_packet_type_name(eio_packet_type t);

#endif
