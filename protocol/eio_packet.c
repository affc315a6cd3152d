/*
 * Engine.IO v4 packet codec (docs/protocol.md §1.5). Strict where the reference parser is loose: it
 * maps any character Number() accepts to a type (even "" and " " become "open"); we take only
 * '0'..'6' and 'b', so garbage is rejected at the edge with a reason instead of turning into an odd
 * packet.
 */
#include "eio_packet.h"

#include <string.h>

#include <sio/error.h>

#include "base64.h"
#include "utf8.h"

static int fail(const char **reason, const char *why)
{
    *reason = why;
    return SIO_EPROTO;
}

/* 'b' + base64 is a binary message; decode it over itself so no buffer is needed. */
static int decode_base64(uint8_t *b64, size_t n, eio_packet *out, const char **reason)
{
    ssize_t dec = sio_base64_decode(b64, (const char *)b64, n);
    if (dec < 0)
        return fail(reason, "invalid base64");
    out->type = EIO_PACKET_MESSAGE;
    out->binary = 1;
    out->data = b64;
    out->len = (size_t)dec;
    return 0;
}

int eio_packet_decode(uint8_t *data, size_t len, int binary_frame, eio_packet *out,
                      const char **reason)
{
    if (binary_frame) {
        out->type = EIO_PACKET_MESSAGE;
        out->binary = 1;
        out->data = data;
        out->len = len;
        return 0;
    }
    if (len == 0)
        return fail(reason, "empty packet");
    if (data[0] == 'b')
        return decode_base64(data + 1, len - 1, out, reason);
    if (data[0] < '0' || data[0] > '0' + EIO_PACKET_NOOP)
        return fail(reason, "unknown packet type");
    if (!sio_utf8_valid(data + 1, len - 1))
        return fail(reason, "invalid utf-8");
    out->type = (eio_packet_type)(data[0] - '0');
    out->binary = 0;
    out->data = data + 1;
    out->len = len - 1;
    return 0;
}

size_t eio_packet_encode_text(uint8_t *out, eio_packet_type t, const uint8_t *data, size_t len)
{
    out[0] = (uint8_t)('0' + t);
    if (len > 0)
        memcpy(out + 1, data, len);
    return 1 + len;
}

size_t eio_packet_encode_base64(uint8_t *out, const uint8_t *data, size_t len)
{
    out[0] = 'b';
    return 1 + sio_base64_encode((char *)out + 1, data, len);
}

const char *eio_packet_type_name(eio_packet_type t)
{
    static const char *const names[] = {"open",    "close",   "ping", "pong",
                                        "message", "upgrade", "noop"};

    if ((unsigned)t >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[t];
}
