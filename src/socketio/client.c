/*
 * Clients (docs/protocol.md §2.2-2.6): one per Engine.IO session. A client decodes Socket.IO
 * packets once (binary attachments through protocol/sio_binary), routes them to the sockets of its
 * namespaces, sends encoded frames to its session and enforces the connect timeout. Any protocol
 * violation closes the whole connection, as Node does.
 */
#include "internal.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* ---- clients ------------------------------------------------------------------------------ */

static void free_attachment(void *part)
{
    sio_buf_unref(part);
}

static void client_free(sio_client *c)
{
    sio_binary_deinit(&c->bin);
    sio_timer_free(c->connect_timer);
    free(c);
}

void sio_client_link(sio_client *c, sio_socket *s)
{
    s->next_in_client = c->sockets;
    c->sockets = s;
    c->nsockets++;
    if (c->connect_timer) { /* needed no more: saves its memory on idle clients */
        sio_timer_free(c->connect_timer);
        c->connect_timer = NULL;
    }
}

void sio_client_unlink(sio_client *c, sio_socket *s)
{
    for (sio_socket **pp = &c->sockets; *pp; pp = &(*pp)->next_in_client) {
        if (*pp == s) {
            *pp = s->next_in_client;
            c->nsockets--;
            return;
        }
    }
}

int sio_client_send(sio_client *c, const sio_frame *f, int flags)
{
    if (c->closed || !eio_session_is_open(c->eio))
        return SIO_ECLOSED;
    if ((flags & SIO_EMIT_VOLATILE) && !eio_session_is_writable(c->eio))
        return 0; /* volatile: dropped, as Node does when the transport is busy */
    int rc = eio_session_send(c->eio, f->text);
    for (size_t i = 0; rc == 0 && i < f->nbins; i++)
        rc = eio_session_send(c->eio, f->bins[i]);
    return rc;
}

void sio_client_send_simple(sio_client *c, sio_packet_type type, const char *nsp, const char *json,
                            size_t len)
{
    sio_frame f;
    if (sio_frame_encode_raw(c->io, &f, type, nsp, -1, json, len) == 0) {
        sio_client_send(c, &f, 0);
        sio_frame_release(&f);
    }
}

/* Closes every socket of the client with reason; the engine session is left alone. */
static void client_close_sockets(sio_client *c, const char *reason)
{
    while (c->sockets) {
        sio_socket *s = c->sockets;
        sio_socket_close(s, reason, 0);
    }
}

void sio_client_close(sio_client *c, eio_close_reason reason)
{
    if (c->closed)
        return;
    eio_session_close(c->eio, reason); /* on_close runs the socket cleanup synchronously */
}

static void connect_timeout_cb(void *arg)
{
    sio_client *c = arg;
    if (!c->nsockets) {
        sio_log(SIO_LOG_DEBUG, "socketio", "session %s: no namespace joined in time",
                eio_session_id(c->eio));
        eio_session_close(c->eio, EIO_CLOSE_FORCED);
    }
}

static int on_open(eio_session *es, void *user)
{
    sio_io *io = user;
    sio_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->io = io;
    c->eio = es;
    sio_binary_init(&c->bin, &io->limits, free_attachment);
    c->connect_timer = sio_timer_new(io->clock, connect_timeout_cb, c);
    if (!c->connect_timer) {
        free(c);
        return -1;
    }
    sio_timer_start(c->connect_timer, io->opts.connect_timeout_ms);
    eio_session_set_user(es, c);
    return 0;
}

static void on_close(eio_session *es, eio_close_reason reason, void *user)
{
    sio_client *c = eio_session_get_user(es);
    if (!c)
        return;
    c->closed = 1;
    eio_session_set_user(es, NULL);
    sio_nsp_abort_pending(c);
    client_close_sockets(c, eio_close_reason_str(reason));
    if (!c->busy) /* else on_message frees it once the packet's handlers have returned */
        client_free(c);
}

static sio_socket *find_in(sio_socket *s, const char *nsp, size_t len)
{
    for (; s; s = s->next_in_client)
        if (s->nsp->name_len == len && !memcmp(s->nsp->name, nsp, len))
            return s;
    return NULL;
}

static sio_socket *client_socket(sio_client *c, const char *nsp, size_t len)
{
    return find_in(c->sockets, nsp, len);
}

/* Ends the connection. What is already queued (replies to earlier packets, e.g. the CONNECTs
 * accepted before the one over max_namespaces_per_connection) is still delivered, as Node's
 * conn.close() does; the out-queue bounds keep that finite. */
