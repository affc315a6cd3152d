/*
 * The defaults of every option, in one place: Node's socket.io 4.8 / engine.io 6.6 values
 * (docs/configuration.md lists them with the flags of sio-server).
 */
#include <sio/sio.h>

#include <string.h>

void sio_server_options_init(sio_server_options *o)
{
    memset(o, 0, sizeof(*o));
    o->http.port = 3000;
    o->http.cors_max_age = -1;
    o->http.cookie_path = "/";
    o->http.cookie_http_only = 1;
    o->http.cookie_same_site = "Lax";
    o->http.http_compression_threshold = 1024;
    o->http.max_header_bytes = 8192;
    o->http.close_deadline_ms = 30000;
    o->http.accept_backoff_ms = 100;

    o->engine.path = "/socket.io/";
    o->engine.ping_interval_ms = 25000;
    o->engine.ping_timeout_ms = 20000;
    o->engine.upgrade_timeout_ms = 10000;
    o->engine.close_timeout_ms = 30000;
    o->engine.max_payload = 1000000;
    o->engine.allow_polling = 1;
    o->engine.allow_websocket = 1;
    o->engine.allow_upgrades = 1;
    o->engine.max_buffered_bytes = 16u << 20;
    o->engine.max_buffered_packets = 100000;
    o->engine.allow_request_timeout_ms = 10000;

    o->socketio.connect_timeout_ms = 45000;
    o->socketio.max_attachments = 10;
    o->socketio.max_json_depth = 32;
    o->socketio.max_namespaces_per_connection = 64;
    o->socketio.max_rooms_per_socket = 10000;
    o->socketio.max_dynamic_namespaces = 10000;

    o->adapter.requests_timeout_ms = 5000;

    o->shutdown_timeout_ms = 10000;
    o->health_path = "/health";
}
