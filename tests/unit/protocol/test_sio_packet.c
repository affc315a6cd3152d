/*
 * Unit tests for protocol/sio_packet: every example of the socket.io-protocol README and test
 * suite, the malformed packets socket.io-parser rejects, and header encoding. Each input is
 * decoded from a guard-page copy, and every prefix of each valid input must fail cleanly.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "guard.h"
#include "json_scan.h"
#include "sio_packet.h"

#define PH(n) "{\"_placeholder\":true,\"num\":" #n "}"

/* Decodes s[0..n) from a guard-page copy. The copy stays mapped until guard_free(), so the
 * packet's slices can be checked afterwards. */
static int decode_n(const char *s, size_t n, const sio_packet_limits *lim, sio_packet *pk,
                    const char **reason)
{
    const char *g = (const char *)guard_copy(s, n);
    int rc = sio_packet_decode(g, n, lim, pk, reason);
    if (rc == 0) {
        /* Every slice lies inside the input (or is the static root namespace). */
        cr_assert(pk->data == NULL || (pk->data >= g && pk->data + pk->data_len <= g + n));
        cr_assert(pk->event == NULL || (pk->event >= g && pk->event + pk->event_len <= g + n));
        cr_assert(pk->nsp_len == 1 || (pk->nsp >= g && pk->nsp + pk->nsp_len <= g + n));
        for (size_t k = 0; k < pk->nelems && k < SIO_PACKET_INDEXED; k++)
            cr_assert(pk->elems[k].off + pk->elems[k].len <= pk->data_len);
    } else {
        cr_assert(rc == SIO_EPROTO || rc == SIO_ELIMIT, "unexpected rc %d", rc);
        cr_assert_not_null(*reason, "no reason for rc %d", rc);
    }
    return rc;
}

static int decode(const char *s, sio_packet *pk, const char **reason)
{
    return decode_n(s, strlen(s), NULL, pk, reason);
}

static void expect_slice(const char *p, size_t n, const char *want, const char *what)
{
    if (want == NULL) {
        cr_assert_null(p, "%s: expected none, got '%.*s'", what, (int)n, p);
        cr_assert_eq(n, 0);
        return;
    }
    cr_assert_not_null(p, "%s: expected '%s'", what, want);
    cr_assert(n == strlen(want) && memcmp(p, want, n) == 0, "%s: got '%.*s', want '%s'", what,
              (int)n, p, want);
}

/* Decoded fields expected of a valid packet; "" in data or event means absent. Criterion runs
 * each parameter in a fresh process, so cases hold their bytes rather than pointers. */
