/* sio-loadgen Engine.IO v4 / Socket.IO v5 client logic on top of either transport: open
 * handshake, heartbeat answers, namespace connect, and the few packets the bench contract uses
 * (docs/protocol.md §1.3, §1.6, §2.1, §2.3, §2.4). Parsing is deliberately narrow: it understands
 * what the contract's events look like, not arbitrary JSON. */
#include "loadgen.h"

#include <stdio.h>
#include <string.h>

#define MAX_LOGGED_LOSSES 3

int lg_client_start(lg_ctx *ctx, lg_client *cl)
{
    cl->state = LG_CL_CONNECTING;
    ctx->inflight++;
    int rc;
    if (ctx->o->transport == LG_TRANSPORT_WEBSOCKET) {
        cl->main.kind = LG_CONN_WS;
        rc = lg_ws_request(ctx, &cl->main);
        if (rc == 0)
            rc = lg_conn_open(ctx, &cl->main);
    } else {
        cl->main.kind = LG_CONN_POLL_GET;
        cl->post.kind = LG_CONN_POLL_POST;
        rc = lg_poll_handshake(ctx, cl);
    }
    if (rc < 0) {
        char why[64];
        snprintf(why, sizeof(why), "connect: %s", strerror(-rc));
        lg_client_lost(ctx, cl, why);
    }
    return rc;
}

/* Sends one Engine.IO packet (type char included). */
int lg_client_send(lg_ctx *ctx, lg_client *cl, const char *pkt, size_t n)
{
    if (cl->state != LG_CL_OPEN && cl->state != LG_CL_READY)
        return -1;
    int rc;
    if (ctx->o->transport == LG_TRANSPORT_WEBSOCKET) {
        rc = lg_ws_send(ctx, &cl->main, 0x1, pkt, n);
    } else {
        static const char sep = 0x1e;
        rc = 0;
        if (cl->post_q.len > cl->post_q.off)
            rc = lg_buf_append(&cl->post_q, &sep, 1);
        if (rc == 0)
            rc = lg_buf_append(&cl->post_q, pkt, n);
        if (rc == 0)
            rc = lg_poll_kick(ctx, cl);
    }
    if (rc < 0)
        lg_client_lost(ctx, cl, "send failed");
    return rc;
}

/* The open packet is `0{"sid":"...",...}`; only the sid matters here. */
static void on_open(lg_ctx *ctx, lg_client *cl, const char *p, size_t n)
{
    static const char key[] = "\"sid\":\"";
    const char *s = memmem(p, n, key, sizeof(key) - 1);
    if (!s) {
        lg_client_lost(ctx, cl, "open packet without sid");
        return;
    }
    s += sizeof(key) - 1;
    const char *e = memchr(s, '"', (size_t)(p + n - s));
    if (!e || e - s >= (long)sizeof(cl->sid) || e == s) {
        lg_client_lost(ctx, cl, "bad sid in open packet");
        return;
    }
    if (cl->state != LG_CL_CONNECTING)
        return;
    cl->sid_len = (uint8_t)(e - s);
    memcpy(cl->sid, s, cl->sid_len);
    cl->state = LG_CL_OPEN;
    if (ctx->o->nauth == 0) {
        lg_client_send(ctx, cl, "40", 2);
        return;
    }
    /* CONNECT with an auth object: "40{...}" (not in ctx->scratch: a polling open packet may
     * be read from there) */
    static lg_buf connect;
    const char *auth = ctx->o->auth[cl->gidx % ctx->o->nauth];
    connect.off = connect.len = 0;
    if (lg_buf_append(&connect, "40", 2) < 0 || lg_buf_append(&connect, auth, strlen(auth)) < 0) {
        lg_client_lost(ctx, cl, "out of memory");
        return;
    }
    lg_client_send(ctx, cl, connect.data, connect.len);
}

