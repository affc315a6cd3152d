/*
 * Private structures of the Socket.IO layer (docs/protocol.md §2). Owner tree: sio_io ->
 * namespaces (name map), the adapter, pending cluster requests; a namespace -> its sockets (id
 * map, one reference each) and its room index (rooms.c); a client (one per Engine.IO session) ->
 * its sockets' membership in it. Sockets are refcounted so a handler that disconnects its own
 * socket never frees it under itself; the last unref frees. The layer sees the engine only
 * through eio_session_* calls and runs every timer on an sio_clock.
 */
#ifndef SIO_SOCKETIO_INTERNAL_H
#define SIO_SOCKETIO_INTERNAL_H

#include "io.h"
#include "rooms.h"

#include "common/buf.h"
#include "common/map.h"
#include "sio_binary.h"
#include "sio_packet.h"

typedef struct sio_client sio_client;
typedef struct sio_pending_ack sio_pending_ack;
typedef struct cluster_req cluster_req;

/* An encoded packet: the text message ("4" + Socket.IO packet) and its attachments, shared
 * read-only by every recipient. */
typedef struct sio_frame {
    sio_buf *text;
    sio_buf *bins[SIO_BINARY_MAX_ATTACHMENTS];
    size_t nbins;
} sio_frame;

struct sio_args {
    const char *data; /* the packet's JSON array, event name first for events */
    size_t data_len;
    size_t first; /* 1 for events (skip the name), 0 for acks */
    size_t argc;
    struct {
        const char *p;
        size_t n;
    } argv[32];
    sio_buf *const *bins;
    size_t nbins;
    char *array; /* lazily built "[...]" of the arguments */
    size_t array_len;
};

typedef struct handler {
    sio_event_cb cb;
    void *user;
} handler;

typedef struct middleware {
    sio_middleware_cb cb;
    void *user;
} middleware;

struct sio_namespace {
    size_t name_len;
    sio_io *io;
    sio_map sockets; /* id -> sio_socket */
    sio_rooms rooms;
    void *adapter_state; /* the adapter's, from nsp_open */
    sio_map handlers;    /* event -> handler* */
    handler any;
    middleware *mw;
    size_t nmw, cap_mw;
    sio_connection_cb on_connection;
    void *on_connection_user;
    sio_disconnect_cb on_disconnect;
    void *on_disconnect_user;
    sio_server_event_cb on_server_event;
    void *on_server_event_user;
    uint64_t next_ack_id;
    /* A dynamic child namespace is removed once nothing holds it (Node's
     * cleanupEmptyChildNamespaces): holds counts its sockets (connected or still referenced),
     * client acks, broadcast acks and cluster requests in flight; pinned is set when the
     * application asked for it by name (sio_server_of), which keeps it for good. */
    int dynamic;
    int pinned;
    size_t holds;
    int gc_queued;
    sio_namespace *gc_next;
    /* Walks of the room index in progress (sio_nsp_resolve, nested ones included), and the
     * sockets whose last reference went during them: freed when the outermost walk ends, so a
     * walk's selection never points at freed memory and needs no reference per member. */
    unsigned walks;
    sio_socket *dead;
    char name[]; /* NUL-terminated, allocated with the struct */
};

typedef struct socket_slot {
    const sio_slot *key;
    void *value;
    void (*free_fn)(void *);
} socket_slot;

struct sio_socket {
    char id[SIO_ID_LEN + 1];
    unsigned refcnt;
    int connected; /* next to refcnt: fills the padding after id */
    sio_namespace *nsp;
    sio_client *client; /* NULL once disconnected */
    char *auth;
    char *data; /* JSON; NULL = "{}" */
    socket_slot *slots;
    size_t nslots, cap_slots;
    sio_room_set rooms;
    sio_pending_ack *acks;
    sio_next *next;      /* the middleware answer awaited, if any */
    size_t mw_index;     /* next middleware to run */
    sio_timer *mw_timer; /* bounds the wait for an asynchronous middleware */
    sio_socket *next_in_client;
    sio_socket *next_dead; /* in nsp->dead */
};

