/*
 * Unit tests for protocol/json_scan: RFC 8259 acceptance as JSON.parse sees it, depth limits,
 * and the slice helpers. Every validator case also runs flush against a guard page.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "guard.h"
#include "json_scan.h"

/* Validates s[0..n) from a guard-page copy, so a read past the end faults. */
static int validate_guarded(const char *s, size_t n, unsigned depth, const char **reason)
{
    const char *g = (const char *)guard_copy(s, n);
    int rc = sio_json_validate(g, n, depth, reason);
    guard_free();
    return rc;
}

/* Tables run in one test process each: a process per case would cost more than the checks. */
struct json_case {
    const char *in;
    size_t len; /* 0: use strlen */
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void expect_all(const struct json_case *cases, size_t n, int want)
{
    for (size_t i = 0; i < n; i++) {
        const char *reason = NULL;
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
        int rc = validate_guarded(cases[i].in, len, 32, &reason);
        cr_expect_eq(rc, want, "case %zu '%s': rc %d (%s)", i, cases[i].in, rc,
                     reason ? reason : "ok");
        if (rc != 0)
            cr_expect_not_null(reason, "case %zu: no reason", i);
    }
}

Test(json_scan, accepts_numbers)
{
    static const struct json_case cases[] = {
        {"0", 0},   {"-0", 0},  {"123", 0},   {"-12.5E-3", 0}, {"1.5e+10", 0},
        {"0.0", 0}, {"1E5", 0}, {"1e400", 0}, /* JSON.parse gives Infinity, but the grammar allows
                                                 it */
        {" 7 ", 0},
    };
    expect_all(cases, NELEM(cases), 0);
}

Test(json_scan, accepts_literals_and_strings)
{
    static const struct json_case cases[] = {
        {"true", 0},
        {"false", 0},
        {"null", 0},
        {"\"\"", 0},
        {"\"abc\"", 0},
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0},
        {"\"\\u00e9\\ud83d\\ude00\\uABCD\"", 0},
        {"\"\\ud800\"", 0}, /* lone surrogate escape: JSON.parse accepts it */
        {"\"\\udc00\\ud800\"", 0},
        {"\"\\u0000\"", 0},
        {"\"\x7f\"", 0},
        {"\"\xc3\xa9\xe6\xbc\xa2\xf0\x9f\x98\x80\"", 0},     /* raw UTF-8 */
        {"\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\xee\x80\x80\"", 0}, /* U+FFFF, U+10FFFF, U+E000 */
    };
    expect_all(cases, NELEM(cases), 0);
}

Test(json_scan, accepts_containers_and_whitespace)
{
    static const struct json_case cases[] = {
        {"[]", 0},
        {"{}", 0},
        {"[[]]", 0},
        {" \t\n\r[ 1 , 2 ]\r\n ", 0},
        {"{\"a\":[1,{\"b\":null}],\"c\":true,\"d\":false}", 0},
        {"{ \"a\" : 1 , \"a\" : 2 }", 0}, /* duplicate keys are legal */
        {"[\"x\",{\"_placeholder\":true,\"num\":0}]", 0},
        {"{\"\":\"\"}", 0},
        {"[{}, [], \"\", 0, true]", 0},
    };
    expect_all(cases, NELEM(cases), 0);
}

