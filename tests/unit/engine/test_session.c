/*
 * Engine sessions on a fake transport: requests are eio_request values, "connections" are
 * plain structs recording what the engine asked of them. No sockets; timers run on a real
 * libevent base with millisecond intervals, bounded loops.
 */
#include "engine/engine.h"

#include <sio/error.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include <string.h>

typedef struct fake_conn {
    int want_write;
    int closed;
} fake_conn;

static void fake_want_write(void *conn, int may_write_now)
{
    ((fake_conn *)conn)->want_write++;
}

static void fake_close(void *conn)
{
    ((fake_conn *)conn)->closed++;
}

static const eio_transport_ops fake_ops = {.want_write = fake_want_write, .close = fake_close};

typedef struct events {
    int opened, closed;
    eio_close_reason reason;
    char last[256];
    int last_binary;
    int messages;
} events;

static int on_open(eio_session *s, void *user)
{
    ((events *)user)->opened++;
    return 0;
}

static void on_message(eio_session *s, const uint8_t *d, size_t n, int binary, void *user)
{
    events *ev = user;
    ev->messages++;
    ev->last_binary = binary;
    n = n < sizeof(ev->last) - 1 ? n : sizeof(ev->last) - 1;
    memcpy(ev->last, d, n);
    ev->last[n] = 0;
}

static void on_close(eio_session *s, eio_close_reason r, void *user)
{
    events *ev = user;
    ev->closed++;
    ev->reason = r;
}

static struct event_base *base;
static eio_server *srv;
static events ev;

static void setup_with(unsigned ping_ms, size_t max_packets)
{
    base = event_base_new();
    sio_server_options all;
    sio_server_options_init(&all); /* the one place defaults live */
    eio_options o = all.engine;
    o.path = "/engine.io/";
    o.ping_interval_ms = ping_ms;
    o.ping_timeout_ms = ping_ms;
    o.max_buffered_packets = max_packets;
    memset(&ev, 0, sizeof(ev));
    eio_callbacks cbs = {
        .on_open = on_open, .on_message = on_message, .on_close = on_close, .user = &ev};
    srv = eio_server_new(base, &o, &cbs, &fake_ops);
    cr_assert_not_null(srv);
}

static void setup(void)
{
    setup_with(25000, 1000);
}

static void setup_small_queue(void)
{
    setup_with(25000, 4);
}

static void setup_fast_ping(void)
{
    setup_with(5, 1000);
}

static void teardown(void)
{
    eio_server_free(srv);
    event_base_free(base);
}

/* Runs the loop until nothing is active (the flush and reaper events). */
static void spin(void)
{
    event_base_loop(base, EVLOOP_NONBLOCK);
}

static eio_request get_req(const char *sid)
{
    eio_request r = {.method = EIO_METHOD_GET,
                     .eio = "4",
                     .transport = "polling",
                     .sid = sid,
                     .content_length = -1};
    return r;
}

/* Handshake over polling; the GET conn c receives the open packet. Returns the session. */
static eio_session *handshake(fake_conn *c, char *payload, size_t cap)
{
    eio_request r = get_req(NULL);
    eio_session *s;
    int err, status;
    cr_assert_eq(eio_server_handle(srv, &r, c, &s, &err, &status), EIO_ACT_HOLD_GET);
    spin();
    cr_assert_gt(c->want_write, 0);
    int reject;
    sio_buf *b = eio_conn_poll_take(s, c, &reject);
    cr_assert_not_null(b);
    size_t n = b->len < cap - 1 ? b->len : cap - 1;
    memcpy(payload, sio_buf_data(b), n);
    payload[n] = 0;
    sio_buf_unref(b);
    eio_conn_detach(s, c);
    return s;
}

static int post(eio_session *s, const char *body)
{
    char sid[SIO_ID_LEN + 1];
    strcpy(sid, eio_session_id(s));
    eio_request r = {.method = EIO_METHOD_POST,
                     .eio = "4",
                     .transport = "polling",
                     .sid = sid,
                     .content_length = (long long)strlen(body)};
    fake_conn c = {0};
    eio_session *ps;
    int err, status;
    eio_action a = eio_server_handle(srv, &r, &c, &ps, &err, &status);
    if (a != EIO_ACT_READ_BODY)
        return a == EIO_ACT_ERROR ? 400 : status;
    uint8_t buf[1024];
    memcpy(buf, body, strlen(body));
    int st = eio_conn_post_body(ps, &c, buf, strlen(body));
    eio_conn_detach(ps, &c);
    return st;
}

