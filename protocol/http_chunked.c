/*
 * Chunked request bodies (docs/protocol.md §1.4): chunk = size in hex, optional ";extension",
 * CRLF, that many data bytes, CRLF; a zero size ends the data, then trailer lines until an empty
 * line. Line ends must be CRLF. Every non-data byte counts against a bound.
 */
#include "http_chunked.h"

#include "hex.h"

#include <sio/error.h>

enum state {
    ST_SIZE,      /* hex digits of a chunk size */
    ST_EXT,       /* after ';': extension bytes up to CR */
    ST_SIZE_LF,   /* CR of the size line seen */
    ST_DATA,      /* data bytes of the chunk */
    ST_DATA_CR,   /* CR after the data */
    ST_DATA_LF,   /* LF after the data */
    ST_TRAILER,   /* start of a trailer line (CR here ends the body) */
    ST_TRAILER_X, /* inside a trailer line */
    ST_TRAILER_LF,
    ST_END_LF, /* CR of the empty line seen */
    ST_DONE,
};

void sio_chunked_init(sio_chunked *d)
{
    d->state = ST_SIZE;
    d->remain = 0;
    d->digits = 0;
    d->line = 0;
    d->trailer = 0;
}

static int fail(const char **reason, const char *why)
{
    if (reason)
        *reason = why;
    return SIO_EPROTO;
}

/* The size line ended (CRLF read): a zero size starts the trailer, anything else the data. */
static void size_done(sio_chunked *d)
{
    d->line = 0;
    d->state = d->remain ? ST_DATA : ST_TRAILER;
}

/* One byte of a size line, trailer or line end. Returns 0 or a negative error. */
static int step(sio_chunked *d, uint8_t c, const char **reason)
{
    switch (d->state) {
    case ST_SIZE: {
        int v = sio_hex_value(c);
        if (v >= 0) {
            if (d->digits == 16 || (d->remain >> 60))
                return fail(reason, "chunk size too large");
            d->remain = (d->remain << 4) | (uint64_t)v;
            d->digits++;
        } else if (!d->digits) {
            return fail(reason, "invalid chunk size");
        } else if (c == ';') {
            d->state = ST_EXT;
        } else if (c == '\r') {
            d->state = ST_SIZE_LF;
        } else {
            return fail(reason, "invalid chunk size");
        }
        break;
    }
    case ST_EXT:
        if (c == '\r')
            d->state = ST_SIZE_LF;
        else if (c < 0x20 && c != '\t')
            return fail(reason, "invalid chunk extension");
        break;
    case ST_SIZE_LF:
        if (c != '\n')
            return fail(reason, "missing CRLF");
        size_done(d);
        return 0;
    case ST_DATA_CR:
        if (c != '\r')
            return fail(reason, "missing CRLF");
        d->state = ST_DATA_LF;
        return 0;
    case ST_DATA_LF:
        if (c != '\n')
            return fail(reason, "missing CRLF");
        d->state = ST_SIZE;
        d->digits = 0;
        d->remain = 0;
        return 0;
    case ST_TRAILER:
        d->state = c == '\r' ? ST_END_LF : ST_TRAILER_X;
        break;
    case ST_TRAILER_X:
        if (c == '\r')
            d->state = ST_TRAILER_LF;
        break;
    case ST_TRAILER_LF:
        if (c != '\n')
            return fail(reason, "missing CRLF");
        d->state = ST_TRAILER;
        break;
    case ST_END_LF:
        if (c != '\n')
            return fail(reason, "missing CRLF");
        d->state = ST_DONE;
        return 0;
    default:
        return fail(reason, "invalid chunk size");
    }
    if (d->state == ST_TRAILER || d->state == ST_TRAILER_X || d->state == ST_TRAILER_LF ||
        d->state == ST_END_LF) {
        if (++d->trailer > SIO_CHUNKED_MAX_TRAILER)
            return fail(reason, "trailer too large");
    } else if (++d->line > SIO_CHUNKED_MAX_LINE) {
        return fail(reason, "chunk line too long");
    }
    return 0;
}

int sio_chunked_feed(sio_chunked *d, const uint8_t *in, size_t len, size_t *used,
                     sio_chunked_sink sink, void *user, const char **reason)
{
    size_t i = 0;
    while (i < len && d->state != ST_DONE) {
        if (d->state == ST_DATA) {
            size_t n = len - i;
            if ((uint64_t)n > d->remain)
                n = (size_t)d->remain;
            if (sink(user, in + i, n) != 0)
                return SIO_ELIMIT;
            i += n;
            d->remain -= n;
            if (!d->remain)
                d->state = ST_DATA_CR;
            continue;
        }
        int rc = step(d, in[i++], reason);
        if (rc < 0)
            return rc;
    }
    if (used)
        *used = i;
    return d->state == ST_DONE ? 1 : 0;
}
