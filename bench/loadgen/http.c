/* sio-loadgen HTTP/1.1 client side: the response parser (Content-Length or chunked bodies, the
 * 101 of a WebSocket upgrade) and the Engine.IO long-polling transport (docs/protocol.md §1.4,
 * §1.5). A polling client keeps two keep-alive connections: one always holds a GET, the other
 * carries one POST at a time; packets queued meanwhile go out together in the next POST. */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADER_BYTES 16384
/* Node closes keep-alive connections idle for 5 s; reopen before that to avoid racing it. */
#define POST_IDLE_REOPEN_NS 4000000000ull

typedef struct http_resp {
    int status;
    bool close;
    char *body;
    size_t body_len;
} http_resp;

static bool header_is(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    return len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0;
}

static bool value_has(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= len; i++)
        if (strncasecmp(v + i, token, tl) == 0)
            return true;
    return false;
}

/* Joins a chunked body into ctx->scratch. Returns the bytes the message takes, 0 if incomplete,
 * -1 on a malformed body. Trailers are not supported (no server here sends them). */
static ssize_t dechunk(lg_ctx *ctx, char *p, size_t n, size_t pos, http_resp *r)
{
    ctx->scratch.off = ctx->scratch.len = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        char *eol = memmem(p + pos, n - pos, "\r\n", 2);
        if (!eol)
            return n - pos > 32 ? -1 : 0;
        char *endp;
        unsigned long size = strtoul(p + pos, &endp, 16);
        if (endp == p + pos || size > LG_MAX_FRAME)
            return -1;
        pos = (size_t)(eol - p) + 2;
        if (size == 0) {
            if (n < pos + 2)
                return 0;
            if (memcmp(p + pos, "\r\n", 2) != 0)
                return -1;
            r->body = ctx->scratch.data;
            r->body_len = ctx->scratch.len;
            return (ssize_t)(pos + 2);
        }
        if (n < pos + size + 2)
            return 0;
        if (lg_buf_append(&ctx->scratch, p + pos, size) < 0)
            return -1;
        pos += size + 2;
    }
    return -1;
}

static ssize_t http_parse(lg_ctx *ctx, char *p, size_t n, http_resp *r)
{
    char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end)
        return n > MAX_HEADER_BYTES ? -1 : 0;
    size_t hlen = (size_t)(end - p) + 4;
    if (hlen < 14 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -1;
    r->status = atoi(p + 9);
    r->close = p[7] == '0';
    r->body = NULL;
    r->body_len = 0;
    long clen = -1;
    bool chunked = false;
    char *line = memchr(p, '\n', hlen);
    while (line && line + 1 < end) {
        line++;
        char *eol = memchr(line, '\r', (size_t)(end + 2 - line));
        if (!eol)
            break;
        size_t len = (size_t)(eol - line);
        char *colon = memchr(line, ':', len);
        const char *v = colon ? colon + 1 : eol;
        size_t vlen = (size_t)(eol - v);
        if (header_is(line, len, "content-length"))
            clen = strtol(v, NULL, 10);
        else if (header_is(line, len, "transfer-encoding"))
            chunked = value_has(v, vlen, "chunked");
        else if (header_is(line, len, "connection"))
            r->close = value_has(v, vlen, "close");
        line = eol + 1;
    }
    if (r->status == 101 || r->status == 204 || r->status == 304)
        return (ssize_t)hlen;
    if (chunked)
        return dechunk(ctx, p, n, hlen, r);
    if (clen < 0 || clen > (long)LG_MAX_FRAME)
        return -1; /* read-until-close bodies are not used by Engine.IO servers */
    if (n < hlen + (size_t)clen)
        return 0;
    r->body = p + hlen;
    r->body_len = (size_t)clen;
    return (ssize_t)(hlen + (size_t)clen);
}

