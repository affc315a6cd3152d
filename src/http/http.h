/*
 * The HTTP/WebSocket front: the only code that includes libwebsockets.h. One lws context on the
 * process's libevent loop (foreign loop) serves HTTP/1.1 long-polling and WebSocket for one
 * Engine.IO server on one port, plus CORS, the io cookie and gzip/deflate of polling responses.
 */
#ifndef SIO_HTTP_H
#define SIO_HTTP_H

#include "engine/engine.h"

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
    /* Extra route: called for requests outside the engine path; NULL = 404. Returns the
     * status and fills body and ctype with static or owned-by-caller strings valid until return. */
    int (*route)(const char *path, const char **ctype, const char **body, void *user);
    void *route_user;
} sio_http_options;

void sio_http_options_init(sio_http_options *o);

/** The transport ops to hand to eio_server_new for sessions served by this layer. */
const eio_transport_ops *sio_http_transport_ops(void);

/** Starts listening. Borrows base and engine (both must outlive the returned object).
 *  NULL on failure (logged). */
sio_http *sio_http_new(struct event_base *base, const sio_http_options *opts, eio_server *engine);
/** The port actually bound. */
int sio_http_port(const sio_http *h);
/** Stops listening and closes every connection. */
void sio_http_free(sio_http *h);

#endif
