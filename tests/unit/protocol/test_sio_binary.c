/*
 * Unit tests for protocol/sio_binary: packets without attachments pass straight through, a
 * BINARY_* header waits for exactly its attachments, placeholders are checked (range, duplicate,
 * missing, type), limits hold, and every refused or dropped attachment is released. Headers are
 * fed from guard-page copies, so the kept header must be a copy of its own.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "guard.h"
#include "json_scan.h"
#include "sio_binary.h"

#define PH(n) "{\"_placeholder\":true,\"num\":" #n "}"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Attachments are malloc'd copies; live counts every one not yet released. */
static int live;

static void *part_new(const char *bytes)
{
    live++;
    return strdup(bytes);
}

static void part_free(void *p)
{
    live--;
    free(p);
}

static int feed_text(sio_binary *r, const char *s, sio_packet *pk, const char **reason)
{
    size_t n = strlen(s);
    const char *g = (const char *)guard_copy(s, n);
    return sio_binary_feed_text(r, g, n, pk, reason);
}

static int feed_part(sio_binary *r, const char *bytes, sio_binary_msg *m, const char **reason)
{
    return sio_binary_feed_attachment(r, part_new(bytes), strlen(bytes), m, reason);
}

Test(sio_binary, passes_plain_packets_through)
{
    sio_binary r;
    sio_packet pk;
    const char *why = NULL;

    sio_binary_init(&r, NULL, part_free);
    cr_assert_eq(feed_text(&r, "2/chat,7[\"hi\",1]", &pk, &why), 0, "%s", why);
    cr_assert_eq(pk.type, SIO_PACKET_EVENT);
    cr_assert_eq(pk.id, 7);
    cr_assert_not(sio_binary_is_pending(&r));
    guard_free();
    sio_binary_deinit(&r);
}

Test(sio_binary, reassembles_a_binary_event)
{
    sio_binary r;
    sio_binary_msg m;
    sio_packet pk;
    const char *why = NULL;

    sio_binary_init(&r, NULL, part_free);
    cr_assert_eq(feed_text(&r, "52-/chat,3[\"up\"," PH(1) ",{\"a\":" PH(0) "}]", &pk, &why),
                 SIO_EINCOMPLETE, "%s", why);
    guard_free(); /* the header must have been copied */
    cr_assert(sio_binary_is_pending(&r));
    cr_assert_eq(feed_part(&r, "zero", &m, &why), SIO_EINCOMPLETE);
    cr_assert_eq(feed_part(&r, "one!", &m, &why), 0, "%s", why);
    cr_assert_not(sio_binary_is_pending(&r));
    sio_binary_deinit(&r); /* r is idle: the message no longer depends on it */
    cr_assert_eq(m.pkt.type, SIO_PACKET_BINARY_EVENT);
    cr_assert_eq(m.pkt.attachments, 2);
    cr_assert_eq(m.pkt.id, 3);
    cr_assert(m.pkt.nsp_len == 5 && !memcmp(m.pkt.nsp, "/chat", 5));
    cr_assert(m.pkt.event_len == 4 && !memcmp(m.pkt.event, "\"up\"", 4));
    cr_assert(m.pkt.data >= m.text && m.pkt.data[0] == '[');
    cr_assert_eq(m.nparts, 2);
    cr_assert_str_eq(m.parts[0], "zero");
    cr_assert_str_eq(m.parts[1], "one!");
    cr_assert_eq(m.bytes, 8);
    sio_binary_msg_deinit(&m, part_free);
    cr_assert_eq(live, 0);
}

