/*
 * sio-reference-server: the Socket.IO server in the configuration of the official Socket.IO
 * protocol test suite (pingInterval 300, pingTimeout 200, maxPayload 1000000, connectTimeout
 * 1000, CORS *), plus the test extras of interop/README.md, some behind flags (cluster queries,
 * asynchronous and stalled middleware). Written against the public API only (include/sio/), as
 * an example of embedding; its timers run on the server's own libevent loop.
 */
#include <sio/adapter.h>
#include <sio/http.h>
#include <sio/sio.h>

#include "app/cli.h"
#include "app/text.h"

#include <event2/event.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* The attachments of args, to pass on with arguments that keep their placeholders. */
static size_t collect_bins(const sio_args *a, sio_bin *bins, size_t max)
{
    size_t nb = sio_args_binary_count(a);
    for (size_t i = 0; i < nb && i < max; i++)
        bins[i].data = sio_args_binary(a, i, &bins[i].len);
    return nb < max ? nb : max;
}

static void emit_auth(sio_socket *s, void *user)
{
    const char *auth = sio_socket_auth(s);
    size_t n = strlen(auth);
    char *buf = malloc(n + 3);
    if (!buf)
        return;
    buf[0] = '[';
    memcpy(buf + 1, auth, n);
    buf[n + 1] = ']';
    buf[n + 2] = 0;
    sio_socket_emit(s, "auth", buf, NULL, 0, 0);
    free(buf);
}

/* Re-sends the arguments exactly as they came, attachments included. */
static void echo_args(sio_socket *s, const char *event, const sio_args *args)
{
    size_t len;
    const char *json = sio_args_array(args, &len);
    sio_bin bins[16];
    size_t nb = collect_bins(args, bins, 16);
    char *copy = strndup(json, len);
    if (copy)
        sio_socket_emit(s, event, copy, bins, nb, 0);
    free(copy);
}

static void ack_args(sio_ack *ack, const sio_args *args)
{
    if (!ack)
        return;
    size_t len;
    const char *json = sio_args_array(args, &len);
    sio_bin bins[16];
    size_t nb = collect_bins(args, bins, 16);
    char *copy = strndup(json, len);
    sio_ack_send(ack, copy, bins, nb);
    free(copy);
}

static void on_message(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    echo_args(s, "message-back", a);
}

static void on_message_with_ack(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack,
                                void *u)
{
    ack_args(ack, a);
}

/* join(room) / leave(room), then ack() */
static void room_op(sio_socket *s, const sio_args *a, sio_ack *ack, int join)
{
    char room[512];
    if (sio_args_string(a, 0, room, sizeof(room)) >= 0)
        (join ? sio_socket_join : sio_socket_leave)(s, room);
    if (ack)
        sio_ack_send(ack, NULL, NULL, 0);
}

static void on_join(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    room_op(s, a, ack, 1);
}

static void on_leave(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    room_op(s, a, ack, 0);
}

/* Reads a JSON array of strings (argument i) into names[]; returns the count. */
static size_t string_list(const sio_args *a, size_t i, char store[][256], const char **names,
                          size_t max)
{
    size_t len, n = 0;
    const char *json = sio_args_json(a, i, &len);
    if (!json)
        return 0;
    /* tiny parser: the test extras only pass arrays of plain room names */
    const char *p = json, *end = json + len;
    while (p < end && n < max) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            break;
        const char *e = memchr(q + 1, '"', (size_t)(end - q - 1));
        if (!e || (size_t)(e - q - 1) >= 256)
            break;
        memcpy(store[n], q + 1, (size_t)(e - q - 1));
        store[n][e - q - 1] = 0;
        names[n] = store[n];
        n++;
        p = e + 1;
    }
    return n;
}

/* Arguments from..end of a as one JSON array text (malloc'd; NULL when out of memory). */
static char *args_tail(const sio_args *a, size_t from)
{
    sio_app_text j = {0};
    sio_app_text_put(&j, "[", 1);
    for (size_t i = from, count = sio_args_count(a); i < count; i++) {
        size_t n;
        const char *v = sio_args_json(a, i, &n);
        if (i > from)
            sio_app_text_put(&j, ",", 1);
        sio_app_text_put(&j, v, n);
    }
    sio_app_text_put(&j, "]", 1);
    if (j.err) {
        free(j.p);
        return NULL;
    }
    return j.p;
}

