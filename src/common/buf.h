/*
 * sio_buf: one refcounted allocation holding immutable bytes behind SIO_BUF_HEADROOM bytes of
 * headroom, so libwebsockets can write a WebSocket frame header in place (LWS_PRE) without a copy.
 * Owner: whoever holds a reference; the last sio_buf_unref() frees. Single-threaded only: the
 * headroom is scribbled on by every lws_write of the buffer.
 */
#ifndef SIO_COMMON_BUF_H
#define SIO_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

#define SIO_BUF_HEADROOM 16 /* >= LWS_PRE, checked where lws is included */

typedef struct sio_buf {
    uint32_t refcnt;
    uint32_t len;     /* bytes after the headroom */
    uint8_t binary;   /* 1: binary message bytes, 0: text (engine packet with type char) */
    uint8_t compress; /* the sender allowed compression of this packet */
    uint8_t pad_[6];
    unsigned char mem[]; /* SIO_BUF_HEADROOM bytes, then len bytes, then a NUL */
} sio_buf;

/** New buffer of len uninitialised bytes (NUL-terminated), refcnt 1. NULL on OOM or len > 4 GiB. */
sio_buf *sio_buf_new(size_t len);
/** New buffer holding a copy of p[0..len), refcnt 1. */
sio_buf *sio_buf_from(const void *p, size_t len);
/** Takes another reference; returns b. */
sio_buf *sio_buf_ref(sio_buf *b);
/** Drops a reference; frees at zero. NULL is ignored. */
void sio_buf_unref(sio_buf *b);

static inline unsigned char *sio_buf_data(sio_buf *b)
{
    return b->mem + SIO_BUF_HEADROOM;
}

/** Number of live sio_buf allocations (for tests and the encode-once counter). */
/** Appends n bytes to a growable array (*p, *len, *cap; starts at NULL/0/0, grows by doubling
 *  from 1 KiB). Returns 0 or SIO_ENOMEM (nothing appended). The caller frees *p. */
int sio_bytes_append(uint8_t **p, size_t *len, size_t *cap, const void *in, size_t n);

size_t sio_buf_live_count(void);
/** Number of sio_buf allocations ever made (for tests and the encode-once counter). */
size_t sio_buf_alloc_count(void);

#endif
