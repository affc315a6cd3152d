/*
 * libFuzzer target for the binary-attachment reassembler. The input is a sequence of messages
 * separated by 0x1E, as in a polling payload: one starting with 'b' is an attachment (the bytes
 * after the 'b'), any other is a text packet. Limits are small so SIO_ELIMIT paths are reachable.
 * Checks: results are documented codes with a reason, a complete packet has exactly its
 * attachments in order, and every attachment handed in is released exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "sio_binary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct part {
    size_t seq; /* order of arrival over the whole input */
    size_t len;
} part;

static size_t live;

static void part_free(void *p)
{
    if (live == 0)
        abort();
    live--;
    free(p);
}

static void check_msg(const sio_binary_msg *m, size_t first_seq)
{
    if (m->nparts != m->pkt.attachments || m->nparts == 0 || m->nparts > SIO_BINARY_MAX_ATTACHMENTS)
        abort();
    if (m->pkt.type != SIO_PACKET_BINARY_EVENT && m->pkt.type != SIO_PACKET_BINARY_ACK)
        abort();
    size_t bytes = 0;
    for (size_t i = 0; i < m->nparts; i++) {
        const part *p = m->parts[i];
        if (p->seq != first_seq + i)
            abort();
        bytes += p->len;
    }
    if (bytes != m->bytes || m->pkt.data == NULL || m->pkt.data < m->text)
        abort();
}

static void feed(sio_binary *r, const char *msg, size_t n, size_t *seq, size_t *first_seq)
{
    const char *why = NULL;
    int rc;

    if (n > 0 && msg[0] == 'b') {
        part *p = malloc(sizeof(*p));
        if (p == NULL)
            abort();
        *p = (part){.seq = (*seq)++, .len = n - 1};
        live++;
        sio_binary_msg m;
        rc = sio_binary_feed_attachment(r, p, n - 1, &m, &why);
        if (rc == 0) {
            check_msg(&m, *first_seq);
            sio_binary_msg_deinit(&m, part_free);
        } else if (rc != SIO_EINCOMPLETE && !((rc == SIO_EPROTO || rc == SIO_ELIMIT) && why)) {
            abort();
        }
        return;
    }
    sio_packet pk;
    bool was_pending = sio_binary_is_pending(r);
    rc = sio_binary_feed_text(r, msg, n, &pk, &why);
    if (rc == 0) {
        if (pk.attachments != 0 || sio_binary_is_pending(r))
            abort();
    } else if (rc == SIO_EINCOMPLETE) {
        if (was_pending || !sio_binary_is_pending(r))
            abort();
        *first_seq = *seq;
    } else if ((rc != SIO_EPROTO && rc != SIO_ELIMIT && rc != SIO_ENOMEM) || why == NULL ||
               sio_binary_is_pending(r)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sio_binary_limits lim;
    sio_binary r;
    size_t seq = 0, first_seq = 0;

    sio_binary_limits_init(&lim);
    lim.max_bytes = 64;
    sio_binary_init(&r, &lim, part_free);
    /* Each message gets an exact-size copy so ASan flags any read past its end. */
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != 0x1e)
            continue;
        size_t n = i - start;
        char *msg = malloc(n ? n : 1);
        if (msg == NULL)
            abort();
        if (n > 0)
            memcpy(msg, data + start, n);
        feed(&r, msg, n, &seq, &first_seq);
        free(msg);
        start = i + 1;
    }
    sio_binary_deinit(&r);
    if (live != 0)
        abort();
    return 0;
}
