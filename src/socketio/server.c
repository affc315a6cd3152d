/*
 * Socket.IO server and clients (docs/protocol.md §2.2-2.6): one client per Engine.IO session
 * decodes Socket.IO packets once (binary attachments through protocol/sio_binary), routes them to
 * the sockets of its namespaces and enforces the connect timeout. Any protocol violation closes the
 * whole connection, as Node does.
 */
#include "internal.h"

#include "common/log.h"
#include "json_scan.h"

#include <sio/http.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void sio_server_options_init(sio_server_options *o)
{
    memset(o, 0, sizeof(*o));
    o->port = 3000;
    o->path = "/socket.io/";
    o->ping_interval_ms = 25000;
    o->ping_timeout_ms = 20000;
    o->upgrade_timeout_ms = 10000;
    o->connect_timeout_ms = 45000;
    o->max_payload = 1000000;
    o->allow_polling = 1;
    o->allow_websocket = 1;
    o->allow_upgrades = 1;
    o->http_compression_threshold = 1024;
    o->max_attachments = 10;
    o->max_json_depth = 32;
    o->max_buffered_bytes = 16u << 20;
    o->max_buffered_packets = 100000;
    o->max_namespaces_per_connection = 64;
    o->max_rooms_per_socket = 10000;
    o->max_dynamic_namespaces = 10000;
    o->close_deadline_ms = 30000;
    o->accept_backoff_ms = 100;
    o->shutdown_timeout_ms = 10000;
}

/* ---- clients ------------------------------------------------------------------------------ */

static void free_attachment(void *part)
{
    sio_buf_unref(part);
}

static void client_free(sio_client *c)
{
    sio_binary_deinit(&c->bin);
    if (c->connect_timer)
        event_free(c->connect_timer);
    free(c);
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

static void connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
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
    sio_server *srv = user;
    sio_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->srv = srv;
    c->eio = es;
    sio_binary_init(&c->bin, &srv->limits, free_attachment);
    c->connect_timer = evtimer_new(srv->base, connect_timeout_cb, c);
    if (!c->connect_timer) {
        free(c);
        return -1;
    }
    unsigned ms = srv->opts.connect_timeout_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(c->connect_timer, &tv);
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
    client_close_sockets(c, eio_close_reason_str(reason));
    if (!c->busy) /* else on_message frees it once the packet's handlers have returned */
        client_free(c);
}

static sio_socket *client_socket(sio_client *c, const char *nsp, size_t len)
{
    for (sio_socket *s = c->sockets; s; s = s->next_in_client)
        if (strlen(s->nsp->name) == len && !memcmp(s->nsp->name, nsp, len))
            return s;
    return NULL;
}

/* Ends the connection. What is already queued (replies to earlier packets, e.g. the CONNECTs
 * accepted before the one over max_namespaces_per_connection) is still delivered, as Node's
 * conn.close() does; the out-queue bounds keep that finite. */
static void protocol_error(sio_client *c, const char *why)
{
    sio_log(SIO_LOG_INFO, "socketio", "session %s: %s", eio_session_id(c->eio), why);
    eio_session_close(c->eio, EIO_CLOSE_PARSE_ERROR);
}

/* Removes the dynamic child namespaces that nothing holds any more (sio_nsp_release). */
static void gc_cb(evutil_socket_t fd, short what, void *arg)
{
    sio_server *srv = arg;
    while (srv->gc) {
        sio_namespace *nsp = srv->gc;
        srv->gc = nsp->gc_next;
        nsp->gc_queued = 0;
        if (nsp->holds || nsp->pinned)
            continue; /* taken again since it was queued */
        sio_map_del(&srv->nsps, nsp->name, strlen(nsp->name));
        srv->ndyn_alive--;
        srv->ns_removed++;
        sio_nsp_free(nsp);
    }
}

