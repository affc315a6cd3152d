/*
 * Unit tests for protocol/utf8: boundary code points, every ill-formed class of Unicode table 3-7,
 * and exhaustive checks of all code points and all 1-3 byte sequences against a slow reference.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "guard.h"
#include "utf8.h"

#define BYTES(s) s, sizeof(s) - 1

struct text {
    char s[24];
    size_t len;
};

static void fini(void)
{
    guard_free();
}

TestSuite(utf8, .fini = fini);

static bool valid_guarded(const void *p, size_t n)
{
    return sio_utf8_valid(guard_copy(p, n), n);
}

ParameterizedTestParameters(utf8, accepts_well_formed_text)
{
    static struct text cases[] = {
        {BYTES("")},
        {BYTES("hello")},
        {BYTES("\0")},              /* U+0000 is a character like any other */
        {BYTES("a\0b\0c\0d\0e\0")}, /* NULs across the 8-byte fast path */
        {BYTES("\x7f")},            /* last ASCII */
        {BYTES("\xc2\x80")},        /* U+0080, first 2-byte */
        {BYTES("\xc3\xa9")},        /* e acute */
        {BYTES("\xdf\xbf")},        /* U+07FF, last 2-byte */
        {BYTES("\xe0\xa0\x80")},    /* U+0800, first 3-byte */
        {BYTES("\xe2\x82\xac")},    /* euro sign */
        {BYTES("\xed\x9f\xbf")},    /* U+D7FF, just below the surrogates */
        {BYTES("\xee\x80\x80")},    /* U+E000, just above them */
        {BYTES("\xef\xbf\xbf")},    /* U+FFFF, a noncharacter but well-formed */
        {BYTES("\xef\xbb\xbf"
               "bom")},              /* a BOM is data, not an error */
        {BYTES("\xf0\x90\x80\x80")}, /* U+10000, first 4-byte */
        {BYTES("\xf0\x9f\x98\x80")}, /* an emoji */
        {BYTES("\xf4\x8f\xbf\xbf")}, /* U+10FFFF, the last code point */
        {BYTES("{\"a\":\"\xe2\x82\xac\"}")},
        {BYTES("0123456789abcdef\xc3\xa9")}, /* multibyte after two fast-path words */
    };
    return cr_make_param_array(struct text, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct text *t, utf8, accepts_well_formed_text)
{
    cr_assert(valid_guarded(t->s, t->len));
}

ParameterizedTestParameters(utf8, rejects_ill_formed_text)
{
    static struct text cases[] = {
        {BYTES("\x80")}, /* lone continuation bytes */
        {BYTES("\xbf")},
        {BYTES("a\x80")},
        {BYTES("\xc3\xa9\xa9")},             /* one continuation too many */
        {BYTES("\xc0\x80")},                 /* overlong NUL */
        {BYTES("\xc0\xaf")},                 /* overlong '/' */
        {BYTES("\xc1\xbf")},                 /* overlong U+007F */
        {BYTES("\xe0\x80\x80")},             /* overlong 3-byte */
        {BYTES("\xe0\x9f\xbf")},             /* overlong U+07FF */
        {BYTES("\xf0\x80\x80\x80")},         /* overlong 4-byte */
        {BYTES("\xf0\x8f\xbf\xbf")},         /* overlong U+FFFF */
        {BYTES("\xed\xa0\x80")},             /* U+D800, first high surrogate */
        {BYTES("\xed\xbf\xbf")},             /* U+DFFF, last low surrogate */
        {BYTES("\xed\xa0\xbd\xed\xb8\x80")}, /* CESU-8 surrogate pair */
        {BYTES("\xf4\x90\x80\x80")},         /* U+110000 */
        {BYTES("\xf5\x80\x80\x80")},         /* lead bytes that cannot occur */
        {BYTES("\xf8\x88\x80\x80\x80")},
        {BYTES("\xfc\x84\x80\x80\x80\x80")},
        {BYTES("\xfe")},
        {BYTES("\xff")},
        {BYTES("\xc3")}, /* truncated by the end of input */
        {BYTES("\xe2\x82")},
        {BYTES("\xf0\x9f\x98")},
        {BYTES("0123456789abcdef\xe2\x82")}, /* truncated after the fast path */
        {BYTES("\xc3\x28")},                 /* continuation replaced by ASCII */
        {BYTES("\xe2\x28\xa1")},
        {BYTES("\xe2\x82\x28")},
        {BYTES("\xf0\x28\x8c\xbc")},
        {BYTES("\xf0\x90\x28\xbc")},
        {BYTES("\xf0\x90\x8c\x28")},
        {BYTES("\xc3\xc3\xa9")}, /* lead byte where a continuation belongs */
    };
    return cr_make_param_array(struct text, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct text *t, utf8, rejects_ill_formed_text)
{
    cr_assert_not(valid_guarded(t->s, t->len));
}

/* Straightforward encoder for the exhaustive tests. */
static size_t encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

Test(utf8, accepts_every_scalar_value_and_rejects_every_surrogate)
{
    uint8_t buf[4];

    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        size_t n = encode(cp, buf);
        bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
        if (sio_utf8_valid(buf, n) == surrogate)
            cr_assert_fail("wrong verdict on U+%04X", (unsigned)cp);
    }
}