Test(json_scan, rejects_empty_input)
{
    static const struct json_case cases[] = {{"", 0}, {" \t\r\n", 0}};
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, rejects_trailing_and_missing_commas)
{
    static const struct json_case cases[] = {
        {"[1,]", 0},  {"{\"a\":1,}", 0},        {"[,1]", 0},          {"[1,,2]", 0}, {"{,}", 0},
        {"[1 2]", 0}, {"{\"a\":1 \"b\":2}", 0}, {"[\"x\" \"y\"]", 0},
    };
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, rejects_malformed_numbers)
{
    static const struct json_case cases[] = {
        {"01", 0},  {"-01", 0},      {"00", 0},        {"-", 0},   {"1e", 0},   {"1e+", 0},
        {"1E-", 0}, {"1.", 0},       {"1.e5", 0},      {".5", 0},  {"+1", 0},   {"0x10", 0},
        {"NaN", 0}, {"Infinity", 0}, {"-Infinity", 0}, {"--1", 0}, {"1..2", 0},
    };
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, rejects_malformed_literals)
{
    static const struct json_case cases[] = {
        {"tru", 0}, {"nul", 0}, {"True", 0}, {"nulll", 0}, {"undefined", 0}, {"f", 0},
    };
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, rejects_bad_strings_and_escapes)
{
    static const struct json_case cases[] = {
        {"\"abc", 0},
        {"\"", 0},
        {"\"a\x01"
         "b\"",
         0},
        {"\"a\nb\"", 0},
        {"\"tab\there\"", 0},
        {"\"\x1f\"", 0},
        {"\"\\q\"", 0},
        {"\"\\x41\"", 0},
        {"\"\\'\"", 0},
        {"\"\\u12\"", 0},
        {"\"\\u12G4\"", 0},
        {"\"\\u{1F600}\"", 0},
        {"\"\\", 0},
        {"\"\\u", 0},
        {"'a'", 0},
        {"\"\\U0041\"", 0},
    };
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, rejects_invalid_utf8)
{
    static const struct json_case cases[] = {
        {"\"\xff\"", 0},
        {"\"\x80\"", 0},
        {"\"\xc0\x80\"", 0},         /* overlong NUL */
        {"\"\xc1\xbf\"", 0},         /* overlong */
        {"\"\xe0\x80\xaf\"", 0},     /* overlong '/' */
        {"\"\xf0\x80\x80\xaf\"", 0}, /* overlong '/' */
        {"\"\xed\xa0\x80\"", 0},     /* UTF-8 encoded surrogate */
        {"\"\xf4\x90\x80\x80\"", 0}, /* above U+10FFFF */
        {"\"\xf5\x80\x80\x80\"", 0},
        {"\"\xe2\x82\"", 0}, /* truncated sequence */
        {"\"\xe2\x82", 0},
        {"\"\xc3(\"", 0},
    };
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, rejects_structural_errors)
{
    static const struct json_case cases[] = {
        {"{a:1}", 0},  {"{\"a\" 1}", 0}, {"{\"a\":}", 0}, {"{\"a\"}", 0},  {"{1:2}", 0},
        {"[1}", 0},    {"{\"a\":1]", 0}, {"]", 0},        {"[", 0},        {"{", 0},
        {"{\"a\"", 0}, {"{\"a\":", 0},   {"[1,", 0},      {"/* c */1", 0}, {"{\"a\"::1}", 0},
    };
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, rejects_trailing_garbage)
{
    static const struct json_case cases[] = {
        {"1 2", 0}, {"[] x", 0},      {"\"a\"b", 0}, {"{\"a\":1}}", 0},
        {"1\0", 2}, {"[\"a\"]\0", 6}, {"null,", 0},
    };
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, rejects_non_json_whitespace_and_bytes)
{
    static const struct json_case cases[] = {
        {"\xef\xbb\xbf"
         "1",
         0}, /* BOM */
        {"\xc2\xa0"
         "1",
         0}, /* NBSP */
        {"\f1", 0},
        {"\v1", 0},
        {"\0", 1},
        {"[\"a\"\0]", 6},
    };
    expect_all(cases, NELEM(cases), SIO_EPROTO);
}

Test(json_scan, reports_specific_reasons)
{
    const char *r = NULL;
    sio_json_validate("[1,]", 4, 8, &r);
    cr_assert_str_eq(r, "json: unexpected character");
    sio_json_validate("01", 2, 8, &r);
    cr_assert_str_eq(r, "json: number with leading zero");
    sio_json_validate("\"\x01\"", 3, 8, &r);
    cr_assert_str_eq(r, "json: control character in string");
    sio_json_validate("\"\xff\"", 3, 8, &r);
    cr_assert_str_eq(r, "json: invalid utf-8 in string");
    sio_json_validate("1 x", 3, 8, &r);
    cr_assert_str_eq(r, "json: trailing characters after value");
    sio_json_validate("[[]]", 4, 1, &r);
    cr_assert_str_eq(r, "json: nesting too deep");
}

Test(json_scan, accepts_null_reason_pointer)
{
    cr_assert_eq(sio_json_validate("[", 1, 8, NULL), SIO_EPROTO);
    cr_assert_eq(sio_json_validate(NULL, 0, 8, NULL), SIO_EPROTO);
}