static void log_refused_nsp(sio_server *srv)
{
    /* at most one line a second, however hard a client tries */
    struct timeval now;
    evutil_gettimeofday(&now, NULL);
    if (now.tv_sec == srv->ns_refused_logged.tv_sec && srv->ns_refused > 1)
        return;
    srv->ns_refused_logged = now;
    sio_log(SIO_LOG_WARN, "socketio",
            "refusing dynamic namespaces: %zu alive (max_dynamic_namespaces); %llu refused so far",
            srv->ndyn_alive, (unsigned long long)srv->ns_refused);
}

static sio_namespace *find_or_create_nsp(sio_server *srv, const sio_packet *p)
{
    sio_namespace *nsp = sio_map_get(&srv->nsps, p->nsp, p->nsp_len);
    if (nsp || !srv->ndyn)
        return nsp;
    /* Empty child namespaces are removed (gc_cb), so this caps the ones alive at once: a loop
     * of CONNECTs to "/dyn-<n>" from many connections cannot grow memory without end. */
    if (srv->ndyn_alive >= srv->opts.max_dynamic_namespaces) {
        srv->ns_refused++;
        log_refused_nsp(srv);
        return NULL;
    }
    char name[512];
    if (p->nsp_len >= sizeof(name))
        return NULL;
    memcpy(name, p->nsp, p->nsp_len);
    name[p->nsp_len] = 0;
    char auth[1] = "";
    char *a = auth;
    if (p->data_len) {
        a = malloc(p->data_len + 1);
        if (!a)
            return NULL;
        memcpy(a, p->data, p->data_len);
        a[p->data_len] = 0;
    }
    for (size_t i = 0; i < srv->ndyn && !nsp; i++) {
        dyn_parent *d = &srv->dyn[i];
        if (d->match(srv, name, p->data_len ? a : "{}", d->user)) {
            nsp = sio_nsp_new(srv, name, p->nsp_len);
            if (nsp) {
                nsp->dynamic = 1;
                srv->ndyn_alive++;
                srv->ns_created++;
            }
            if (nsp && d->setup) {
                nsp->holds++; /* a setup that pins or connects nothing must not free it */
                d->setup(nsp, d->user);
                nsp->holds--;
            }
        }
    }
    if (a != auth)
        free(a);
    if (nsp) /* a new child is removed again unless a socket joins it now */
        sio_nsp_collect(nsp);
    return nsp;
}

