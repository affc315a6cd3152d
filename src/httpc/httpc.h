/*
 * A small asynchronous HTTP/1.1 client on libevent: one request per connection (Connection:
 * close), http:// and https:// (certificate verified against the system store or a CA file, SNI,
 * host name checked), bounded in time and in response size. It never blocks the loop: numeric
 * hosts connect directly, names go through evdns. Used for JWKS URLs and authorisation callbacks.
 * Every call happens on the loop thread.
 */
#ifndef SIO_HTTPC_H
#define SIO_HTTPC_H

#include <stddef.h>

struct event_base;
struct evdns_base;

/** A request in flight. Opaque; owned by the client until its callback has run. */
typedef struct sio_httpc sio_httpc;

/** A shared TLS client configuration (trusted certificates), reusable by many requests. */
typedef struct sio_httpc_tls sio_httpc_tls;

/** One request header; name and value are borrowed for the sio_httpc_request call only. */
typedef struct sio_httpc_header {
    const char *name;
    const char *value;
} sio_httpc_header;

enum {
    SIO_HTTPC_DEFAULT_TIMEOUT_MS = 10000,
    SIO_HTTPC_DEFAULT_MAX_RESPONSE = 1 << 20,
    SIO_HTTPC_MAX_HEAD = 16384, /* status line and response headers together */
};

/**
 * A request. Zero-initialise it and fill in what you need; every pointer is borrowed for the
 * sio_httpc_request call only (the client copies what it keeps).
 */
typedef struct sio_httpc_req {
    const char *method; /* NULL: "GET" (or "POST" when body_len > 0) */
    const char *url;    /* http://host[:port]/path?query or https://...; required */
    const sio_httpc_header *headers;
    size_t n_headers; /* Host, Content-Length and Connection are set by the client */
    const void *body;
    size_t body_len;
    int timeout_ms;            /* the whole exchange, DNS to last byte; <= 0: 10 s */
    size_t max_response_bytes; /* body limit; 0: 1 MiB */
    const char *ca_file;    /* https without tls: PEM bundle to trust instead of the system store */
    sio_httpc_tls *tls;     /* https: shared configuration (borrowed, must outlive the request) */
    struct evdns_base *dns; /* resolver for host names (borrowed); NULL: one per request */
} sio_httpc_req;

/** What the callback receives; borrowed for the duration of the callback only. */
typedef struct sio_httpc_response {
    /* The HTTP status code (100..599), or a negative SIO_E*: SIO_ETIMEDOUT (deadline passed),
     * SIO_EIO (name resolution, connection or TLS failure, including certificate checks),
     * SIO_ELIMIT (response larger than max_response_bytes or its head larger than
     * SIO_HTTPC_MAX_HEAD), SIO_EPROTO (malformed response). */
    int status;
    const char *body; /* NUL-terminated (the NUL is not counted); "" on errors */
    size_t body_len;
    const char *reason; /* short text for logs: "connection refused", "timed out", "200", ... */
} sio_httpc_response;

/**
 * Runs exactly once per successful sio_httpc_request, unless the request is cancelled first;
 * never synchronously inside sio_httpc_request. The request handle is freed when it returns.
 */
typedef void (*sio_httpc_cb)(sio_httpc *req, const sio_httpc_response *res, void *user);

/**
 * Starts a request on base. Returns a handle, valid until the callback has returned or
 * sio_httpc_cancel was called; or NULL (the callback will not run) when the request is invalid
 * (no or malformed URL, unsupported scheme, CR/LF in a header, TLS set-up failed) or memory ran
 * out. Borrows base, which must outlive the request.
 */
sio_httpc *sio_httpc_request(struct event_base *base, const sio_httpc_req *req, sio_httpc_cb cb,
                             void *user);

/**
 * Cancels a request: its callback will not run, and its connection and memory are released at
 * once. NULL is accepted; a call from inside the request's own callback does nothing.
 */
void sio_httpc_cancel(sio_httpc *req);

/**
 * Looks up a response header (case-insensitive name). Only valid inside the callback; returns a
 * borrowed NUL-terminated value, or NULL.
 */
const char *sio_httpc_response_header(const sio_httpc *req, const char *name);

/**
 * Creates a shared TLS configuration: TLS 1.2 or later, peer verified against ca_file (PEM
 * bundle) or, when NULL, the system store. Loading the store reads files: call this at start-up,
 * not per request. Returns NULL when the store cannot be loaded or memory ran out.
 */
sio_httpc_tls *sio_httpc_tls_new(const char *ca_file);

/** Frees a TLS configuration; requests that borrowed it must be finished. NULL is accepted. */
void sio_httpc_tls_free(sio_httpc_tls *tls);

#endif