struct ok_case {
    char in[128];
    int type;
    char nsp[32];
    long long id;
    unsigned attachments;
    char data[128];
    char event[40];
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* socket.io-protocol README ("Packet encoding", exchange examples) and its test suite, without
 * the Engine.IO '4' prefix. */
static struct ok_case spec_cases[] = {
    /* socket.io-protocol README, "Packet encoding" */
    {"0", 0, "/", -1, 0, "", ""},
    {"0{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}", 0, "/", -1, 0, "{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}",
     ""},
    {"0/admin,", 0, "/admin", -1, 0, "", ""},
    {"0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", 0, "/admin", -1, 0,
     "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", ""},
    {"4{\"message\":\"Not authorized\"}", 4, "/", -1, 0, "{\"message\":\"Not authorized\"}", ""},
    {"2[\"foo\"]", 2, "/", -1, 0, "[\"foo\"]", "\"foo\""},
    {"2/admin,[\"bar\"]", 2, "/admin", -1, 0, "[\"bar\"]", "\"bar\""},
    {"51-[\"baz\"," PH(0) "]", 5, "/", -1, 1, "[\"baz\"," PH(0) "]", "\"baz\""},
    {"52-/admin,[\"baz\"," PH(0) "," PH(1) "]", 5, "/admin", -1, 2, "[\"baz\"," PH(0) "," PH(1) "]",
     "\"baz\""},
    {"212[\"foo\"]", 2, "/", 12, 0, "[\"foo\"]", "\"foo\""},
    {"312[]", 3, "/", 12, 0, "[]", ""},
    {"2/admin,13[\"foo\"]", 2, "/admin", 13, 0, "[\"foo\"]", "\"foo\""},
    {"3/admin,13[\"bar\"]", 3, "/admin", 13, 0, "[\"bar\"]", ""},
    {"51-14[\"foo\"," PH(0) "]", 5, "/", 14, 1, "[\"foo\"," PH(0) "]", "\"foo\""},
    {"314[\"bar\"]", 3, "/", 14, 0, "[\"bar\"]", ""},
    {"215[\"foo\"]", 2, "/", 15, 0, "[\"foo\"]", "\"foo\""},
    {"61-15[\"bar\"," PH(0) "]", 6, "/", 15, 1, "[\"bar\"," PH(0) "]", ""},
    {"1", 1, "/", -1, 0, "", ""},
    {"1/admin,", 1, "/admin", -1, 0, "", ""},
    /* README exchange examples and the socket.io-protocol test suite (without the '4') */
    {"0/admin,{\"token\":\"123\"}", 0, "/admin", -1, 0, "{\"token\":\"123\"}", ""},
    {"0{\"token\":\"123\"}", 0, "/", -1, 0, "{\"token\":\"123\"}", ""},
    {"2[\"hello\",1]", 2, "/", -1, 0, "[\"hello\",1]", "\"hello\""},
    {"2/admin,456[\"project:delete\",123]", 2, "/admin", 456, 0, "[\"project:delete\",123]",
     "\"project:delete\""},
    {"3/admin,456[]", 3, "/admin", 456, 0, "[]", ""},
    {"51-[\"hello\"," PH(0) "]", 5, "/", -1, 1, "[\"hello\"," PH(0) "]", "\"hello\""},
    {"0/random", 0, "/random", -1, 0, "", ""},
    {"0/custom,", 0, "/custom", -1, 0, "", ""},
    {"1/custom", 1, "/custom", -1, 0, "", ""},
    {"4/random,{\"message\":\"Invalid namespace\"}", 4, "/random", -1, 0,
     "{\"message\":\"Invalid namespace\"}", ""},
    {"2[\"message\",1,\"2\",{\"3\":[true]}]", 2, "/", -1, 0, "[\"message\",1,\"2\",{\"3\":[true]}]",
     "\"message\""},
    {"52-[\"message\"," PH(0) "," PH(1) "]", 5, "/", -1, 2, "[\"message\"," PH(0) "," PH(1) "]",
     "\"message\""},
    {"2456[\"message-with-ack\",1]", 2, "/", 456, 0, "[\"message-with-ack\",1]",
     "\"message-with-ack\""},
};

/* Corner cases the decoder must keep accepting. */
static struct ok_case edge_cases[] = {
    {"4\"Not authorized\"", 4, "/", -1, 0, "\"Not authorized\"", ""},
    {"2[42,\"x\"]", 2, "/", -1, 0, "[42,\"x\"]", "42"},
    {"2[-1.5e3]", 2, "/", -1, 0, "[-1.5e3]", "-1.5e3"},
    {"2 [ \"a\" ]\n", 2, "/", -1, 0, "[ \"a\" ]", "\"a\""},
    {"2[\"Connect\"]", 2, "/", -1, 0, "[\"Connect\"]", "\"Connect\""},
    {"2[\"connectx\"]", 2, "/", -1, 0, "[\"connectx\"]", "\"connectx\""},
    {"2[\"\\u0063onnec\"]", 2, "/", -1, 0, "[\"\\u0063onnec\"]", "\"\\u0063onnec\""},
    {"2[\"x\"," PH(99) "]", 2, "/", -1, 0, "[\"x\"," PH(99) "]", "\"x\""},
    {"51-[\"x\",{\"_placeholder\":false,\"num\":7}," PH(0) "]", 5, "/", -1, 1,
     "[\"x\",{\"_placeholder\":false,\"num\":7}," PH(0) "]", "\"x\""},
    {"51-[\"x\",{\"_placeholder\":\"true\"}," PH(0) "]", 5, "/", -1, 1,
     "[\"x\",{\"_placeholder\":\"true\"}," PH(0) "]", "\"x\""},
    {"51-[\"x\",{\"_placeholder\":true,\"num\":5,\"num\":0}]", 5, "/", -1, 1,
     "[\"x\",{\"_placeholder\":true,\"num\":5,\"num\":0}]", "\"x\""},
    {"51-[\"x\",{\"_placeholder\":true,\"_placeholder\":null}]", 5, "/", -1, 1,
     "[\"x\",{\"_placeholder\":true,\"_placeholder\":null}]", "\"x\""},
    {"51-[\"x\",{\"\\u005fplaceholder\":true,\"n\\u0075m\":0}]", 5, "/", -1, 1,
     "[\"x\",{\"\\u005fplaceholder\":true,\"n\\u0075m\":0}]", "\"x\""},
    {"51-[\"x\",{\"a\":[{\"b\":" PH(0) "}]}]", 5, "/", -1, 1, "[\"x\",{\"a\":[{\"b\":" PH(0) "}]}]",
     "\"x\""},
    {"510-[\"x\"," PH(9) "]", 5, "/", -1, 10, "[\"x\"," PH(9) "]", "\"x\""},
    {"61-7[" PH(0) "]", 6, "/", 7, 1, "[" PH(0) "]", ""},
    {"61-/a,7[]", 6, "/a", 7, 1, "[]", ""},
    {"0/", 0, "/", -1, 0, "", ""},
    {"0/,", 0, "/", -1, 0, "", ""},
    {"2/ns with space,[\"x\"]", 2, "/ns with space", -1, 0, "[\"x\"]", "\"x\""},
    {"3/admin,0[]", 3, "/admin", 0, 0, "[]", ""},
    {"2007[\"x\"]", 2, "/", 7, 0, "[\"x\"]", "\"x\""},
    {"29007199254740991[\"x\"]", 2, "/", 9007199254740991LL, 0, "[\"x\"]", "\"x\""},
    {"01", 0, "/", 1, 0, "", ""},
    {"0{}", 0, "/", -1, 0, "{}", ""},
    {"4{}", 4, "/", -1, 0, "{}", ""},
};

static void expect_decoded(const struct ok_case *c)
{
    sio_packet pk;
    const char *reason = NULL;
    int rc = decode(c->in, &pk, &reason);

    cr_assert_eq(rc, 0, "%s rejected: %s", c->in, reason ? reason : "?");
    cr_assert_eq((int)pk.type, c->type, "%s: type", c->in);
    expect_slice(pk.nsp, pk.nsp_len, c->nsp, "nsp");
    cr_assert_eq(pk.id, (int64_t)c->id, "%s: id %lld", c->in, (long long)pk.id);
    cr_assert_eq(pk.attachments, c->attachments, "%s: attachments", c->in);
    expect_slice(pk.data, pk.data_len, c->data[0] ? c->data : NULL, "data");
    expect_slice(pk.event, pk.event_len, c->event[0] ? c->event : NULL, "event");
    guard_free();
}

ParameterizedTestParameters(sio_packet, decodes_protocol_spec_examples)
{
    return cr_make_param_array(struct ok_case, spec_cases, NELEM(spec_cases));
}

ParameterizedTest(struct ok_case *c, sio_packet, decodes_protocol_spec_examples)
{
    expect_decoded(c);
}

Test(sio_packet, decodes_edge_cases)
{
    for (size_t i = 0; i < NELEM(edge_cases); i++)
        expect_decoded(&edge_cases[i]);
}

/* The decoder must never read past a truncated input: every prefix decodes or fails cleanly
 * (decode_n asserts that) from a guard-page copy. */
static void expect_prefixes_clean(const struct ok_case *c)
{
    sio_packet pk;
    const char *reason;

    for (size_t k = 0; k < strlen(c->in); k++) {
        reason = NULL;
        decode_n(c->in, k, NULL, &pk, &reason);
        guard_free();
    }
}

Test(sio_packet, every_prefix_of_a_valid_packet_decodes_or_fails_cleanly)
{
    for (size_t i = 0; i < NELEM(spec_cases); i++)
        expect_prefixes_clean(&spec_cases[i]);
    for (size_t i = 0; i < NELEM(edge_cases); i++)
        expect_prefixes_clean(&edge_cases[i]);
}

/* Re-encoding a decoded packet and decoding again must give the same fields. */
static void expect_round_trip(const struct ok_case *c)
{
    sio_packet a, b;
    const char *reason = NULL;
    char buf[512];

    cr_assert_eq(decode(c->in, &a, &reason), 0);
    size_t n =
        sio_packet_encode_header(buf, sizeof(buf), a.type, a.nsp, a.nsp_len, a.id, a.attachments);
    cr_assert_lt(n + a.data_len, sizeof(buf));
    if (a.data_len > 0)
        memcpy(buf + n, a.data, a.data_len);
    n += a.data_len;
    cr_assert_eq(decode_n(buf, n, NULL, &b, &reason), 0, "%.*s: %s", (int)n, buf, reason);
    cr_assert_eq(a.type, b.type);
    cr_assert(a.nsp_len == b.nsp_len && memcmp(a.nsp, b.nsp, a.nsp_len) == 0);
    cr_assert_eq(a.id, b.id);
    cr_assert_eq(a.attachments, b.attachments);
    cr_assert(a.data_len == b.data_len && (a.data_len == 0 || !memcmp(a.data, b.data, a.data_len)));
    guard_free();
}

Test(sio_packet, round_trips_through_encode_header)
{
    for (size_t i = 0; i < NELEM(spec_cases); i++)
        expect_round_trip(&spec_cases[i]);
    for (size_t i = 0; i < NELEM(edge_cases); i++)
        expect_round_trip(&edge_cases[i]);
}

struct bad_case {
    const char *in;
    size_t len; /* 0: strlen */
    int rc;
    const char *reason; /* expected substring of the reason */
};

static void expect_rejected(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct bad_case *c = &cases[i];
        sio_packet pk;
        const char *reason = NULL;
        int rc = decode_n(c->in, c->len != 0 ? c->len : strlen(c->in), NULL, &pk, &reason);

        cr_expect_eq(rc, c->rc, "'%s': rc %d, want %d (%s)", c->in, rc, c->rc,
                     reason ? reason : "accepted");
        if (rc != 0)
            cr_expect(strstr(reason, c->reason) != NULL, "'%s': reason '%s' lacks '%s'", c->in,
                      reason, c->reason);
        guard_free();
    }
}

