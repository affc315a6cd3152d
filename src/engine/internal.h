/*
 * Private structures shared by the engine's server.c, session.c and handshake.c. Nothing outside
 * src/engine includes this file.
 */
#ifndef SIO_ENGINE_INTERNAL_H
#define SIO_ENGINE_INTERNAL_H

#include "engine.h"

#include "common/map.h"

#include <event2/event.h>

enum session_state {
    SESSION_OPEN,    /* handshake done */
    SESSION_CLOSING, /* closed for the layer above; conns still drain what is queued */
};

enum probe_state {
    PROBE_NONE,
    PROBE_WAIT_PING,    /* WebSocket attached, waiting for "2probe" */
    PROBE_WAIT_UPGRADE, /* "3probe" queued/sent, waiting for "5" */
};

struct eio_session {
    char sid[SIO_ID_LEN + 1];
    eio_server *srv;
    unsigned refcnt; /* the sid map (until close) + each attached conn */
    int reaping;     /* queued for the reaper: never queue twice */
    enum session_state state;
    eio_transport_kind transport;
    eio_close_reason close_reason;

    /* polling */
    void *poll_get;  /* pending GET conn */
    void *poll_post; /* POST conn reading its body */
    /* websocket */
    void *ws;    /* current WebSocket conn */
    void *probe; /* WebSocket conn being probed for an upgrade */
    enum probe_state probe_state;
    sio_buf *probe_out; /* "3probe" waiting for the probe conn's writable callback */
    int ws_close_after; /* close the WebSocket once the queue is drained */
    int noop_due;       /* answer the pending GET with a noop (upgrade in progress) */

    /* out-queue: ring of buffers */
    sio_buf **q;
    size_t q_cap, q_head, q_len;
    size_t q_bytes;
    sio_buf *final_pkt; /* "1" or "6" to end the last GET with (polling close) */

    struct event *hb; /* ping interval / ping timeout / close timeout */
    int hb_waiting_pong;
    uint64_t hb_ping_due;        /* monotonic ms at which the current ping was due */
    struct event *upgrade_timer; /* upgrade timeout (one shot) */
    struct event *noop_timer;    /* the 100 ms noop checks while probing */

    int dirty; /* on srv->dirty list */
    eio_session *dirty_next;
    eio_session *reap_next;
    void *user;
    char *handshake;
};

/* The control packets of eio_server.pkt. */
enum eio_control_packet { EIO_PKT_PING, EIO_PKT_CLOSE, EIO_PKT_NOOP, EIO_PKT_PROBE, EIO_PKT_COUNT };

struct eio_server {
    struct event_base *base;
    eio_options opts;
    char *path;
    eio_callbacks cbs;
    eio_transport_ops ops;
    sio_map sessions;
    const struct timeval *tv_ping_interval; /* common timeouts */
    const struct timeval *tv_ping_timeout;
    struct event *flush_ev;
    eio_session *dirty; /* sessions with something to write, in the order they were queued */
    eio_session **dirty_tail;
    struct event *reap_ev;
    eio_session *reap;
    sio_buf *pkt[EIO_PKT_COUNT]; /* the control packets every session shares */
    int shutting_down;           /* new handshakes are refused (503) */
    eio_stats stats;
    sio_allow_request_cb allow_cb; /* handshake filter (handshake.c) */
    void *allow_user;
    struct sio_handshake *pending; /* handshakes given to allow_cb and not answered yet */
};

/* session.c */
eio_session *eio_session_new(eio_server *srv, eio_transport_kind t);
void eio_session_ref(eio_session *s);
void eio_session_unref(eio_session *s);
void eio_session_free(eio_session *s);
void eio_session_mark_dirty(eio_session *s);
void eio_session_flush(eio_session *s, int may_write_now);
void eio_session_start_heartbeat(eio_session *s);
int eio_session_check_deadline(eio_session *s);
int eio_session_push(eio_session *s, sio_buf *b);
eio_action eio_session_attach_get(eio_session *s, void *conn, int *status);
eio_action eio_session_attach_post(eio_session *s, const eio_request *req, void *conn, int *status);
int eio_session_attach_probe(eio_session *s, void *conn);

/* server.c */
/** Creates the session of a handshake that passed the checks (and the hook). */
eio_action eio_server_open_session(eio_server *srv, const eio_request *req, void *conn,
                                   eio_session **out, int *err, int *status);
void eio_server_reap(eio_server *srv, eio_session *s);

/* handshake.c */
/** Hands a handshake to the allow_request hook; returns EIO_ACT_PENDING (EIO_ACT_ERROR with
 *  *err when out of memory). */
eio_action eio_handshake_ask(eio_server *srv, const eio_request *req, void *conn, int *err);
/** Frees every handshake still waiting for the application (server free). */
void eio_handshakes_free(eio_server *srv);
void eio_server_forget(eio_server *srv, eio_session *s);

#endif
