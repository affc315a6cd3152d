/*
 * The defaults of every option, in one place: Node's socket.io 4.8 / engine.io 6.6 values
 * (docs/configuration.md lists them, by the same names, with the flags of sio-server). An
 * option left out defaults to 0 or NULL.
 */
#include <sio/sio.h>

static const sio_server_options defaults = {
    .http.port = 3000,
    .http.cors_max_age = -1,
    .http.cookie_path = "/",
    .http.cookie_http_only = 1,
    .http.cookie_same_site = "Lax",
    .http.http_compression_threshold = 1024,
    .http.max_header_bytes = 8192,
    .http.close_deadline_ms = 30000,
    .http.accept_backoff_ms = 100,
    .engine.path = "/socket.io/",
    .engine.ping_interval_ms = 25000,
    .engine.ping_timeout_ms = 20000,
    .engine.upgrade_timeout_ms = 10000,
    .engine.close_timeout_ms = 30000,
    .engine.max_payload = 1000000,
    .engine.allow_polling = 1,
    .engine.allow_websocket = 1,
    .engine.allow_upgrades = 1,
    .engine.max_buffered_bytes = 16u << 20,
    .engine.max_buffered_packets = 100000,
    .engine.allow_request_timeout_ms = 10000,
    .socketio.connect_timeout_ms = 45000,
    .socketio.max_attachments = 10,
    .socketio.max_json_depth = 32,
    .socketio.max_namespaces_per_connection = 64,
    .socketio.max_rooms_per_socket = 10000,
    .socketio.max_dynamic_namespaces = 10000,
    .adapter.requests_timeout_ms = 5000,
    .shutdown_timeout_ms = 10000,
    .health_path = "/health",
};

void sio_server_options_init(sio_server_options *o)
{
    *o = defaults;
}
