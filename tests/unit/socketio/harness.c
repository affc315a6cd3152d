/*
 * The fake-transport harness of the Socket.IO layer tests (harness.h).
 */
#include "harness.h"

#include "socketio/internal.h"

#include <criterion/criterion.h>
#include <event2/event.h>

#include <stdlib.h>
#include <string.h>

static const char handshake_json[] =
    "{\"headers\":{\"host\":\"test.local\",\"accept\":\"*/*\"},\"query\":{\"EIO\":\"4\","
    "\"transport\":\"websocket\"},\"address\":\"127.0.0.1\",\"secure\":false,\"issued\":0,"
    "\"url\":\"/socket.io/?EIO=4&transport=websocket\"}";

/* ---- the fake transport ------------------------------------------------------------------- */

/* Connections are h_client (the WebSocket or the polling handshake) or poll_conn (one GET or
 * POST); both start with the two counters the engine drives. */
typedef struct conn_head {
    int want_write, closed;
} conn_head;

static void fake_want_write(void *conn, int may_write_now)
{
    (void)may_write_now;
    ((conn_head *)conn)->want_write++;
}

static void fake_close(void *conn)
{
    ((conn_head *)conn)->closed++;
}

static const eio_transport_ops fake_ops = {.want_write = fake_want_write, .close = fake_close};

/* ---- servers ------------------------------------------------------------------------------ */

static void quiet(int level, const char *module, const char *line, void *user)
{
    (void)level, (void)module, (void)line, (void)user;
}

void h_quiet_log(void)
{
    sio_log_set_sink(quiet, NULL, SIO_LOG_ERROR);
}

h_server *h_server_new(const h_config *cfg)
{
    h_config none = {0};
    if (!cfg)
        cfg = &none;
    h_server *srv = calloc(1, sizeof(*srv));
    cr_assert_not_null(srv);
    srv->base = cfg->base;
    if (!srv->base) {
        srv->base = event_base_new();
        srv->own_base = 1;
    }
    srv->clock = cfg->clock;
    if (!srv->clock) {
        srv->clock = sio_clock_manual(0);
        srv->own_clock = 1;
    }
    sio_server_options_init(&srv->opts);
    srv->opts.socketio.connect_timeout_ms =
        cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 1000;
    srv->opts.engine.ping_interval_ms = cfg->ping_interval_ms ? cfg->ping_interval_ms : 25000;
    srv->opts.engine.ping_timeout_ms = cfg->ping_timeout_ms ? cfg->ping_timeout_ms : 20000;
    if (cfg->zero_heartbeat) {
        srv->opts.engine.ping_interval_ms = 0;
        srv->opts.engine.ping_timeout_ms = 0;
    }
    if (cfg->max_namespaces)
        srv->opts.socketio.max_namespaces_per_connection = cfg->max_namespaces;
    srv->opts.adapter.ops = cfg->adapter;
    srv->opts.adapter.config = cfg->adapter_config;
    if (cfg->requests_timeout_ms)
        srv->opts.adapter.requests_timeout_ms = cfg->requests_timeout_ms;
    sio_io_config ic = {
        .owner = NULL, /* the public server is not used: callbacks see NULL */
        .base = srv->base,
        .clock = srv->clock,
        .opts = &srv->opts.socketio,
        .adapter = &srv->opts.adapter,
        .max_payload = srv->opts.engine.max_payload,
        .stats = &srv->stats,
    };
    srv->io = sio_io_new(&ic);
    cr_assert_not_null(srv->io);
    eio_callbacks cbs;
    sio_io_engine_callbacks(srv->io, &cbs);
    srv->eio = eio_server_new(srv->base, &srv->opts.engine, &cbs, &fake_ops);
    cr_assert_not_null(srv->eio);
    return srv;
}

