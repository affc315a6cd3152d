/*
 * libwebsockets glue (docs/protocol.md §1.4, §1.7, §1.9-1.12). Each lws connection (wsi) gets an
 * http_conn, kept in the wsi's opaque user data because lws frees its per-session storage when
 * an HTTP connection upgrades to WebSocket. The engine decides; this file parses requests,
 * writes responses and frames when lws says the socket is writable, and never frees a session.
 */
#include "http.h"

#include "common/log.h"
#include "http_chunked.h"
#include "json_scan.h"

#include <sio/error.h>

#include <event2/event.h>
#include <libwebsockets.h>
#include <zlib.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

_Static_assert(LWS_PRE <= SIO_BUF_HEADROOM, "sio_buf headroom must fit the lws frame header");

#ifdef SIO_LWS_PATCHED
/* lws internal (exported by the static library): gives the request's header table back to the
 * pool. A held long-poll GET needs nothing from its headers once on_http has read them. */
int lws_header_table_detach(struct lws *wsi, int autoservice);
/* lws internal: clears then sets poll events of a connection (here: a listening socket). */
int lws_change_pollfd(struct lws *wsi, int _and, int _or);
#endif

enum conn_kind { CONN_NONE, CONN_GET, CONN_POST, CONN_WS };

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
};

static const struct lws_extension pmd_exts[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL},
};

void sio_http_options_init(sio_http_options *o)
{
    memset(o, 0, sizeof(*o));
    o->cors_max_age = -1;
    o->cookie_path = "/";
    o->cookie_http_only = 1;
    o->cookie_same_site = "Lax";
    o->http_compression_threshold = 1024;
    o->max_header_bytes = 8192;
    o->close_deadline_ms = 30000;
    o->accept_backoff_ms = 100;
}

const sio_http_stats *sio_http_get_stats(const sio_http *h)
{
    return &h->stats;
}

/* ---- closing deadline ----------------------------------------------------------------------- */

/* Closes a connection from outside any lws callback: lws kills it from its timer list, without
 * trying to flush what the peer did not read. The wake-up makes lws look at that list now:
 * otherwise its timer is only re-armed after its next unrelated activity. */
static void kill_soon(http_conn *c)
{
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    lws_cancel_service(c->http->ctx);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    http_conn *c = arg;
    c->http->stats.close_deadline_drops++;
    sio_log(SIO_LOG_INFO, "http", "dropping a closing connection: the peer took nothing for %u ms",
            c->http->deadline_ms);
    /* lws would wait for the peer to take its buffered bytes first: shutting the socket down
     * makes its next read see the end, and it frees the connection without flushing */
    int sock = lws_get_socket_fd(c->wsi);
    if (sock >= 0)
        shutdown(sock, SHUT_RDWR);
    kill_soon(c);
}

/* From now on the connection has at most the close deadline to finish. */
static void arm_deadline(http_conn *c)
{
    sio_http *h = c->http;
    if (!h->deadline_ms)
        return;
    if (!c->deadline) {
        c->deadline = evtimer_new(h->base, deadline_cb, c);
        if (!c->deadline)
            return;
    } else if (evtimer_pending(c->deadline, NULL)) {
        return;
    }
    struct timeval tv = {.tv_sec = h->deadline_ms / 1000,
                         .tv_usec = (h->deadline_ms % 1000) * 1000};
    evtimer_add(c->deadline, &tv);
}

/* ---- engine transport ops ------------------------------------------------------------------- */

static int ws_drain(http_conn *c);
static int on_http_writable(http_conn *c);

/* The engine calls this from its once-per-iteration flush, and for a WebSocket whose session is
 * the only one with anything queued, from that WebSocket's own receive callback
 * (eio_conn_ws_flush, ws_message); never from another connection's lws callback.
 * When it says so, an open WebSocket or a held long-poll GET with nothing buffered by lws is
 * written right away, which saves arming POLLOUT, a wakeup and disarming it again per message
 * or response. Anything lws could not send it buffers and finishes from its own writable
 * callback. Outside a callback a connection cannot be closed by returning -1: a GET whose
 * response ends the connection is closed asynchronously by lws on its next service. */
static void op_want_write(void *conn, int may_write_now)
{
    http_conn *c = conn;
    int direct = may_write_now && c->s && !c->close_req && !lws_partial_buffered(c->wsi);
    if (c->kind == CONN_WS && !c->established) {
        c->want_write = 1;
    } else if (direct && c->kind == CONN_WS) {
        if (ws_drain(c) < 0) {
            c->close_req = 1;
            lws_callback_on_writable(c->wsi);
        }
    } else if (direct && c->kind == CONN_GET) {
        if (on_http_writable(c) < 0)
            kill_soon(c);
    } else {
        lws_callback_on_writable(c->wsi);
    }
}

static void op_close(void *conn)
{
    http_conn *c = conn;
    c->close_req = 1;
    arm_deadline(c);
    if (c->kind == CONN_WS && !c->established)
        c->want_write = 1;
    else
        lws_callback_on_writable(c->wsi);
}

static const eio_transport_ops transport_ops = {op_want_write, op_close};

const eio_transport_ops *sio_http_transport_ops(void)
{
    return &transport_ops;
}

static void conn_detach(http_conn *c)
{
    if (c->s) {
        eio_session *s = c->s;
        c->s = NULL;
        eio_conn_detach(s, c);
    }
    c->kind = CONN_NONE;
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
}

/* ---- request facts -------------------------------------------------------------------------- */

static int hdr_copy(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t cap)
{
    buf[0] = 0;
    int n = lws_hdr_total_length(wsi, t);
    if (n <= 0 || (size_t)n >= cap)
        return -1;
    return lws_hdr_copy(wsi, buf, (int)cap, t) < 0 ? -1 : n;
}

