/*
 * The adapter host (include/sio/adapter.h, docs/adapter.md): what this server publishes to the
 * others, and the one inbound entry point for what they publish: broadcasts (encoded once for
 * every local recipient), joins, leaves, disconnects, requests answered from local state, and
 * responses handed to the pending requests of requests.c.
 */
#include "internal.h"

#include "common/array.h"
#include "common/log.h"
#include "common/rand.h"
#include "json_scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    msg->target.flags &= ~(SIO_EMIT_LOCAL | SIO_EMIT_TRUSTED_JSON); /* this node only */
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

void sio_cluster_reply(sio_namespace *nsp, sio_cluster_type type, const char *requester,
                       const char *request_id, const char *data, size_t len, const sio_bin *bins,
                       size_t nbins)
{
    sio_cluster_msg m = sio_cluster_msg_make(type, NULL, data, len, bins, nbins);
    m.requester = requester;
    m.request_id = request_id;
    sio_cluster_publish(nsp, &m);
}

/* ---- inbound ------------------------------------------------------------------------------ */

typedef struct remote_bcast {
    sio_namespace *nsp;
    const char *requester; /* in text */
    const char *request_id;
    char text[]; /* requester and request_id, allocated with the struct */
} remote_bcast;

/* Each local answer to a broadcast another server started goes back to it at once. */
static void remote_bcast_each(const sio_args *a, void *user)
{
    remote_bcast *rb = user;
    sio_bin bins[SIO_BINARY_MAX_ATTACHMENTS];
    size_t nb = a->nbins < SIO_BINARY_MAX_ATTACHMENTS ? a->nbins : SIO_BINARY_MAX_ATTACHMENTS;
    for (size_t i = 0; i < nb; i++)
        bins[i] = (sio_bin){sio_buf_data(a->bins[i]), a->bins[i]->len};
    sio_cluster_reply(rb->nsp, SIO_CLUSTER_BROADCAST_ACK, rb->requester, rb->request_id, a->data,
                      a->data_len, bins, nb);
}

static void remote_bcast_done(sio_namespace *nsp, int status, const sio_args *const *r, size_t n,
                              void *user)
{
    free(user);
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
        long n = sio_nsp_deliver(nsp, &to, &f, NULL, 0);
        io->stats->deliveries += n > 0 ? (uint64_t)n : 0;
        sio_frame_release(&f);
        return 0;
    }
    const char *requester = m->uid ? m->uid : "";
    size_t lr = strlen(requester) + 1, li = strlen(m->request_id) + 1;
    remote_bcast *rb = calloc(1, sizeof(*rb) + lr + li);
    bcast_ack *bc = rb ? sio_bcast_new(nsp, remote_bcast_done, rb) : NULL;
    if (!bc) {
        free(rb);
        sio_frame_release(&f);
        return SIO_ENOMEM;
    }
    rb->nsp = nsp;
    rb->requester = memcpy(rb->text, requester, lr);
    rb->request_id = memcpy(rb->text + lr, m->request_id, li);
    sio_bcast_set_each(bc, remote_bcast_each);
    long n = sio_nsp_deliver(nsp, &to, &f, bc, id);
    io->stats->deliveries += n > 0 ? (uint64_t)n : 0;
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
    if (sio_array_grow(&rs->v, &rs->cap, rs->n, sizeof(*rs->v), 16) < 0 ||
        sio_socket_info_copy(&rs->v[rs->n], info) < 0)
        return -1;
    rs->n++;
    return 0;
}

/* The requests below are answered to their request_id: one without it is dropped (SIO_EINVAL). */
static int recv_fetch(sio_namespace *nsp, const sio_cluster_msg *m)
{
    if (!m->request_id)
        return SIO_EINVAL;
    resp_socks rs = {0};
    sio_target to = m->target;
    to.flags |= SIO_EMIT_LOCAL;
    sio_nsp_snapshots(nsp, &to, keep_info, &rs);
    sio_cluster_msg r = {.type = SIO_CLUSTER_FETCH_SOCKETS_RESPONSE,
                         .requester = m->uid,
                         .request_id = m->request_id,
                         .sockets = rs.v,
                         .nsockets = rs.n};
    sio_cluster_publish(nsp, &r);
    for (size_t i = 0; i < rs.n; i++)
        sio_socket_info_free(&rs.v[i]);
    free(rs.v);
    return 0;
}

static int recv_all_rooms(sio_namespace *nsp, const sio_cluster_msg *m)
{
    if (!m->request_id)
        return SIO_EINVAL;
    size_t n = sio_rooms_count(&nsp->rooms), i = 0;
    const char **v = malloc((n ? n : 1) * sizeof(*v));
    if (!v)
        return 0; /* the requester times out, as when this server is slow */
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
    return 0;
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
            rc = recv_fetch(nsp, m);
            break;
        case SIO_CLUSTER_ALL_ROOMS:
            rc = recv_all_rooms(nsp, m);
            break;
        case SIO_CLUSTER_SERVER_SIDE_EMIT:
            rc = recv_server_event(nsp, m);
            break;
        default:
            rc = sio_cluster_response(io, m);
            break;
        }
        sio_nsp_release(nsp);
    }
    if (rc < 0)
        io->stats->adapter_dropped++;
    return rc < 0 ? SIO_EINVAL : 0;
}

void sio_adapter_host_dropped(sio_adapter_host *host)
{
    sio_io *io = host->io;
    if (io->shutting_down)
        return;
    io->stats->adapter_received++;
    io->stats->adapter_dropped++;
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