static void on_to_room(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    char rs[16][256], es[16][256], event[256];
    const char *rooms[16], *except[16];
    sio_target t = {rooms, string_list(a, 0, rs, rooms, 16), except,
                    string_list(a, 1, es, except, 16), 0};
    if (sio_args_string(a, 2, event, sizeof(event)) < 0)
        return;
    char *json = args_tail(a, 3); /* the remaining arguments are forwarded */
    if (!json)
        return;
    sio_bin bins[16];
    size_t nb = collect_bins(a, bins, 16);
    sio_namespace_emit(sio_socket_namespace(s), &t, event, json, bins, nb);
    free(json);
    if (ack)
        sio_ack_send(ack, NULL, NULL, 0);
}

static void on_volatile(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    long long count = 0;
    sio_args_int(a, 0, &count);
    char buf[32];
    for (long long i = 0; i < count && i < 100000; i++) {
        snprintf(buf, sizeof(buf), "[%lld]", i);
        sio_socket_emit(s, "volatile-msg", buf, NULL, 0, SIO_EMIT_VOLATILE);
    }
    snprintf(buf, sizeof(buf), "[%lld]", count);
    sio_socket_emit(s, "volatile-done", buf, NULL, 0, 0);
    if (ack)
        sio_ack_send(ack, NULL, NULL, 0);
}

static void on_ask_result(sio_socket *s, int status, const sio_args *args, void *user)
{
    if (!s)
        return;
    if (status == 0) {
        size_t len;
        const char *arr = sio_args_array(args, &len);
        char *json = malloc(len + 32);
        if (!json)
            return;
        snprintf(json, len + 32, "[{\"ok\":true,\"args\":%.*s}]", (int)len, arr);
        sio_bin bins[16];
        size_t nb = collect_bins(args, bins, 16);
        sio_socket_emit(s, "ask-result", json, bins, nb, 0);
        free(json);
    } else {
        sio_socket_emit(s, "ask-result", "[{\"ok\":false,\"error\":\"timeout\"}]", NULL, 0, 0);
    }
}

static void on_server_ack(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    long long timeout = 0;
    if (sio_args_int(a, 0, &timeout) < 0 || timeout < 0)
        return;
    char *json = args_tail(a, 1);
    if (!json)
        return;
    sio_bin bins[16];
    size_t nb = collect_bins(a, bins, 16);
    sio_socket_emit_ack(s, "ask", json, bins, nb, (unsigned)timeout, on_ask_result, NULL);
    free(json);
}

static void on_disconnect_me(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack,
                             void *u)
{
    size_t n;
    const char *v = sio_args_json(a, 0, &n);
    sio_socket_disconnect(s, v && n == 4 && !memcmp(v, "true", 4));
}

static void on_drop_transport(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack,
                              void *u)
{
    sio_socket_close_connection(s);
}

/* Test extra: the encode-once counter, to show a broadcast is encoded once for N receivers. */
static void on_stats(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    sio_server_stats st;
    sio_server_get_stats(sio_namespace_server(sio_socket_namespace(s)), &st);
    char json[64];
    snprintf(json, sizeof(json), "[{\"packetsEncoded\":%" PRIu64 "}]", st.packets_encoded);
    if (ack)
        sio_ack_send(ack, json, NULL, 0);
}

/* test extra: ack(handshake) with the socket's handshake object (address, headers, query) */
static void on_handshake(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    const char *hs = sio_socket_handshake(s);
    size_t n = strlen(hs);
    char *json = malloc(n + 3);
    if (!json || !ack) {
        free(json);
        return;
    }
    json[0] = '[';
    memcpy(json + 1, hs, n);
    memcpy(json + 1 + n, "]", 2);
    sio_ack_send(ack, json, NULL, 0);
    free(json);
}

static void on_connection(sio_socket *s, void *user)
{
    emit_auth(s, user);
}

static int dyn_match(sio_server *srv, const char *name, const char *auth, void *user)
{
    /* ^/dyn-\d+$ */
    if (strncmp(name, "/dyn-", 5) || !name[5])
        return 0;
    for (const char *p = name + 5; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

static void setup_plain(sio_namespace *nsp, void *user)
{
    sio_namespace_on_connection(nsp, on_connection, NULL);
    sio_namespace_on(nsp, "message-with-ack", on_message_with_ack, NULL);
}

/* ---- cluster API test extras (--cluster-api) ------------------------------------------------
 * Node's socket.data, fetchSockets, adapter.allRooms and serverCount. The queries answer through
 * a callback that never runs inside the call, so the client's ack is retained until then. */

/* The JSON texts of the answers are built in an sio_app_text (text.h). */
static void json_puts(sio_app_text *j, const char *s)
{
    sio_app_text_put(j, s, strlen(s));
}

/* s as a JSON string literal: room names are arbitrary text. */
static void json_string(sio_app_text *j, const char *s)
{
    sio_app_text_put(j, "\"", 1);
    for (const char *run = s;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c && c != '"' && c != '\\' && c >= 0x20)
            continue;
        sio_app_text_put(j, run, (size_t)(s - run));
        if (!c)
            break;
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof(esc), "\\%c", c);
        else
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        json_puts(j, esc);
        run = s + 1;
    }
    sio_app_text_put(j, "\"", 1);
}

