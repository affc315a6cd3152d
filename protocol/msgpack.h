/*
 * Bounded MessagePack reader and writer for the Redis-adapter cluster messages
 * (docs/protocol-adapter.md §3). The reader works in place on a byte slice: strings, binaries and
 * ext payloads are slices of the input, nothing is allocated, and every length or count is checked
 * against the bytes left before anyone can act on it. The writer packs the way notepack.io 3.0 does
 * (§3.2). Sans-I/O: libc only, no logging.
 */
#ifndef SIO_MSGPACK_H
#define SIO_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Default nesting limit (arrays and maps) of sio_mp_limits_init(). */
#define SIO_MP_DEFAULT_DEPTH 32u
/** Hard cap on nesting; larger max_depth values are clamped to it. */
#define SIO_MP_DEPTH_CAP 256u

/** Limits for sio_mp_validate(); fill with sio_mp_limits_init() and then override. */
typedef struct sio_mp_limits {
    size_t max_bytes;    /* default 16 MiB: larger inputs fail with SIO_ELIMIT at once */
    unsigned max_depth;  /* default 32, clamped to SIO_MP_DEPTH_CAP; 0 allows scalars only */
    size_t max_elements; /* default 1 Mi values in total (every nested value counts) */
} sio_mp_limits;

/** Sets the defaults: 16 MiB, depth 32, 1 Mi elements. */
void sio_mp_limits_init(sio_mp_limits *l);

/** Wire families of one MessagePack value. */
typedef enum sio_mp_type {
    SIO_MP_NIL = 1,
    SIO_MP_BOOL,
    SIO_MP_UINT,    /* positive fixint, uint8..uint64: value in u */
    SIO_MP_INT,     /* negative fixint, int8..int64: value in i (int8..64 >= 0 also land here) */
    SIO_MP_FLOAT32, /* value widened into f */
    SIO_MP_FLOAT64,
    SIO_MP_STR, /* bytes in p/len, not checked for UTF-8 */
    SIO_MP_BIN,
    SIO_MP_ARRAY, /* count elements follow */
    SIO_MP_MAP,   /* count key/value pairs follow */
    SIO_MP_EXT    /* ext/fixext: ext_type and payload p/len (timestamp -1 included, opaque) */
} sio_mp_type;

/** One decoded header. p borrows the input; only the fields of type are meaningful. */
typedef struct sio_mp_item {
    sio_mp_type type;
    bool b;
    uint64_t u;
    int64_t i;
    double f;
    const uint8_t *p;
    uint32_t len;
    uint32_t count;
    int8_t ext_type;
    uint8_t marker; /* the first byte, e.g. to tell fixext1 (0xd4) from ext8 (0xc7) */
} sio_mp_item;

/**
 * Checks that p[0..n) starts with one complete, well-formed value within lim (NULL: defaults):
 * total input at most max_bytes, nesting at most max_depth, at most max_elements values, every
 * length inside the input and every container count no larger than the bytes left (each element
 * needs at least one byte, so a claimed count can never outrun the input). Iterative, O(n) time,
 * O(depth cap) stack, no allocation. Borrows p. Returns the value's length in bytes (trailing
 * bytes are the caller's business), or SIO_EPROTO (truncated, reserved byte 0xc1) / SIO_ELIMIT,
 * setting *reason (if not NULL) to a static string.
 */
ssize_t sio_mp_validate(const uint8_t *p, size_t n, const sio_mp_limits *lim, const char **reason);

/** Cursor over a byte slice. Plain value type: copy it to remember a position. */
typedef struct sio_mp_reader {
    const uint8_t *p;
    size_t n;
    size_t pos;
} sio_mp_reader;

/** Starts reading p[0..n). Borrows p for the life of the reader. */
void sio_mp_reader_init(sio_mp_reader *r, const uint8_t *p, size_t n);

/**
 * Reads the header of the next value into *it; str/bin/ext payloads are consumed too, the
 * elements of an array or map are not (read them next). Bounds checked even on unvalidated
 * input: a length past the end, or a container count larger than the bytes left, fails with
 * SIO_EPROTO and leaves the reader where it was. Returns 0 or SIO_EPROTO with *reason set (if not
 * NULL).
 */
int sio_mp_read(sio_mp_reader *r, sio_mp_item *it, const char **reason);

/**
 * Skips one complete value (containers included), without recursion. Returns 0 or SIO_EPROTO;
 * on error the position is unspecified.
 */
int sio_mp_skip(sio_mp_reader *r, const char **reason);

/**
 * Growable output buffer with a size cap and a sticky error: after the first failure (SIO_ENOMEM
 * or SIO_ELIMIT) every write is a no-op, so a caller checks once at the end. Owns p; release it
 * with sio_mp_buf_deinit() or take it with sio_mp_buf_take(). Used for msgpack and JSON output.
 */
typedef struct sio_mp_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max; /* output cap in bytes */
    int err;    /* 0, SIO_ENOMEM or SIO_ELIMIT */
} sio_mp_buf;

/** Empty buffer that may grow to max bytes (0 means SIZE_MAX). Allocates nothing yet. */
void sio_mp_buf_init(sio_mp_buf *b, size_t max);
/** Frees the bytes; the buffer may be initialised again. */
void sio_mp_buf_deinit(sio_mp_buf *b);
/** Returns the bytes (the caller frees them; NULL when empty) and resets *b to empty. */
uint8_t *sio_mp_buf_take(sio_mp_buf *b, size_t *len);
/** Appends raw bytes (a pre-encoded value, or text). */
void sio_mp_buf_put(sio_mp_buf *b, const void *p, size_t n);

void sio_mp_write_nil(sio_mp_buf *b);
void sio_mp_write_bool(sio_mp_buf *b, bool v);
/** Smallest encoding for v: positive fixint, uint8, uint16, uint32 or uint64. */
void sio_mp_write_uint(sio_mp_buf *b, uint64_t v);
/** Smallest encoding for v: uint rules when v >= 0, else negative fixint, int8..int64. */
void sio_mp_write_int(sio_mp_buf *b, int64_t v);
/** Always float64 (0xcb). */
void sio_mp_write_float64(sio_mp_buf *b, double v);
/**
 * A JS number as notepack.io packs it: integral finite values within int64/uint64 range as the
 * smallest integer (so 1.0 and -0 become fixint), everything else (fractions, NaN, +-Inf, larger
 * magnitudes) as float64. Never float32.
 */
void sio_mp_write_number(sio_mp_buf *b, double v);
/** str with the smallest header (fixstr, str8, str16, str32). */
void sio_mp_write_str(sio_mp_buf *b, const void *s, size_t n);
/** bin with the smallest header (bin8, bin16, bin32). */
void sio_mp_write_bin(sio_mp_buf *b, const void *s, size_t n);
void sio_mp_write_array(sio_mp_buf *b, uint32_t count);
void sio_mp_write_map(sio_mp_buf *b, uint32_t count);
/** ext with the smallest header (fixext 1/2/4/8/16 when the size fits, else ext8/16/32). */
void sio_mp_write_ext(sio_mp_buf *b, int8_t type, const void *s, size_t n);

#endif