struct sio_client {
    sio_io *io;
    eio_session *eio;
    sio_socket *sockets; /* connected ones */
    sio_socket *pending; /* in middleware (linked by next_in_client too) */
    size_t nsockets;
    sio_timer *connect_timer;
    int closed;
    int busy;       /* packets being dispatched: the client is freed only when this drops to 0 */
    sio_binary bin; /* decodes packets; holds a BINARY_* header until its sio_buf attachments
                     * arrive (docs/protocol.md §2.5) */
};

typedef struct dyn_parent {
    sio_namespace_match_cb match;
    sio_namespace_setup_cb setup;
    void *user;
} dyn_parent;

/* The adapter host handed to the adapter: the io itself. */
struct sio_adapter_host {
    sio_io *io;
};

struct sio_io {
    sio_server *owner;
    struct event_base *base;
    sio_clock *clock;
    sio_socketio_config opts;
    unsigned requests_timeout_ms;
    sio_server_stats *stats;
    sio_binary_limits limits; /* shared by every client's reassembler */
    sio_map nsps;
    dyn_parent *dyn;
    size_t ndyn, cap_dyn;
    size_t ndyn_alive; /* dynamic child namespaces now (bounded by max_dynamic_namespaces) */
    uint64_t ns_refused_logged_ms;
    sio_namespace *gc;   /* namespaces that may have become empty */
    sio_timer *gc_timer; /* removes them outside any callback running on them */
    /* cluster (cluster.c) */
    struct sio_adapter_host host;
    const sio_adapter_ops *aops;
    void *adapter;
    sio_map requests;         /* request id -> cluster_req */
    struct bcast_ack *bcasts; /* broadcasts with acks not finished yet (ack.c) */
    uint64_t next_request;
    int shutting_down;
};

/* namespace.c */
sio_namespace *sio_nsp_new(sio_io *io, const char *name, size_t len);
void sio_nsp_free(sio_namespace *nsp);
void sio_nsp_hold(sio_namespace *nsp);
void sio_nsp_release(sio_namespace *nsp);
/* Queues a dynamic child namespace that nothing holds for removal (deferred to the gc timer). */
void sio_nsp_collect(sio_namespace *nsp);
/* Finds the namespace of a CONNECT, creating a dynamic child if a parent matches; NULL when
 * there is none (or at max_dynamic_namespaces). */
sio_namespace *sio_nsp_lookup(sio_io *io, const sio_packet *p);
/* Starts the connection of a new socket (middleware, then CONNECT reply). */
int sio_nsp_connect(sio_namespace *nsp, sio_client *c, const sio_packet *p);
/* Fails pending middleware answers of the client's sockets (the connection is gone). */
void sio_nsp_abort_pending(sio_client *c);
/* The io's gc timer: removes the dynamic children queued by sio_nsp_collect. */
void sio_io_gc(void *arg);

/* socket.c */
sio_socket *sio_socket_new(sio_namespace *nsp, sio_client *c, const char *auth, size_t auth_len);
void sio_socket_ref(sio_socket *s);
/* Drops a reference; the last one frees s, or queues it on nsp->dead during a walk. */
void sio_socket_unref(sio_socket *s);
/* Frees the sockets queued on nsp->dead (called when the outermost walk ends). */
void sio_nsp_free_dead(sio_namespace *nsp);
/* Marks s connected: id map, own room, client list. Returns 0 or SIO_ENOMEM. */
int sio_socket_attach(sio_socket *s);
void sio_socket_close(sio_socket *s, const char *reason, int notify_client);
/* Writes s as a sio_socket_info JSON object's pieces into info (strings borrowed from s;
 * rooms in the caller's array of cap entries). */
void sio_socket_info_of(const sio_socket *s, sio_socket_info *info, const char **rooms);

/* client.c */
void sio_client_close(sio_client *c, eio_close_reason reason);
int sio_client_send(sio_client *c, const sio_frame *f, int flags);
void sio_client_link(sio_client *c, sio_socket *s);
void sio_client_unlink(sio_client *c, sio_socket *s);

