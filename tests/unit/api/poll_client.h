/*
 * A minimal Socket.IO client over Engine.IO v4 long-polling, for tests that run a server and
 * its clients on one libevent loop. Each HTTP request is its own connection (Connection: close);
 * one GET is held open at a time, POSTs are serialised and carry every queued packet joined with
 * 0x1e, pings are answered. Nothing blocks: the loop is stepped by the caller (poll_step), or by
 * the waiting calls here, which give up after a deadline.
 */
#ifndef POLL_CLIENT_H
#define POLL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct poll_client poll_client;

/** Milliseconds of a monotonic clock. */
uint64_t poll_now_ms(void);
/** One nonblocking turn of the loop (and a short nap, so waiting loops do not spin hot). */
void poll_step(struct event_base *base);

/** Opens a session on 127.0.0.1:port (path "/socket.io/") and waits up to ms for the open
 *  packet. headers: extra request header lines, each ending in "\r\n" (copied), or NULL.
 *  Returns NULL on failure. */
poll_client *poll_client_open(struct event_base *base, int port, const char *headers, int ms);
/** The Engine.IO session id (borrowed, valid until poll_client_free). */
const char *poll_client_sid(const poll_client *c);
/** Whether the session ended (a close packet, an error status, or a dropped GET). */
int poll_client_is_closed(const poll_client *c);

/** Queues one Engine.IO text packet ("42/chat,[...]") for the next POST. 0 or -1. */
int poll_client_send(poll_client *c, const char *packet);
/** Queues a binary attachment as a "b" + base64 record. 0 or -1. */
int poll_client_send_binary(poll_client *c, const void *data, size_t len);

/** The first received packet starting with prefix, removed from the queue (malloc'd: free it),
 *  or NULL when none has come. */
char *poll_client_take(poll_client *c, const char *prefix);
/** poll_client_take, stepping the loop for up to ms until such a packet comes. */
char *poll_client_wait(poll_client *c, const char *prefix, int ms);
/** Packets received and not taken yet. */
size_t poll_client_pending(const poll_client *c);

/** Sends CONNECT for nsp ("/" or "/chat") with auth_json (NULL: none) and waits up to ms for
 *  the answer: the CONNECT ("40...") or CONNECT_ERROR ("44...") packet (malloc'd), or NULL. */
char *poll_client_connect(poll_client *c, const char *nsp, const char *auth_json, int ms);

/** Drops the connections and frees the client (the server sees the held GET go away). */
void poll_client_free(poll_client *c);

/* ---- one raw HTTP exchange ------------------------------------------------------------------- */

typedef struct raw_http raw_http;

/** Connects to 127.0.0.1:port and sends text (len bytes, as is: the request line, headers and
 *  any body). The response is read as it comes: framed by Content-Length, or up to the end of the
 *  connection. NULL on failure. */
raw_http *raw_http_start(struct event_base *base, int port, const char *text, size_t len);
/** raw_http_start, then steps the loop for up to ms until the exchange is over. */
raw_http *raw_http_fetch(struct event_base *base, int port, const char *text, int ms);
/** Whether the exchange is over: the whole response came, or the connection ended. */
int raw_http_done(const raw_http *r);
/** Whether the status line and headers have come. */
int raw_http_has_head(const raw_http *r);
/** The status (0 until the headers came, or when the connection failed without a response). */
int raw_http_status(const raw_http *r);
/** The body received so far, NUL-terminated (len may be NULL). Borrowed. */
const char *raw_http_body(const raw_http *r, size_t *len);
/** Copies the value of response header name (any case) into buf: its length, or -1. */
long raw_http_header(const raw_http *r, const char *name, char *buf, size_t cap);
/** Closes the connection (the server sees the peer leave) and frees r. */
void raw_http_free(raw_http *r);

#endif
