/*
 * Unit tests for protocol/eio_packet: every packet of the Engine.IO v4 README, WebSocket binary
 * frames, 'b' + base64 text frames, each rejection reason, and encode -> decode round trips.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <sio/error.h>

#include "base64.h"
#include "eio_packet.h"
#include "guard.h"

#define BYTES(s) s, sizeof(s) - 1

static void fini(void)
{
    guard_free();
}

TestSuite(eio_packet, .fini = fini);

struct text_case {
    char frame[160];
    size_t frame_len;
    eio_packet_type type;
    char data[160];
    size_t data_len;
};

ParameterizedTestParameters(eio_packet, decodes_spec_text_packets)
{
    static struct text_case cases[] = {
        {BYTES("0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
               "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}"),
         EIO_PACKET_OPEN,
         BYTES("{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
               "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}")},
        {BYTES("1"), EIO_PACKET_CLOSE, BYTES("")},
        {BYTES("2"), EIO_PACKET_PING, BYTES("")},
        {BYTES("3"), EIO_PACKET_PONG, BYTES("")},
        {BYTES("2probe"), EIO_PACKET_PING, BYTES("probe")},
        {BYTES("3probe"), EIO_PACKET_PONG, BYTES("probe")},
        {BYTES("4hello"), EIO_PACKET_MESSAGE, BYTES("hello")},
        {BYTES("4HelloWorld"), EIO_PACKET_MESSAGE, BYTES("HelloWorld")},
        {BYTES("5"), EIO_PACKET_UPGRADE, BYTES("")},
        {BYTES("6"), EIO_PACKET_NOOP, BYTES("")},
        {BYTES("4"), EIO_PACKET_MESSAGE, BYTES("")},
        {BYTES("40"), EIO_PACKET_MESSAGE, BYTES("0")}, /* a Socket.IO CONNECT inside a message */
        {BYTES("42[\"chat\",\"h\xc3\xa9llo \xe2\x82\xac\"]"), EIO_PACKET_MESSAGE,
         BYTES("2[\"chat\",\"h\xc3\xa9llo \xe2\x82\xac\"]")},
        {BYTES("4a\0b"), EIO_PACKET_MESSAGE, BYTES("a\0b")}, /* NUL is valid UTF-8 */
        {BYTES("4\xf0\x9f\x98\x80"), EIO_PACKET_MESSAGE, BYTES("\xf0\x9f\x98\x80")},
        {BYTES("5garbage"), EIO_PACKET_UPGRADE, BYTES("garbage")}, /* data is opaque */
        {BYTES("4\x1e"), EIO_PACKET_MESSAGE, BYTES("\x1e")},       /* only payloads split on 0x1E */
    };
    return cr_make_param_array(struct text_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct text_case *c, eio_packet, decodes_spec_text_packets)
{
    uint8_t *buf = guard_copy(c->frame, c->frame_len);
    const char *reason = NULL;
    eio_packet pkt;

    cr_assert_eq(eio_packet_decode(buf, c->frame_len, 0, &pkt, &reason), 0, "%s", reason);
    cr_assert_eq(pkt.type, c->type);
    cr_assert_eq(pkt.binary, 0);
    cr_assert_eq(pkt.data, buf + 1, "text data must point into the frame");
    cr_assert_eq(pkt.len, c->data_len);
    cr_assert_arr_eq(pkt.data, c->data, c->data_len);
}

struct bad_case {
    char frame[24];
    size_t len;
    char reason[24];
};

ParameterizedTestParameters(eio_packet, rejects_malformed_text_frames)
{
    static struct bad_case cases[] = {
        {BYTES(""), "empty packet"},
        {BYTES("7"), "unknown packet type"},
        {BYTES("9hello"), "unknown packet type"},
        {BYTES("/"), "unknown packet type"},   /* just below '0' */
        {BYTES("abc"), "unknown packet type"}, /* the test-suite's invalid packet */
        {BYTES("B"), "unknown packet type"},
        {BYTES(" 4"), "unknown packet type"},
        {BYTES("\x1e"), "unknown packet type"},
        {BYTES("\0"), "unknown packet type"},
        {BYTES("\xff"), "unknown packet type"},
        {BYTES("\xef\xbb\xbf"
               "4"),
         "unknown packet type"}, /* a BOM is not skipped */
        {BYTES("4\xc0\x80"), "invalid utf-8"},
        {BYTES("4\xed\xa0\x80"), "invalid utf-8"},
        {BYTES("4\xf4\x90\x80\x80"), "invalid utf-8"},
        {BYTES("4\xe2\x82"), "invalid utf-8"},
        {BYTES("2probe\x80"), "invalid utf-8"},
        {BYTES("0\xff"), "invalid utf-8"},
        {BYTES("bAQIDBA="), "invalid base64"},
        {BYTES("bAQIDBA"), "invalid base64"},
        {BYTES("bAQID BA="), "invalid base64"},
        {BYTES("b===="), "invalid base64"},
        {BYTES("bAQ=DBA=="), "invalid base64"},
        {BYTES("b4hello"), "invalid base64"},
        {BYTES("bAQIDBA==\n"), "invalid base64"},
    };
    return cr_make_param_array(struct bad_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, eio_packet, rejects_malformed_text_frames)
{
    const char *reason = NULL;
    eio_packet pkt;

    cr_assert_eq(eio_packet_decode(guard_copy(c->frame, c->len), c->len, 0, &pkt, &reason),
                 SIO_EPROTO);
    cr_assert_str_eq(reason, c->reason);
}

Test(eio_packet, decodes_base64_text_frame_in_place)
{
    uint8_t *buf = guard_copy("bAQIDBA==", 9);
    const char *reason = NULL;
    eio_packet pkt;

    cr_assert_eq(eio_packet_decode(buf, 9, 0, &pkt, &reason), 0);
    cr_assert_eq(pkt.type, EIO_PACKET_MESSAGE);
    cr_assert_eq(pkt.binary, 1);
    cr_assert_eq(pkt.data, buf + 1);
    cr_assert_eq(pkt.len, 4);
    cr_assert_arr_eq(pkt.data, "\x01\x02\x03\x04", 4);
}

Test(eio_packet, decodes_lone_b_as_empty_binary_message)
{
    /* The reference encoder writes an empty ArrayBuffer as "b", and its decoder accepts it. */
    const char *reason = NULL;
    eio_packet pkt;

    cr_assert_eq(eio_packet_decode(guard_copy("b", 1), 1, 0, &pkt, &reason), 0);
    cr_assert_eq(pkt.type, EIO_PACKET_MESSAGE);
    cr_assert_eq(pkt.binary, 1);
    cr_assert_eq(pkt.len, 0);
}

Test(eio_packet, takes_binary_frame_as_raw_message)
{
    /* No type byte: a leading '4' or 'b' is data, and the bytes need not be UTF-8. */
    static const char frames[][6] = {"\x01\x02\x03\x04\x05", "4hell", "bAQID",
                                     "\xff\xfe\0\x1e\x80"};
    const char *reason = NULL;
    eio_packet pkt;

    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        uint8_t *buf = guard_copy(frames[i], 5);
        cr_assert_eq(eio_packet_decode(buf, 5, 1, &pkt, &reason), 0);
        cr_assert_eq(pkt.type, EIO_PACKET_MESSAGE);
        cr_assert_eq(pkt.binary, 1);
        cr_assert_eq(pkt.data, buf);
        cr_assert_eq(pkt.len, 5);
        cr_assert_arr_eq(pkt.data, frames[i], 5, "bytes must be untouched");
    }
}