static void on_connect_packet(sio_client *c, const sio_packet *p)
{
    if (client_socket(c, p->nsp, p->nsp_len)) {
        protocol_error(c, "CONNECT for a namespace already joined");
        return;
    }
    if (c->nsockets >= c->srv->opts.max_namespaces_per_connection) {
        protocol_error(c, "too many namespaces on one connection");
        return;
    }
    sio_namespace *nsp = find_or_create_nsp(c->srv, p);
    if (!nsp) {
        /* the namespace name goes back as the client sent it; the connection stays up */
        static const char msg[] = "{\"message\":\"Invalid namespace\"}";
        char name[512];
        size_t n = p->nsp_len < sizeof(name) - 1 ? p->nsp_len : sizeof(name) - 1;
        memcpy(name, p->nsp, n);
        name[n] = 0;
        sio_frame f;
        if (sio_frame_encode_raw(&f, SIO_PACKET_CONNECT_ERROR, name, -1, msg, sizeof(msg) - 1) ==
            0) {
            sio_client_send(c, &f, 0);
            sio_frame_release(&f);
        }
        return;
    }
    if (sio_nsp_connect(nsp, c, p) == 0 && c->connect_timer) {
        event_free(c->connect_timer); /* needed no more: saves its memory on idle clients */
        c->connect_timer = NULL;
    }
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

/* ---- server ------------------------------------------------------------------------------- */

void sio_server_get_stats(const sio_server *srv, sio_server_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (srv->http) {
        const sio_http_stats *h = sio_http_get_stats(srv->http);
        out->accept_failures = h->accept_failures;
        out->accept_pauses = h->accept_pauses;
        out->close_deadline_drops = h->close_deadline_drops;
        out->chunked_bodies = h->chunked_bodies;
        out->connections = h->connections;
    }
    out->namespaces_created = srv->ns_created;
    out->namespaces_removed = srv->ns_removed;
    out->namespaces_refused = srv->ns_refused;
    out->sessions = srv->engine ? eio_server_session_count(srv->engine) : 0;
    out->dynamic_namespaces = srv->ndyn_alive;
    out->packets_encoded = sio_stats_packets_encoded();
    out->broadcasts = srv->broadcasts;
    out->sockets_connected = srv->sockets_connected;
    out->middleware_refusals = srv->middleware_refusals;
    out->ack_timeouts = srv->ack_timeouts;
    if (!srv->engine)
        return;
    const eio_stats *e = eio_server_stats(srv->engine);
    out->sessions_websocket = eio_server_websocket_count(srv->engine);
    out->sessions_opened = e->sessions_opened;
    out->upgrades = e->upgrades;
    out->closes_transport_error = e->closes[EIO_CLOSE_TRANSPORT_ERROR];
    out->closes_transport_close = e->closes[EIO_CLOSE_TRANSPORT_CLOSE];
    out->closes_forced = e->closes[EIO_CLOSE_FORCED];
    out->closes_ping_timeout = e->closes[EIO_CLOSE_PING_TIMEOUT];
    out->closes_parse_error = e->closes[EIO_CLOSE_PARSE_ERROR];
    out->closes_server_shutdown = e->closes[EIO_CLOSE_SERVER_SHUTDOWN];
    out->closes_slow_consumer = e->closes[EIO_CLOSE_SLOW_CONSUMER];
    out->closes_payload_too_large = e->closes[EIO_CLOSE_PAYLOAD_TOO_LARGE];
    out->packets_in = e->packets_in;
    out->bytes_in = e->bytes_in;
    out->packets_out = e->packets_out;
    out->bytes_out = e->bytes_out;
}

/* The counters as one JSON object (the stats route), into out (cap bytes). */
static void stats_json(const sio_server_stats *st, char *out, size_t cap)
{
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"accept_failures", st->accept_failures},
        {"accept_pauses", st->accept_pauses},
        {"close_deadline_drops", st->close_deadline_drops},
        {"chunked_bodies", st->chunked_bodies},
        {"namespaces_created", st->namespaces_created},
        {"namespaces_removed", st->namespaces_removed},
        {"namespaces_refused", st->namespaces_refused},
        {"connections", st->connections},
        {"sessions", st->sessions},
        {"sessions_websocket", st->sessions_websocket},
        {"dynamic_namespaces", st->dynamic_namespaces},
        {"sessions_opened", st->sessions_opened},
        {"upgrades", st->upgrades},
        {"closes_transport_error", st->closes_transport_error},
        {"closes_transport_close", st->closes_transport_close},
        {"closes_forced", st->closes_forced},
        {"closes_ping_timeout", st->closes_ping_timeout},
        {"closes_parse_error", st->closes_parse_error},
        {"closes_server_shutdown", st->closes_server_shutdown},
        {"closes_slow_consumer", st->closes_slow_consumer},
        {"closes_payload_too_large", st->closes_payload_too_large},
        {"packets_in", st->packets_in},
        {"bytes_in", st->bytes_in},
        {"packets_out", st->packets_out},
        {"bytes_out", st->bytes_out},
        {"packets_encoded", st->packets_encoded},
        {"broadcasts", st->broadcasts},
        {"sockets_connected", st->sockets_connected},
        {"middleware_refusals", st->middleware_refusals},
        {"ack_timeouts", st->ack_timeouts},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && n + 64 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":%llu", i ? "," : "{", f[i].name,
                              (unsigned long long)f[i].v);
    snprintf(out + n, cap - n, "}");
}

static const sio_http_header json_type[] = {{"content-type", "application/json"}};

static void health_route(sio_http_request *req, void *user)
{
    static const char body[] = "{\"status\":\"ok\"}";
    sio_http_respond(req, 200, json_type, 1, body, sizeof(body) - 1);
}

