/*
 * Engine.IO sessions (docs/protocol.md §1.4-1.8): the bounded out-queue, the server-driven
 * heartbeat, long-polling GET/POST slots, the WebSocket transport, the polling -> WebSocket upgrade
 * and every way a session closes. Closing only marks and unlinks; the memory goes when the last
 * reference (the sid map or an attached connection) is dropped, through the server's reaper.
 */
#include "internal.h"

#include "eio_packet.h"
#include "eio_payload.h"

#include "common/log.h"

#include <sio/error.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void hb_cb(evutil_socket_t fd, short what, void *arg);

static void stop_upgrade_timers(eio_session *s)
{
    if (s->upgrade_timer)
        event_del(s->upgrade_timer);
    if (s->noop_timer)
        event_del(s->noop_timer);
}

eio_session *eio_session_new(eio_server *srv, eio_transport_kind t)
{
    eio_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (sio_id_generate(s->sid) < 0) {
        free(s);
        return NULL;
    }
    s->srv = srv;
    s->refcnt = 1;
    s->transport = t;
    s->state = SESSION_OPEN;
    s->hb = event_new(srv->base, -1, 0, hb_cb, s);
    if (!s->hb) {
        free(s);
        return NULL;
    }
    return s;
}

void eio_session_ref(eio_session *s)
{
    s->refcnt++;
}

void eio_session_unref(eio_session *s)
{
    if (--s->refcnt == 0 && !s->reaping) {
        s->reaping = 1;
        eio_server_reap(s->srv, s);
    }
}

static void queue_clear(eio_session *s)
{
    while (s->q_len) {
        sio_buf_unref(s->q[s->q_head]);
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
    }
    s->q_head = 0;
    s->q_bytes = 0;
}

void eio_session_free(eio_session *s)
{
    queue_clear(s);
    free(s->q);
    free(s->handshake);
    sio_buf_unref(s->final_pkt);
    sio_buf_unref(s->probe_out);
    if (s->hb)
        event_free(s->hb);
    if (s->upgrade_timer)
        event_free(s->upgrade_timer);
    if (s->noop_timer)
        event_free(s->noop_timer);
    free(s);
}

static sio_buf *queue_pop(eio_session *s)
{
    if (!s->q_len)
        return NULL;
    sio_buf *b = s->q[s->q_head];
    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_len--;
    s->q_bytes -= b->len;
    return b;
}

/* Appends with a reference. The caps bound what a slow or stalled peer can make us hold. */
int eio_session_push(eio_session *s, sio_buf *b)
{
    const eio_options *o = &s->srv->opts;
    if (s->q_len >= o->max_buffered_packets || s->q_bytes + b->len > o->max_buffered_bytes)
        return SIO_ELIMIT;
    if (s->q_len == s->q_cap) {
        size_t cap = s->q_cap ? s->q_cap * 2 : 8;
        sio_buf **q = malloc(cap * sizeof(*q));
        if (!q)
            return SIO_ENOMEM;
        for (size_t i = 0; i < s->q_len; i++)
            q[i] = s->q[(s->q_head + i) % s->q_cap];
        free(s->q);
        s->q = q;
        s->q_cap = cap;
        s->q_head = 0;
    }
    s->q[(s->q_head + s->q_len) % s->q_cap] = sio_buf_ref(b);
    s->q_len++;
    s->q_bytes += b->len;
    s->srv->stats.packets_out++;
    s->srv->stats.bytes_out += b->len;
    eio_session_mark_dirty(s);
    return 0;
}

int eio_session_send(eio_session *s, sio_buf *b)
{
    if (s->state != SESSION_OPEN)
        return SIO_ECLOSED;
    int rc = eio_session_push(s, b);
    if (rc == SIO_ELIMIT)
        eio_session_abort(s, EIO_CLOSE_SLOW_CONSUMER);
    return rc;
}

void eio_session_flush(eio_session *s, int may_write_now)
{
    const eio_transport_ops *ops = &s->srv->ops;
    if (s->probe && s->probe_out)
        ops->want_write(s->probe, 0);
    if (s->transport == EIO_TRANSPORT_WEBSOCKET) {
        if (s->ws && (s->q_len || s->ws_close_after))
            ops->want_write(s->ws, may_write_now);
        if (s->poll_get) /* a GET left over from before the upgrade gets the 400 */
            ops->want_write(s->poll_get, 0);
    } else if (s->poll_get && (s->q_len || s->final_pkt || s->noop_due)) {
        ops->want_write(s->poll_get, may_write_now);
    }
}