void h_spin(struct event_base *base)
{
    /* a few rounds: a flush may queue a reaper run, a delivery may publish again */
    for (int i = 0; i < 8; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

void h_advance(h_server *srv, unsigned ms)
{
    sio_clock_advance(srv->clock, ms);
    h_spin(srv->base);
}

void h_server_free(h_server *srv)
{
    if (!srv)
        return;
    sio_io_shutdown(srv->io);
    eio_server_shutdown(srv->eio);
    while (srv->clients) {
        h_client *c = srv->clients;
        srv->clients = c->next;
        h_client_drop(c);
        free(c);
    }
    h_spin(srv->base);
    eio_server_free(srv->eio);
    sio_io_free(srv->io);
    h_spin(srv->base);
    if (srv->own_clock)
        sio_clock_free(srv->clock);
    if (srv->own_base)
        event_base_free(srv->base);
    free(srv);
}

sio_socket *h_socket(h_server *srv, const char *nsp, const char *id)
{
    sio_namespace *n = sio_map_get(&srv->io->nsps, nsp, strlen(nsp));
    return n ? sio_map_get(&n->sockets, id, strlen(id)) : NULL;
}

/* ---- clients ------------------------------------------------------------------------------ */

static h_client *client_new(h_server *srv)
{
    h_client *c = calloc(1, sizeof(*c));
    cr_assert_not_null(c);
    c->srv = srv;
    c->next = srv->clients;
    srv->clients = c;
    return c;
}

h_client *h_client_ws(h_server *srv)
{
    h_client *c = client_new(srv);
    eio_request r = {.method = EIO_METHOD_GET,
                     .is_upgrade = 1,
                     .eio = "4",
                     .transport = "websocket",
                     .content_length = -1,
                     .handshake_json = handshake_json};
    int err = 0, status = 0;
    cr_assert_eq(eio_server_handle(srv->eio, &r, c, &c->s, &err, &status), EIO_ACT_WS_ACCEPT);
    cr_assert(h_pull(c), "no open packet");
    cr_assert_eq(c->frame[0], '0', "open packet: %s", c->frame);
    return c;
}

typedef struct poll_conn {
    conn_head head;
} poll_conn;

h_client *h_client_polling(h_server *srv)
{
    h_client *c = client_new(srv);
    c->polling = 1;
    eio_request r = {
        .method = EIO_METHOD_GET, .eio = "4", .transport = "polling", .content_length = -1};
    r.handshake_json = handshake_json;
    int err = 0, status = 0, reject = 0;
    poll_conn g = {{0, 0}};
    cr_assert_eq(eio_server_handle(srv->eio, &r, &g, &c->s, &err, &status), EIO_ACT_HOLD_GET);
    h_spin(srv->base);
    sio_buf *b = eio_conn_poll_take(c->s, &g, &reject);
    cr_assert_not_null(b);
    cr_assert_eq(sio_buf_data(b)[0], '0');
    sio_buf_unref(b);
    /* A polling client holds no connection between requests: the session lives on in the sid
     * map, so c->s must not be used once the session has closed (and been reaped). */
    eio_conn_detach(c->s, &g);
    c->detached = 1;
    return c;
}

static int post(h_client *c, const char *body, size_t len)
{
    eio_request r = {.method = EIO_METHOD_POST,
                     .eio = "4",
                     .transport = "polling",
                     .sid = eio_session_id(c->s),
                     .content_length = (long long)len};
    poll_conn p = {{0, 0}};
    eio_session *ps;
    int err = 0, status = 0;
    eio_action a = eio_server_handle(c->srv->eio, &r, &p, &ps, &err, &status);
    if (a != EIO_ACT_READ_BODY)
        return a == EIO_ACT_ERROR ? 400 : status;
    uint8_t *buf = malloc(len ? len : 1);
    cr_assert_not_null(buf);
    memcpy(buf, body, len);
    int st = eio_conn_post_body(ps, &p, buf, len);
    eio_conn_detach(ps, &p);
    free(buf);
    return st;
}

int h_send_raw(h_client *c, const char *message)
{
    size_t n = strlen(message);
    if (c->polling)
        return post(c, message, n);
    uint8_t *buf = malloc(n ? n : 1);
    cr_assert_not_null(buf);
    memcpy(buf, message, n);
    int rc = eio_conn_ws_message(c->s, c, buf, n, 0);
    free(buf);
    return rc;
}

void h_send(h_client *c, const char *packet)
{
    size_t n = strlen(packet);
    char *m = malloc(n + 2);
    cr_assert_not_null(m);
    m[0] = '4';
    memcpy(m + 1, packet, n + 1);
    h_send_raw(c, m);
    free(m);
}

void h_send_bin(h_client *c, const void *p, size_t n)
{
    cr_assert(!c->polling, "binary frames: WebSocket clients only");
    uint8_t *buf = malloc(n ? n : 1);
    cr_assert_not_null(buf);
    memcpy(buf, p, n);
    eio_conn_ws_message(c->s, c, buf, n, 1);
    free(buf);
}

static int take(h_client *c, sio_buf *b)
{
    if (!b)
        return 0;
    size_t n = b->len < sizeof(c->frame) - 1 ? b->len : sizeof(c->frame) - 1;
    memcpy(c->frame, sio_buf_data(b), n);
    c->frame[n] = 0;
    c->frame_len = n;
    c->frame_binary = b->binary;
    sio_buf_unref(b);
    return 1;
}

int h_pull(h_client *c)
{
    c->frame[0] = 0;
    c->frame_len = 0;
    if (!c->polling) {
        if (c->detached)
            return 0;
        /* what is queued already first: spinning may run engine timers (a 0-ms heartbeat) */
        int close_after = 0;
        if (take(c, eio_conn_ws_next(c->s, c, &close_after)))
            return 1;
        h_spin(c->srv->base);
        return take(c, eio_conn_ws_next(c->s, c, &close_after));
    }
    h_spin(c->srv->base);
    eio_request r = {.method = EIO_METHOD_GET,
                     .eio = "4",
                     .transport = "polling",
                     .sid = eio_session_id(c->s),
                     .content_length = -1};
    poll_conn g = {{0, 0}};
    eio_session *gs;
    int err = 0, status = 0, reject = 0;
    if (eio_server_handle(c->srv->eio, &r, &g, &gs, &err, &status) != EIO_ACT_HOLD_GET)
        return 0;
    h_spin(c->srv->base);
    int got = take(c, eio_conn_poll_take(gs, &g, &reject));
    eio_conn_detach(gs, &g);
    return got;
}

void h_expect(h_client *c, const char *want)
{
    cr_assert(h_pull(c), "nothing queued, want %s", want);
    cr_assert(!c->frame_binary, "binary frame, want %s", want);
    cr_assert_str_eq(c->frame, want);
}

const char *h_expect_prefix(h_client *c, const char *prefix)
{
    cr_assert(h_pull(c), "nothing queued, want %s...", prefix);
    cr_assert(!c->frame_binary, "binary frame, want %s...", prefix);
    cr_assert(strncmp(c->frame, prefix, strlen(prefix)) == 0, "got %s, want %s...", c->frame,
              prefix);
    return c->frame;
}

void h_expect_bin(h_client *c, const void *p, size_t n)
{
    cr_assert(h_pull(c), "nothing queued, want %zu binary bytes", n);
    cr_assert(c->frame_binary, "text frame %s, want binary", c->frame);
    cr_assert_eq(c->frame_len, n);
    cr_assert(memcmp(c->frame, p, n) == 0);
}

void h_expect_none(h_client *c)
{
    cr_assert(!h_pull(c), "unexpected frame %s", c->frame);
}

sio_socket *h_connect(h_client *c, const char *nsp, const char *auth)
{
    char pkt[512], want[300];
    int root = !strcmp(nsp, "/");
    snprintf(pkt, sizeof(pkt), "0%s%s%s", root ? "" : nsp, root || !auth ? "" : ",",
             auth ? auth : "");
    if (!root && !auth)
        strcat(pkt, ",");
    h_send(c, pkt);
    snprintf(want, sizeof(want), "40%s%s{\"sid\":\"", root ? "" : nsp, root ? "" : ",");
    const char *f = h_expect_prefix(c, want);
    const char *id = f + strlen(want);
    cr_assert(strlen(id) == SIO_ID_LEN + 2 && !strcmp(id + SIO_ID_LEN, "\"}"), "reply %s", f);
    memcpy(c->sid, id, SIO_ID_LEN);
    c->sid[SIO_ID_LEN] = 0;
    sio_socket *s = h_socket(c->srv, nsp, c->sid);
    cr_assert_not_null(s);
    return s;
}

void h_client_drop(h_client *c)
{
    if (c->detached)
        return;
    c->detached = 1;
    eio_conn_detach(c->s, c);
}

int h_client_open(const h_client *c)
{
    return eio_session_is_open(c->s);
}
