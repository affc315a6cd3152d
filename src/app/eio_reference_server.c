/*
 * eio-reference-server: the bare Engine.IO server in the configuration of the official
 * Engine.IO protocol test suite (path /engine.io/, pingInterval 300, pingTimeout 200,
 * maxPayload 1000000, CORS *), echoing every message back as it came. It is assembled by the
 * composition root like sio-server, with the engine's callbacks in place of the Socket.IO layer.
 */
#include <sio/sio.h>

#include "app/cli.h"
#include "engine/engine.h"
#include "server/server.h"

#include <stdio.h>
#include <string.h>

static void on_message(eio_session *s, const uint8_t *data, size_t len, int binary, void *user)
{
    sio_buf *b;
    if (binary) {
        b = sio_buf_from(data, len);
    } else {
        /* a text message goes back as a message packet: '4' then the text */
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
    sio_server_options o;
    sio_server_options_init(&o);
    o.engine.path = "/engine.io/";
    o.engine.ping_interval_ms = 300;
    o.engine.ping_timeout_ms = 200;
    o.engine.max_payload = 1000000;
    o.http.cors_origin = "*";
    int verbose = 0;
    sio_cli_flag flags[] = {
        SIO_CLI_TEST_SERVER_FLAGS(o),
        {"--verbose", SIO_CLI_BOOL, &verbose, "debug logging"},
        {NULL, 0, NULL, NULL},
    };
    if (sio_cli_parse(argc, argv, flags, "eio-reference-server") < 0)
        return 2;
    sio_log_set_sink(NULL, NULL, verbose ? SIO_LOG_DEBUG : SIO_LOG_INFO);
    eio_callbacks cbs = {.on_message = on_message};
    sio_server *srv = sio_server_new_engine(NULL, &o, &cbs);
    if (!srv)
        return 1;
    printf("listening on port %d\n", sio_server_port(srv));
    fflush(stdout);
    sio_server_run(srv);
    sio_server_free(srv);
    return 0;
}
