/*
 * Cluster requests (include/sio/adapter.h): fetchSockets, allRooms, serverCount, serverSideEmit
 * with acks and the remote part of broadcasts with acks. A request learns how many servers there
 * are from the adapter, publishes once, and completes when every other server answered or
 * requests_timeout_ms passed; its callback runs exactly once and never inside the call that
 * started it (a 0-ms kick first), also with the in-memory adapter. Every pending request is in
 * io->requests from its creation, so shutdown fails it with SIO_ECLOSED.
 */
#include "internal.h"

#include "common/array.h"
#include "common/rand.h"
#include "json_scan.h"

#include <stdlib.h>
#include <string.h>

enum req_kind { REQ_FETCH, REQ_ROOMS, REQ_SSE, REQ_BCAST, REQ_COUNT };

/* The application's callback, by kind (none for REQ_BCAST: bc has it). */
typedef union req_cb {
    sio_fetch_cb fetch;
    sio_rooms_cb rooms;
    sio_broadcast_ack_cb sse;
    sio_count_cb count;
} req_cb;

struct cluster_req {
    char id[SIO_ID_LEN + 1];
    enum req_kind kind;
    sio_namespace *nsp;
    unsigned refs;  /* 1 until finished, +1 while the adapter counts servers */
    int registered; /* in io->requests */
    int kicked, done;
    size_t servers;   /* servers in the cluster; 0 until the adapter said */
    size_t got;       /* responses from other servers */
    sio_timer *timer; /* kick, then timeout */
    unsigned timeout_ms;
    req_cb cb;
    void *user;
    /* results */
    sio_socket_info *socks;
    size_t nsocks, capsocks;
    sio_map room_set; /* all rooms: name -> (unused) */
    sio_args **responses;
    size_t nresp, capresp;
    bcast_ack *bc;
};

/* ---- requests ----------------------------------------------------------------------------- */

void sio_socket_info_free(sio_socket_info *s)
{
    free((char *)s->id);
    for (size_t i = 0; i < s->nrooms; i++)
        free((char *)s->rooms[i]);
    free((void *)s->rooms);
    free((char *)s->data_json);
    free((char *)s->handshake_json);
}

static void req_free(cluster_req *r)
{
    for (size_t i = 0; i < r->nsocks; i++)
        sio_socket_info_free(&r->socks[i]);
    free(r->socks);
    sio_map_deinit(&r->room_set);
    sio_args_free_all(r->responses, r->nresp);
    sio_timer_free(r->timer);
    sio_nsp_release(r->nsp);
    free(r);
}

static void req_unref(cluster_req *r)
{
    if (--r->refs == 0)
        req_free(r);
}

static void req_unregister(cluster_req *r)
{
    if (r->registered) {
        sio_map_del(&r->nsp->io->requests, r->id, strlen(r->id));
        r->registered = 0;
    }
}

/* A broadcast with acks finished on its own: stop routing answers to it. */
void sio_cluster_req_detach(cluster_req *r)
{
    r->bc = NULL;
    if (!r->done) {
        r->done = 1;
        req_unregister(r);
        sio_timer_stop(r->timer);
        req_unref(r);
    }
}

static void collect_rooms_list(cluster_req *r, const char ***out, size_t *n)
{
    *n = 0;
    *out = malloc((r->room_set.count ? r->room_set.count : 1) * sizeof(**out));
    if (!*out)
        return;
    sio_map_iter it;
    sio_map_iter_init(&it, &r->room_set);
    for (sio_map_entry *e; (e = sio_map_iter_next(&it));)
        (*out)[(*n)++] = e->key;
}

static void req_finish(cluster_req *r, int status)
{
    if (r->done)
        return;
    r->done = 1;
    req_unregister(r);
    sio_timer_stop(r->timer);
    if (status == SIO_ETIMEDOUT)
        r->nsp->io->stats->cluster_timeouts++;
    sio_namespace *nsp = r->nsp;
    switch (r->kind) {
    case REQ_FETCH:
        r->cb.fetch(nsp, status, r->socks, r->nsocks, r->user);
        break;
    case REQ_ROOMS: {
        const char **v;
        size_t n;
        collect_rooms_list(r, &v, &n);
        r->cb.rooms(nsp, v ? status : SIO_ENOMEM, v, n, r->user);
        free(v);
        break;
    }
    case REQ_SSE:
        r->cb.sse(nsp, status, (const sio_args *const *)r->responses, r->nresp, r->user);
        break;
    case REQ_COUNT:
        r->cb.count(nsp, status, r->servers ? r->servers : 1, r->user);
        break;
    case REQ_BCAST:
        if (r->bc)
            sio_bcast_shutdown(r->bc); /* only on shutdown: it finishes on its own otherwise */
        break;
    }
    req_unref(r);
}