static int method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return EIO_METHOD_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return EIO_METHOD_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI))
        return EIO_METHOD_OPTIONS;
    return EIO_METHOD_OTHER;
}

/* Characters Node's http module refuses in a header value (the origin check of §1.9). */
static int header_value_invalid(const char *v)
{
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 1;
    }
    return 0;
}

/* Copies the value of query argument name (given with its '='). lws keeps each argument as a
 * fragment; one too long for our scratch buffer is skipped rather than ending the scan. */
static const char *query_arg(struct lws *wsi, const char *name, char *out, size_t cap)
{
    char frag[512];
    size_t nlen = strlen(name);
    for (int i = 0; i < 64; i++) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            return NULL;
        if ((size_t)n >= sizeof(frag))
            continue;
        if (lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            continue;
        if (strncmp(frag, name, nlen))
            continue;
        size_t vlen = strlen(frag + nlen);
        if (vlen >= cap)
            return NULL;
        memcpy(out, frag + nlen, vlen + 1);
        return out;
    }
    return NULL;
}

typedef struct req_args {
    char eio[8], transport[16], sid[64], ctype[64];
    const char *peio, *ptransport, *psid;
} req_args;

static void read_request(struct lws *wsi, http_conn *c, eio_request *req, req_args *a)
{
    memset(req, 0, sizeof(*req));
    req->method = method_of(wsi);
    req->content_length = -1;
    a->peio = query_arg(wsi, "EIO=", a->eio, sizeof(a->eio));
    a->ptransport = query_arg(wsi, "transport=", a->transport, sizeof(a->transport));
    a->psid = query_arg(wsi, "sid=", a->sid, sizeof(a->sid));
    req->eio = a->peio;
    req->transport = a->ptransport;
    req->sid = a->psid;
    free(c->origin);
    c->origin = NULL;
    int olen = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (olen > 0) {
        char obuf[1024];
        if (hdr_copy(wsi, WSI_TOKEN_ORIGIN, obuf, sizeof(obuf)) < 0 || header_value_invalid(obuf))
            req->origin_invalid = 1; /* absurdly long or with control characters */
        else
            c->origin = strdup(obuf);
    }
    if (hdr_copy(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, a->ctype, sizeof(a->ctype)) > 0)
        req->octet_stream_body = !strncmp(a->ctype, "application/octet-stream", 24);
    char cl[32];
    if (hdr_copy(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl)) > 0)
        req->content_length = strtoll(cl, NULL, 10);
    c->chunked = 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        char te[64];
        int ten = hdr_copy(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, te, sizeof(te));
        c->chunked = ten > 0 && !strcasecmp(te, "chunked") ? 1 : -1; /* -1: refused */
    }
    char ae[256];
    c->enc = 0;
    if (hdr_copy(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING, ae, sizeof(ae)) > 0)
        c->enc = strstr(ae, "gzip") ? 1 : (strstr(ae, "deflate") ? 2 : 0);
}

/* Appends "name":"value" (JSON-escaped) to the buffer; silently stops when full. */
typedef struct jbuf {
    char *p;
    size_t len, cap;
} jbuf;

static void jb_raw(jbuf *b, const char *s, size_t n)
{
    if (b->len + n < b->cap) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
    } else {
        b->len = b->cap; /* overflowed: marked unusable */
    }
}

static void jb_str(jbuf *b, const char *s, size_t n)
{
    if (b->len >= b->cap)
        return;
    size_t need = sio_json_write_string(b->p + b->len, b->cap - b->len, s, n);
    if (b->len + need < b->cap)
        b->len += need;
    else
        b->len = b->cap;
}

static void jb_member(jbuf *b, int *first, const char *k, size_t kn, const char *v, size_t vn)
{
    if (!*first)
        jb_raw(b, ",", 1);
    *first = 0;
    jb_str(b, k, kn);
    jb_raw(b, ":", 1);
    jb_str(b, v, vn);
}

static const struct {
    const char *name;
    enum lws_token_indexes tok;
} handshake_headers[] = {
    {"host", WSI_TOKEN_HOST},
    {"origin", WSI_TOKEN_ORIGIN},
    {"user-agent", WSI_TOKEN_HTTP_USER_AGENT},
    {"cookie", WSI_TOKEN_HTTP_COOKIE},
    {"authorization", WSI_TOKEN_HTTP_AUTHORIZATION},
    {"x-forwarded-for", WSI_TOKEN_X_FORWARDED_FOR},
    {"referer", WSI_TOKEN_HTTP_REFERER},
    {"accept-language", WSI_TOKEN_HTTP_ACCEPT_LANGUAGE},
};

/* lws hands us each accepted connection's address before adopting it; keeping it saves a
 * getpeername() per handshake (a system call is a visible part of a connect's cost). */
static void note_peer(sio_http *h, const struct lws_filter_network_conn_args *a)
{
    if (a->accept_fd < 0 || a->clilen > sizeof(lws_sockaddr46))
        return;
    size_t fd = (size_t)a->accept_fd;
    if (fd >= h->peers_cap) {
        size_t cap = h->peers_cap ? h->peers_cap : 1024;
        while (cap <= fd)
            cap *= 2;
        lws_sockaddr46 *np = realloc(h->peers, cap * sizeof(*np));
        if (!np)
            return;
        memset(np + h->peers_cap, 0, (cap - h->peers_cap) * sizeof(*np));
        h->peers = np;
        h->peers_cap = cap;
    }
    memset(&h->peers[fd], 0, sizeof(h->peers[fd]));
    memcpy(&h->peers[fd], &a->cli_addr, a->clilen);
}

static void peer_address(struct lws *wsi, char *out, size_t cap)
{
    sio_http *h = lws_context_user(lws_get_context(wsi));
    int fd = lws_get_socket_fd(wsi);
    out[0] = 0;
    if (fd >= 0 && (size_t)fd < h->peers_cap && h->peers[fd].sa4.sin_family)
        lws_sa46_write_numeric_address(&h->peers[fd], out, cap);
    else
        lws_get_peer_simple(wsi, out, cap);
}

