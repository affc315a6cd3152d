/*
 * sio HTTP routes and the Engine.IO handshake filter: plain HTTP endpoints served on the
 * server's port next to the Engine.IO path, answered now or later, and a hook that decides, now
 * or later, whether a client may open a session (Node's engine.io allowRequest).
 *
 * Threading and ownership words as in <sio/sio.h>: every call on the loop thread; "borrows",
 * "copies", "borrowed, valid until ...".
 */
#ifndef SIO_HTTP_PUBLIC_H
#define SIO_HTTP_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#include <sio/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SIO_API
#if defined(__GNUC__)
#define SIO_API __attribute__((visibility("default")))
#else
#define SIO_API
#endif
#endif

typedef struct sio_server sio_server;

/* ---- routes ------------------------------------------------------------------------------- */

/** One HTTP request to a route. Opaque; valid from the route callback until the application
 *  answers it with sio_http_respond or gives it up with sio_http_request_release. */
typedef struct sio_http_request sio_http_request;

/**
 * A route callback: runs once per request, after the whole body has arrived. It may answer at
 * once (sio_http_respond) or return and answer later, from a timer or another request's
 * callback. Every request handed to a callback must be finished by exactly one
 * sio_http_respond or sio_http_request_release, whether or not the peer is still there.
 */
typedef void (*sio_route_cb)(sio_http_request *req, void *user);

/** Route flags. */
enum sio_route_flags {
    SIO_ROUTE_PREFIX = 1 << 0, /* path matches every URL path that starts with it */
};

/** Largest max_body a route may ask for (bytes). */
#define SIO_ROUTE_MAX_BODY (64u << 20)

/**
 * A route. Requests whose URL path is under the Engine.IO path never reach a route (the engine
 * wins). Otherwise the routes are tried in the order they were added: the first whose path
 * matches (exactly, or as a prefix with SIO_ROUTE_PREFIX) and whose method matches runs. A path
 * matched only by routes of other methods gets 405 with an Allow header; no match at all, 404.
 * A body over max_body gets 413 (Content-Length checked first; chunked bodies are counted as
 * they arrive). When the server has a CORS policy and the request an Origin, route responses
 * carry the same CORS headers as the Engine.IO ones.
 */
typedef struct sio_http_route {
    const char *method; /* "GET", "POST", ... (exact, upper case); NULL = any method */
    const char *path;   /* starts with '/'; the query string is not part of it */
    int flags;          /* sio_route_flags */
    size_t max_body;    /* bytes of body accepted, at most SIO_ROUTE_MAX_BODY; 0 = none */
    sio_route_cb cb;
    void *user; /* passed to cb; never freed by sio */
} sio_http_route;

/**
 * Adds a route to a server. Copies r and its strings. Returns 0, SIO_EINVAL (no cb, a path not
 * starting with '/', max_body over SIO_ROUTE_MAX_BODY) or SIO_ENOMEM. Routes live until
 * sio_server_free. Never calls back synchronously.
 */
SIO_API int sio_server_route_add(sio_server *srv, const sio_http_route *r);

/** The request method ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", or "OTHER").
 *  Borrowed, valid until the request is finished. */
SIO_API const char *sio_http_request_method(const sio_http_request *req);
/** The URL path, without the query string, as lws decoded it. Borrowed, valid until the
 *  request is finished. */
SIO_API const char *sio_http_request_path(const sio_http_request *req);
/** The query string without '?' ("" when none), percent-encoded again the way
 *  encodeURIComponent does. Borrowed, valid until the request is finished. */
SIO_API const char *sio_http_request_query(const sio_http_request *req);
/** Copies the value of query parameter name (URL-decoded, NUL-terminated) into buf. Returns its
 *  length, SIO_ENOTFOUND or SIO_ELIMIT (cap too small). */
SIO_API long sio_http_request_query_param(const sio_http_request *req, const char *name, char *buf,
                                          size_t cap);
/** Copies request header name (lower case, e.g. "user-agent") into buf, NUL-terminated. Returns
 *  its length, SIO_ENOTFOUND, SIO_ELIMIT (cap too small), or SIO_ECLOSED once the peer has
 *  left or the response has been sent. */
SIO_API long sio_http_request_header(const sio_http_request *req, const char *name, char *buf,
                                     size_t cap);
/** The peer's numeric address ("127.0.0.1", "::1"). Borrowed, valid until the request is
 *  finished. */
SIO_API const char *sio_http_request_address(const sio_http_request *req);
/** The request body and its length (len may be NULL); an empty body is "" with length 0.
 *  Borrowed, valid until the request is finished. */
SIO_API const void *sio_http_request_body(const sio_http_request *req, size_t *len);
/** Whether the peer is gone (the response, if any, would go nowhere). */
SIO_API int sio_http_request_is_aborted(const sio_http_request *req);

