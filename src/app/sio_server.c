/*
 * sio-server: the Socket.IO server as a standalone program. The options of sio_server_options
 * that make sense on a command line are flags (docs/configuration.md); with none it listens on
 * port 3000 at /socket.io/ with Node's defaults and answers GET /health. The chat gateway (JWT
 * auth, rooms, backend emits) builds on this binary.
 */
#include <sio/sio.h>

#include "app/cli.h"
#include "gateway/gateway.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int log_level = SIO_LOG_INFO;

/* One sink for the library's lines and the program's own, so both share the format and the
 * threshold: "<UTC time> <level> <module>: line" on stderr. */
static void log_line(int level, const char *module, const char *line, void *user)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000L,
            names[level < 0 ? 0 : (level > 3 ? 3 : level)], module, line);
}

static void app_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void app_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_line(level, "app", line, NULL);
}

static void on_connection(sio_socket *s, void *user)
{
    app_log(SIO_LOG_DEBUG, "socket %s connected over %s", sio_socket_id(s),
            sio_socket_transport(s));
}

static void on_disconnect(sio_socket *s, const char *reason, void *user)
{
    app_log(SIO_LOG_DEBUG, "socket %s disconnected: %s", sio_socket_id(s), reason);
}

/* ---- the chat gateway (src/gateway, docs/gateway.md) ---------------------------------------- */
/* --gateway runs it with identities taken from the CONNECT auth object (test-only, until the
 * gateway follows the JWT key). */
typedef struct gateway_cli {
    int enabled;
    sio_gateway_options o;
} gateway_cli;

#define GATEWAY_FLAGS(g)                                                                           \
    {"--gateway", SIO_CLI_BOOL, &(g).enabled,                                                      \
     "chat gateway, TEST ONLY: identity from the CONNECT auth object (off)"},                      \
        {"--typing-timeout", SIO_CLI_UINT, &(g).o.typing_timeout_ms,                               \
         "ms a typing state lasts unrefreshed (5000)"},                                            \
        {"--rate-limit", SIO_CLI_UINT, &(g).o.rate_limit,                                          \
         "events per minute per socket (60; 0 = off)"},                                            \
        {"--typing-rate-limit", SIO_CLI_UINT, &(g).o.typing_rate_limit,                            \
         "typing events per 5 s per socket (10; 0 = off)"},                                        \
        {"--max-connections-per-user", SIO_CLI_UINT, &(g).o.max_connections_per_user,              \
         "sockets of one user on this node (3; 0 = off)"},                                         \
        {"--authorize-url", SIO_CLI_STR, &(g).o.authorize_url,                                     \
         "POST joins here for a decision (off: any user may join)"},                               \
        {"--authorize-token", SIO_CLI_STR, &(g).o.authorize_token,                                 \
         "bearer token for --authorize-url (or SIO_AUTHORIZE_TOKEN)"},                             \
        {"--authorize-cache-ttl", SIO_CLI_UINT, &(g).o.authorize_cache_ttl_ms,                     \
         "ms a join decision is cached (60000; 0 = never)"},                                       \
        {"--authorize-timeout", SIO_CLI_UINT, &(g).o.authorize_timeout_ms,                         \
         "ms to wait for --authorize-url (5000)"},                                                 \
        {"--room-prefix-user", SIO_CLI_STR, &(g).o.room_prefix_user, "(user:)"},                   \
        {"--room-prefix-org", SIO_CLI_STR, &(g).o.room_prefix_org, "(org:)"},                      \
    {                                                                                              \
        "--room-prefix-conversation", SIO_CLI_STR, &(g).o.room_prefix_conversation,                \
            "(conversation:)"                                                                      \
    }

static void gateway_log(int level, const char *line, void *user)
{
    (void)user;
    if (level <= log_level)
        log_line(level, "gateway", line, NULL);
}

static void gateway_cli_init(gateway_cli *g)
{
    g->enabled = 0;
    sio_gateway_options_init(&g->o);
    g->o.log = gateway_log;
}

/* Starts the gateway on "/" when enabled (after any authentication middleware). Returns 0 or -1. */
static int gateway_start(gateway_cli *g, sio_server *srv, sio_gateway **out)
{
    *out = NULL;
    if (!g->enabled)
        return 0;
    if (!g->o.authorize_token)
        g->o.authorize_token = getenv("SIO_AUTHORIZE_TOKEN");
    g->o.identity_from_auth = 1;
    *out = sio_gateway_new(srv, sio_server_of(srv, "/"), &g->o);
    return *out ? 0 : -1;
}

