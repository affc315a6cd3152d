/*
 * The defaults of every option, in one place: Node's socket.io 4.8 / engine.io 6.6 values
 * (docs/configuration.md lists them, by the same names, with the flags of sio-server). An
 * option left out defaults to 0 or NULL.
 */
#include <sio/sio.h>

/* One group of options per paragraph. */
/* clang-format off */
static const sio_server_options defaults = {
    .http = {.port = 3000, .cors_max_age = -1, .cookie_path = "/", .cookie_http_only = 1,
             .cookie_same_site = "Lax", .http_compression_threshold = 1024,
             .max_header_bytes = 8192, .close_deadline_ms = 30000, .accept_backoff_ms = 100},
    .engine = {.path = "/socket.io/", .ping_interval_ms = 25000, .ping_timeout_ms = 20000,
               .upgrade_timeout_ms = 10000, .close_timeout_ms = 30000, .max_payload = 1000000,
               .allow_polling = 1, .allow_websocket = 1, .allow_upgrades = 1,
               .max_buffered_bytes = 16u << 20, .max_buffered_packets = 100000,
               .allow_request_timeout_ms = 10000},
    .socketio = {.connect_timeout_ms = 45000, .max_attachments = 10, .max_json_depth = 32,
                 .max_namespaces_per_connection = 64, .max_rooms_per_socket = 10000,
                 .max_dynamic_namespaces = 10000},
    .adapter = {.requests_timeout_ms = 5000},
    .shutdown_timeout_ms = 10000,
    .health_path = "/health",
};
/* clang-format on */

void sio_server_options_init(sio_server_options *o)
{
    *o = defaults;
}
