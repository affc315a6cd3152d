/* Random bytes from getrandom(2), buffered so an id costs no syscall on average. */
#include "rand.h"

#include <sio/error.h>

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static unsigned char pool[4096];
static size_t pool_left;

int sio_random_bytes(void *buf, size_t n)
{
    unsigned char *out = buf;
    while (n) {
        if (!pool_left) {
            ssize_t got = getrandom(pool, sizeof(pool), 0);
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                return SIO_EIO;
            }
            pool_left = (size_t)got;
        }
        size_t take = n < pool_left ? n : pool_left;
        memcpy(out, pool + sizeof(pool) - pool_left, take);
        /* never hand out the same bytes twice */
        memset(pool + sizeof(pool) - pool_left, 0, take);
        pool_left -= take;
        out += take;
        n -= take;
    }
    return 0;
}

int sio_id_generate(char out[SIO_ID_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[15];
    if (sio_random_bytes(raw, sizeof(raw)) < 0)
        return SIO_EIO;
    for (size_t i = 0, o = 0; i < sizeof(raw); i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    out[SIO_ID_LEN] = 0;
    return 0;
}
