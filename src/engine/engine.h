/*
 * Engine.IO v4 server core (docs/protocol.md §1): the sid table, handshake and request checks,
 * sessions with their heartbeat, out-queue, polling and WebSocket transports and the upgrade. No
 * HTTP or socket code lives here: the http layer describes each request in an eio_request, hands
 * over bodies and frames, and pulls bytes to write; the engine asks it for writability and closes
 * through eio_transport_ops. Owner tree: eio_server -> sessions (sid map); a session -> its
 * out-queue and timers. A connection of the http layer holds a session reference while attached.
 */
#ifndef SIO_ENGINE_H
#define SIO_ENGINE_H

#include <sio/sio.h>

#include "common/buf.h"
#include "common/rand.h"

#include <sio/http.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct eio_server eio_server;
typedef struct eio_session eio_session;

/* Engine.IO error codes of the HTTP error body {"code":n,"message":...} (docs/protocol.md §1.9). */
enum eio_error_code {
    EIO_ERR_NONE = -1,
    EIO_ERR_UNKNOWN_TRANSPORT = 0,
    EIO_ERR_UNKNOWN_SID = 1,
    EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
    EIO_ERR_BAD_REQUEST = 3,
    EIO_ERR_FORBIDDEN = 4,
    EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION = 5,
};
const char *eio_error_message(int code);

typedef enum eio_transport_kind {
    EIO_TRANSPORT_POLLING = 0,
    EIO_TRANSPORT_WEBSOCKET
} eio_transport_kind;

/* Close reasons surfaced to the layer above (docs/protocol.md §1.8, plus our own limits). */
typedef enum eio_close_reason {
    EIO_CLOSE_TRANSPORT_ERROR = 0,
    EIO_CLOSE_TRANSPORT_CLOSE,
    EIO_CLOSE_FORCED,
    EIO_CLOSE_PING_TIMEOUT,
    EIO_CLOSE_PARSE_ERROR,
    EIO_CLOSE_SERVER_SHUTDOWN,
    EIO_CLOSE_SLOW_CONSUMER,
    EIO_CLOSE_PAYLOAD_TOO_LARGE,
} eio_close_reason;
const char *eio_close_reason_str(eio_close_reason r);

/* The engine's options are the public group (include/sio/sio.h, defaults in
 * sio_server_options_init): no copy between the layers. */
typedef sio_engine_config eio_options;

/* Counters of an engine since it started. */
#define EIO_CLOSE_REASONS 8
typedef struct eio_stats {
    uint64_t sessions_opened;
    uint64_t upgrades;                  /* polling sessions moved to WebSocket */
    uint64_t closes[EIO_CLOSE_REASONS]; /* by eio_close_reason */
    uint64_t packets_in, bytes_in;      /* message packets received (payload bytes) */
    uint64_t packets_out, bytes_out;    /* packets queued for sending (all types) */
    uint64_t handshakes_denied;         /* refused by the allow_request hook (timeouts included) */
} eio_stats;

/* Callbacks to the layer above. Each runs on the loop thread from inside engine code; they may
 * call eio_session_send/close on any session (closing only marks: frees happen in the reaper). */
typedef struct eio_callbacks {
    /** A session finished its handshake. Returning non-zero refuses it (closed at once). */
    int (*on_open)(eio_session *s, void *user);
    /** A message packet arrived. data is valid only during the call. */
    void (*on_message)(eio_session *s, const uint8_t *data, size_t len, int binary, void *user);
    /** The session closed; runs exactly once per opened session. The session pointer stays
     *  valid until the callback returns, never after. */
    void (*on_close)(eio_session *s, eio_close_reason reason, void *user);
    /** The transport changed (upgrade finished). Optional. */
    void (*on_upgrade)(eio_session *s, void *user);
    void *user;
} eio_callbacks;

struct eio_handshake_result;

/* What the http layer implements for the connections it attaches to sessions. */
typedef struct eio_transport_ops {
    /** Ask for a writable callback on conn; then the http layer pulls with eio_conn_*.
     *  may_write_now: the engine is in its end-of-iteration flush, outside any callback of
     *  the http layer, so it may write at once instead of waiting for a writable event. */
    void (*want_write)(void *conn, int may_write_now);
    /** Close conn soon (never synchronously inside this call). */
    void (*close)(void *conn);
    /** The allow_request decision for a handshake that got EIO_ACT_PENDING (see
     *  eio_handshake_result). May run inside eio_server_handle (an answer given during the
     *  hook), from a timer, or from any callback of the application. Optional without a hook. */
    void (*handshake_done)(void *conn, const struct eio_handshake_result *r);
    /** Copies request header name (lower case) of a pending handshake; the length or a
     *  negative SIO_E*. Optional (NULL: headers are not available to the hook). */
    long (*header)(void *conn, const char *name, char *buf, size_t cap);
} eio_transport_ops;