/* The request URL as Node reports it (path and query). lws keeps the query as decoded
 * arguments; they are percent-encoded again the way encodeURIComponent does. */
static void request_url(struct lws *wsi, const char *uri, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    char frag[1024];
    size_t o = 0;
    for (const char *p = uri; *p && o + 1 < cap; p++)
        out[o++] = *p;
    for (int i = 0; i < 64; i++) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0 || (size_t)n >= sizeof(frag) ||
            lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            break;
        if (o + 1 < cap)
            out[o++] = i ? '&' : '?';
        int seen_eq = 0;
        for (const unsigned char *p = (const unsigned char *)frag; *p; p++) {
            unsigned char ch = *p;
            int plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                        (ch >= '0' && ch <= '9') || strchr("-_.!~*'()", ch) ||
                        (ch == '=' && !seen_eq);
            seen_eq |= ch == '=';
            if (plain && o + 1 < cap) {
                out[o++] = (char)ch;
            } else if (!plain && o + 3 < cap) {
                out[o++] = '%';
                out[o++] = hex[ch >> 4];
                out[o++] = hex[ch & 15];
            }
        }
    }
    out[o] = 0;
}

/* The handshake as the layer above sees it (Node's socket.handshake): selected headers, the
 * query, the peer address. Built only for requests that create a session, into one buffer
 * the engine copies from (single-threaded, not re-entered). */