/* n '[' followed by n ']' (closed) or nothing (open), in a heap buffer. */
static char *nested(size_t n, bool closed, char open)
{
    char *s = malloc(2 * n + 1);
    cr_assert_not_null(s);
    memset(s, open, n);
    memset(s + n, open == '[' ? ']' : '}', closed ? n : 0);
    s[closed ? 2 * n : n] = '\0';
    return s;
}

Test(json_scan, enforces_max_depth_exactly)
{
    char *ok = nested(32, true, '[');
    char *deep = nested(33, true, '[');
    cr_assert_eq(validate_guarded(ok, 64, 32, NULL), 0);
    cr_assert_eq(validate_guarded(deep, 66, 32, NULL), SIO_ELIMIT);
    free(ok);
    free(deep);
}

Test(json_scan, depth_zero_allows_only_scalars)
{
    cr_assert_eq(sio_json_validate("1", 1, 0, NULL), 0);
    cr_assert_eq(sio_json_validate("\"[\"", 3, 0, NULL), 0);
    cr_assert_eq(sio_json_validate("[]", 2, 0, NULL), SIO_ELIMIT);
    cr_assert_eq(sio_json_validate("{}", 2, 0, NULL), SIO_ELIMIT);
}

Test(json_scan, counts_objects_and_arrays_in_depth)
{
    const char *s = "{\"a\":[{\"b\":[1]}]}";
    cr_assert_eq(sio_json_validate(s, strlen(s), 4, NULL), 0);
    cr_assert_eq(sio_json_validate(s, strlen(s), 3, NULL), SIO_ELIMIT);
}

Test(json_scan, rejects_ten_thousand_levels_without_crashing)
{
    char *s = nested(10000, true, '[');
    cr_assert_eq(validate_guarded(s, 20000, 32, NULL), SIO_ELIMIT);
    free(s);
}

Test(json_scan, clamps_huge_max_depth_on_one_megabyte_of_brackets)
{
    size_t n = 1u << 20;
    char *s = nested(n, false, '[');
    const char *reason = NULL;
    cr_assert_eq(validate_guarded(s, n, UINT_MAX, &reason), SIO_ELIMIT);
    cr_assert_str_eq(reason, "json: nesting too deep");
    free(s);
    s = nested(n, false, '{');
    cr_assert_eq(validate_guarded(s, n, UINT_MAX, NULL), SIO_EPROTO); /* '{' needs a key */
    free(s);
}

Test(json_scan, allows_exactly_the_depth_cap)
{
    char *ok = nested(SIO_JSON_DEPTH_CAP, true, '[');
    char *deep = nested(SIO_JSON_DEPTH_CAP + 1, true, '[');
    cr_assert_eq(sio_json_validate(ok, 2 * SIO_JSON_DEPTH_CAP, UINT_MAX, NULL), 0);
    cr_assert_eq(sio_json_validate(deep, 2 * SIO_JSON_DEPTH_CAP + 2, UINT_MAX, NULL), SIO_ELIMIT);
    free(ok);
    free(deep);
}

Test(json_scan, tracks_container_kind_across_many_levels)
{
    /* Alternate objects and arrays past one byte of the kind bitset. */
    char buf[512];
    size_t n = 0;
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, i % 2 ? "[" : "{\"k\":");
    buf[n++] = '1';
    for (int i = 19; i >= 0; i--)
        buf[n++] = i % 2 ? ']' : '}';
    cr_assert_eq(sio_json_validate(buf, n, 32, NULL), 0);
    buf[n - 1] = ']'; /* outermost '{' closed by ']' */
    cr_assert_eq(sio_json_validate(buf, n, 32, NULL), SIO_EPROTO);
}

Test(json_scan, every_prefix_of_a_valid_document_fails_cleanly)
{
    const char *s = "{\"a\":[1,-2.5e+3,\"x\\u00e9\\n\xc3\xa9\",true,false,null,{}],\"b\":{}}";
    size_t n = strlen(s);
    cr_assert_eq(validate_guarded(s, n, 32, NULL), 0);
    for (size_t k = 0; k < n; k++) {
        int rc = validate_guarded(s, k, 32, NULL);
        cr_assert(rc == SIO_EPROTO, "prefix %zu gave %d", k, rc);
    }
}

