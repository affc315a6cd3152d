/*
 * HTTP requests (docs/protocol.md §1.1, §1.4, §1.9): the facts the engine needs read out of
 * lws's header table, the handshake description kept for the layer above, the dispatch of a
 * request to the engine, and POST bodies (Content-Length or chunked, bounded by maxPayload).
 * Responses are written by response.c.
 */
#include "internal.h"

#include "common/log.h"
#include "json_scan.h"

#include <sio/error.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifdef SIO_LWS_PATCHED
/* lws internal (exported by the static library): gives the request's header table back to the
 * pool. A held long-poll GET needs nothing from its headers once http_on_request has read them. */
int lws_header_table_detach(struct lws *wsi, int autoservice);
#endif

/* ---- request facts -------------------------------------------------------------------------- */

int http_hdr_copy(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t cap)
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

/* How many query arguments lws split the query into ('&' or ';'), at most 64. An empty one
 * ("a=1&&b=2") has length 0, as has an index past the last, so the count comes from the total
 * length, which adds one separator between arguments. */
static int query_arg_count(struct lws *wsi)
{
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS), used = -1, n = 0;
    while (total > 0 && used < total && n < 64)
        used += lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, n++) + 1;
    return n;
}

/* Copies the value of query argument name (given with its '='). lws keeps each argument as a
 * fragment; one too long for our scratch buffer is skipped rather than ending the scan. */
static const char *query_arg(struct lws *wsi, const char *name, char *out, size_t cap)
{
    char frag[512];
    size_t nlen = strlen(name);
    for (int i = 0, count = query_arg_count(wsi); i < count; i++) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0 || (size_t)n >= sizeof(frag))
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

/* Known headers through lws's token table, others through its custom-header store. */
long http_header_by_name(struct lws *wsi, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *s = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        if (!s || strncasecmp(s, name, n) || s[n] != ':' || s[n + 1])
            continue;
        int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (len <= 0)
            return SIO_ENOTFOUND;
        if ((size_t)len >= cap)
            return SIO_ELIMIT;
        return lws_hdr_copy(wsi, buf, (int)cap, (enum lws_token_indexes)t) < 0 ? SIO_ELIMIT : len;
    }
    char key[128];
    if (n + 2 > sizeof(key))
        return SIO_ENOTFOUND;
    memcpy(key, name, n);
    key[n] = ':';
    key[n + 1] = 0;
    int len = lws_hdr_custom_length(wsi, key, (int)n + 1);
    if (len < 0)
        return SIO_ENOTFOUND;
    if ((size_t)len >= cap)
        return SIO_ELIMIT;
    return lws_hdr_custom_copy(wsi, buf, (int)cap, key, (int)n + 1) < 0 ? SIO_ELIMIT : len;
}

int http_read_origin(struct lws *wsi, http_conn *c)
{
    free(c->origin);
    c->origin = NULL;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
        return 0;
    char obuf[1024];
    if (http_hdr_copy(wsi, WSI_TOKEN_ORIGIN, obuf, sizeof(obuf)) < 0 || header_value_invalid(obuf))
        return 1; /* absurdly long or with control characters */
    c->origin = strdup(obuf);
    return 0;
}

long long http_read_framing(struct lws *wsi, http_conn *c)
{
    long long content_length = -1;
    char cl[32];
    if (http_hdr_copy(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl)) > 0)
        content_length = strtoll(cl, NULL, 10);
    c->chunked = 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        char te[64];
        int ten = http_hdr_copy(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, te, sizeof(te));
        c->chunked = ten > 0 && !strcasecmp(te, "chunked") ? 1 : -1; /* -1: refused */
    }
    return content_length;
}