Test(eio_packet, takes_empty_binary_frame_as_empty_message)
{
    const char *reason = NULL;
    eio_packet pkt;

    cr_assert_eq(eio_packet_decode(guard_copy("", 0), 0, 1, &pkt, &reason), 0);
    cr_assert_eq(pkt.type, EIO_PACKET_MESSAGE);
    cr_assert_eq(pkt.binary, 1);
    cr_assert_eq(pkt.len, 0);
}

Test(eio_packet, checks_type_before_utf8)
{
    const char *reason = NULL;
    eio_packet pkt;

    cr_assert_eq(eio_packet_decode(guard_copy("7\xff", 2), 2, 0, &pkt, &reason), SIO_EPROTO);
    cr_assert_str_eq(reason, "unknown packet type");
}

Test(eio_packet, encodes_every_text_type_and_decodes_it_back)
{
    uint8_t out[16];
    const char *reason = NULL;
    eio_packet pkt;

    for (int t = EIO_PACKET_OPEN; t <= EIO_PACKET_NOOP; t++) {
        size_t n = eio_packet_encode_text(out, (eio_packet_type)t, (const uint8_t *)"probe", 5);
        cr_assert_eq(n, 6);
        cr_assert_eq(out[0], '0' + t);
        cr_assert_eq(eio_packet_decode(guard_copy(out, n), n, 0, &pkt, &reason), 0);
        cr_assert_eq(pkt.type, (eio_packet_type)t);
        cr_assert_eq(pkt.len, 5);
        cr_assert_arr_eq(pkt.data, "probe", 5);
    }
}

Test(eio_packet, encodes_text_packet_without_data)
{
    uint8_t out[1];

    cr_assert_eq(eio_packet_encode_text(out, EIO_PACKET_PING, NULL, 0), 1);
    cr_assert_eq(out[0], '2');
}

Test(eio_packet, encodes_binary_as_spec_base64_form)
{
    uint8_t out[16];

    size_t n = eio_packet_encode_base64(out, (const uint8_t *)"\x01\x02\x03\x04", 4);
    cr_assert_eq(n, 9);
    cr_assert_arr_eq(out, "bAQIDBA==", 9);
    cr_assert_eq(eio_packet_encode_base64(out, NULL, 0), 1);
    cr_assert_eq(out[0], 'b');
}

Test(eio_packet, round_trips_binary_through_base64_form)
{
    uint8_t raw[100], enc[1 + 136];
    const char *reason = NULL;
    eio_packet pkt;

    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(i * 37);
    for (size_t n = 0; n <= sizeof(raw); n++) {
        size_t m = eio_packet_encode_base64(enc, raw, n);
        cr_assert_eq(m, 1 + sio_base64_encoded_len(n));
        cr_assert_eq(eio_packet_decode(guard_copy(enc, m), m, 0, &pkt, &reason), 0);
        cr_assert_eq(pkt.binary, 1);
        cr_assert_eq(pkt.len, n);
        cr_assert_arr_eq(pkt.data, raw, n);
        guard_free();
    }
}

Test(eio_packet, names_every_type)
{
    cr_assert_str_eq(eio_packet_type_name(EIO_PACKET_OPEN), "open");
    cr_assert_str_eq(eio_packet_type_name(EIO_PACKET_MESSAGE), "message");
    cr_assert_str_eq(eio_packet_type_name(EIO_PACKET_NOOP), "noop");
    cr_assert_str_eq(eio_packet_type_name((eio_packet_type)7), "unknown");
    cr_assert_str_eq(eio_packet_type_name((eio_packet_type)-1), "unknown");
}