Test(json_scan, type_of_reads_first_significant_byte)
{
    cr_assert_eq(sio_json_type_of(" null", 5), SIO_JSON_NULL);
    cr_assert_eq(sio_json_type_of("false", 5), SIO_JSON_FALSE);
    cr_assert_eq(sio_json_type_of("true", 4), SIO_JSON_TRUE);
    cr_assert_eq(sio_json_type_of("-1", 2), SIO_JSON_NUMBER);
    cr_assert_eq(sio_json_type_of("7", 1), SIO_JSON_NUMBER);
    cr_assert_eq(sio_json_type_of("\n\"s\"", 4), SIO_JSON_STRING);
    cr_assert_eq(sio_json_type_of("[1]", 3), SIO_JSON_ARRAY);
    cr_assert_eq(sio_json_type_of("\t{}", 3), SIO_JSON_OBJECT);
    cr_assert_eq(sio_json_type_of("  ", 2), SIO_JSON_INVALID);
    cr_assert_eq(sio_json_type_of("", 0), SIO_JSON_INVALID);
    cr_assert_eq(sio_json_type_of("x", 1), SIO_JSON_INVALID);
}

static void expect_slice(const char *p, size_t n, const char *want)
{
    cr_assert_eq(n, strlen(want), "got '%.*s', want '%s'", (int)n, p, want);
    cr_assert(memcmp(p, want, n) == 0, "got '%.*s', want '%s'", (int)n, p, want);
}

Test(json_scan, iterates_array_elements_as_exact_slices)
{
    const char *s = " [ \"a\" , 12 ,[1,[2]], {\"k\":\"]\"} ,null ] ";
    sio_json_iter it;
    const char *k = (const char *)1, *v;
    size_t kl = 99, vl;

    cr_assert_eq(sio_json_validate(s, strlen(s), 8, NULL), 0);
    cr_assert_eq(sio_json_iter_init(&it, s, strlen(s)), 0);
    cr_assert_eq(sio_json_iter_next(&it, &k, &kl, &v, &vl), 1);
    cr_assert_null(k);
    cr_assert_eq(kl, 0);
    expect_slice(v, vl, "\"a\"");
    cr_assert_eq(sio_json_iter_next(&it, NULL, NULL, &v, &vl), 1);
    expect_slice(v, vl, "12");
    cr_assert_eq(sio_json_iter_next(&it, NULL, NULL, &v, &vl), 1);
    expect_slice(v, vl, "[1,[2]]");
    cr_assert_eq(sio_json_iter_next(&it, NULL, NULL, &v, &vl), 1);
    expect_slice(v, vl, "{\"k\":\"]\"}");
    cr_assert_eq(sio_json_iter_next(&it, NULL, NULL, &v, &vl), 1);
    expect_slice(v, vl, "null");
    cr_assert_eq(sio_json_iter_next(&it, NULL, NULL, &v, &vl), 0);
    cr_assert_eq(sio_json_iter_next(&it, NULL, NULL, &v, &vl), 0);
}

/* The spans the validator notes are the slices the iterator finds, for any array. */
Test(json_scan, validate_array_locates_the_elements_the_iterator_finds)
{
    static const char *const arrays[] = {
        " [ \"a\" , 12 ,[1,[2]], {\"k\":\"]\"} ,null ] ",
        "[]",
        "[ ]",
        "[[]]",
        "[{},[],\"\",0]",
        "[\"\\\"],\",-1.5e3,true,false]",
        "[\"conversation\",{\"conversation_id\":\"00000000-0000-4000-8000-000000000001\"}]",
        "\t[\n1\r,\n2\n]\n",
    };
    for (size_t a = 0; a < NELEM(arrays); a++) {
        const char *s = arrays[a];
        sio_json_span spans[8];
        size_t count = 99;
        cr_assert_eq(sio_json_validate_array(s, strlen(s), 8, NULL, spans, 8, &count), 0, "%s", s);
        sio_json_iter it;
        const char *v;
        size_t vl, k = 0;
        cr_assert_eq(sio_json_iter_init(&it, s, strlen(s)), 0);
        while (sio_json_iter_next(&it, NULL, NULL, &v, &vl) == 1) {
            cr_assert_lt(k, count, "%s: element %zu not counted", s, k);
            cr_expect_eq(spans[k].off, (size_t)(v - s), "%s: element %zu", s, k);
            cr_expect_eq(spans[k].len, vl, "%s: element %zu", s, k);
            k++;
        }
        cr_expect_eq(count, k, "%s", s);
    }
}

