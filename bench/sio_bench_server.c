/*
 * sio-bench-server: the sio side of the benchmark contract (bench/README.md), written with the
 * public API only. "join"(room, ack) joins and acks "ok"; "bcast"(room, payload) emits
 * "msg"(payload) to the room, encoded once for every member; "echo"(payload, ack) acks payload.
 */
#include <sio/redis.h>
#include <sio/sio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_join(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    char room[256];
    if (sio_args_string(a, 0, room, sizeof(room)) >= 0)
        sio_socket_join(s, room);
    if (ack)
        sio_ack_send(ack, "[\"ok\"]", NULL, 0);
}

static void on_bcast(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    char room[256];
    size_t n;
    const char *payload = sio_args_json(a, 1, &n);
    if (sio_args_string(a, 0, room, sizeof(room)) < 0 || !payload)
        return;
    char stack[4096];
    char *json = n + 3 <= sizeof(stack) ? stack : malloc(n + 3);
    if (!json)
        return;
    json[0] = '[';
    memcpy(json + 1, payload, n);
    json[n + 1] = ']';
    json[n + 2] = 0;
    const char *rooms[1] = {room};
    sio_target t = {rooms, 1, NULL, 0, 0};
    sio_namespace_emit(sio_socket_namespace(s), &t, "msg", json, NULL, 0);
    if (json != stack)
        free(json);
}

static void on_echo(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    if (!ack)
        return;
    size_t n;
    const char *arr = sio_args_array(a, &n);
    char stack[4096];
    char *json = n + 1 <= sizeof(stack) ? stack : malloc(n + 1);
    if (!json)
        return;
    /* the ack carries only the payload: the first argument */
    size_t pn;
    const char *payload = sio_args_json(a, 0, &pn);
    if (payload && pn + 3 <= n + 1) {
        json[0] = '[';
        memcpy(json + 1, payload, pn);
        json[pn + 1] = ']';
        json[pn + 2] = 0;
    } else {
        memcpy(json, arr, n);
        json[n] = 0;
    }
    sio_ack_send(ack, json, NULL, 0);
    if (json != stack)
        free(json);
}

int main(int argc, char **argv)
{
    sio_server_options o;
    sio_server_options_init(&o);
    sio_redis_adapter_config rc;
    sio_redis_adapter_config_init(&rc);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            o.http.port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc)
            o.http.host = argv[++i];
        else if (!strcmp(argv[i], "--redis") && i + 1 < argc)
            rc.url = argv[++i];
        else if (!strcmp(argv[i], "--redis-mode") && i + 1 < argc)
            rc.sharded = !strcmp(argv[++i], "sharded");
        else if (!strcmp(argv[i], "--redis-cluster"))
            rc.cluster = 1;
        else if (!strcmp(argv[i], "--redis-key") && i + 1 < argc)
            rc.key = argv[++i];
        else if (!strcmp(argv[i], "--redis-requests-timeout") && i + 1 < argc)
            o.adapter.requests_timeout_ms = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: sio-bench-server [--port N] [--host ADDR] [--redis URL "
                            "[--redis-mode classic|sharded] [--redis-cluster] [--redis-key K] "
                            "[--redis-requests-timeout MS]]\n");
            return 2;
        }
    }
    if (rc.url) { /* the contract (bench/README.md) then spans the cluster */
        o.adapter.ops = sio_adapter_redis();
        o.adapter.config = &rc;
    }
    sio_server *srv = sio_server_new(NULL, &o);
    if (!srv)
        return 1;
    sio_namespace *nsp = sio_server_of(srv, "/");
    sio_namespace_on(nsp, "join", on_join, NULL);
    sio_namespace_on(nsp, "bcast", on_bcast, NULL);
    sio_namespace_on(nsp, "echo", on_echo, NULL);
    printf("listening on port %d\n", sio_server_port(srv));
    fflush(stdout);
    sio_server_run(srv);
    sio_server_free(srv);
    return 0;
}
