/*
 * sio: a Socket.IO v4 (protocol v5) / Engine.IO v4 server for C programs.
 *
 * Threading: every function must be called on the thread running the server's event loop, and
 * every callback runs on it. Nothing here is thread-safe.
 *
 * Ownership words used below: "borrows" (the pointer must stay valid for the call only),
 * "copies" (sio keeps its own copy), "borrowed, valid until ..." (a pointer sio returns that
 * the caller must not free).
 *
 * Arguments travel as JSON text. An event's arguments are a JSON array ("[1,\"two\",{}]"); a
 * binary argument is the placeholder object {"_placeholder":true,"num":N} referring to the N-th
 * attachment, exactly as on the wire, so binary data can sit anywhere in the arguments.
 */
#ifndef SIO_SIO_H
#define SIO_SIO_H

#include <stddef.h>
#include <stdint.h>

#include <sio/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SIO_API __attribute__((visibility("default")))
#else
#define SIO_API
#endif

#define SIO_VERSION_MAJOR 0
#define SIO_VERSION_MINOR 1
#define SIO_VERSION_PATCH 0

struct event_base;

typedef struct sio_server sio_server;
typedef struct sio_namespace sio_namespace;
typedef struct sio_socket sio_socket;
typedef struct sio_args sio_args;
typedef struct sio_ack sio_ack;

/** A binary attachment: bytes and their length (borrowed by the call it is passed to). */
typedef struct sio_bin {
    const void *data;
    size_t len;
} sio_bin;

/* ---- server ------------------------------------------------------------------------------- */

/* Options, in groups by layer; fill with sio_server_options_init() and then override. */

/** HTTP front: listening, TLS, CORS, cookie, compression, connection limits. */
typedef struct sio_http_config {
    const char *host;     /* interface to bind; NULL = all */
    int port;             /* 3000; 0 = any free port (see sio_server_port) */
    const char *tls_cert; /* PEM files: serve HTTPS/WSS when both are set */
    const char *tls_key;
    const char *cors_origin;      /* NULL = no CORS; "*"; "reflect"; or "a,b,c" exact origins */
    int cors_credentials;         /* 0 */
    const char *cors_methods;     /* NULL: GET,HEAD,PUT,PATCH,POST,DELETE */
    const char *cors_headers;     /* NULL: reflect Access-Control-Request-Headers */
    int cors_max_age;             /* seconds; < 0 (default -1) = header omitted */
    const char *cookie_name;      /* NULL = no io cookie; e.g. "io" */
    const char *cookie_path;      /* "/" */
    int cookie_http_only;         /* 1 */
    const char *cookie_same_site; /* "Lax" */
    int cookie_secure;            /* 0 */
    size_t http_compression_threshold; /* 1024; 0 = never gzip polling responses */
    int per_message_deflate;           /* 0 */
    size_t max_header_bytes;           /* 8192 */
    unsigned close_deadline_ms; /* 30000: a connection being closed whose peer stops reading is
                                   dropped after this long */
    unsigned accept_backoff_ms; /* 100: out of descriptors at accept(), retry after this long */
} sio_http_config;

/** Engine.IO: transports, heartbeat, payload and queue limits (Node's engine.io options). */
typedef struct sio_engine_config {
    const char *path;            /* "/socket.io/" */
    unsigned ping_interval_ms;   /* 25000 */
    unsigned ping_timeout_ms;    /* 20000 */
    unsigned upgrade_timeout_ms; /* 10000 */
    unsigned close_timeout_ms;   /* 30000: how long a server close waits for a GET to carry it */
    size_t max_payload;          /* 1000000: bytes per message / POST body (maxHttpBufferSize) */
    int allow_polling;           /* 1 */
    int allow_websocket;         /* 1 */
    int allow_upgrades;          /* 1 */
    size_t max_buffered_bytes;   /* 16 MiB queued per connection before it is dropped */
    size_t max_buffered_packets; /* 100000 */
    size_t max_connections;      /* 0 = unlimited; handshakes beyond get 503 */
    const char *initial_packet;  /* NULL; a message packet sent right after open (tests) */
    unsigned allow_request_timeout_ms; /* 10000: an allow-request hook (include/sio/http.h)
                                          unanswered this long refuses the handshake */
} sio_engine_config;

