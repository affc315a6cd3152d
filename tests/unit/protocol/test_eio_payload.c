/*
 * Unit tests for protocol/eio_payload: the polling examples of the Engine.IO v4 README, every way a
 * payload can be malformed, stopping at the first bad packet, every truncation of a valid payload,
 * and encode -> decode round trips.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <sio/error.h>

#include "eio_payload.h"
#include "guard.h"

#define BYTES(s) s, sizeof(s) - 1
#define MAXPKT 4

static void fini(void)
{
    guard_free();
}

TestSuite(eio_payload, .fini = fini);

/* One packet as the tables spell it: binary flag, type, data. */
struct want {
    int binary;
    eio_packet_type type;
    char data[16];
    size_t len;
};

/* A payload, the packets it yields, then the final result (0 = clean end, or the error reason). */
struct payload_case {
    char body[48];
    size_t len;
    size_t npkt;
    struct want pkt[MAXPKT];
    char reason[24];
};

#define TEXT(t, s)                                                                                 \
    {                                                                                              \
        0, t, s, sizeof(s) - 1                                                                     \
    }
#define BIN(s)                                                                                     \
    {                                                                                              \
        1, EIO_PACKET_MESSAGE, s, sizeof(s) - 1                                                    \
    }

/* Runs the iterator over a guarded copy of c->body and checks each packet and the final result. */
static void check_payload(const struct payload_case *c)
{
    eio_payload_iter it;
    eio_packet pkt;
    const char *reason = NULL;
    int rc;
    size_t i = 0;

    eio_payload_iter_init(&it, guard_copy(c->body, c->len), c->len);
    while ((rc = eio_payload_next(&it, &pkt, &reason)) == 1) {
        cr_assert_lt(i, c->npkt, "extra packet %zu", i);
        const struct want *w = &c->pkt[i++];
        cr_assert_eq(pkt.binary, w->binary, "packet %zu", i);
        cr_assert_eq(pkt.type, w->type, "packet %zu", i);
        cr_assert_eq(pkt.len, w->len, "packet %zu", i);
        cr_assert_arr_eq(pkt.data, w->data, w->len, "packet %zu", i);
    }
    cr_assert_eq(i, c->npkt, "got %zu packets", i);
    if (c->reason[0] == '\0') {
        cr_assert_eq(rc, 0);
        cr_assert_eq(eio_payload_next(&it, &pkt, &reason), 0, "end must be sticky");
    } else {
        cr_assert_eq(rc, SIO_EPROTO);
        cr_assert_str_eq(reason, c->reason);
        cr_assert_eq(eio_payload_next(&it, &pkt, &reason), SIO_EPROTO, "error must be sticky");
        cr_assert_str_eq(reason, "payload already failed");
    }
}