static void req_check(void *arg)
{
    cluster_req *r = arg;
    if (r->done || !r->kicked || !r->servers || r->kind == REQ_BCAST)
        return;
    if (r->kind == REQ_COUNT || r->got + 1 >= r->servers)
        req_finish(r, 0);
}

static void req_timer_cb(void *arg)
{
    cluster_req *r = arg;
    if (!r->kicked) {
        /* A request complete at the kick (a lone server, or every answer already in) is freed
         * by req_finish: hold a reference until we are done with r. */
        r->refs++;
        sio_kick(r->timer, &r->kicked, &r->done, r->kind != REQ_BCAST ? r->timeout_ms : 0,
                 req_check, r);
        req_unref(r);
        return;
    }
    req_finish(r, SIO_ETIMEDOUT);
}

static void count_done(size_t servers, void *arg)
{
    cluster_req *r = arg;
    if (!r->done) {
        r->servers = servers ? servers : 1;
        if (r->kind == REQ_BCAST && r->bc)
            sio_bcast_servers(r->bc, r->servers - 1);
        req_check(r);
    }
    req_unref(r);
}

static cluster_req *req_new(sio_namespace *nsp, enum req_kind kind, unsigned timeout_ms)
{
    sio_io *io = nsp->io;
    if (io->shutting_down)
        return NULL;
    cluster_req *r = malloc(sizeof(*r));
    if (!r)
        return NULL;
    *r = (cluster_req){.kind = kind,
                       .nsp = nsp,
                       .refs = 1,
                       .timeout_ms = timeout_ms ? timeout_ms : io->requests_timeout_ms};
    sio_nsp_hold(nsp);
    sio_map_init(&r->room_set);
    r->timer = sio_timer_new(io->clock, req_timer_cb, r);
    if (!r->timer || sio_id_generate(r->id) < 0 ||
        !sio_map_put(&io->requests, r->id, strlen(r->id), r)) {
        req_free(r);
        return NULL;
    }
    /* Every request is in the map from the start, answered by other servers or not, so that
     * sio_cluster_fail_all reaches it: one still waiting for its kick at shutdown gets its
     * callback (SIO_ECLOSED) and frees its timer before the clock goes. */
    r->registered = 1;
    if (kind != REQ_BCAST) /* a broadcast's own timer does the kick and the timeout */
        sio_timer_start(r->timer, 0);
    else
        r->kicked = 1;
    io->stats->cluster_requests++;
    return r;
}

/* A request answering the application's cb: 0 with *out, or SIO_ECLOSED (shutting down) or
 * SIO_ENOMEM. */
static int req_start(sio_namespace *nsp, enum req_kind kind, unsigned timeout_ms, req_cb cb,
                     void *user, cluster_req **out)
{
    cluster_req *r = req_new(nsp, kind, timeout_ms);
    if (!r)
        return nsp->io->shutting_down ? SIO_ECLOSED : SIO_ENOMEM;
    r->cb = cb;
    r->user = user;
    *out = r;
    return 0;
}

/* Publishes the request (when the cluster is shared) and asks for the server count. */
static void req_go(cluster_req *r, sio_cluster_msg *m)
{
    sio_io *io = r->nsp->io;
    if (!sio_cluster_is_shared(io) || !io->aops->server_count) {
        r->servers = 1;
        if (m && sio_cluster_is_shared(io)) { /* a shared adapter that cannot count */
            m->request_id = r->id;
            sio_cluster_publish(r->nsp, m);
        }
        if (r->kind == REQ_BCAST && r->bc)
            sio_bcast_servers(r->bc, 0);
        req_check(r);
        return;
    }
    if (m) {
        m->request_id = r->id;
        sio_cluster_publish(r->nsp, m);
    }
    r->refs++;
    io->aops->server_count(io->adapter, r->nsp->adapter_state, count_done, r);
}

/* ---- snapshots ---------------------------------------------------------------------------- */