Test(sio_binary, reassembles_a_binary_ack_on_the_root_namespace)
{
    sio_binary r;
    sio_binary_msg m;
    sio_packet pk;
    const char *why = NULL;

    sio_binary_init(&r, NULL, part_free);
    cr_assert_eq(feed_text(&r, "61-12[" PH(0) "]", &pk, &why), SIO_EINCOMPLETE, "%s", why);
    guard_free();
    cr_assert_eq(feed_part(&r, "", &m, &why), 0, "%s", why); /* an empty attachment counts */
    cr_assert_eq(m.pkt.type, SIO_PACKET_BINARY_ACK);
    cr_assert(m.pkt.nsp_len == 1 && m.pkt.nsp[0] == '/');
    cr_assert_eq(m.pkt.id, 12);
    sio_binary_msg_deinit(&m, part_free);
    sio_binary_deinit(&r);
    cr_assert_eq(live, 0);
}

struct bad_case {
    const char *in;
    int rc;
    const char *reason; /* expected substring */
};

static void expect_refused(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sio_binary r;
        sio_packet pk;
        const char *why = NULL;

        sio_binary_init(&r, NULL, part_free);
        int rc = feed_text(&r, cases[i].in, &pk, &why);
        cr_expect_eq(rc, cases[i].rc, "'%s': rc %d, want %d (%s)", cases[i].in, rc, cases[i].rc,
                     why ? why : "accepted");
        if (rc < 0 && rc != SIO_EINCOMPLETE)
            cr_expect(why && strstr(why, cases[i].reason), "'%s': reason '%s' lacks '%s'",
                      cases[i].in, why, cases[i].reason);
        cr_expect_not(sio_binary_is_pending(&r), "'%s' left a pending header", cases[i].in);
        sio_binary_deinit(&r);
        guard_free();
    }
}

Test(sio_binary, rejects_placeholder_num_out_of_range)
{
    static const struct bad_case cases[] = {
        {"51-[\"x\",{\"_placeholder\":true,\"num\":1}]", SIO_EPROTO, "out of range"},
        {"52-[\"x\"," PH(0) "," PH(2) "]", SIO_EPROTO, "out of range"},
        {"51-[\"x\",{\"a\":[{\"b\":{\"_placeholder\":true,\"num\":1}}]}]", SIO_EPROTO,
         "out of range"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":4294967296}]", SIO_EPROTO, "out of range"},
    };
    expect_refused(cases, NELEM(cases));
}

Test(sio_binary, rejects_placeholder_num_of_the_wrong_type)
{
    static const struct bad_case cases[] = {
        {"51-[\"x\",{\"_placeholder\":true,\"num\":-1}]", SIO_EPROTO, "not an integer"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":1.5}]", SIO_EPROTO, "not an integer"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":0.0}]", SIO_EPROTO, "not an integer"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":0e0}]", SIO_EPROTO, "not an integer"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":\"0\"}]", SIO_EPROTO, "not an integer"},
        {"51-[\"x\",{\"_placeholder\":true}]", SIO_EPROTO, "missing or not an integer"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":null}]", SIO_EPROTO, "not an integer"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":[0]}]", SIO_EPROTO, "not an integer"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":{}}]", SIO_EPROTO, "not an integer"},
        {"51-[\"x\",{\"_placeholder\":true,\"num\":9007199254740992}]", SIO_EPROTO,
         "not an integer"},
        {"51-[\"x\",{\"num\":0,\"_placeholder\":true,\"num\":\"0\"}]", SIO_EPROTO,
         "not an integer"},
        {"51-[\"x\",{\"_placeholder\":false,\"_placeholder\":true}]", SIO_EPROTO, "not an integer"},
        {"61-1[{\"_placeholder\":true}]", SIO_EPROTO, "not an integer"},
    };
    expect_refused(cases, NELEM(cases));
}

