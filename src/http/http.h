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

typedef struct sio_http_options {
    const char *iface; /* NULL: all interfaces */
    int port;          /* 0: pick a free port (see sio_http_port) */
    /* CORS (docs/protocol.md §1.10): NULL = off; "*" = any (a literal star); "reflect" = echo the
     * request's Origin; otherwise a comma-separated list of exact origins. */
    const char *cors_origin;
    int cors_credentials;
    const char *cors_methods; /* NULL: GET,HEAD,PUT,PATCH,POST,DELETE */
    const char *cors_headers; /* NULL: reflect Access-Control-Request-Headers */
    int cors_max_age;         /* seconds; < 0 = header omitted */
    /* io cookie (docs/protocol.md §1.11): NULL = off */
    const char *cookie_name;
    const char *cookie_path;      /* "/" */
    int cookie_http_only;         /* 1 */
    const char *cookie_same_site; /* "Lax" */
    int cookie_secure;
    size_t http_compression_threshold; /* 1024; 0 disables gzip/deflate of polling bodies */
    int per_message_deflate;           /* 0 */
    const char *tls_cert;              /* PEM paths: TLS when both are set */
    const char *tls_key;
    size_t max_header_bytes; /* 8192 */
    /* A connection the server is closing whose peer does not take the rest of its data (the
     * close frame or the last polling response) is dropped after this long. */
    unsigned close_deadline_ms; /* 30000 (Node's ws closeTimeout) */
    /* Out of descriptors (EMFILE/ENFILE) or memory at accept(): stop polling the listening
     * socket and try again after this long. */
    unsigned accept_backoff_ms; /* 100 */
} sio_http_options;

void sio_http_options_init(sio_http_options *o);

/* Counters of the HTTP layer (monotonic, except the gauge). */
typedef struct sio_http_stats {
    uint64_t accept_failures;      /* accept() calls that failed (other than EAGAIN) */
    uint64_t accept_pauses;        /* episodes of paused accepting (descriptors or memory) */
    uint64_t close_deadline_drops; /* closing connections dropped at close_deadline_ms */
    uint64_t chunked_bodies;       /* POST bodies read with chunked transfer coding */
    size_t connections;            /* HTTP and WebSocket connections open now */
} sio_http_stats;

/** The transport ops to hand to eio_server_new for sessions served by this layer. */
const eio_transport_ops *sio_http_transport_ops(void);

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