int sio_socket_info_copy(sio_socket_info *dst, const sio_socket_info *src)
{
    memset(dst, 0, sizeof(*dst));
    const char **rooms = calloc(src->nrooms ? src->nrooms : 1, sizeof(*rooms));
    dst->rooms = rooms;
    dst->id = src->id ? strdup(src->id) : NULL;
    dst->data_json = strdup(src->data_json ? src->data_json : "{}");
    dst->handshake_json = strdup(src->handshake_json ? src->handshake_json : "{}");
    int ok = rooms && dst->id && dst->data_json && dst->handshake_json;
    for (size_t i = 0; ok && i < src->nrooms; i++) {
        rooms[i] = strdup(src->rooms[i]);
        ok = rooms[i] != NULL;
        dst->nrooms += ok;
    }
    if (!ok)
        sio_socket_info_free(dst);
    return ok ? 0 : SIO_ENOMEM;
}

static int req_add_socket(cluster_req *r, const sio_socket_info *info)
{
    if (sio_array_grow(&r->socks, &r->capsocks, r->nsocks, sizeof(*r->socks), 16) < 0 ||
        sio_socket_info_copy(&r->socks[r->nsocks], info) < 0)
        return SIO_ENOMEM;
    r->nsocks++;
    return 0;
}

/* Calls fn with the snapshot of each local socket of the target. */
typedef struct snap_ctx {
    int (*fn)(void *arg, const sio_socket_info *info);
    void *arg;
} snap_ctx;

static int snap_one(sio_socket *s, void *arg)
{
    snap_ctx *c = arg;
    size_t n = sio_room_set_count(&s->rooms);
    const char **rooms = malloc((n ? n : 1) * sizeof(*rooms));
    if (!rooms)
        return -1;
    sio_socket_info info;
    sio_socket_info_of(s, &info, rooms);
    int rc = c->fn(c->arg, &info);
    free(rooms);
    return rc;
}

long sio_nsp_snapshots(sio_namespace *nsp, const sio_target *to,
                       int (*fn)(void *arg, const sio_socket_info *info), void *arg)
{
    snap_ctx c = {fn, arg};
    return sio_nsp_resolve(nsp, to, snap_one, &c);
}

static int add_socket_cb(void *arg, const sio_socket_info *info)
{
    return req_add_socket(arg, info);
}

static void add_local_rooms(cluster_req *r)
{
    sio_rooms_iter it;
    sio_rooms_iter_init(&it, &r->nsp->rooms);
    for (sio_room *room; (room = sio_rooms_iter_next(&it));) {
        size_t len;
        const char *name = sio_room_name(room, &len);
        if (!sio_map_find(&r->room_set, name, len))
            sio_map_put(&r->room_set, name, len, r);
    }
}

/* ---- public asynchronous queries ---------------------------------------------------------- */

int sio_namespace_fetch_sockets(sio_namespace *nsp, const sio_target *to, sio_fetch_cb cb,
                                void *user)
{
    cluster_req *r;
    int rc = cb ? req_start(nsp, REQ_FETCH, 0, (req_cb){.fetch = cb}, user, &r) : SIO_EINVAL;
    if (rc < 0)
        return rc;
    sio_nsp_snapshots(nsp, to, add_socket_cb, r);
    int local = (to && (to->flags & SIO_EMIT_LOCAL));
    sio_cluster_msg m = sio_cluster_msg_make(SIO_CLUSTER_FETCH_SOCKETS, to, NULL, 0, NULL, 0);
    if (local)
        r->servers = 1, req_check(r);
    else
        req_go(r, &m);
    return 0;
}

int sio_namespace_all_rooms(sio_namespace *nsp, sio_rooms_cb cb, void *user)
{
    cluster_req *r;
    int rc = cb ? req_start(nsp, REQ_ROOMS, 0, (req_cb){.rooms = cb}, user, &r) : SIO_EINVAL;
    if (rc < 0)
        return rc;
    add_local_rooms(r);
    sio_cluster_msg m = {.type = SIO_CLUSTER_ALL_ROOMS};
    req_go(r, &m);
    return 0;
}

int sio_namespace_server_count(sio_namespace *nsp, sio_count_cb cb, void *user)
{
    cluster_req *r;
    int rc = cb ? req_start(nsp, REQ_COUNT, 0, (req_cb){.count = cb}, user, &r) : SIO_EINVAL;
    if (rc == 0)
        req_go(r, NULL);
    return rc;
}

void sio_namespace_on_server_event(sio_namespace *nsp, sio_server_event_cb cb, void *user)
{
    nsp->on_server_event = cb;
    nsp->on_server_event_user = user;
}