/** Socket.IO: namespaces, packets, rooms. */
typedef struct sio_socketio_config {
    unsigned connect_timeout_ms;          /* 45000: close a connection that joins no namespace;
                                             also bounds asynchronous middleware */
    unsigned max_attachments;             /* 10 binary attachments per packet */
    unsigned max_json_depth;              /* 32 */
    size_t max_namespaces_per_connection; /* 64 */
    size_t max_rooms_per_socket;          /* 10000 */
    size_t max_dynamic_namespaces; /* 10000 dynamic child namespaces alive at once, at most */
} sio_socketio_config;

struct sio_adapter_ops;

/** The cluster adapter (include/sio/adapter.h). */
typedef struct sio_adapter_config {
    const struct sio_adapter_ops *ops; /* NULL = in-memory (a lone server) */
    void *config;                      /* handed to ops->create (borrowed until free) */
    unsigned requests_timeout_ms;      /* 5000: cluster requests (fetchSockets, allRooms,
                                          serverSideEmit acks) give up after this long */
} sio_adapter_config;

typedef struct sio_server_options {
    sio_http_config http;
    sio_engine_config engine;
    sio_socketio_config socketio;
    sio_adapter_config adapter;
    unsigned shutdown_timeout_ms; /* 10000: on SIGINT/SIGTERM, connections get this long to
                                     receive their close (held GETs the close packet) */
    const char *stats_path;       /* NULL = off; e.g. "/stats": GET answers sio_server_stats as
                                     JSON (for operators and tests) */
    const char *health_path;      /* "/health": GET answers {"status":"ok"}; NULL = off */
    unsigned drain_seconds;       /* 0: SIGTERM shuts down as SIGINT does. Else SIGTERM drains: new
                                     handshakes and the health route get 503, the open sessions are
                                     closed in batches spread over this many seconds (their clients
                                     reconnect elsewhere), then the shutdown above runs */
} sio_server_options;

/** Counters of a server since it started (monotonic) and gauges (now). */
typedef struct sio_server_stats {
    uint64_t accept_failures;      /* accept() calls that failed */
    uint64_t accept_pauses;        /* episodes of paused accepting at the descriptor limit */
    uint64_t close_deadline_drops; /* closing connections dropped at close_deadline_ms */
    uint64_t chunked_bodies;       /* polling POST bodies read with chunked transfer coding */
    uint64_t namespaces_created;   /* dynamic child namespaces created */
    uint64_t namespaces_removed;   /* empty dynamic child namespaces removed */
    uint64_t namespaces_refused;   /* CONNECTs refused at max_dynamic_namespaces */
    size_t connections;            /* HTTP and WebSocket connections open now */
    size_t sessions;               /* Engine.IO sessions now */
    size_t dynamic_namespaces;     /* dynamic child namespaces alive now */
    size_t sessions_websocket;     /* of sessions, those on WebSocket now (the rest poll) */
    uint64_t sessions_opened;      /* Engine.IO handshakes completed */
    uint64_t upgrades;             /* polling sessions upgraded to WebSocket */
    /* sessions closed, by reason (the Engine.IO close reasons) */
    uint64_t closes_transport_error, closes_transport_close, closes_forced, closes_ping_timeout,
        closes_parse_error, closes_server_shutdown, closes_slow_consumer, closes_payload_too_large;
    uint64_t packets_in, bytes_in;   /* Engine.IO message packets received, their bytes */
    uint64_t packets_out, bytes_out; /* Engine.IO packets queued for clients, their bytes */
    uint64_t packets_encoded;        /* Socket.IO packets encoded (a broadcast counts once) */
    uint64_t broadcasts;             /* namespace emits (with or without acks) */
    uint64_t deliveries;             /* broadcast packets queued for local clients (a broadcast
                                        from this or another server counts once per recipient) */
    uint64_t sockets_connected;      /* namespace connections accepted */
    uint64_t middleware_refusals;    /* namespace connections refused by middleware */
    uint64_t ack_timeouts;           /* emits with ack (one socket or broadcast) that timed out */
    uint64_t middleware_timeouts;    /* asynchronous middleware that did not answer in time */
    uint64_t handshakes_refused;     /* handshakes refused by the allow-request hook */
    uint64_t adapter_published;      /* cluster messages handed to the adapter */
    uint64_t adapter_received;       /* cluster messages received from other servers */
    uint64_t adapter_dropped;        /* received ones dropped (bad, unknown namespace) or failed
                                        publishes */
    uint64_t cluster_requests, cluster_timeouts; /* requests to other servers; timed out */
    int adapter_up; /* 1 while the adapter reaches the cluster (always 1 for the in-memory one) */
} sio_server_stats;