/* Reference decoder written the other way round: decode bits first, then check the value. Returns
 * the length of the valid sequence at p, or 0. */
static size_t reference_seq(const uint8_t *p, size_t n)
{
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xe0) == 0xc0 ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};

    if (len == 0 || len > n)
        return 0;
    uint32_t cp = len == 1 ? p[0] : p[0] & (0x7f >> len);
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static bool reference_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0, k; i < n; i += k) {
        if ((k = reference_seq(p + i, n - i)) == 0)
            return false;
    }
    return true;
}

Test(utf8, agrees_with_reference_on_all_sequences_up_to_three_bytes)
{
    uint8_t b[3];

    for (uint32_t v = 0; v < (1u << 24); v++) {
        b[0] = (uint8_t)(v >> 16);
        b[1] = (uint8_t)(v >> 8);
        b[2] = (uint8_t)v;
        /* each length is exercised by its own slice of the same counter */
        size_t n = v < 256 ? 1 : v < 65536 ? 2 : 3;
        const uint8_t *p = b + 3 - n;
        /* plain compare first: a Criterion assert per input would dominate the run time */
        if (sio_utf8_valid(p, n) != reference_valid(p, n))
            cr_assert_fail("disagree on %06X len %zu", (unsigned)v, n);
    }
}

Test(utf8, agrees_with_reference_on_four_byte_sequences)
{
    static const uint8_t tails[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0, 0xff};
    uint8_t b[4];

    for (uint32_t v = 0; v < (1u << 16); v++) {
        b[0] = (uint8_t)(v >> 8);
        b[1] = (uint8_t)v;
        for (size_t i = 0; i < sizeof(tails); i++) {
            for (size_t j = 0; j < sizeof(tails); j++) {
                b[2] = tails[i];
                b[3] = tails[j];
                if (sio_utf8_valid(b, 4) != reference_valid(b, 4))
                    cr_assert_fail("disagree on %02X%02X%02X%02X", b[0], b[1], b[2], b[3]);
            }
        }
    }
}

Test(utf8, rejects_every_truncation_of_a_multibyte_sequence)
{
    static const char *const seqs[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};

    for (size_t s = 0; s < 3; s++) {
        size_t n = strlen(seqs[s]);
        for (size_t cut = 1; cut < n; cut++)
            cr_assert_not(valid_guarded(seqs[s], cut), "seq %zu cut %zu", s, cut);
    }
}

Test(utf8, checks_multibyte_text_at_every_alignment)
{
    char buf[40];

    /* Places a 3-byte character, then a bad byte, at each offset around the 8-byte words. */
    for (size_t off = 0; off < 24; off++) {
        memset(buf, 'a', sizeof(buf));
        memcpy(buf + off, "\xe2\x82\xac", 3);
        cr_assert(valid_guarded(buf, sizeof(buf)), "offset %zu", off);
        buf[off + 3] = (char)0x80;
        cr_assert_not(valid_guarded(buf, sizeof(buf)), "offset %zu", off);
        cr_assert_not(valid_guarded(buf, off + 2), "truncated at offset %zu", off);
        guard_free();
    }
}
