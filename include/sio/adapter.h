/*
 * sio adapters: the cluster bus between servers (docs/adapter.md).
 *
 * Rooms, sockets and delivery belong to the Socket.IO layer of each server. An adapter only
 * carries what one server does to the others and hands what the others did to this one:
 *
 *   local operation ──► ops->publish(msg) ──► (Redis, NATS, ...) ──► other servers
 *   other servers ──► (the adapter's connection) ──► sio_adapter_host_receive(host, msg)
 *
 * Message shapes follow the cluster messages of Node's socket.io adapters (the ClusterAdapter
 * types of @socket.io/redis-adapter 8.x, docs/protocol-adapter.md §4.2; the classic requests of
 * §2.4 map onto the same set), so an adapter speaking Node's wire format translates field by
 * field. One adapter instance serves a whole server (one shared connection); each namespace gets
 * its own state through nsp_open.
 *
 * Requests (fetch sockets, all rooms, server-side emit with ack, broadcast with ack) are tracked
 * by the Socket.IO layer: it asks ops->server_count how many servers there are, publishes the
 * request with a request id, and matches the responses that come back through
 * sio_adapter_host_receive by that id until it has them all or the requests timeout passed. An
 * adapter never waits for anything itself.
 *
 * Threading and re-entrancy: as in sio.h, everything runs on the server's loop thread. The host
 * never calls ops->publish from inside sio_adapter_host_receive for the same message, but a
 * receive may trigger publishes (a response to a request); adapters must accept that.
 */
#ifndef SIO_ADAPTER_PUBLIC_H
#define SIO_ADAPTER_PUBLIC_H

#include <sio/sio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The Socket.IO layer of one server, as an adapter sees it (borrowed by the adapter; valid
 *  from ops->create until ops->free returns). */
typedef struct sio_adapter_host sio_adapter_host;

/** Cluster message types (numbered as Node's ClusterAdapter MessageType). */
typedef enum sio_cluster_type {
    SIO_CLUSTER_BROADCAST = 3,                  /* packet to target; request_id set: with acks */
    SIO_CLUSTER_SOCKETS_JOIN = 4,               /* target sockets join rooms */
    SIO_CLUSTER_SOCKETS_LEAVE = 5,              /* target sockets leave rooms */
    SIO_CLUSTER_DISCONNECT_SOCKETS = 6,         /* target sockets disconnect (close) */
    SIO_CLUSTER_FETCH_SOCKETS = 7,              /* request: target sockets' snapshots */
    SIO_CLUSTER_FETCH_SOCKETS_RESPONSE = 8,     /* response: sockets */
    SIO_CLUSTER_SERVER_SIDE_EMIT = 9,           /* event to the other servers; request_id: acked */
    SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE = 10, /* response: the ack's arguments */
    SIO_CLUSTER_BROADCAST_CLIENT_COUNT = 11,    /* response: recipients of a broadcast w/ acks */
    SIO_CLUSTER_BROADCAST_ACK = 12,             /* response: one client's ack arguments */
    SIO_CLUSTER_ALL_ROOMS = 20,                 /* request: room names (classic type 1) */
    SIO_CLUSTER_ALL_ROOMS_RESPONSE = 21,        /* response: rooms */
} sio_cluster_type;

/** One socket as fetchSockets sees it on any server: a snapshot, never a live object. All JSON
 *  texts are complete values; rooms includes the socket's own room (its id). */
typedef struct sio_socket_info {
    const char *id;
    const char *const *rooms;
    size_t nrooms;
    const char *data_json;      /* Node's socket.data ("{}" when never set) */
    const char *handshake_json; /* headers, query, address, ... (never the auth object) */
} sio_socket_info;

/**
 * A cluster message. Every pointer is borrowed for the call it is passed to (publish or
 * receive); copy what you keep. Which fields a type uses:
 *   BROADCAST            target, packet_type, data/bins (["event", ...args]), request_id when
 *                        acks are wanted (then ack_timeout_ms)
 *   SOCKETS_JOIN/LEAVE   target, rooms
 *   DISCONNECT_SOCKETS   target, close
 *   FETCH_SOCKETS        target, request_id
 *   ALL_ROOMS            request_id
 *   SERVER_SIDE_EMIT     data/bins (["event", ...args]), request_id when an ack is wanted
 *   *_RESPONSE, BROADCAST_CLIENT_COUNT, BROADCAST_ACK
 *                        request_id, requester (the uid that asked), and: sockets (fetch),
 *                        rooms (all rooms), data/bins (the ack's arguments as a JSON array),
 *                        client_count
 * data is JSON text with binary attachments as placeholders {"_placeholder":true,"num":N} into
 * bins, exactly like the arguments of sio.h.
 */