/* Sends j as the ack's arguments, or an error object if building it failed; frees j. */
static void ack_json(sio_ack *ack, sio_app_text *j)
{
    sio_ack_send(ack, j->err ? "[{\"error\":\"out of memory\"}]" : j->p, NULL, 0);
    free(j->p);
}

static void ack_error(sio_ack *ack, int err)
{
    char json[96];
    snprintf(json, sizeof(json), "[{\"error\":\"%s\"}]", sio_strerror(err));
    sio_ack_send(ack, json, NULL, 0);
}

/* fetch(room?, ack): ack([{id, rooms, data}]) for the sockets in room (the whole namespace when
 * room is missing or not a string). */
static void on_fetched(sio_namespace *nsp, int status, const sio_socket_info *sockets, size_t n,
                       void *user)
{
    sio_app_text j = {0};
    json_puts(&j, "[[");
    for (size_t i = 0; i < n; i++) {
        json_puts(&j, i ? ",{\"id\":" : "{\"id\":");
        json_string(&j, sockets[i].id);
        json_puts(&j, ",\"rooms\":[");
        for (size_t r = 0; r < sockets[i].nrooms; r++) {
            if (r)
                sio_app_text_put(&j, ",", 1);
            json_string(&j, sockets[i].rooms[r]);
        }
        json_puts(&j, "],\"data\":");
        json_puts(&j, sockets[i].data_json);
        sio_app_text_put(&j, "}", 1);
    }
    json_puts(&j, "]]");
    ack_json(user, &j);
}

static void on_fetch(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    if (!ack)
        return;
    char room[256];
    const char *rooms[1] = {room};
    long len = sio_args_string(a, 0, room, sizeof(room));
    if (len == SIO_ELIMIT) {
        ack_error(ack, (int)len);
        return;
    }
    sio_target t = {rooms, len >= 0 ? 1 : 0, NULL, 0, 0};
    ack = sio_ack_retain(ack);
    int rc = sio_namespace_fetch_sockets(sio_socket_namespace(s), &t, on_fetched, ack);
    if (rc < 0)
        ack_error(ack, rc);
}

/* A NUL-terminated copy of n bytes of JSON (argument slices are not terminated). */
static char *copy_n(const char *p, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, p, n);
        c[n] = 0;
    }
    return c;
}

/* set-data(value, ack): socket.data = value, then ack(). */
static void on_set_data(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    size_t n;
    const char *v = sio_args_json(a, 0, &n);
    char *json = v ? copy_n(v, n) : NULL;
    int rc = json ? sio_socket_set_data(s, json) : (v ? SIO_ENOMEM : SIO_EINVAL);
    free(json);
    if (!ack)
        return;
    if (rc < 0)
        ack_error(ack, rc);
    else
        sio_ack_send(ack, NULL, NULL, 0);
}

/* all-rooms(ack): ack([room, ...]), every room of / across the cluster. */
static void on_rooms(sio_namespace *nsp, int status, const char *const *rooms, size_t n, void *user)
{
    sio_app_text j = {0};
    json_puts(&j, "[[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sio_app_text_put(&j, ",", 1);
        json_string(&j, rooms[i]);
    }
    json_puts(&j, "]]");
    ack_json(user, &j);
}

/* server-count(ack): ack(n), the servers of the cluster. */
static void on_counted(sio_namespace *nsp, int status, size_t servers, void *user)
{
    char json[32];
    snprintf(json, sizeof(json), "[%zu]", servers);
    sio_ack_send(user, json, NULL, 0);
}

/* all-rooms(ack) and server-count(ack): the two cluster queries without arguments. */
static void on_cluster_query(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack,
                             void *u)
{
    if (!ack)
        return;
    ack = sio_ack_retain(ack);
    sio_namespace *nsp = sio_socket_namespace(s);
    int rc = !strcmp(ev, "all-rooms") ? sio_namespace_all_rooms(nsp, on_rooms, ack)
                                      : sio_namespace_server_count(nsp, on_counted, ack);
    if (rc < 0)
        ack_error(ack, rc);
}