static const char *build_handshake(struct lws *wsi, const char *uri)
{
    static char mem[16384];
    size_t cap = sizeof(mem);
    jbuf b = {mem, 0, cap};
    char val[4096];
    int first = 1;
    jb_raw(&b, "{\"headers\":{", 12);
    for (size_t i = 0; i < sizeof(handshake_headers) / sizeof(handshake_headers[0]); i++) {
        int n = hdr_copy(wsi, handshake_headers[i].tok, val, sizeof(val));
        if (n > 0)
            jb_member(&b, &first, handshake_headers[i].name, strlen(handshake_headers[i].name), val,
                      (size_t)n);
    }
    jb_raw(&b, "},\"query\":{", 11);
    first = 1;
    for (int i = 0; i < 64; i++) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        if ((size_t)n >= sizeof(val) ||
            lws_hdr_copy_fragment(wsi, val, sizeof(val), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            continue;
        char *eq = strchr(val, '=');
        size_t kn = eq ? (size_t)(eq - val) : strlen(val);
        const char *v = eq ? eq + 1 : "";
        jb_member(&b, &first, val, kn, v, strlen(v));
    }
    char addr[64];
    peer_address(wsi, addr, sizeof(addr));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char tail[256];
    int tn =
        snprintf(tail, sizeof(tail),
                 "},\"secure\":%s,\"issued\":%lld,\"address\":", lws_is_ssl(wsi) ? "true" : "false",
                 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    jb_raw(&b, tail, (size_t)tn);
    jb_str(&b, addr, strlen(addr));
    jb_raw(&b, ",\"url\":", 7);
    request_url(wsi, uri, val, sizeof(val));
    jb_str(&b, val, strlen(val));
    jb_raw(&b, "}", 1);
    if (b.len >= b.cap) { /* absurdly large headers: keep the shape, drop the details */
        snprintf(b.p, cap, "{\"headers\":{},\"query\":{},\"address\":\"%s\"}", addr);
    }
    return b.p;
}

/* ---- responses ------------------------------------------------------------------------------ */

static int origin_allowed(const sio_http_options *o, const char *origin)
{
    const char *list = o->cors_origin;
    size_t n = strlen(origin);
    while (*list) {
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        while (len && *list == ' ')
            list++, len--;
        while (len && list[len - 1] == ' ')
            len--;
        if (len == n && !memcmp(list, origin, n))
            return 1;
        if (!end)
            break;
        list = end + 1;
    }
    return 0;
}

static int add_hdr(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                   unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int add_cors(http_conn *c, unsigned char **p, unsigned char *end)
{
    const sio_http_options *o = &c->http->opts;
    if (!o->cors_origin)
        return 0;
    const char *allow = NULL;
    if (!strcmp(o->cors_origin, "*"))
        allow = "*";
    else if (c->origin && (!strcmp(o->cors_origin, "reflect") || origin_allowed(o, c->origin)))
        allow = c->origin;
    if (allow && add_hdr(c->wsi, "access-control-allow-origin:", allow, p, end))
        return -1;
    if (strcmp(o->cors_origin, "*") && add_hdr(c->wsi, "vary:", "Origin", p, end))
        return -1;
    if (o->cors_credentials && add_hdr(c->wsi, "access-control-allow-credentials:", "true", p, end))
        return -1;
    return 0;
}

typedef struct response {
    int status;
    const char *ctype;
    const uint8_t *body;
    size_t len;
    const char *encoding;   /* Content-Encoding or NULL */
    const char *cookie_sid; /* set the io cookie to this sid */
    int no_store;
    int preflight;
    int close;          /* Connection: close, then hang up */
    int defer_complete; /* a POST body is still arriving: complete the transaction later */
    sio_buf *buf;       /* body is this buffer's bytes: written in place, headroom and all */
} response;

static int add_extra_headers(http_conn *c, const response *r, int close, unsigned char **p,
                             unsigned char *end)
{
    const sio_http_options *o = &c->http->opts;
    struct lws *wsi = c->wsi;
    if (add_cors(c, p, end))
        return -1;
    if (r->preflight) {
        char buf[512];
        const char *methods = o->cors_methods ? o->cors_methods : "GET,HEAD,PUT,PATCH,POST,DELETE";
        if (add_hdr(wsi, "access-control-allow-methods:", methods, p, end))
            return -1;
        const char *hdrs = o->cors_headers;
        if (!hdrs && hdr_copy(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS, buf, sizeof(buf)) > 0)
            hdrs = buf;
        if (hdrs && add_hdr(wsi, "access-control-allow-headers:", hdrs, p, end))
            return -1;
        if (o->cors_max_age >= 0) {
            snprintf(buf, sizeof(buf), "%d", o->cors_max_age);
            if (add_hdr(wsi, "access-control-max-age:", buf, p, end))
                return -1;
        }
    }
    if (r->no_store && add_hdr(wsi, "cache-control:", "no-store", p, end))
        return -1;
    if (r->encoding && add_hdr(wsi, "content-encoding:", r->encoding, p, end))
        return -1;
    if (close && add_hdr(wsi, "connection:", "close", p, end))
        return -1;
    if (r->cookie_sid && o->cookie_name) {
        char ck[512];
        snprintf(ck, sizeof(ck), "%s=%s; Path=%s%s%s%s%s", o->cookie_name, r->cookie_sid,
                 o->cookie_path, o->cookie_http_only ? "; HttpOnly" : "",
                 o->cookie_secure ? "; Secure" : "", o->cookie_same_site ? "; SameSite=" : "",
                 o->cookie_same_site ? o->cookie_same_site : "");
        if (add_hdr(wsi, "set-cookie:", ck, p, end))
            return -1;
    }
    return 0;
}

/* Writes a whole response with one send: the headers are built in front of a copy of the body
 * and go out as one write (lws counts no body bytes for HTTP/1.1, so this is the same to it as
 * headers then body, minus a syscall per response). Returns what the lws callback must return. */
static int respond(http_conn *c, const response *r)
{
    enum { HDR_ROOM = 2048, INLINE_BODY = 16384 };
    /* the connection also ends when its body framing is lost (chunked) or the server is going
     * away */
    int close = r->close || c->end_after || c->http->shutting_down;
    static unsigned char scratch[LWS_PRE + HDR_ROOM + INLINE_BODY]; /* one thread, no re-entry */
    unsigned char *mem = scratch;
    if (r->len > INLINE_BODY) {
        mem = malloc(LWS_PRE + HDR_ROOM + r->len);
        if (!mem)
            return -1;
    }
    unsigned char *start = mem + LWS_PRE, *p = start, *end = start + HDR_ROOM - 1;
    struct lws *wsi = c->wsi;
    int rc = -1;
    if (lws_add_http_common_headers(wsi, (unsigned int)r->status, r->ctype, r->len, &p, end) ||
        add_extra_headers(c, r, close, &p, end) || lws_finalize_http_header(wsi, &p, end))
        goto out;
    if (r->len)
        memcpy(p, r->buf ? sio_buf_data(r->buf) : r->body, r->len);
    if (lws_write(wsi, start, (size_t)(p - start) + r->len, LWS_WRITE_HTTP_HEADERS) < 0)
        goto out;
    if (close)
        goto out;
    rc = r->defer_complete ? 0 : (lws_http_transaction_completed(wsi) ? -1 : 0);
out:
    if (mem != scratch)
        free(mem);
    return rc;
}

static int respond_status(http_conn *c, int status)
{
    response r = {.status = status, .ctype = "text/html", .defer_complete = c->discard_body};
    return respond(c, &r);
}

static int respond_error(http_conn *c, int code)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", code,
                     eio_error_message(code));
    response r = {.status = eio_error_status(code),
                  .ctype = "application/json",
                  .body = (const uint8_t *)body,
                  .len = (size_t)n,
                  .defer_complete = c->discard_body};
    return respond(c, &r);
}

/* A failed WebSocket upgrade: a plain 400 with the message as text, then hang up. */
static int reject_upgrade(http_conn *c, int code)
{
    const char *msg = eio_error_message(code < 0 ? EIO_ERR_BAD_REQUEST : code);
    response r = {.status = 400,
                  .ctype = "text/html",
                  .body = (const uint8_t *)msg,
                  .len = strlen(msg),
                  .close = 1};
    respond(c, &r);
    return -1;
}

static uint8_t *compress_body(const uint8_t *in, size_t len, int gzip, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 31 : 15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)len);
    uint8_t *out = malloc(cap);
    if (out) {
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
            free(out);
            out = NULL;
        } else {
            *out_len = z.total_out;
        }
    }
    deflateEnd(&z);
    return out;
}

static int respond_payload(http_conn *c, sio_buf *b, const char *cookie_sid)
{
    response r = {.status = 200,
                  .ctype = "text/plain; charset=UTF-8",
                  .body = sio_buf_data(b),
                  .len = b->len,
                  .no_store = 1,
                  .cookie_sid = cookie_sid,
                  .buf = b};
    uint8_t *z = NULL;
    size_t th = c->http->opts.http_compression_threshold;
    if (c->enc && th && b->len >= th) {
        size_t zlen;
        z = compress_body(sio_buf_data(b), b->len, c->enc == 1, &zlen);
        if (z) {
            r.body = z;
            r.buf = NULL;
            r.len = zlen;
            r.encoding = c->enc == 1 ? "gzip" : "deflate";
        }
    }
    int rc = respond(c, &r);
    free(z);
    return rc;
}

/* ---- HTTP requests ------------------------------------------------------------------------- */

static int path_matches(const sio_http *h, const char *uri)
{
    const char *path = eio_server_options(h->engine)->path;
    return !strncmp(uri, path, strlen(path));
}

static int other_route(http_conn *c, const char *uri)
{
    sio_http *h = c->http;
    const char *ctype = "application/json", *body = "{\"error\":\"not found\"}";
    int status = 404;
    if (h->opts.route)
        status = h->opts.route(uri, &ctype, &body, h->opts.route_user);
    response r = {
        .status = status, .ctype = ctype, .body = (const uint8_t *)body, .len = strlen(body)};
    return respond(c, &r);
}