/* ---- heartbeat (docs/protocol.md §1.6): ping every interval, pong within timeout ----------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void eio_session_start_heartbeat(eio_session *s)
{
    s->hb_waiting_pong = 0;
    s->hb_ping_due = now_ms() + s->srv->opts.ping_interval_ms;
    event_add(s->hb, s->srv->tv_ping_interval);
}

/* The pong deadline counts from when the ping was due, not from when a busy or coarse timer
 * got to send it, so a request arriving after the deadline never finds the session alive. */
int eio_session_check_deadline(eio_session *s)
{
    if (s->state == SESSION_OPEN && s->hb_waiting_pong &&
        now_ms() >= s->hb_ping_due + s->srv->opts.ping_timeout_ms) {
        eio_session_abort(s, EIO_CLOSE_PING_TIMEOUT);
        return -1;
    }
    return 0;
}

static void on_pong(eio_session *s)
{
    if (!s->hb_waiting_pong)
        return;
    event_del(s->hb);
    eio_session_start_heartbeat(s);
}

static void hb_cb(evutil_socket_t fd, short what, void *arg)
{
    eio_session *s = arg;
    if (s->state != SESSION_OPEN) {
        /* close timeout: the client never came back for the close packet */
        eio_server_forget(s->srv, s);
        return;
    }
    if (s->hb_waiting_pong) {
        eio_session_abort(s, EIO_CLOSE_PING_TIMEOUT);
        return;
    }
    if (eio_session_push(s, s->srv->pkt[EIO_PKT_PING]) < 0) {
        eio_session_abort(s, EIO_CLOSE_SLOW_CONSUMER);
        return;
    }
    s->hb_waiting_pong = 1;
    event_add(s->hb, s->srv->tv_ping_timeout);
}

/* ---- closing ------------------------------------------------------------------------------- */

static void log_close(const eio_session *s, eio_close_reason r)
{
    int level =
        (r == EIO_CLOSE_TRANSPORT_CLOSE || r == EIO_CLOSE_FORCED || r == EIO_CLOSE_SERVER_SHUTDOWN)
            ? SIO_LOG_DEBUG
            : SIO_LOG_INFO;
    sio_log(level, "engine", "session %s closed: %s", s->sid, eio_close_reason_str(r));
}

static void mark_closing(eio_session *s, eio_close_reason reason)
{
    s->state = SESSION_CLOSING;
    s->close_reason = reason;
    if ((unsigned)reason < EIO_CLOSE_REASONS)
        s->srv->stats.closes[reason]++;
    event_del(s->hb);
    stop_upgrade_timers(s);
    if (s->probe) {
        s->srv->ops.close(s->probe);
        s->probe_state = PROBE_NONE;
    }
    log_close(s, reason);
}

static void notify_close(eio_session *s)
{
    eio_session_ref(s); /* keep s valid through the callback */
    if (s->srv->cbs.on_close)
        s->srv->cbs.on_close(s, s->close_reason, s->srv->cbs.user);
    eio_session_unref(s);
}

/* Abrupt close: drop what is queued, end a pending GET with "1" (or the final packet already
 * chosen, e.g. "6" when the client closed), close the WebSocket now. */
void eio_session_abort(eio_session *s, eio_close_reason reason)
{
    if (s->state != SESSION_OPEN)
        return;
    mark_closing(s, reason);
    queue_clear(s);
    if (s->transport == EIO_TRANSPORT_POLLING) {
        if (!s->final_pkt)
            s->final_pkt = sio_buf_ref(s->srv->pkt[EIO_PKT_CLOSE]);
        if (s->poll_get)
            eio_session_mark_dirty(s);
    } else if (s->ws) {
        s->srv->ops.close(s->ws);
    }
    notify_close(s);
    eio_server_forget(s->srv, s);
}

/* Graceful close (server side): what is queued is still delivered, then "1" on polling (in the
 * GET after the one carrying the queue, as Node does, so the client handles the last packets
 * before it sees the close) or a WebSocket close. A polling session stays findable until a GET
 * fetches the close packet or close_timeout passes (Node's closeTimeout). */
