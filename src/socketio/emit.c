/*
 * Encoding and delivery (docs/protocol.md §2.1, §2.4-2.5): a packet is encoded once into an
 * sio_frame (text + attachments) whose buffers every recipient's out-queue shares; events and
 * acks in both directions; broadcasts over the room index with except and de-duplication by
 * generation stamp; the event-argument accessors.
 */
#include "internal.h"

#include "adapter/adapter.h"

#include "common/log.h"
#include "json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t packets_encoded;

size_t sio_stats_packets_encoded(void)
{
    return packets_encoded;
}

/* ---- frames ------------------------------------------------------------------------------- */

void sio_frame_release(sio_frame *f)
{
    sio_buf_unref(f->text);
    for (size_t i = 0; i < f->nbins; i++)
        sio_buf_unref(f->bins[i]);
    f->text = NULL;
    f->nbins = 0;
}

static size_t header(char *out, size_t cap, sio_packet_type type, const char *nsp, int64_t id,
                     unsigned att)
{
    if (!strcmp(nsp, "/"))
        nsp = "";
    return sio_packet_encode_header(out, cap, type, nsp[0] ? nsp : "/", nsp[0] ? strlen(nsp) : 1,
                                    id, att);
}

int sio_frame_encode_raw(sio_frame *f, sio_packet_type type, const char *nsp, int64_t id,
                         const char *json, size_t json_len)
{
    char hdr[600];
    memset(f, 0, sizeof(*f));
    size_t hn = header(hdr, sizeof(hdr), type, nsp, id, 0);
    if (hn >= sizeof(hdr))
        return SIO_EINVAL;
    f->text = sio_buf_new(1 + hn + json_len);
    if (!f->text)
        return SIO_ENOMEM;
    unsigned char *p = sio_buf_data(f->text);
    p[0] = '4';
    memcpy(p + 1, hdr, hn);
    if (json_len)
        memcpy(p + 1 + hn, json, json_len);
    packets_encoded++;
    return 0;
}

/* Checks args (a JSON array or NULL) and returns its inner text (between the brackets). */
static int args_inner(const char *args, size_t len, const char **inner, size_t *inner_len)
{
    *inner = "";
    *inner_len = 0;
    if (!args)
        return 0;
    const char *reason;
    if (sio_json_validate(args, len, 64, &reason) < 0 ||
        sio_json_type_of(args, len) != SIO_JSON_ARRAY)
        return SIO_EINVAL;
    const char *open = memchr(args, '[', len);
    const char *close = args + len;
    while (close > open && *--close != ']')
        ;
    *inner = open + 1;
    *inner_len = (size_t)(close - open - 1);
    while (*inner_len && (**inner == ' ' || **inner == '\n' || **inner == '\t' || **inner == '\r'))
        (*inner)++, (*inner_len)--;
    return 0;
}

/* Encodes an EVENT (event != NULL) or ACK with arguments and attachments, switching to the
 * BINARY_ variant when there are attachments. */
int sio_frame_encode(sio_frame *f, sio_packet_type type, const char *nsp, int64_t id,
                     const char *event, const char *args, size_t args_len, const sio_bin *bins,
                     size_t nbins)
{
    memset(f, 0, sizeof(*f));
    if (nbins > sizeof(f->bins) / sizeof(f->bins[0]))
        return SIO_ELIMIT;
    const char *inner;
    size_t inner_len;
    if (args_inner(args, args_len, &inner, &inner_len) < 0)
        return SIO_EINVAL;
    if (nbins)
        type = type == SIO_PACKET_EVENT ? SIO_PACKET_BINARY_EVENT : SIO_PACKET_BINARY_ACK;
    char hdr[600];
    size_t hn = header(hdr, sizeof(hdr), type, nsp, id, (unsigned)nbins);
    if (hn >= sizeof(hdr))
        return SIO_EINVAL;
    size_t elen = event ? strlen(event) : 0;
    size_t cap = 1 + hn + 2 + (event ? elen * 6 + 3 : 0) + inner_len + 1;
    f->text = sio_buf_new(cap);
    if (!f->text)
        return SIO_ENOMEM;
    char *p = (char *)sio_buf_data(f->text);
    size_t n = 0;
    p[n++] = '4';
    memcpy(p + n, hdr, hn);
    n += hn;
    p[n++] = '[';
    if (event)
        n += sio_json_write_string(p + n, cap - n, event, elen);
    if (event && inner_len)
        p[n++] = ',';
    memcpy(p + n, inner, inner_len);
    n += inner_len;
    p[n++] = ']';
    f->text->len = (uint32_t)n;
    for (size_t i = 0; i < nbins; i++) {
        f->bins[i] = sio_buf_from(bins[i].data, bins[i].len);
        if (!f->bins[i]) {
            sio_frame_release(f);
            return SIO_ENOMEM;
        }
        f->bins[i]->binary = 1;
        f->nbins++;
    }
    packets_encoded++;
    return 0;
}

