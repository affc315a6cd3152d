/*
 * Socket.IO binary-attachment reassembly (docs/protocol.md §2.5): a BINARY_EVENT or BINARY_ACK
 * header arrives as one text message, its attachments as the next N binary messages. The
 * reassembler decodes every text packet once, checks the header's placeholders, keeps the header
 * while attachments arrive and hands the complete packet back. Sans-I/O: no sockets, no loop, no
 * logging; attachments are opaque handles of the caller, released through its free callback.
 */
#ifndef SIO_BINARY_H
#define SIO_BINARY_H

#include <stddef.h>

#include "sio_packet.h"

/** Hard cap on attachments per packet, whatever the limits say (the encoder's frame size). */
#define SIO_BINARY_MAX_ATTACHMENTS 16

/** Reassembly limits; fill with sio_binary_limits_init() and then override. */
typedef struct sio_binary_limits {
    sio_packet_limits packet; /* header decoding; packet.max_attachments is clamped to the cap */
    size_t max_bytes;         /* attachment bytes of one packet, summed; default 10 MB */
} sio_binary_limits;

/** Sets sio_packet_limits_init() defaults and max_bytes = 10 000 000 (10 attachments of 1 MB). */
void sio_binary_limits_init(sio_binary_limits *l);

/** Releases one attachment handle given to sio_binary_feed_attachment(). */
typedef void (*sio_binary_free_cb)(void *part);

/**
 * A complete binary packet, or the one being assembled. Owns text (the header's bytes, which
 * pkt's slices point into) and every handle in parts[0..nparts), in arrival order, so parts[k] is
 * the attachment of placeholder num k. Release with sio_binary_msg_deinit().
 */
typedef struct sio_binary_msg {
    sio_packet pkt;
    char *text;
    void *parts[SIO_BINARY_MAX_ATTACHMENTS];
    size_t nparts;
    size_t bytes; /* sum of the attachments' lengths */
} sio_binary_msg;

/** Frees msg->text and passes every part to free_part (if not NULL); msg is then empty. */
void sio_binary_msg_deinit(sio_binary_msg *msg, sio_binary_free_cb free_part);

/**
 * The reassembler of one connection. lim is borrowed and must outlive it (one limits struct is
 * usually shared by every connection); pend is the header waiting for attachments, or NULL, so
 * an idle reassembler holds no memory.
 */
typedef struct sio_binary {
    const sio_binary_limits *lim;
    sio_binary_free_cb free_part;
    sio_binary_msg *pend;
} sio_binary;

/** Initialises r with borrowed limits (NULL: the defaults) and the parts' free callback. */
void sio_binary_init(sio_binary *r, const sio_binary_limits *lim, sio_binary_free_cb free_part);

/** Drops a pending header and its attachments. r can be fed again afterwards. */
void sio_binary_deinit(sio_binary *r);

/** True while a header waits for attachments. */
static inline int sio_binary_is_pending(const sio_binary *r)
{
    return r->pend != NULL;
}

/**
 * Feeds one text message (the Engine.IO message data without its '4') and decodes it once.
 *   - 0: a packet without attachments; *out is filled, its slices borrow p.
 *   - SIO_EINCOMPLETE: a BINARY_* header whose placeholders are valid; it is copied and kept, the
 *     attachments are fed next. *out was used as scratch: its contents mean nothing.
 *   - SIO_EPROTO / SIO_ELIMIT: sio_packet_decode() refused it; or a text message arrived while
 *     attachments are awaited; or a placeholder (an object whose last "_placeholder" member is
 *     true) has a "num" that is missing or not an integer, out of [0, attachments), or equal to
 *     another's; or an attachment has no placeholder. *reason is set to a static string and any
 *     pending header is dropped; *out means nothing.
 *   - SIO_ENOMEM: the header could not be copied.
 * Borrows p; reason may be NULL.
 */
int sio_binary_feed_text(sio_binary *r, const char *p, size_t n, sio_packet *out,
                         const char **reason);

/**
 * Feeds one binary message: takes part (an opaque handle of len bytes) in every case, and
 * releases it through the free callback when it is refused.
 *   - SIO_EINCOMPLETE: stored; more attachments are expected.
 *   - 0: it was the last one; the complete packet is moved into *out (caller storage, to be
 *     released with sio_binary_msg_deinit()) and r is idle again, so r may be freed while *out is
 *     in use.
 *   - SIO_EPROTO: no header is pending; SIO_ELIMIT: the attachments of this packet exceed
 *     lim->max_bytes (the pending header is dropped). *reason is set.
 */
int sio_binary_feed_attachment(sio_binary *r, void *part, size_t len, sio_binary_msg *out,
                               const char **reason);

#endif