/* frame.c */
/* flags: sio_emit_flags; with SIO_EMIT_TRUSTED_JSON args is not validated again. */
int sio_frame_encode(sio_io *io, sio_frame *f, sio_packet_type type, const char *nsp, int64_t id,
                     const char *event, const char *args, size_t args_len, const sio_bin *bins,
                     size_t nbins, int flags);
int sio_frame_encode_raw(sio_io *io, sio_frame *f, sio_packet_type type, const char *nsp,
                         int64_t id, const char *json, size_t json_len);
/* Encodes a packet whose data array ["event", ...] or [...ack args] is given whole. */
int sio_frame_encode_data(sio_io *io, sio_frame *f, sio_packet_type type, const char *nsp,
                          int64_t id, const char *data, size_t data_len, const sio_bin *bins,
                          size_t nbins);
void sio_frame_release(sio_frame *f);
/* The packet data ["event", ...args] (malloc'd; args_json already checked). */
char *sio_event_data(const char *event, const char *args_json, size_t *len);
/* Sends a packet without arguments or with a raw JSON object (CONNECT, DISCONNECT, errors). */
void sio_client_send_simple(sio_client *c, sio_packet_type type, const char *nsp, const char *json,
                            size_t len);

/* args.c */
int sio_args_init(sio_args *a, const char *data, size_t len, size_t first, sio_buf *const *bins,
                  size_t nbins);
/* The same from a decoded packet, whose elements the decoder located: no second scan. */
void sio_args_init_packet(sio_args *a, const sio_packet *p, size_t first, sio_buf *const *bins,
                          size_t nbins);
void sio_args_deinit(sio_args *a);
/* A heap copy of ack arguments (data and attachments), freed with sio_args_free. */
sio_args *sio_args_copy(const char *data, size_t len, sio_buf *const *bins, size_t nbins);
sio_args *sio_args_copy_bins(const char *data, size_t len, const sio_bin *bins, size_t nbins);
void sio_args_free(sio_args *a);
/* Frees the n answers of v and v itself (the responses collected by an ack or a request). */
void sio_args_free_all(sio_args **v, size_t n);

/* The first expiry of a kick-then-timeout timer t, as broadcasts with acks and cluster requests
 * use one: a 0-ms kick first, so that completion is never reported inside the call that started
 * them, then the timeout. Sets *kicked, runs check(obj) (which may complete it: *done) and,
 * unless that happened, arms t with timeout_ms (0: no timeout). The caller holds a reference to
 * obj across the call. */
static inline void sio_kick(sio_timer *t, int *kicked, const int *done, unsigned timeout_ms,
                            void (*check)(void *obj), void *obj)
{
    *kicked = 1;
    check(obj);
    if (!*done && timeout_ms)
        sio_timer_start(t, timeout_ms);
}

/* ack.c */
void sio_socket_on_packet(sio_socket *s, const sio_packet *p, sio_buf *const *bins, size_t nbins);
void sio_socket_fail_acks(sio_socket *s);
typedef struct bcast_ack bcast_ack;
/* A broadcast with acks: local recipients register a part each (sio_bcast_add_part). */
bcast_ack *sio_bcast_new(sio_namespace *nsp, sio_broadcast_ack_cb cb, void *user);
int sio_bcast_add_part(bcast_ack *bc, sio_socket *s, uint64_t id);
/* Remote servers: a count of their recipients, then one response each. */
void sio_bcast_remote_count(bcast_ack *bc, uint64_t n);
void sio_bcast_remote_response(bcast_ack *bc, sio_args *answer);
/* Expected server responses (server count - 1), once known. */
void sio_bcast_servers(bcast_ack *bc, size_t others);
int sio_bcast_start(bcast_ack *bc, unsigned timeout_ms);
void sio_bcast_set_req(bcast_ack *bc, cluster_req *req);
void sio_bcast_set_each(bcast_ack *bc, void (*each)(const sio_args *answer, void *user));
/* 0 for an event name the application may use. */
int sio_check_event(const char *event);
void sio_bcast_shutdown(bcast_ack *bc);
/* Finishes every broadcast with acks still waiting with SIO_ECLOSED (shutdown). */
void sio_bcast_fail_all(sio_io *io);
/* The ack object handed to server-side event handlers (answers go back through the adapter). */
sio_ack *sio_ack_new_remote(sio_namespace *nsp, const char *requester, const char *request_id);
void sio_ack_handler_done(sio_ack *ack);