int sio_client_send(sio_client *c, const sio_frame *f, int flags)
{
    if (c->closed || !eio_session_is_open(c->eio))
        return SIO_ECLOSED;
    if ((flags & SIO_EMIT_VOLATILE) && !eio_session_is_writable(c->eio))
        return 0; /* volatile: dropped, as Node does when the transport is busy */
    int rc = eio_session_send(c->eio, f->text);
    for (size_t i = 0; rc == 0 && i < f->nbins; i++)
        rc = eio_session_send(c->eio, f->bins[i]);
    return rc;
}

/* ---- arguments ---------------------------------------------------------------------------- */

int sio_args_init(sio_args *a, const char *data, size_t len, size_t first, sio_buf *const *bins,
                  size_t nbins)
{
    memset(a, 0, sizeof(*a));
    a->data = data ? data : "[]";
    a->data_len = data ? len : 2;
    a->first = first;
    a->bins = bins;
    a->nbins = nbins;
    sio_json_iter it;
    if (sio_json_iter_init(&it, a->data, a->data_len) < 0)
        return SIO_EINVAL;
    const char *k, *v;
    size_t kn, vn, idx = 0;
    while (sio_json_iter_next(&it, &k, &kn, &v, &vn) == 1) {
        if (idx++ < first)
            continue;
        if (a->argc < sizeof(a->argv) / sizeof(a->argv[0])) {
            a->argv[a->argc].p = v;
            a->argv[a->argc].n = vn;
        }
        a->argc++;
    }
    return 0;
}

void sio_args_deinit(sio_args *a)
{
    free(a->array);
}

size_t sio_args_count(const sio_args *a)
{
    return a->argc;
}

const char *sio_args_json(const sio_args *a, size_t i, size_t *len)
{
    if (i >= a->argc || i >= sizeof(a->argv) / sizeof(a->argv[0]))
        return NULL;
    *len = a->argv[i].n;
    return a->argv[i].p;
}

const char *sio_args_array(const sio_args *a, size_t *len)
{
    if (a->first == 0) {
        *len = a->data_len;
        return a->data;
    }
    sio_args *m = (sio_args *)(uintptr_t)a; /* lazily cached: logically const */
    if (!m->array) {
        const char *start = a->argc ? a->argv[0].p : NULL;
        const char *end = a->data + a->data_len;
        while (end > a->data && end[-1] != ']')
            end--;
        size_t inner = start ? (size_t)(end - 1 - start) : 0;
        m->array = malloc(inner + 3);
        if (!m->array)
            return NULL;
        m->array[0] = '[';
        if (inner)
            memcpy(m->array + 1, start, inner);
        m->array[inner + 1] = ']';
        m->array[inner + 2] = 0;
        m->array_len = inner + 2;
    }
    *len = m->array_len;
    return m->array;
}

long sio_args_string(const sio_args *a, size_t i, char *buf, size_t cap)
{
    size_t n;
    const char *v = sio_args_json(a, i, &n);
    if (!v || sio_json_type_of(v, n) != SIO_JSON_STRING)
        return SIO_EINVAL;
    ssize_t r = sio_json_string_unescape(v, n, buf, cap);
    return r < 0 ? SIO_ELIMIT : (long)r;
}

int sio_args_int(const sio_args *a, size_t i, long long *out)
{
    size_t n;
    const char *v = sio_args_json(a, i, &n);
    if (!v || sio_json_type_of(v, n) != SIO_JSON_NUMBER)
        return SIO_EINVAL;
    char tmp[32];
    if (n >= sizeof(tmp))
        return SIO_EINVAL;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    char *end;
    long long x = strtoll(tmp, &end, 10);
    if (*end)
        return SIO_EINVAL;
    *out = x;
    return 0;
}

size_t sio_args_binary_count(const sio_args *a)
{
    return a->nbins;
}