int main(int argc, char **argv)
{
    sio_server_options o;
    sio_server_options_init(&o);
    sio_http_config *h = &o.http;
    sio_engine_config *e = &o.engine;
    sio_socketio_config *io = &o.socketio;
    int verbose = 0, quiet = 0;
    sio_cli_redis redis;
    sio_cli_redis_init(&redis);
    gateway_cli gateway;
    gateway_cli_init(&gateway);
    sio_cli_flag flags[] = {
        /* HTTP */
        {"--port", SIO_CLI_INT, &h->port, "TCP port (default 3000; 0 = any free port)"},
        {"--host", SIO_CLI_STR, &h->host, "interface to bind (default all)"},
        {"--tls-cert", SIO_CLI_STR, &h->tls_cert, "PEM certificate (with --tls-key: HTTPS/WSS)"},
        {"--tls-key", SIO_CLI_STR, &h->tls_key, "PEM private key"},
        {"--cors-origin", SIO_CLI_STR, &h->cors_origin, "CORS: *, reflect, or a,b,c (off)"},
        {"--cors-credentials", SIO_CLI_BOOL, &h->cors_credentials, "allow credentials (off)"},
        {"--cors-methods", SIO_CLI_STR, &h->cors_methods,
         "preflight methods (GET,HEAD,PUT,PATCH,POST,DELETE)"},
        {"--cors-headers", SIO_CLI_STR, &h->cors_headers,
         "preflight headers (default: those requested)"},
        {"--cors-max-age", SIO_CLI_INT, &h->cors_max_age, "preflight max age in s (omitted)"},
        {"--cookie", SIO_CLI_STR, &h->cookie_name, "set a sticky-session cookie with this name"},
        {"--cookie-path", SIO_CLI_STR, &h->cookie_path, "Path of the cookie (/)"},
        {"--cookie-same-site", SIO_CLI_STR, &h->cookie_same_site, "SameSite of the cookie (Lax)"},
        {"--cookie-secure", SIO_CLI_BOOL, &h->cookie_secure, "mark the cookie Secure"},
        {"--compression-threshold", SIO_CLI_SIZE, &h->http_compression_threshold,
         "gzip polling responses from this size (1024; 0 = never)"},
        {"--per-message-deflate", SIO_CLI_BOOL, &h->per_message_deflate, "WebSocket compression"},
        {"--max-header-bytes", SIO_CLI_SIZE, &h->max_header_bytes, "request headers (8192)"},
        {"--close-deadline", SIO_CLI_UINT, &h->close_deadline_ms,
         "ms a closing connection may take before it is dropped (30000)"},
        {"--accept-backoff", SIO_CLI_UINT, &h->accept_backoff_ms,
         "ms between accept retries at the open-files limit (100)"},
        /* Engine.IO */
        {"--path", SIO_CLI_STR, &e->path, "endpoint path (default /socket.io/)"},
        {"--ping-interval", SIO_CLI_UINT, &e->ping_interval_ms, "ms between pings (25000)"},
        {"--ping-timeout", SIO_CLI_UINT, &e->ping_timeout_ms, "ms to wait for a pong (20000)"},
        {"--upgrade-timeout", SIO_CLI_UINT, &e->upgrade_timeout_ms,
         "ms to finish an upgrade to WebSocket (10000)"},
        {"--close-timeout", SIO_CLI_UINT, &e->close_timeout_ms,
         "ms a server close waits for a GET to carry it (30000)"},
        {"--max-payload", SIO_CLI_SIZE, &e->max_payload, "bytes per message/POST (1000000)"},
        {"--max-buffered-bytes", SIO_CLI_SIZE, &e->max_buffered_bytes, "per-connection queue cap"},
        {"--max-buffered-packets", SIO_CLI_SIZE, &e->max_buffered_packets,
         "per-connection queue cap in packets (100000)"},
        {"--max-connections", SIO_CLI_SIZE, &e->max_connections, "0 = unlimited"},
        /* Socket.IO */
        {"--connect-timeout", SIO_CLI_UINT, &io->connect_timeout_ms,
         "ms to join a namespace, middleware included (45000)"},
        {"--max-attachments", SIO_CLI_UINT, &io->max_attachments, "per packet (10)"},
        {"--max-json-depth", SIO_CLI_UINT, &io->max_json_depth, "nesting of arguments (32)"},
        {"--max-namespaces-per-connection", SIO_CLI_SIZE, &io->max_namespaces_per_connection,
         "namespaces one connection may join (64)"},
        {"--max-rooms-per-socket", SIO_CLI_SIZE, &io->max_rooms_per_socket,
         "rooms one socket may join (10000)"},
        {"--max-dynamic-namespaces", SIO_CLI_SIZE, &io->max_dynamic_namespaces,
         "dynamic child namespaces alive at once (10000)"},
        /* adapter */
        {"--requests-timeout", SIO_CLI_UINT, &o.adapter.requests_timeout_ms,
         "ms cluster queries wait for other servers (5000)"},
        SIO_CLI_REDIS_FLAGS(redis, o),
        GATEWAY_FLAGS(gateway),
        /* server */
        {"--shutdown-timeout", SIO_CLI_UINT, &o.shutdown_timeout_ms,
         "ms to close connections on SIGTERM/SIGINT (10000)"},
        {"--stats-path", SIO_CLI_STR, &o.stats_path, "serve counters as JSON at this path (off)"},
        {"--health-path", SIO_CLI_STR, &o.health_path, "health route (/health; \"\" = off)"},
        {"--verbose", SIO_CLI_BOOL, &verbose, "debug logging"},
        {"--quiet", SIO_CLI_BOOL, &quiet, "errors only"},
        {NULL, 0, NULL, NULL},
    };
    if (sio_cli_parse(argc, argv, flags, "sio-server") < 0)
        return 2;
    if (sio_cli_redis_apply(&redis, &o, "sio-server") < 0)
        return 2;
    if (o.health_path && !o.health_path[0])
        o.health_path = NULL;
    log_level = verbose ? SIO_LOG_DEBUG : (quiet ? SIO_LOG_ERROR : SIO_LOG_INFO);
    sio_log_set_sink(log_line, NULL, log_level);
    sio_server *srv = sio_server_new(NULL, &o);
    if (!srv)
        return 1;
    sio_namespace *root = sio_server_of(srv, "/");
    sio_namespace_on_connection(root, on_connection, NULL);
    sio_namespace_on_disconnect(root, on_disconnect, NULL);
    sio_gateway *gw;
    if (gateway_start(&gateway, srv, &gw) < 0) {
        sio_server_free(srv);
        return 1;
    }
    printf("listening on port %d\n", sio_server_port(srv));
    fflush(stdout);
    sio_server_run(srv);
    sio_server_free(srv);
    sio_gateway_free(gw); /* after the server: its last disconnects still reach the gateway */
    return 0;
}