/** Creates an engine on base. Borrows base, copies opts (path string included). NULL on OOM. */
eio_server *eio_server_new(struct event_base *base, const eio_options *opts,
                           const eio_callbacks *cbs, const eio_transport_ops *ops);
/** Closes every session (reason "server shutting down"); their connections are asked to close. */
void eio_server_shutdown(eio_server *srv);
/** Shuts down and frees the engine. Free the http layer first, so no connection still holds a
 *  session. */
void eio_server_free(eio_server *srv);
const eio_options *eio_server_options(const eio_server *srv);
size_t eio_server_session_count(const eio_server *srv);
/** Drain: new handshakes get 503 from now on; open sessions stay. */
void eio_server_refuse_handshakes(eio_server *srv);
/** Drain: closes up to n open sessions (queued packets are sent first, then the close) with
 *  EIO_CLOSE_SERVER_SHUTDOWN. Returns how many it closed. */
size_t eio_server_close_some(eio_server *srv, size_t n);
/** Changes the limits that are read at each use (max_connections, max_buffered_bytes,
 *  max_buffered_packets) to those of o. */
void eio_server_set_limits(eio_server *srv, const eio_options *o);
const eio_stats *eio_server_stats(const eio_server *srv);
/** Open sessions on WebSocket now (the rest of eio_server_session_count is polling). O(sessions).
 */
size_t eio_server_websocket_count(const eio_server *srv);
struct event_base *eio_server_base(const eio_server *srv);

/* ---- requests from the http layer ---------------------------------------------------------- */

enum eio_method { EIO_METHOD_GET, EIO_METHOD_POST, EIO_METHOD_OPTIONS, EIO_METHOD_OTHER };

/* Query and header facts of one request, all borrowed for the call. NULL = absent. */
typedef struct eio_request {
    int method;
    int is_upgrade; /* WebSocket upgrade request */
    const char *eio;
    const char *transport;
    const char *sid;
    int origin_invalid;         /* the Origin header holds characters not allowed in a header */
    int octet_stream_body;      /* Content-Type: application/octet-stream */
    long long content_length;   /* -1 when absent */
    const char *handshake_json; /* for new sessions: headers, query, address (copied) */
} eio_request;

typedef enum eio_action {
    EIO_ACT_ERROR,     /* answer with the error code in *err (http status from eio_error_status) */
    EIO_ACT_STATUS,    /* answer with a bare status in *status (400, 413, 500, 503) */
    EIO_ACT_HOLD_GET,  /* conn is now the session's pending GET; wait for want_write */
    EIO_ACT_READ_BODY, /* conn is now the session's POST; feed eio_conn_post_body */
    EIO_ACT_WS_ACCEPT, /* accept the WebSocket upgrade; conn is attached to the session */
    EIO_ACT_PENDING,   /* a handshake waits for the allow_request hook: ops.handshake_done tells
                        * (perhaps before eio_server_handle returns); a WebSocket is accepted */
} eio_action;

/* The outcome of a handshake that waited for the allow_request hook. */
typedef struct eio_handshake_result {
    eio_action act;       /* EIO_ACT_HOLD_GET, EIO_ACT_WS_ACCEPT, EIO_ACT_ERROR or EIO_ACT_STATUS */
    eio_session *session; /* HOLD_GET, WS_ACCEPT: conn is attached to it */
    int err, status;      /* as from eio_server_handle */
    const char *message;  /* EIO_ACT_ERROR: the text (the refusal's own, or eio_error_message) */
} eio_handshake_result;

/**
 * Installs the allow_request hook (Node's engine.io allowRequest; NULL removes it). It runs for
 * every handshake that passed the request checks (docs/protocol.md §1.9) with a handle that must
 * be answered exactly once by sio_handshake_allow or sio_handshake_deny, now or later.
 * eio_server_handle then returns EIO_ACT_PENDING; the decision reaches the http layer through
 * ops.handshake_done. No answer within allow_request_timeout_ms refuses with code 4.
 */
