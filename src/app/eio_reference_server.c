/*
 * eio-reference-server: the bare Engine.IO server in the configuration of the official
 * Engine.IO protocol test suite (path /engine.io/, pingInterval 300, pingTimeout 200,
 * maxPayload 1000000, CORS *), echoing every message back as it came.
 */
#include "app/cli.h"
#include "common/log.h"
#include "engine/engine.h"
#include "http/http.h"

#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_message(eio_session *s, const uint8_t *data, size_t len, int binary, void *user)
{
    sio_buf *b;
    if (binary) {
        b = sio_buf_from(data, len);
    } else {
        b = sio_buf_new(len + 1);
        if (b) {
            sio_buf_data(b)[0] = '4';
            memcpy(sio_buf_data(b) + 1, data, len);
        }
    }
    if (!b)
        return;
    b->binary = (uint8_t)binary;
    eio_session_send(s, b);
    sio_buf_unref(b);
}

int main(int argc, char **argv)
{
    eio_options eo;
    eio_options_init(&eo);
    eo.path = "/engine.io/";
    eo.ping_interval_ms = 300;
    eo.ping_timeout_ms = 200;
    eo.max_payload = 1000000;
    sio_http_options ho;
    sio_http_options_init(&ho);
    ho.port = 3000;
    ho.cors_origin = "*";
    sio_cli_flag flags[] = {
        {"--port", SIO_CLI_INT, &ho.port, "TCP port (0 = any free port)"},
        {"--host", SIO_CLI_STR, &ho.iface, "interface to bind (default all)"},
        {"--ping-interval", SIO_CLI_UINT, &eo.ping_interval_ms, "ms between server pings"},
        {"--ping-timeout", SIO_CLI_UINT, &eo.ping_timeout_ms, "ms to wait for a pong"},
        {"--max-payload", SIO_CLI_SIZE, &eo.max_payload, "bytes per message / POST body"},
        {"--verbose", SIO_CLI_BOOL, &sio_log_threshold, "debug logging"},
        {NULL, 0, NULL, NULL},
    };
    if (sio_cli_parse(argc, argv, flags, "eio-reference-server") < 0)
        return 2;
    if (sio_log_threshold == 1)
        sio_log_threshold = SIO_LOG_DEBUG;
    else
        sio_log_threshold = SIO_LOG_INFO;

    struct event_base *base = event_base_new();
    eio_callbacks cbs = {.on_message = on_message};
    eio_server *engine = eio_server_new(base, &eo, &cbs, sio_http_transport_ops());
    sio_http *http = engine ? sio_http_new(base, &ho, engine) : NULL;
    if (!http)
        return 1;
    return sio_app_run(base, http, engine, NULL, NULL);
}