typedef struct sio_cluster_msg {
    sio_cluster_type type;
    const char *nsp;        /* namespace name, "/" at least */
    const char *uid;        /* receive: the sending server's id, NULL if unknown (an emitter) */
    const char *requester;  /* responses: the server the response is for */
    const char *request_id; /* NULL when not a request or response */
    sio_target target;      /* rooms, except, flags (SIO_EMIT_VOLATILE ...) */
    int packet_type;        /* BROADCAST: 2 EVENT (5 BINARY_EVENT accepted on receive) */
    const char *data;       /* JSON text (see above); NULL = none */
    size_t data_len;
    const sio_bin *bins;
    size_t nbins;
    const char *const *rooms; /* join/leave rooms, all-rooms response */
    size_t nrooms;
    int close; /* DISCONNECT_SOCKETS: also close the connection */
    const sio_socket_info *sockets;
    size_t nsockets;
    uint64_t client_count; /* BROADCAST_CLIENT_COUNT */
    unsigned ack_timeout_ms;
} sio_cluster_msg;

/** Result of ops->server_count: the number of servers in the cluster, this one included. */
typedef void (*sio_server_count_cb)(size_t servers, void *arg);

/**
 * What an adapter implements. Optional members may be NULL. Every function runs on the loop.
 */
typedef struct sio_adapter_ops {
    const char *name;
    /** Creates the adapter of one server. host: the Socket.IO layer (borrowed until free).
     *  config: the adapter's own options (sio_server_options.adapter.config, borrowed until
     *  free). Returns the adapter's state, or NULL on failure (server creation fails). */
    void *(*create)(sio_adapter_host *host, void *config);
    /** Frees it; no call reaches the host after this returns. */
    void (*free)(void *self);
    /** A namespace now exists on this server (subscribe to its channels). *nsp_state receives
     *  the adapter's state for it, handed back to every per-namespace call. Returns 0 or a
     *  negative SIO_E* code (the namespace is not created). */
    int (*nsp_open)(void *self, const char *nsp, void **nsp_state);
    /** The namespace is gone (a dynamic namespace that emptied, or server shutdown). */
    void (*nsp_close)(void *self, void *nsp_state);
    /** Optional: a room of the namespace got its first local member (created=1) or lost its
     *  last (created=0). socket_room is 1 for a socket's own room (named by its id; Node's
     *  sharded "dynamic" mode subscribes only to the others). For subscriptions per room. */
    void (*room_changed)(void *self, void *nsp_state, const char *room, size_t len, int created,
                         int socket_room);
    /** Sends what this server did, or a response, to the other servers. Must not call back
     *  into the host synchronously. Returns 0 or a negative SIO_E* code (counted as dropped). */
    int (*publish)(void *self, void *nsp_state, const sio_cluster_msg *msg);
    /** Calls done exactly once with the number of servers (this one included), now or later.
     *  NULL means a lone server (1). */
    void (*server_count)(void *self, void *nsp_state, sio_server_count_cb done, void *arg);
    /** This server's id in the cluster (borrowed, valid until free); NULL: "local". */
    const char *(*uid)(void *self);
    /** Optional: 1 while the adapter reaches the other servers (its connection is up), else 0.
     *  NULL: always 1. For the statistics (sio_server_stats.adapter_up). */
    int (*is_up)(void *self);
    /** Optional: messages handed to publish that the broker has not taken yet. A draining
     *  server (sio_server_options.drain_seconds) lets the loop run until it is 0 (or its
     *  deadline) before it stops. NULL: always 0. */
    size_t (*pending)(void *self);
} sio_adapter_ops;

/** The in-memory adapter: a lone server (publishes nothing, server count 1). The default. */
SIO_API const sio_adapter_ops *sio_adapter_memory(void);

/**
 * The inbound entry point: hands one message from another server to the Socket.IO layer.
 * Broadcasts are encoded once and the frame is shared by every local recipient; join, leave and
 * disconnect apply to local sockets; requests are answered through ops->publish with a response
 * addressed to msg->uid; responses complete the pending request they name. Messages for a
 * namespace that does not exist here are dropped; a message with a bad field is dropped and
 * counted (sio_server_stats.adapter_dropped). Borrows msg. Runs application callbacks (server
 * event handlers, ack and fetch callbacks) synchronously. Returns 0 or SIO_EINVAL.
 */
SIO_API int sio_adapter_host_receive(sio_adapter_host *host, const sio_cluster_msg *msg);

/** Counts a message the adapter received but could not hand over (undecodable, over a limit,
 *  a refused format): sio_server_stats.adapter_received and adapter_dropped grow by one, as for
 *  a message sio_adapter_host_receive drops. */
SIO_API void sio_adapter_host_dropped(sio_adapter_host *host);

/** The loop the server runs on (for the adapter's own connections). */
SIO_API struct event_base *sio_adapter_host_base(const sio_adapter_host *host);

/** The public server the host belongs to. */
SIO_API sio_server *sio_adapter_host_server(const sio_adapter_host *host);

/** Writes one log line through the server's log sink (module "adapter"). */
SIO_API void sio_adapter_host_log(const sio_adapter_host *host, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