/** Fills out with the server's counters. */
SIO_API void sio_server_get_stats(const sio_server *srv, sio_server_stats *out);

/** Fills o with the defaults of Node's socket.io 4.8 (listed above): the only place defaults
 *  are written. */
SIO_API void sio_server_options_init(sio_server_options *o);

/**
 * Creates a server and starts listening. base: the libevent loop to run on (borrowed; it must
 * outlive the server), or NULL to let the server own one (then use sio_server_run). opts is
 * copied (strings too). Returns NULL on failure (logged to stderr).
 */
SIO_API sio_server *sio_server_new(struct event_base *base, const sio_server_options *opts);
/** The TCP port bound. */
SIO_API int sio_server_port(const sio_server *srv);
/** The event loop the server runs on (borrowed, valid until sio_server_free). */
SIO_API struct event_base *sio_server_base(const sio_server *srv);
/** Runs the loop until sio_server_stop() or SIGINT/SIGTERM. On the first signal the server
 *  shuts down gracefully: new handshakes get 503, every session is closed (a held long-poll GET
 *  is answered with the close packet, a WebSocket gets its close frame) and the loop runs until
 *  every connection is gone and the adapter has handed its queued messages to the broker, or
 *  shutdown_timeout_ms passed; a second signal stops at once. With drain_seconds, SIGTERM first
 *  drains (see sio_server_options). Returns 0. */
SIO_API int sio_server_run(sio_server *srv);
/** A signal the application handles (sio_server_on_signal), called on the loop. */
typedef void (*sio_signal_cb)(sio_server *srv, int sig, void *user);
/**
 * Lets the application handle sig (SIGHUP to reload, SIGUSR1, ...) on the server's loop while
 * sio_server_run owns it. SIGINT and SIGTERM stay the server's (shutdown and drain). Several
 * callbacks may share a signal; they run in the order registered. Returns 0, SIO_EINVAL for
 * SIGINT, SIGTERM, SIGPIPE or more than 8 callbacks, or SIO_ENOMEM.
 */
SIO_API int sio_server_on_signal(sio_server *srv, int sig, sio_signal_cb cb, void *user);
/**
 * Applies the limits of o that can change while clients are connected: engine.max_connections,
 * engine.max_buffered_bytes and engine.max_buffered_packets (read at each use), and
 * shutdown_timeout_ms and drain_seconds (read at the signal). Every other option needs a new
 * server.
 */
SIO_API void sio_server_update_limits(sio_server *srv, const sio_server_options *o);
/** Whether the server is shutting down or draining (its health route answers 503). */
SIO_API int sio_server_draining(const sio_server *srv);
/** Makes sio_server_run return (safe from any callback). */
SIO_API void sio_server_stop(sio_server *srv);
/** Disconnects every client ("server shutting down") and frees everything. Not from a callback. */
SIO_API void sio_server_free(sio_server *srv);
/** Number of connected Engine.IO sessions. */
SIO_API size_t sio_server_client_count(const sio_server *srv);

/* ---- namespaces --------------------------------------------------------------------------- */

/** The namespace called name ("/" or "/chat"), created on first use. Borrowed, valid until
 *  sio_server_free. NULL on OOM or a name not starting with '/'. */
SIO_API sio_namespace *sio_server_of(sio_server *srv, const char *name);

/** Decides whether a dynamic namespace name may be created (return 1) or not (0). auth_json is
 *  the CONNECT auth object (borrowed for the call). */
typedef int (*sio_namespace_match_cb)(sio_server *srv, const char *name, const char *auth_json,
                                      void *user);
/** Set-up for a namespace created by a match: register middleware and handlers here. */
typedef void (*sio_namespace_setup_cb)(sio_namespace *nsp, void *user);
/** Adds a parent for dynamic namespaces (Node's io.of(regex|fn)). Parents are tried in order
 *  for a CONNECT to an unknown name. Returns 0 or SIO_ENOMEM. */
SIO_API int sio_server_add_dynamic(sio_server *srv, sio_namespace_match_cb match,
                                   sio_namespace_setup_cb setup, void *user);

