/*
 * The handshake filter (Node's engine.io allowRequest; docs/protocol.md §1.9): each handshake
 * that passed the request checks waits for the application's answer, given now or later, bounded
 * by allow_request_timeout_ms. Implements the public sio_handshake_* calls of <sio/http.h>.
 */
#include "internal.h"

#include "common/list.h"
#include "common/log.h"
#include "json_scan.h"

#include <sio/error.h>

#include <stdlib.h>
#include <string.h>

/*
 * Owned by the engine, on srv->pending until the application answers (or the server is freed).
 * The request is settled once: by the answer, the timeout or the peer leaving (conn NULL). An
 * answer after settling only frees the handle, so a late answer is always safe.
 */
struct sio_handshake {
    eio_server *srv;
    void *conn;      /* NULL once settled */
    eio_request req; /* copy; strings point into the fields below */
    char eio[8];
    char *json; /* headers, query, address (the session keeps its own copy) */
    char addr[64];
    int in_cb; /* the hook runs: an answer inside it settles, the free waits */
    int answered;
    struct event *timer;
    struct sio_handshake *prev, *next;
};

static void unlink_free(sio_handshake *hs)
{
    SIO_LIST_UNLINK(hs->srv->pending, hs);
    if (hs->timer)
        event_free(hs->timer);
    free(hs->json);
    free(hs);
}

/* Decides once: opens the session or refuses, and tells the http layer. */
static void settle(sio_handshake *hs, int allow, int code, const char *message)
{
    void *conn = hs->conn;
    eio_server *srv = hs->srv;
    if (!conn)
        return;
    hs->conn = NULL;
    if (hs->timer)
        event_del(hs->timer);
    eio_handshake_result r = {.act = EIO_ACT_ERROR, .err = EIO_ERR_NONE};
    if (allow) {
        r.act = eio_server_open_session(srv, &hs->req, conn, &r.session, &r.err, &r.status);
    } else {
        srv->stats.handshakes_denied++;
        r.err = code < 0 ? EIO_ERR_FORBIDDEN : code;
        r.message = message;
        sio_log(SIO_LOG_INFO, "engine", "handshake from %s refused: %s", hs->addr,
                message ? message : eio_error_message(r.err));
    }
    if (r.act == EIO_ACT_ERROR && !r.message)
        r.message = eio_error_message(r.err);
    if (srv->ops.handshake_done)
        srv->ops.handshake_done(conn, &r);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    sio_handshake *hs = arg;
    sio_log(SIO_LOG_WARN, "engine", "allow_request: no answer within %u ms",
            hs->srv->opts.allow_request_timeout_ms);
    settle(hs, 0, EIO_ERR_FORBIDDEN, NULL);
}

/* The address out of the handshake JSON the http layer built (docs/protocol.md §2.3). */
static void read_address(sio_handshake *hs)
{
    sio_json_iter it;
    const char *k, *v;
    size_t kn, vn;
    if (!hs->json || sio_json_iter_init(&it, hs->json, strlen(hs->json)) < 0)
        return;
    while (sio_json_iter_next(&it, &k, &kn, &v, &vn) == 1)
        if (sio_json_string_eq(k, kn, "address", 7) &&
            sio_json_string_unescape(v, vn, hs->addr, sizeof(hs->addr)) < 0)
            hs->addr[0] = 0;
}

eio_action eio_handshake_ask(eio_server *srv, const eio_request *req, void *conn, int *err)
{
    sio_handshake *hs = calloc(1, sizeof(*hs));
    if (!hs) {
        *err = EIO_ERR_BAD_REQUEST; /* as a session that cannot be allocated */
        return EIO_ACT_ERROR;
    }
    hs->srv = srv;
    hs->conn = conn;
    hs->req = *req;
    if (req->eio && strlen(req->eio) < sizeof(hs->eio)) {
        memcpy(hs->eio, req->eio, strlen(req->eio) + 1);
        hs->req.eio = hs->eio;
    } else {
        hs->req.eio = req->eio ? "" : NULL; /* too long for "4": refused as a version later */
    }
    hs->req.transport = req->is_upgrade ? "websocket" : "polling";
    hs->req.sid = NULL;
    hs->json = req->handshake_json ? strdup(req->handshake_json) : NULL;
    hs->req.handshake_json = hs->json;
    read_address(hs);
    SIO_LIST_PUSH(srv->pending, hs);
    hs->in_cb = 1;
    srv->allow_cb(hs, srv->allow_user);
    hs->in_cb = 0;
    if (hs->answered) {
        unlink_free(hs);
    } else if (hs->conn) {
        unsigned ms = srv->opts.allow_request_timeout_ms;
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
        hs->timer = evtimer_new(srv->base, timeout_cb, hs);
        if (!hs->timer || evtimer_add(hs->timer, &tv) < 0)
            settle(hs, 0, EIO_ERR_FORBIDDEN, NULL);
    }
    return EIO_ACT_PENDING;
}

void eio_server_set_allow_request(eio_server *srv, sio_allow_request_cb cb, void *user)
{
    srv->allow_cb = cb;
    srv->allow_user = user;
}

void eio_server_handshake_gone(eio_server *srv, void *conn)
{
    for (sio_handshake *hs = srv->pending; hs; hs = hs->next) {
        if (hs->conn == conn) {
            hs->conn = NULL;
            if (hs->timer)
                event_del(hs->timer);
        }
    }
}

void eio_handshakes_free(eio_server *srv)
{
    while (srv->pending)
        unlink_free(srv->pending);
}

/* ---- the public handle ---------------------------------------------------------------------- */

const char *sio_handshake_method(const sio_handshake *hs)
{
    return "GET";
}

const char *sio_handshake_transport(const sio_handshake *hs)
{
    return hs->req.is_upgrade ? "websocket" : "polling";
}

long sio_handshake_header(const sio_handshake *hs, const char *name, char *buf, size_t cap)
{
    if (!hs->conn || hs->answered)
        return SIO_ECLOSED;
    if (!hs->srv->ops.header)
        return SIO_ENOTFOUND;
    return hs->srv->ops.header(hs->conn, name, buf, cap);
}

long sio_handshake_query_param(const sio_handshake *hs, const char *name, char *buf, size_t cap)
{
    if (!hs->json)
        return SIO_ENOTFOUND;
    return (long)sio_json_nested_string(hs->json, strlen(hs->json), "query", name, buf, cap);
}

const char *sio_handshake_address(const sio_handshake *hs)
{
    return hs->addr;
}

int sio_handshake_is_settled(const sio_handshake *hs)
{
    return !hs->conn;
}

static void answer(sio_handshake *hs, int allow, int code, const char *message)
{
    hs->answered = 1;
    settle(hs, allow, code, message);
    if (!hs->in_cb)
        unlink_free(hs);
}

void sio_handshake_allow(sio_handshake *hs)
{
    answer(hs, 1, 0, NULL);
}

void sio_handshake_deny(sio_handshake *hs, int code, const char *message)
{
    answer(hs, 0, code, message);
}
