/* Fuzz target: the chunked-body decoder, fed the input whole and then byte by byte; both must
 * agree on the result and the decoded bytes, and never write past the sink's bound. */
#include "http_chunked.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sink {
    uint8_t out[1024];
    size_t len;
} sink;

static int collect(void *user, const uint8_t *data, size_t len)
{
    sink *k = user;
    if (k->len + len > sizeof(k->out))
        return 1;
    memcpy(k->out + k->len, data, len);
    k->len += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sink a, b;
    sio_chunked d;
    size_t used = 0;
    a.len = b.len = 0;
    sio_chunked_init(&d);
    int whole = sio_chunked_feed(&d, data, size, &used, collect, &a, NULL);
    sio_chunked_init(&d);
    int bytewise = 0;
    for (size_t i = 0; i < size && bytewise == 0; i++)
        bytewise = sio_chunked_feed(&d, data + i, 1, NULL, collect, &b, NULL);
    if (whole != bytewise || a.len != b.len || memcmp(a.out, b.out, a.len))
        abort();
    if (whole == 1 && used > size)
        abort();
    return 0;
}