/* test extra: ack(name) with the --node-name of this process (the port when not given), so a
 * test behind a load balancer can tell which node a client reached. */
static char node_name[256];

static void on_whoami(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    if (!ack)
        return;
    sio_app_text j = {0};
    sio_app_text_put(&j, "[", 1);
    json_string(&j, node_name);
    sio_app_text_put(&j, "]", 1);
    ack_json(ack, &j);
}

/* sockets-join / sockets-leave(rooms[], except[], room, ack): io.in(rooms).except(except)
 * .socketsJoin(room) (or socketsLeave) across the cluster, then ack(). */
static void sockets_room(sio_socket *s, const sio_args *a, sio_ack *ack, int join)
{
    char rs[16][256], es[16][256], room[256];
    const char *rooms[16], *except[16];
    sio_target t = {rooms, string_list(a, 0, rs, rooms, 16), except,
                    string_list(a, 1, es, except, 16), 0};
    if (sio_args_string(a, 2, room, sizeof(room)) < 0) {
        if (ack)
            ack_error(ack, SIO_EINVAL);
        return;
    }
    long rc = join ? sio_namespace_sockets_join(sio_socket_namespace(s), &t, room)
                   : sio_namespace_sockets_leave(sio_socket_namespace(s), &t, room);
    if (!ack)
        return;
    if (rc < 0)
        ack_error(ack, (int)rc);
    else
        sio_ack_send(ack, NULL, NULL, 0);
}

static void on_sockets_join(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    sockets_room(s, a, ack, 1);
}

static void on_sockets_leave(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack,
                             void *u)
{
    sockets_room(s, a, ack, 0);
}

/* disconnect-sockets(rooms[], except[], close, ack): io.in(rooms).except(except)
 * .disconnectSockets(close) across the cluster, then ack() (the sender may be among them). */
static void on_disconnect_sockets(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack,
                                  void *u)
{
    char rs[16][256], es[16][256];
    const char *rooms[16], *except[16];
    sio_target t = {rooms, string_list(a, 0, rs, rooms, 16), except,
                    string_list(a, 1, es, except, 16), 0};
    size_t n;
    const char *v = sio_args_json(a, 2, &n);
    int close = v && n == 4 && !memcmp(v, "true", 4);
    sio_namespace *nsp = sio_socket_namespace(s);
    if (ack)
        sio_ack_send(ack, NULL, NULL, 0);
    sio_namespace_disconnect_sockets(nsp, &t, close);
}

/* Answer of a broadcast or server-side emit with acks: ack({timeout, responses}), each response
 * being the first argument of one answer (Node passes one value per answer across servers). */
static void on_acks(sio_namespace *nsp, int status, const sio_args *const *responses, size_t n,
                    void *user)
{
    sio_app_text j = {0};
    json_puts(&j, status == SIO_ETIMEDOUT ? "[{\"timeout\":true" : "[{\"timeout\":false");
    if (status < 0 && status != SIO_ETIMEDOUT) {
        json_puts(&j, ",\"error\":");
        json_string(&j, sio_strerror(status));
    }
    json_puts(&j, ",\"responses\":[");
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *v = sio_args_json(responses[i], 0, &len);
        if (i)
            sio_app_text_put(&j, ",", 1);
        if (v)
            sio_app_text_put(&j, v, len);
        else
            json_puts(&j, "null");
    }
    json_puts(&j, "]}]");
    ack_json(user, &j);
}

/* The event at argument first of a, its arguments after it, emitted with acks: to the target t
 * (timeout_ms) or, t NULL, to the other servers (server-side emit); ack({timeout, responses}). */
static void emit_acked(sio_socket *s, const sio_args *a, size_t first, const sio_target *t,
                       unsigned timeout_ms, sio_ack *ack)
{
    char event[256];
    if (sio_args_string(a, first, event, sizeof(event)) < 0) {
        ack_error(ack, SIO_EINVAL);
        return;
    }
    char *json = args_tail(a, first + 1);
    if (!json) {
        ack_error(ack, SIO_ENOMEM);
        return;
    }
    sio_bin bins[16];
    size_t nb = collect_bins(a, bins, 16);
    sio_namespace *nsp = sio_socket_namespace(s);
    ack = sio_ack_retain(ack);
    long rc = t ? sio_namespace_emit_ack(nsp, t, event, json, bins, nb, timeout_ms, on_acks, ack)
                : sio_namespace_server_emit(nsp, event, json, bins, nb, 0, on_acks, ack);
    free(json);
    if (rc < 0)
        ack_error(ack, (int)rc);
}

