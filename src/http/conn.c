/*
 * The lws context on the process's libevent loop (foreign loop) and the life of a connection
 * (docs/protocol.md §1.4, §1.7): the lws protocol callback that routes each event to request.c,
 * response.c or websocket.c, the engine's transport ops, accept back-off at the descriptor
 * limit, the close deadline and graceful shutdown. The engine decides; this layer never frees
 * a session.
 */
#include "internal.h"

#include "common/list.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(LWS_PRE <= SIO_BUF_HEADROOM, "sio_buf headroom must fit the lws frame header");

#ifdef SIO_LWS_PATCHED
/* lws internal: clears then sets poll events of a connection (here: a listening socket). */
int lws_change_pollfd(struct lws *wsi, int _and, int _or);
#endif

static const struct lws_extension pmd_exts[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL},
};

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

/* The engine calls this from its once-per-iteration flush, and for a WebSocket whose session is
 * the only one with anything queued, from that WebSocket's own receive callback
 * (eio_conn_ws_flush, websocket.c ws_message); never from another connection's lws callback.
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
        if (http_ws_drain(c) < 0) {
            c->close_req = 1;
            lws_callback_on_writable(c->wsi);
        }
    } else if (direct && c->kind == CONN_GET) {
        if (http_on_get_writable(c) < 0)
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

/* The allow_request decision (src/engine/handshake.c). During eio_server_handle it is only
 * noted: the dispatcher answers. Later, outside any callback of this connection, it is applied
 * now and written when the socket is writable. */
static void op_handshake_done(void *conn, const eio_handshake_result *r)
{
    http_conn *c = conn;
    c->hs = *r;
    snprintf(c->hs_msg, sizeof(c->hs_msg), "%s", r->message ? r->message : "");
    c->hs.message = c->hs_msg;
    if (c->hs_in_dispatch) {
        c->hs_done = 1;
        return;
    }
    c->hs_pending = 0;
    if (c->kind == CONN_WS)
        http_ws_handshake_done(c);
    else
        http_get_handshake_done(c);
}

static long op_header(void *conn, const char *name, char *buf, size_t cap)
{
    http_conn *c = conn;
    return http_header_by_name(c->wsi, name, buf, cap);
}

const eio_transport_ops sio_http_transport_ops = {
    .want_write = op_want_write,
    .close = op_close,
    .handshake_done = op_handshake_done,
    .header = op_header,
};

void http_conn_detach(http_conn *c)
{
    if (c->route)
        http_route_detach(c);
    if (c->hs_pending) { /* the hook's answer, when it comes, goes nowhere */
        c->hs_pending = 0;
        eio_server_handshake_gone(c->http->engine, c);
    }
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

void http_peer_address(struct lws *wsi, char *out, size_t cap)
{
    sio_http *h = lws_context_user(lws_get_context(wsi));
    int fd = lws_get_socket_fd(wsi);
    out[0] = 0;
    if (fd >= 0 && (size_t)fd < h->peers_cap && h->peers[fd].sa4.sin_family)
        lws_sa46_write_numeric_address(&h->peers[fd], out, cap);
    else
        lws_get_peer_simple(wsi, out, cap);
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

/* ---- the lws protocol callback ------------------------------------------------------------- */

/* The connection of wsi, made at its first HTTP request or upgrade. */
static http_conn *conn_new(struct lws *wsi)
{
    http_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->wsi = wsi;
    sio_http *h = lws_context_user(lws_get_context(wsi));
    c->http = h;
    lws_set_opaque_user_data(wsi, c);
    SIO_LIST_PUSH(h->conns, c);
    h->stats.connections++;
    return c;
}

static void conn_free(http_conn *c)
{
    sio_http *h = c->http;
    http_conn_detach(c);
    lws_set_opaque_user_data(c->wsi, NULL);
    SIO_LIST_UNLINK(h->conns, c);
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
    http_conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        if (user)
            on_accepted(lws_context_user(lws_get_context(wsi)), wsi, user);
        else /* accept() failed: len is its errno (scripts/lws-patches/0008) */
            on_accept_failed(lws_context_user(lws_get_context(wsi)), wsi, (int)len);
        return 0;
    case LWS_CALLBACK_HTTP:
        c = c ? c : conn_new(wsi);
        return c ? http_on_request(c, in) : -1;
    case LWS_CALLBACK_HTTP_BODY:
        return c ? http_on_body(c, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return c ? http_on_body_done(c) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (c && c->kind == CONN_ROUTE)
            return http_route_writable(c);
        return c ? http_on_get_writable(c) : -1;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        c = c ? c : conn_new(wsi);
        return c ? http_on_upgrade(c, in) : -1;
    case LWS_CALLBACK_ESTABLISHED:
        return c ? http_on_ws_established(c) : -1;
    case LWS_CALLBACK_RECEIVE:
        return c ? http_on_ws_receive(c, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? http_on_ws_writable(c) : -1;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c)
            http_conn_detach(c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c)
            conn_free(c);
        return 0;
#ifdef SIO_LWS_PATCHED
    case LWS_CALLBACK_SIO_RX_FRAME_LENGTH:
        return c ? http_on_ws_frame_length(c, len) : 1;
#endif
    default:
        break;
    }
    return 0;
}

/* rx_buffer_size: lws allocates this per WebSocket connection. Chat traffic is small messages;
 * larger ones arrive in pieces that http_on_ws_receive reassembles, so 512 bytes instead of lws's
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
    info.iface = opts->host;
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
    http_routes_free(h);
    free(h->scratch);
    free(h->peers);
    free(h);
}