static int on_http(http_conn *c, const char *uri)
{
    sio_http *h = c->http;
    conn_detach(c); /* a keep-alive connection starts a new transaction */
    if (!path_matches(h, uri))
        return other_route(c, uri);
    eio_request req;
    req_args a;
    read_request(c->wsi, c, &req, &a);
    if (c->chunked) {
        /* lws reads no chunked framing: the body's end is found by our decoder and the
         * connection ends with the response (its framing cannot be trusted for reuse). */
        c->end_after = 1;
        if (c->chunked < 0 || req.content_length >= 0) { /* other codings; smuggling shapes */
            sio_log(SIO_LOG_INFO, "http", "refusing a body with Transfer-Encoding %s",
                    c->chunked < 0 ? "other than chunked" : "and Content-Length");
            return respond_status(c, 400);
        }
    }
    if (req.method == EIO_METHOD_OPTIONS && h->opts.cors_origin) {
        response r = {.status = 204, .ctype = NULL, .preflight = 1};
        return respond(c, &r);
    }
    const char *hs = !req.sid && req.method == EIO_METHOD_GET ? build_handshake(c->wsi, uri) : NULL;
    req.handshake_json = hs;
    eio_session *s = NULL;
    int err, status;
    eio_action act = eio_server_handle(h->engine, &req, c, &s, &err, &status);
    /* An early answer to a POST with a body: read and drop the body before the next request. */
    c->discard_body =
        act != EIO_ACT_READ_BODY && req.method == EIO_METHOD_POST && req.content_length > 0;
    switch (act) {
    case EIO_ACT_ERROR:
        return respond_error(c, err);
    case EIO_ACT_STATUS:
        return respond_status(c, status);
    case EIO_ACT_HOLD_GET:
        c->s = s;
        c->kind = CONN_GET;
        /* A client hanging up on the held GET is noticed by lws (scripts/lws-patches/0002)
         * and reported as CLOSED_HTTP: the session then closes, as Node does. */
        lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
#ifdef SIO_LWS_PATCHED
        /* 8 KiB per waiting client otherwise, and lws frees header tables by walking a list
         * of all those in use: O(waiting clients) per request. */
        lws_header_table_detach(c->wsi, 0);
#endif
        return 0;
    case EIO_ACT_READ_BODY:
        c->s = s;
        c->kind = CONN_POST;
        c->discard_body = 0;
        if (c->chunked) {
            sio_chunked_init(&c->dechunk);
            c->over_limit = 0;
            h->stats.chunked_bodies++;
        }
        return 0;
    case EIO_ACT_WS_ACCEPT: /* cannot happen without an Upgrade header */
        break;
    }
    return -1;
}

static int on_body_done(http_conn *c);
static int body_append(http_conn *c, const void *in, size_t len);

static int dechunk_sink(void *user, const uint8_t *data, size_t len)
{
    http_conn *c = user;
    if (c->body_len + len > c->http->max_payload) {
        c->over_limit = 1;
        return 1;
    }
    return body_append(c, data, len) < 0 ? 1 : 0;
}

/* A chunked body: decoded into c->body; its end completes the POST like Content-Length's. */
static int on_chunked_body(http_conn *c, const void *in, size_t len)
{
    const char *reason = NULL;
    int rc = sio_chunked_feed(&c->dechunk, in, len, NULL, dechunk_sink, c, &reason);
    if (rc == 1)
        return on_body_done(c);
    if (rc == 0)
        return 0;
    eio_session *s = c->s;
    int too_large = rc == SIO_ELIMIT && c->over_limit;
    sio_log(SIO_LOG_INFO, "http", "session %s: chunked POST body: %s", eio_session_id(s),
            too_large ? "over maxPayload" : (reason ? reason : "out of memory"));
    eio_session_close(s, too_large ? EIO_CLOSE_PAYLOAD_TOO_LARGE : EIO_CLOSE_PARSE_ERROR);
    conn_detach(c);
    return respond_status(c, too_large ? 413 : 400);
}

static int on_body(http_conn *c, const void *in, size_t len)
{
    if (c->discard_body || c->kind != CONN_POST || !c->s)
        return 0;
    if (c->chunked)
        return on_chunked_body(c, in, len);
    if (c->body_len + len > c->http->max_payload) {
        /* Over maxHttpBufferSize without a Content-Length to catch it earlier. */
        eio_session *s = c->s;
        eio_session_close(s, EIO_CLOSE_PAYLOAD_TOO_LARGE);
        conn_detach(c);
        c->discard_body = 1;
        return respond_status(c, 413);
    }
    return body_append(c, in, len);
}

static int body_append(http_conn *c, const void *in, size_t len)
{
    if (c->body_len + len > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 1024;
        while (cap < c->body_len + len)
            cap *= 2;
        uint8_t *nb = realloc(c->body, cap);
        if (!nb)
            return -1;
        c->body = nb;
        c->body_cap = cap;
    }
    if (len)
        memcpy(c->body + c->body_len, in, len);
    c->body_len += len;
    return 0;
}

static int on_body_done(http_conn *c)
{
    if (c->discard_body) {
        c->discard_body = 0;
        return lws_http_transaction_completed(c->wsi) ? -1 : 0;
    }
    if (c->kind != CONN_POST || !c->s)
        return -1;
    int status = eio_conn_post_body(c->s, c, c->body ? c->body : (uint8_t *)"", c->body_len);
    conn_detach(c);
    if (status == 200) {
        response r = {.status = 200, .ctype = "text/html", .body = (const uint8_t *)"ok", .len = 2};
        return respond(c, &r);
    }
    return respond_status(c, status);
}

