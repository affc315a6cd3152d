/*
 * The composition root (src/server/server.h): builds http, engine, the Socket.IO layer and its
 * adapter from one sio_server_options, runs the loop with the graceful shutdown of
 * docs/deployment.md, and answers the statistics from the counters each layer keeps.
 */
#include "server.h"
#include "drain.h"

#include "common/log.h"
#include "common/timer.h"
#include "http/http.h"

#include <sio/http.h>
#include "socketio/io.h"

#include <event2/event.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sio_server {
    struct event_base *base;
    int own_base;
    sio_server_options opts; /* its strings point into strings */
    char *strings;
    sio_clock *clock;
    eio_server *engine;
    sio_http *http;
    sio_io *io;                /* NULL for the engine-level root */
    sio_server_stats counters; /* what the Socket.IO layer counts */
    struct event *stop_ev[2];  /* stop_signals, armed by sio_server_run */
    int draining;           /* 2: drain (drain_seconds), closing batches of sessions; 1: shutdown */
    struct event *phase_ev; /* the timer of both phases (phase_cb) */
    struct timeval drain_start; /* of the shutdown, after the drain if any */
    struct timeval batch_start;
    size_t batch_total, batch_closed;
    /* signals the application handles (sio_server_on_signal) */
    struct sig_hook {
        struct event *ev; /* shared by the hooks of one signal: set on the first of them */
        int sig;
        sio_signal_cb cb;
        void *user;
        sio_server *srv;
    } hooks[8];
    size_t nhooks;
};

/* ---- statistics --------------------------------------------------------------------------- */

void sio_server_get_stats(const sio_server *srv, sio_server_stats *out)
{
    *out = srv->counters;
    if (srv->http) {
        const sio_http_stats *h = sio_http_get_stats(srv->http);
        out->accept_failures = h->accept_failures;
        out->accept_pauses = h->accept_pauses;
        out->close_deadline_drops = h->close_deadline_drops;
        out->chunked_bodies = h->chunked_bodies;
        out->connections = h->connections;
    }
    out->dynamic_namespaces = srv->io ? sio_io_dynamic_count(srv->io) : 0;
    out->adapter_up = srv->io ? sio_io_adapter_up(srv->io) : 1;
    if (!srv->engine)
        return;
    const eio_stats *e = eio_server_stats(srv->engine);
    out->handshakes_refused = e->handshakes_denied;
    out->sessions = eio_server_session_count(srv->engine);
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
        {"middleware_timeouts", st->middleware_timeouts},
        {"handshakes_refused", st->handshakes_refused},
        {"adapter_published", st->adapter_published},
        {"adapter_received", st->adapter_received},
        {"adapter_dropped", st->adapter_dropped},
        {"cluster_requests", st->cluster_requests},
        {"cluster_timeouts", st->cluster_timeouts},
        {"deliveries", st->deliveries},
        {"adapter_up", (uint64_t)st->adapter_up},
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
    static const char ok[] = "{\"status\":\"ok\"}", draining[] = "{\"status\":\"draining\"}";
    const sio_server *srv = user;
    if (srv->draining)
        sio_http_respond(req, 503, json_type, 1, draining, sizeof(draining) - 1);
    else
        sio_http_respond(req, 200, json_type, 1, ok, sizeof(ok) - 1);
}

static void stats_route(sio_http_request *req, void *user)
{
    char json[4096];
    sio_server_stats st;
    sio_server_get_stats(user, &st);
    stats_json(&st, json, sizeof(json));
    sio_http_respond(req, 200, json_type, 1, json, strlen(json));
}

