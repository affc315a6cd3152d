/*
 * Unit tests for protocol/msgpack: the writer against notepack.io 3.0.1's bytes for the same
 * values (vectors printed by notepack itself), the reader over every family and width, and the
 * validator's limits on hostile input. Inputs are read from guard-page copies.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "guard.h"
#include "msgpack.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void expect_bytes(const sio_mp_buf *b, const char *hex)
{
    uint8_t want[64];
    size_t n = unhex(hex, want);
    cr_assert_eq(b->err, 0);
    cr_assert(b->len == n && memcmp(b->p, want, n) == 0, "want %s (len %zu, got %zu)", hex, n,
              b->len);
}

/* notepack.encode(v) for each number, hex. */
static const struct {
    double v;
    const char *hex;
} numbers[] = {
    {0, "00"},
    {1, "01"},
    {127, "7f"},
    {128, "cc80"},
    {255, "ccff"},
    {256, "cd0100"},
    {65535, "cdffff"},
    {65536, "ce00010000"},
    {4294967295.0, "ceffffffff"},
    {4294967296.0, "cf0000000100000000"},
    {9007199254740991.0, "cf001fffffffffffff"},
    {9223372036854775808.0, "cf8000000000000000"},
    {-1, "ff"},
    {-32, "e0"},
    {-33, "d0df"},
    {-128, "d080"},
    {-129, "d1ff7f"},
    {-32768, "d18000"},
    {-32769, "d2ffff7fff"},
    {-2147483648.0, "d280000000"},
    {-2147483649.0, "d3ffffffff7fffffff"},
    {-9007199254740992.0, "d3ffe0000000000000"},
    {1.0, "01"},
    {-0.0, "00"},
    {2.5, "cb4004000000000000"},
    {-2.5, "cbc004000000000000"},
    {0.1, "cb3fb999999999999a"},
    {5e-324, "cb0000000000000001"},
};

Test(msgpack_write, numbers_pack_like_notepack)
{
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        sio_mp_buf b;
        sio_mp_buf_init(&b, 0);
        sio_mp_write_number(&b, numbers[i].v);
        expect_bytes(&b, numbers[i].hex);
        sio_mp_buf_deinit(&b);
    }
}

Test(msgpack_write, non_finite_and_huge_numbers_are_float64)
{
    /* notepack writes NaN/Inf as float64 too; beyond 2^64 it emits a wrapped uint64 (1e300 ->
     * 0), where we keep the value as float64. */
    const struct {
        double v;
        const char *hex;
    } cases[] = {{NAN, "cb7ff8000000000000"},
                 {INFINITY, "cb7ff0000000000000"},
                 {-INFINITY, "cbfff0000000000000"},
                 {1e300, "cb7e37e43c8800759c"}};
    for (size_t i = 0; i < 4; i++) {
        sio_mp_buf b;
        sio_mp_buf_init(&b, 0);
        sio_mp_write_number(&b, cases[i].v);
        expect_bytes(&b, cases[i].hex);
        sio_mp_buf_deinit(&b);
    }
}

static void expect_header(void (*wr)(sio_mp_buf *, size_t), size_t n, const char *hex)
{
    sio_mp_buf b;
    uint8_t want[16];
    size_t wn = unhex(hex, want);
    sio_mp_buf_init(&b, 0);
    wr(&b, n);
    cr_assert_eq(b.err, 0);
    cr_assert(b.len >= wn && memcmp(b.p, want, wn) == 0, "n=%zu want prefix %s", n, hex);
    sio_mp_buf_deinit(&b);
}

static void wr_str(sio_mp_buf *b, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    sio_mp_write_str(b, s, n);
    cr_assert_eq(b->len, n + (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5));
    free(s);
}

static void wr_bin(sio_mp_buf *b, size_t n)
{
    char *s = calloc(1, n + 1);
    sio_mp_write_bin(b, s, n);
    free(s);
}

static void wr_arr(sio_mp_buf *b, size_t n)
{
    sio_mp_write_array(b, (uint32_t)n);
}

static void wr_map(sio_mp_buf *b, size_t n)
{
    sio_mp_write_map(b, (uint32_t)n);
}

