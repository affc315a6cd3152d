/*
 * libFuzzer target for sio_packet_decode, with the default limits (small enough that the
 * SIO_ELIMIT paths are reachable). A decoded packet must lie inside the input, satisfy the
 * documented invariants and survive encode_header + payload -> decode with the same fields.
 */
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "json_scan.h"
#include "sio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const char *s, size_t n, const char *buf, size_t len)
{
    return s == NULL ? n == 0 : s >= buf && n <= len && s - buf <= (ptrdiff_t)(len - n);
}

static void check_invariants(const sio_packet *pk, const char *buf, size_t len,
                             const sio_packet_limits *lim)
{
    bool binary = pk->type == SIO_PACKET_BINARY_EVENT || pk->type == SIO_PACKET_BINARY_ACK;

    if (pk->type > SIO_PACKET_BINARY_ACK || pk->nsp_len == 0 || pk->nsp[0] != '/' ||
        pk->nsp_len > lim->max_nsp_len || memchr(pk->nsp, ',', pk->nsp_len) != NULL)
        abort();
    if (!(pk->nsp_len == 1 || inside(pk->nsp, pk->nsp_len, buf, len)) ||
        !inside(pk->data, pk->data_len, buf, len) || !inside(pk->event, pk->event_len, buf, len))
        abort();
    if (pk->id < -1 || pk->id > (int64_t)SIO_JSON_MAX_SAFE_INT)
        abort();
    if (binary != (pk->attachments > 0) || pk->attachments > lim->max_attachments)
        abort();
    if (pk->data != NULL && sio_json_validate(pk->data, pk->data_len, lim->max_json_depth, NULL))
        abort();
    if ((pk->type == SIO_PACKET_EVENT || pk->type == SIO_PACKET_BINARY_EVENT) !=
        (pk->event != NULL))
        abort();
}

static void check_round_trip(const sio_packet *a, const sio_packet_limits *lim)
{
    size_t hlen =
        sio_packet_encode_header(NULL, 0, a->type, a->nsp, a->nsp_len, a->id, a->attachments);
    char *buf = malloc(hlen + 1 + a->data_len);
    sio_packet b;
    const char *reason = NULL;

    if (buf == NULL)
        abort();
    if (sio_packet_encode_header(buf, hlen + 1, a->type, a->nsp, a->nsp_len, a->id,
                                 a->attachments) != hlen)
        abort();
    if (a->data_len > 0)
        memcpy(buf + hlen, a->data, a->data_len);
    if (sio_packet_decode(buf, hlen + a->data_len, lim, &b, &reason) != 0)
        abort();
    if (a->type != b.type || a->id != b.id || a->attachments != b.attachments ||
        a->nsp_len != b.nsp_len || memcmp(a->nsp, b.nsp, a->nsp_len) != 0 ||
        a->data_len != b.data_len || (a->data_len && memcmp(a->data, b.data, a->data_len)) ||
        a->event_len != b.event_len || (a->event_len && memcmp(a->event, b.event, a->event_len)))
        abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sio_packet_limits lim;
    sio_packet pk;
    const char *reason = NULL;

    sio_packet_limits_init(&lim);
    /* Exact-size copy so ASan flags any read past the end. */
    size_t len = size;
    char *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return 0;
    if (len > 0)
        memcpy(buf, data, len);
    int rc = sio_packet_decode(buf, len, &lim, &pk, &reason);
    if (rc == 0) {
        check_invariants(&pk, buf, len, &lim);
        check_round_trip(&pk, &lim);
    } else if ((rc != SIO_EPROTO && rc != SIO_ELIMIT) || reason == NULL) {
        abort();
    }
    free(buf);
    return 0;
}