/* to-room-ack(rooms[], except[], timeoutMs, event, ...args, ack): io.to(rooms).except(except)
 * .timeout(ms).emit(event, ...args, cb) across the cluster; ack({timeout, responses}). */
static void on_to_room_ack(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    char rs[16][256], es[16][256];
    const char *rooms[16], *except[16];
    sio_target t = {rooms, string_list(a, 0, rs, rooms, 16), except,
                    string_list(a, 1, es, except, 16), 0};
    long long timeout = 0;
    if (!ack)
        return;
    if (sio_args_int(a, 2, &timeout) < 0)
        ack_error(ack, SIO_EINVAL);
    else
        emit_acked(s, a, 3, &t, (unsigned)timeout, ack);
}

/* sse(event, ...args, ack): io.serverSideEmit(event, ...args, cb) with acks from every other
 * server (requests timeout); ack({timeout, responses}). */
static void on_sse(sio_socket *s, const char *ev, const sio_args *a, sio_ack *ack, void *u)
{
    if (ack)
        emit_acked(s, a, 0, NULL, 0, ack);
}

/* Server-side events from other servers: forwarded to this server's clients of / as
 * server-event(event, ...args); an ack wanted is answered with "pong-sio". */
static void on_server_event(sio_namespace *nsp, const char *event, const sio_args *args,
                            sio_ack *ack, void *user)
{
    size_t n;
    const char *arr = sio_args_array(args, &n);
    sio_app_text j = {0};
    sio_app_text_put(&j, "[", 1);
    json_string(&j, event);
    if (n > 2) {
        sio_app_text_put(&j, ",", 1);
        sio_app_text_put(&j, arr + 1, n - 2);
    }
    sio_app_text_put(&j, "]", 1);
    sio_bin bins[16];
    size_t nb = collect_bins(args, bins, 16);
    sio_target local = {NULL, 0, NULL, 0, SIO_EMIT_LOCAL};
    if (!j.err)
        sio_namespace_emit(nsp, &local, "server-event", j.p, bins, nb);
    free(j.p);
    if (ack)
        sio_ack_send(ack, "[\"pong-sio\"]", NULL, 0);
}

/* ---- connect middleware -------------------------------------------------------------------- */

/* The auth object arrives as JSON.stringify output (no spaces), so the serialised pair can be
 * matched as text. */
static int auth_has_token(const sio_socket *s, const char *token)
{
    char want[64];
    snprintf(want, sizeof(want), "\"token\":\"%s\"", token);
    return strstr(sio_socket_auth(s), want) != NULL;
}

static void answer(sio_next *next, int accept)
{
    if (accept)
        sio_next_accept(next);
    else
        sio_next_refuse(next, "unauthorized", "{\"code\":401}");
}

/* /private and /sync-auth: answered inside the call. */
static void token_mw(sio_socket *s, sio_next *next, void *user)
{
    answer(next, auth_has_token(s, user));
}

/* Answers still owed by the asynchronous middleware. Every sio_next is answered exactly once:
 * by its timer, or, for those still pending when the loop has stopped, at exit (the
 * connections are gone by then, so that answer changes nothing). */
typedef struct pending_answer {
    sio_next *next;
    struct event *timer; /* NULL: the stalled middleware, answered only at exit */
    int accept;
    struct pending_answer *prev, *later;
} pending_answer;

static pending_answer *pending_head;
static unsigned async_auth_ms;

static void pending_unlink(pending_answer *p)
{
    if (p->prev)
        p->prev->later = p->later;
    else
        pending_head = p->later;
    if (p->later)
        p->later->prev = p->prev;
}

static void on_answer_due(evutil_socket_t fd, short what, void *arg)
{
    pending_answer *p = arg;
    pending_unlink(p);
    answer(p->next, p->accept);
    event_free(p->timer);
    free(p);
}

/* Records an answer owed; with timer_base, also a timer (not yet added) that gives it. */
static pending_answer *pending_add(sio_next *next, int accept, struct event_base *timer_base)
{
    pending_answer *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (timer_base && !(p->timer = evtimer_new(timer_base, on_answer_due, p))) {
        free(p);
        return NULL;
    }
    p->next = next;
    p->accept = accept;
    p->later = pending_head;
    if (pending_head)
        pending_head->prev = p;
    pending_head = p;
    return p;
}

/* /async-auth: the same decision as /sync-auth, given async_auth_ms later from a timer, as a
 * middleware waiting for a network round trip would. */