Test(json_scan, validate_array_counts_past_its_capacity_and_only_arrays)
{
    const char *s = "[0,1,2,3,4,5,6,7,8,9]";
    sio_json_span spans[3] = {{0, 0}, {0, 0}, {0, 0}};
    size_t count = 0;
    cr_assert_eq(sio_json_validate_array(s, strlen(s), 8, NULL, spans, 3, &count), 0);
    cr_expect_eq(count, 10);
    for (size_t k = 0; k < 3; k++) {
        cr_expect_eq(spans[k].off, 1 + 2 * k);
        cr_expect_eq(spans[k].len, 1);
    }
    /* Objects and scalars have no elements; their members are not elements. */
    const char *obj = "{\"a\":[1,2],\"b\":3}";
    cr_assert_eq(sio_json_validate_array(obj, strlen(obj), 8, NULL, spans, 3, &count), 0);
    cr_expect_eq(count, 0);
    cr_assert_eq(sio_json_validate_array("\"x\"", 3, 8, NULL, spans, 3, &count), 0);
    cr_expect_eq(count, 0);
    /* Invalid input: the validator's error, and no elements. */
    const char *reason = NULL;
    cr_assert_eq(sio_json_validate_array("[1,2,]", 6, 8, &reason, spans, 3, &count), SIO_EPROTO);
    cr_expect_eq(count, 0);
    cr_expect_not_null(reason);
}

Test(json_scan, iterates_object_members_with_raw_keys)
{
    const char *s = "{\"a\\\"b\" : {\"x\":[]} , \"n\":-1.5,\"s\":\"v,:}\"}";
    sio_json_iter it;
    const char *k, *v;
    size_t kl, vl;

    cr_assert_eq(sio_json_validate(s, strlen(s), 8, NULL), 0);
    cr_assert_eq(sio_json_iter_init(&it, s, strlen(s)), 0);
    cr_assert_eq(sio_json_iter_next(&it, &k, &kl, &v, &vl), 1);
    expect_slice(k, kl, "\"a\\\"b\"");
    expect_slice(v, vl, "{\"x\":[]}");
    cr_assert_eq(sio_json_iter_next(&it, &k, &kl, &v, &vl), 1);
    expect_slice(k, kl, "\"n\"");
    expect_slice(v, vl, "-1.5");
    cr_assert_eq(sio_json_iter_next(&it, &k, &kl, &v, &vl), 1);
    expect_slice(k, kl, "\"s\"");
    expect_slice(v, vl, "\"v,:}\"");
    cr_assert_eq(sio_json_iter_next(&it, &k, &kl, &v, &vl), 0);
}

Test(json_scan, iterates_empty_containers)
{
    sio_json_iter it;
    const char *v;
    size_t vl;
    cr_assert_eq(sio_json_iter_init(&it, "[ ]", 3), 0);
    cr_assert_eq(sio_json_iter_next(&it, NULL, NULL, &v, &vl), 0);
    cr_assert_eq(sio_json_iter_init(&it, "{}", 2), 0);
    cr_assert_eq(it.is_object, 1);
    cr_assert_eq(sio_json_iter_next(&it, NULL, NULL, &v, &vl), 0);
}

Test(json_scan, iter_init_rejects_scalars)
{
    sio_json_iter it;
    cr_assert_eq(sio_json_iter_init(&it, "\"[\"", 3), SIO_EINVAL);
    cr_assert_eq(sio_json_iter_init(&it, "1", 1), SIO_EINVAL);
    cr_assert_eq(sio_json_iter_init(&it, "  ", 2), SIO_EINVAL);
    cr_assert_eq(sio_json_iter_init(&it, "", 0), SIO_EINVAL);
}

Test(json_scan, reader_yields_flat_token_stream)
{
    const char *s = "{\"a\" :[1,\"x\",{}],\"b\":null}";
    static const sio_json_token want[] = {
        SIO_JSON_TOK_BEGIN_OBJECT, SIO_JSON_TOK_KEY,        SIO_JSON_TOK_BEGIN_ARRAY,
        SIO_JSON_TOK_SCALAR,       SIO_JSON_TOK_SCALAR,     SIO_JSON_TOK_BEGIN_OBJECT,
        SIO_JSON_TOK_END_OBJECT,   SIO_JSON_TOK_END_ARRAY,  SIO_JSON_TOK_KEY,
        SIO_JSON_TOK_SCALAR,       SIO_JSON_TOK_END_OBJECT, SIO_JSON_TOK_END,
    };
    static const char *const text[] = {"{", "\"a\"", "[",     "1",    "\"x\"", "{",
                                       "}", "]",     "\"b\"", "null", "}"};
    sio_json_reader r;
    const char *t;
    size_t tl;

    sio_json_reader_init(&r, s, strlen(s));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        sio_json_token kind = sio_json_reader_next(&r, &t, &tl);
        cr_assert_eq(kind, want[i], "token %zu", i);
        if (kind != SIO_JSON_TOK_END)
            expect_slice(t, tl, text[i]);
    }
}