Test(sio_binary, rejects_duplicate_and_missing_placeholders)
{
    static const struct bad_case cases[] = {
        {"52-[\"x\"," PH(0) "," PH(0) "]", SIO_EPROTO, "duplicate"},
        {"51-[\"x\",{\"a\":" PH(0) ",\"b\":[" PH(0) "]}]", SIO_EPROTO, "duplicate"},
        {"52-[\"x\"," PH(1) "]", SIO_EPROTO, "has no placeholder"},
        {"51-[\"x\"]", SIO_EPROTO, "has no placeholder"},
        /* not placeholders: the last "_placeholder" member decides */
        {"51-[\"x\",{\"_placeholder\":true,\"num\":0,\"_placeholder\":false}]", SIO_EPROTO,
         "has no placeholder"},
        {"51-[\"x\",{\"_placeholder\":\"true\",\"num\":0}]", SIO_EPROTO, "has no placeholder"},
    };
    expect_refused(cases, NELEM(cases));
}

Test(sio_binary, accepts_what_json_parse_would_read_as_placeholders)
{
    static const struct bad_case cases[] = {
        {"51-[\"x\",{\"_placeholder\":true,\"num\":5,\"num\":0}]", SIO_EINCOMPLETE, ""},
        {"51-[\"x\",{\"\\u005fplaceholder\":true,\"n\\u0075m\":0}]", SIO_EINCOMPLETE, ""},
        {"51-[\"x\",{\"_placeholder\":false,\"num\":7}," PH(0) "]", SIO_EINCOMPLETE, ""},
        {"52-[\"x\",[" PH(1) ",[" PH(0) "]]]", SIO_EINCOMPLETE, ""},
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        sio_binary r;
        sio_packet pk;
        const char *why = NULL;

        sio_binary_init(&r, NULL, part_free);
        cr_expect_eq(feed_text(&r, cases[i].in, &pk, &why), SIO_EINCOMPLETE, "'%s': %s",
                     cases[i].in, why);
        sio_binary_deinit(&r);
        guard_free();
    }
}

Test(sio_binary, passes_packet_errors_through)
{
    static const struct bad_case cases[] = {
        {"", SIO_EPROTO, "empty"},
        {"511-[\"x\"]", SIO_ELIMIT, "too many attachments"},
        {"51-[\"connect\"," PH(0) "]", SIO_EPROTO, "reserved"},
    };
    expect_refused(cases, NELEM(cases));
}

Test(sio_binary, refuses_text_while_attachments_are_pending)
{
    sio_binary r;
    sio_packet pk;
    const char *why = NULL;

    sio_binary_init(&r, NULL, part_free);
    cr_assert_eq(feed_text(&r, "52-[\"x\"," PH(0) "," PH(1) "]", &pk, &why), SIO_EINCOMPLETE);
    cr_assert_eq(feed_part(&r, "a", NULL, &why), SIO_EINCOMPLETE);
    cr_assert_eq(feed_text(&r, "2[\"y\"]", &pk, &why), SIO_EPROTO);
    cr_assert_str_eq(why, "text packet while binary attachments are pending");
    cr_assert_not(sio_binary_is_pending(&r));
    cr_assert_eq(live, 0, "the pending attachment was not released");
    guard_free();
    sio_binary_deinit(&r);
}

Test(sio_binary, refuses_an_attachment_without_a_header)
{
    sio_binary r;
    sio_binary_msg m;
    const char *why = NULL;

    sio_binary_init(&r, NULL, part_free);
    cr_assert_eq(feed_part(&r, "stray", &m, &why), SIO_EPROTO);
    cr_assert_str_eq(why, "binary attachment without a packet");
    cr_assert_eq(live, 0, "a refused attachment must be released");
    sio_binary_deinit(&r);
}