static int append_request(lg_ctx *ctx, lg_conn *c, const char *method, const lg_client *cl,
                          size_t body_len)
{
    char req[512];
    int n;
    if (cl->sid_len == 0)
        n = snprintf(req, sizeof(req),
                     "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                     ctx->o->host, (unsigned)ctx->o->port);
    else if (body_len == 0)
        n = snprintf(req, sizeof(req),
                     "%s /socket.io/?EIO=4&transport=polling&sid=%.*s HTTP/1.1\r\n"
                     "Host: %s:%u\r\n\r\n",
                     method, (int)cl->sid_len, cl->sid, ctx->o->host, (unsigned)ctx->o->port);
    else
        n = snprintf(req, sizeof(req),
                     "%s /socket.io/?EIO=4&transport=polling&sid=%.*s HTTP/1.1\r\n"
                     "Host: %s:%u\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, (int)cl->sid_len, cl->sid, ctx->o->host, (unsigned)ctx->o->port,
                     body_len);
    if (n < 0 || (size_t)n >= sizeof(req))
        return -1;
    return lg_buf_append(&c->out, req, (size_t)n);
}

/* Sends what c->out holds, opening the connection first if needed. */
static int conn_send(lg_ctx *ctx, lg_conn *c)
{
    if (c->state == LG_CS_CLOSED)
        return lg_conn_open(ctx, c);
    c->state = LG_CS_HTTP_WAIT;
    return lg_conn_flush(ctx, c);
}

int lg_poll_handshake(lg_ctx *ctx, lg_client *cl)
{
    if (append_request(ctx, &cl->main, "GET", cl, 0) < 0)
        return -1;
    cl->get_pending = true;
    return conn_send(ctx, &cl->main);
}

int lg_poll_get(lg_ctx *ctx, lg_client *cl)
{
    if (append_request(ctx, &cl->main, "GET", cl, 0) < 0)
        return -1;
    cl->get_pending = true;
    return conn_send(ctx, &cl->main);
}

int lg_poll_kick(lg_ctx *ctx, lg_client *cl)
{
    if (cl->post_busy || cl->post_q.len == cl->post_q.off || cl->sid_len == 0)
        return 0;
    lg_conn *c = &cl->post;
    if (c->state == LG_CS_HTTP_IDLE && lg_now_ns() - c->idle_since_ns > POST_IDLE_REOPEN_NS)
        lg_conn_close(ctx, c, false);
    size_t len = cl->post_q.len - cl->post_q.off;
    if (append_request(ctx, c, "POST", cl, len) < 0 ||
        lg_buf_append(&c->out, cl->post_q.data + cl->post_q.off, len) < 0)
        return -1;
    cl->post_q.off = cl->post_q.len = 0;
    cl->post_busy = true;
    return conn_send(ctx, c);
}

/* Splits a v4 payload on the record separator 0x1e (docs/protocol.md §1.5). */
static void poll_payload(lg_ctx *ctx, lg_client *cl, char *p, size_t n)
{
    size_t off = 0;
    while (off < n && cl->state != LG_CL_DROPPED && cl->state != LG_CL_FAILED &&
           cl->state != LG_CL_CLOSED) {
        char *sep = memchr(p + off, 0x1e, n - off);
        size_t len = sep ? (size_t)(sep - (p + off)) : n - off;
        lg_client_on_eio(ctx, cl, p + off, len);
        off += len + 1;
    }
}

static bool client_alive(const lg_client *cl)
{
    return cl->state == LG_CL_CONNECTING || cl->state == LG_CL_OPEN || cl->state == LG_CL_READY;
}

static void on_response(lg_ctx *ctx, lg_conn *c, http_resp *r)
{
    lg_client *cl = c->client;
    char why[64];
    if (c->kind == LG_CONN_WS) {
        if (r->status != 101) {
            snprintf(why, sizeof(why), "websocket upgrade refused with %d", r->status);
            lg_conn_close(ctx, c, false);
            lg_client_lost(ctx, cl, why);
            return;
        }
        c->state = LG_CS_WS_OPEN;
        return;
    }
    if (r->status != 200) {
        snprintf(why, sizeof(why), "polling %s answered %d",
                 c->kind == LG_CONN_POLL_GET ? "GET" : "POST", r->status);
        lg_conn_close(ctx, c, false);
        lg_client_lost(ctx, cl, why);
        return;
    }
    c->state = LG_CS_HTTP_IDLE;
    c->idle_since_ns = lg_now_ns();
    if (r->close)
        lg_conn_close(ctx, c, false);
    if (c->kind == LG_CONN_POLL_POST) {
        cl->post_busy = false;
        if (lg_poll_kick(ctx, cl) < 0)
            lg_client_lost(ctx, cl, "cannot send POST");
        return;
    }
    cl->get_pending = false;
    if (ctx->running && !cl->is_sender)
        ctx->rep.polls++;
    poll_payload(ctx, cl, r->body, r->body_len);
    if (client_alive(cl) && !cl->get_pending && cl->sid_len > 0 && lg_poll_get(ctx, cl) < 0)
        lg_client_lost(ctx, cl, "cannot send GET");
}

ssize_t lg_http_on_data(lg_ctx *ctx, lg_conn *c, char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        if (c->state != LG_CS_HTTP_WAIT)
            return -1; /* bytes nobody asked for */
        http_resp r;
        ssize_t used = http_parse(ctx, p + off, n - off, &r);
        if (used <= 0)
            return used < 0 ? -1 : (ssize_t)off;
        off += (size_t)used;
        uint32_t gen = c->gen;
        on_response(ctx, c, &r);
        if (c->gen != gen)
            return (ssize_t)off;
        if (c->state == LG_CS_WS_OPEN) {
            ssize_t u = lg_ws_on_data(ctx, c, p + off, n - off);
            return u < 0 ? -1 : (ssize_t)(off + (size_t)u);
        }
    }
    return (ssize_t)off;
}