ParameterizedTestParameters(eio_payload, decodes_valid_payloads)
{
    static struct payload_case cases[] = {
        /* README, HTTP long-polling */
        {BYTES("4hello\x1e"
               "2\x1e"
               "4world"),
         3,
         {TEXT(EIO_PACKET_MESSAGE, "hello"), TEXT(EIO_PACKET_PING, ""),
          TEXT(EIO_PACKET_MESSAGE, "world")},
         ""},
        {BYTES("4hello\x1e"
               "bAQIDBA=="),
         2,
         {TEXT(EIO_PACKET_MESSAGE, "hello"), BIN("\x01\x02\x03\x04")},
         ""},
        {BYTES("2"), 1, {TEXT(EIO_PACKET_PING, "")}, ""},
        {BYTES("3"), 1, {TEXT(EIO_PACKET_PONG, "")}, ""},
        {BYTES("1"), 1, {TEXT(EIO_PACKET_CLOSE, "")}, ""},
        {BYTES("6"), 1, {TEXT(EIO_PACKET_NOOP, "")}, ""},
        {BYTES("0{\"sid\":\"x\"}"), 1, {TEXT(EIO_PACKET_OPEN, "{\"sid\":\"x\"}")}, ""},
        {BYTES("4\xe2\x82\xac\x1e"
               "4\xc3\xa9"),
         2,
         {TEXT(EIO_PACKET_MESSAGE, "\xe2\x82\xac"), TEXT(EIO_PACKET_MESSAGE, "\xc3\xa9")},
         ""},
        {BYTES("4a\0b\x1e"
               "4\0"),
         2,
         {TEXT(EIO_PACKET_MESSAGE, "a\0b"), TEXT(EIO_PACKET_MESSAGE, "\0")},
         ""},
        {BYTES("4\x1e"
               "4"),
         2,
         {TEXT(EIO_PACKET_MESSAGE, ""), TEXT(EIO_PACKET_MESSAGE, "")},
         ""},
        /* "b" is an empty binary message, as the reference encoder writes one */
        {BYTES("4a\x1e"
               "b\x1e"
               "4c"),
         3,
         {TEXT(EIO_PACKET_MESSAGE, "a"), BIN(""), TEXT(EIO_PACKET_MESSAGE, "c")},
         ""},
        /* in-place decoding of one segment leaves its neighbours intact */
        {BYTES("bAQIDBA==\x1e"
               "bBQYHCA==\x1e"
               "4x"),
         3,
         {BIN("\x01\x02\x03\x04"), BIN("\x05\x06\x07\x08"), TEXT(EIO_PACKET_MESSAGE, "x")},
         ""},
    };
    return cr_make_param_array(struct payload_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct payload_case *c, eio_payload, decodes_valid_payloads)
{
    check_payload(c);
}

ParameterizedTestParameters(eio_payload, stops_at_first_malformed_packet)
{
    static struct payload_case cases[] = {
        {BYTES(""), 0, {{0}}, "empty payload"},
        {BYTES("\x1e"), 0, {{0}}, "empty packet"},
        {BYTES("\x1e\x1e"), 0, {{0}}, "empty packet"},
        {BYTES("\x1e"
               "4a"),
         0,
         {{0}},
         "empty packet"},
        {BYTES("4a\x1e"), 1, {TEXT(EIO_PACKET_MESSAGE, "a")}, "empty packet"},
        {BYTES("4a\x1e\x1e"
               "4b"),
         1,
         {TEXT(EIO_PACKET_MESSAGE, "a")},
         "empty packet"},
        {BYTES("7"), 0, {{0}}, "unknown packet type"},
        {BYTES("abc"), 0, {{0}}, "unknown packet type"},
        {BYTES("4a\x1e"
               "7\x1e"
               "4b"),
         1,
         {TEXT(EIO_PACKET_MESSAGE, "a")},
         "unknown packet type"},
        {BYTES("4a\x1e"
               "4\xc0\x80\x1e"
               "4b"),
         1,
         {TEXT(EIO_PACKET_MESSAGE, "a")},
         "invalid utf-8"},
        {BYTES("4a\x1e"
               "4\xed\xa0\x80"),
         1,
         {TEXT(EIO_PACKET_MESSAGE, "a")},
         "invalid utf-8"},
        {BYTES("4\xe2\x82\x1e"
               "4b"),
         0,
         {{0}},
         "invalid utf-8"}, /* cut by the separator */
        {BYTES("4a\x1e"
               "bAQ\x1e"
               "4c"),
         1,
         {TEXT(EIO_PACKET_MESSAGE, "a")},
         "invalid base64"},
        {BYTES("bAQIDBA=\x1e"
               "4c"),
         0,
         {{0}},
         "invalid base64"},
        {BYTES("b4hello"), 0, {{0}}, "invalid base64"},
        /* a v3-style length prefix is not a v4 payload ("6:4hello" would be a noop) */
        {BYTES("9:bAQIDBA=="), 0, {{0}}, "unknown packet type"},
        {BYTES("4a\x1e"
               "2\x1e"
               "bAQIDBA==\x1e"
               "\xff"),
         3,
         {TEXT(EIO_PACKET_MESSAGE, "a"), TEXT(EIO_PACKET_PING, ""), BIN("\x01\x02\x03\x04")},
         "unknown packet type"},
    };
    return cr_make_param_array(struct payload_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct payload_case *c, eio_payload, stops_at_first_malformed_packet)
{
    check_payload(c);
}

Test(eio_payload, handles_every_truncation_of_a_valid_payload)
{
    static const char body[] = "4h\xc3\xa9llo\x1e"
                               "2\x1e"
                               "bAQIDBA==\x1e"
                               "4world";

    /* Each prefix sits flush against the guard page; none may be read past its end. A prefix is
     * valid exactly when it does not end in a separator, a cut UTF-8 character, or cut base64. */
    for (size_t n = 0; n < sizeof(body); n++) {
        eio_payload_iter it;
        eio_packet pkt;
        const char *reason = NULL;
        int rc, count = 0;

        eio_payload_iter_init(&it, guard_copy(body, n), n);
        while ((rc = eio_payload_next(&it, &pkt, &reason)) == 1)
            count++;
        cr_assert(rc == 0 || rc == SIO_EPROTO, "prefix %zu", n);
        if (rc == 0)
            cr_assert(n > 0 && body[n - 1] != '\x1e', "prefix %zu", n);
        if (n == sizeof(body) - 1)
            cr_assert_eq(count, 4, "whole payload");
        guard_free();
    }
}

Test(eio_payload, encodes_spec_example)
{
    eio_segment segs[] = {
        {(const uint8_t *)"4hello", 6, 0},
        {(const uint8_t *)"\x01\x02\x03\x04", 4, 1},
    };
    uint8_t out[32];

    cr_assert_eq(eio_payload_encoded_len(segs, 2), 16);
    cr_assert_eq(eio_payload_encode(out, segs, 2), 16);
    cr_assert_arr_eq(out,
                     "4hello\x1e"
                     "bAQIDBA==",
                     16);
}

Test(eio_payload, encodes_single_segment_without_separator)
{
    eio_segment seg = {(const uint8_t *)"3probe", 6, 0};
    uint8_t out[8];

    cr_assert_eq(eio_payload_encoded_len(&seg, 1), 6);
    cr_assert_eq(eio_payload_encode(out, &seg, 1), 6);
    cr_assert_arr_eq(out, "3probe", 6);
}

Test(eio_payload, encodes_nothing_for_no_segments)
{
    uint8_t out[1] = {0x5a};

    cr_assert_eq(eio_payload_encoded_len(NULL, 0), 0);
    cr_assert_eq(eio_payload_encode(out, NULL, 0), 0);
    cr_assert_eq(out[0], 0x5a);
}

Test(eio_payload, encodes_empty_binary_as_lone_b)
{
    eio_segment segs[] = {{NULL, 0, 1}, {(const uint8_t *)"6", 1, 0}};
    uint8_t out[8];

    cr_assert_eq(eio_payload_encoded_len(segs, 2), 3);
    cr_assert_eq(eio_payload_encode(out, segs, 2), 3);
    cr_assert_arr_eq(out,
                     "b\x1e"
                     "6",
                     3);
}

/* Small deterministic generator so the round trip covers many shapes without randomness. */
static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

Test(eio_payload, round_trips_mixed_segments)
{
    enum { NSEG = 12, MAXLEN = 40 };
    uint8_t store[NSEG][MAXLEN + 1];
    eio_segment segs[NSEG];
    uint8_t out[NSEG * (2 + 4 * (MAXLEN / 3 + 1))];
    uint32_t seed = 1;

    for (int round = 0; round < 200; round++) {
        size_t n = 1 + next_rand(&seed) % NSEG;
        for (size_t i = 0; i < n; i++) {
            int binary = next_rand(&seed) & 1;
            size_t len = next_rand(&seed) % MAXLEN;
            /* text: a type digit then printable ASCII; binary: any byte, 0x1E included */
            for (size_t k = 0; k < len + 1; k++)
                store[i][k] =
                    binary ? (uint8_t)next_rand(&seed) : (uint8_t)(' ' + next_rand(&seed) % 95);
            if (!binary)
                store[i][0] = (uint8_t)('0' + next_rand(&seed) % 7);
            segs[i] = (eio_segment){store[i], binary ? len : len + 1, binary};
        }
        size_t m = eio_payload_encoded_len(segs, n);
        cr_assert_leq(m, sizeof(out));
        cr_assert_eq(eio_payload_encode(out, segs, n), m);

        eio_payload_iter it;
        eio_packet pkt;
        const char *reason = NULL;
        eio_payload_iter_init(&it, guard_copy(out, m), m);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(eio_payload_next(&it, &pkt, &reason), 1, "round %d seg %zu", round, i);
            cr_assert_eq(pkt.binary, segs[i].binary);
            if (pkt.binary) {
                cr_assert_eq(pkt.len, segs[i].len);
                cr_assert_arr_eq(pkt.data, segs[i].data, pkt.len);
            } else {
                cr_assert_eq(pkt.type, (eio_packet_type)(segs[i].data[0] - '0'));
                cr_assert_eq(pkt.len, segs[i].len - 1);
                cr_assert_arr_eq(pkt.data, segs[i].data + 1, pkt.len);
            }
        }
        cr_assert_eq(eio_payload_next(&it, &pkt, &reason), 0);
        guard_free();
    }
}
