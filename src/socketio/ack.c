/*
 * Acknowledgements in both directions (docs/protocol.md §2.4): acks a client asked for (answered
 * by the application, now or later), acks the server asked a client for (one socket, with a
 * timeout), broadcasts with acks that wait for local recipients and for the other servers of a
 * cluster (their recipient counts, then each answer), and acks of server-side events from other
 * servers (answered through the adapter). Incoming EVENT packets are dispatched here too.
 */
#include "internal.h"

#include "common/array.h"
#include "common/list.h"

#include "json_scan.h"

#include <stdlib.h>
#include <string.h>

/* ---- acks the application answers --------------------------------------------------------- */

/* While its handler runs the dispatcher owns the ack (answering only marks it done); after, a
 * retained ack belongs to the application until it is answered or freed. A remote ack answers a
 * server-side event of another server (requester and request_id set). */
struct sio_ack {
    sio_namespace *nsp;
    char sid[SIO_ID_LEN + 1];
    int64_t id;
    const char *requester; /* remote: in text */
    const char *request_id;
    int retained;
    int in_handler;
    int done;
    char text[]; /* remote: requester and request_id, allocated with the ack */
};

/* An ack holds its namespace (a dynamic one is not removed under it). */
static void ack_free(sio_ack *ack)
{
    sio_nsp_release(ack->nsp);
    free(ack);
}

/* A new ack with text bytes of text after it. */
static sio_ack *ack_new(sio_namespace *nsp, size_t text)
{
    sio_ack *ack = calloc(1, sizeof(*ack) + text);
    if (!ack)
        return NULL;
    ack->nsp = nsp;
    sio_nsp_hold(nsp);
    ack->in_handler = 1;
    return ack;
}

sio_ack *sio_ack_new_remote(sio_namespace *nsp, const char *requester, const char *request_id)
{
    if (!requester)
        requester = "";
    size_t lr = strlen(requester) + 1, li = strlen(request_id) + 1;
    sio_ack *ack = ack_new(nsp, lr + li);
    if (ack) {
        ack->requester = memcpy(ack->text, requester, lr);
        ack->request_id = memcpy(ack->text + lr, request_id, li);
    }
    return ack;
}