void http_read_request(struct lws *wsi, http_conn *c, eio_request *req, req_args *a)
{
    memset(req, 0, sizeof(*req));
    req->method = method_of(wsi);
    a->peio = query_arg(wsi, "EIO=", a->eio, sizeof(a->eio));
    a->ptransport = query_arg(wsi, "transport=", a->transport, sizeof(a->transport));
    a->psid = query_arg(wsi, "sid=", a->sid, sizeof(a->sid));
    req->eio = a->peio;
    req->transport = a->ptransport;
    req->sid = a->psid;
    req->origin_invalid = http_read_origin(wsi, c);
    if (http_hdr_copy(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, a->ctype, sizeof(a->ctype)) > 0)
        req->octet_stream_body = !strncmp(a->ctype, "application/octet-stream", 24);
    req->content_length = http_read_framing(wsi, c);
    char ae[256];
    c->enc = 0;
    if (http_hdr_copy(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING, ae, sizeof(ae)) > 0)
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

/* The request URL as Node reports it (path and query). lws keeps the query as decoded
 * arguments; they are percent-encoded again the way encodeURIComponent does. */
void http_request_url(struct lws *wsi, const char *uri, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    char frag[1024];
    size_t o = 0;
    for (const char *p = uri; *p && o + 1 < cap; p++)
        out[o++] = *p;
    for (int i = 0, count = query_arg_count(wsi); i < count; i++) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (o + 1 < cap)
            out[o++] = i ? '&' : '?';
        frag[0] = 0; /* empty ("a&&b"), or too long for frag: kept as an empty argument */
        if (n > 0 && (size_t)n < sizeof(frag) &&
            lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            frag[0] = 0;
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
const char *http_build_handshake(struct lws *wsi, const char *uri)
{
    static char mem[16384];
    size_t cap = sizeof(mem);
    jbuf b = {mem, 0, cap};
    char val[4096];
    int first = 1;
    jb_raw(&b, "{\"headers\":{", 12);
    for (size_t i = 0; i < sizeof(handshake_headers) / sizeof(handshake_headers[0]); i++) {
        int n = http_hdr_copy(wsi, handshake_headers[i].tok, val, sizeof(val));
        if (n > 0)
            jb_member(&b, &first, handshake_headers[i].name, strlen(handshake_headers[i].name), val,
                      (size_t)n);
    }
    jb_raw(&b, "},\"query\":{", 11);
    first = 1;
    for (int i = 0, count = query_arg_count(wsi); i < count; i++) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0 || (size_t)n >= sizeof(val) ||
            lws_hdr_copy_fragment(wsi, val, sizeof(val), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            continue;
        char *eq = strchr(val, '=');
        size_t kn = eq ? (size_t)(eq - val) : strlen(val);
        const char *v = eq ? eq + 1 : "";
        jb_member(&b, &first, val, kn, v, strlen(v));
    }
    char addr[64];
    http_peer_address(wsi, addr, sizeof(addr));
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
    http_request_url(wsi, uri, val, sizeof(val));
    jb_str(&b, val, strlen(val));
    jb_raw(&b, "}", 1);
    if (b.len >= b.cap) { /* absurdly large headers: keep the shape, drop the details */
        snprintf(b.p, cap, "{\"headers\":{},\"query\":{},\"address\":\"%s\"}", addr);
    }
    return b.p;
}

/* ---- HTTP requests ------------------------------------------------------------------------- */

int http_path_matches(const sio_http *h, const char *uri)
{
    const char *path = eio_server_options(h->engine)->path;
    return !strncmp(uri, path, strlen(path));
}

/* conn is the session's pending GET now; in_callback: inside an lws callback for it. */
static void hold_get(http_conn *c, eio_session *s, int in_callback)
{
    c->s = s;
    c->kind = CONN_GET;
    /* A client hanging up on the held GET is noticed by lws (scripts/lws-patches/0002)
     * and reported as CLOSED_HTTP: the session then closes, as Node does. */
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
#ifdef SIO_LWS_PATCHED
    /* 8 KiB per waiting client otherwise, and lws frees header tables by walking a list
     * of all those in use: O(waiting clients) per request. */
    if (in_callback)
        lws_header_table_detach(c->wsi, 0);
#endif
}
/* Hands a request to the engine. An allow_request hook may answer during the call
 * (http_ws_handshake_done then records it in c->hs): *answered tells, and act, session, error,
 * status and message are then those of the answer. PENDING with !*answered: it answers later. */
eio_action http_engine_handle(http_conn *c, const eio_request *req, eio_session **s, int *err,
                              int *status, const char **msg, int *answered)
{
    c->hs_in_dispatch = 1;
    c->hs_done = 0;
    eio_action act = eio_server_handle(c->http->engine, req, c, s, err, status);
    c->hs_in_dispatch = 0;
    *answered = act == EIO_ACT_PENDING && c->hs_done;
    if (*answered) {
        act = c->hs.act;
        *s = c->hs.session;
        *err = c->hs.err;
        *status = c->hs.status;
        *msg = c->hs_msg;
    }
    return act;
}

int http_on_request(http_conn *c, const char *uri)
{
    sio_http *h = c->http;
    http_conn_detach(c); /* a keep-alive connection starts a new transaction */
    if (!http_path_matches(h, uri))
        return http_route_request(c, uri);
    eio_request req;
    req_args a;
    http_read_request(c->wsi, c, &req, &a);
    if (c->chunked) {
        /* lws reads no chunked framing: the body's end is found by our decoder and the
         * connection ends with the response (its framing cannot be trusted for reuse). */
        c->end_after = 1;
        if (c->chunked < 0 || req.content_length >= 0) { /* other codings; smuggling shapes */
            sio_log(SIO_LOG_INFO, "http", "refusing a body with Transfer-Encoding %s",
                    c->chunked < 0 ? "other than chunked" : "and Content-Length");
            return http_respond_status(c, 400);
        }
    }
    if (req.method == EIO_METHOD_OPTIONS && h->opts.cors_origin) {
        response r = {.status = 204, .ctype = NULL, .preflight = 1};
        return http_respond(c, &r);
    }
    const char *hs =
        !req.sid && req.method == EIO_METHOD_GET ? http_build_handshake(c->wsi, uri) : NULL;
    req.handshake_json = hs;
    eio_session *s = NULL;
    int err, status, answered;
    const char *msg = NULL;
    eio_action act = http_engine_handle(c, &req, &s, &err, &status, &msg, &answered);
    if (act == EIO_ACT_PENDING && !answered) {
        /* the allow_request hook answers later (bounded by the engine's timer) */
        c->hs_pending = 1;
        c->kind = CONN_WAIT;
        lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
        return 0;
    }
    /* An early answer to a POST with a body: read and drop the body before the next request. */
    c->discard_body =
        act != EIO_ACT_READ_BODY && req.method == EIO_METHOD_POST && req.content_length > 0;
    switch (act) {
    case EIO_ACT_ERROR:
        return http_respond_error(c, err, msg);
    case EIO_ACT_STATUS:
        return http_respond_status(c, status);
    case EIO_ACT_HOLD_GET:
        hold_get(c, s, 1);
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
    case EIO_ACT_PENDING:
        break;
    }
    return -1;
}

void http_get_handshake_done(http_conn *c)
{
    if (c->hs.act == EIO_ACT_HOLD_GET) {
        hold_get(c, c->hs.session, 0); /* the engine's flush writes the open packet */
        return;
    }
    c->kind = CONN_REFUSE; /* answered from the writable callback (http_on_get_writable) */
    lws_callback_on_writable(c->wsi);
}

static int dechunk_sink(void *user, const uint8_t *data, size_t len)
{
    http_conn *c = user;
    if (c->body_len + len > c->http->max_payload) {
        c->over_limit = 1;
        return 1;
    }
    return http_body_append(c, data, len) < 0 ? 1 : 0;
}

/* A chunked body: decoded into c->body; its end completes the POST like Content-Length's. */
static int on_chunked_body(http_conn *c, const void *in, size_t len)
{
    const char *reason = NULL;
    int rc = sio_chunked_feed(&c->dechunk, in, len, NULL, dechunk_sink, c, &reason);
    if (rc == 1)
        return http_on_body_done(c);
    if (rc == 0)
        return 0;
    eio_session *s = c->s;
    int too_large = rc == SIO_ELIMIT && c->over_limit;
    sio_log(SIO_LOG_INFO, "http", "session %s: chunked POST body: %s", eio_session_id(s),
            too_large ? "over maxPayload" : (reason ? reason : "out of memory"));
    eio_session_close(s, too_large ? EIO_CLOSE_PAYLOAD_TOO_LARGE : EIO_CLOSE_PARSE_ERROR);
    http_conn_detach(c);
    return http_respond_status(c, too_large ? 413 : 400);
}

int http_on_body(http_conn *c, const void *in, size_t len)
{
    if (!c->discard_body && c->kind == CONN_ROUTE)
        return http_route_body(c, in, len);
    if (c->discard_body || c->kind != CONN_POST || !c->s)
        return 0;
    if (c->chunked)
        return on_chunked_body(c, in, len);
    if (c->body_len + len > c->http->max_payload) {
        /* Over maxHttpBufferSize without a Content-Length to catch it earlier. */
        eio_session *s = c->s;
        eio_session_close(s, EIO_CLOSE_PAYLOAD_TOO_LARGE);
        http_conn_detach(c);
        c->discard_body = 1;
        return http_respond_status(c, 413);
    }
    return http_body_append(c, in, len);
}

int http_body_append(http_conn *c, const void *in, size_t len)
{
    return sio_bytes_append(&c->body, &c->body_len, &c->body_cap, in, len) < 0 ? -1 : 0;
}

int http_on_body_done(http_conn *c)
{
    if (c->discard_body) {
        c->discard_body = 0;
        return lws_http_transaction_completed(c->wsi) ? -1 : 0;
    }
    if (c->kind == CONN_ROUTE)
        return http_route_body_done(c);
    if (c->kind != CONN_POST || !c->s)
        return -1;
    int status = eio_conn_post_body(c->s, c, c->body ? c->body : (uint8_t *)"", c->body_len);
    http_conn_detach(c);
    if (status == 200) {
        response r = {.status = 200, .ctype = "text/html", .body = (const uint8_t *)"ok", .len = 2};
        return http_respond(c, &r);
    }
    return http_respond_status(c, status);
}
