/*
 * libFuzzer target for json_scan. Validates the input; for valid values walks every token with
 * the reader and the iterator and checks that string helpers agree: unescape, string_eq and
 * write_string must round-trip, numbers parse or fail cleanly.
 */
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *lit, size_t n)
{
    /* Unescaping never grows a literal: each escape is longer than the UTF-8 it stands for. */
    char *out = malloc(n + 1);
    if (out == NULL)
        abort();
    ssize_t len = sio_json_string_unescape(lit, n, out, n + 1);
    if (len < 0 || (size_t)len > n || out[len] != '\0')
        abort();
    if (!sio_json_string_eq(lit, n, out, (size_t)len))
        abort();
    if (len > 0 && (sio_json_string_eq(lit, n, out, (size_t)len - 1) ||
                    sio_json_string_unescape(lit, n, out, (size_t)len) != SIO_ELIMIT))
        abort();
    sio_json_string_unescape(lit, n, out, n + 1);
    /* The unescaped text is valid UTF-8, so writing it back gives an equal literal. */
    size_t wl = sio_json_write_string(NULL, 0, out, (size_t)len);
    char *again = malloc(wl + 1);
    if (again == NULL || sio_json_write_string(again, wl + 1, out, (size_t)len) != wl)
        abort();
    if (sio_json_validate(again, wl, 0, NULL) != 0 ||
        !sio_json_string_eq(again, wl, out, (size_t)len))
        abort();
    free(again);
    free(out);
}

static void check_scalar(const char *t, size_t n)
{
    uint64_t v;
    sio_json_type type = sio_json_type_of(t, n);

    if (type == SIO_JSON_STRING)
        check_string(t, n);
    else if (type == SIO_JSON_NUMBER)
        (void)sio_json_uint(t, n, &v);
    else if (type == SIO_JSON_INVALID || type == SIO_JSON_ARRAY || type == SIO_JSON_OBJECT)
        abort();
}

/* Every member the iterator yields must itself validate. */
static void check_members(const char *p, size_t n)
{
    sio_json_iter it;
    const char *k, *v;
    size_t kl, vl;

    if (sio_json_iter_init(&it, p, n) != 0)
        return;
    while (sio_json_iter_next(&it, &k, &kl, &v, &vl)) {
        if (sio_json_validate(v, vl, SIO_JSON_DEPTH_CAP, NULL) != 0)
            abort();
        if (it.is_object && (k == NULL || sio_json_validate(k, kl, 0, NULL) != 0))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    const char *reason = NULL, *t;
    size_t tl;
    sio_json_reader r;
    sio_json_token kind;
    long depth = 0;

    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    int rc = sio_json_validate(buf, size, 16, &reason);
    if (rc != 0) {
        if ((rc != SIO_EPROTO && rc != SIO_ELIMIT) || reason == NULL)
            abort();
        /* The reader must stay in bounds on anything. */
        sio_json_reader_init(&r, buf, size);
        while (sio_json_reader_next(&r, &t, &tl) != SIO_JSON_TOK_END)
            ;
        free(buf);
        return 0;
    }
    check_members(buf, size);
    sio_json_reader_init(&r, buf, size);
    while ((kind = sio_json_reader_next(&r, &t, &tl)) != SIO_JSON_TOK_END) {
        if (kind == SIO_JSON_TOK_BEGIN_ARRAY || kind == SIO_JSON_TOK_BEGIN_OBJECT)
            depth++;
        else if (kind == SIO_JSON_TOK_END_ARRAY || kind == SIO_JSON_TOK_END_OBJECT)
            depth--;
        else
            check_scalar(t, tl);
        if (depth < 0 || depth > 16)
            abort();
    }
    if (depth != 0)
        abort();
    free(buf);
    return 0;
}
