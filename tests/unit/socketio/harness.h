/*
 * A Socket.IO layer on a fake transport, for unit tests: an sio_io on a manual clock attached
 * to a real eio_server whose libevent base is only spun without blocking (the engine's flush and
 * reaper). Clients are fake WebSocket (or polling) connections that feed frames with
 * eio_conn_ws_message and pull what the server queued with eio_conn_ws_next. No sockets, no
 * sleeps: the layer's time moves only through sio_clock_advance.
 */
#ifndef SIO_TEST_SOCKETIO_HARNESS_H
#define SIO_TEST_SOCKETIO_HARNESS_H

#include <sio/adapter.h>
#include <sio/sio.h>

#include "common/timer.h"
#include "engine/engine.h"
#include "socketio/io.h"

#include <stddef.h>

struct event_base;
typedef struct h_client h_client;

/* One server: engine + Socket.IO layer. */
typedef struct h_server {
    struct event_base *base; /* owned unless given */
    sio_clock *clock;        /* owned unless given */
    int own_base, own_clock;
    sio_server_options opts;
    sio_server_stats stats;
    eio_server *eio;
    sio_io *io;
    h_client *clients; /* every client opened on it, freed with it */
} h_server;

/* What a test may change before the server starts. */
typedef struct h_config {
    struct event_base *base;        /* NULL: the server gets its own */
    sio_clock *clock;               /* NULL: its own manual clock at 0 */
    const sio_adapter_ops *adapter; /* NULL: in-memory */
    void *adapter_config;
    unsigned requests_timeout_ms; /* 0: 5000 */
    unsigned connect_timeout_ms;  /* 0: 1000 */
    unsigned ping_interval_ms;    /* 0: 25000 */
    unsigned ping_timeout_ms;     /* 0: 20000 */
    int zero_heartbeat;           /* ping interval and timeout of 0 ms (ping timeout test) */
    size_t max_namespaces;        /* 0: the default max_namespaces_per_connection */
} h_config;

/* One fake connection: a WebSocket (or polling) transport of an Engine.IO session. */
struct h_client {
    int want_write, closed; /* what the engine asked of the connection (first: see harness.c) */
    h_client *next;
    h_server *srv;
    eio_session *s; /* held (the connection's reference) until h_client_drop */
    int polling;
    int detached;
    char frame[65536]; /* the last frame pulled (text NUL-terminated) */
    size_t frame_len;
    int frame_binary;
    char sid[SIO_ID_LEN + 1]; /* the socket id of the last CONNECT reply */
};

h_server *h_server_new(const h_config *cfg);
/* Shuts everything down (sockets get their disconnect callbacks) and frees the server, its
 * clients and, if owned, the clock and the base. */
void h_server_free(h_server *srv);
/* Runs the engine's pending flush and reaper events (and 0-ms libevent timers). */
void h_spin(struct event_base *base);
/* Moves the layer's time by ms (sio_clock_advance) and spins the base. */
void h_advance(h_server *srv, unsigned ms);

/* A new session over WebSocket (handshake request, open packet consumed). */
h_client *h_client_ws(h_server *srv);
/* A new session over long-polling (handshake GET answered); no GET is held afterwards, so the
 * session is not writable. Nothing holds it: do not use the client once it has closed. */
h_client *h_client_polling(h_server *srv);
/* Sends one Socket.IO packet text (without the leading Engine.IO '4'). */
void h_send(h_client *c, const char *packet);
/* Sends one raw Engine.IO text message (e.g. "2" or garbage). Returns the engine's answer. */
int h_send_raw(h_client *c, const char *message);
/* Sends one binary attachment frame. */
void h_send_bin(h_client *c, const void *p, size_t n);
/* Pulls the next queued frame into c->frame; 0 when there is none. Over polling, one GET is
 * answered with everything queued (the payload, records joined by 0x1e). */
int h_pull(h_client *c);
/* Asserts that the next frame is the text want ("40{...}", "42[...]": with the '4'). */
void h_expect(h_client *c, const char *want);
/* Asserts that the next frame is text starting with prefix; returns it (c->frame). */
const char *h_expect_prefix(h_client *c, const char *prefix);
/* Asserts that the next frame is binary with these bytes. */
void h_expect_bin(h_client *c, const void *p, size_t n);
/* Asserts that nothing is queued. */
void h_expect_none(h_client *c);
/* CONNECT to nsp ("/" or "/chat") with an optional auth object; asserts the reply and returns
 * the new socket (looked up in the namespace). */
sio_socket *h_connect(h_client *c, const char *nsp, const char *auth);
/* The transport goes away (the live WebSocket closes): the session closes as transport close. */
void h_client_drop(h_client *c);
/* Whether the engine session is still open. */
int h_client_open(const h_client *c);

/* The namespace's socket with this id, or NULL. */
sio_socket *h_socket(h_server *srv, const char *nsp, const char *id);

/* Quiets the log (errors only) for the whole test process. */
void h_quiet_log(void);

#endif