TestSuite(eio_session, .init = setup, .fini = teardown);

Test(eio_session, handshake_answers_the_open_packet_with_five_keys)
{
    fake_conn c = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    cr_assert_eq(ev.opened, 1);
    cr_assert_eq(p[0], '0');
    cr_assert(strstr(p, "\"upgrades\":[\"websocket\"]"));
    cr_assert(strstr(p, "\"pingInterval\":25000"));
    cr_assert(strstr(p, "\"maxPayload\":1000000"));
    cr_assert(strstr(p, eio_session_id(s)));
    cr_assert_eq(strlen(eio_session_id(s)), SIO_ID_LEN);
}

Test(eio_session, post_delivers_each_message_of_the_payload)
{
    fake_conn c = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    cr_assert_eq(post(s, "4hello\x1e"
                         "bAQIDBA=="),
                 200);
    cr_assert_eq(ev.messages, 2);
    cr_assert_eq(ev.last_binary, 1);
    cr_assert_eq(memcmp(ev.last, "\x01\x02\x03\x04", 4), 0);
}

Test(eio_session, a_queued_message_is_taken_by_the_next_get)
{
    fake_conn c = {0}, g = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    sio_buf *m = sio_buf_from("4hi", 3);
    cr_assert_eq(eio_session_send(s, m), 0);
    sio_buf_unref(m);
    char sid[SIO_ID_LEN + 1];
    strcpy(sid, eio_session_id(s));
    eio_request r = get_req(sid);
    eio_session *gs;
    int err, status, reject;
    cr_assert_eq(eio_server_handle(srv, &r, &g, &gs, &err, &status), EIO_ACT_HOLD_GET);
    spin();
    sio_buf *b = eio_conn_poll_take(gs, &g, &reject);
    cr_assert_not_null(b);
    cr_assert_eq(b->len, 3);
    cr_assert_eq(memcmp(sio_buf_data(b), "4hi", 3), 0);
    sio_buf_unref(b);
    eio_conn_detach(gs, &g);
}

Test(eio_session, overlapping_gets_close_the_session_and_end_the_first_with_close)
{
    fake_conn c = {0}, g1 = {0}, g2 = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    char sid[SIO_ID_LEN + 1];
    strcpy(sid, eio_session_id(s));
    eio_request r = get_req(sid);
    eio_session *s1, *s2;
    int err, status, reject;
    cr_assert_eq(eio_server_handle(srv, &r, &g1, &s1, &err, &status), EIO_ACT_HOLD_GET);
    cr_assert_eq(eio_server_handle(srv, &r, &g2, &s2, &err, &status), EIO_ACT_STATUS);
    cr_assert_eq(status, 400);
    cr_assert_eq(ev.closed, 1);
    cr_assert_eq(ev.reason, EIO_CLOSE_TRANSPORT_ERROR);
    spin();
    sio_buf *b = eio_conn_poll_take(s1, &g1, &reject);
    cr_assert_not_null(b);
    cr_assert_eq(b->len, 1);
    cr_assert_eq(sio_buf_data(b)[0], '1');
    sio_buf_unref(b);
    eio_conn_detach(s1, &g1);
    cr_assert_eq(eio_server_handle(srv, &r, &g2, &s2, &err, &status), EIO_ACT_ERROR);
    cr_assert_eq(err, EIO_ERR_UNKNOWN_SID);
}

Test(eio_session, client_ping_is_a_heartbeat_direction_error)
{
    fake_conn c = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    post(s, "2");
    cr_assert_eq(ev.closed, 1);
    cr_assert_eq(ev.reason, EIO_CLOSE_TRANSPORT_ERROR);
}

Test(eio_session, undecodable_payload_is_a_parse_error)
{
    fake_conn c = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    cr_assert_eq(post(s, "abc"), 400);
    cr_assert_eq(ev.reason, EIO_CLOSE_PARSE_ERROR);
}

