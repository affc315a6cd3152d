/* The gateway's reply writer and conversation-payload fast path (src/gateway/reply.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "gateway/reply.h"

static void expect_text(gw_reply *w, const char *want)
{
    const char *got = gw_reply_end(w);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want);
    gw_reply_free(w);
}

Test(reply, members_in_order_with_nesting_and_null)
{
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_bool(&w, "ok", 0);
    gw_reply_open(&w, "error");
    gw_reply_str(&w, "code", "FORBIDDEN");
    gw_reply_str(&w, "message", "no");
    gw_reply_close(&w);
    gw_reply_str(&w, "role", NULL);
    gw_reply_bool(&w, "typing", 1);
    expect_text(&w, "[{\"ok\":false,\"error\":{\"code\":\"FORBIDDEN\",\"message\":\"no\"},"
                    "\"role\":null,\"typing\":true}]");
}

Test(reply, empty_object)
{
    gw_reply w;
    gw_reply_begin(&w);
    expect_text(&w, "[{}]");
}

Test(reply, strings_are_escaped)
{
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_str(&w, "user_id", "a\"b\\c\n\x01\x1f z\xc3\xa9");
    expect_text(&w, "[{\"user_id\":\"a\\\"b\\\\c\\u000a\\u0001\\u001f z\xc3\xa9\"}]");
}

Test(reply, long_values_move_to_the_heap)
{
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_str(&w, "a", big);
    gw_reply_str(&w, "b", "\"");
    const char *got = gw_reply_end(&w);
    cr_assert_not_null(got);
    cr_expect_eq(strlen(got), strlen(big) + strlen("[{\"a\":\"\",\"b\":\"\\\"\"}]"));
    cr_expect(!strncmp(got, "[{\"a\":\"xxx", 10));
    const char *tail = "x\",\"b\":\"\\\"\"}]";
    cr_expect_str_eq(got + strlen(got) - strlen(tail), tail);
    gw_reply_free(&w);
}

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

Test(payload, canonical_forms_are_recognised)
{
    static const char *const ok[] = {
        "{\"conversation_id\":\"" UUID "\"}",
        " \t{ \"conversation_id\" :\n \"" UUID "\" }\r\n",
        "{\"conversation_id\":\"0F8FAD5B-D9CB-469F-A165-70867728950E\"}",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char id[37];
        cr_expect_eq(gw_payload_conversation_id(ok[i], strlen(ok[i]), id), 1, "%s", ok[i]);
        cr_expect_eq(strlen(id), 36);
    }
    char id[37];
    const char *p = "{\"conversation_id\":\"" UUID "\"}";
    cr_assert_eq(gw_payload_conversation_id(p, strlen(p), id), 1);
    cr_expect_str_eq(id, UUID);
}

Test(payload, anything_else_goes_to_the_full_parser)
{
    static const char *const other[] = {
        "",
        "{}",
        "null",
        "\"" UUID "\"",
        "{\"conversation_id\":\"" UUID "\",\"x\":1}",
        "{\"x\":1,\"conversation_id\":\"" UUID "\"}",
        "{\"conversation_id\":\"" UUID "\"}{}",
        "{\"conversation_id\":\"" UUID "\"",
        "{\"conversation_id\":\"0f8fad5b-d9cb-469f-a165-70867728950\"}",
        "{\"conversation_id\":\"0f8fad5b-d9cb-469f-a165-70867728950ee\"}",
        "{\"conversation_id\":\"0f8fad5b-d9cb-469f-a165-7086772895\\\"e\"}",
        "{\"conversation_id\":\"0f8fad5b-d9cb-469f-a165-7086772895\\u0e\"}",
        "{\"conversation_id\":123}",
        "{\"conversation_\\u0069d\":\"" UUID "\"}",
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        char id[37];
        cr_expect_eq(gw_payload_conversation_id(other[i], strlen(other[i]), id), 0, "%s", other[i]);
    }
}