static void stats_route(sio_http_request *req, void *user)
{
    char json[2048];
    sio_server_stats st;
    sio_server_get_stats(user, &st);
    stats_json(&st, json, sizeof(json));
    sio_http_respond(req, 200, json_type, 1, json, strlen(json));
}

/* /health, /healthz and the stats route: any method, exact paths, no body. */
static int add_builtin_routes(sio_server *srv)
{
    sio_http_route r = {.path = "/health", .cb = health_route, .user = srv};
    int rc = sio_http_route_add(srv->http, &r);
    r.path = "/healthz";
    rc = rc ? rc : sio_http_route_add(srv->http, &r);
    if (srv->opts.stats_path) {
        r.path = srv->opts.stats_path;
        r.cb = stats_route;
        rc = rc ? rc : sio_http_route_add(srv->http, &r);
    }
    return rc;
}

int sio_server_route_add(sio_server *srv, const sio_http_route *r)
{
    return sio_http_route_add(srv->http, r);
}

void sio_server_set_allow_request(sio_server *srv, sio_allow_request_cb cb, void *user)
{
    eio_server_set_allow_request(srv->engine, cb, user);
}

sio_server *sio_server_new(struct event_base *base, const sio_server_options *opts)
{
    sio_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->opts = *opts;
    srv->own_base = !base;
    srv->base = base ? base : event_base_new();
    srv->gc_ev = srv->base ? event_new(srv->base, -1, 0, gc_cb, srv) : NULL;
    sio_map_init(&srv->nsps);
    sio_binary_limits_init(&srv->limits);
    srv->limits.packet.max_attachments = opts->max_attachments > SIO_BINARY_MAX_ATTACHMENTS
                                             ? SIO_BINARY_MAX_ATTACHMENTS
                                             : opts->max_attachments;
    srv->limits.packet.max_json_depth = opts->max_json_depth;
    /* Each attachment is one message within max_payload; bound the packet as a whole by that. */
    srv->limits.max_bytes = (size_t)opts->max_payload * srv->limits.packet.max_attachments;

    eio_options eo;
    eio_options_init(&eo);
    eo.path = opts->path;
    eo.ping_interval_ms = opts->ping_interval_ms;
    eo.ping_timeout_ms = opts->ping_timeout_ms;
    eo.upgrade_timeout_ms = opts->upgrade_timeout_ms;
    eo.max_payload = opts->max_payload;
    eo.allow_polling = opts->allow_polling;
    eo.allow_websocket = opts->allow_websocket;
    eo.allow_upgrades = opts->allow_upgrades;
    eo.max_buffered_bytes = opts->max_buffered_bytes;
    eo.max_buffered_packets = opts->max_buffered_packets;
    eo.max_sessions = opts->max_connections;
    eio_callbacks cbs = {
        .on_open = on_open, .on_message = on_message, .on_close = on_close, .user = srv};
    sio_http_options ho;
    sio_http_options_init(&ho);
    ho.iface = opts->host;
    ho.port = opts->port;
    ho.cors_origin = opts->cors_origin;
    ho.cors_credentials = opts->cors_credentials;
    ho.cookie_name = opts->cookie_name;
    ho.http_compression_threshold = opts->http_compression_threshold;
    ho.per_message_deflate = opts->per_message_deflate;
    ho.tls_cert = opts->tls_cert;
    ho.tls_key = opts->tls_key;
    ho.close_deadline_ms = opts->close_deadline_ms;
    ho.accept_backoff_ms = opts->accept_backoff_ms;
    if (srv->base)
        srv->engine = eio_server_new(srv->base, &eo, &cbs, sio_http_transport_ops());
    if (srv->engine && srv->gc_ev)
        srv->http = sio_http_new(srv->base, &ho, srv->engine);
    if (!srv->http || add_builtin_routes(srv) < 0) {
        sio_server_free(srv);
        return NULL;
    }
    return srv;
}

int sio_server_port(const sio_server *srv)
{
    return sio_http_port(srv->http);
}

struct event_base *sio_server_base(const sio_server *srv)
{
    return srv->base;
}