const void *sio_args_binary(const sio_args *a, size_t n, size_t *len)
{
    if (n >= a->nbins)
        return NULL;
    *len = a->bins[n]->len;
    return sio_buf_data(a->bins[n]);
}

int sio_args_binary_index(const sio_args *a, size_t i)
{
    size_t n;
    const char *v = sio_args_json(a, i, &n);
    if (!v || sio_json_type_of(v, n) != SIO_JSON_OBJECT)
        return -1;
    sio_json_iter it;
    const char *k, *val;
    size_t kn, vn;
    int is_ph = 0;
    uint64_t num = UINT64_MAX;
    sio_json_iter_init(&it, v, n);
    while (sio_json_iter_next(&it, &k, &kn, &val, &vn) == 1) {
        if (sio_json_string_eq(k, kn, "_placeholder", 12))
            is_ph = vn == 4 && !memcmp(val, "true", 4);
        else if (sio_json_string_eq(k, kn, "num", 3))
            sio_json_uint(val, vn, &num);
    }
    return is_ph && num < a->nbins ? (int)num : -1;
}

/* ---- acks from clients -------------------------------------------------------------------- */

/* While its handler runs the dispatcher owns the ack (answering only marks it done); after, a
 * retained ack belongs to the application until it is answered or freed. */
struct sio_ack {
    sio_namespace *nsp;
    char sid[SIO_ID_LEN + 1];
    int64_t id;
    int retained;
    int in_handler;
    int done;
};

/* An ack holds its namespace (a dynamic one is not removed under it). */
static void ack_free(sio_ack *ack)
{
    sio_nsp_release(ack->nsp);
    free(ack);
}

sio_ack *sio_ack_retain(sio_ack *ack)
{
    ack->retained = 1;
    return ack;
}

void sio_ack_free(sio_ack *ack)
{
    if (ack->in_handler)
        ack->done = 1;
    else
        ack_free(ack);
}

int sio_ack_send(sio_ack *ack, const char *args_json, const sio_bin *bins, size_t nbins)
{
    sio_socket *s = sio_map_get(&ack->nsp->sockets, ack->sid, SIO_ID_LEN);
    int rc = SIO_ECLOSED;
    if (ack->done) {
        rc = SIO_EINVAL; /* answered twice: acks are single-shot */
    } else if (s && s->client) {
        sio_frame f;
        rc = sio_frame_encode(&f, SIO_PACKET_ACK, s->nsp->name, ack->id, NULL, args_json,
                              args_json ? strlen(args_json) : 0, bins, nbins);
        if (rc == 0) {
            rc = sio_client_send(s->client, &f, 0);
            sio_frame_release(&f);
        }
    }
    ack->done = 1;
    if (!ack->in_handler)
        ack_free(ack);
    return rc;
}

/* ---- acks to clients (server -> client) ----------------------------------------------------- */

typedef struct bcast_ack {
    sio_namespace *nsp;
    sio_broadcast_ack_cb cb;
    void *user;
    size_t parts;   /* pending acks still pointing here (memory) */
    size_t waiting; /* recipients yet to answer (completion) */
    size_t got;
    sio_args **responses;
    struct event *timer;
    int done;
} bcast_ack;

struct sio_pending_ack {
    sio_pending_ack *next;
    sio_socket *s;
    uint64_t id;
    sio_ack_cb cb; /* single-socket ack */
    void *user;
    bcast_ack *bc; /* or part of a broadcast */
    struct event *timer;
};

static void bcast_maybe_free(bcast_ack *bc)
{
    if (!bc->done || bc->parts)
        return;
    for (size_t i = 0; i < bc->got; i++) {
        sio_args *a = bc->responses[i];
        for (size_t b = 0; b < a->nbins; b++)
            sio_buf_unref((sio_buf *)a->bins[b]);
        free((void *)a->bins);
        free((char *)a->data);
        sio_args_deinit(a);
        free(a);
    }
    free(bc->responses);
    if (bc->timer)
        event_free(bc->timer);
    sio_nsp_release(bc->nsp);
    free(bc);
}

/* Runs the callback once: all answered (0) or timed out. */
static void bcast_finish(bcast_ack *bc, int status)
{
    if (bc->done)
        return;
    bc->done = 1;
    if (bc->timer)
        evtimer_del(bc->timer);
    bc->cb(bc->nsp, status, (const sio_args *const *)bc->responses, bc->got, bc->user);
}

