/* Chunked request bodies (protocol/http_chunked.h): every split of the input decodes the same,
 * each malformed shape is refused with its reason, and bounds hold. */
#include "http_chunked.h"

#include <sio/error.h>

#include <criterion/criterion.h>

#include <string.h>

typedef struct sink {
    char out[4096];
    size_t len, cap;
} sink;

static int collect(void *user, const uint8_t *data, size_t len)
{
    sink *k = user;
    if (k->len + len > k->cap)
        return 1;
    memcpy(k->out + k->len, data, len);
    k->len += len;
    return 0;
}

/* Feeds text in pieces of `step` bytes; returns the last result and the decoded text. */
static int feed_steps(const char *text, size_t step, sink *k, size_t *used_total,
                      const char **reason)
{
    sio_chunked d;
    sio_chunked_init(&d);
    size_t n = strlen(text), off = 0;
    int rc = 0;
    *used_total = 0;
    while (off < n) {
        size_t piece = n - off < step ? n - off : step, used = 0;
        rc = sio_chunked_feed(&d, (const uint8_t *)text + off, piece, &used, collect, k, reason);
        *used_total += rc == 1 ? used : piece;
        if (rc != 0)
            break;
        off += piece;
    }
    return rc;
}

Test(http_chunked, decodes_any_split)
{
    const char *body =
        "6;ext=1\r\n42[\"me\r\n10\r\nssage\",\"chunked\"\r\n1\r\n]\r\n0\r\nX-T: 1\r\n\r\n";
    for (size_t step = 1; step <= strlen(body); step++) {
        sink k = {.cap = sizeof(k.out)};
        size_t used;
        const char *reason = NULL;
        int rc = feed_steps(body, step, &k, &used, &reason);
        cr_assert_eq(rc, 1, "step %zu: rc %d (%s)", step, rc, reason ? reason : "");
        cr_assert_eq(k.len, 23);
        cr_assert(!memcmp(k.out, "42[\"message\",\"chunked\"]", 23));
        cr_assert_eq(used, strlen(body));
    }
}

Test(http_chunked, leaves_bytes_after_the_end)
{
    const char *in = "2\r\n40\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    sio_chunked d;
    sio_chunked_init(&d);
    sink k = {.cap = sizeof(k.out)};
    size_t used = 0;
    cr_assert_eq(sio_chunked_feed(&d, (const uint8_t *)in, strlen(in), &used, collect, &k, NULL),
                 1);
    cr_assert_eq(used, 12);
    cr_assert_eq(k.len, 2);
}

Test(http_chunked, empty_body_and_uppercase_hex)
{
    sink k = {.cap = sizeof(k.out)};
    size_t used;
    cr_assert_eq(feed_steps("0\r\n\r\n", 5, &k, &used, NULL), 1);
    cr_assert_eq(k.len, 0);
    sink k2 = {.cap = sizeof(k2.out)};
    cr_assert_eq(feed_steps("A\r\n0123456789\r\n0\r\n\r\n", 3, &k2, &used, NULL), 1);
    cr_assert_eq(k2.len, 10);
}

static void refused(const char *in, const char *why)
{
    sink k = {.cap = sizeof(k.out)};
    size_t used;
    const char *reason = NULL;
    int rc = feed_steps(in, strlen(in), &k, &used, &reason);
    cr_assert_eq(rc, SIO_EPROTO, "%s: rc %d", in, rc);
    cr_assert_str_eq(reason, why);
}

Test(http_chunked, malformed)
{
    refused("zz\r\n40\r\n0\r\n\r\n", "invalid chunk size");
    refused("\r\n", "invalid chunk size");
    refused(";x\r\n", "invalid chunk size");
    refused("2 \r\n40\r\n", "invalid chunk size");
    refused("2\n40\r\n", "invalid chunk size");
    refused("2\rx40", "missing CRLF");
    refused("2\r\n40xx", "missing CRLF");
    refused("2\r\n40\rx", "missing CRLF");
    refused("0\r\n\rx", "missing CRLF");
    refused("2;a\x01\r\n", "invalid chunk extension");
    refused("11111111111111111\r\n", "chunk size too large");
}

Test(http_chunked, bounds)
{
    char line[SIO_CHUNKED_MAX_LINE + 16];
    memset(line, 'a', sizeof(line) - 1);
    line[0] = '1';
    line[1] = ';';
    line[sizeof(line) - 1] = 0;
    refused(line, "chunk line too long");
    char trailer[SIO_CHUNKED_MAX_TRAILER + 64] = "0\r\n";
    for (size_t i = 3; i < sizeof(trailer) - 1; i++)
        trailer[i] = (i % 10 == 0) ? '\n' : ((i % 10 == 9) ? '\r' : 'x');
    trailer[sizeof(trailer) - 1] = 0;
    refused(trailer, "trailer too large");
}

Test(http_chunked, sink_refusal_is_a_limit)
{
    sink k = {.cap = 3};
    size_t used;
    cr_assert_eq(feed_steps("5\r\nhello\r\n0\r\n\r\n", 64, &k, &used, NULL), SIO_ELIMIT);
}
