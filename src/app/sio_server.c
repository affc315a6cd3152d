/*
 * sio-server: the Socket.IO server as a standalone program. Every option of sio_server_options
 * is a flag; with none it listens on port 3000 at /socket.io/ with Node's defaults and answers
 * GET /health. The chat gateway (JWT auth, rooms, backend emits) builds on this binary.
 */
#include <sio/sio.h>

#include "app/cli.h"
#include "common/log.h"

#include <stdio.h>

static void on_connection(sio_socket *s, void *user)
{
    sio_log(SIO_LOG_DEBUG, "app", "socket %s connected over %s", sio_socket_id(s),
            sio_socket_transport(s));
}

static void on_disconnect(sio_socket *s, const char *reason, void *user)
{
    sio_log(SIO_LOG_DEBUG, "app", "socket %s disconnected: %s", sio_socket_id(s), reason);
}

int main(int argc, char **argv)
{
    sio_server_options o;
    sio_server_options_init(&o);
    int verbose = 0, quiet = 0;
    sio_cli_flag flags[] = {
        {"--port", SIO_CLI_INT, &o.port, "TCP port (default 3000; 0 = any free port)"},
        {"--host", SIO_CLI_STR, &o.host, "interface to bind (default all)"},
        {"--path", SIO_CLI_STR, &o.path, "endpoint path (default /socket.io/)"},
        {"--ping-interval", SIO_CLI_UINT, &o.ping_interval_ms, "ms between pings (25000)"},
        {"--ping-timeout", SIO_CLI_UINT, &o.ping_timeout_ms, "ms to wait for a pong (20000)"},
        {"--connect-timeout", SIO_CLI_UINT, &o.connect_timeout_ms,
         "ms to join a namespace (45000)"},
        {"--max-payload", SIO_CLI_SIZE, &o.max_payload, "bytes per message/POST (1000000)"},
        {"--cors-origin", SIO_CLI_STR, &o.cors_origin, "CORS: *, reflect, or a,b,c (off)"},
        {"--cors-credentials", SIO_CLI_BOOL, &o.cors_credentials, "allow credentials (off)"},
        {"--cookie", SIO_CLI_STR, &o.cookie_name, "set a sticky-session cookie with this name"},
        {"--max-connections", SIO_CLI_SIZE, &o.max_connections, "0 = unlimited"},
        {"--max-buffered-bytes", SIO_CLI_SIZE, &o.max_buffered_bytes, "per-connection queue cap"},
        {"--per-message-deflate", SIO_CLI_BOOL, &o.per_message_deflate, "WebSocket compression"},
        {"--max-dynamic-namespaces", SIO_CLI_SIZE, &o.max_dynamic_namespaces,
         "dynamic child namespaces alive at once (10000)"},
        {"--close-deadline", SIO_CLI_UINT, &o.close_deadline_ms,
         "ms a closing connection may take before it is dropped (30000)"},
        {"--accept-backoff", SIO_CLI_UINT, &o.accept_backoff_ms,
         "ms between accept retries at the open-files limit (100)"},
        {"--shutdown-timeout", SIO_CLI_UINT, &o.shutdown_timeout_ms,
         "ms to close connections on SIGTERM/SIGINT (10000)"},
        {"--stats-path", SIO_CLI_STR, &o.stats_path, "serve counters as JSON at this path (off)"},
        {"--tls-cert", SIO_CLI_STR, &o.tls_cert, "PEM certificate (with --tls-key: HTTPS/WSS)"},
        {"--tls-key", SIO_CLI_STR, &o.tls_key, "PEM private key"},
        {"--verbose", SIO_CLI_BOOL, &verbose, "debug logging"},
        {"--quiet", SIO_CLI_BOOL, &quiet, "errors only"},
        {NULL, 0, NULL, NULL},
    };
    if (sio_cli_parse(argc, argv, flags, "sio-server") < 0)
        return 2;
    sio_log_set_level(verbose ? SIO_LOG_DEBUG : (quiet ? SIO_LOG_ERROR : SIO_LOG_INFO));
    sio_server *srv = sio_server_new(NULL, &o);
    if (!srv)
        return 1;
    sio_namespace *root = sio_server_of(srv, "/");
    sio_namespace_on_connection(root, on_connection, NULL);
    sio_namespace_on_disconnect(root, on_disconnect, NULL);
    printf("listening on port %d\n", sio_server_port(srv));
    fflush(stdout);
    sio_server_run(srv);
    sio_server_free(srv);
    return 0;
}
