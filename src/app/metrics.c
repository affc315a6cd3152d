/*
 * GET /metrics (Prometheus text format 0.0.4) and GET /status (JSON) for sio-server, from the
 * server's statistics and the sources the program adds (metrics.h). The loop-lag probe is a
 * 500 ms timer that records how late it fires.
 */
#include "metrics.h"

#include <sio/http.h>

#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LAG_PERIOD_MS 500
#define MAX_NSPS 16
#define MAX_SOURCES 16

struct sio_app_metrics {
    sio_server *srv;
    char *node_id;
    struct event *lag_ev;
    struct timeval lag_due;
    double lag_last, lag_max; /* seconds; max since the last scrape */
    time_t started;
    sio_namespace *nsps[MAX_NSPS];
    size_t nnsps;
    struct {
        sio_app_metrics_source fn;
        void *user;
    } sources[MAX_SOURCES];
    size_t nsources;
    size_t (*users_fn)(void *user);
    void *users_user;
};

/* ---- text --------------------------------------------------------------------------------- */

static void sample(sio_app_text *t, const char *name, const char *labels, double value)
{
    if (labels && *labels)
        sio_app_text_printf(t, "%s{%s} %.17g\n", name, labels, value);
    else
        sio_app_text_printf(t, "%s %.17g\n", name, value);
}