Test(eio_session_limits, full_out_queue_closes_a_slow_consumer, .init = setup_small_queue,
     .fini = teardown)
{
    fake_conn c = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    sio_buf *m = sio_buf_from("4x", 2);
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++)
        rc = eio_session_send(s, m);
    sio_buf_unref(m);
    cr_assert_eq(rc, SIO_ELIMIT);
    cr_assert_eq(ev.closed, 1);
    cr_assert_eq(ev.reason, EIO_CLOSE_SLOW_CONSUMER);
}

Test(eio_session_limits, missing_pong_closes_with_ping_timeout, .init = setup_fast_ping,
     .fini = teardown)
{
    fake_conn c = {0};
    char p[512];
    handshake(&c, p, sizeof(p));
    for (int i = 0; i < 200 && !ev.closed; i++) {
        struct timeval tv = {0, 2000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    cr_assert_eq(ev.closed, 1);
    cr_assert_eq(ev.reason, EIO_CLOSE_PING_TIMEOUT);
}

Test(eio_session, upgrade_probe_then_switch_moves_the_queue_to_websocket)
{
    fake_conn c = {0}, ws = {0}, g = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    char sid[SIO_ID_LEN + 1];
    strcpy(sid, eio_session_id(s));
    eio_request up = {.method = EIO_METHOD_GET,
                      .is_upgrade = 1,
                      .eio = "4",
                      .transport = "websocket",
                      .sid = sid,
                      .content_length = -1};
    eio_session *us;
    int err, status, close_after, reject;
    cr_assert_eq(eio_server_handle(srv, &up, &ws, &us, &err, &status), EIO_ACT_WS_ACCEPT);
    cr_assert_eq(us, s);
    /* a poll in flight before the probe */
    eio_request r = get_req(sid);
    eio_session *gs;
    cr_assert_eq(eio_server_handle(srv, &r, &g, &gs, &err, &status), EIO_ACT_HOLD_GET);
    uint8_t probe[] = "2probe";
    cr_assert_eq(eio_conn_ws_message(s, &ws, probe, 6, 0), 0);
    spin();
    sio_buf *b = eio_conn_ws_next(s, &ws, &close_after);
    cr_assert_not_null(b);
    cr_assert_eq(memcmp(sio_buf_data(b), "3probe", 6), 0);
    sio_buf_unref(b);
    b = eio_conn_poll_take(s, &g, &reject); /* released with a noop */
    cr_assert_not_null(b);
    cr_assert_eq(sio_buf_data(b)[0], '6');
    sio_buf_unref(b);
    eio_conn_detach(s, &g);
    sio_buf *m = sio_buf_from("4queued", 7);
    eio_session_send(s, m);
    sio_buf_unref(m);
    uint8_t upgrade[] = "5";
    cr_assert_eq(eio_conn_ws_message(s, &ws, upgrade, 1, 0), 0);
    cr_assert_eq(eio_session_transport(s), EIO_TRANSPORT_WEBSOCKET);
    b = eio_conn_ws_next(s, &ws, &close_after);
    cr_assert_not_null(b);
    cr_assert_eq(memcmp(sio_buf_data(b), "4queued", 7), 0);
    sio_buf_unref(b);
    /* polling is refused from now on */
    cr_assert_eq(eio_server_handle(srv, &r, &g, &gs, &err, &status), EIO_ACT_ERROR);
    cr_assert_eq(err, EIO_ERR_BAD_REQUEST);
    eio_conn_detach(s, &ws);
    cr_assert_eq(ev.reason, EIO_CLOSE_TRANSPORT_CLOSE);
}

Test(eio_session, request_checks_follow_node_order)
{
    eio_request r = {
        .method = EIO_METHOD_POST, .eio = "3", .transport = "nope", .content_length = -1};
    fake_conn c = {0};
    eio_session *s;
    int err, status;
    cr_assert_eq(eio_server_handle(srv, &r, &c, &s, &err, &status), EIO_ACT_ERROR);
    cr_assert_eq(err, EIO_ERR_UNKNOWN_TRANSPORT);
    r.transport = "polling";
    cr_assert_eq(eio_server_handle(srv, &r, &c, &s, &err, &status), EIO_ACT_ERROR);
    cr_assert_eq(err, EIO_ERR_BAD_HANDSHAKE_METHOD);
    r.method = EIO_METHOD_GET;
    cr_assert_eq(eio_server_handle(srv, &r, &c, &s, &err, &status), EIO_ACT_ERROR);
    cr_assert_eq(err, EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
    r.sid = "AAAAAAAAAAAAAAAAAAAA";
    cr_assert_eq(eio_server_handle(srv, &r, &c, &s, &err, &status), EIO_ACT_ERROR);
    cr_assert_eq(err, EIO_ERR_UNKNOWN_SID);
}

Test(eio_session, requests_for_a_session_must_carry_its_protocol_version)
{
    /* Node answers a request for an existing sid whose EIO differs from the session's with
     * "Bad request" (code 3), for the WebSocket upgrade as for polling. */
    fake_conn c = {0}, ws = {0};
    char p[512];
    eio_session *s = handshake(&c, p, sizeof(p));
    char sid[SIO_ID_LEN + 1];
    strcpy(sid, eio_session_id(s));
    eio_request up = {.method = EIO_METHOD_GET,
                      .is_upgrade = 1,
                      .eio = "3",
                      .transport = "websocket",
                      .sid = sid,
                      .content_length = -1};
    eio_session *us;
    int err, status;
    static const char *const wrong[] = {"3", "5", "04", "", NULL};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        up.eio = wrong[i];
        cr_assert_eq(eio_server_handle(srv, &up, &ws, &us, &err, &status), EIO_ACT_ERROR,
                     "upgrade with EIO=%s accepted", wrong[i] ? wrong[i] : "(none)");
        cr_assert_eq(err, EIO_ERR_BAD_REQUEST);
        cr_assert_eq(eio_error_status(err), 400);
        eio_request r = get_req(sid);
        r.eio = wrong[i];
        cr_assert_eq(eio_server_handle(srv, &r, &c, &us, &err, &status), EIO_ACT_ERROR);
        cr_assert_eq(err, EIO_ERR_BAD_REQUEST);
    }
    /* the session is untouched: the right version still upgrades */
    up.eio = "4";
    cr_assert_eq(eio_server_handle(srv, &up, &ws, &us, &err, &status), EIO_ACT_WS_ACCEPT);
    cr_assert_eq(us, s);
    eio_conn_detach(s, &ws);
}

/* Every error code has Node's message and status; every close reason its text; other values
 * read as Bad request / unknown. */
Test(eio_session, error_and_close_texts)
{
    static const struct {
        int code;
        const char *message;
        int status;
    } errors[] = {
        {EIO_ERR_UNKNOWN_TRANSPORT, "Transport unknown", 400},
        {EIO_ERR_UNKNOWN_SID, "Session ID unknown", 400},
        {EIO_ERR_BAD_HANDSHAKE_METHOD, "Bad handshake method", 400},
        {EIO_ERR_BAD_REQUEST, "Bad request", 400},
        {EIO_ERR_FORBIDDEN, "Forbidden", 403},
        {EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", 400},
        {EIO_ERR_NONE, "Bad request", 400},
        {99, "Bad request", 400},
    };
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        cr_assert_str_eq(eio_error_message(errors[i].code), errors[i].message);
        cr_assert_eq(eio_error_status(errors[i].code), errors[i].status, "code %d", errors[i].code);
    }
    for (int r = 0; r < EIO_CLOSE_REASONS; r++) {
        const char *t = eio_close_reason_str((eio_close_reason)r);
        cr_assert(t && t[0] && strcmp(t, "unknown") != 0, "reason %d has no text", r);
        for (int q = 0; q < r; q++)
            cr_assert_str_neq(t, eio_close_reason_str((eio_close_reason)q));
    }
    cr_assert_str_eq(eio_close_reason_str(EIO_CLOSE_PING_TIMEOUT), "ping timeout");
    cr_assert_str_eq(eio_close_reason_str((eio_close_reason)EIO_CLOSE_REASONS), "unknown");
}