/* Graceful shutdown: polls until the last connection is gone or the deadline passed. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    sio_server *srv = arg;
    size_t left = sio_http_get_stats(srv->http)->connections;
    struct timeval now, el;
    evutil_gettimeofday(&now, NULL);
    evutil_timersub(&now, &srv->drain_start, &el);
    uint64_t ms = (uint64_t)el.tv_sec * 1000 + (uint64_t)el.tv_usec / 1000;
    if (left && ms < srv->opts.shutdown_timeout_ms)
        return;
    if (left)
        sio_log(SIO_LOG_WARN, "app", "shutdown: %zu connections still open after %u ms", left,
                srv->opts.shutdown_timeout_ms);
    event_base_loopbreak(srv->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    sio_server *srv = arg;
    if (srv->draining || !srv->opts.shutdown_timeout_ms) {
        sio_log(SIO_LOG_INFO, "app", "signal %d: stopping now", (int)sig);
        event_base_loopbreak(srv->base);
        return;
    }
    sio_log(SIO_LOG_INFO, "app", "signal %d: shutting down (up to %u ms)", (int)sig,
            srv->opts.shutdown_timeout_ms);
    srv->draining = 1;
    evutil_gettimeofday(&srv->drain_start, NULL);
    /* the http layer first, so the closes the engine asks for get the shutdown deadline */
    sio_http_shutdown_begin(srv->http, srv->opts.shutdown_timeout_ms);
    eio_server_shutdown(srv->engine);
    srv->drain_ev = event_new(srv->base, -1, EV_PERSIST, drain_cb, srv);
    struct timeval tv = {0, 20000};
    if (!srv->drain_ev || event_add(srv->drain_ev, &tv) < 0)
        event_base_loopbreak(srv->base);
}

int sio_server_run(sio_server *srv)
{
    signal(SIGPIPE, SIG_IGN);
    if (!srv->sigint) {
        srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
        srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
        event_add(srv->sigint, NULL);
        event_add(srv->sigterm, NULL);
    }
    event_base_dispatch(srv->base);
    return 0;
}

void sio_server_stop(sio_server *srv)
{
    event_base_loopbreak(srv->base);
}

void sio_server_free(sio_server *srv)
{
    if (!srv)
        return;
    if (srv->engine)
        eio_server_shutdown(srv->engine);
    sio_http_free(srv->http);
    eio_server_free(srv->engine);
    sio_map_iter it;
    sio_map_iter_init(&it, &srv->nsps);
    for (sio_map_entry *e; (e = sio_map_iter_next(&it));)
        sio_nsp_free(e->value);
    sio_map_deinit(&srv->nsps);
    free(srv->dyn);
    if (srv->sigint)
        event_free(srv->sigint);
    if (srv->sigterm)
        event_free(srv->sigterm);
    if (srv->drain_ev)
        event_free(srv->drain_ev);
    if (srv->gc_ev)
        event_free(srv->gc_ev);
    if (srv->own_base && srv->base)
        event_base_free(srv->base);
    free(srv);
}

size_t sio_server_client_count(const sio_server *srv)
{
    return eio_server_session_count(srv->engine);
}

sio_namespace *sio_server_of(sio_server *srv, const char *name)
{
    if (!name || name[0] != '/')
        return NULL;
    size_t len = strlen(name);
    sio_namespace *nsp = sio_map_get(&srv->nsps, name, len);
    if (nsp && nsp->dynamic && !nsp->pinned) {
        nsp->pinned = 1; /* the application holds it now: kept until the server is freed */
        srv->ndyn_alive--;
    }
    return nsp ? nsp : sio_nsp_new(srv, name, len);
}

int sio_server_add_dynamic(sio_server *srv, sio_namespace_match_cb match,
                           sio_namespace_setup_cb setup, void *user)
{
    dyn_parent *d = realloc(srv->dyn, (srv->ndyn + 1) * sizeof(*d));
    if (!d)
        return SIO_ENOMEM;
    srv->dyn = d;
    srv->dyn[srv->ndyn++] = (dyn_parent){match, setup, user};
    return 0;
}