/** The namespace's name (borrowed, valid as long as the namespace). */
SIO_API const char *sio_namespace_name(const sio_namespace *nsp);
SIO_API sio_server *sio_namespace_server(const sio_namespace *nsp);
/** Number of connected sockets in the namespace (this server only). */
SIO_API size_t sio_namespace_socket_count(const sio_namespace *nsp);
/** Number of rooms with a member on this server, sockets' own rooms included. O(1). */
SIO_API size_t sio_namespace_room_count(const sio_namespace *nsp);

/**
 * Connect middleware: runs for each CONNECT before the socket exists for others, in the order
 * registered. Read the handshake with sio_socket_auth/sio_socket_handshake, attach data with
 * sio_socket_set_data/sio_socket_set_slot, then answer through next exactly once, now or later
 * (after a network round trip): sio_next_accept goes on to the next middleware (the last one
 * connects the socket), sio_next_refuse sends CONNECT_ERROR. An answer that does not come within
 * connect_timeout_ms refuses with "middleware timeout". If the connection closes while an answer
 * is pending, the answer becomes a no-op (next stays valid until answered).
 */
typedef struct sio_next sio_next;
typedef void (*sio_middleware_cb)(sio_socket *s, sio_next *next, void *user);
/** Appends a middleware. Returns 0 or SIO_ENOMEM. */
SIO_API int sio_namespace_use(sio_namespace *nsp, sio_middleware_cb mw, void *user);
/** Lets the connection go on. next is freed; do not use it again. */
SIO_API void sio_next_accept(sio_next *next);
/** Refuses the connection with CONNECT_ERROR {"message":message,"data":data_json} (data_json
 *  may be NULL; both copied). next is freed; do not use it again. */
SIO_API void sio_next_refuse(sio_next *next, const char *message, const char *data_json);
/** The socket a pending middleware answer is for (borrowed, valid until answered). */
SIO_API sio_socket *sio_next_socket(const sio_next *next);

typedef void (*sio_connection_cb)(sio_socket *s, void *user);
/** Called once a socket has connected (after middleware). */
SIO_API void sio_namespace_on_connection(sio_namespace *nsp, sio_connection_cb cb, void *user);
typedef void (*sio_disconnect_cb)(sio_socket *s, const char *reason, void *user);
/** Called once when a socket disconnects, with a reason of docs/protocol.md §2.6 ("transport
 * close", "client namespace disconnect", ...). The socket has left its rooms already; it is freed
 *  after the callback returns. */
SIO_API void sio_namespace_on_disconnect(sio_namespace *nsp, sio_disconnect_cb cb, void *user);

/**
 * An event handler. args is borrowed, valid until the handler returns. ack is NULL unless the
 * client asked for an acknowledgement; answer it with sio_ack_send (now or later: call
 * sio_ack_retain to keep it past the handler). An unanswered, unretained ack is dropped when
 * the handler returns (the client's callback then never runs, as in Node).
 */
typedef void (*sio_event_cb)(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                             void *user);
/** Registers the handler of event on every socket of the namespace (one per event; a second
 *  call replaces it). The name is copied. Returns 0 or SIO_ENOMEM. */
SIO_API int sio_namespace_on(sio_namespace *nsp, const char *event, sio_event_cb cb, void *user);
/** Handler for events with no handler of their own. */
SIO_API void sio_namespace_on_any(sio_namespace *nsp, sio_event_cb cb, void *user);

/* ---- event arguments ---------------------------------------------------------------------- */

/** Number of arguments (event name excluded). */
SIO_API size_t sio_args_count(const sio_args *a);
/** Raw JSON text of argument i (a placeholder object for binary), or NULL past the end.
 *  Borrowed, valid as long as args. */
SIO_API const char *sio_args_json(const sio_args *a, size_t i, size_t *len);
/** All arguments as one JSON array text "[...]" (borrowed, valid as long as args). */
SIO_API const char *sio_args_array(const sio_args *a, size_t *len);
/** Copies argument i as a string (JSON unescaped) into buf. Returns its length, SIO_EINVAL if
 *  it is not a string, SIO_ELIMIT if it does not fit. */
