/*
 * Binary-attachment reassembly (docs/protocol.md §2.5). The reference client numbers each binary
 * value 0..N-1 in order, once; we insist on exactly that, which is stricter than the reference
 * server (it accepts a num used twice or an attachment never referenced, docs/protocol.md §4).
 * Allocates only while a header waits; never logs.
 */
#include "sio_binary.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "json_scan.h"

void sio_binary_limits_init(sio_binary_limits *l)
{
    sio_packet_limits_init(&l->packet);
    l->max_bytes = 10000000;
}

void sio_binary_msg_deinit(sio_binary_msg *msg, sio_binary_free_cb free_part)
{
    for (size_t i = 0; i < msg->nparts; i++)
        if (free_part != NULL)
            free_part(msg->parts[i]);
    free(msg->text);
    memset(msg, 0, sizeof(*msg));
}

void sio_binary_init(sio_binary *r, const sio_binary_limits *lim, sio_binary_free_cb free_part)
{
    static sio_binary_limits defaults;
    static bool defaults_set;

    if (lim == NULL) {
        if (!defaults_set) {
            sio_binary_limits_init(&defaults);
            defaults_set = true;
        }
        lim = &defaults;
    }
    r->lim = lim;
    r->free_part = free_part;
    r->pend = NULL;
}

void sio_binary_deinit(sio_binary *r)
{
    if (r->pend == NULL)
        return;
    sio_binary_msg_deinit(r->pend, r->free_part);
    free(r->pend);
    r->pend = NULL;
}

static int fail(const char **reason, int err, const char *why)
{
    if (reason != NULL)
        *reason = why;
    return err;
}

/* ---- placeholders ------------------------------------------------------------------------- */

/* What one object level has seen so far. JSON.parse keeps the last of duplicate keys, so a later
 * "_placeholder" or "num" member overrides an earlier one. */
enum num_state { NUM_ABSENT, NUM_BAD, NUM_OK };

typedef struct level {
    bool flag; /* the last "_placeholder" member was literally true */
    unsigned char num_state;
    uint64_t num;
} level;

enum member { MEMBER_OTHER, MEMBER_PLACEHOLDER, MEMBER_NUM };

static enum member classify_key(const char *k, size_t kl)
{
    if (sio_json_string_eq(k, kl, "_placeholder", 12))
        return MEMBER_PLACEHOLDER;
    if (sio_json_string_eq(k, kl, "num", 3))
        return MEMBER_NUM;
    return MEMBER_OTHER;
}

static void note_member(level *lv, enum member m, sio_json_token kind, const char *t, size_t tl)
{
    if (m == MEMBER_PLACEHOLDER) {
        lv->flag = kind == SIO_JSON_TOK_SCALAR && tl == 4 && memcmp(t, "true", 4) == 0;
    } else if (m == MEMBER_NUM) {
        bool ok = kind == SIO_JSON_TOK_SCALAR && sio_json_uint(t, tl, &lv->num) == 0;
        lv->num_state = ok ? NUM_OK : NUM_BAD;
    }
}

/* Closes one object: a placeholder claims its attachment in *seen. */
static int close_level(const level *lv, unsigned attachments, uint32_t *seen, const char **reason)
{
    if (!lv->flag)
        return 0;
    if (lv->num_state != NUM_OK)
        return fail(reason, SIO_EPROTO,
                    "illegal attachments: placeholder num missing or not an integer");
    if (lv->num >= attachments)
        return fail(reason, SIO_EPROTO, "illegal attachments: placeholder num out of range");
    if (*seen & (UINT32_C(1) << lv->num))
        return fail(reason, SIO_EPROTO, "illegal attachments: duplicate placeholder num");
    *seen |= UINT32_C(1) << lv->num;
    return 0;
}

/* One flat pass over the validated payload. Unlike the reference, which only looks at the
 * objects it walks into, placeholders nested inside a placeholder object are checked too. */