void eio_session_close(eio_session *s, eio_close_reason reason)
{
    if (s->state != SESSION_OPEN)
        return;
    mark_closing(s, reason);
    if (s->transport == EIO_TRANSPORT_POLLING) {
        s->final_pkt = sio_buf_ref(s->srv->pkt[EIO_PKT_CLOSE]);
        unsigned ms = s->srv->opts.close_timeout_ms;
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
        event_add(s->hb, &tv);
        if (s->poll_get)
            eio_session_mark_dirty(s);
    } else {
        s->ws_close_after = 1;
        eio_session_mark_dirty(s);
        eio_server_forget(s->srv, s);
    }
    notify_close(s);
}

/* ---- polling (docs/protocol.md §1.4) ------------------------------------------------------- */

eio_action eio_session_attach_get(eio_session *s, void *conn, int *status)
{
    if (s->poll_get) {
        /* Overlapping GETs: the new one gets 400, the pending one "1", the session ends. */
        sio_log(SIO_LOG_INFO, "engine", "session %s: overlapping GET", s->sid);
        *status = 400;
        eio_session_abort(s, EIO_CLOSE_TRANSPORT_ERROR);
        return EIO_ACT_STATUS;
    }
    s->poll_get = conn;
    eio_session_ref(s);
    if (s->q_len || s->final_pkt)
        eio_session_mark_dirty(s);
    if (s->probe_state == PROBE_WAIT_UPGRADE && s->noop_timer) {
        struct timeval tv = {0, 100000}; /* the noop check counts from this poll's arrival */
        event_add(s->noop_timer, &tv);
    }
    return EIO_ACT_HOLD_GET;
}

eio_action eio_session_attach_post(eio_session *s, const eio_request *req, void *conn, int *status)
{
    if (s->state != SESSION_OPEN) {
        *status = 400;
        return EIO_ACT_STATUS;
    }
    if (s->poll_post || req->octet_stream_body) {
        sio_log(SIO_LOG_INFO, "engine", "session %s: %s", s->sid,
                s->poll_post ? "overlapping POST" : "binary POST body on an EIO4 session");
        *status = 400;
        eio_session_abort(s, EIO_CLOSE_TRANSPORT_ERROR);
        return EIO_ACT_STATUS;
    }
    if (req->content_length > 0 &&
        (unsigned long long)req->content_length > s->srv->opts.max_payload) {
        *status = 413;
        eio_session_abort(s, EIO_CLOSE_PAYLOAD_TOO_LARGE);
        return EIO_ACT_STATUS;
    }
    s->poll_post = conn;
    eio_session_ref(s);
    return EIO_ACT_READ_BODY;
}

static void client_close(eio_session *s)
{
    /* The client's "1": a pending GET is released with a noop, not a close (Node's behaviour). */
    if (s->transport == EIO_TRANSPORT_POLLING && !s->final_pkt)
        s->final_pkt = sio_buf_ref(s->srv->pkt[EIO_PKT_NOOP]);
    eio_session_abort(s, EIO_CLOSE_TRANSPORT_CLOSE);
}

/* One decoded packet from the current transport. Returns 0 to go on, -1 once closed. */
static int on_packet(eio_session *s, const eio_packet *p)
{
    switch (p->type) {
    case EIO_PACKET_MESSAGE:
        s->srv->stats.packets_in++;
        s->srv->stats.bytes_in += p->len;
        if (s->srv->cbs.on_message)
            s->srv->cbs.on_message(s, p->data, p->len, p->binary, s->srv->cbs.user);
        break;
    case EIO_PACKET_PONG:
        on_pong(s);
        break;
    case EIO_PACKET_PING:
        sio_log(SIO_LOG_INFO, "engine", "session %s: invalid heartbeat direction", s->sid);
        eio_session_abort(s, EIO_CLOSE_TRANSPORT_ERROR);
        break;
    case EIO_PACKET_CLOSE:
        client_close(s);
        break;
    default: /* open, upgrade and noop from a client carry no meaning here */
        break;
    }
    return s->state == SESSION_OPEN ? 0 : -1;
}

int eio_conn_post_body(eio_session *s, void *conn, uint8_t *body, size_t len)
{
    if (s->poll_post == conn)
        s->poll_post = NULL;
    if (s->state != SESSION_OPEN)
        return 400;
    if (len > s->srv->opts.max_payload) {
        eio_session_abort(s, EIO_CLOSE_PAYLOAD_TOO_LARGE);
        return 413;
    }
    eio_payload_iter it;
    eio_payload_iter_init(&it, body, len);
    eio_session_ref(s);
    int status = 200;
    for (;;) {
        eio_packet p;
        const char *reason = NULL;
        int rc = eio_payload_next(&it, &p, &reason);
        if (rc == 0)
            break;
        if (rc < 0) {
            sio_log(SIO_LOG_INFO, "engine", "session %s: bad payload: %s", s->sid, reason);
            eio_session_abort(s, EIO_CLOSE_PARSE_ERROR);
            status = 400;
            break;
        }
        if (on_packet(s, &p) < 0)
            break;
    }
    eio_session_unref(s);
    return status;
}