/* broadcast.c */
/* Calls visit for every local socket of the target (NULL: all), each once. */
long sio_nsp_resolve(sio_namespace *nsp, const sio_target *to,
                     int (*visit)(sio_socket *s, void *arg), void *arg);
/* Delivers an encoded frame to the local sockets of the target; with bc, each registers a part
 * of the broadcast ack under id. Returns the recipients. */
long sio_nsp_deliver(sio_namespace *nsp, const sio_target *to, const sio_frame *f, bcast_ack *bc,
                     uint64_t id);
long sio_nsp_local_join(sio_namespace *nsp, const sio_target *to, const char *const *rooms,
                        size_t nrooms, int leave);
long sio_nsp_local_disconnect(sio_namespace *nsp, const sio_target *to, int close);

/* cluster.c */
int sio_cluster_open(sio_io *io, sio_namespace *nsp);
void sio_cluster_close(sio_io *io, sio_namespace *nsp);
void sio_cluster_room_changed(sio_namespace *nsp, const char *room, size_t len, int created);
/* Publishes msg (nsp and type set by the caller) unless the adapter is the local one. */
void sio_cluster_publish(sio_namespace *nsp, sio_cluster_msg *msg);
/* A message of type for the sockets of to (NULL: all of them) carrying data and bins (each
 * borrowed, as sio_cluster_msg says); the caller sets the fields its type adds. */
static inline sio_cluster_msg sio_cluster_msg_make(sio_cluster_type type, const sio_target *to,
                                                   const char *data, size_t len,
                                                   const sio_bin *bins, size_t nbins)
{
    sio_cluster_msg m = {.type = type, .data = data, .data_len = len, .bins = bins, .nbins = nbins};
    if (to)
        m.target = *to;
    return m;
}
/* Whether there can be other servers (the adapter is not the in-memory one). */
int sio_cluster_is_shared(const sio_io *io);
/* Publishes an answer (type SERVER_SIDE_EMIT_RESPONSE, from an ack of ack.c, or BROADCAST_ACK)
 * to the request_id of requester. */
void sio_cluster_reply(sio_namespace *nsp, sio_cluster_type type, const char *requester,
                       const char *request_id, const char *data, size_t len, const sio_bin *bins,
                       size_t nbins);
/* Broadcast with acks across the cluster: publishes and tracks the remote part. data NULL: a
 * local broadcast (or one received), only tracked so that shutdown reports SIO_ECLOSED. */
int sio_cluster_broadcast_ack(sio_namespace *nsp, bcast_ack *bc, const sio_target *to,
                              const char *data, size_t len, const sio_bin *bins, size_t nbins,
                              unsigned timeout_ms);
void sio_cluster_fail_all(sio_io *io);

/* requests.c */
/* A response from another server: completes (or feeds) the pending request it names. */
int sio_cluster_response(sio_io *io, const sio_cluster_msg *m);
/* Deep copy of a snapshot (strings and rooms owned), and its release. */
int sio_socket_info_copy(sio_socket_info *dst, const sio_socket_info *src);
void sio_socket_info_free(sio_socket_info *s);
/* Calls fn with the snapshot of each local socket of the target (borrowed for the call). */
long sio_nsp_snapshots(sio_namespace *nsp, const sio_target *to,
                       int (*fn)(void *arg, const sio_socket_info *info), void *arg);
/* A broadcast with acks finished: its request stops routing answers. */
void sio_cluster_req_detach(cluster_req *r);
void sio_cluster_free(sio_io *io);

#endif