static void async_token_mw(sio_socket *s, sio_next *next, void *user)
{
    struct event_base *base = sio_server_base(sio_namespace_server(sio_socket_namespace(s)));
    pending_answer *p = pending_add(next, auth_has_token(s, "ok"), base);
    if (!p) {
        sio_next_refuse(next, "server error", NULL);
        return;
    }
    struct timeval tv = {(time_t)(async_auth_ms / 1000),
                         (suseconds_t)(async_auth_ms % 1000) * 1000};
    evtimer_add(p->timer, &tv);
}

/* /stalled: never answers while the server runs; the server refuses the CONNECT after
 * connect_timeout_ms ("middleware timeout"). */
static void stalled_mw(sio_socket *s, sio_next *next, void *user)
{
    if (!pending_add(next, 0, NULL))
        sio_next_refuse(next, "server error", NULL);
}

static void answer_pending_at_exit(void)
{
    while (pending_head) {
        pending_answer *p = pending_head;
        pending_unlink(p);
        if (p->timer)
            event_free(p->timer);
        sio_next_refuse(p->next, "server shutting down", NULL);
        free(p);
    }
}

/* ---- demo routes (--demo-routes): exercised by interop/sio/routes.test.mjs ----------------- */

static unsigned long demo_aborts; /* deferred requests whose client left first */

static void demo_hello(sio_http_request *req, void *user)
{
    char name[128] = "", hdr[128] = "", body[1024];
    sio_http_request_query_param(req, "name", name, sizeof(name));
    sio_http_request_header(req, "x-demo", hdr, sizeof(hdr));
    int n = snprintf(body, sizeof(body),
                     "{\"method\":\"%s\",\"path\":\"%s\",\"query\":\"%s\",\"name\":\"%s\","
                     "\"header\":\"%s\",\"address\":\"%s\"}",
                     sio_http_request_method(req), sio_http_request_path(req),
                     sio_http_request_query(req), name, hdr, sio_http_request_address(req));
    sio_http_header h[] = {{"content-type", "application/json"}, {"x-route", "hello"}};
    sio_http_respond(req, 200, h, 2, body, n < (int)sizeof(body) ? (size_t)n : 0);
}

static void demo_files(sio_http_request *req, void *user)
{
    const char *path = sio_http_request_path(req);
    sio_http_header h[] = {{"content-type", "text/plain"}};
    sio_http_respond(req, 200, h, 1, path, strlen(path));
}

static void demo_echo(sio_http_request *req, void *user)
{
    size_t len;
    const void *body = sio_http_request_body(req, &len);
    char ctype[128];
    if (sio_http_request_header(req, "content-type", ctype, sizeof(ctype)) < 0)
        strcpy(ctype, "application/octet-stream");
    sio_http_header h[] = {{"content-type", ctype}};
    sio_http_respond(req, 200, h, 1, body, len);
}

typedef struct later_req {
    sio_http_request *req;
    struct event *timer;
} later_req;

static void demo_later_done(later_req *d)
{
    event_free(d->timer);
    free(d);
}

static void demo_later_fire(evutil_socket_t fd, short what, void *arg)
{
    later_req *d = arg;
    static const char body[] = "later";
    sio_http_header h[] = {{"content-type", "text/plain"}};
    sio_http_respond(d->req, 200, h, 1, body, sizeof(body) - 1);
    demo_later_done(d);
}

static void demo_later_abort(sio_http_request *req, void *user)
{
    demo_aborts++;
    sio_http_request_release(req);
    demo_later_done(user);
}

/* Answers 50 ms later (or ?ms=N), from a timer: the deferred-response path. */
static void demo_later(sio_http_request *req, void *user)
{
    char ms[16];
    long delay = sio_http_request_query_param(req, "ms", ms, sizeof(ms)) > 0 ? atol(ms) : 50;
    later_req *d = calloc(1, sizeof(later_req));
    if (d)
        d->timer = evtimer_new(sio_server_base(user), demo_later_fire, d);
    if (!d || !d->timer) {
        free(d);
        sio_http_request_release(req);
        return;
    }
    d->req = req;
    sio_http_request_on_abort(req, demo_later_abort, d);
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(d->timer, &tv);
}

static void demo_aborts_route(sio_http_request *req, void *user)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"aborts\":%lu}", demo_aborts);
    sio_http_header h[] = {{"content-type", "application/json"}};
    sio_http_respond(req, 200, h, 1, body, (size_t)n);
}

