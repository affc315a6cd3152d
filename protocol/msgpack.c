/*
 * MessagePack reader and writer (msgpack spec "Formats"; docs/protocol-adapter.md §3). The reader
 * never trusts a length: every str/bin/ext size must fit in the bytes left and every container
 * count must not exceed them, so nothing downstream sizes an allocation from a claimed count. The
 * writer mirrors notepack.io 3.0's packing rules so Node peers see byte-identical messages.
 */
#include "msgpack.h"

#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

void sio_mp_limits_init(sio_mp_limits *l)
{
    l->max_bytes = 16u << 20;
    l->max_depth = SIO_MP_DEFAULT_DEPTH;
    l->max_elements = 1u << 20;
}

static int fail(const char **reason, int err, const char *why)
{
    if (reason != NULL)
        *reason = why;
    return err;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

void sio_mp_reader_init(sio_mp_reader *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->n = n;
    r->pos = 0;
}

/* Bytes of big-endian length/count that follow the marker for each variable-size family. */
static unsigned width_of(uint8_t m)
{
    switch (m) {
    case 0xc4:
    case 0xc7:
    case 0xd9:
    case 0xcc:
    case 0xd0:
        return 1;
    case 0xc5:
    case 0xc8:
    case 0xda:
    case 0xdc:
    case 0xde:
    case 0xcd:
    case 0xd1:
        return 2;
    case 0xc6:
    case 0xc9:
    case 0xdb:
    case 0xdd:
    case 0xdf:
    case 0xce:
    case 0xd2:
    case 0xca:
        return 4;
    case 0xcf:
    case 0xd3:
    case 0xcb:
        return 8;
    default:
        return 0;
    }
}

static uint64_t read_be(const uint8_t *p, unsigned w)
{
    switch (w) {
    case 1:
        return p[0];
    case 2:
        return be16(p);
    case 4:
        return be32(p);
    default:
        return be64(p);
    }
}

/* Payload of str/bin/ext: len bytes starting at *pos. */
static int take(const sio_mp_reader *r, size_t *pos, uint64_t len, sio_mp_item *it,
                const char **reason)
{
    if (len > r->n - *pos)
        return fail(reason, SIO_EPROTO, "msgpack: length past end of input");
    it->p = r->p + *pos;
    it->len = (uint32_t)len;
    *pos += (size_t)len;
    return 0;
}

/* Containers: a count that cannot fit in the remaining input is rejected here, before any
 * caller could size anything from it (docs/protocol-adapter.md §3.1). */
static int container(const sio_mp_reader *r, size_t pos, sio_mp_type t, uint64_t count,
                     sio_mp_item *it, const char **reason)
{
    uint64_t need = t == SIO_MP_MAP ? count * 2 : count;
    if (need > r->n - pos)
        return fail(reason, SIO_EPROTO, "msgpack: container count exceeds input");
    it->type = t;
    it->count = (uint32_t)count;
    return 0;
}

static int read_fixed(sio_mp_reader *r, size_t *pos, uint8_t m, sio_mp_item *it,
                      const char **reason)
{
    unsigned w = width_of(m);
    uint64_t v;

    if (w > r->n - *pos)
        return fail(reason, SIO_EPROTO, "msgpack: truncated");
    v = read_be(r->p + *pos, w);
    *pos += w;
    if (m >= 0xcc && m <= 0xcf) {
        it->type = SIO_MP_UINT;
        it->u = v;
    } else if (m >= 0xd0 && m <= 0xd3) {
        /* Sign-extend from the field width. */
        unsigned shift = 64 - 8 * w;
        it->type = SIO_MP_INT;
        it->i = (int64_t)(v << shift) >> shift;
    } else if (m == 0xca) {
        float f;
        uint32_t u32 = (uint32_t)v;
        memcpy(&f, &u32, sizeof(f));
        it->type = SIO_MP_FLOAT32;
        it->f = f;
    } else if (m == 0xcb) {
        it->type = SIO_MP_FLOAT64;
        memcpy(&it->f, &v, sizeof(it->f));
    } else if (m >= 0xc4 && m <= 0xc6) {
        it->type = SIO_MP_BIN;
        return take(r, pos, v, it, reason);
    } else if (m >= 0xd9 && m <= 0xdb) {
        it->type = SIO_MP_STR;
        return take(r, pos, v, it, reason);
    } else if (m >= 0xc7 && m <= 0xc9) {
        if (*pos == r->n)
            return fail(reason, SIO_EPROTO, "msgpack: truncated");
        it->type = SIO_MP_EXT;
        it->ext_type = (int8_t)r->p[(*pos)++];
        return take(r, pos, v, it, reason);
    } else if (m == 0xdc || m == 0xdd) {
        return container(r, *pos, SIO_MP_ARRAY, v, it, reason);
    } else {
        return container(r, *pos, SIO_MP_MAP, v, it, reason);
    }
    return 0;
}

int sio_mp_read(sio_mp_reader *r, sio_mp_item *it, const char **reason)
{
    size_t pos = r->pos;
    uint8_t m;
    int rc = 0;

    if (pos >= r->n)
        return fail(reason, SIO_EPROTO, "msgpack: truncated");
    m = r->p[pos++];
    memset(it, 0, sizeof(*it));
    it->marker = m;
    if (m <= 0x7f) {
        it->type = SIO_MP_UINT;
        it->u = m;
    } else if (m >= 0xe0) {
        it->type = SIO_MP_INT;
        it->i = (int8_t)m;
    } else if (m <= 0x8f) {
        rc = container(r, pos, SIO_MP_MAP, m & 0x0f, it, reason);
    } else if (m <= 0x9f) {
        rc = container(r, pos, SIO_MP_ARRAY, m & 0x0f, it, reason);
    } else if (m <= 0xbf) {
        it->type = SIO_MP_STR;
        rc = take(r, &pos, m & 0x1f, it, reason);
    } else if (m == 0xc0) {
        it->type = SIO_MP_NIL;
    } else if (m == 0xc1) {
        return fail(reason, SIO_EPROTO, "msgpack: reserved byte 0xc1");
    } else if (m == 0xc2 || m == 0xc3) {
        it->type = SIO_MP_BOOL;
        it->b = m == 0xc3;
    } else if (m >= 0xd4 && m <= 0xd8) {
        /* fixext 1, 2, 4, 8, 16: type byte, then 2^(m - 0xd4) bytes. */
        if (pos == r->n)
            return fail(reason, SIO_EPROTO, "msgpack: truncated");
        it->type = SIO_MP_EXT;
        it->ext_type = (int8_t)r->p[pos++];
        rc = take(r, &pos, 1u << (m - 0xd4), it, reason);
    } else {
        rc = read_fixed(r, &pos, m, it, reason);
    }
    if (rc == 0)
        r->pos = pos;
    return rc;
}

int sio_mp_skip(sio_mp_reader *r, const char **reason)
{
    /* Values still to read. Each counted element holds at least one unread byte (checked by
     * sio_mp_read), so this never exceeds the input length. */
    uint64_t pending = 1;
    sio_mp_item it;

    while (pending > 0) {
        int rc = sio_mp_read(r, &it, reason);
        if (rc != 0)
            return rc;
        pending--;
        if (it.type == SIO_MP_ARRAY)
            pending += it.count;
        else if (it.type == SIO_MP_MAP)
            pending += (uint64_t)it.count * 2;
    }
    return 0;
}

ssize_t sio_mp_validate(const uint8_t *p, size_t n, const sio_mp_limits *lim, const char **reason)
{
    sio_mp_limits def;
    /* remaining[d]: values still expected at nesting level d (level 0 is the top value). */
    uint64_t remaining[SIO_MP_DEPTH_CAP + 1];
    unsigned depth = 0, max_depth;
    size_t elements = 0;
    sio_mp_reader r;
    sio_mp_item it;

    if (lim == NULL) {
        sio_mp_limits_init(&def);
        lim = &def;
    }
    max_depth = lim->max_depth < SIO_MP_DEPTH_CAP ? lim->max_depth : SIO_MP_DEPTH_CAP;
    if (n > lim->max_bytes)
        return fail(reason, SIO_ELIMIT, "msgpack: message too large");
    sio_mp_reader_init(&r, p, n);
    remaining[0] = 1;
    for (;;) {
        while (remaining[depth] == 0) {
            if (depth == 0)
                return (ssize_t)r.pos;
            depth--;
        }
        remaining[depth]--;
        int rc = sio_mp_read(&r, &it, reason);
        if (rc != 0)
            return rc;
        if (++elements > lim->max_elements)
            return fail(reason, SIO_ELIMIT, "msgpack: too many elements");
        if (it.type == SIO_MP_ARRAY || it.type == SIO_MP_MAP) {
            if (depth == max_depth)
                return fail(reason, SIO_ELIMIT, "msgpack: nesting too deep");
            remaining[++depth] = it.type == SIO_MP_MAP ? (uint64_t)it.count * 2 : it.count;
        }
    }
}

/* ---- writer ---- */

void sio_mp_buf_init(sio_mp_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max != 0 ? max : SIZE_MAX;
    b->err = 0;
}

void sio_mp_buf_deinit(sio_mp_buf *b)
{
    free(b->p);
    sio_mp_buf_init(b, b->max);
}

uint8_t *sio_mp_buf_take(sio_mp_buf *b, size_t *len)
{
    uint8_t *p = b->p;
    *len = b->len;
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

/* Makes room for n more bytes; returns NULL (and sets the sticky error) when it cannot. */
static uint8_t *reserve(sio_mp_buf *b, size_t n)
{
    if (b->err != 0)
        return NULL;
    if (n > b->max - b->len) {
        b->err = SIO_ELIMIT;
        return NULL;
    }
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        uint8_t *np = realloc(b->p, cap);
        if (np == NULL) {
            b->err = SIO_ENOMEM;
            return NULL;
        }
        b->p = np;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void sio_mp_buf_put(sio_mp_buf *b, const void *p, size_t n)
{
    uint8_t *at = reserve(b, n);
    if (at != NULL && n > 0)
        memcpy(at, p, n);
}

/* Marker followed by v in w big-endian bytes. */
static void put_be(sio_mp_buf *b, uint8_t marker, uint64_t v, unsigned w)
{
    uint8_t *at = reserve(b, 1 + w);
    if (at == NULL)
        return;
    at[0] = marker;
    for (unsigned k = 0; k < w; k++)
        at[1 + k] = (uint8_t)(v >> (8 * (w - 1 - k)));
}

void sio_mp_write_nil(sio_mp_buf *b)
{
    sio_mp_buf_put(b, "\xc0", 1);
}

void sio_mp_write_bool(sio_mp_buf *b, bool v)
{
    sio_mp_buf_put(b, v ? "\xc3" : "\xc2", 1);
}

void sio_mp_write_uint(sio_mp_buf *b, uint64_t v)
{
    if (v < 0x80) {
        uint8_t c = (uint8_t)v;
        sio_mp_buf_put(b, &c, 1);
    } else if (v < 0x100) {
        put_be(b, 0xcc, v, 1);
    } else if (v < 0x10000) {
        put_be(b, 0xcd, v, 2);
    } else if (v < 0x100000000ull) {
        put_be(b, 0xce, v, 4);
    } else {
        put_be(b, 0xcf, v, 8);
    }
}

void sio_mp_write_int(sio_mp_buf *b, int64_t v)
{
    if (v >= 0) {
        sio_mp_write_uint(b, (uint64_t)v);
    } else if (v >= -0x20) {
        uint8_t c = (uint8_t)v;
        sio_mp_buf_put(b, &c, 1);
    } else if (v >= -0x80) {
        put_be(b, 0xd0, (uint64_t)v, 1);
    } else if (v >= -0x8000) {
        put_be(b, 0xd1, (uint64_t)v, 2);
    } else if (v >= -0x80000000ll) {
        put_be(b, 0xd2, (uint64_t)v, 4);
    } else {
        put_be(b, 0xd3, (uint64_t)v, 8);
    }
}

void sio_mp_write_float64(sio_mp_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    put_be(b, 0xcb, u, 8);
}

void sio_mp_write_number(sio_mp_buf *b, double v)
{
    /* notepack: Math.floor(v) === v && isFinite(v) selects the integer path (-0 included, it
     * packs as 0). Beyond 2^64 (or below -2^63) notepack writes wrapped garbage; float64 keeps the
     * value instead. NaN fails every comparison and lands on float64 too. */
    if (v >= 0 && v < 18446744073709551616.0) {
        uint64_t u = (uint64_t)v;
        if ((double)u == v) {
            sio_mp_write_uint(b, u);
            return;
        }
    } else if (v < 0 && v >= -9223372036854775808.0) {
        int64_t i = (int64_t)v;
        if ((double)i == v) {
            sio_mp_write_int(b, i);
            return;
        }
    }
    sio_mp_write_float64(b, v);
}

static void write_sized(sio_mp_buf *b, uint8_t m8, size_t n)
{
    /* m8 is the 8-bit-length marker; the 16- and 32-bit ones follow it. */
    if (n < 0x100)
        put_be(b, m8, n, 1);
    else if (n < 0x10000)
        put_be(b, (uint8_t)(m8 + 1), n, 2);
    else if (n <= UINT32_MAX)
        put_be(b, (uint8_t)(m8 + 2), n, 4);
    else if (b->err == 0)
        b->err = SIO_ELIMIT;
}

void sio_mp_write_str(sio_mp_buf *b, const void *s, size_t n)
{
    if (n < 0x20) {
        uint8_t c = (uint8_t)(0xa0 | n);
        sio_mp_buf_put(b, &c, 1);
    } else {
        write_sized(b, 0xd9, n);
    }
    sio_mp_buf_put(b, s, n);
}

void sio_mp_write_bin(sio_mp_buf *b, const void *s, size_t n)
{
    write_sized(b, 0xc4, n);
    sio_mp_buf_put(b, s, n);
}

void sio_mp_write_array(sio_mp_buf *b, uint32_t count)
{
    if (count < 0x10) {
        uint8_t c = (uint8_t)(0x90 | count);
        sio_mp_buf_put(b, &c, 1);
    } else if (count < 0x10000) {
        put_be(b, 0xdc, count, 2);
    } else {
        put_be(b, 0xdd, count, 4);
    }
}

void sio_mp_write_map(sio_mp_buf *b, uint32_t count)
{
    if (count < 0x10) {
        uint8_t c = (uint8_t)(0x80 | count);
        sio_mp_buf_put(b, &c, 1);
    } else if (count < 0x10000) {
        put_be(b, 0xde, count, 2);
    } else {
        put_be(b, 0xdf, count, 4);
    }
}

void sio_mp_write_ext(sio_mp_buf *b, int8_t type, const void *s, size_t n)
{
    uint8_t t = (uint8_t)type;
    static const uint8_t fixext[17] = {[1] = 0xd4, [2] = 0xd5, [4] = 0xd6, [8] = 0xd7, [16] = 0xd8};

    if (n <= 16 && fixext[n] != 0) {
        sio_mp_buf_put(b, &fixext[n], 1);
    } else {
        write_sized(b, 0xc7, n);
    }
    sio_mp_buf_put(b, &t, 1);
    sio_mp_buf_put(b, s, n);
}