static int on_http_writable(http_conn *c)
{
    if (c->kind != CONN_GET || !c->s)
        return c->close_req ? -1 : 0;
    eio_session *s = c->s;
    int reject;
    sio_buf *b = eio_conn_poll_take(s, c, &reject);
    if (reject) {
        conn_detach(c);
        return respond_error(c, EIO_ERR_BAD_REQUEST);
    }
    if (!b)
        return c->close_req ? -1 : 0;
    /* the io cookie goes on the handshake response only (the payload starts with the open) */
    const char *cookie = (c->http->opts.cookie_name && b->len && sio_buf_data(b)[0] == '0')
                             ? eio_session_id(s)
                             : NULL;
    char sid[SIO_ID_LEN + 1];
    if (cookie) {
        memcpy(sid, cookie, sizeof(sid));
        cookie = sid;
    }
    conn_detach(c);
    c->close_req = 0;
    int rc = respond_payload(c, b, cookie);
    sio_buf_unref(b);
    return rc;
}

/* ---- WebSocket ------------------------------------------------------------------------------ */

static int on_confirm_upgrade(http_conn *c, const char *uri)
{
    sio_http *h = c->http;
    conn_detach(c);
    if (!path_matches(h, uri))
        return reject_upgrade(c, EIO_ERR_BAD_REQUEST);
    eio_request req;
    req_args a;
    read_request(c->wsi, c, &req, &a);
    req.is_upgrade = 1;
    const char *hs = !req.sid ? build_handshake(c->wsi, uri) : NULL;
    req.handshake_json = hs;
    eio_session *s = NULL;
    int err, status;
    eio_action act = eio_server_handle(h->engine, &req, c, &s, &err, &status);
    if (act != EIO_ACT_WS_ACCEPT)
        return reject_upgrade(c, act == EIO_ACT_ERROR ? err : EIO_ERR_BAD_REQUEST);
    c->kind = CONN_WS;
    c->established = 0;
    c->s = s; /* NULL: accepted only to be closed (the session is upgrading or upgraded) */
    if (!s)
        c->close_req = 1;
    return 0;
}

static int ws_message(http_conn *c, uint8_t *data, size_t len, int binary)
{
    if (eio_conn_ws_message(c->s, c, data, len, binary) < 0)
        return -1;
    if (c->s)
        eio_conn_ws_flush(c->s, c);
    return 0;
}

static int on_ws_receive(http_conn *c, void *in, size_t len)
{
    /* lws may call again with more inflated bytes of a message already refused: stay refused
     * (and keep the 1009 a later close would otherwise replace) */
    if (!c->s || c->close_status)
        return -1;
    int first = lws_is_first_fragment(c->wsi), final = lws_is_final_fragment(c->wsi);
    int binary = lws_frame_is_binary(c->wsi);
    if (first && final && !c->body_len) {
        if (len > c->http->max_payload)
            goto too_large;
        return ws_message(c, in, len, binary);
    }
    if (c->body_len + len > c->http->max_payload)
        goto too_large;
    if (first)
        c->body_len = 0;
    if (c->body_len + len > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + len)
            cap *= 2;
        uint8_t *nb = realloc(c->body, cap);
        if (!nb)
            return -1;
        c->body = nb;
        c->body_cap = cap;
    }
    if (len)
        memcpy(c->body + c->body_len, in, len);
    c->body_len += len;
    if (!final)
        return 0;
    size_t n = c->body_len;
    c->body_len = 0;
    /* lws_frame_is_binary reflects the first frame's opcode for continuations */
    return ws_message(c, c->body, n, binary);
too_large:
    c->close_status = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
    eio_session_close(c->s, EIO_CLOSE_PAYLOAD_TOO_LARGE);
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    return -1;
}

/* A data frame's header announces its length (scripts/lws-patches/0009): refuse one above
 * maxPayload before reading any of it, as Node's ws does. */
static int on_ws_frame_length(http_conn *c, size_t len)
{
    if (len <= c->http->max_payload)
        return 0;
    sio_log(SIO_LOG_INFO, "http", "session %s: WebSocket frame of %zu bytes over maxPayload",
            c->s ? eio_session_id(c->s) : "-", len);
    c->close_status = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
    if (c->s)
        eio_session_close(c->s, EIO_CLOSE_PAYLOAD_TOO_LARGE);
    return 1;
}

