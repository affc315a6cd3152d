/*
 * The adapter host (include/sio/adapter.h, docs/adapter.md): what this server publishes to the
 * others, the one inbound entry point for what they publish, and the requests that wait for
 * their answers (fetchSockets, allRooms, serverSideEmit with acks, broadcast acks, serverCount).
 * A request learns how many servers there are from the adapter, publishes once, and completes
 * when every other server answered or requests_timeout_ms passed; its callback runs exactly once
 * and never inside the call that started it (a 0-ms kick first), also with the in-memory adapter.
 */
#include "internal.h"

#include "common/log.h"
#include "common/rand.h"
#include "json_scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum req_kind { REQ_FETCH, REQ_ROOMS, REQ_SSE, REQ_BCAST, REQ_COUNT };

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
    union {
        sio_fetch_cb fetch;
        sio_rooms_cb rooms;
        sio_broadcast_ack_cb sse;
        sio_count_cb count;
    } cb;
    void *user;
    /* results */
    sio_socket_info *socks;
    size_t nsocks, capsocks;
    sio_map room_set; /* all rooms: name -> (unused) */
    sio_args **responses;
    size_t nresp, capresp;
    bcast_ack *bc;
};

int sio_cluster_is_shared(const sio_io *io)
{
    return io->aops != sio_adapter_memory();
}

static const char *own_uid(const sio_io *io)
{
    const char *u = io->aops->uid ? io->aops->uid(io->adapter) : NULL;
    return u ? u : "local";
}

/* ---- outbound ----------------------------------------------------------------------------- */

void sio_cluster_publish(sio_namespace *nsp, sio_cluster_msg *msg)
{
    sio_io *io = nsp->io;
    if (!sio_cluster_is_shared(io))
        return;
    msg->nsp = nsp->name;
    msg->uid = own_uid(io);
    msg->target.flags &= ~SIO_EMIT_LOCAL;
    if (io->aops->publish(io->adapter, nsp->adapter_state, msg) < 0)
        io->stats->adapter_dropped++;
    else
        io->stats->adapter_published++;
}

int sio_cluster_open(sio_io *io, sio_namespace *nsp)
{
    if (!io->aops->nsp_open)
        return 0;
    return io->aops->nsp_open(io->adapter, nsp->name, &nsp->adapter_state);
}

void sio_cluster_close(sio_io *io, sio_namespace *nsp)
{
    if (io->aops->nsp_close)
        io->aops->nsp_close(io->adapter, nsp->adapter_state);
}

void sio_cluster_room_changed(sio_namespace *nsp, const char *room, size_t len, int created)
{
    sio_io *io = nsp->io;
    if (!io->aops->room_changed)
        return;
    /* a socket's own room: its id, in the socket map while it is connected (the own room is
     * joined after the map entry and left before it goes) */
    int socket_room = len == SIO_ID_LEN && sio_map_get(&nsp->sockets, room, len) != NULL;
    io->aops->room_changed(io->adapter, nsp->adapter_state, room, len, created, socket_room);
}

void sio_cluster_reply(sio_namespace *nsp, const char *requester, const char *request_id,
                       const char *data, size_t len, const sio_bin *bins, size_t nbins)
{
    sio_cluster_msg m = {.type = SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE,
                         .requester = requester,
                         .request_id = request_id,
                         .data = data,
                         .data_len = len,
                         .bins = bins,
                         .nbins = nbins};
    sio_cluster_publish(nsp, &m);
}

/* ---- requests ----------------------------------------------------------------------------- */

static void info_free(sio_socket_info *s)
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
        info_free(&r->socks[i]);
    free(r->socks);
    sio_map_deinit(&r->room_set);
    for (size_t i = 0; i < r->nresp; i++)
        sio_args_free(r->responses[i]);
    free(r->responses);
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

static void req_check(cluster_req *r)
{
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
        r->kicked = 1;
        req_check(r);
        if (!r->done && r->kind != REQ_BCAST)
            sio_timer_start(r->timer, r->timeout_ms);
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
    cluster_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->kind = kind;
    r->nsp = nsp;
    sio_nsp_hold(nsp);
    r->refs = 1;
    r->timeout_ms = timeout_ms ? timeout_ms : io->requests_timeout_ms;
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

static int info_copy(sio_socket_info *dst, const sio_socket_info *src)
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
        info_free(dst);
    return ok ? 0 : SIO_ENOMEM;
}

