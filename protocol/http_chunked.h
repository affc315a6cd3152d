/*
 * HTTP/1.1 chunked transfer coding of request bodies (docs/protocol.md §1.4, RFC 9112 §7.1).
 * Sans-I/O: a decoder is fed the raw body bytes as they arrive and hands the decoded data to a
 * sink, so a polling POST sent by a proxy or an HTTP client without Content-Length is read with
 * the same maxPayload bound as any other body.
 */
#ifndef SIO_HTTP_CHUNKED_H
#define SIO_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Bounds on what is not data: a chunk-size line (digits and extensions) and the trailer section. */
enum { SIO_CHUNKED_MAX_LINE = 1024, SIO_CHUNKED_MAX_TRAILER = 8192 };

typedef struct sio_chunked {
    int state;
    uint64_t remain; /* data bytes left in the current chunk */
    size_t digits;   /* hex digits read of the current size */
    size_t line;     /* bytes of the current size or trailer line */
    size_t trailer;  /* bytes of the trailer section */
} sio_chunked;

/** Receives decoded data; returns 0, or non-zero to stop decoding (passed on as SIO_ELIMIT). */
typedef int (*sio_chunked_sink)(void *user, const uint8_t *data, size_t len);

/** Prepares a decoder for a new body. */
void sio_chunked_init(sio_chunked *d);

/**
 * Decodes the next len bytes of a chunked body, handing data to sink (possibly several times).
 * Returns 0 when more bytes are needed, 1 when the body ended (the last chunk and the trailer
 * section were read; *used says how many bytes of in belong to the body), SIO_ELIMIT when sink
 * refused, or SIO_EPROTO with *reason set to a static string ("invalid chunk size", "chunk size
 * too large", "chunk line too long", "missing CRLF", "trailer too large"). Bytes after the end
 * of the body are not read: they are left to the caller.
 * After an error or the end the decoder must be initialised again before reuse.
 */
int sio_chunked_feed(sio_chunked *d, const uint8_t *in, size_t len, size_t *used,
                     sio_chunked_sink sink, void *user, const char **reason);

#endif
