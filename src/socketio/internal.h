/*
 * Private structures of the Socket.IO layer (docs/protocol.md §2). Owner tree: sio_server ->
 * engine, http, namespaces; a namespace -> its sockets (id map) and rooms (the in-memory adapter's
 * two-way index); a client (one per Engine.IO session) -> its sockets' membership in it.
 * Sockets are refcounted so a handler that disconnects its own socket never frees it under
 * itself; the last unref frees.
 */
#ifndef SIO_SOCKETIO_INTERNAL_H
#define SIO_SOCKETIO_INTERNAL_H

#include <sio/sio.h>

#include "common/buf.h"
#include "common/map.h"
#include "engine/engine.h"
#include "http/http.h"
#include "sio_binary.h"
#include "sio_packet.h"

#include <event2/event.h>

typedef struct sio_client sio_client;
typedef struct sio_room sio_room;
typedef struct sio_pending_ack sio_pending_ack;

/* An encoded packet: the text message ("4" + Socket.IO packet) and its attachments, shared
 * read-only by every recipient. */
typedef struct sio_frame {
    sio_buf *text;
    sio_buf *bins[16];
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

typedef struct room_member {
    sio_socket *s;
    size_t slot; /* index in s->rooms */
} room_member;

struct sio_room {
    sio_map_entry *entry; /* in nsp->rooms; its key is the name */
    room_member *members;
    size_t n, cap;
};

typedef struct socket_room {
    sio_room *room;
    size_t idx; /* index in room->members */
} socket_room;

typedef struct handler {
    sio_event_cb cb;
    void *user;
} handler;

typedef struct middleware {
    sio_middleware_cb cb;
    void *user;
} middleware;

struct sio_namespace {
    char *name;
    sio_server *srv;
    sio_map sockets;             /* id -> sio_socket */
    struct sio_adapter *adapter; /* rooms and target resolution (src/adapter) */
    sio_map handlers;            /* event -> handler* */
    handler any;
    middleware *mw;
    size_t nmw;
    sio_connection_cb on_connection;
    void *on_connection_user;
    sio_disconnect_cb on_disconnect;
    void *on_disconnect_user;
    uint64_t next_ack_id;
    /* A dynamic child namespace is removed once nothing holds it (Node's
     * cleanupEmptyChildNamespaces): holds counts its sockets (connected or still referenced),
     * client acks and broadcast acks in flight; pinned is set when the application asked for it
     * by name (sio_server_of), which keeps it for good. */
    int dynamic;
    int pinned;
    size_t holds;
    int gc_queued;
    sio_namespace *gc_next;
};

struct sio_socket {
    char id[SIO_ID_LEN + 1];
    unsigned refcnt;
    sio_namespace *nsp;
    sio_client *client; /* NULL once disconnected */
    int connected;
    char *auth;
    void *data;
    void (*data_free)(void *);
    socket_room *rooms;
    size_t nrooms, rooms_cap;
    sio_pending_ack *acks;
    uint64_t seen_gen;   /* last broadcast generation that selected this socket */
    uint64_t except_gen; /* last broadcast generation that excluded this socket */
    char *refuse_msg;
    char *refuse_data;
    sio_socket *next_in_client;
};

struct sio_client {
    sio_server *srv;
    eio_session *eio;
    sio_socket *sockets;
    size_t nsockets;
    struct event *connect_timer;
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

struct sio_server {
    struct event_base *base;
    int own_base;
    sio_server_options opts;
    sio_binary_limits limits; /* shared by every client's reassembler */
    eio_server *engine;
    sio_http *http;
    sio_map nsps;
    dyn_parent *dyn;
    size_t ndyn;
    size_t ndyn_alive; /* dynamic child namespaces now (bounded by max_dynamic_namespaces) */
    uint64_t ns_created, ns_removed, ns_refused;
    uint64_t sockets_connected, middleware_refusals, ack_timeouts, broadcasts;
    struct timeval ns_refused_logged;
    sio_namespace *gc;   /* namespaces that may have become empty */
    struct event *gc_ev; /* removes them outside any callback running on them */
    struct event *sigint, *sigterm;
    struct event *drain_ev; /* graceful shutdown: polls for the last connection to go */
    struct timeval drain_start;
    int draining;
};

/* socket.c */
sio_socket *sio_socket_new(sio_namespace *nsp, sio_client *c, const char *auth, size_t auth_len);
void sio_socket_ref(sio_socket *s);
void sio_socket_unref(sio_socket *s);
void sio_socket_close(sio_socket *s, const char *reason, int notify_client);
void sio_nsp_free(sio_namespace *nsp);
sio_namespace *sio_nsp_new(sio_server *srv, const char *name, size_t len);
int sio_nsp_connect(sio_namespace *nsp, sio_client *c, const sio_packet *p);
void sio_nsp_hold(sio_namespace *nsp);
void sio_nsp_release(sio_namespace *nsp);
/* Queues a dynamic child namespace that nothing holds for removal (deferred to the gc event). */
void sio_nsp_collect(sio_namespace *nsp);

/* emit.c */
int sio_frame_encode(sio_frame *f, sio_packet_type type, const char *nsp, int64_t id,
                     const char *event, const char *args, size_t args_len, const sio_bin *bins,
                     size_t nbins);
int sio_frame_encode_raw(sio_frame *f, sio_packet_type type, const char *nsp, int64_t id,
                         const char *json, size_t json_len);
void sio_frame_release(sio_frame *f);
int sio_client_send(sio_client *c, const sio_frame *f, int flags);
void sio_socket_on_packet(sio_socket *s, const sio_packet *p, sio_buf *const *bins, size_t nbins);
void sio_socket_fail_acks(sio_socket *s);
int sio_args_init(sio_args *a, const char *data, size_t len, size_t first, sio_buf *const *bins,
                  size_t nbins);
void sio_args_deinit(sio_args *a);

/* server.c */
void sio_client_close(sio_client *c, eio_close_reason reason);

#endif