Test(msgpack_write, smallest_headers)
{
    expect_header(wr_str, 0, "a0");
    expect_header(wr_str, 31, "bf78");
    expect_header(wr_str, 32, "d92078");
    expect_header(wr_str, 255, "d9ff78");
    expect_header(wr_str, 256, "da010078");
    expect_header(wr_str, 65535, "daffff78");
    expect_header(wr_str, 65536, "db0001000078");
    expect_header(wr_bin, 0, "c400");
    expect_header(wr_bin, 255, "c4ff00");
    expect_header(wr_bin, 256, "c5010000");
    expect_header(wr_bin, 65536, "c60001000000");
    expect_header(wr_arr, 0, "90");
    expect_header(wr_arr, 15, "9f");
    expect_header(wr_arr, 16, "dc0010");
    expect_header(wr_arr, 65535, "dcffff");
    expect_header(wr_arr, 65536, "dd00010000");
    expect_header(wr_map, 15, "8f");
    expect_header(wr_map, 16, "de0010");
    expect_header(wr_map, 65536, "df00010000");
}

Test(msgpack_write, scalars_and_ext)
{
    sio_mp_buf b;
    sio_mp_buf_init(&b, 0);
    sio_mp_write_nil(&b);
    sio_mp_write_bool(&b, true);
    sio_mp_write_bool(&b, false);
    sio_mp_write_int(&b, -5);
    sio_mp_write_uint(&b, 200);
    sio_mp_write_ext(&b, -1, "\x00\x00\x00\x00", 4); /* timestamp32 0 = notepack new Date(0) */
    sio_mp_write_ext(&b, 5, "abc", 3);
    expect_bytes(&b, "c0c3c2fbccc8d6ff00000000c70305616263");
    sio_mp_buf_deinit(&b);
}

Test(msgpack_write, cap_is_sticky)
{
    sio_mp_buf b;
    sio_mp_buf_init(&b, 4);
    sio_mp_write_str(&b, "hello", 5);
    cr_assert_eq(b.err, SIO_ELIMIT);
    sio_mp_write_nil(&b);
    cr_assert_eq(b.err, SIO_ELIMIT);
    cr_assert_leq(b.len, 4);
    sio_mp_buf_deinit(&b);
}

/* Reads one value from a guard-page copy of hex. */
static int read1(const char *hex, sio_mp_item *it)
{
    uint8_t raw[64];
    size_t n = unhex(hex, raw);
    sio_mp_reader r;
    sio_mp_reader_init(&r, guard_copy(raw, n), n);
    return sio_mp_read(&r, it, NULL);
}

Test(msgpack_read, every_family)
{
    sio_mp_item it;
    cr_assert_eq(read1("c0", &it), 0);
    cr_assert_eq(it.type, SIO_MP_NIL);
    cr_assert_eq(read1("c3", &it), 0);
    cr_assert(it.type == SIO_MP_BOOL && it.b);
    cr_assert_eq(read1("7f", &it), 0);
    cr_assert(it.type == SIO_MP_UINT && it.u == 127);
    cr_assert_eq(read1("e0", &it), 0);
    cr_assert(it.type == SIO_MP_INT && it.i == -32);
    cr_assert_eq(read1("cf8000000000000000", &it), 0);
    cr_assert(it.type == SIO_MP_UINT && it.u == 9223372036854775808ull);
    cr_assert_eq(read1("d1ff7f", &it), 0);
    cr_assert(it.type == SIO_MP_INT && it.i == -129);
    cr_assert_eq(read1("d3ffffffff7fffffff", &it), 0);
    cr_assert(it.type == SIO_MP_INT && it.i == -2147483649ll);
    cr_assert_eq(read1("d07f", &it), 0);
    cr_assert(it.type == SIO_MP_INT && it.i == 127);
    cr_assert_eq(read1("ca3fc00000", &it), 0);
    cr_assert(it.type == SIO_MP_FLOAT32 && it.f == 1.5);
    cr_assert_eq(read1("cb4004000000000000", &it), 0);
    cr_assert(it.type == SIO_MP_FLOAT64 && it.f == 2.5);
    cr_assert_eq(read1("a3616263", &it), 0);
    cr_assert(it.type == SIO_MP_STR && it.len == 3 && memcmp(it.p, "abc", 3) == 0);
    cr_assert_eq(read1("da0002e282", &it), 0);
    cr_assert(it.type == SIO_MP_STR && it.len == 2);
    cr_assert_eq(read1("c6000000020102", &it), 0);
    cr_assert(it.type == SIO_MP_BIN && it.len == 2 && it.p[1] == 2);
    cr_assert_eq(read1("d7ff1d5353006553f100", &it), 0); /* notepack Date(1700000000123) */
    cr_assert(it.type == SIO_MP_EXT && it.ext_type == -1 && it.len == 8 && it.marker == 0xd7);
    cr_assert_eq(read1("c70cff3b8b87c0ffffffffffffffff", &it), 0);
    cr_assert(it.type == SIO_MP_EXT && it.ext_type == -1 && it.len == 12);
    cr_assert_eq(read1("d8011111111111111111111111111111111111", &it), 0);
    cr_assert(it.type == SIO_MP_EXT && it.ext_type == 1 && it.len == 16);
    cr_assert_eq(read1("9201c0", &it), 0);
    cr_assert(it.type == SIO_MP_ARRAY && it.count == 2);
    cr_assert_eq(read1("de0001a1610c", &it), 0);
    cr_assert(it.type == SIO_MP_MAP && it.count == 1);
    guard_free();
}