void eio_server_set_allow_request(eio_server *srv, sio_allow_request_cb cb, void *user);

/** The http layer lost conn while its handshake waited for the hook: the decision, when it
 *  comes, is dropped. */
void eio_server_handshake_gone(eio_server *srv, void *conn);

/**
 * Runs the request checks and the handshake (docs/protocol.md §1.9). On EIO_ACT_HOLD_GET,
 * READ_BODY and WS_ACCEPT the connection conn is attached to *session (a reference is held until
 * eio_conn_detach). May call on_open synchronously (new sessions) and on_close (a duplicate GET
 * closes the session).
 */
eio_action eio_server_handle(eio_server *srv, const eio_request *req, void *conn,
                             eio_session **session, int *err, int *status);

/** HTTP status for an Engine.IO error code over plain HTTP (403 for code 4, else 400). */
int eio_error_status(int code);

/** Feeds the complete POST body (mutable: base64 is decoded in place). Returns the HTTP status
 *  to answer (200 with "ok", or 400) and detaches conn from the POST slot (the caller still owns
 *  the reference until eio_conn_detach). May run on_message/on_close synchronously. */
int eio_conn_post_body(eio_session *s, void *conn, uint8_t *body, size_t len);

/** A complete WebSocket message arrived on conn (data mutable). Runs callbacks synchronously.
 *  Returns 0, or -1 if conn must be closed now. */
int eio_conn_ws_message(eio_session *s, void *conn, uint8_t *data, size_t len, int binary);

/** Writes what the message just handed over by eio_conn_ws_message queued for its own session
 *  (the answer to it) now, through want_write(conn, 1), instead of at the end of the loop
 *  iteration. Does nothing unless s is the only session with something queued: when others
 *  are waiting too (a broadcast), everything waits for the iteration's flush, where frames
 *  queued for the same session leave in one send. */
void eio_conn_ws_flush(eio_session *s, void *conn);

/** Pending-GET conn is writable: returns the payload to answer with (new reference; headroom
 *  for lws), or NULL if nothing is to be sent yet. After a non-NULL return the GET is done.
 *  *reject set: answer the GET with the "Bad request" error instead (it is done too). */
sio_buf *eio_conn_poll_take(eio_session *s, void *conn, int *reject);

/** WebSocket conn is writable: the next frame to write (new reference), or NULL. *close_after
 *  is set when the conn should be closed once nothing more is queued. */
sio_buf *eio_conn_ws_next(eio_session *s, void *conn, int *close_after);

/** The http layer lost or finished conn. Drops the reference; may close the session (a pending
 *  GET that vanished, the live WebSocket closing) with on_close run synchronously. */
void eio_conn_detach(eio_session *s, void *conn);

/* ---- sessions, for the layer above ---------------------------------------------------------- */

const char *eio_session_id(const eio_session *s);
/** The handshake request as JSON (see sio_socket_handshake); "{}" when unknown. */
const char *eio_session_handshake(const eio_session *s);
eio_transport_kind eio_session_transport(const eio_session *s);
int eio_session_is_open(const eio_session *s);
/** User pointer of the layer above. */
void eio_session_set_user(eio_session *s, void *user);
void *eio_session_get_user(const eio_session *s);

/** Queues a message packet: takes a reference on b (b->binary says text or binary; text bufs
 *  hold the message packet WITH its leading '4'). Returns 0, SIO_ECLOSED, or SIO_ELIMIT (the
 *  session is then closed as a slow consumer). */
int eio_session_send(eio_session *s, sio_buf *b);
/** Whether a packet queued now would be written soon (WebSocket open, or a GET pending);
 *  volatile emits are dropped when this is false. */
int eio_session_is_writable(const eio_session *s);
/** Closes the session: drains what is queued, then closes the transport. Idempotent. on_close
 *  runs synchronously. */
void eio_session_close(eio_session *s, eio_close_reason reason);
/** Closes the session abruptly: drops what is queued (protocol violations, timeouts).
 *  on_close runs synchronously. Idempotent. */
void eio_session_abort(eio_session *s, eio_close_reason reason);
/** Bytes and packets waiting in the out-queue. */
size_t eio_session_queued_bytes(const eio_session *s);
size_t eio_session_queued_packets(const eio_session *s);

#endif