Test(sio_packet, rejects_empty_input_and_unknown_types)
{
    static const struct bad_case cases[] = {
        {"", 0, SIO_EPROTO, "empty"},
        {"7", 0, SIO_EPROTO, "unknown packet type"},
        {"9[\"x\"]", 0, SIO_EPROTO, "unknown packet type"},
        {"abc", 0, SIO_EPROTO, "unknown packet type"},
        {"-1", 0, SIO_EPROTO, "unknown packet type"},
        {" 2[\"x\"]", 0, SIO_EPROTO, "unknown packet type"},
        {"\0", 1, SIO_EPROTO, "unknown packet type"},
        {"451-[\"hello\"," PH(0) "]", 0, SIO_EPROTO, "json"}, /* Engine.IO '4' not stripped */
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_attachments_on_non_binary_types)
{
    static const struct bad_case cases[] = {
        {"21-[\"x\"]", 0, SIO_EPROTO, "json"},
        {"01-{}", 0, SIO_EPROTO, "json"},
        {"31-1[]", 0, SIO_EPROTO, "json"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_attachment_count_without_digits_or_dash)
{
    static const struct bad_case cases[] = {
        {"51[\"x\"," PH(0) "]", 0, SIO_EPROTO, "illegal attachments"},
        {"5[\"x\"]", 0, SIO_EPROTO, "illegal attachments"},
        {"5", 0, SIO_EPROTO, "illegal attachments"},
        {"51", 0, SIO_EPROTO, "illegal attachments"},
        {"6", 0, SIO_EPROTO, "illegal attachments"},
        {"5-[\"x\"]", 0, SIO_EPROTO, "illegal attachments"},
        {"50-[\"x\"]", 0, SIO_EPROTO, "at least 1"},
        {"500-[\"x\"]", 0, SIO_EPROTO, "at least 1"},
        {"5a-[\"x\"]", 0, SIO_EPROTO, "illegal attachments"},
        {"5 1-[\"x\"," PH(0) "]", 0, SIO_EPROTO, "illegal attachments"},
        {"5+1-[\"x\"," PH(0) "]", 0, SIO_EPROTO, "illegal attachments"},
        {"51.0-[\"x\"," PH(0) "]", 0, SIO_EPROTO, "illegal attachments"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_too_many_attachments)
{
    static const struct bad_case cases[] = {
        {"511-[\"x\"]", 0, SIO_ELIMIT, "too many attachments"},
        {"599999999999999999999-[\"x\"]", 0, SIO_ELIMIT, "too many attachments"},
        {"6100-[]", 0, SIO_ELIMIT, "too many attachments"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_overflowing_ack_ids)
{
    static const struct bad_case cases[] = {
        {"29007199254740992[\"x\"]", 0, SIO_EPROTO, "ack id too large"},
        {"2999999999999999999999999999999[\"x\"]", 0, SIO_EPROTO, "ack id too large"},
        {"3/a,18446744073709551616[]", 0, SIO_EPROTO, "ack id too large"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_namespace_without_leading_slash)
{
    static const struct bad_case cases[] = {
        {"2admin,[\"x\"]", 0, SIO_EPROTO, "json"},
        {"0admin,", 0, SIO_EPROTO, "json"},
        {"2/a,b,[\"x\"]", 0, SIO_EPROTO, "json"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_bad_event_payloads)
{
    static const struct bad_case cases[] = {
        {"2", 0, SIO_EPROTO, "event must be an array"},
        {"2/admin,", 0, SIO_EPROTO, "event must be an array"},
        {"21", 0, SIO_EPROTO, "event must be an array"},
        {"2{\"a\":1}", 0, SIO_EPROTO, "event must be an array"},
        {"2\"hello\"", 0, SIO_EPROTO, "event must be an array"},
        {"2null", 0, SIO_EPROTO, "event must be an array"},
        {"2[]", 0, SIO_EPROTO, "empty"},
        {"2[ ]", 0, SIO_EPROTO, "empty"},
        {"2[{}]", 0, SIO_EPROTO, "string or number"},
        {"2[[\"x\"]]", 0, SIO_EPROTO, "string or number"},
        {"2[null]", 0, SIO_EPROTO, "string or number"},
        {"2[true,1]", 0, SIO_EPROTO, "string or number"},
        {"51-[" PH(0) "]", 0, SIO_EPROTO, "string or number"},
    };
    expect_rejected(cases, NELEM(cases));
}

/* The decoder locates the event name and arguments while validating; the slices are the
 * elements of data, white space around the payload not counted. */
Test(sio_packet, decode_locates_the_event_name_and_arguments)
{
    sio_packet pk;
    const char *reason = NULL;
    const char *in = "2/chat,7 [ \"join\" , {\"id\":[1,2]},\"x\" ] ";
    cr_assert_eq(decode(in, &pk, &reason), 0, "%s", reason ? reason : "");
    cr_assert_eq(pk.nelems, 3);
    const char *want[] = {"\"join\"", "{\"id\":[1,2]}", "\"x\""};
    for (size_t k = 0; k < 3; k++) {
        cr_expect_eq(pk.elems[k].len, strlen(want[k]));
        cr_expect(!memcmp(pk.data + pk.elems[k].off, want[k], strlen(want[k])), "element %zu", k);
    }
    cr_expect_eq(pk.event, pk.data + pk.elems[0].off);
    guard_free();

    /* More arguments than are located: all counted, the first SIO_PACKET_INDEXED in place. */
    char big[512];
    size_t n = (size_t)snprintf(big, sizeof(big), "2[\"e\"");
    for (int i = 1; i < 40; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, ",%d", i);
    snprintf(big + n, sizeof(big) - n, "]");
    cr_assert_eq(decode(big, &pk, &reason), 0);
    cr_assert_eq(pk.nelems, 40);
    for (size_t k = 1; k < SIO_PACKET_INDEXED; k++) {
        char num[8];
        int w = snprintf(num, sizeof(num), "%zu", k);
        cr_expect_eq(pk.elems[k].len, (size_t)w);
        cr_expect(!memcmp(pk.data + pk.elems[k].off, num, (size_t)w), "element %zu", k);
    }
    guard_free();

    /* An ack's elements are its arguments; a CONNECT object has none. */
    cr_assert_eq(decode("31[1,\"a\"]", &pk, &reason), 0);
    cr_expect_eq(pk.nelems, 2);
    guard_free();
    cr_assert_eq(decode("0{\"token\":\"t\"}", &pk, &reason), 0);
    cr_expect_eq(pk.nelems, 0);
    guard_free();
}

/* Names with the length of a reserved one, and reserved names as a prefix, are ordinary. */
Test(sio_packet, accepts_names_near_the_reserved_ones)
{
    static const char *const names[] = {
        "connecT",         "disconnectX", "newListenerA",   "connect_erro",
        "removeListener_", "xonnect",     "c\\u006fnnect!", "conn"};
    for (size_t i = 0; i < NELEM(names); i++) {
        char in[64];
        snprintf(in, sizeof(in), "2[\"%s\"]", names[i]);
        sio_packet pk;
        const char *reason = NULL;
        cr_expect_eq(decode(in, &pk, &reason), 0, "%s: %s", in, reason ? reason : "");
        guard_free();
        cr_expect(!sio_packet_event_is_reserved(names[i], strlen(names[i])), "%s", names[i]);
    }
    cr_expect(sio_packet_event_is_reserved("connect_error", 13));
    cr_expect(sio_packet_event_is_reserved("removeListener", 14));
    cr_expect(!sio_packet_event_is_reserved("", 0));
    cr_expect(!sio_packet_event_is_reserved("connect_error_and_more_than_32_bytes_long", 41));
}

Test(sio_packet, rejects_reserved_event_names)
{
    static const struct bad_case cases[] = {
        {"2[\"connect\"]", 0, SIO_EPROTO, "reserved"},
        {"2[\"connect_error\",1]", 0, SIO_EPROTO, "reserved"},
        {"2[\"disconnect\"]", 0, SIO_EPROTO, "reserved"},
        {"2[\"disconnecting\"]", 0, SIO_EPROTO, "reserved"},
        {"2[\"newListener\"]", 0, SIO_EPROTO, "reserved"},
        {"2[\"removeListener\"]", 0, SIO_EPROTO, "reserved"},
        {"2[\"\\u0063onnect\"]", 0, SIO_EPROTO, "reserved"},
        {"2[\"disconnect\\u0069ng\"]", 0, SIO_EPROTO, "reserved"},
        {"2[\"\\u006e\\u0065wListener\"]", 0, SIO_EPROTO, "reserved"},
        {"2[\"connect\\u005ferror\"]", 0, SIO_EPROTO, "reserved"},
        {"2/admin,5[\"removeListener\",1]", 0, SIO_EPROTO, "reserved"},
        {"51-[\"connect\"," PH(0) "]", 0, SIO_EPROTO, "reserved"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_bad_ack_payloads)
{
    static const struct bad_case cases[] = {
        {"3[]", 0, SIO_EPROTO, "without id"},
        {"3/admin,[]", 0, SIO_EPROTO, "without id"},
        {"312", 0, SIO_EPROTO, "must be an array"},
        {"312{}", 0, SIO_EPROTO, "must be an array"},
        {"312\"x\"", 0, SIO_EPROTO, "must be an array"},
        {"61-[" PH(0) "]", 0, SIO_EPROTO, "without id"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_bad_connect_and_disconnect_payloads)
{
    static const struct bad_case cases[] = {
        {"0[]", 0, SIO_EPROTO, "CONNECT data must be an object"},
        {"0\"x\"", 0, SIO_EPROTO, "CONNECT data must be an object"},
        {"0null", 0, SIO_EPROTO, "CONNECT data must be an object"},
        {"0/admin,[1]", 0, SIO_EPROTO, "CONNECT data must be an object"},
        {"1{}", 0, SIO_EPROTO, "DISCONNECT takes no data"},
        {"1/admin,{}", 0, SIO_EPROTO, "DISCONNECT takes no data"},
        {"1[]", 0, SIO_EPROTO, "DISCONNECT takes no data"},
        {"4", 0, SIO_EPROTO, "CONNECT_ERROR"},
        {"41", 0, SIO_EPROTO, "CONNECT_ERROR"},
        {"4[]", 0, SIO_EPROTO, "CONNECT_ERROR"},
        {"4null", 0, SIO_EPROTO, "CONNECT_ERROR"},
        {"4/x,", 0, SIO_EPROTO, "CONNECT_ERROR"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, rejects_invalid_json_payloads)
{
    static const struct bad_case cases[] = {
        {"4 ", 0, SIO_EPROTO, "json"},
        {"2[\"x\",]", 0, SIO_EPROTO, "json"},
        {"0{\"a\":1,}", 0, SIO_EPROTO, "json"},
        {"2[\"x\"", 0, SIO_EPROTO, "json"},
        {"2[\"x\"]]", 0, SIO_EPROTO, "json"},
        {"2[\"x\"] garbage", 0, SIO_EPROTO, "json"},
        {"2[\"x\"],[\"y\"]", 0, SIO_EPROTO, "json"},
        {"2[\"x\"]\0", 7, SIO_EPROTO, "json"},
        {"2[01]", 0, SIO_EPROTO, "json"},
        {"2[\"x\",-01]", 0, SIO_EPROTO, "json"},
        {"2[\"a\x01\"]", 0, SIO_EPROTO, "json"},
        {"2[\"a\nb\"]", 0, SIO_EPROTO, "json"},
        {"2[\"\\q\"]", 0, SIO_EPROTO, "json"},
        {"2[\"\\u00G0\"]", 0, SIO_EPROTO, "json"},
        {"2[\"\xff\"]", 0, SIO_EPROTO, "json"},
        {"2[\"\xc0\xaf\"]", 0, SIO_EPROTO, "json"},
        {"2[\"\xed\xb0\x80\"]", 0, SIO_EPROTO, "json"},
        {"2[\"x\",-]", 0, SIO_EPROTO, "json"},
        {"2[\"x\",1e]", 0, SIO_EPROTO, "json"},
        {"2[\"x\",NaN]", 0, SIO_EPROTO, "json"},
        {"2[\"x\",Infinity]", 0, SIO_EPROTO, "json"},
        {"2[\"x\",undefined]", 0, SIO_EPROTO, "json"},
        {"2['x']", 0, SIO_EPROTO, "json"},
        {"0{a:1}", 0, SIO_EPROTO, "json"},
        {"0{'a':1}", 0, SIO_EPROTO, "json"},
        {"2[\"x\" \"y\"]", 0, SIO_EPROTO, "json"},
    };
    expect_rejected(cases, NELEM(cases));
}

Test(sio_packet, limits_init_sets_reference_defaults)
{
    sio_packet_limits l;
    sio_packet_limits_init(&l);
    cr_assert_eq(l.max_attachments, 10);
    cr_assert_eq(l.max_json_depth, 32);
    cr_assert_eq(l.max_nsp_len, 256);
}

Test(sio_packet, honours_custom_attachment_limit)
{
    sio_packet_limits l;
    sio_packet pk;
    const char *r = NULL;
    const char *two = "52-[\"x\"," PH(0) "," PH(1) "]";

    sio_packet_limits_init(&l);
    l.max_attachments = 2;
    cr_assert_eq(decode_n(two, strlen(two), &l, &pk, &r), 0);
    l.max_attachments = 1;
    cr_assert_eq(decode_n(two, strlen(two), &l, &pk, &r), SIO_ELIMIT);
    l.max_attachments = 0;
    cr_assert_eq(decode_n("51-[\"x\"]", 8, &l, &pk, &r), SIO_ELIMIT);
}

Test(sio_packet, rejects_huge_attachment_digit_runs_early)
{
    size_t n = 100000;
    char *s = malloc(n + 4);
    cr_assert_not_null(s);
    s[0] = '5';
    memset(s + 1, '9', n);
    memcpy(s + 1 + n, "-[]", 3);
    sio_packet pk;
    const char *r = NULL;
    cr_assert_eq(decode_n(s, n + 4, NULL, &pk, &r), SIO_ELIMIT);
    memset(s + 1, '0', n); /* all zeros never exceed the limit, but the count is 0 */
    cr_assert_eq(decode_n(s, n + 4, NULL, &pk, &r), SIO_EPROTO);
    free(s);
}

Test(sio_packet, enforces_namespace_length_limit)
{
    char s[300];
    sio_packet pk;
    const char *r = NULL;

    s[0] = '0';
    s[1] = '/';
    memset(s + 2, 'a', 255); /* namespace of exactly 256 bytes */
    s[257] = ',';
    cr_assert_eq(decode_n(s, 258, NULL, &pk, &r), 0);
    cr_assert_eq(pk.nsp_len, 256);
    s[257] = 'a';
    s[258] = ',';
    cr_assert_eq(decode_n(s, 259, NULL, &pk, &r), SIO_ELIMIT);
    cr_assert_str_eq(r, "namespace too long");
    cr_assert_eq(decode_n(s, 258, NULL, &pk, &r), SIO_ELIMIT); /* no comma: runs to the end */
}

/* "2[\"x\"," + (depth - 1) nested arrays, closed. */
static char *deep_event(size_t depth, size_t *len)
{
    size_t n = 6 + 2 * (depth - 1) + 1;
    char *s = malloc(n);
    cr_assert_not_null(s);
    memcpy(s, "2[\"x\",", 6);
    memset(s + 6, '[', depth - 1);
    memset(s + 6 + depth - 1, ']', depth - 1);
    s[n - 1] = ']';
    *len = n;
    return s;
}

Test(sio_packet, enforces_json_depth_limit)
{
    sio_packet_limits l;
    sio_packet pk;
    const char *r = NULL;
    size_t n;
    char *ok = deep_event(32, &n);

    cr_assert_eq(decode_n(ok, n, NULL, &pk, &r), 0);
    free(ok);
    char *deep = deep_event(33, &n);
    cr_assert_eq(decode_n(deep, n, NULL, &pk, &r), SIO_ELIMIT);
    cr_assert_str_eq(r, "json: nesting too deep");
    sio_packet_limits_init(&l);
    l.max_json_depth = 40;
    cr_assert_eq(decode_n(deep, n, &l, &pk, &r), 0);
    free(deep);
}

Test(sio_packet, rejects_ten_thousand_nesting_levels_without_crashing)
{
    size_t n;
    char *s = deep_event(10000, &n);
    sio_packet_limits l;
    sio_packet pk;
    const char *r = NULL;

    cr_assert_eq(decode_n(s, n, NULL, &pk, &r), SIO_ELIMIT);
    sio_packet_limits_init(&l);
    l.max_json_depth = ~0u; /* clamped to SIO_JSON_DEPTH_CAP */
    cr_assert_eq(decode_n(s, n, &l, &pk, &r), SIO_ELIMIT);
    free(s);
}

Test(sio_packet, leaves_placeholders_to_the_reassembler)
{
    /* Placeholders are sio_binary's business: a well-formed header with a bad one decodes. */
    sio_packet pk;
    const char *r = NULL;

    cr_assert_eq(decode("51-[\"x\",{\"_placeholder\":true,\"num\":7}]", &pk, &r), 0, "%s", r);
    cr_assert_eq(pk.attachments, 1);
    guard_free();
}

Test(sio_packet, accepts_null_limits_and_reason)
{
    sio_packet pk;
    cr_assert_eq(sio_packet_decode("2[\"a\"]", 6, NULL, &pk, NULL), 0);
    cr_assert_eq(sio_packet_decode("2[]", 3, NULL, &pk, NULL), SIO_EPROTO);
    cr_assert_eq(sio_packet_decode(NULL, 0, NULL, &pk, NULL), SIO_EPROTO);
}

Test(sio_packet, root_namespace_is_static_when_absent)
{
    sio_packet pk;
    const char *r = NULL;
    cr_assert_eq(decode("2[\"a\"]", &pk, &r), 0);
    cr_assert_eq(pk.nsp_len, 1);
    cr_assert_eq(pk.nsp[0], '/');
    guard_free();
}

struct enc_case {
    int type;
    char nsp[16]; /* "-" stands for a NULL pointer */
    long long id;
    unsigned attachments;
    char want[32];
};

ParameterizedTestParameters(sio_packet, encodes_headers)
{
    static struct enc_case cases[] = {
        {0, "/", -1, 0, "0"},
        {0, "/admin", -1, 0, "0/admin,"},
        {1, "/", -1, 0, "1"},
        {1, "/admin", -1, 0, "1/admin,"},
        {2, "/", -1, 0, "2"},
        {2, "/", 12, 0, "212"},
        {2, "/admin", 13, 0, "2/admin,13"},
        {3, "/", 0, 0, "30"},
        {3, "/admin", 456, 0, "3/admin,456"},
        {4, "/random", -1, 0, "4/random,"},
        {5, "/", -1, 1, "51-"},
        {5, "/admin", -1, 2, "52-/admin,"},
        {5, "/", 14, 1, "51-14"},
        {6, "/", 15, 1, "61-15"},
        {6, "/", -1, 0, "60-"},
        {2, "-", -1, 0, "2"},
        {2, "", 7, 0, "27"},
        {2, "/", 9007199254740991LL, 0, "29007199254740991"},
        {3, "/", 9223372036854775807LL, 0, "39223372036854775807"},
        {5, "/", -1, 4294967295u, "54294967295-"},
        {2, "//", -1, 0, "2//,"},
    };
    return cr_make_param_array(struct enc_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct enc_case *c, sio_packet, encodes_headers)
{
    char out[64];
    const char *nsp = strcmp(c->nsp, "-") != 0 ? c->nsp : NULL;
    size_t nl = nsp != NULL ? strlen(nsp) : 0;
    size_t n = sio_packet_encode_header(out, sizeof(out), (sio_packet_type)c->type, nsp, nl,
                                        (int64_t)c->id, c->attachments);
    cr_assert_eq(n, strlen(c->want));
    cr_assert_str_eq(out, c->want);
    cr_assert_eq(sio_packet_encode_header(NULL, 0, (sio_packet_type)c->type, nsp, nl,
                                          (int64_t)c->id, c->attachments),
                 n, "sizing call must agree");
}

Test(sio_packet, encode_header_has_snprintf_semantics)
{
    char out[8];
    memset(out, 'X', sizeof(out));
    cr_assert_eq(sio_packet_encode_header(out, 5, SIO_PACKET_EVENT, "/admin", 6, 13, 0), 10);
    cr_assert_str_eq(out, "2/ad");
    cr_assert_eq(out[5], 'X', "wrote past cap");
    cr_assert_eq(sio_packet_encode_header(out, 1, SIO_PACKET_EVENT, "/", 1, 5, 0), 2);
    cr_assert_eq(out[0], '\0');
    cr_assert_eq(sio_packet_encode_header(out, 3, SIO_PACKET_EVENT, "/", 1, 5, 0), 2);
    cr_assert_str_eq(out, "25");
}

Test(sio_packet, knows_reserved_event_names)
{
    cr_assert(sio_packet_event_is_reserved("connect", 7));
    cr_assert(sio_packet_event_is_reserved("connect_error", 13));
    cr_assert(sio_packet_event_is_reserved("disconnect", 10));
    cr_assert(sio_packet_event_is_reserved("disconnecting", 13));
    cr_assert(sio_packet_event_is_reserved("newListener", 11));
    cr_assert(sio_packet_event_is_reserved("removeListener", 14));
    cr_assert_not(sio_packet_event_is_reserved("connec", 6));
    cr_assert_not(sio_packet_event_is_reserved("connection", 10));
    cr_assert_not(sio_packet_event_is_reserved("", 0));
}

Test(sio_packet, names_packet_types)
{
    cr_assert_str_eq(sio_packet_type_name(SIO_PACKET_CONNECT), "CONNECT");
    cr_assert_str_eq(sio_packet_type_name(SIO_PACKET_BINARY_ACK), "BINARY_ACK");
    cr_assert_str_eq(sio_packet_type_name((sio_packet_type)7), "UNKNOWN");
}
