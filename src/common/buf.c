/* sio_buf: refcounted byte buffers with lws headroom (see buf.h). */
#include "buf.h"

#include <sio/error.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static size_t live_bufs;
static size_t total_bufs;

sio_buf *sio_buf_new(size_t len)
{
    if (len > UINT32_MAX - SIO_BUF_HEADROOM - 1)
        return NULL;
    sio_buf *b = malloc(sizeof(*b) + SIO_BUF_HEADROOM + len + 1);
    if (!b)
        return NULL;
    b->refcnt = 1;
    b->len = (uint32_t)len;
    b->binary = 0;
    b->compress = 1;
    b->mem[SIO_BUF_HEADROOM + len] = 0;
    live_bufs++;
    total_bufs++;
    return b;
}

sio_buf *sio_buf_from(const void *p, size_t len)
{
    sio_buf *b = sio_buf_new(len);
    if (b && len)
        memcpy(sio_buf_data(b), p, len);
    return b;
}

sio_buf *sio_buf_ref(sio_buf *b)
{
    assert(b->refcnt > 0);
    b->refcnt++;
    return b;
}

void sio_buf_unref(sio_buf *b)
{
    if (!b)
        return;
    assert(b->refcnt > 0);
    if (--b->refcnt == 0) {
        live_bufs--;
        free(b);
    }
}

size_t sio_buf_live_count(void)
{
    return live_bufs;
}

size_t sio_buf_alloc_count(void)
{
    return total_bufs;
}

int sio_bytes_append(uint8_t **p, size_t *len, size_t *cap, const void *in, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *len + n)
            c *= 2;
        uint8_t *np = realloc(*p, c);
        if (!np)
            return SIO_ENOMEM;
        *p = np;
        *cap = c;
    }
    if (n)
        memcpy(*p + *len, in, n);
    *len += n;
    return 0;
}