static int check_placeholders(const char *data, size_t len, unsigned attachments,
                              const char **reason)
{
    level lvl[SIO_JSON_DEPTH_CAP];
    unsigned depth = 0;
    uint32_t seen = 0;
    enum member pending = MEMBER_OTHER;
    sio_json_reader jr;
    sio_json_token kind;
    const char *t;
    size_t tl;

    sio_json_reader_init(&jr, data, len);
    while ((kind = sio_json_reader_next(&jr, &t, &tl)) != SIO_JSON_TOK_END) {
        if (kind == SIO_JSON_TOK_KEY) {
            pending = classify_key(t, tl);
            continue;
        }
        if (pending != MEMBER_OTHER && depth > 0)
            note_member(&lvl[depth - 1], pending, kind, t, tl);
        pending = MEMBER_OTHER;
        if (kind == SIO_JSON_TOK_BEGIN_OBJECT || kind == SIO_JSON_TOK_BEGIN_ARRAY) {
            if (depth == SIO_JSON_DEPTH_CAP) /* unreachable after validation */
                return fail(reason, SIO_ELIMIT, "json: nesting too deep");
            lvl[depth++] = (level){0};
        } else if ((kind == SIO_JSON_TOK_END_OBJECT || kind == SIO_JSON_TOK_END_ARRAY) &&
                   depth > 0) {
            int rc = close_level(&lvl[--depth], attachments, &seen, reason);
            if (rc != 0)
                return rc;
        }
    }
    if (seen != (UINT32_C(1) << attachments) - 1)
        return fail(reason, SIO_EPROTO, "illegal attachments: an attachment has no placeholder");
    return 0;
}

/* ---- feeding ------------------------------------------------------------------------------ */

/* Moves a slice of p[0..n) to the same offset in copy; other pointers (the static root
 * namespace, NULL) are left alone. */
static const char *rebase(const char *s, const char *p, size_t n, const char *copy)
{
    if (s == NULL || s < p || s > p + n)
        return s;
    return copy + (s - p);
}

static int keep_header(sio_binary *r, const char *p, size_t n, const sio_packet *pk)
{
    sio_binary_msg *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return SIO_ENOMEM;
    m->text = malloc(n ? n : 1);
    if (m->text == NULL) {
        free(m);
        return SIO_ENOMEM;
    }
    if (n > 0)
        memcpy(m->text, p, n);
    m->pkt = *pk;
    m->pkt.nsp = rebase(pk->nsp, p, n, m->text);
    m->pkt.data = rebase(pk->data, p, n, m->text);
    m->pkt.event = rebase(pk->event, p, n, m->text);
    r->pend = m;
    return 0;
}

int sio_binary_feed_text(sio_binary *r, const char *p, size_t n, sio_packet *out,
                         const char **reason)
{
    const sio_packet_limits *pl = &r->lim->packet;
    sio_packet_limits capped;
    const char *why = NULL;
    int rc;

    if (r->pend != NULL) {
        sio_binary_deinit(r);
        return fail(reason, SIO_EPROTO, "text packet while binary attachments are pending");
    }
    if (pl->max_attachments > SIO_BINARY_MAX_ATTACHMENTS) {
        capped = *pl;
        capped.max_attachments = SIO_BINARY_MAX_ATTACHMENTS;
        pl = &capped;
    }
    rc = sio_packet_decode(p, n, pl, out, &why);
    if (rc == 0 && out->attachments > 0)
        rc = check_placeholders(out->data, out->data_len, out->attachments, &why);
    if (rc != 0)
        return fail(reason, rc, why);
    if (out->attachments == 0)
        return 0;
    rc = keep_header(r, p, n, out);
    if (rc != 0)
        return fail(reason, rc, "out of memory");
    return SIO_EINCOMPLETE;
}

int sio_binary_feed_attachment(sio_binary *r, void *part, size_t len, sio_binary_msg *out,
                               const char **reason)
{
    sio_binary_msg *m = r->pend;

    if (m == NULL) {
        if (r->free_part != NULL)
            r->free_part(part);
        return fail(reason, SIO_EPROTO, "binary attachment without a packet");
    }
    if (len > r->lim->max_bytes - m->bytes) {
        if (r->free_part != NULL)
            r->free_part(part);
        sio_binary_deinit(r);
        return fail(reason, SIO_ELIMIT, "attachments too large");
    }
    m->parts[m->nparts++] = part;
    m->bytes += len;
    if (m->nparts < m->pkt.attachments)
        return SIO_EINCOMPLETE;
    *out = *m; /* the slices point into m->text, which moves with it */
    free(m);
    r->pend = NULL;
    return 0;
}