static void add_demo_routes(sio_server *srv)
{
    const sio_http_route routes[] = {
        {"GET", "/demo/hello", 0, 0, demo_hello, NULL},
        {"GET", "/demo/files/", SIO_ROUTE_PREFIX, 0, demo_files, NULL},
        {"POST", "/demo/echo", 0, 1024, demo_echo, NULL},
        {"GET", "/demo/later", 0, 0, demo_later, srv},
        {"GET", "/demo/aborts", 0, 0, demo_aborts_route, NULL},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (sio_server_route_add(srv, &routes[i]) < 0)
            fprintf(stderr, "cannot add route %s\n", routes[i].path);
}

/* ---- handshake filter (--deny-header NAME, --deny-after-ms N) --------------------------- */

static const char *deny_header;
static unsigned deny_after_ms;

typedef struct later_answer {
    sio_handshake *hs;
    int deny;
    struct event *timer;
} later_answer;

/* Refuses handshakes carrying the header; its value "custom" asks for a message of our own. */
static int want_deny(sio_handshake *hs, const char **message)
{
    char v[64];
    *message = NULL;
    if (sio_handshake_header(hs, deny_header, v, sizeof(v)) < 0)
        return 0;
    if (!strcmp(v, "custom"))
        *message = "custom refusal";
    return 1;
}

static void answer_later(evutil_socket_t fd, short what, void *arg)
{
    later_answer *a = arg;
    if (a->deny)
        sio_handshake_deny(a->hs, 4, a->deny == 2 ? "custom refusal" : NULL);
    else
        sio_handshake_allow(a->hs); /* a no-op when the client has left meanwhile */
    event_free(a->timer);
    free(a);
}

static void allow_request(sio_handshake *hs, void *user)
{
    const char *message;
    int deny = want_deny(hs, &message);
    if (!deny_after_ms) {
        if (deny)
            sio_handshake_deny(hs, -1, message);
        else
            sio_handshake_allow(hs);
        return;
    }
    /* decided now (headers are read during the callback), answered later */
    later_answer *a = calloc(1, sizeof(*a));
    if (a)
        a->timer = evtimer_new(sio_server_base(user), answer_later, a);
    if (!a || !a->timer) {
        free(a);
        sio_handshake_deny(hs, -1, NULL);
        return;
    }
    a->hs = hs;
    a->deny = deny ? (message ? 2 : 1) : 0;
    struct timeval tv = {deny_after_ms / 1000, (deny_after_ms % 1000) * 1000};
    evtimer_add(a->timer, &tv);
}

int main(int argc, char **argv)
{
    sio_server_options o;
    sio_server_options_init(&o);
    o.engine.ping_interval_ms = 300;
    o.engine.ping_timeout_ms = 200;
    o.engine.max_payload = 1000000;
    o.socketio.connect_timeout_ms = 1000;
    o.http.cors_origin = "*";
    o.stats_path = "/stats";
    sio_cli_redis redis;
    sio_cli_redis_init(&redis);
    int verbose = 0, cluster_api = 0, stalled = 0, async_auth = -1, demo_routes = 0;
    const char *name = NULL;
    sio_cli_flag flags[] = {
        SIO_CLI_TEST_SERVER_FLAGS(o),
        {"--connect-timeout", SIO_CLI_UINT, &o.socketio.connect_timeout_ms,
         "ms to join a namespace, middleware included"},
        {"--max-buffered-bytes", SIO_CLI_SIZE, &o.engine.max_buffered_bytes,
         "per-connection queue cap"},
        {"--max-dynamic-namespaces", SIO_CLI_SIZE, &o.socketio.max_dynamic_namespaces,
         "dynamic child namespaces alive at once"},
        {"--per-message-deflate", SIO_CLI_BOOL, &o.http.per_message_deflate,
         "WebSocket compression"},
        {"--close-deadline", SIO_CLI_UINT, &o.http.close_deadline_ms,
         "ms a closing connection may take (30000)"},
        {"--accept-backoff", SIO_CLI_UINT, &o.http.accept_backoff_ms,
         "ms between accept retries at the descriptor limit (100)"},
        {"--shutdown-timeout", SIO_CLI_UINT, &o.shutdown_timeout_ms,
         "ms to close connections on SIGTERM (10000)"},
        {"--cluster-api", SIO_CLI_BOOL, &cluster_api,
         "events fetch, set-data, all-rooms, server-count, sockets-join/leave, "
         "disconnect-sockets, to-room-ack, sse on /; server-side events"},
        {"--async-auth-ms", SIO_CLI_INT, &async_auth,
         "namespaces /async-auth (answers after N ms) and /sync-auth"},
        {"--stalled-middleware", SIO_CLI_BOOL, &stalled,
         "namespace /stalled whose middleware never answers"},
        {"--demo-routes", SIO_CLI_BOOL, &demo_routes, "HTTP routes under /demo/ (tests)"},
        {"--deny-header", SIO_CLI_STR, &deny_header,
         "handshake filter: refuse handshakes with this header (tests)"},
        {"--deny-after-ms", SIO_CLI_UINT, &deny_after_ms,
         "handshake filter: answer this long after the request (tests; header x-deny)"},
        SIO_CLI_REDIS_FLAGS(redis, o),
        {"--node-name", SIO_CLI_STR, &name, "what the whoami event answers (default: the port)"},
        {"--verbose", SIO_CLI_BOOL, &verbose, "debug logging"},
        {NULL, 0, NULL, NULL},
    };
    if (sio_cli_parse(argc, argv, flags, "sio-reference-server") < 0 ||
        sio_cli_redis_apply(&redis, &o, "sio-reference-server") < 0)
        return 2;
    sio_log_set_sink(NULL, NULL, verbose ? SIO_LOG_DEBUG : SIO_LOG_INFO);
    sio_server *srv = sio_server_new(NULL, &o);
    if (!srv)
        return 1;
    if (demo_routes)
        add_demo_routes(srv);
    if (deny_after_ms && !deny_header)
        deny_header = "x-deny";
    if (deny_header)
        sio_server_set_allow_request(srv, allow_request, srv);
    sio_namespace *root = sio_server_of(srv, "/");
    setup_plain(root, NULL);
    sio_namespace_on(root, "message", on_message, NULL);
    sio_namespace_on(root, "join", on_join, NULL);
    sio_namespace_on(root, "leave", on_leave, NULL);
    sio_namespace_on(root, "to-room", on_to_room, NULL);
    sio_namespace_on(root, "volatile", on_volatile, NULL);
    sio_namespace_on(root, "server-ack", on_server_ack, NULL);
    sio_namespace_on(root, "disconnect-me", on_disconnect_me, NULL);
    sio_namespace_on(root, "drop-transport", on_drop_transport, NULL);
    sio_namespace_on(root, "stats", on_stats, NULL);
    sio_namespace_on(root, "handshake", on_handshake, NULL);
    sio_namespace_on(root, "whoami", on_whoami, NULL);
    if (cluster_api) {
        sio_namespace_on(root, "fetch", on_fetch, NULL);
        sio_namespace_on(root, "set-data", on_set_data, NULL);
        sio_namespace_on(root, "all-rooms", on_cluster_query, NULL);
        sio_namespace_on(root, "server-count", on_cluster_query, NULL);
        sio_namespace_on(root, "sockets-join", on_sockets_join, NULL);
        sio_namespace_on(root, "sockets-leave", on_sockets_leave, NULL);
        sio_namespace_on(root, "disconnect-sockets", on_disconnect_sockets, NULL);
        sio_namespace_on(root, "to-room-ack", on_to_room_ack, NULL);
        sio_namespace_on(root, "sse", on_sse, NULL);
        sio_namespace_on_server_event(root, on_server_event, NULL);
    }
    setup_plain(sio_server_of(srv, "/custom"), NULL);
    static char secret[] = "secret", ok[] = "ok";
    sio_namespace *priv = sio_server_of(srv, "/private");
    sio_namespace_use(priv, token_mw, secret);
    setup_plain(priv, NULL);
    if (async_auth >= 0) {
        async_auth_ms = (unsigned)async_auth;
        sio_namespace *nsp = sio_server_of(srv, "/async-auth");
        sio_namespace_use(nsp, async_token_mw, NULL);
        setup_plain(nsp, NULL);
        nsp = sio_server_of(srv, "/sync-auth");
        sio_namespace_use(nsp, token_mw, ok);
        setup_plain(nsp, NULL);
    }
    if (stalled) {
        sio_namespace *nsp = sio_server_of(srv, "/stalled");
        sio_namespace_use(nsp, stalled_mw, NULL);
        setup_plain(nsp, NULL);
    }
    sio_server_add_dynamic(srv, dyn_match, setup_plain, NULL);
    if (name)
        snprintf(node_name, sizeof(node_name), "%s", name);
    else
        snprintf(node_name, sizeof(node_name), "%d", sio_server_port(srv));
    printf("listening on port %d\n", sio_server_port(srv));
    fflush(stdout);
    sio_server_run(srv);
    answer_pending_at_exit();
    sio_server_free(srv);
    return 0;
}