/* Joins the queued packets into one polling payload: the only per-receiver copy. */
static sio_buf *encode_payload(eio_session *s)
{
    size_t n = s->q_len;
    eio_segment stack_segs[32] = {{0}};
    eio_segment *segs = n <= 32 ? stack_segs : malloc(n * sizeof(*segs));
    if (!segs)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        sio_buf *b = s->q[(s->q_head + i) % s->q_cap];
        segs[i] = (eio_segment){sio_buf_data(b), b->len, b->binary};
    }
    sio_buf *out = sio_buf_new(eio_payload_encoded_len(segs, n));
    if (out)
        out->len = (uint32_t)eio_payload_encode(sio_buf_data(out), segs, n);
    if (segs != stack_segs)
        free(segs);
    return out;
}

sio_buf *eio_conn_poll_take(eio_session *s, void *conn, int *reject)
{
    *reject = 0;
    if (conn != s->poll_get)
        return NULL;
    sio_buf *out;
    if (s->transport == EIO_TRANSPORT_WEBSOCKET) {
        /* A GET still pending when the upgrade finished: a real client pauses polling before
         * it sends "5", so this one raced the upgrade; it gets the transport-mismatch 400. */
        s->poll_get = NULL;
        *reject = 1;
        return NULL;
    } else if (s->q_len) {
        out = encode_payload(s); /* a final close waits for the next GET */
        if (!out)
            return NULL;
        queue_clear(s);
    } else if (s->final_pkt) {
        out = sio_buf_ref(s->final_pkt);
        sio_buf_unref(s->final_pkt);
        s->final_pkt = NULL;
        event_del(s->hb);
        eio_server_forget(s->srv, s); /* the close is delivered: the sid is done */
    } else if (s->noop_due) {
        out = sio_buf_ref(s->srv->pkt[EIO_PKT_NOOP]); /* let the client's last poll finish */
    } else {
        return NULL;
    }
    s->poll_get = NULL;
    s->noop_due = 0;
    return out;
}

/* ---- WebSocket and upgrade (docs/protocol.md §1.7) ----------------------------------------- */

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
    eio_session *s = arg;
    /* the 100 ms check: release the client's last poll so it can finish the upgrade */
    if (s->probe && s->probe_state == PROBE_WAIT_UPGRADE && s->poll_get) {
        s->noop_due = 1;
        eio_session_mark_dirty(s);
    }
}

static void upgrade_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    eio_session *s = arg;
    if (s->probe) {
        sio_log(SIO_LOG_INFO, "engine", "session %s: upgrade timed out", s->sid);
        s->srv->ops.close(s->probe);
        s->probe_state = PROBE_NONE;
    }
    stop_upgrade_timers(s);
}

int eio_session_attach_probe(eio_session *s, void *conn)
{
    if (s->transport != EIO_TRANSPORT_POLLING || s->probe || !s->srv->opts.allow_upgrades) {
        /* already upgrading or upgraded: accept, then close the newcomer (Node does the same) */
        return -1;
    }
    if (!s->upgrade_timer) {
        s->upgrade_timer = event_new(s->srv->base, -1, 0, upgrade_timeout_cb, s);
        s->noop_timer = event_new(s->srv->base, -1, EV_PERSIST, noop_cb, s);
        if (!s->upgrade_timer || !s->noop_timer)
            return -1;
    }
    s->probe = conn;
    s->probe_state = PROBE_WAIT_PING;
    eio_session_ref(s);
    unsigned ms = s->srv->opts.upgrade_timeout_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    event_add(s->upgrade_timer, &tv);
    return 0;
}

static void finish_upgrade(eio_session *s)
{
    s->transport = EIO_TRANSPORT_WEBSOCKET;
    s->ws = s->probe;
    s->probe = NULL;
    s->probe_state = PROBE_NONE;
    stop_upgrade_timers(s);
    eio_session_mark_dirty(s);
    s->srv->stats.upgrades++;
    if (s->srv->cbs.on_upgrade)
        s->srv->cbs.on_upgrade(s, s->srv->cbs.user);
}