/* One recipient is done with (answered, or left); answer may be NULL. */
static void bcast_part_done(bcast_ack *bc, sio_args *answer)
{
    bc->parts--;
    if (!bc->done) {
        if (answer && bc->responses)
            bc->responses[bc->got++] = answer;
        else if (answer)
            answer = NULL;
        if (--bc->waiting == 0)
            bcast_finish(bc, 0);
    }
    bcast_maybe_free(bc);
}

static void unlink_ack(sio_socket *s, sio_pending_ack *pa)
{
    for (sio_pending_ack **pp = &s->acks; *pp; pp = &(*pp)->next) {
        if (*pp == pa) {
            *pp = pa->next;
            return;
        }
    }
}

static void pending_free(sio_pending_ack *pa)
{
    if (pa->timer)
        event_free(pa->timer);
    free(pa);
}

static void ack_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    sio_pending_ack *pa = arg;
    sio_socket *s = pa->s;
    unlink_ack(s, pa);
    s->nsp->srv->ack_timeouts++;
    sio_socket_ref(s);
    pa->cb(s, SIO_ETIMEDOUT, NULL, pa->user);
    sio_socket_unref(s);
    sio_socket_unref(s); /* the pending ack's reference */
    pending_free(pa);
}

static void bcast_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    bcast_ack *bc = arg;
    bc->nsp->srv->ack_timeouts++;
    bcast_finish(bc, SIO_ETIMEDOUT);
    bcast_maybe_free(bc);
}

/* Keeps a copy of an ack's arguments for the broadcast callback (the packet buffer goes away). */
static sio_args *args_copy(const char *data, size_t len, sio_buf *const *bins, size_t nbins)
{
    sio_args *a = malloc(sizeof(*a));
    char *d = malloc(len + 1);
    sio_buf **b = nbins ? malloc(nbins * sizeof(*b)) : NULL;
    if (!a || !d || (nbins && !b)) {
        free(a);
        free(d);
        free(b);
        return NULL;
    }
    if (len)
        memcpy(d, data, len);
    d[len] = 0;
    for (size_t i = 0; i < nbins; i++)
        b[i] = sio_buf_ref(bins[i]);
    sio_args_init(a, d, len, 0, b, nbins);
    return a;
}

static void on_ack_packet(sio_socket *s, const sio_packet *p, sio_buf *const *bins, size_t nbins)
{
    sio_pending_ack *pa = s->acks;
    while (pa && pa->id != (uint64_t)p->id)
        pa = pa->next;
    if (!pa)
        return; /* unknown or already answered: ignored, as Node does */
    unlink_ack(s, pa);
    if (pa->bc) {
        bcast_ack *bc = pa->bc;
        sio_args *a = bc->done ? NULL : args_copy(p->data, p->data_len, bins, nbins);
        pending_free(pa);
        bcast_part_done(bc, a);
        sio_socket_unref(s);
        return;
    }
    if (pa->timer)
        evtimer_del(pa->timer);
    sio_args args;
    sio_args_init(&args, p->data, p->data_len, 0, bins, nbins);
    pa->cb(s, 0, &args, pa->user);
    sio_args_deinit(&args);
    sio_socket_unref(s);
    pending_free(pa);
}

void sio_socket_fail_acks(sio_socket *s)
{
    while (s->acks) {
        sio_pending_ack *pa = s->acks;
        s->acks = pa->next;
        if (pa->bc) {
            /* a recipient that left will never answer: stop waiting for it */
            bcast_part_done(pa->bc, NULL);
        } else {
            if (pa->timer)
                evtimer_del(pa->timer);
            pa->cb(NULL, SIO_ECLOSED, NULL, pa->user);
        }
        sio_socket_unref(s);
        pending_free(pa);
    }
}

static sio_pending_ack *pending_new(sio_socket *s, uint64_t id)
{
    sio_pending_ack *pa = calloc(1, sizeof(*pa));
    if (!pa)
        return NULL;
    pa->s = s;
    pa->id = id;
    sio_socket_ref(s);
    pa->next = s->acks;
    s->acks = pa;
    return pa;
}

/* ---- events from clients ------------------------------------------------------------------ */

