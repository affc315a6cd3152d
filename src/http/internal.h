/*
 * Private structures and cross-file functions of the http layer. Nothing outside src/http
 * includes this file. Files by concern: conn.c (lws context on the libevent loop, connection
 * lifecycle, accept back-off, close deadline, shutdown, the lws callback), request.c (request
 * facts, dispatch to the engine, POST bodies), response.c (responses, CORS, cookie, gzip, the
 * held GET writer), websocket.c (upgrade, frames in and out), route.c (the route table and
 * the public sio_http_request API).
 */
#ifndef SIO_HTTP_INTERNAL_H
#define SIO_HTTP_INTERNAL_H

#include "http.h"

#include "http_chunked.h"

#include <sio/http.h>

#include <event2/event.h>
#include <libwebsockets.h>

#include <stddef.h>
#include <stdint.h>

enum conn_kind {
    CONN_NONE,
    CONN_GET,
    CONN_POST,
    CONN_WS,
    CONN_ROUTE,
    CONN_WAIT,   /* a polling handshake waiting for the allow_request hook */
    CONN_REFUSE, /* a refused polling handshake: the error is written when writable */
};

/* One per lws connection (wsi), kept in the wsi's opaque user data because lws frees its
 * per-session storage when an HTTP connection upgrades to WebSocket. Allocated at the first
 * callback that needs it, freed at LWS_CALLBACK_WSI_DESTROY (conn.c), the only destroy path. */
typedef struct http_conn {
    struct lws *wsi;
    sio_http *http;
    eio_session *s; /* attached session (a reference is held by the engine for us) */
    enum conn_kind kind;
    int established;       /* WebSocket handshake finished */
    int want_write;        /* asked before the WebSocket was established */
    int close_req;         /* the engine asked us to close */
    int discard_body;      /* the POST was already answered; drop the rest of its body */
    int enc;               /* 0 none, 1 gzip, 2 deflate accepted by the polling client */
    int chunked;           /* the POST body has chunked transfer coding (decoded by dechunk) */
    int end_after;         /* the next response ends the connection (chunked body, shutdown) */
    int over_limit;        /* the chunked body went past maxPayload */
    uint16_t close_status; /* WebSocket close code already decided (1009), or 0 */
    char *origin;          /* request Origin, kept for the CORS headers of a deferred response */
    uint8_t *body;         /* POST body or fragmented WebSocket message */
    size_t body_len, body_cap;
    sio_chunked dechunk;
    struct sio_http_request *route; /* a route request in progress on this connection */
    int hs_pending;                 /* the handshake waits for the allow_request hook */
    int hs_in_dispatch;             /* eio_server_handle runs for this connection */
    int hs_done;                    /* the hook answered during eio_server_handle */
    eio_handshake_result hs;        /* its decision (message copied to hs_msg) */
    char hs_msg[124];
    struct event *deadline;        /* armed when the server starts closing this connection */
    struct http_conn *prev, *next; /* every connection, for shutdown */
} http_conn;

struct sio_http {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    eio_server *engine;
    sio_http_options opts;
    size_t max_payload;
    uint8_t *scratch; /* coalesced WebSocket frames (single-threaded: one buffer for all) */
    size_t scratch_cap;
    lws_sockaddr46 *peers; /* peer address by socket fd, noted at accept */
    size_t peers_cap;
    struct event_base *base;
    sio_http_stats stats;
    http_conn *conns; /* every connection with an http_conn */
    int shutting_down;
    unsigned deadline_ms; /* close deadline now (shortened by a shutdown) */
    /* accept back-off: listening sockets paused while descriptors are short */
    struct event *accept_timer;
    struct lws *paused[4];
    size_t npaused;
    struct lws *listeners[4]; /* listening sockets seen accepting (paused for shutdown) */
    size_t nlisteners;
    int accept_episode;
    uint64_t episode_failures;
    struct timeval episode_start;
    struct route_entry *routes; /* route.c, in the order added */
    size_t nroutes;
};

/* One response, written by http_respond in a single send. Pointers are borrowed for the call. */
typedef struct response {
    int status;
    const char *ctype;
    const uint8_t *body;
    size_t len;
    const char *encoding;   /* Content-Encoding or NULL */
    const char *cookie_sid; /* set the io cookie to this sid */
    int no_store;
    int preflight;
    const char *allow;              /* Allow header (405) */
    const sio_http_header *headers; /* the application's headers (routes) */
    size_t nheaders;
    int close;          /* Connection: close, then hang up */
    int defer_complete; /* a POST body is still arriving: complete the transaction later */
    int head;           /* the answer to a HEAD: Content-Length of the body, no body sent */
    sio_buf *buf;       /* body is this buffer's bytes: written in place, headroom and all */
} response;