SIO_API long sio_args_string(const sio_args *a, size_t i, char *buf, size_t cap);
/** Argument i as an integer. Returns 0 or SIO_EINVAL. */
SIO_API int sio_args_int(const sio_args *a, size_t i, long long *out);
/** Number of binary attachments and attachment n (bytes borrowed, valid as long as args). */
SIO_API size_t sio_args_binary_count(const sio_args *a);
SIO_API const void *sio_args_binary(const sio_args *a, size_t n, size_t *len);
/** If argument i is a binary placeholder, its attachment number, else -1. */
SIO_API int sio_args_binary_index(const sio_args *a, size_t i);

/* ---- acknowledgements --------------------------------------------------------------------- */

/** Answers a client's ack with args_json (a JSON array, NULL = no arguments) and nbins
 *  attachments (copied). Acks are single-shot: after this call the ack must not be used
 *  again (it is freed, or freed when the handler returns). Returns 0, SIO_EINVAL (bad JSON,
 *  or a second answer from inside the handler) or SIO_ECLOSED (the socket is gone). */
SIO_API int sio_ack_send(sio_ack *ack, const char *args_json, const sio_bin *bins, size_t nbins);
/** Keeps the ack alive after the handler returns; then exactly one sio_ack_send or
 *  sio_ack_free must follow. */
SIO_API sio_ack *sio_ack_retain(sio_ack *ack);
/** Frees an ack without answering. */
SIO_API void sio_ack_free(sio_ack *ack);

/* ---- sockets ------------------------------------------------------------------------------ */

/** The socket id (20 chars, also the name of its own room). Borrowed, valid as long as s. */
SIO_API const char *sio_socket_id(const sio_socket *s);
SIO_API sio_namespace *sio_socket_namespace(const sio_socket *s);
/** The CONNECT auth object as JSON ("{}" when none). Borrowed, valid as long as s. */
SIO_API const char *sio_socket_auth(const sio_socket *s);
/** The handshake as JSON: {"headers":{...},"query":{...},"address":"...","secure":bool,
 *  "issued":ms,"url":"..."}. Borrowed, valid as long as s. */
SIO_API const char *sio_socket_handshake(const sio_socket *s);
/** A request header of the handshake (lower-case name) copied into buf; returns its length
 *  or SIO_ENOTFOUND / SIO_ELIMIT. */
SIO_API long sio_socket_header(const sio_socket *s, const char *name, char *buf, size_t cap);
/** The transport in use: "polling" or "websocket". */
SIO_API const char *sio_socket_transport(const sio_socket *s);
/** Whether the socket is still connected. */
SIO_API int sio_socket_connected(const sio_socket *s);

/** Sets the socket's data (Node's socket.data) to a JSON value (copied): what fetchSockets
 *  reports on every server of the cluster. Returns 0, SIO_EINVAL (not one valid JSON value) or
 *  SIO_ENOMEM. */
SIO_API int sio_socket_set_data(sio_socket *s, const char *json);
/** The socket's data as JSON ("{}" until set). Borrowed, valid until the next set or the
 *  socket is freed. */
SIO_API const char *sio_socket_data(const sio_socket *s);

/** A key for native per-socket state of a C module (an auth module and an application each
 *  keep their own). The key's address identifies it: define one static sio_slot per use. */
typedef struct sio_slot {
    const char *name; /* for debugging */
} sio_slot;
/** Stores value under key; free_fn (may be NULL) runs on it when replaced or when the socket is
 *  freed. Returns 0 or SIO_ENOMEM (free_fn is not called then). */
SIO_API int sio_socket_set_slot(sio_socket *s, const sio_slot *key, void *value,
                                void (*free_fn)(void *value));
/** The value stored under key, or NULL. */
SIO_API void *sio_socket_slot(const sio_socket *s, const sio_slot *key);

/** Joins/leaves a room (name copied). Returns 0, SIO_ELIMIT (max_rooms_per_socket) or
 *  SIO_ENOMEM. Leaving a room not joined is a no-op. */
SIO_API int sio_socket_join(sio_socket *s, const char *room);
SIO_API int sio_socket_leave(sio_socket *s, const char *room);
/** Number of rooms and room i (borrowed name, valid until the next join/leave). */
SIO_API size_t sio_socket_room_count(const sio_socket *s);
SIO_API const char *sio_socket_room(const sio_socket *s, size_t i);

/** Disconnects the socket ("server namespace disconnect"); close=1 also closes the whole
 *  connection. on_disconnect runs synchronously. */
SIO_API void sio_socket_disconnect(sio_socket *s, int close);