static void protocol_error(sio_client *c, const char *why)
{
    sio_log(SIO_LOG_INFO, "socketio", "session %s: %s", eio_session_id(c->eio), why);
    eio_session_close(c->eio, EIO_CLOSE_PARSE_ERROR);
}

static void on_connect_packet(sio_client *c, const sio_packet *p)
{
    if (client_socket(c, p->nsp, p->nsp_len) || find_in(c->pending, p->nsp, p->nsp_len)) {
        protocol_error(c, "CONNECT for a namespace already joined");
        return;
    }
    /* Sockets still in middleware count too: else one connection could keep any number of
     * them waiting on an asynchronous middleware (each holding a dynamic namespace alive). */
    size_t joined = c->nsockets;
    for (const sio_socket *s = c->pending; s; s = s->next_in_client)
        joined++;
    if (joined >= c->io->opts.max_namespaces_per_connection) {
        protocol_error(c, "too many namespaces on one connection");
        return;
    }
    sio_namespace *nsp = sio_nsp_lookup(c->io, p);
    if (!nsp) {
        /* the namespace name goes back as the client sent it; the connection stays up */
        static const char msg[] = "{\"message\":\"Invalid namespace\"}";
        char name[512];
        size_t n = p->nsp_len < sizeof(name) - 1 ? p->nsp_len : sizeof(name) - 1;
        memcpy(name, p->nsp, n);
        name[n] = 0;
        sio_client_send_simple(c, SIO_PACKET_CONNECT_ERROR, name, msg, sizeof(msg) - 1);
        return;
    }
    sio_nsp_connect(nsp, c, p);
}

static void dispatch(sio_client *c, const sio_packet *p, sio_buf *const *bins, size_t nbins)
{
    switch (p->type) {
    case SIO_PACKET_CONNECT:
        on_connect_packet(c, p);
        return;
    case SIO_PACKET_CONNECT_ERROR:
        protocol_error(c, "CONNECT_ERROR from a client");
        return;
    default:
        break;
    }
    sio_socket *s = client_socket(c, p->nsp, p->nsp_len);
    if (!s) {
        protocol_error(c, "packet for a namespace not joined");
        return;
    }
    if (p->type == SIO_PACKET_DISCONNECT) {
        sio_socket_close(s, "client namespace disconnect", 0);
        return;
    }
    sio_socket_on_packet(s, p, bins, nbins);
}

static void on_text(sio_client *c, const uint8_t *data, size_t len)
{
    sio_packet p;
    const char *reason = NULL;
    int rc = sio_binary_feed_text(&c->bin, (const char *)data, len, &p, &reason);
    if (rc == 0)
        dispatch(c, &p, NULL, 0);
    else if (rc != SIO_EINCOMPLETE)
        protocol_error(c, reason ? reason : "invalid packet");
}

static void on_binary(sio_client *c, const uint8_t *data, size_t len)
{
    sio_buf *b = sio_buf_from(data, len);
    if (!b) {
        protocol_error(c, "out of memory");
        return;
    }
    b->binary = 1;
    sio_binary_msg m;
    const char *reason = NULL;
    int rc = sio_binary_feed_attachment(&c->bin, b, len, &m, &reason);
    if (rc == SIO_EINCOMPLETE)
        return;
    if (rc < 0) {
        protocol_error(c, reason);
        return;
    }
    /* The packet is ours now (the handler may close the client and its reassembler). */
    sio_buf *bins[SIO_BINARY_MAX_ATTACHMENTS];
    for (size_t i = 0; i < m.nparts; i++)
        bins[i] = m.parts[i];
    dispatch(c, &m.pkt, bins, m.nparts);
    sio_binary_msg_deinit(&m, free_attachment);
}

static void on_message(eio_session *es, const uint8_t *data, size_t len, int binary, void *user)
{
    sio_client *c = eio_session_get_user(es);
    if (!c || c->closed)
        return;
    /* A handler may close this very connection (disconnect(true), middleware refusing with a
     * close): keep the client alive until we are back here. */
    c->busy++;
    if (binary)
        on_binary(c, data, len);
    else
        on_text(c, data, len);
    if (--c->busy == 0 && c->closed)
        client_free(c);
}

void sio_io_engine_callbacks(sio_io *io, eio_callbacks *out)
{
    memset(out, 0, sizeof(*out));
    out->on_open = on_open;
    out->on_message = on_message;
    out->on_close = on_close;
    out->user = io;
}
