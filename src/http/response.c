/*
 * HTTP responses (docs/protocol.md §1.4, §1.9-1.12): each written with one send, headers built
 * in front of the body; the CORS headers, the io cookie, gzip/deflate of polling payloads and
 * the writer of a held long-poll GET.
 */
#include "internal.h"

#include "json_scan.h"

#include <zlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        if (!hdrs && http_hdr_copy(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS, buf, sizeof(buf)) > 0)
            hdrs = buf;
        if (hdrs && add_hdr(wsi, "access-control-allow-headers:", hdrs, p, end))
            return -1;
        if (o->cors_max_age >= 0) {
            snprintf(buf, sizeof(buf), "%d", o->cors_max_age);
            if (add_hdr(wsi, "access-control-max-age:", buf, p, end))
                return -1;
        }
    }
    if (r->allow && add_hdr(wsi, "allow:", r->allow, p, end))
        return -1;
    for (size_t i = 0; i < r->nheaders; i++) {
        char name[80]; /* the application's header name (at most 64 characters) and ':' */
        snprintf(name, sizeof(name), "%s:", r->headers[i].name);
        if (add_hdr(wsi, name, r->headers[i].value, p, end))
            return -1;
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
int http_respond(http_conn *c, const response *r)
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
    size_t blen = r->head ? 0 : r->len;
    if (blen)
        memcpy(p, r->buf ? sio_buf_data(r->buf) : r->body, blen);
    if (lws_write(wsi, start, (size_t)(p - start) + blen, LWS_WRITE_HTTP_HEADERS) < 0)
        goto out;
    if (close)
        goto out;
    rc = r->defer_complete ? 0 : (lws_http_transaction_completed(wsi) ? -1 : 0);
out:
    if (mem != scratch)
        free(mem);
    return rc;
}

int http_respond_status(http_conn *c, int status)
{
    response r = {.status = status, .ctype = "text/html", .defer_complete = c->discard_body};
    return http_respond(c, &r);
}

int http_respond_error(http_conn *c, int code, const char *message)
{
    char body[320];
    if (!message)
        message = eio_error_message(code);
    int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":", code);
    size_t m =
        sio_json_write_string(body + n, sizeof(body) - (size_t)n - 1, message, strlen(message));
    if (m >= sizeof(body) - (size_t)n - 1) /* too long to escape here: the standard text */
        m = sio_json_write_string(body + n, sizeof(body) - (size_t)n - 1, "Forbidden", 9);
    n += (int)m;
    body[n++] = '}';
    response r = {.status = eio_error_status(code),
                  .ctype = "application/json",
                  .body = (const uint8_t *)body,
                  .len = (size_t)n,
                  .defer_complete = c->discard_body};
    return http_respond(c, &r);
}

/* A failed WebSocket upgrade: a plain 400 with the message as text, then hang up. */
int http_reject_upgrade(http_conn *c, int code, const char *message)
{
    const char *msg = message ? message : eio_error_message(code < 0 ? EIO_ERR_BAD_REQUEST : code);
    response r = {.status = 400,
                  .ctype = "text/html",
                  .body = (const uint8_t *)msg,
                  .len = strlen(msg),
                  .close = 1};
    http_respond(c, &r);
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
    int rc = http_respond(c, &r);
    free(z);
    return rc;
}

int http_on_get_writable(http_conn *c)
{
    if (c->kind == CONN_REFUSE) { /* the allow_request hook said no, or the handshake failed */
        c->kind = CONN_NONE;
        if (c->hs.act == EIO_ACT_STATUS)
            return http_respond_status(c, c->hs.status);
        return http_respond_error(c, c->hs.err, c->hs_msg);
    }
    if (c->kind != CONN_GET || !c->s)
        return c->close_req ? -1 : 0;
    eio_session *s = c->s;
    int reject;
    sio_buf *b = eio_conn_poll_take(s, c, &reject);
    if (reject) {
        http_conn_detach(c);
        return http_respond_error(c, EIO_ERR_BAD_REQUEST, NULL);
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
    http_conn_detach(c);
    c->close_req = 0;
    int rc = respond_payload(c, b, cookie);
    sio_buf_unref(b);
    return rc;
}