void sio_socket_on_packet(sio_socket *s, const sio_packet *p, sio_buf *const *bins, size_t nbins)
{
    if (p->type == SIO_PACKET_ACK || p->type == SIO_PACKET_BINARY_ACK) {
        on_ack_packet(s, p, bins, nbins);
        return;
    }
    char name[256];
    ssize_t nlen = p->event_len && p->event[0] == '"'
                       ? sio_json_string_unescape(p->event, p->event_len, name, sizeof(name))
                       : -1;
    if (nlen < 0) { /* numeric or very long names reach only the catch-all handler */
        size_t n = p->event_len < sizeof(name) - 1 ? p->event_len : sizeof(name) - 1;
        if (n)
            memcpy(name, p->event, n);
        name[n] = 0;
    }
    handler *h = nlen >= 0 ? sio_map_get(&s->nsp->handlers, name, (size_t)nlen) : NULL;
    if (!h || !h->cb)
        h = s->nsp->any.cb ? &s->nsp->any : NULL;
    if (!h)
        return;
    sio_ack *ack = NULL;
    if (p->id >= 0) {
        ack = calloc(1, sizeof(*ack));
        if (ack) {
            ack->nsp = s->nsp;
            sio_nsp_hold(ack->nsp);
            memcpy(ack->sid, s->id, sizeof(ack->sid));
            ack->id = p->id;
            ack->in_handler = 1;
        }
    }
    sio_args args;
    sio_args_init(&args, p->data, p->data_len, 1, bins, nbins);
    sio_socket_ref(s);
    h->cb(s, name, &args, ack, h->user);
    sio_socket_unref(s);
    sio_args_deinit(&args);
    /* an ack the handler neither answered nor kept is dropped */
    if (ack) {
        ack->in_handler = 0;
        if (!ack->retained || ack->done)
            ack_free(ack);
    }
}

/* ---- emitting ----------------------------------------------------------------------------- */

static int check_event(const char *event)
{
    return event && !sio_packet_event_is_reserved(event, strlen(event)) ? 0 : SIO_EINVAL;
}

int sio_socket_emit(sio_socket *s, const char *event, const char *args_json, const sio_bin *bins,
                    size_t nbins, int flags)
{
    if (!s->connected || !s->client)
        return SIO_ECLOSED;
    if (check_event(event) < 0)
        return SIO_EINVAL;
    sio_frame f;
    int rc = sio_frame_encode(&f, SIO_PACKET_EVENT, s->nsp->name, -1, event, args_json,
                              args_json ? strlen(args_json) : 0, bins, nbins);
    if (rc < 0)
        return rc;
    rc = sio_client_send(s->client, &f, flags);
    sio_frame_release(&f);
    return rc;
}

int sio_socket_emit_ack(sio_socket *s, const char *event, const char *args_json,
                        const sio_bin *bins, size_t nbins, unsigned timeout_ms, sio_ack_cb cb,
                        void *user)
{
    if (!s->connected || !s->client)
        return SIO_ECLOSED;
    if (check_event(event) < 0 || !cb)
        return SIO_EINVAL;
    uint64_t id = s->nsp->next_ack_id++;
    sio_frame f;
    int rc = sio_frame_encode(&f, SIO_PACKET_EVENT, s->nsp->name, (int64_t)id, event, args_json,
                              args_json ? strlen(args_json) : 0, bins, nbins);
    if (rc < 0)
        return rc;
    /* Send first: a failed send may close the socket, and then the callback must not run
     * (error XOR callback); the answer cannot arrive before we register below. */
    sio_socket_ref(s);
    rc = sio_client_send(s->client, &f, 0);
    sio_frame_release(&f);
    sio_pending_ack *pa = NULL;
    if (rc == 0 && s->connected) {
        pa = pending_new(s, id);
        rc = pa ? 0 : SIO_ENOMEM;
    } else if (rc == 0) {
        rc = SIO_ECLOSED;
    }
    if (pa) {
        pa->cb = cb;
        pa->user = user;
        if (timeout_ms) {
            pa->timer = evtimer_new(s->nsp->srv->base, ack_timeout_cb, pa);
            struct timeval tv = {.tv_sec = timeout_ms / 1000,
                                 .tv_usec = (timeout_ms % 1000) * 1000};
            if (pa->timer)
                evtimer_add(pa->timer, &tv);
        }
    }
    sio_socket_unref(s);
    return rc;
}

typedef struct send_ctx {
    const sio_frame *f;
    int flags;
    bcast_ack *bc;
    uint64_t id;
} send_ctx;

