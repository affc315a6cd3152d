/*
 * Socket.IO v5 packet codec (docs/protocol.md §2.1-2.5):
 * decodes the text part of one packet into slices of the input and encodes packet headers.
 * Sans-I/O: no allocation, no logging. Binary attachments are reassembled by sio_binary.h.
 */
#ifndef SIO_PACKET_H
#define SIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_scan.h"

/** Packet types; the value is the digit that starts the packet on the wire. */
typedef enum sio_packet_type {
    SIO_PACKET_CONNECT = 0,
    SIO_PACKET_DISCONNECT,
    SIO_PACKET_EVENT,
    SIO_PACKET_ACK,
    SIO_PACKET_CONNECT_ERROR,
    SIO_PACKET_BINARY_EVENT,
    SIO_PACKET_BINARY_ACK
} sio_packet_type;

/** How many array elements a decoded packet locates: an event name and 32 arguments. */
#define SIO_PACKET_INDEXED 33

/** Decoder limits; fill with sio_packet_limits_init() and then override. */
typedef struct sio_packet_limits {
    unsigned max_attachments; /* default 10, socket.io-parser's maxAttachments */
    unsigned max_json_depth;  /* default 32; clamped to SIO_JSON_DEPTH_CAP */
    size_t max_nsp_len;       /* default 256 bytes, including the leading '/' */
} sio_packet_limits;

/** Sets the defaults above. */
void sio_packet_limits_init(sio_packet_limits *l);

/**
 * A decoded packet. Every pointer borrows the decoded input (nsp may instead point to a static
 * "/"), so the packet is valid only while that buffer is.
 */
typedef struct sio_packet {
    sio_packet_type type;
    const char *nsp; /* namespace, "/" when absent */
    size_t nsp_len;
    int64_t id;           /* ack id, -1 when absent; at most 2^53 - 1 */
    unsigned attachments; /* BINARY_* only: 1..max_attachments; 0 otherwise */
    const char *data;     /* raw validated JSON payload without surrounding whitespace; NULL */
    size_t data_len;      /* and 0 when absent */
    const char *event;    /* EVENT/BINARY_EVENT: first array element, a raw JSON string literal */
    size_t event_len;     /* (quotes included) or number; NULL/0 for other types */
    /* Events and acks: the array's elements as found while validating (offsets from data), the
     * first SIO_PACKET_INDEXED of nelems; an event's name is elems[0]. */
    size_t nelems;
    sio_json_span elems[SIO_PACKET_INDEXED];
} sio_packet;

/**
 * Decodes the text of one Socket.IO packet: the Engine.IO message data without its leading '4'.
 * Grammar: <type>[<attachments>-][<nsp>,][<ackId>][<JSON>]. A namespace is present only when the
 * byte after the type (and attachment count) is '/'; it runs to the first ',' or to the end of
 * input ("0/admin" is valid). Checks, after socket.io-parser's Decoder:
 *   - type is 0-6; an attachment count (digits then '-') only and always for types 5/6, at least
 *     1 (the reference decoder rejects 0: no binary frame would ever complete the packet) and at
 *     most max_attachments (SIO_ELIMIT beyond);
 *   - namespace at most max_nsp_len bytes (SIO_ELIMIT); ack id at most 2^53 - 1;
 *   - payload valid JSON within max_json_depth (SIO_ELIMIT when deeper);
 *   - CONNECT: no payload or an object; DISCONNECT: no payload; CONNECT_ERROR: object or string;
 *     EVENT/BINARY_EVENT: an array whose first element is a number or a string that is not a
 *     reserved name (see sio_packet_event_is_reserved(), escapes decoded first);
 *     ACK/BINARY_ACK: an array, and an ack id is required.
 * Placeholders of BINARY_* packets are not looked at here: sio_binary_feed_text() checks them.
 * Borrows p; lim may be NULL for the defaults. Returns 0 and fills *out, or SIO_EPROTO /
 * SIO_ELIMIT and sets *reason (if not NULL) to a static string; *out is then unspecified.
 */
int sio_packet_decode(const char *p, size_t n, const sio_packet_limits *lim, sio_packet *out,
                      const char **reason);

/**
 * Encodes the header "<type>[<attachments>-][<nsp>,][<id>]" into out. The attachment count is
 * written for BINARY_* types only; nsp only when it is not "/" (NULL or empty also mean "/"),
 * always followed by ','; id only when >= 0. The caller guarantees nsp contains no ',' (it could
 * not be decoded back). The JSON payload, if any, is appended by the caller. snprintf semantics:
 * writes at most cap bytes including a terminating NUL (when cap > 0) and returns the header's
 * full length; out may be NULL when cap is 0.
 */
size_t sio_packet_encode_header(char *out, size_t cap, sio_packet_type type, const char *nsp,
                                size_t nsp_len, int64_t id, unsigned attachments);

/**
 * True when the plain (unescaped) event name s[0..n) is one the protocol reserves: connect,
 * connect_error, disconnect, disconnecting, newListener, removeListener. Clients may not send
 * them, and the server must not emit them.
 */
bool sio_packet_event_is_reserved(const char *s, size_t n);

/** Static name of a packet type ("CONNECT", ...), "UNKNOWN" when out of range. */
const char *sio_packet_type_name(sio_packet_type type);

#endif