/** Called once if the peer leaves before the response is sent. The request stays valid: it
 *  must still be finished with sio_http_respond (which then returns SIO_ECLOSED) or
 *  sio_http_request_release, from the callback or later. */
typedef void (*sio_http_abort_cb)(sio_http_request *req, void *user);
/** Sets (or with NULL clears) the abort callback of a deferred request. If the peer is already
 *  gone, cb is not called: check sio_http_request_is_aborted. */
SIO_API void sio_http_request_on_abort(sio_http_request *req, sio_http_abort_cb cb, void *user);

/** A response header: name and value without CR or LF (borrowed for the call). */
typedef struct sio_http_header {
    const char *name;
    const char *value;
} sio_http_header;

/**
 * Answers the request and finishes it: req must not be used after this call, whatever it
 * returns. status 100..599; headers (nheaders of them, may be NULL) are copied, a
 * "content-type" among them sets the type (none: no Content-Type header); Content-Length,
 * Connection and the CORS headers are sio's. body (len bytes, may be NULL when len is 0) is
 * copied. Called inside the route callback, the response goes out when the callback returns;
 * later, when the socket is writable. Returns 0, SIO_ECLOSED (the peer left; nothing sent),
 * SIO_EINVAL (bad status or header: a 500 is sent instead) or SIO_ENOMEM (the connection is
 * closed). Never re-enters the application.
 */
SIO_API int sio_http_respond(sio_http_request *req, int status, const sio_http_header *headers,
                             size_t nheaders, const void *body, size_t len);
/** Finishes the request without answering: a peer still there gets an empty 500. req must not
 *  be used afterwards. */
SIO_API void sio_http_request_release(sio_http_request *req);

/* ---- the handshake filter (allowRequest) -------------------------------------------------- */

/** A handshake waiting for the application's decision. Opaque; valid from the allow_request
 *  callback until it is answered (sio_handshake_allow or sio_handshake_deny), and at most until
 *  sio_server_free. */
typedef struct sio_handshake sio_handshake;

/**
 * Decides whether a new Engine.IO session may open (Node's engine.io allowRequest). Runs for
 * every handshake request (no sid: a polling GET or a WebSocket upgrade) that passed the
 * request checks of docs/protocol.md §1.9, before the session exists. Every handshake given to
 * it must be answered exactly once, inside the callback or later, even when the peer has left
 * or the timeout has refused it meanwhile (then the answer is a no-op). The callback must not
 * free the server.
 */
typedef void (*sio_allow_request_cb)(sio_handshake *hs, void *user);

/**
 * Installs (or with NULL removes) the handshake filter of a server. A handshake unanswered after
 * 10 s is refused with code 4. While it waits, a polling GET is held and a WebSocket upgrade is
 * accepted without the open packet (docs/configuration.md, Handshake filter).
 */
SIO_API void sio_server_set_allow_request(sio_server *srv, sio_allow_request_cb cb, void *user);

/** "GET" (handshakes are GETs). Borrowed, static. */
SIO_API const char *sio_handshake_method(const sio_handshake *hs);
/** "polling" or "websocket". Borrowed, static. */
SIO_API const char *sio_handshake_transport(const sio_handshake *hs);
/** Copies request header name (lower case) into buf, NUL-terminated. Returns its length,
 *  SIO_ENOTFOUND, SIO_ELIMIT (cap too small) or SIO_ECLOSED (the peer left, or answered).
 *  Guaranteed during the callback only: copy what a later decision needs. */
SIO_API long sio_handshake_header(const sio_handshake *hs, const char *name, char *buf, size_t cap);
/** Copies query parameter name (URL-decoded) into buf, NUL-terminated. Returns its length,
 *  SIO_ENOTFOUND or SIO_ELIMIT. Available until answered. */
SIO_API long sio_handshake_query_param(const sio_handshake *hs, const char *name, char *buf,
                                       size_t cap);
/** The peer's numeric address. Borrowed, valid until answered. */
SIO_API const char *sio_handshake_address(const sio_handshake *hs);
/** Whether the handshake is already settled without the application: the peer left, or the
 *  timeout refused it. It still has to be answered. */
SIO_API int sio_handshake_is_settled(const sio_handshake *hs);

/** Lets the session open. Consumes hs. Inside the callback the handshake goes on at once;
 *  later, it may run the server's open and connection callbacks synchronously. */
SIO_API void sio_handshake_allow(sio_handshake *hs);
/**
 * Refuses the handshake. Consumes hs. code: an Engine.IO error code (4 "Forbidden" by default:
 * pass a negative code for it); message: the text (copied; NULL = the code's standard message).
 * A polling handshake gets HTTP 403 (400 for codes other than 4) with {"code":..,"message":..};
 * a WebSocket answered inside the callback gets Node's 400 upgrade refusal with the message,
 * one answered later is closed with code 1008 and the message.
 */
SIO_API void sio_handshake_deny(sio_handshake *hs, int code, const char *message);

#ifdef __cplusplus
}
#endif

#endif