/** Closes the socket's underlying connection without a Socket.IO DISCONNECT packet (Node's
 *  socket.conn.close()): the client sees a transport close and reconnects by itself. */
SIO_API void sio_socket_close_connection(sio_socket *s);

/* ---- emitting ----------------------------------------------------------------------------- */

/** Per-emit flags. */
enum sio_emit_flags {
    SIO_EMIT_VOLATILE = 1 << 0,    /* drop for sockets whose transport is not writable now */
    SIO_EMIT_NO_COMPRESS = 1 << 1, /* reserved: accepted, no effect yet */
    SIO_EMIT_LOCAL = 1 << 2,       /* this server only: not published to the cluster */
    /* args_json comes from a JSON writer (jansson, the application's own serializer) and is not
     * validated again; sio still checks that it is an array. Text that is not JSON would then
     * reach the clients, whose parsers close the connection. Saves a scan per emit. */
    SIO_EMIT_TRUSTED_JSON = 1 << 3,
};

/** Emits event to one socket. args_json: a JSON array or NULL; bins: attachments referenced
 *  by placeholders in args_json (copied; the caller keeps placeholders and bins consistent).
 *  Returns 0, SIO_EINVAL (bad JSON, reserved name), SIO_ECLOSED, or SIO_ELIMIT (the client's
 *  queue overflowed: it is disconnected). */
SIO_API int sio_socket_emit(sio_socket *s, const char *event, const char *args_json,
                            const sio_bin *bins, size_t nbins, int flags);

/** Result of an emit with ack: status 0 with the client's arguments, SIO_ETIMEDOUT, or
 *  SIO_ECLOSED (disconnected first). Runs exactly once if the emit returned 0, never if it
 *  failed. args is NULL unless status is 0. s is NULL when the socket is gone. */
typedef void (*sio_ack_cb)(sio_socket *s, int status, const sio_args *args, void *user);
/** Emits event to one socket and waits timeout_ms (0 = forever) for its ack. */
SIO_API int sio_socket_emit_ack(sio_socket *s, const char *event, const char *args_json,
                                const sio_bin *bins, size_t nbins, unsigned timeout_ms,
                                sio_ack_cb cb, void *user);

/** Target of a broadcast: sockets in any of rooms (all sockets of the namespace when nrooms is
 *  0) minus sockets in any of except. Arrays and strings are borrowed for the call. */
typedef struct sio_target {
    const char *const *rooms;
    size_t nrooms;
    const char *const *except;
    size_t nexcept;
    int flags; /* sio_emit_flags */
} sio_target;

/** Broadcasts event to the target (NULL = the whole namespace) on this server and, through the
 *  adapter, on every other one (unless SIO_EMIT_LOCAL). The packet is encoded once and shared by
 *  every local recipient. Returns the number of local recipients, or a negative error. */
SIO_API long sio_namespace_emit(sio_namespace *nsp, const sio_target *to, const char *event,
                                const char *args_json, const sio_bin *bins, size_t nbins);

/** Result of a broadcast with acks (and of server-side emits with acks): status 0 when every
 *  recipient answered, SIO_ETIMEDOUT (what came is passed) or SIO_ECLOSED (shutdown);
 *  responses[i] are the arguments of each answer (borrowed for the call). */
typedef void (*sio_broadcast_ack_cb)(sio_namespace *nsp, int status,
                                     const sio_args *const *responses, size_t nresponses,
                                     void *user);
/** Broadcast with acks (Node's io.timeout(ms).emit(..., cb)) across the cluster: every other
 *  server reports how many of its clients it sent to, then forwards each answer; cb runs once
 *  all are in or at timeout_ms (0 = no limit). Returns the number of local recipients (cb runs
 *  exactly once, never inside the call), or a negative error (cb never runs). */
SIO_API long sio_namespace_emit_ack(sio_namespace *nsp, const sio_target *to, const char *event,
                                    const char *args_json, const sio_bin *bins, size_t nbins,
                                    unsigned timeout_ms, sio_broadcast_ack_cb cb, void *user);

/** Makes the target's sockets join (or leave) room, on every server unless SIO_EMIT_LOCAL is
 *  in to->flags; returns the number of local sockets affected. */
SIO_API long sio_namespace_sockets_join(sio_namespace *nsp, const sio_target *to, const char *room);
SIO_API long sio_namespace_sockets_leave(sio_namespace *nsp, const sio_target *to,
                                         const char *room);