int sio_namespace_server_emit(sio_namespace *nsp, const char *event, const char *args_json,
                              const sio_bin *bins, size_t nbins, unsigned timeout_ms,
                              sio_broadcast_ack_cb cb, void *user)
{
    const char *reason;
    if (sio_check_event(event) < 0 ||
        (args_json && (sio_json_validate(args_json, strlen(args_json), 64, &reason) < 0 ||
                       sio_json_type_of(args_json, strlen(args_json)) != SIO_JSON_ARRAY)))
        return SIO_EINVAL;
    size_t len;
    char *data = sio_event_data(event, args_json, &len);
    if (!data)
        return SIO_ENOMEM;
    sio_cluster_msg m =
        sio_cluster_msg_make(SIO_CLUSTER_SERVER_SIDE_EMIT, NULL, data, len, bins, nbins);
    int rc = 0;
    cluster_req *r;
    if (!cb)
        sio_cluster_publish(nsp, &m);
    else if ((rc = req_start(nsp, REQ_SSE, timeout_ms, (req_cb){.sse = cb}, user, &r)) == 0)
        req_go(r, &m);
    free(data);
    return rc;
}

/* Broadcast with acks: the request routes the other servers' counts and answers to bc. Without
 * data (local, or received from another server) nothing is published and no other server
 * answers: the request only keeps bc where sio_cluster_fail_all finds it, so that a broadcast
 * still waiting at shutdown reports SIO_ECLOSED instead of outliving the clock. */
int sio_cluster_broadcast_ack(sio_namespace *nsp, bcast_ack *bc, const sio_target *to,
                              const char *data, size_t len, const sio_bin *bins, size_t nbins,
                              unsigned timeout_ms)
{
    cluster_req *r = req_new(nsp, REQ_BCAST, timeout_ms);
    if (!r) {
        sio_bcast_servers(bc, 0);
        return SIO_ENOMEM;
    }
    r->bc = bc;
    sio_bcast_set_req(bc, r);
    sio_cluster_msg m = sio_cluster_msg_make(SIO_CLUSTER_BROADCAST, to, data, len, bins, nbins);
    m.packet_type = SIO_PACKET_EVENT;
    m.ack_timeout_ms = timeout_ms;
    req_go(r, &m);
    return 0;
}

void sio_cluster_fail_all(sio_io *io)
{
    io->shutting_down = 1;
    for (;;) {
        sio_map_iter it;
        sio_map_iter_init(&it, &io->requests);
        sio_map_entry *e = sio_map_iter_next(&it);
        if (!e)
            break;
        req_finish(e->value, SIO_ECLOSED);
    }
}

int sio_cluster_response(sio_io *io, const sio_cluster_msg *m)
{
    if (!m->request_id)
        return SIO_EINVAL;
    cluster_req *r = sio_map_get(&io->requests, m->request_id, strlen(m->request_id));
    if (!r || r->done)
        return 0; /* late (timed out) or someone else's: ignored */
    switch (m->type) {
    case SIO_CLUSTER_FETCH_SOCKETS_RESPONSE:
        if (r->kind != REQ_FETCH)
            return SIO_EINVAL;
        for (size_t i = 0; i < m->nsockets; i++)
            req_add_socket(r, &m->sockets[i]);
        break;
    case SIO_CLUSTER_ALL_ROOMS_RESPONSE:
        if (r->kind != REQ_ROOMS)
            return SIO_EINVAL;
        for (size_t i = 0; i < m->nrooms; i++) {
            size_t len = strlen(m->rooms[i]);
            if (!sio_map_find(&r->room_set, m->rooms[i], len))
                sio_map_put(&r->room_set, m->rooms[i], len, r);
        }
        break;
    case SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE: {
        if (r->kind != REQ_SSE)
            return SIO_EINVAL;
        sio_args *a = sio_args_copy_bins(m->data ? m->data : "[]", m->data ? m->data_len : 2,
                                         m->bins, m->nbins);
        if (a && sio_array_push(&r->responses, &r->nresp, &r->capresp, &a, sizeof(a), 8) < 0)
            sio_args_free(a);
        break;
    }
    case SIO_CLUSTER_BROADCAST_CLIENT_COUNT:
        if (r->kind != REQ_BCAST || !r->bc)
            return SIO_EINVAL;
        sio_bcast_remote_count(r->bc, m->client_count);
        return 0;
    case SIO_CLUSTER_BROADCAST_ACK: {
        if (r->kind != REQ_BCAST || !r->bc)
            return SIO_EINVAL;
        sio_args *a = sio_args_copy_bins(m->data ? m->data : "[]", m->data ? m->data_len : 2,
                                         m->bins, m->nbins);
        sio_bcast_remote_response(r->bc, a);
        return 0;
    }
    default:
        return SIO_EINVAL;
    }
    r->got++;
    req_check(r);
    return 0;
}