static int req_add_socket(cluster_req *r, const sio_socket_info *info)
{
    if (r->nsocks == r->capsocks) {
        size_t cap = r->capsocks ? r->capsocks * 2 : 16;
        sio_socket_info *v = realloc(r->socks, cap * sizeof(*v));
        if (!v)
            return SIO_ENOMEM;
        r->socks = v;
        r->capsocks = cap;
    }
    if (info_copy(&r->socks[r->nsocks], info) < 0)
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

static long local_snapshots(sio_namespace *nsp, const sio_target *to,
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
    if (!cb)
        return SIO_EINVAL;
    cluster_req *r = req_new(nsp, REQ_FETCH, 0);
    if (!r)
        return nsp->io->shutting_down ? SIO_ECLOSED : SIO_ENOMEM;
    r->cb.fetch = cb;
    r->user = user;
    local_snapshots(nsp, to, add_socket_cb, r);
    int local = (to && (to->flags & SIO_EMIT_LOCAL));
    sio_cluster_msg m = {.type = SIO_CLUSTER_FETCH_SOCKETS};
    if (to)
        m.target = *to;
    if (local)
        r->servers = 1, req_check(r);
    else
        req_go(r, &m);
    return 0;
}

int sio_namespace_all_rooms(sio_namespace *nsp, sio_rooms_cb cb, void *user)
{
    if (!cb)
        return SIO_EINVAL;
    cluster_req *r = req_new(nsp, REQ_ROOMS, 0);
    if (!r)
        return nsp->io->shutting_down ? SIO_ECLOSED : SIO_ENOMEM;
    r->cb.rooms = cb;
    r->user = user;
    add_local_rooms(r);
    sio_cluster_msg m = {.type = SIO_CLUSTER_ALL_ROOMS};
    req_go(r, &m);
    return 0;
}

int sio_namespace_server_count(sio_namespace *nsp, sio_count_cb cb, void *user)
{
    if (!cb)
        return SIO_EINVAL;
    cluster_req *r = req_new(nsp, REQ_COUNT, 0);
    if (!r)
        return nsp->io->shutting_down ? SIO_ECLOSED : SIO_ENOMEM;
    r->cb.count = cb;
    r->user = user;
    req_go(r, NULL);
    return 0;
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
    sio_cluster_msg m = {.type = SIO_CLUSTER_SERVER_SIDE_EMIT,
                         .data = data,
                         .data_len = len,
                         .bins = bins,
                         .nbins = nbins};
    int rc = 0;
    if (!cb) {
        sio_cluster_publish(nsp, &m);
    } else {
        cluster_req *r = req_new(nsp, REQ_SSE, timeout_ms);
        if (r) {
            r->cb.sse = cb;
            r->user = user;
            req_go(r, &m);
        } else {
            rc = nsp->io->shutting_down ? SIO_ECLOSED : SIO_ENOMEM;
        }
    }
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
    sio_cluster_msg m = {.type = SIO_CLUSTER_BROADCAST,
                         .packet_type = SIO_PACKET_EVENT,
                         .data = data,
                         .data_len = len,
                         .bins = bins,
                         .nbins = nbins,
                         .ack_timeout_ms = timeout_ms};
    if (to)
        m.target = *to;
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

/* ---- inbound ------------------------------------------------------------------------------ */

typedef struct remote_bcast {
    sio_namespace *nsp;
    char *requester;
    char *request_id;
} remote_bcast;

/* Each local answer to a broadcast another server started goes back to it at once. */
static void remote_bcast_each(const sio_args *a, void *user)
{
    remote_bcast *rb = user;
    sio_bin bins[SIO_BINARY_MAX_ATTACHMENTS];
    size_t nb = a->nbins < SIO_BINARY_MAX_ATTACHMENTS ? a->nbins : SIO_BINARY_MAX_ATTACHMENTS;
    for (size_t i = 0; i < nb; i++)
        bins[i] = (sio_bin){sio_buf_data(a->bins[i]), a->bins[i]->len};
    sio_cluster_msg m = {.type = SIO_CLUSTER_BROADCAST_ACK,
                         .requester = rb->requester,
                         .request_id = rb->request_id,
                         .data = a->data,
                         .data_len = a->data_len,
                         .bins = bins,
                         .nbins = nb};
    sio_cluster_publish(rb->nsp, &m);
}

static void remote_bcast_done(sio_namespace *nsp, int status, const sio_args *const *r, size_t n,
                              void *user)
{
    remote_bcast *rb = user;
    free(rb->requester);
    free(rb->request_id);
    free(rb);
}

static int recv_broadcast(sio_namespace *nsp, const sio_cluster_msg *m)
{
    sio_io *io = nsp->io;
    int ack = m->request_id != NULL;
    uint64_t id = ack ? nsp->next_ack_id++ : 0;
    sio_frame f;
    if (sio_frame_encode_data(io, &f, SIO_PACKET_EVENT, nsp->name, ack ? (int64_t)id : -1, m->data,
                              m->data_len, m->bins, m->nbins) < 0)
        return SIO_EINVAL;
    sio_target to = m->target;
    to.flags |= SIO_EMIT_LOCAL;
    if (!ack) {
        sio_nsp_deliver(nsp, &to, &f, NULL, 0);
        sio_frame_release(&f);
        return 0;
    }
    remote_bcast *rb = calloc(1, sizeof(*rb));
    bcast_ack *bc = rb ? sio_bcast_new(nsp, remote_bcast_done, rb) : NULL;
    if (!bc) {
        free(rb);
        sio_frame_release(&f);
        return SIO_ENOMEM;
    }
    rb->nsp = nsp;
    rb->requester = strdup(m->uid ? m->uid : "");
    rb->request_id = strdup(m->request_id);
    sio_bcast_set_each(bc, remote_bcast_each);
    long n = sio_nsp_deliver(nsp, &to, &f, bc, id);
    sio_frame_release(&f);
    sio_cluster_msg c = {.type = SIO_CLUSTER_BROADCAST_CLIENT_COUNT,
                         .requester = rb->requester,
                         .request_id = rb->request_id,
                         .client_count = n > 0 ? (uint64_t)n : 0};
    sio_cluster_publish(nsp, &c);
    unsigned t = m->ack_timeout_ms ? m->ack_timeout_ms : io->requests_timeout_ms;
    sio_bcast_servers(bc, 0);
    return sio_bcast_start(bc, t);
}

typedef struct resp_socks {
    sio_socket_info *v;
    size_t n, cap;
} resp_socks;

static int keep_info(void *arg, const sio_socket_info *info)
{
    resp_socks *rs = arg;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        sio_socket_info *v = realloc(rs->v, cap * sizeof(*v));
        if (!v)
            return -1;
        rs->v = v;
        rs->cap = cap;
    }
    if (info_copy(&rs->v[rs->n], info) < 0)
        return -1;
    rs->n++;
    return 0;
}

static void recv_fetch(sio_namespace *nsp, const sio_cluster_msg *m)
{
    resp_socks rs = {0};
    sio_target to = m->target;
    to.flags |= SIO_EMIT_LOCAL;
    local_snapshots(nsp, &to, keep_info, &rs);
    sio_cluster_msg r = {.type = SIO_CLUSTER_FETCH_SOCKETS_RESPONSE,
                         .requester = m->uid,
                         .request_id = m->request_id,
                         .sockets = rs.v,
                         .nsockets = rs.n};
    sio_cluster_publish(nsp, &r);
    for (size_t i = 0; i < rs.n; i++)
        info_free(&rs.v[i]);
    free(rs.v);
}

static void recv_all_rooms(sio_namespace *nsp, const sio_cluster_msg *m)
{
    size_t n = sio_rooms_count(&nsp->rooms), i = 0;
    const char **v = malloc((n ? n : 1) * sizeof(*v));
    if (!v)
        return;
    sio_rooms_iter it;
    sio_rooms_iter_init(&it, &nsp->rooms);
    for (sio_room *room; (room = sio_rooms_iter_next(&it)) && i < n;)
        v[i++] = sio_room_name(room, NULL);
    sio_cluster_msg r = {.type = SIO_CLUSTER_ALL_ROOMS_RESPONSE,
                         .requester = m->uid,
                         .request_id = m->request_id,
                         .rooms = v,
                         .nrooms = i};
    sio_cluster_publish(nsp, &r);
    free(v);
}

static int recv_server_event(sio_namespace *nsp, const sio_cluster_msg *m)
{
    if (!m->data || m->nbins > SIO_BINARY_MAX_ATTACHMENTS)
        return SIO_EINVAL;
    sio_args *a = sio_args_copy_bins(m->data, m->data_len, m->bins, m->nbins);
    if (!a)
        return SIO_EINVAL;
    char name[256];
    size_t vn;
    const char *v = a->argc ? sio_args_json(a, 0, &vn) : NULL;
    ssize_t nlen = v && sio_json_type_of(v, vn) == SIO_JSON_STRING
                       ? sio_json_string_unescape(v, vn, name, sizeof(name))
                       : -1;
    if (nlen < 0) {
        sio_args_free(a);
        return SIO_EINVAL;
    }
    if (nsp->on_server_event) {
        sio_args args; /* the arguments after the event name */
        sio_args_init(&args, a->data, a->data_len, 1, a->bins, a->nbins);
        sio_ack *ack = m->request_id ? sio_ack_new_remote(nsp, m->uid, m->request_id) : NULL;
        nsp->on_server_event(nsp, name, &args, ack, nsp->on_server_event_user);
        sio_args_deinit(&args);
        sio_ack_handler_done(ack);
    }
    sio_args_free(a);
    return 0;
}

static int recv_response(sio_io *io, const sio_cluster_msg *m)
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
        if (a && r->nresp == r->capresp) {
            size_t cap = r->capresp ? r->capresp * 2 : 8;
            sio_args **v = realloc(r->responses, cap * sizeof(*v));
            if (v)
                r->responses = v, r->capresp = cap;
        }
        if (a && r->nresp < r->capresp)
            r->responses[r->nresp++] = a;
        else
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

int sio_adapter_host_receive(sio_adapter_host *host, const sio_cluster_msg *m)
{
    sio_io *io = host->io;
    if (io->shutting_down)
        return 0;
    io->stats->adapter_received++;
    sio_namespace *nsp = m->nsp ? sio_map_get(&io->nsps, m->nsp, strlen(m->nsp)) : NULL;
    int rc = 0;
    if (!nsp) {
        rc = SIO_EINVAL;
    } else if (m->requester && strcmp(m->requester, own_uid(io)) != 0) {
        rc = 0; /* a response for another server */
    } else {
        sio_nsp_hold(nsp); /* a handler could empty a dynamic namespace */
        switch (m->type) {
        case SIO_CLUSTER_BROADCAST:
            rc = recv_broadcast(nsp, m);
            break;
        case SIO_CLUSTER_SOCKETS_JOIN:
        case SIO_CLUSTER_SOCKETS_LEAVE: {
            sio_target to = m->target;
            to.flags |= SIO_EMIT_LOCAL;
            sio_nsp_local_join(nsp, &to, m->rooms, m->nrooms, m->type == SIO_CLUSTER_SOCKETS_LEAVE);
            break;
        }
        case SIO_CLUSTER_DISCONNECT_SOCKETS: {
            sio_target to = m->target;
            to.flags |= SIO_EMIT_LOCAL;
            sio_nsp_local_disconnect(nsp, &to, m->close);
            break;
        }
        case SIO_CLUSTER_FETCH_SOCKETS:
            if (m->request_id)
                recv_fetch(nsp, m);
            else
                rc = SIO_EINVAL;
            break;
        case SIO_CLUSTER_ALL_ROOMS:
            if (m->request_id)
                recv_all_rooms(nsp, m);
            else
                rc = SIO_EINVAL;
            break;
        case SIO_CLUSTER_SERVER_SIDE_EMIT:
            rc = recv_server_event(nsp, m);
            break;
        default:
            rc = recv_response(io, m);
            break;
        }
        sio_nsp_release(nsp);
    }
    if (rc < 0)
        io->stats->adapter_dropped++;
    return rc < 0 ? SIO_EINVAL : 0;
}

struct event_base *sio_adapter_host_base(const sio_adapter_host *host)
{
    return host->io->base;
}

sio_server *sio_adapter_host_server(const sio_adapter_host *host)
{
    return host->io->owner;
}

void sio_adapter_host_log(const sio_adapter_host *host, int level, const char *fmt, ...)
{
    (void)host;
    if (level > sio_log_threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    sio_log_vwrite(level, "adapter", fmt, ap);
    va_end(ap);
}

void sio_cluster_free(sio_io *io)
{
    sio_cluster_fail_all(io);
    sio_map_deinit(&io->requests);
    if (io->adapter)
        io->aops->free(io->adapter);
    io->adapter = NULL;
}