static int on_probe_packet(eio_session *s, const eio_packet *p)
{
    if (p->type == EIO_PACKET_PING && s->probe_state == PROBE_WAIT_PING && p->len == 5 &&
        !memcmp(p->data, "probe", 5)) {
        s->probe_out = sio_buf_ref(s->srv->pkt[EIO_PKT_PROBE]);
        s->probe_state = PROBE_WAIT_UPGRADE;
        struct timeval tv = {0, 100000};
        event_add(s->noop_timer, &tv);
        /* 3probe now, and a noop for the poll already in flight; later polls wait for the
         * 100 ms check, as in Node, so one racing the "5" is refused rather than answered */
        s->noop_due = s->poll_get != NULL;
        eio_session_mark_dirty(s);
        return 0;
    }
    if (p->type == EIO_PACKET_UPGRADE && s->probe_state == PROBE_WAIT_UPGRADE) {
        finish_upgrade(s);
        return 0;
    }
    sio_log(SIO_LOG_INFO, "engine", "session %s: unexpected packet during upgrade", s->sid);
    return -1;
}

int eio_conn_ws_message(eio_session *s, void *conn, uint8_t *data, size_t len, int binary)
{
    if (s->state != SESSION_OPEN || (conn != s->ws && conn != s->probe))
        return -1;
    eio_packet p;
    const char *reason = NULL;
    if (eio_packet_decode(data, len, binary, &p, &reason) < 0) {
        sio_log(SIO_LOG_INFO, "engine", "session %s: bad frame: %s", s->sid, reason);
        if (conn == s->probe)
            return -1;
        eio_session_abort(s, EIO_CLOSE_PARSE_ERROR);
        return -1;
    }
    if (conn == s->probe)
        return on_probe_packet(s, &p);
    eio_session_ref(s);
    int rc = on_packet(s, &p);
    eio_session_unref(s);
    return rc < 0 && s->ws == conn && s->state != SESSION_OPEN && !s->ws_close_after ? -1 : 0;
}

sio_buf *eio_conn_ws_next(eio_session *s, void *conn, int *close_after)
{
    *close_after = 0;
    if (conn == s->probe) {
        sio_buf *b = s->probe_out;
        s->probe_out = NULL;
        return b;
    }
    if (conn != s->ws) {
        *close_after = 1;
        return NULL;
    }
    sio_buf *b = queue_pop(s);
    if (!s->q_len && (s->ws_close_after || s->state != SESSION_OPEN))
        *close_after = 1;
    return b;
}

void eio_conn_detach(eio_session *s, void *conn)
{
    if (conn == s->poll_get) {
        s->poll_get = NULL;
        if (s->state == SESSION_OPEN) {
            sio_log(SIO_LOG_DEBUG, "engine", "session %s: poll closed prematurely", s->sid);
            eio_session_abort(s, EIO_CLOSE_TRANSPORT_ERROR);
        }
    } else if (conn == s->poll_post) {
        s->poll_post = NULL;
    } else if (conn == s->ws) {
        s->ws = NULL;
        eio_session_abort(s, EIO_CLOSE_TRANSPORT_CLOSE);
    } else if (conn == s->probe) {
        s->probe = NULL;
        s->probe_state = PROBE_NONE;
        sio_buf_unref(s->probe_out);
        s->probe_out = NULL;
        stop_upgrade_timers(s);
    }
    eio_session_unref(s);
}

/* ---- accessors ------------------------------------------------------------------------------ */

const char *eio_session_id(const eio_session *s)
{
    return s->sid;
}

const char *eio_session_handshake(const eio_session *s)
{
    return s->handshake ? s->handshake : "{}";
}

eio_transport_kind eio_session_transport(const eio_session *s)
{
    return s->transport;
}

int eio_session_is_open(const eio_session *s)
{
    return s->state == SESSION_OPEN;
}

void eio_session_set_user(eio_session *s, void *user)
{
    s->user = user;
}

void *eio_session_get_user(const eio_session *s)
{
    return s->user;
}

int eio_session_is_writable(const eio_session *s)
{
    if (s->state != SESSION_OPEN)
        return 0;
    return s->transport == EIO_TRANSPORT_WEBSOCKET ? s->ws != NULL : s->poll_get != NULL;
}

size_t eio_session_queued_bytes(const eio_session *s)
{
    return s->q_bytes;
}

size_t eio_session_queued_packets(const eio_session *s)
{
    return s->q_len;
}