/* RFC 6455 header of an unmasked server frame; returns its length (2, 4 or 10). */
static size_t ws_frame_header(uint8_t *h, size_t len, int binary)
{
    h[0] = (uint8_t)(0x80 | (binary ? 2 : 1));
    if (len < 126) {
        h[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

static int ws_close_now(http_conn *c)
{
    lws_close_reason(
        c->wsi, c->close_status ? (enum lws_close_status)c->close_status : LWS_CLOSE_STATUS_NORMAL,
        NULL, 0);
    return -1;
}

/* Writes several queued frames with one send: we frame them ourselves into a scratch buffer and
 * hand lws raw bytes (lws buffers whatever the socket does not take). Only without
 * permessage-deflate, where lws would have to compress each message. */
static int ws_write_coalesced(http_conn *c, sio_buf *first, sio_buf *second, int *close_after)
{
    sio_http *h = c->http;
    size_t used = LWS_PRE;
    sio_buf *b = first;
    int n_frames = 0;
    while (b) {
        size_t need = used + 10 + b->len;
        if (need > h->scratch_cap) {
            size_t cap = h->scratch_cap ? h->scratch_cap : 65536;
            while (cap < need)
                cap *= 2;
            uint8_t *ns = realloc(h->scratch, cap);
            if (!ns) {
                sio_buf_unref(b);
                if (b == first)
                    sio_buf_unref(second);
                return -1;
            }
            h->scratch = ns;
            h->scratch_cap = cap;
        }
        used += ws_frame_header(h->scratch + used, b->len, b->binary);
        memcpy(h->scratch + used, sio_buf_data(b), b->len);
        used += b->len;
        sio_buf_unref(b);
        n_frames++;
        if (b == first) {
            b = second;
        } else if (used - LWS_PRE >= 256 * 1024 || *close_after) {
            b = NULL; /* enough for one callback; the rest on the next */
        } else {
            b = eio_conn_ws_next(c->s, c, close_after);
        }
    }
    return lws_write(c->wsi, h->scratch + LWS_PRE, used - LWS_PRE, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* Writes what is queued; returns -1 when the connection must now be closed. */
static int ws_drain(http_conn *c)
{
    int close_after = 0;
    sio_buf *first = eio_conn_ws_next(c->s, c, &close_after);
    if (!first)
        return close_after ? -1 : 0;
    sio_buf *second = close_after ? NULL : eio_conn_ws_next(c->s, c, &close_after);
    int rc;
    if (!second || c->http->opts.per_message_deflate) {
        /* one frame (or compression on): lws frames it in the buffer's headroom */
        rc = lws_write(c->wsi, sio_buf_data(first), first->len,
                       first->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        sio_buf_unref(first);
        if (second) {
            lws_callback_on_writable(c->wsi);
            rc = rc < 0 ? rc
                        : lws_write(c->wsi, sio_buf_data(second), second->len,
                                    second->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            sio_buf_unref(second);
        }
    } else {
        rc = ws_write_coalesced(c, first, second, &close_after);
    }
    if (rc < 0 || close_after)
        return -1;
    if (eio_session_queued_packets(c->s))
        lws_callback_on_writable(c->wsi);
    return 0;
}

static int on_ws_writable(http_conn *c)
{
    if (!c->s || c->close_req)
        return ws_close_now(c);
    return ws_drain(c) < 0 ? ws_close_now(c) : 0;
}

/* ---- accepting: back-off at the descriptor limit ------------------------------------------- */

static uint64_t ms_since(const struct timeval *t0)
{
    struct timeval now;
    evutil_gettimeofday(&now, NULL);
    return (uint64_t)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_usec - t0->tv_usec) / 1000);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    sio_http *h = arg;
#ifdef SIO_LWS_PATCHED
    for (size_t i = 0; i < h->npaused; i++)
        lws_change_pollfd(h->paused[i], 0, LWS_POLLIN);
#endif
    h->npaused = 0;
}

/* accept() failed on a listening socket (scripts/lws-patches/0008). Out of descriptors or
 * memory, the connection stays queued and the socket readable: retrying at once would spin,
 * so the socket is taken out of the poll set until the back-off timer puts it back. One log
 * line when an episode starts and one when it ends, whatever its length. */
static void on_accept_failed(sio_http *h, struct lws *listener, int err)
{
    h->stats.accept_failures++;
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        sio_log(SIO_LOG_DEBUG, "http", "accept: %s", strerror(err));
        return; /* e.g. ECONNABORTED: that connection is gone, the next one is fine */
    }
    if (!h->accept_episode) {
        h->accept_episode = 1;
        h->episode_failures = 0;
        evutil_gettimeofday(&h->episode_start, NULL);
        h->stats.accept_pauses++;
        sio_log(SIO_LOG_WARN, "http",
                "accept: %s; new connections wait in the backlog, retrying every %u ms",
                strerror(err), h->opts.accept_backoff_ms);
    }
    h->episode_failures++;
#ifdef SIO_LWS_PATCHED
    size_t i = 0;
    while (i < h->npaused && h->paused[i] != listener)
        i++;
    if (i == h->npaused && i < sizeof(h->paused) / sizeof(h->paused[0])) {
        h->paused[h->npaused++] = listener;
        lws_change_pollfd(listener, LWS_POLLIN, 0);
    }
#endif
    unsigned ms = h->opts.accept_backoff_ms ? h->opts.accept_backoff_ms : 1;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (!evtimer_pending(h->accept_timer, NULL))
        evtimer_add(h->accept_timer, &tv);
}

static void remember_listener(sio_http *h, struct lws *listener)
{
    for (size_t i = 0; i < h->nlisteners; i++)
        if (h->listeners[i] == listener)
            return;
    if (h->nlisteners < sizeof(h->listeners) / sizeof(h->listeners[0]))
        h->listeners[h->nlisteners++] = listener;
}

static void on_accepted(sio_http *h, struct lws *listener,
                        const struct lws_filter_network_conn_args *a)
{
    remember_listener(h, listener);
    if (h->accept_episode) {
        h->accept_episode = 0;
        sio_log(SIO_LOG_WARN, "http", "accept: resumed after %llu ms and %llu failed attempts",
                (unsigned long long)ms_since(&h->episode_start),
                (unsigned long long)h->episode_failures);
    }
    note_peer(h, a);
}

/* ---- the lws protocol callback ----------------------------------------------------------------
 */

static http_conn *conn_get(struct lws *wsi, int create)
{
    http_conn *c = lws_get_opaque_user_data(wsi);
    if (!c && create) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return NULL;
        c->wsi = wsi;
        sio_http *h = lws_context_user(lws_get_context(wsi));
        c->http = h;
        lws_set_opaque_user_data(wsi, c);
        c->next = h->conns;
        if (h->conns)
            h->conns->prev = c;
        h->conns = c;
        h->stats.connections++;
    }
    return c;
}

static void conn_free(http_conn *c)
{
    sio_http *h = c->http;
    conn_detach(c);
    lws_set_opaque_user_data(c->wsi, NULL);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->stats.connections--;
    if (c->deadline)
        event_free(c->deadline);
    free(c->origin);
    free(c);
}

void sio_http_shutdown_begin(sio_http *h, unsigned deadline_ms)
{
    h->shutting_down = 1;
    if (!h->deadline_ms || deadline_ms < h->deadline_ms)
        h->deadline_ms = deadline_ms;
    /* no new connections: clients that reconnect at once must not keep the drain going */
    if (h->accept_timer)
        evtimer_del(h->accept_timer);
#ifdef SIO_LWS_PATCHED
    for (size_t i = 0; i < h->nlisteners; i++)
        lws_change_pollfd(h->listeners[i], LWS_POLLIN, 0);
#endif
    for (http_conn *c = h->conns; c; c = c->next) {
        if (c->kind == CONN_NONE && !c->s) /* idle keep-alive: nothing to finish */
            kill_soon(c);
        else
            arm_deadline(c);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    http_conn *c;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        if (user)
            on_accepted(lws_context_user(lws_get_context(wsi)), wsi, user);
        else /* accept() failed: len is its errno (scripts/lws-patches/0008) */
            on_accept_failed(lws_context_user(lws_get_context(wsi)), wsi, (int)len);
        return 0;
    case LWS_CALLBACK_HTTP:
        c = conn_get(wsi, 1);
        return c ? on_http(c, in) : -1;
    case LWS_CALLBACK_HTTP_BODY:
        c = conn_get(wsi, 0);
        return c ? on_body(c, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        c = conn_get(wsi, 0);
        return c ? on_body_done(c) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        c = conn_get(wsi, 0);
        return c ? on_http_writable(c) : -1;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
        c = conn_get(wsi, 1);
        if (!c || strcmp(in, "websocket"))
            return -1;
        char uri[512];
        if (hdr_copy(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri)) < 0)
            return reject_upgrade(c, EIO_ERR_BAD_REQUEST);
        return on_confirm_upgrade(c, uri);
    }
    case LWS_CALLBACK_ESTABLISHED:
        c = conn_get(wsi, 0);
        if (!c)
            return -1;
        c->established = 1;
        /* The open packet goes out at once, not after a POLLOUT round trip. */
        if (c->s && !c->close_req && !lws_partial_buffered(wsi) && ws_drain(c) == 0)
            return 0;
        if (c->s && !c->close_req)
            c->close_req = 1; /* ws_drain said close */
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        c = conn_get(wsi, 0);
        return c ? on_ws_receive(c, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        c = conn_get(wsi, 0);
        return c ? on_ws_writable(c) : -1;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_CLOSED_HTTP:
        c = conn_get(wsi, 0);
        if (c)
            conn_detach(c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        c = conn_get(wsi, 0);
        if (c)
            conn_free(c);
        return 0;
#ifdef SIO_LWS_PATCHED
    case LWS_CALLBACK_SIO_RX_FRAME_LENGTH:
        c = conn_get(wsi, 0);
        return c ? on_ws_frame_length(c, len) : 1;
#endif
    default:
        break;
    }
    return 0;
}

/* rx_buffer_size: lws allocates this per WebSocket connection. Chat traffic is small messages;
 * larger ones arrive in pieces that on_ws_receive reassembles, so 512 bytes instead of lws's
 * 4 KiB default saves 3.5 KiB per idle client. tx_packet_size must then be given: without it
 * lws caps every send at rx_buffer_size, buffers the rest and waits for POLLOUT, so a coalesced
 * batch of frames or a polling payload over 512 bytes cost a copy and a wakeup per 512 bytes. */
enum { TX_SEND_MAX = 1 << 20 };
static const struct lws_protocols protocols[] = {
    {"sio", callback, 0, 512, 0, NULL, TX_SEND_MAX},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_bridge(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    sio_log(level == LLL_ERR ? SIO_LOG_ERROR : SIO_LOG_WARN, "lws", "%.*s", (int)n, line);
}

sio_http *sio_http_new(struct event_base *base, const sio_http_options *opts, eio_server *engine)
{
    sio_http *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->engine = engine;
    h->opts = *opts;
    h->base = base;
    h->deadline_ms = opts->close_deadline_ms;
    h->max_payload = eio_server_options(engine)->max_payload;
    h->accept_timer = evtimer_new(base, accept_resume_cb, h);
    if (!h->accept_timer) {
        free(h);
        return NULL;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    void *loops[1] = {base};
    info.options = LWS_SERVER_OPTION_LIBEVENT;
    info.foreign_loops = loops;
    info.count_threads = 1;
    info.port = opts->port ? opts->port : CONTEXT_PORT_NO_LISTEN_SERVER;
    info.iface = opts->iface;
    info.protocols = protocols;
    info.user = h;
    info.max_http_header_data =
        (unsigned short)(opts->max_header_bytes ? opts->max_header_bytes : 8192);
    info.max_http_header_pool = 4096; /* long-poll GETs hold their header table while waiting */
    info.keepalive_timeout = 60;
    info.timeout_secs = 30;
    /* No lws "validity" pings: Engine.IO has its own heartbeat, and lws would keep one timer
     * per WebSocket in a sorted list (an O(n) insert per connect). */
    static const lws_retry_bo_t no_validity_pings = {.secs_since_valid_ping = 0,
                                                     .secs_since_valid_hangup = 0};
    info.retry_and_idle_policy = &no_validity_pings;
    if (opts->per_message_deflate)
        info.extensions = pmd_exts;
    if (opts->tls_cert && opts->tls_key) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = opts->tls_cert;
        info.ssl_private_key_filepath = opts->tls_key;
    }
    if (!opts->port)
        info.port = 0;
    h->ctx = lws_create_context(&info);
    if (!h->ctx) {
        sio_log(SIO_LOG_ERROR, "http", "cannot create the libwebsockets context");
        event_free(h->accept_timer);
        free(h);
        return NULL;
    }
    h->vh = lws_get_vhost_by_name(h->ctx, "default");
    return h;
}

int sio_http_port(const sio_http *h)
{
    return h->vh ? lws_get_vhost_listen_port(h->vh) : -1;
}

void sio_http_free(sio_http *h)
{
    if (!h)
        return;
    event_free(h->accept_timer); /* before the listeners it would resume go away */
    h->npaused = 0;
    lws_context_destroy(h->ctx);
    free(h->scratch);
    free(h->peers);
    free(h);
}