/* The health route (and /healthz with it) and the stats route: any method, exact, no body. */
static int add_builtin_routes(sio_server *srv)
{
    int rc = 0;
    sio_http_route r = {.path = srv->opts.health_path, .cb = health_route, .user = srv};
    if (srv->opts.health_path && srv->opts.health_path[0]) {
        rc = sio_http_route_add(srv->http, &r);
        r.path = "/healthz";
        if (rc == 0 && strcmp(srv->opts.health_path, "/healthz") != 0)
            rc = sio_http_route_add(srv->http, &r);
    }
    if (rc == 0 && srv->opts.stats_path && srv->opts.stats_path[0]) {
        r.path = srv->opts.stats_path;
        r.cb = stats_route;
        rc = sio_http_route_add(srv->http, &r);
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

/* ---- assembly ----------------------------------------------------------------------------- */

/* sio_server_new copies the options, strings too: the layers keep pointers to them (the http
 * layer to host, tls_*, cors_* and cookie_*, the engine to initial_packet, the routes to the
 * health and stats paths). Every string goes into one block, srv->strings. */
static int copy_options(sio_server *srv, const sio_server_options *opts)
{
    srv->opts = *opts;
    sio_server_options *o = &srv->opts;
    const char **fields[] = {
        &o->http.host,        &o->http.tls_cert,         &o->http.tls_key,
        &o->http.cors_origin, &o->http.cors_methods,     &o->http.cors_headers,
        &o->http.cookie_name, &o->http.cookie_path,      &o->http.cookie_same_site,
        &o->engine.path,      &o->engine.initial_packet, &o->stats_path,
        &o->health_path,
    };
    srv->strings = sio_strings_copy(fields, sizeof(fields) / sizeof(fields[0]));
    return srv->strings ? 0 : -1;
}

static sio_server *server_alloc(struct event_base *base, const sio_server_options *opts)
{
    sio_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->own_base = !base;
    if (copy_options(srv, opts) < 0) {
        free(srv);
        return NULL;
    }
    srv->base = base ? base : event_base_new();
    srv->clock = srv->base ? sio_clock_libevent(srv->base) : NULL;
    if (!srv->clock) {
        sio_server_free(srv);
        return NULL;
    }
    return srv;
}

static int start_http(sio_server *srv)
{
    srv->http = sio_http_new(srv->base, &srv->opts.http, srv->engine);
    return srv->http && add_builtin_routes(srv) == 0 ? 0 : -1;
}

sio_server *sio_server_new(struct event_base *base, const sio_server_options *opts)
{
    sio_server *srv = server_alloc(base, opts);
    if (!srv)
        return NULL;
    sio_io_config ic = {
        .owner = srv,
        .base = srv->base,
        .clock = srv->clock,
        .opts = &srv->opts.socketio,
        .adapter = &srv->opts.adapter,
        .max_payload = srv->opts.engine.max_payload,
        .stats = &srv->counters,
    };
    srv->io = sio_io_new(&ic);
    eio_callbacks cbs;
    if (srv->io) {
        sio_io_engine_callbacks(srv->io, &cbs);
        srv->engine = eio_server_new(srv->base, &srv->opts.engine, &cbs, &sio_http_transport_ops);
    }
    if (!srv->engine || start_http(srv) < 0) {
        sio_server_free(srv);
        return NULL;
    }
    return srv;
}

sio_server *sio_server_new_engine(struct event_base *base, const sio_server_options *opts,
                                  const eio_callbacks *cbs)
{
    sio_server *srv = server_alloc(base, opts);
    if (!srv)
        return NULL;
    srv->engine = eio_server_new(srv->base, &srv->opts.engine, cbs, &sio_http_transport_ops);
    if (!srv->engine || start_http(srv) < 0) {
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

/* ---- run loop and shutdown ---------------------------------------------------------------- */

static uint64_t ms_since(const struct timeval *start)
{
    struct timeval now, el;
    evutil_gettimeofday(&now, NULL);
    evutil_timersub(&now, start, &el);
    return (uint64_t)el.tv_sec * 1000 + (uint64_t)el.tv_usec / 1000;
}

/* Graceful shutdown: polls until the last connection is gone and the adapter's queue is empty,
 * or the deadline passed. */
static void shutdown_step(sio_server *srv)
{
    size_t left = sio_http_get_stats(srv->http)->connections;
    size_t queued = srv->io ? sio_io_adapter_pending(srv->io) : 0;
    uint64_t ms = ms_since(&srv->drain_start);
    if ((left || queued) && ms < srv->opts.shutdown_timeout_ms)
        return;
    if (left || queued)
        sio_log(SIO_LOG_WARN, "app",
                "shutdown: %zu connections still open, %zu cluster messages unsent after %u ms",
                left, queued, srv->opts.shutdown_timeout_ms);
    event_base_loopbreak(srv->base);
}

/* The drain's batches (batch_step) or the shutdown's polls (shutdown_step), as draining says. */
static void batch_step(sio_server *srv);
static void phase_cb(evutil_socket_t fd, short what, void *arg)
{
    sio_server *srv = arg;
    if (srv->draining == 2)
        batch_step(srv);
    else
        shutdown_step(srv);
}

/* Runs phase_cb every us microseconds from now on. Returns 0 or -1. */
static int phase_every(sio_server *srv, long us)
{
    if (!srv->phase_ev)
        srv->phase_ev = event_new(srv->base, -1, EV_PERSIST, phase_cb, srv);
    struct timeval tv = {0, (suseconds_t)us};
    return srv->phase_ev && event_add(srv->phase_ev, &tv) == 0 ? 0 : -1;
}

/* Closes every session and waits (shutdown_step) for their connections to go. */
static void shutdown_begin(sio_server *srv)
{
    srv->draining = 1;
    if (srv->io)
        sio_io_shutdown(srv->io);
    evutil_gettimeofday(&srv->drain_start, NULL);
    /* the http layer first, so the closes the engine asks for get the shutdown deadline */
    sio_http_shutdown_begin(srv->http, srv->opts.shutdown_timeout_ms);
    eio_server_shutdown(srv->engine);
    if (phase_every(srv, 20000) < 0)
        event_base_loopbreak(srv->base);
}

/* Drain: every 50 ms, closes the sessions the schedule (drain.h) says are due; at the window's
 * end (or with no session left) the shutdown takes over. */
static void batch_step(sio_server *srv)
{
    uint64_t window = (uint64_t)srv->opts.drain_seconds * 1000, ms = ms_since(&srv->batch_start);
    size_t open = eio_server_session_count(srv->engine);
    size_t left = srv->batch_total - srv->batch_closed;
    if (open < left)
        left = open; /* some clients left by themselves */
    size_t due = sio_drain_due(srv->batch_total, left, ms, window);
    if (due)
        srv->batch_closed += eio_server_close_some(srv->engine, due);
    if (ms < window && eio_server_session_count(srv->engine))
        return;
    sio_log(SIO_LOG_INFO, "app", "drain: %zu sessions closed in %llu ms; shutting down",
            srv->batch_closed, (unsigned long long)ms);
    shutdown_begin(srv);
}

static void drain_begin(sio_server *srv)
{
    srv->draining = 2;
    srv->batch_total = eio_server_session_count(srv->engine);
    sio_log(SIO_LOG_INFO, "app", "drain: closing %zu sessions over %u s", srv->batch_total,
            srv->opts.drain_seconds);
    eio_server_refuse_handshakes(srv->engine);
    evutil_gettimeofday(&srv->batch_start, NULL);
    if (phase_every(srv, 50000) < 0)
        shutdown_begin(srv);
}

/* The signals that stop the server (on_signal); SIGTERM drains first when drain_seconds is set. */
static const int stop_signals[] = {SIGINT, SIGTERM};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    sio_server *srv = arg;
    if (srv->draining || !srv->opts.shutdown_timeout_ms) {
        sio_log(SIO_LOG_INFO, "app", "signal %d: stopping now", (int)sig);
        event_base_loopbreak(srv->base);
        return;
    }
    if (sig == SIGTERM && srv->opts.drain_seconds && srv->engine) {
        drain_begin(srv);
        return;
    }
    sio_log(SIO_LOG_INFO, "app", "signal %d: shutting down (up to %u ms)", (int)sig,
            srv->opts.shutdown_timeout_ms);
    shutdown_begin(srv);
}

static void on_hooked_signal(evutil_socket_t sig, short what, void *arg)
{
    sio_server *srv = ((struct sig_hook *)arg)->srv;
    for (size_t i = 0; i < srv->nhooks; i++)
        if (srv->hooks[i].sig == (int)sig)
            srv->hooks[i].cb(srv, (int)sig, srv->hooks[i].user);
}

int sio_server_on_signal(sio_server *srv, int sig, sio_signal_cb cb, void *user)
{
    if (!cb || sig <= 0 || sig == SIGINT || sig == SIGTERM || sig == SIGPIPE ||
        srv->nhooks == sizeof(srv->hooks) / sizeof(srv->hooks[0]))
        return SIO_EINVAL;
    struct sig_hook *h = &srv->hooks[srv->nhooks];
    *h = (struct sig_hook){.sig = sig, .cb = cb, .user = user, .srv = srv};
    int shared = 0;
    for (size_t i = 0; i < srv->nhooks; i++)
        shared |= srv->hooks[i].sig == sig;
    if (!shared) {
        h->ev = evsignal_new(srv->base, sig, on_hooked_signal, h);
        if (!h->ev || event_add(h->ev, NULL) < 0) {
            if (h->ev)
                event_free(h->ev);
            h->ev = NULL;
            return SIO_ENOMEM;
        }
    }
    srv->nhooks++;
    return 0;
}

void sio_server_update_limits(sio_server *srv, const sio_server_options *o)
{
    srv->opts.engine.max_connections = o->engine.max_connections;
    srv->opts.engine.max_buffered_bytes = o->engine.max_buffered_bytes;
    srv->opts.engine.max_buffered_packets = o->engine.max_buffered_packets;
    srv->opts.shutdown_timeout_ms = o->shutdown_timeout_ms;
    srv->opts.drain_seconds = o->drain_seconds;
    if (srv->engine)
        eio_server_set_limits(srv->engine, &srv->opts.engine);
}

int sio_server_draining(const sio_server *srv)
{
    return srv->draining != 0;
}

int sio_server_run(sio_server *srv)
{
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
        if (!srv->stop_ev[i] &&
            (srv->stop_ev[i] = evsignal_new(srv->base, stop_signals[i], on_signal, srv)))
            event_add(srv->stop_ev[i], NULL);
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
    if (srv->io)
        sio_io_shutdown(srv->io); /* pending cluster requests get SIO_ECLOSED */
    if (srv->engine)
        eio_server_shutdown(srv->engine); /* sockets get their disconnect callbacks */
    sio_http_free(srv->http);
    eio_server_free(srv->engine);
    sio_io_free(srv->io);
    for (size_t i = 0; i < sizeof(srv->stop_ev) / sizeof(srv->stop_ev[0]); i++)
        if (srv->stop_ev[i])
            event_free(srv->stop_ev[i]);
    if (srv->phase_ev)
        event_free(srv->phase_ev);
    for (size_t i = 0; i < srv->nhooks; i++)
        if (srv->hooks[i].ev)
            event_free(srv->hooks[i].ev);
    if (srv->clock)
        sio_clock_free(srv->clock);
    if (srv->own_base && srv->base) {
        /* An adapter connection freed with a request in flight finishes closing from the loop
         * (the request is owed its SIO_ECLOSED): run the loop until no such callback is left
         * before the base goes; event_base_free would drop them unrun. An embedder's base keeps
         * running, so this is only needed for our own. The bound stops a callback that keeps
         * re-activating itself. */
        for (int i = 0; i < 64 && event_base_get_num_events(srv->base, EVENT_BASE_COUNT_ACTIVE);
             i++)
            event_base_loop(srv->base, EVLOOP_NONBLOCK);
        event_base_free(srv->base);
    }
    free(srv->strings);
    free(srv);
}

size_t sio_server_client_count(const sio_server *srv)
{
    return eio_server_session_count(srv->engine);
}

/* ---- the Socket.IO layer ------------------------------------------------------------------ */

sio_namespace *sio_server_of(sio_server *srv, const char *name)
{
    return srv->io ? sio_io_of(srv->io, name) : NULL;
}

int sio_server_add_dynamic(sio_server *srv, sio_namespace_match_cb match,
                           sio_namespace_setup_cb setup, void *user)
{
    return srv->io ? sio_io_add_dynamic(srv->io, match, setup, user) : SIO_EINVAL;
}