Test(json_scan, reader_stays_in_bounds_on_garbage)
{
    const char *s = "\"unterminated \\";
    const char *g = (const char *)guard_copy(s, strlen(s));
    sio_json_reader r;
    const char *t;
    size_t tl;
    sio_json_reader_init(&r, g, strlen(s));
    cr_assert_eq(sio_json_reader_next(&r, &t, &tl), SIO_JSON_TOK_SCALAR);
    cr_assert_eq(tl, strlen(s));
    cr_assert_eq(sio_json_reader_next(&r, &t, &tl), SIO_JSON_TOK_END);
    guard_free();
}

static void expect_unescape(const char *lit, const char *want, size_t want_len)
{
    char out[64];
    ssize_t n = sio_json_string_unescape(lit, strlen(lit), out, sizeof(out));
    cr_assert_eq(n, (ssize_t)want_len, "unescape %s gave %zd", lit, n);
    cr_assert(memcmp(out, want, want_len) == 0, "unescape %s", lit);
    cr_assert_eq(out[want_len], '\0');
}

Test(json_scan, unescapes_every_escape_form)
{
    expect_unescape("\"\"", "", 0);
    expect_unescape("\"plain\"", "plain", 5);
    expect_unescape("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
    expect_unescape("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
    expect_unescape("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
    expect_unescape("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);
    expect_unescape("\"a\\u0000b\"", "a\0b", 3);
    expect_unescape("\"\xc3\xa9\"", "\xc3\xa9", 2);
}

Test(json_scan, unescapes_lone_surrogates_to_replacement_character)
{
    expect_unescape("\"\\ud800\"", "\xef\xbf\xbd", 3);
    expect_unescape("\"\\udc00x\"", "\xef\xbf\xbdx", 4);
    expect_unescape("\"\\ud800\\u0041\"",
                    "\xef\xbf\xbd"
                    "A",
                    4);
    expect_unescape("\"\\ud800\\ud800\\udc00\"", "\xef\xbf\xbd\xf0\x90\x80\x80", 7);
}

Test(json_scan, unescape_reports_buffer_too_small)
{
    char out[6];
    cr_assert_eq(sio_json_string_unescape("\"hello\"", 7, out, 6), 5);
    cr_assert_str_eq(out, "hello");
    cr_assert_eq(sio_json_string_unescape("\"hello\"", 7, out, 5), SIO_ELIMIT);
    cr_assert_eq(sio_json_string_unescape("\"\"", 2, out, 1), 0);
    cr_assert_eq(sio_json_string_unescape("\"\"", 2, NULL, 0), SIO_ELIMIT);
    /* Without escapes the body is copied whole: exactly fitting, then one byte short. */
    cr_assert_eq(sio_json_string_unescape("\"join_conversation\"", 19, out, 6), SIO_ELIMIT);
    char fit[18];
    cr_assert_eq(sio_json_string_unescape("\"join_conversation\"", 19, fit, 18), 17);
    cr_assert_str_eq(fit, "join_conversation");
    cr_assert_eq(sio_json_string_unescape("\"join_conversation\"", 19, fit, 17), SIO_ELIMIT);
    /* A multi-byte character must fit whole. */
    cr_assert_eq(sio_json_string_unescape("\"ab\\u20ac\"", 10, out, 5), SIO_ELIMIT);
    cr_assert_eq(sio_json_string_unescape("\"ab\\u20ac\"", 10, out, 6), 5);
}

Test(json_scan, unescape_rejects_non_literals)
{
    char out[8];
    cr_assert_eq(sio_json_string_unescape("abc", 3, out, sizeof(out)), SIO_EINVAL);
    cr_assert_eq(sio_json_string_unescape("\"", 1, out, sizeof(out)), SIO_EINVAL);
    cr_assert_eq(sio_json_string_unescape(NULL, 0, out, sizeof(out)), SIO_EINVAL);
}

Test(json_scan, string_eq_decodes_escapes)
{
    cr_assert(sio_json_string_eq("\"\\u0063onnect\"", 14, "connect", 7));
    cr_assert(sio_json_string_eq("\"connect\"", 9, "connect", 7));
    cr_assert(sio_json_string_eq("\"\"", 2, "", 0));
    cr_assert(sio_json_string_eq("\"a\\u0000\"", 9, "a\0", 2));
    cr_assert(sio_json_string_eq("\"\\/\"", 4, "/", 1));
    cr_assert_not(sio_json_string_eq("\"connect\"", 9, "connec", 6));
    cr_assert_not(sio_json_string_eq("\"connec\"", 8, "connect", 7));
    cr_assert_not(sio_json_string_eq("\"Connect\"", 9, "connect", 7));
    cr_assert_not(sio_json_string_eq("connect", 7, "connect", 7));
    cr_assert_not(sio_json_string_eq("\"\\ud800\"", 8, "\xed\xa0\x80", 3));
}

Test(json_scan, parses_safe_unsigned_integers)
{
    uint64_t v = 77;
    cr_assert_eq(sio_json_uint("0", 1, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(sio_json_uint("123", 3, &v), 0);
    cr_assert_eq(v, 123);
    cr_assert_eq(sio_json_uint(" 42 ", 4, &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(sio_json_uint("9007199254740991", 16, &v), 0);
    cr_assert_eq(v, SIO_JSON_MAX_SAFE_INT);
}

Test(json_scan, uint_rejects_non_integers_and_overflow)
{
    uint64_t v = 77;
    cr_assert_eq(sio_json_uint("9007199254740992", 16, &v), SIO_ELIMIT);
    cr_assert_eq(sio_json_uint("99999999999999999999999999", 26, &v), SIO_ELIMIT);
    cr_assert_eq(sio_json_uint("-1", 2, &v), SIO_EPROTO);
    cr_assert_eq(sio_json_uint("-0", 2, &v), SIO_EPROTO);
    cr_assert_eq(sio_json_uint("1.5", 3, &v), SIO_EPROTO);
    cr_assert_eq(sio_json_uint("1.0", 3, &v), SIO_EPROTO);
    cr_assert_eq(sio_json_uint("1e3", 3, &v), SIO_EPROTO);
    cr_assert_eq(sio_json_uint("01", 2, &v), SIO_EPROTO);
    cr_assert_eq(sio_json_uint("\"0\"", 3, &v), SIO_EPROTO);
    cr_assert_eq(sio_json_uint("", 0, &v), SIO_EPROTO);
    cr_assert_eq(sio_json_uint("true", 4, &v), SIO_EPROTO);
    cr_assert_eq(v, 77, "failed parses must not write the output");
}

static void expect_written(const char *in, size_t n, const char *want)
{
    char out[128];
    size_t len = sio_json_write_string(out, sizeof(out), in, n);
    cr_assert_eq(len, strlen(want), "length %zu for %s", len, want);
    cr_assert_str_eq(out, want);
}

Test(json_scan, writes_escaped_string_literals)
{
    expect_written("", 0, "\"\"");
    expect_written("hello", 5, "\"hello\"");
    expect_written("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect_written("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    expect_written("\x01\x1f\0", 3, "\"\\u0001\\u001f\\u0000\"");
    expect_written("/\x7f", 2, "\"/\x7f\"");
    expect_written("\xc3\xa9\xf0\x9f\x98\x80", 6, "\"\xc3\xa9\xf0\x9f\x98\x80\"");
}

Test(json_scan, writes_invalid_utf8_as_replacement_escapes)
{
    expect_written("a\xff"
                   "b",
                   3, "\"a\\ufffdb\"");
    expect_written("\xc3", 1, "\"\\ufffd\"");
    expect_written("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
    expect_written("\xe2\x82"
                   "A",
                   3, "\"\\ufffd\\ufffdA\"");
}

Test(json_scan, write_string_has_snprintf_semantics)
{
    char out[6];
    memset(out, 'X', sizeof(out));
    cr_assert_eq(sio_json_write_string(out, sizeof(out), "abcdef", 6), 8);
    cr_assert_str_eq(out, "\"abcd");
    cr_assert_eq(sio_json_write_string(NULL, 0, "a\nb", 3), 6);
    cr_assert_eq(sio_json_write_string(out, 1, "abc", 3), 5);
    cr_assert_eq(out[0], '\0');
    memset(out, 'X', sizeof(out));
    cr_assert_eq(sio_json_write_string(out, 5, "\x01", 1), 8); /* escape cut mid-way */
    cr_assert_str_eq(out, "\"\\u0");
}

Test(json_scan, nested_string_finds_a_member_of_a_member)
{
    static const char hs[] = "{\"headers\":{\"x-a\":\"1\",\"x-b\":7},\"query\":{\"EIO\":\"4\","
                             "\"t\\u0031\":\"a\\u0062c\"}}";
    char out[8];
    cr_assert_eq(sio_json_nested_string(hs, strlen(hs), "query", "EIO", out, sizeof(out)), 1);
    cr_assert_str_eq(out, "4");
    cr_assert_eq(sio_json_nested_string(hs, strlen(hs), "query", "t1", out, sizeof(out)), 3);
    cr_assert_str_eq(out, "abc");
    cr_assert_eq(sio_json_nested_string(hs, strlen(hs), "headers", "x-a", out, sizeof(out)), 1);
    cr_assert_eq(sio_json_nested_string(hs, strlen(hs), "headers", "x-b", out, sizeof(out)),
                 SIO_ELIMIT); /* not a string */
    cr_assert_eq(sio_json_nested_string(hs, strlen(hs), "query", "x-a", out, sizeof(out)),
                 SIO_ENOTFOUND);
    cr_assert_eq(sio_json_nested_string(hs, strlen(hs), "cookies", "a", out, sizeof(out)),
                 SIO_ENOTFOUND);
    cr_assert_eq(sio_json_nested_string(hs, strlen(hs), "query", "t1", out, 3), SIO_ELIMIT);
    cr_assert_eq(sio_json_nested_string("[1]", 3, "query", "EIO", out, sizeof(out)), SIO_ENOTFOUND);
}

Test(json_scan, written_strings_validate_and_round_trip)
{
    char in[128], lit[1024], back[256];
    for (int i = 0; i < 128; i++)
        in[i] = (char)i; /* every ASCII byte, NUL and controls included */
    size_t n = sio_json_write_string(lit, sizeof(lit), in, sizeof(in));
    cr_assert_lt(n, sizeof(lit));
    cr_assert_eq(sio_json_validate(lit, n, 0, NULL), 0);
    cr_assert_eq(sio_json_string_unescape(lit, n, back, sizeof(back)), 128);
    cr_assert(memcmp(in, back, sizeof(in)) == 0);
    cr_assert(sio_json_string_eq(lit, n, in, sizeof(in)));
}

/* Strings are scanned eight bytes at a time: a byte that ends the fast path (a control byte, a
 * quote, a backslash, the start of a UTF-8 sequence) must be seen at every offset of a block,
 * and strings that end inside, at and after a block boundary must be judged as byte by byte. */
Test(json_scan, strings_around_the_eight_byte_blocks)
{
    char buf[64];
    for (size_t len = 0; len <= 20; len++) {
        for (size_t at = 0; at <= len; at++) {
            static const struct {
                const char *ins;
                int ok;
            } inserts[] = {
                {"", 1},        {"\x01", 0}, {"\x1f", 0},     {"\x7f", 1}, {"\\n", 1},
                {"\\u00e9", 1}, {"\\x", 0},  {"\xc3\xa9", 1}, {"\xc3", 0}, {"\xff", 0},
                {"\\\"", 1},    {"\"", 0},   {" ", 1},        {"~", 1},
            };
            for (size_t k = 0; k < NELEM(inserts); k++) {
                size_t il = strlen(inserts[k].ins), n = 0;
                buf[n++] = '"';
                for (size_t i = 0; i < at; i++)
                    buf[n++] = (char)('a' + i % 26);
                memcpy(buf + n, inserts[k].ins, il);
                n += il;
                for (size_t i = at; i < len; i++)
                    buf[n++] = (char)('A' + i % 26);
                buf[n++] = '"';
                const char *reason = NULL;
                int rc = validate_guarded(buf, n, 32, &reason);
                cr_expect_eq(rc == 0, inserts[k].ok, "len %zu at %zu insert %zu: rc %d (%s)", len,
                             at, k, rc, reason ? reason : "ok");
            }
        }
    }
}