/* The handler returned: an ack it neither answered nor kept is dropped. */
void sio_ack_handler_done(sio_ack *ack)
{
    if (!ack)
        return;
    ack->in_handler = 0;
    if (!ack->retained || ack->done)
        ack_free(ack);
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

static int ack_send_client(sio_ack *ack, const char *args_json, const sio_bin *bins, size_t nbins)
{
    sio_socket *s = sio_map_get(&ack->nsp->sockets, ack->sid, SIO_ID_LEN);
    if (!s || !s->client)
        return SIO_ECLOSED;
    sio_frame f;
    int rc = sio_frame_encode(ack->nsp->io, &f, SIO_PACKET_ACK, s->nsp->name, ack->id, NULL,
                              args_json, args_json ? strlen(args_json) : 0, bins, nbins, 0);
    if (rc == 0) {
        rc = sio_client_send(s->client, &f, 0);
        sio_frame_release(&f);
    }
    return rc;
}

int sio_ack_send(sio_ack *ack, const char *args_json, const sio_bin *bins, size_t nbins)
{
    int rc;
    if (ack->done) {
        rc = SIO_EINVAL; /* answered twice: acks are single-shot */
    } else if (ack->request_id) {
        const char *reason;
        size_t len = args_json ? strlen(args_json) : 2;
        if (args_json && (sio_json_validate(args_json, len, 64, &reason) < 0 ||
                          sio_json_type_of(args_json, len) != SIO_JSON_ARRAY)) {
            rc = SIO_EINVAL;
        } else {
            sio_cluster_reply(ack->nsp, SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE, ack->requester,
                              ack->request_id, args_json ? args_json : "[]", len, bins, nbins);
            rc = 0;
        }
    } else {
        rc = ack_send_client(ack, args_json, bins, nbins);
    }
    ack->done = 1;
    if (!ack->in_handler)
        ack_free(ack);
    return rc;
}

/* ---- broadcasts with acks ----------------------------------------------------------------- */

/* Completion (Node's BroadcastOperator.emit with an ack): every local recipient answered or
 * left, every other server reported its recipient count, and that many remote answers came.
 * refs: local parts still pointing here, plus one while the broadcast is being started. */
struct bcast_ack {
    sio_namespace *nsp;
    sio_broadcast_ack_cb cb;
    void *user;
    size_t refs;
    size_t local_waiting;
    size_t servers_expected; /* other servers; SIZE_MAX until the server count is known */
    size_t servers_counted;
    uint64_t remote_expected, remote_got;
    sio_args **responses;
    size_t got, cap;
    sio_timer *timer;
    unsigned timeout_ms;
    int started;
    int done;
    cluster_req *req; /* the cluster request routing remote answers here, if any */
    void (*each)(const sio_args *answer, void *user); /* answers passed on, not kept */
    bcast_ack *prev, *next; /* in io->bcasts until done, so shutdown can fail it */
};

bcast_ack *sio_bcast_new(sio_namespace *nsp, sio_broadcast_ack_cb cb, void *user)
{
    bcast_ack *bc = calloc(1, sizeof(*bc));
    if (!bc)
        return NULL;
    bc->nsp = nsp;
    sio_nsp_hold(nsp);
    bc->cb = cb;
    bc->user = user;
    bc->refs = 1;
    bc->servers_expected = SIZE_MAX;
    SIO_LIST_PUSH(nsp->io->bcasts, bc);
    return bc;
}

static void bcast_unlink(bcast_ack *bc)
{
    SIO_LIST_UNLINK(bc->nsp->io->bcasts, bc);
}

static void bcast_unref(bcast_ack *bc)
{
    if (--bc->refs || !bc->done)
        return;
    sio_args_free_all(bc->responses, bc->got);
    sio_timer_free(bc->timer);
    sio_nsp_release(bc->nsp);
    free(bc);
}

/* Runs the callback once: all answered (0), timed out, or shut down. */
static void bcast_finish(bcast_ack *bc, int status)
{
    if (bc->done)
        return;
    bc->done = 1;
    bcast_unlink(bc);
    bc->refs++; /* the callback may free the namespace's last socket, and with it a part */
    if (bc->timer)
        sio_timer_stop(bc->timer);
    if (bc->req)
        sio_cluster_req_detach(bc->req);
    bc->req = NULL;
    bc->cb(bc->nsp, status, (const sio_args *const *)bc->responses, bc->got, bc->user);
    bcast_unref(bc);
}

static void bcast_check(void *arg)
{
    bcast_ack *bc = arg;
    if (bc->done || !bc->started || bc->local_waiting)
        return;
    if (bc->servers_expected == SIZE_MAX || bc->servers_counted < bc->servers_expected)
        return;
    if (bc->remote_got >= bc->remote_expected)
        bcast_finish(bc, 0);
}

static int bcast_keep(bcast_ack *bc, sio_args *answer)
{
    if (!answer)
        return 0;
    if (bc->each) {
        bc->each(answer, bc->user);
        sio_args_free(answer);
        return 0;
    }
    if (sio_array_push(&bc->responses, &bc->got, &bc->cap, &answer, sizeof(answer), 8) < 0) {
        sio_args_free(answer);
        return SIO_ENOMEM;
    }
    return 0;
}

/* One local recipient is done (answered, or left: answer NULL). */
static void bcast_part_done(bcast_ack *bc, sio_args *answer)
{
    if (!bc->done) {
        bcast_keep(bc, answer);
        bc->local_waiting--;
        bcast_check(bc);
    } else {
        sio_args_free(answer);
    }
    bcast_unref(bc);
}

void sio_bcast_remote_count(bcast_ack *bc, uint64_t n)
{
    if (bc->done)
        return;
    bc->servers_counted++;
    bc->remote_expected += n;
    bcast_check(bc);
}

void sio_bcast_remote_response(bcast_ack *bc, sio_args *answer)
{
    if (bc->done) {
        sio_args_free(answer);
        return;
    }
    bcast_keep(bc, answer);
    bc->remote_got++;
    bcast_check(bc);
}

void sio_bcast_servers(bcast_ack *bc, size_t others)
{
    bc->servers_expected = others;
    bcast_check(bc);
}

void sio_bcast_set_each(bcast_ack *bc, void (*each)(const sio_args *answer, void *user))
{
    bc->each = each;
}

void sio_bcast_set_req(bcast_ack *bc, cluster_req *req)
{
    bc->req = req;
}

/* One timer (sio_kick): the callback never runs inside the emitting call, even with no
 * recipient anywhere. */
static void bcast_timer_cb(void *arg)
{
    bcast_ack *bc = arg;
    if (!bc->started) {
        /* Completing at the kick (nobody to wait for, or every answer came before this turn)
         * runs the callback and drops the last reference: hold one until we are done with bc. */
        bc->refs++;
        sio_kick(bc->timer, &bc->started, &bc->done, bc->timeout_ms, bcast_check, bc);
        bcast_unref(bc);
        return;
    }
    bc->nsp->io->stats->ack_timeouts++;
    bcast_finish(bc, SIO_ETIMEDOUT);
}

/* The sends are done: completion may be reported from the next loop turn on. Drops the
 * starting reference. Returns 0 or SIO_ENOMEM (the broadcast is then failed at once). */
int sio_bcast_start(bcast_ack *bc, unsigned timeout_ms)
{
    int rc = 0;
    bc->timeout_ms = timeout_ms;
    bc->timer = sio_timer_new(bc->nsp->io->clock, bcast_timer_cb, bc);
    if (bc->timer) {
        sio_timer_start(bc->timer, 0);
    } else {
        rc = SIO_ENOMEM;
        bc->done = 1; /* never reported: the emit returns the error */
        bcast_unlink(bc);
        if (bc->req)
            sio_cluster_req_detach(bc->req);
        bc->req = NULL;
    }
    bcast_unref(bc);
    return rc;
}

void sio_bcast_shutdown(bcast_ack *bc)
{
    bcast_finish(bc, SIO_ECLOSED);
}

/* Broadcasts with acks that have no cluster request (in-memory adapter, SIO_EMIT_LOCAL, those
 * other servers started) are reached only through this list. Without it one still waiting at
 * shutdown would report 0 once its recipients were closed, or leak with its timer if the
 * server was freed before its first loop turn. */
void sio_bcast_fail_all(sio_io *io)
{
    while (io->bcasts)
        bcast_finish(io->bcasts, SIO_ECLOSED);
}

/* ---- acks the server asked a client for ----------------------------------------------------- */

struct sio_pending_ack {
    sio_pending_ack *next;
    sio_socket *s;
    uint64_t id;
    sio_ack_cb cb; /* single-socket ack */
    void *user;
    bcast_ack *bc; /* or part of a broadcast */
    sio_timer *timer;
};

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
    sio_timer_free(pa->timer);
    free(pa);
}