void sio_app_family_head(sio_app_text *t, const char *name, const char *type, const char *help)
{
    sio_app_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sio_app_metric(sio_app_text *t, const char *name, const char *type, const char *help,
                    const char *labels, double value)
{
    sio_app_family_head(t, name, type, help);
    sample(t, name, labels, value);
}

void sio_app_sample(sio_app_text *t, const char *name, const char *labels, double value)
{
    sample(t, name, labels, value);
}

void sio_app_labelled_sample(sio_app_text *t, const char *name, const char *label,
                             const char *label_value, double value)
{
    /* label="value": backslash, double quote and line feed escaped (text format 0.0.4); a value
     * too long for the buffer is cut */
    char labels[320];
    int head = snprintf(labels, sizeof(labels) - 4, "%s=\"", label);
    size_t n = head < 0 ? 0 : (size_t)head < sizeof(labels) - 5 ? (size_t)head : sizeof(labels) - 5;
    for (const char *p = label_value; *p && n < sizeof(labels) - 4; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n')
            labels[n++] = '\\';
        labels[n++] = *p == '\n' ? 'n' : *p;
    }
    labels[n++] = '"';
    labels[n] = '\0';
    sample(t, name, labels, value);
}

void sio_app_family(sio_app_text *t, const char *name, const char *type, const char *help,
                    const char *label, const sio_app_labelled *v, size_t n)
{
    if (n)
        sio_app_family_head(t, name, type, help);
    for (size_t i = 0; i < n; i++)
        sio_app_labelled_sample(t, name, label, v[i].label, v[i].value);
}

/* ---- the loop's lag ----------------------------------------------------------------------- */

static void lag_arm(sio_app_metrics *m)
{
    struct timeval now, period = {0, LAG_PERIOD_MS * 1000};
    gettimeofday(&now, NULL);
    timeradd(&now, &period, &m->lag_due);
    event_add(m->lag_ev, &period);
}

static void lag_cb(evutil_socket_t fd, short what, void *arg)
{
    sio_app_metrics *m = arg;
    struct timeval now, late;
    gettimeofday(&now, NULL);
    timersub(&now, &m->lag_due, &late);
    double s = late.tv_sec < 0 ? 0 : (double)late.tv_sec + (double)late.tv_usec / 1e6;
    m->lag_last = s;
    if (s > m->lag_max)
        m->lag_max = s;
    lag_arm(m);
}

static double rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

/* ---- /metrics ----------------------------------------------------------------------------- */

static void counter(sio_app_text *t, const char *name, const char *help, uint64_t v)
{
    sio_app_metric(t, name, "counter", help, NULL, (double)v);
}

static void gauge(sio_app_text *t, const char *name, const char *help, double v)
{
    sio_app_metric(t, name, "gauge", help, NULL, v);
}

static void server_families(sio_app_metrics *m, sio_app_text *t)
{
    sio_server_stats st;
    sio_server_get_stats(m->srv, &st);
    const sio_app_labelled sessions[] = {
        {"websocket", (double)st.sessions_websocket},
        {"polling", (double)(st.sessions - st.sessions_websocket)},
    };
    SIO_APP_FAMILY(t, "sio_sessions", "gauge", "Engine.IO sessions open now, by transport",
                   "transport", sessions);
    gauge(t, "sio_connections", "HTTP and WebSocket connections open now", (double)st.connections);
    sio_app_labelled sockets[MAX_NSPS];
    for (size_t i = 0; i < m->nnsps; i++)
        sockets[i] = (sio_app_labelled){sio_namespace_name(m->nsps[i]),
                                        (double)sio_namespace_socket_count(m->nsps[i])};
    sio_app_family(t, "sio_sockets", "gauge", "Socket.IO sockets connected now", "namespace",
                   sockets, m->nnsps);
    counter(t, "sio_sessions_opened_total", "Engine.IO handshakes completed", st.sessions_opened);
    const sio_app_labelled closes[] = {
        {"transport error", (double)st.closes_transport_error},
        {"transport close", (double)st.closes_transport_close},
        {"forced close", (double)st.closes_forced},
        {"ping timeout", (double)st.closes_ping_timeout},
        {"parse error", (double)st.closes_parse_error},
        {"server shutting down", (double)st.closes_server_shutdown},
        {"slow consumer", (double)st.closes_slow_consumer},
        {"payload too large", (double)st.closes_payload_too_large},
    };
    SIO_APP_FAMILY(t, "sio_sessions_closed_total", "counter",
                   "Engine.IO sessions closed, by reason", "reason", closes);
    counter(t, "sio_upgrades_total", "polling sessions upgraded to WebSocket", st.upgrades);
    counter(t, "sio_packets_in_total", "Engine.IO message packets received", st.packets_in);
    counter(t, "sio_bytes_in_total", "bytes of message packets received", st.bytes_in);
    counter(t, "sio_packets_out_total", "Engine.IO packets queued for clients", st.packets_out);
    counter(t, "sio_bytes_out_total", "bytes of packets queued for clients", st.bytes_out);
    counter(t, "sio_packets_encoded_total", "Socket.IO packets encoded (a broadcast once)",
            st.packets_encoded);
    counter(t, "sio_broadcasts_total", "namespace emits", st.broadcasts);
    counter(t, "sio_deliveries_total", "broadcast packets queued for local clients", st.deliveries);
    counter(t, "sio_namespace_connections_total", "namespace connections accepted",
            st.sockets_connected);
    counter(t, "sio_middleware_refusals_total", "namespace connections refused by middleware",
            st.middleware_refusals);
    counter(t, "sio_middleware_timeouts_total", "middleware that did not answer in time",
            st.middleware_timeouts);
    counter(t, "sio_handshakes_refused_total", "handshakes refused by the allow-request hook",
            st.handshakes_refused);
    counter(t, "sio_ack_timeouts_total", "emits with ack that timed out", st.ack_timeouts);
    const sio_app_labelled adapter[] = {
        {"out", (double)st.adapter_published},
        {"in", (double)st.adapter_received},
        {"dropped", (double)st.adapter_dropped},
    };
    SIO_APP_FAMILY(t, "sio_adapter_messages_total", "counter",
                   "cluster messages, by direction (dropped: bad, unknown namespace, or not "
                   "published)",
                   "direction", adapter);
    gauge(t, "sio_adapter_up", "1 while the adapter reaches the cluster (Redis link)",
          st.adapter_up);
    counter(t, "sio_cluster_requests_total", "cluster requests started", st.cluster_requests);
    counter(t, "sio_cluster_timeouts_total", "cluster requests that timed out",
            st.cluster_timeouts);
    counter(t, "sio_accept_failures_total", "accept() failures", st.accept_failures);
    counter(t, "sio_close_deadline_drops_total", "closing connections dropped at the deadline",
            st.close_deadline_drops);
    gauge(t, "sio_event_loop_lag_seconds", "lateness of the last 500 ms loop probe", m->lag_last);
    gauge(t, "sio_event_loop_lag_max_seconds", "largest probe lateness since the last scrape",
          m->lag_max);
    m->lag_max = 0; /* the next probe starts the new window */
    gauge(t, "process_resident_memory_bytes", "resident set size", rss_bytes());
    gauge(t, "process_start_time_seconds", "start time of the process since the epoch",
          (double)m->started);
}

static const sio_http_header json_type[] = {{"content-type", "application/json"}};

void sio_app_text_respond(sio_http_request *req, sio_app_text *t, const char *content_type)
{
    sio_http_header type = {"content-type", content_type};
    if (t->err)
        sio_http_respond(req, 500, NULL, 0, NULL, 0);
    else
        sio_http_respond(req, 200, &type, 1, t->p, t->len);
    free(t->p);
    *t = (sio_app_text){0};
}

static void metrics_route(sio_http_request *req, void *user)
{
    sio_app_metrics *m = user;
    sio_app_text t = {0};
    server_families(m, &t);
    for (size_t i = 0; i < m->nsources; i++)
        m->sources[i].fn(&t, m->sources[i].user);
    sio_app_text_respond(req, &t, "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- /status ------------------------------------------------------------------------------ */

typedef struct status_req {
    sio_app_metrics *m;
    sio_http_request *req;
} status_req;

static void status_answer(sio_namespace *nsp, int status, size_t servers, void *user)
{
    status_req *sr = user;
    sio_app_metrics *m = sr->m;
    sio_server_stats st;
    sio_server_get_stats(m->srv, &st);
    size_t sockets = 0, rooms = 0;
    for (size_t i = 0; i < m->nnsps; i++) {
        sockets += sio_namespace_socket_count(m->nsps[i]);
        rooms += sio_namespace_room_count(m->nsps[i]);
    }
    char body[1024], users[32] = "null";
    if (m->users_fn)
        snprintf(users, sizeof(users), "%zu", m->users_fn(m->users_user));
    int n = snprintf(body, sizeof(body),
                     "{\"node\":\"%s\",\"version\":\"%d.%d.%d\",\"uptime_s\":%lld,"
                     "\"connections\":%zu,\"sessions\":%zu,\"sockets\":%zu,\"users\":%s,"
                     "\"rooms\":%zu,"
                     "\"cluster\":{\"up\":%s,\"servers\":%zu}}",
                     m->node_id, SIO_VERSION_MAJOR, SIO_VERSION_MINOR, SIO_VERSION_PATCH,
                     (long long)(time(NULL) - m->started), st.connections, st.sessions, sockets,
                     users, rooms, st.adapter_up ? "true" : "false", status == 0 ? servers : 1);
    if (!sio_http_request_is_aborted(sr->req))
        sio_http_respond(sr->req, 200, json_type, 1, body, (size_t)n);
    else
        sio_http_request_release(sr->req);
    free(sr);
}

static void status_route(sio_http_request *req, void *user)
{
    sio_app_metrics *m = user;
    status_req *sr = malloc(sizeof(*sr));
    sio_namespace *root = m->nnsps ? m->nsps[0] : sio_server_of(m->srv, "/");
    if (!sr || sio_namespace_server_count(root, status_answer, sr) < 0) {
        free(sr);
        sio_http_respond(req, 503, NULL, 0, NULL, 0);
        return;
    }
    *sr = (status_req){m, req}; /* answered when the cluster counted (requests_timeout_ms) */
}

/* ---- life --------------------------------------------------------------------------------- */

sio_app_metrics *sio_app_metrics_new(sio_server *srv, const char *metrics_path,
                                     const char *status_path, const char *node_id)
{
    sio_app_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->srv = srv;
    m->started = time(NULL);
    m->node_id = strdup(node_id ? node_id : "sio");
    m->lag_ev = event_new(sio_server_base(srv), -1, 0, lag_cb, m);
    if (!m->node_id || !m->lag_ev) {
        sio_app_metrics_free(m);
        return NULL;
    }
    lag_arm(m);
    sio_http_route r = {.method = "GET", .cb = metrics_route, .user = m};
    if (metrics_path && *metrics_path) {
        r.path = metrics_path;
        if (sio_server_route_add(srv, &r) < 0) {
            sio_app_metrics_free(m);
            return NULL;
        }
    }
    if (status_path && *status_path) {
        r.path = status_path;
        r.cb = status_route;
        if (sio_server_route_add(srv, &r) < 0) {
            sio_app_metrics_free(m);
            return NULL;
        }
    }
    return m;
}

int sio_app_metrics_add_namespace(sio_app_metrics *m, sio_namespace *nsp)
{
    if (m->nnsps == MAX_NSPS)
        return SIO_ELIMIT;
    m->nsps[m->nnsps++] = nsp;
    return 0;
}

int sio_app_metrics_add_source(sio_app_metrics *m, sio_app_metrics_source fn, void *user)
{
    if (m->nsources == MAX_SOURCES)
        return SIO_ELIMIT;
    m->sources[m->nsources].fn = fn;
    m->sources[m->nsources++].user = user;
    return 0;
}

void sio_app_metrics_set_users(sio_app_metrics *m, size_t (*fn)(void *user), void *user)
{
    m->users_fn = fn;
    m->users_user = user;
}

void sio_app_metrics_free(sio_app_metrics *m)
{
    if (!m)
        return;
    if (m->lag_ev)
        event_free(m->lag_ev);
    free(m->node_id);
    free(m);
}
