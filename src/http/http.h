/*
 * The HTTP/WebSocket front: the only code that includes libwebsockets.h. One lws context on the
 * process's libevent loop (foreign loop) serves HTTP/1.1 long-polling and WebSocket for one
 * Engine.IO server on one port, plus CORS, the io cookie and gzip/deflate of polling responses.
 */
#ifndef SIO_HTTP_H
#define SIO_HTTP_H

#include "engine/engine.h"

#include <sio/http.h>

#include <stddef.h>

struct event_base;

typedef struct sio_http sio_http;

/* The http layer's options are the public group (include/sio/sio.h, defaults in
 * sio_server_options_init): no copy between the layers. */
typedef sio_http_config sio_http_options;

/* Counters of the HTTP layer (monotonic, except the gauge). */
typedef struct sio_http_stats {
    uint64_t accept_failures;      /* accept() calls that failed (other than EAGAIN) */
    uint64_t accept_pauses;        /* episodes of paused accepting (descriptors or memory) */
    uint64_t close_deadline_drops; /* closing connections dropped at close_deadline_ms */
    uint64_t chunked_bodies;       /* POST bodies read with chunked transfer coding */
    size_t connections;            /* HTTP and WebSocket connections open now */
} sio_http_stats;

/** The transport ops to hand to eio_server_new for sessions served by this layer. */
extern const eio_transport_ops sio_http_transport_ops;

/** Starts listening. Borrows base and engine (both must outlive the returned object).
 *  NULL on failure (logged). */
sio_http *sio_http_new(struct event_base *base, const sio_http_options *opts, eio_server *engine);
/** The port actually bound. */
int sio_http_port(const sio_http *h);
/** Counters so far. */
const sio_http_stats *sio_http_get_stats(const sio_http *h);
/** Graceful shutdown: idle keep-alive connections are closed now, every response from now on
 *  ends its connection, and connections still open after deadline_ms are dropped. The engine
 *  closes the sessions (held GETs get the close packet, WebSockets a close frame); the caller
 *  runs the loop until sio_http_get_stats()->connections is 0 or the deadline passed. */
void sio_http_shutdown_begin(sio_http *h, unsigned deadline_ms);
/** Adds a route (include/sio/http.h for the matching rules). Copies r and its strings.
 *  Returns 0, SIO_EINVAL or SIO_ENOMEM. Routes are freed by sio_http_free. */
int sio_http_route_add(sio_http *h, const sio_http_route *r);
/** Stops listening and closes every connection (deferred route requests are aborted). */
void sio_http_free(sio_http *h);

#endif