Test(sio_binary, bounds_the_attachment_bytes)
{
    sio_binary_limits l;
    sio_binary r;
    sio_binary_msg m;
    sio_packet pk;
    const char *why = NULL;

    sio_binary_limits_init(&l);
    l.max_bytes = 6;
    sio_binary_init(&r, &l, part_free);
    cr_assert_eq(feed_text(&r, "52-[\"x\"," PH(0) "," PH(1) "]", &pk, &why), SIO_EINCOMPLETE);
    cr_assert_eq(feed_part(&r, "abc", &m, &why), SIO_EINCOMPLETE);
    cr_assert_eq(feed_part(&r, "abcd", &m, &why), SIO_ELIMIT);
    cr_assert_str_eq(why, "attachments too large");
    cr_assert_not(sio_binary_is_pending(&r));
    cr_assert_eq(live, 0);
    guard_free();
    /* exactly at the limit is fine */
    cr_assert_eq(feed_text(&r, "52-[\"x\"," PH(0) "," PH(1) "]", &pk, &why), SIO_EINCOMPLETE);
    cr_assert_eq(feed_part(&r, "abc", &m, &why), SIO_EINCOMPLETE);
    cr_assert_eq(feed_part(&r, "def", &m, &why), 0);
    sio_binary_msg_deinit(&m, part_free);
    cr_assert_eq(live, 0);
    guard_free();
    sio_binary_deinit(&r);
}

Test(sio_binary, bounds_the_attachment_count)
{
    sio_binary_limits l;
    sio_binary r;
    sio_packet pk;
    const char *why = NULL;
    char s[1024];
    size_t n = (size_t)sprintf(s, "517-[\"x\"");

    for (int i = 0; i < 17; i++)
        n += (size_t)sprintf(s + n, ",{\"_placeholder\":true,\"num\":%d}", i);
    sprintf(s + n, "]");
    sio_binary_limits_init(&l);
    l.packet.max_attachments = 100; /* clamped to SIO_BINARY_MAX_ATTACHMENTS */
    sio_binary_init(&r, &l, part_free);
    cr_assert_eq(feed_text(&r, s, &pk, &why), SIO_ELIMIT);
    cr_assert_str_eq(why, "too many attachments");
    guard_free();
    sio_binary_deinit(&r);
}

Test(sio_binary, deinit_releases_a_pending_packet)
{
    sio_binary r;
    sio_packet pk;
    const char *why = NULL;

    sio_binary_init(&r, NULL, part_free);
    cr_assert_eq(feed_text(&r, "53-[\"x\"," PH(0) "," PH(1) "," PH(2) "]", &pk, &why),
                 SIO_EINCOMPLETE);
    cr_assert_eq(feed_part(&r, "a", NULL, &why), SIO_EINCOMPLETE);
    cr_assert_eq(feed_part(&r, "b", NULL, &why), SIO_EINCOMPLETE);
    sio_binary_deinit(&r);
    cr_assert_eq(live, 0);
    guard_free();
}

Test(sio_binary, checks_placeholders_at_the_depth_cap)
{
    /* A bad placeholder as deep as validation allows is still found. */
    sio_binary_limits l;
    sio_binary r;
    sio_packet pk;
    const char *why = NULL;
    size_t depth = SIO_JSON_DEPTH_CAP - 1, n = 0;
    char *s = malloc(2 * depth + 64);

    cr_assert_not_null(s);
    n += (size_t)sprintf(s, "51-[\"x\",");
    memset(s + n, '[', depth - 2);
    n += depth - 2;
    n += (size_t)sprintf(s + n, "{\"_placeholder\":true,\"num\":1}");
    memset(s + n, ']', depth - 1);
    n += depth - 1;
    s[n] = 0;
    sio_binary_limits_init(&l);
    l.packet.max_json_depth = SIO_JSON_DEPTH_CAP;
    sio_binary_init(&r, &l, part_free);
    cr_assert_eq(feed_text(&r, s, &pk, &why), SIO_EPROTO, "%s", why);
    cr_assert_str_eq(why, "illegal attachments: placeholder num out of range");
    guard_free();
    s[n - depth - 1] = '0'; /* num 1 -> num 0 */
    cr_assert_eq(feed_text(&r, s, &pk, &why), SIO_EINCOMPLETE, "%s", why);
    guard_free();
    sio_binary_deinit(&r);
    free(s);
}
