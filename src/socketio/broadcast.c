/*
 * Broadcasts and operations on a target (docs/protocol.md §2.4): resolve rooms minus except
 * rooms to local sockets over the namespace's room index (rooms.c), send one encoded frame to
 * each, and publish the same operation to the other servers through the adapter (cluster.c)
 * unless the emit is local. What arrives from other servers is applied with the same local
 * functions (sio_nsp_deliver, sio_nsp_local_join, sio_nsp_local_disconnect).
 */
#include "internal.h"

#include "json_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- target resolution -------------------------------------------------------------------- */

static void *next_socket(void *cursor, sio_room_set **set)
{
    sio_map_entry *e = sio_map_iter_next(cursor);
    if (!e)
        return NULL;
    sio_socket *s = e->value;
    *set = &s->rooms;
    return s;
}

/* Walks the target's sockets with visit (members are sio_socket). Sockets released during the
 * walk stay allocated until the outermost walk of the namespace ends (nsp->dead). */
static long walk(sio_namespace *nsp, const sio_target *to, sio_rooms_visit_cb visit, void *arg)
{
    sio_map_iter it;
    sio_map_iter_init(&it, &nsp->sockets);
    sio_rooms_query q = {
        .rooms = to ? to->rooms : NULL,
        .nrooms = to ? to->nrooms : 0,
        .except = to ? to->except : NULL,
        .nexcept = to ? to->nexcept : 0,
        .all = next_socket,
        .all_cursor = &it,
    };
    nsp->walks++;
    long n = sio_rooms_resolve(&nsp->rooms, &q, visit, arg);
    if (--nsp->walks == 0 && nsp->dead)
        sio_nsp_free_dead(nsp);
    return n;
}

typedef struct visit_ctx {
    int (*fn)(sio_socket *s, void *arg);
    void *arg;
} visit_ctx;

static int visit_socket(void *member, void *arg)
{
    visit_ctx *v = arg;
    sio_socket *s = member;
    if (!s->connected) /* left during the walk */
        return -1;
    return v->fn(s, v->arg);
}

long sio_nsp_resolve(sio_namespace *nsp, const sio_target *to, int (*fn)(sio_socket *s, void *arg),
                     void *arg)
{
    visit_ctx v = {fn, arg};
    return walk(nsp, to, visit_socket, &v);
}

/* ---- local delivery ----------------------------------------------------------------------- */

typedef struct send_ctx {
    const sio_frame *f;
    int flags;
    bcast_ack *bc;
    uint64_t id;
} send_ctx;

/* A visit of its own rather than through sio_nsp_resolve: one call less per recipient. */
static int send_one(void *member, void *arg)
{
    send_ctx *ctx = arg;
    sio_socket *s = member;
    if (!s->connected || !s->client) /* left during the walk */
        return -1;
    if (ctx->bc && sio_bcast_add_part(ctx->bc, s, ctx->id) < 0)
        return -1;
    return sio_client_send(s->client, ctx->f, ctx->flags) < 0 ? -1 : 0;
}

long sio_nsp_deliver(sio_namespace *nsp, const sio_target *to, const sio_frame *f, bcast_ack *bc,
                     uint64_t id)
{
    send_ctx ctx = {f, to ? to->flags : 0, bc, id};
    return walk(nsp, to, send_one, &ctx);
}

typedef struct join_ctx {
    const char *const *rooms;
    size_t nrooms;
    int leave;
} join_ctx;

static int join_one(sio_socket *s, void *arg)
{
    join_ctx *j = arg;
    int rc = 0;
    for (size_t i = 0; i < j->nrooms; i++) {
        int r = j->leave ? sio_socket_leave(s, j->rooms[i]) : sio_socket_join(s, j->rooms[i]);
        if (r < 0)
            rc = r;
    }
    return rc;
}

long sio_nsp_local_join(sio_namespace *nsp, const sio_target *to, const char *const *rooms,
                        size_t nrooms, int leave)
{
    join_ctx j = {rooms, nrooms, leave};
    return sio_nsp_resolve(nsp, to, join_one, &j);
}

static int disconnect_one(sio_socket *s, void *arg)
{
    sio_socket_disconnect(s, *(int *)arg);
    return 0;
}

long sio_nsp_local_disconnect(sio_namespace *nsp, const sio_target *to, int close)
{
    /* the selection is fixed before the first visit, so disconnecting during it is safe */
    return sio_nsp_resolve(nsp, to, disconnect_one, &close);
}

/* ---- the public operations ------------------------------------------------------------------ */

static int is_local(const sio_namespace *nsp, const sio_target *to)
{
    return (to && (to->flags & SIO_EMIT_LOCAL)) || !sio_cluster_is_shared(nsp->io);
}