static void on_event(lg_ctx *ctx, lg_client *cl, const char *p, size_t n)
{
    static const char msg[] = "[\"msg\",\"";
    if (ctx->o->scenario != LG_SCN_FANOUT) {
        /* any other scenario only needs the event's name: `["name",...]` */
        if (n < 3 || p[0] != '[' || p[1] != '"')
            return;
        const char *e = memchr(p + 2, '"', n - 2);
        if (e)
            lg_scn_on_event(ctx, cl, p + 2, (size_t)(e - (p + 2)));
        return;
    }
    if (n < sizeof(msg) || memcmp(p, msg, sizeof(msg) - 1) != 0)
        return;
    const char *s = p + sizeof(msg) - 1;
    const char *e = memchr(s, '"', (size_t)(p + n - s));
    if (e)
        lg_scn_on_msg(ctx, cl, s, (size_t)(e - s));
}

static void on_sio(lg_ctx *ctx, lg_client *cl, const char *p, size_t n)
{
    if (n == 0)
        return;
    switch (p[0]) {
    case '0':
        if (cl->state == LG_CL_OPEN) {
            cl->state = LG_CL_READY;
            ctx->inflight--;
            if (ctx->rep.t_last_ns < lg_now_ns())
                ctx->rep.t_last_ns = lg_now_ns();
            ctx->rep.ready++;
            lg_scn_on_ready(ctx, cl);
        }
        break;
    case '1':
        lg_client_lost(ctx, cl, "namespace disconnected by server");
        break;
    case '4':
        lg_client_lost(ctx, cl, "namespace connect refused");
        break;
    case '2':
        on_event(ctx, cl, p + 1, n - 1);
        break;
    case '3': {
        uint32_t id = 0;
        size_t i = 1;
        while (i < n && p[i] >= '0' && p[i] <= '9' && i < 11)
            id = id * 10 + (uint32_t)(p[i++] - '0');
        if (i > 1)
            lg_scn_on_ack(ctx, cl, id, p + i, n - i);
        break;
    }
    default:
        break;
    }
}

void lg_client_on_eio(lg_ctx *ctx, lg_client *cl, char *p, size_t n)
{
    if (n == 0)
        return;
    switch (p[0]) {
    case '0':
        on_open(ctx, cl, p + 1, n - 1);
        break;
    case '1':
        lg_client_lost(ctx, cl, "engine closed by server");
        break;
    case '2':
        /* EIO v4: the server pings, the client answers with the same data */
        p[0] = '3';
        lg_client_send(ctx, cl, p, n);
        p[0] = '2';
        break;
    case '4':
        on_sio(ctx, cl, p + 1, n - 1);
        break;
    default: /* 3 pong, 5 upgrade, 6 noop */
        break;
    }
}

void lg_client_lost(lg_ctx *ctx, lg_client *cl, const char *why)
{
    if (cl->state == LG_CL_FAILED || cl->state == LG_CL_DROPPED || cl->state == LG_CL_CLOSED ||
        cl->state == LG_CL_IDLE)
        return;
    bool was_ready = cl->state == LG_CL_READY;
    if (was_ready) {
        cl->state = LG_CL_DROPPED;
        ctx->rep.dropped++;
    } else {
        cl->state = LG_CL_FAILED;
        ctx->inflight--;
        ctx->rep.failed++;
    }
    if (ctx->rep.failed + ctx->rep.dropped <= MAX_LOGGED_LOSSES)
        fprintf(stderr, "sio-loadgen: child %u client %u %s: %s\n", ctx->child, cl->idx,
                was_ready ? "dropped" : "failed", why);
    lg_conn_close(ctx, &cl->main, false);
    lg_conn_close(ctx, &cl->post, false);
    lg_scn_on_down(ctx, cl, was_ready);
}

void lg_client_close(lg_ctx *ctx, lg_client *cl)
{
    lg_conn_close(ctx, &cl->main, true);
    lg_conn_close(ctx, &cl->post, true);
    if (cl->state == LG_CL_READY)
        cl->state = LG_CL_CLOSED;
}
