/*
 * Unit tests for protocol/base64: RFC 4648 vectors, the Engine.IO example, strict rejection of
 * malformed input, in-place decoding. Every decode input sits flush against a guard page.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <sio/error.h>

#include "base64.h"
#include "guard.h"

/* Fills a char array and its length from one literal, so embedded NULs survive. */
#define BYTES(s) s, sizeof(s) - 1

struct vector {
    char raw[16];
    size_t raw_len;
    char enc[32];
    size_t enc_len;
};

static struct vector vectors[] = {
    /* RFC 4648 section 10 */
    {BYTES(""), BYTES("")},
    {BYTES("f"), BYTES("Zg==")},
    {BYTES("fo"), BYTES("Zm8=")},
    {BYTES("foo"), BYTES("Zm9v")},
    {BYTES("foob"), BYTES("Zm9vYg==")},
    {BYTES("fooba"), BYTES("Zm9vYmE=")},
    {BYTES("foobar"), BYTES("Zm9vYmFy")},
    /* the binary packet of the Engine.IO v4 README: <01 02 03 04> */
    {BYTES("\x01\x02\x03\x04"), BYTES("AQIDBA==")},
    /* both extra characters of the standard alphabet, and a NUL */
    {BYTES("\xfb\xff\xbf"), BYTES("+/+/")},
    {BYTES("\0"), BYTES("AA==")},
};

static void fini(void)
{
    guard_free();
}

TestSuite(base64, .fini = fini);

ParameterizedTestParameters(base64, encodes_reference_vectors)
{
    return cr_make_param_array(struct vector, vectors, sizeof(vectors) / sizeof(vectors[0]));
}

ParameterizedTest(struct vector *v, base64, encodes_reference_vectors)
{
    char out[32];

    cr_assert_eq(sio_base64_encoded_len(v->raw_len), v->enc_len);
    cr_assert_eq(sio_base64_encode(out, (const uint8_t *)v->raw, v->raw_len), v->enc_len);
    cr_assert_arr_eq(out, v->enc, v->enc_len);
}

ParameterizedTestParameters(base64, decodes_reference_vectors)
{
    return cr_make_param_array(struct vector, vectors, sizeof(vectors) / sizeof(vectors[0]));
}

ParameterizedTest(struct vector *v, base64, decodes_reference_vectors)
{
    const char *in = (const char *)guard_copy(v->enc, v->enc_len);
    uint8_t out[16];

    cr_assert_eq(sio_base64_decode(out, in, v->enc_len), (ssize_t)v->raw_len);
    cr_assert_arr_eq(out, v->raw, v->raw_len);
}

ParameterizedTestParameters(base64, decodes_reference_vectors_in_place)
{
    return cr_make_param_array(struct vector, vectors, sizeof(vectors) / sizeof(vectors[0]));
}

ParameterizedTest(struct vector *v, base64, decodes_reference_vectors_in_place)
{
    uint8_t *buf = guard_copy(v->enc, v->enc_len);

    cr_assert_eq(sio_base64_decode(buf, (const char *)buf, v->enc_len), (ssize_t)v->raw_len);
    cr_assert_arr_eq(buf, v->raw, v->raw_len);
}

struct bad {
    char enc[24];
    size_t len;
};

ParameterizedTestParameters(base64, rejects_malformed_input)
{
    static struct bad cases[] = {
        /* length not a multiple of 4, including unpadded forms */
        {BYTES("Z")},
        {BYTES("Zg")},
        {BYTES("Zg=")},
        {BYTES("Zm9vY")},
        {BYTES("AQIDBA=")},
        {BYTES("AQIDBA===")},
        /* characters outside the alphabet */
        {BYTES("Zm9\n")},
        {BYTES("Zm 9")},
        {BYTES(" Zm9v")},
        {BYTES("Zm9v\r\n  ")},
        {BYTES("Zm-_")},
        {BYTES("Zm9\x80")},
        {BYTES("Zm9\xff")},
        {BYTES("Zm\0v")},
        {BYTES("Zm9.")},
        /* padding anywhere but the last one or two positions */
        {BYTES("====")},
        {BYTES("=AAA")},
        {BYTES("A===")},
        {BYTES("AA=A")},
        {BYTES("Zg==Zg==")},
        {BYTES("Zm8=Zm9v")},
        {BYTES("Zm=vYmFy")},
        /* an invalid character in a middle quantum */
        {BYTES("Zm9vY*Fy")},
    };
    return cr_make_param_array(struct bad, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad *b, base64, rejects_malformed_input)
{
    const char *in = (const char *)guard_copy(b->enc, b->len);
    uint8_t out[24];

    cr_assert_eq(sio_base64_decode(out, in, b->len), SIO_EPROTO, "accepted \"%s\"", b->enc);
}

Test(base64, accepts_nonzero_bits_under_padding)
{
    uint8_t out[4];

    /* "Zh==" and "Zm9=" carry stray low bits; Node's Buffer and browsers' atob ignore them. */
    cr_assert_eq(sio_base64_decode(out, (const char *)guard_copy("Zh==", 4), 4), 1);
    cr_assert_eq(out[0], 'f');
    cr_assert_eq(sio_base64_decode(out, (const char *)guard_copy("Zm9=", 4), 4), 2);
    cr_assert_arr_eq(out, "fo", 2);
}

Test(base64, decodes_empty_input_to_nothing)
{
    uint8_t out[1] = {0x5a};

    cr_assert_eq(sio_base64_decode(out, (const char *)guard_copy("", 0), 0), 0);
    cr_assert_eq(out[0], 0x5a);
}

Test(base64, lengths_round_up_to_whole_quanta)
{
    static const size_t want[] = {0, 4, 4, 4, 8, 8, 8, 12};

    for (size_t n = 0; n < sizeof(want) / sizeof(want[0]); n++)
        cr_assert_eq(sio_base64_encoded_len(n), want[n], "n=%zu", n);
    cr_assert_eq(sio_base64_decoded_max(0), 0);
    cr_assert_eq(sio_base64_decoded_max(4), 3);
    cr_assert_eq(sio_base64_decoded_max(8), 6);
}

Test(base64, round_trips_every_byte_value_and_length)
{
    uint8_t raw[300];
    char enc[400];
    uint8_t dec[300];

    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof(raw); n++) {
        size_t m = sio_base64_encode(enc, raw, n);
        cr_assert_eq(m, sio_base64_encoded_len(n));
        const char *in = (const char *)guard_copy(enc, m);
        cr_assert_eq(sio_base64_decode(dec, in, m), (ssize_t)n, "n=%zu", n);
        cr_assert_arr_eq(dec, raw, n, "n=%zu", n);
        guard_free();
    }
}

Test(base64, decodes_in_place_across_many_quanta)
{
    uint8_t raw[256];
    char enc[400];

    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(255 - i);
    size_t m = sio_base64_encode(enc, raw, sizeof(raw));
    uint8_t *buf = guard_copy(enc, m);
    cr_assert_eq(sio_base64_decode(buf, (const char *)buf, m), (ssize_t)sizeof(raw));
    cr_assert_arr_eq(buf, raw, sizeof(raw));
}