/* The packet's data array ["event", ...args] for the cluster (malloc'd). */
char *sio_event_data(const char *event, const char *args_json, size_t *len)
{
    const char *inner = "";
    size_t inner_len = 0;
    if (args_json) {
        size_t n = strlen(args_json);
        const char *open = memchr(args_json, '[', n);
        const char *close = args_json + n;
        while (close > open && *--close != ']')
            ;
        if (open && close > open) {
            inner = open + 1;
            inner_len = (size_t)(close - open - 1);
        }
    }
    size_t elen = strlen(event);
    size_t cap = elen * 6 + 3 + inner_len + 4;
    char *d = malloc(cap);
    if (!d)
        return NULL;
    size_t n = 0;
    d[n++] = '[';
    n += sio_json_write_string(d + n, cap - n, event, elen);
    if (inner_len) {
        d[n++] = ',';
        memcpy(d + n, inner, inner_len);
        n += inner_len;
    }
    d[n++] = ']';
    d[n] = 0;
    *len = n;
    return d;
}

static void publish_broadcast(sio_namespace *nsp, const sio_target *to, const char *event,
                              const char *args_json, const sio_bin *bins, size_t nbins)
{
    size_t len;
    char *data = sio_event_data(event, args_json, &len);
    if (!data) {
        nsp->io->stats->adapter_dropped++;
        return;
    }
    sio_cluster_msg m = sio_cluster_msg_make(SIO_CLUSTER_BROADCAST, to, data, len, bins, nbins);
    m.packet_type = SIO_PACKET_EVENT;
    sio_cluster_publish(nsp, &m);
    free(data);
}

long sio_namespace_emit(sio_namespace *nsp, const sio_target *to, const char *event,
                        const char *args_json, const sio_bin *bins, size_t nbins)
{
    if (sio_check_event(event) < 0)
        return SIO_EINVAL;
    sio_frame f;
    int rc = sio_frame_encode(nsp->io, &f, SIO_PACKET_EVENT, nsp->name, -1, event, args_json,
                              args_json ? strlen(args_json) : 0, bins, nbins, to ? to->flags : 0);
    if (rc < 0)
        return rc;
    nsp->io->stats->broadcasts++;
    long n = sio_nsp_deliver(nsp, to, &f, NULL, 0);
    nsp->io->stats->deliveries += n > 0 ? (uint64_t)n : 0;
    sio_frame_release(&f);
    if (!is_local(nsp, to))
        publish_broadcast(nsp, to, event, args_json, bins, nbins);
    return n;
}

long sio_namespace_emit_ack(sio_namespace *nsp, const sio_target *to, const char *event,
                            const char *args_json, const sio_bin *bins, size_t nbins,
                            unsigned timeout_ms, sio_broadcast_ack_cb cb, void *user)
{
    if (sio_check_event(event) < 0 || !cb)
        return SIO_EINVAL;
    uint64_t id = nsp->next_ack_id++;
    sio_frame f;
    int rc =
        sio_frame_encode(nsp->io, &f, SIO_PACKET_EVENT, nsp->name, (int64_t)id, event, args_json,
                         args_json ? strlen(args_json) : 0, bins, nbins, to ? to->flags : 0);
    if (rc < 0)
        return rc;
    bcast_ack *bc = sio_bcast_new(nsp, cb, user);
    if (!bc) {
        sio_frame_release(&f);
        return SIO_ENOMEM;
    }
    nsp->io->stats->broadcasts++;
    long n = sio_nsp_deliver(nsp, to, &f, bc, id);
    nsp->io->stats->deliveries += n > 0 ? (uint64_t)n : 0;
    sio_frame_release(&f);
    size_t len = 0;
    char *data = is_local(nsp, to) ? NULL : sio_event_data(event, args_json, &len);
    if (data)
        sio_cluster_broadcast_ack(nsp, bc, to, data, len, bins, nbins, timeout_ms);
    else
        sio_bcast_servers(bc, 0);
    free(data);
    rc = sio_bcast_start(bc, timeout_ms);
    return rc < 0 ? rc : n;
}

static long join_or_leave(sio_namespace *nsp, const sio_target *to, const char *room, int leave)
{
    if (!room)
        return SIO_EINVAL;
    long n = sio_nsp_local_join(nsp, to, &room, 1, leave);
    if (!is_local(nsp, to)) {
        sio_cluster_msg m = sio_cluster_msg_make(
            leave ? SIO_CLUSTER_SOCKETS_LEAVE : SIO_CLUSTER_SOCKETS_JOIN, to, NULL, 0, NULL, 0);
        m.rooms = &room;
        m.nrooms = 1;
        sio_cluster_publish(nsp, &m);
    }
    return n;
}

long sio_namespace_sockets_join(sio_namespace *nsp, const sio_target *to, const char *room)
{
    return join_or_leave(nsp, to, room, 0);
}

long sio_namespace_sockets_leave(sio_namespace *nsp, const sio_target *to, const char *room)
{
    return join_or_leave(nsp, to, room, 1);
}

long sio_namespace_disconnect_sockets(sio_namespace *nsp, const sio_target *to, int close)
{
    /* published first: the local disconnects run application callbacks */
    if (!is_local(nsp, to)) {
        sio_cluster_msg m =
            sio_cluster_msg_make(SIO_CLUSTER_DISCONNECT_SOCKETS, to, NULL, 0, NULL, 0);
        m.close = close;
        sio_cluster_publish(nsp, &m);
    }
    return sio_nsp_local_disconnect(nsp, to, close);
}