Test(msgpack_read, rejects_lengths_and_counts_past_the_end)
{
    sio_mp_item it;
    const char *bad[] = {
        "",        "c1", "a3616", "d9",   "d905", "c4020a",     "c7",           "c701",
        "c70101",  "d4", "d401",  "cb00", "92",   "dc0003c0c0", "ddffffffffc0", "dfffffffff0000",
        "82c0c0c0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(read1(bad[i], &it), SIO_EPROTO, "%s", bad[i]);
    guard_free();
}

static ssize_t validate_hex(const char *hex, const sio_mp_limits *lim, const char **why)
{
    uint8_t raw[128];
    size_t n = unhex(hex, raw);
    return sio_mp_validate(guard_copy(raw, n), n, lim, why);
}

Test(msgpack_validate, accepts_values_and_reports_length)
{
    cr_assert_eq(validate_hex("93a161c0820102a162c3", NULL, NULL), 10);
    cr_assert_eq(validate_hex("c0ffff", NULL, NULL), 1); /* trailing bytes are the caller's */
    guard_free();
}

Test(msgpack_validate, four_billion_element_claim_in_six_bytes)
{
    const char *why = NULL;
    /* array32 claiming 2^32 - 1 elements: rejected from the count alone, nothing allocated. */
    cr_assert_eq(validate_hex("ddffffffff00", NULL, &why), SIO_EPROTO);
    cr_assert_not_null(why);
    cr_assert_eq(validate_hex("dfffffffff00", NULL, &why), SIO_EPROTO);
    guard_free();
}

Test(msgpack_validate, depth_limit)
{
    uint8_t deep[1001];
    const char *why = NULL;
    sio_mp_limits lim;
    memset(deep, 0x91, 1000);
    deep[1000] = 0xc0;
    cr_assert_eq(sio_mp_validate(guard_copy(deep, 1001), 1001, NULL, &why), SIO_ELIMIT);
    cr_assert_str_eq(why, "msgpack: nesting too deep");
    sio_mp_limits_init(&lim);
    lim.max_depth = 100000; /* clamped to SIO_MP_DEPTH_CAP */
    cr_assert_eq(sio_mp_validate(deep, 1001, &lim, NULL), SIO_ELIMIT);
    lim.max_depth = 2;
    cr_assert_eq(validate_hex("9191c0", &lim, NULL), 3);
    cr_assert_eq(validate_hex("919191c0", &lim, NULL), SIO_ELIMIT);
    guard_free();
}

Test(msgpack_validate, element_and_size_budgets)
{
    sio_mp_limits lim;
    sio_mp_limits_init(&lim);
    lim.max_elements = 3;
    cr_assert_eq(validate_hex("920102", &lim, NULL), 3);
    cr_assert_eq(validate_hex("93010203", &lim, NULL), SIO_ELIMIT);
    sio_mp_limits_init(&lim);
    lim.max_bytes = 2;
    cr_assert_eq(validate_hex("920102", &lim, NULL), SIO_ELIMIT);
    guard_free();
}

Test(msgpack_validate, every_truncation_fails)
{
    uint8_t raw[128];
    size_t n = unhex("83a161dc0002c0cb4004000000000000a162c70300010203a163da0003616263", raw);
    cr_assert_eq(sio_mp_validate(raw, n, NULL, NULL), (ssize_t)n);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(sio_mp_validate(guard_copy(raw, k), k, NULL, NULL), SIO_EPROTO, "k=%zu", k);
    guard_free();
}

Test(msgpack_read, skip_walks_nested_values)
{
    uint8_t raw[64];
    size_t n = unhex("92829101a1789190c0c3" /* [{[1]:"x",[[]]:nil},true] */, raw);
    sio_mp_reader r;
    sio_mp_item it;
    sio_mp_reader_init(&r, raw, n);
    cr_assert_eq(sio_mp_read(&r, &it, NULL), 0);
    cr_assert_eq(sio_mp_skip(&r, NULL), 0);
    cr_assert_eq(sio_mp_read(&r, &it, NULL), 0);
    cr_assert(it.type == SIO_MP_BOOL && it.b);
    cr_assert_eq(r.pos, n);
}