/** Disconnects the target's sockets on every server (unless SIO_EMIT_LOCAL); returns how many
 *  local ones. */
SIO_API long sio_namespace_disconnect_sockets(sio_namespace *nsp, const sio_target *to, int close);

/* ---- cluster-wide queries: asynchronous, the callback runs exactly once -------------------- */
/* With a cluster adapter the answer comes from every server; with the in-memory adapter from
 * this one, still through the callback (never inside the call). status is 0, SIO_ETIMEDOUT (some
 * server did not answer within requests_timeout_ms: what arrived is passed) or SIO_ECLOSED (the
 * server is shutting down). A call that returns an error never runs its callback. */

struct sio_socket_info;
/** Result of fetch sockets: snapshots (borrowed for the call). */
typedef void (*sio_fetch_cb)(sio_namespace *nsp, int status, const struct sio_socket_info *sockets,
                             size_t n, void *user);
/** Node's fetchSockets(): id, rooms, data and handshake of the target's sockets on every server
 *  (only this one with SIO_EMIT_LOCAL). Returns 0 or SIO_ENOMEM. */
SIO_API int sio_namespace_fetch_sockets(sio_namespace *nsp, const sio_target *to, sio_fetch_cb cb,
                                        void *user);

/** Result of all rooms: every room name (borrowed for the call), without duplicates. */
typedef void (*sio_rooms_cb)(sio_namespace *nsp, int status, const char *const *rooms, size_t n,
                             void *user);
/** Node's adapter.allRooms(): the rooms of the namespace across the cluster. */
SIO_API int sio_namespace_all_rooms(sio_namespace *nsp, sio_rooms_cb cb, void *user);

/** Result of server count. */
typedef void (*sio_count_cb)(sio_namespace *nsp, int status, size_t servers, void *user);
/** Node's serverCount(): the servers of the cluster, this one included. */
SIO_API int sio_namespace_server_count(sio_namespace *nsp, sio_count_cb cb, void *user);

/** A server-side event from another server (Node's io.on("event") on the server side): args
 *  borrowed for the call; ack is NULL unless the sender wants an answer (sio_ack_send sends it
 *  back to that server; retain it to answer later). */
typedef void (*sio_server_event_cb)(sio_namespace *nsp, const char *event, const sio_args *args,
                                    sio_ack *ack, void *user);
/** Registers the handler of server-side events of the namespace (one; NULL removes it). */
SIO_API void sio_namespace_on_server_event(sio_namespace *nsp, sio_server_event_cb cb, void *user);
/** Node's serverSideEmit(): event to every other server of the cluster. cb NULL: no answers
 *  wanted. Else cb gets one response per other server (status 0), or those that came within
 *  timeout_ms (0 = requests_timeout_ms) with SIO_ETIMEDOUT. Returns 0, SIO_EINVAL (reserved or
 *  missing name, bad JSON) or SIO_ENOMEM. */
SIO_API int sio_namespace_server_emit(sio_namespace *nsp, const char *event, const char *args_json,
                                      const sio_bin *bins, size_t nbins, unsigned timeout_ms,
                                      sio_broadcast_ack_cb cb, void *user);

/* ---- logging ------------------------------------------------------------------------------- */

enum sio_log_level { SIO_LOG_ERROR = 0, SIO_LOG_WARN, SIO_LOG_INFO, SIO_LOG_DEBUG };
/** A log sink: one line (no newline) from module ("http", "engine", "socketio", "adapter",
 *  "app"), borrowed for the call. */
typedef void (*sio_log_cb)(int level, const char *module, const char *line, void *user);
/** Sends every log line of the process to cb (NULL: back to stderr). Lines above level are not
 *  formatted at all. Process-wide, like the loop thread rule. */
SIO_API void sio_log_set_sink(sio_log_cb cb, void *user, int level);

/* ---- copying options ----------------------------------------------------------------------- */

/** Copies the strings that the n fields point at (a NULL field stays NULL) into one new block
 *  and points each field at its copy: one free() of the block releases them all. For objects
 *  that keep the strings of the options they were given. Returns the block, or NULL when out of
 *  memory (the fields are then unchanged). */
SIO_API char *sio_strings_copy(const char **const fields[], size_t n);

#ifdef __cplusplus
}
#endif

#endif