static int send_one(sio_socket *s, void *arg)
{
    send_ctx *ctx = arg;
    if (!s->client)
        return -1;
    if (ctx->bc) {
        sio_pending_ack *pa = pending_new(s, ctx->id);
        if (!pa)
            return -1;
        pa->bc = ctx->bc;
        ctx->bc->parts++;
        ctx->bc->waiting++;
    }
    return sio_client_send(s->client, ctx->f, ctx->flags) < 0 ? -1 : 0;
}

long sio_namespace_emit(sio_namespace *nsp, const sio_target *to, const char *event,
                        const char *args_json, const sio_bin *bins, size_t nbins)
{
    if (check_event(event) < 0)
        return SIO_EINVAL;
    sio_frame f;
    int rc = sio_frame_encode(&f, SIO_PACKET_EVENT, nsp->name, -1, event, args_json,
                              args_json ? strlen(args_json) : 0, bins, nbins);
    if (rc < 0)
        return rc;
    send_ctx ctx = {&f, to ? to->flags : 0, NULL, 0};
    nsp->srv->broadcasts++;
    long n = nsp->adapter->ops->broadcast(nsp->adapter, &f, to, send_one, &ctx);
    sio_frame_release(&f);
    return n;
}

long sio_namespace_emit_ack(sio_namespace *nsp, const sio_target *to, const char *event,
                            const char *args_json, const sio_bin *bins, size_t nbins,
                            unsigned timeout_ms, sio_broadcast_ack_cb cb, void *user)
{
    if (check_event(event) < 0 || !cb)
        return SIO_EINVAL;
    uint64_t id = nsp->next_ack_id++;
    sio_frame f;
    int rc = sio_frame_encode(&f, SIO_PACKET_EVENT, nsp->name, (int64_t)id, event, args_json,
                              args_json ? strlen(args_json) : 0, bins, nbins);
    if (rc < 0)
        return rc;
    bcast_ack *bc = calloc(1, sizeof(*bc));
    if (!bc) {
        sio_frame_release(&f);
        return SIO_ENOMEM;
    }
    bc->nsp = nsp;
    sio_nsp_hold(nsp);
    bc->cb = cb;
    bc->user = user;
    send_ctx ctx = {&f, to ? to->flags : 0, bc, id};
    nsp->srv->broadcasts++;
    long n = nsp->adapter->ops->broadcast_with_ack(nsp->adapter, &f, to, send_one, &ctx, NULL);
    sio_frame_release(&f);
    /* answers arrive from the network, never during the sends above */
    bc->responses = calloc(bc->waiting ? bc->waiting : 1, sizeof(*bc->responses));
    if (bc->waiting == 0) {
        bcast_finish(bc, 0); /* nobody to wait for */
    } else if (timeout_ms) {
        bc->timer = evtimer_new(nsp->srv->base, bcast_timeout_cb, bc);
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        if (bc->timer)
            evtimer_add(bc->timer, &tv);
    }
    bcast_maybe_free(bc);
    return n;
}

long sio_namespace_sockets_join(sio_namespace *nsp, const sio_target *to, const char *room)
{
    return nsp->adapter->ops->add_sockets(nsp->adapter, to, room);
}

long sio_namespace_sockets_leave(sio_namespace *nsp, const sio_target *to, const char *room)
{
    return nsp->adapter->ops->del_sockets(nsp->adapter, to, room);
}

long sio_namespace_disconnect_sockets(sio_namespace *nsp, const sio_target *to, int close)
{
    return nsp->adapter->ops->disconnect_sockets(nsp->adapter, to, close);
}

typedef struct fetch_ctx {
    sio_socket **v;
    size_t n, cap;
} fetch_ctx;

static int fetch_one(sio_socket *s, void *arg)
{
    fetch_ctx *c = arg;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        sio_socket **v = realloc(c->v, cap * sizeof(*v));
        if (!v)
            return -1;
        c->v = v;
        c->cap = cap;
    }
    sio_socket_ref(s);
    c->v[c->n++] = s;
    return 0;
}

long sio_namespace_fetch_sockets(sio_namespace *nsp, const sio_target *to,
                                 void (*fn)(sio_socket *s, void *user), void *user)
{
    fetch_ctx c = {0};
    nsp->adapter->ops->apply(nsp->adapter, to, fetch_one, &c);
    for (size_t i = 0; i < c.n; i++) {
        fn(c.v[i], user);
        sio_socket_unref(c.v[i]);
    }
    free(c.v);
    return (long)c.n;
}