/* Query arguments the engine reads, copied out of lws's header table (request.c). */
typedef struct req_args {
    char eio[8], transport[16], sid[64], ctype[64];
    const char *peio, *ptransport, *psid;
} req_args;

/* conn.c */
/** Gives the connection's session back to the engine and drops its body buffer. */
void http_conn_detach(http_conn *c);
/* Hands a request to the engine, folding in an allow_request answer given during the call. */
eio_action http_engine_handle(http_conn *c, const eio_request *req, eio_session **s, int *err,
                              int *status, const char **msg, int *answered);
/* Appends to the connection's body buffer (POST body or WebSocket message); -1 on OOM. */
int http_body_append(http_conn *c, const void *in, size_t len);
/** The peer's numeric address (noted at accept, else asked from lws) into out. */
void http_peer_address(struct lws *wsi, char *out, size_t cap);

/* request.c */
/** Copies header t into buf; its length, or -1 when absent or longer than cap - 1. */
int http_hdr_copy(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t cap);
/** Whether uri is under the Engine.IO path (a prefix match, docs/protocol.md §1.1). */
int http_path_matches(const sio_http *h, const char *uri);
/** Fills req (pointing into a) from the request's headers and query; keeps the Origin and
 *  the accepted encoding on c. */
void http_read_request(struct lws *wsi, http_conn *c, eio_request *req, req_args *a);
/** The Origin header kept on c for CORS; returns 1 when it is invalid (docs/protocol.md §1.9). */
int http_read_origin(struct lws *wsi, http_conn *c);
/** Content-Length (-1 when absent); sets c->chunked (1 chunked, -1 another coding, 0 none). */
long long http_read_framing(struct lws *wsi, http_conn *c);
/** The request URL as Node reports it: uri, then the query percent-encoded again. */
void http_request_url(struct lws *wsi, const char *uri, char *out, size_t cap);
/** Copies request header name (lower case) into buf; its length, SIO_ENOTFOUND or SIO_ELIMIT. */
long http_header_by_name(struct lws *wsi, const char *name, char *buf, size_t cap);
/** The decision of the allow_request hook for a polling handshake that waited for it. */
void http_get_handshake_done(http_conn *c);
/** The handshake JSON of sio_socket_handshake, in a static buffer valid until the next call. */
const char *http_build_handshake(struct lws *wsi, const char *uri);
/* LWS_CALLBACK_HTTP, _HTTP_BODY and _HTTP_BODY_COMPLETION; return what the callback returns. */
int http_on_request(http_conn *c, const char *uri);
int http_on_body(http_conn *c, const void *in, size_t len);
int http_on_body_done(http_conn *c);

/* response.c: each returns what the lws callback must return (-1: close the connection) */
int http_respond(http_conn *c, const response *r);
int http_respond_status(http_conn *c, int status);
/** {"code":code,"message":...}; message NULL: eio_error_message(code). */
int http_respond_error(http_conn *c, int code, const char *message);
/** A failed WebSocket upgrade (docs/protocol.md §1.9): 400, the message as text (NULL: the
 *  code's), hang up. */
int http_reject_upgrade(http_conn *c, int code, const char *message);
/** The held GET may be written: answers it with the session's queued payload, if any. */
int http_on_get_writable(http_conn *c);

/* route.c */
/** A request outside the Engine.IO path: runs the matching route, or answers 404/405/413. */
int http_route_request(http_conn *c, const char *uri);
int http_route_body(http_conn *c, const void *in, size_t len);
int http_route_body_done(http_conn *c);
/** Writes a deferred route response once the socket is writable. */
int http_route_writable(http_conn *c);
/** The connection is leaving its route request (peer gone, or connection freed). */
void http_route_detach(http_conn *c);
void http_routes_free(sio_http *h);

/* websocket.c */
/** LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: the engine decides whether the upgrade is accepted. */
int http_on_upgrade(http_conn *c, const char *protocol);
int http_on_ws_established(http_conn *c);
/** The decision of the allow_request hook for a WebSocket accepted while it waited. */
void http_ws_handshake_done(http_conn *c);
int http_on_ws_receive(http_conn *c, void *in, size_t len);
/** A frame header announced len bytes: 1 refuses the frame (1009), 0 reads it. */
int http_on_ws_frame_length(http_conn *c, size_t len);
int http_on_ws_writable(http_conn *c);
/** Writes what is queued; -1 when the connection must now be closed. */
int http_ws_drain(http_conn *c);

#endif