static void ack_timeout_cb(void *arg)
{
    sio_pending_ack *pa = arg;
    sio_socket *s = pa->s;
    unlink_ack(s, pa);
    s->nsp->io->stats->ack_timeouts++;
    sio_socket_ref(s);
    pa->cb(s, SIO_ETIMEDOUT, NULL, pa->user);
    sio_socket_unref(s);
    sio_socket_unref(s); /* the pending ack's reference */
    pending_free(pa);
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

int sio_bcast_add_part(bcast_ack *bc, sio_socket *s, uint64_t id)
{
    sio_pending_ack *pa = pending_new(s, id);
    if (!pa)
        return SIO_ENOMEM;
    pa->bc = bc;
    bc->refs++;
    bc->local_waiting++;
    return 0;
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
        sio_args *a = bc->done ? NULL : sio_args_copy(p->data, p->data_len, bins, nbins);
        pending_free(pa);
        bcast_part_done(bc, a);
        sio_socket_unref(s);
        return;
    }
    if (pa->timer)
        sio_timer_stop(pa->timer);
    sio_args args;
    sio_args_init_packet(&args, p, 0, bins, nbins);
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
                sio_timer_stop(pa->timer);
            pa->cb(NULL, SIO_ECLOSED, NULL, pa->user);
        }
        sio_socket_unref(s);
        pending_free(pa);
    }
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
    if (p->id >= 0 && (ack = ack_new(s->nsp, 0))) {
        memcpy(ack->sid, s->id, sizeof(ack->sid));
        ack->id = p->id;
    }
    sio_args args;
    sio_args_init_packet(&args, p, 1, bins, nbins);
    sio_socket_ref(s);
    h->cb(s, name, &args, ack, h->user);
    sio_socket_unref(s);
    sio_args_deinit(&args);
    sio_ack_handler_done(ack);
}

/* ---- emitting to one socket --------------------------------------------------------------- */

int sio_check_event(const char *event)
{
    return event && !sio_packet_event_is_reserved(event, strlen(event)) ? 0 : SIO_EINVAL;
}

int sio_socket_emit(sio_socket *s, const char *event, const char *args_json, const sio_bin *bins,
                    size_t nbins, int flags)
{
    if (!s->connected || !s->client)
        return SIO_ECLOSED;
    if (sio_check_event(event) < 0)
        return SIO_EINVAL;
    sio_frame f;
    int rc = sio_frame_encode(s->nsp->io, &f, SIO_PACKET_EVENT, s->nsp->name, -1, event, args_json,
                              args_json ? strlen(args_json) : 0, bins, nbins, flags);
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
    if (sio_check_event(event) < 0 || !cb)
        return SIO_EINVAL;
    uint64_t id = s->nsp->next_ack_id++;
    sio_frame f;
    int rc = sio_frame_encode(s->nsp->io, &f, SIO_PACKET_EVENT, s->nsp->name, (int64_t)id, event,
                              args_json, args_json ? strlen(args_json) : 0, bins, nbins, 0);
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
        if (timeout_ms && (pa->timer = sio_timer_new(s->nsp->io->clock, ack_timeout_cb, pa)))
            sio_timer_start(pa->timer, timeout_ms);
    }
    sio_socket_unref(s);
    return rc;
}
