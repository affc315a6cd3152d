/*
 * A small chat server on the sio C API (walked through in docs/api.md). Clients connect with
 * io(url, { auth: { token } }) and then use:
 *   "join"(room, ack)  join room; the ack answers {ok:true} or {ok:false,error}
 *   "say"(room, text)  send "say"({from,room,text}) to the other members of room (5 a second)
 *   "nick"(name)       set the socket's data to {nick:name}
 *   "who"(room, ack)   the ack answers [{id,data}] for the members of room, on every server
 *   "echo"(...args)    get the same arguments back, binary attachments included
 * Usage: chat-server-example [port]; the accepted token is $CHAT_TOKEN (default "secret").
 */
#include <sio/adapter.h> /* sio_socket_info, for "who" */
#include <sio/sio.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Connect middleware. The auth object arrives as JSON text; matching the serialised pair keeps
 * the example short (socket.io-client sends JSON.stringify output, without spaces). It answers
 * at once; a middleware asking another service would keep next and answer later. */
static void check_token(sio_socket *s, sio_next *next, void *user)
{
    char want[256];
    snprintf(want, sizeof(want), "\"token\":\"%s\"", (const char *)user);
    if (strstr(sio_socket_auth(s), want))
        sio_next_accept(next);
    else
        sio_next_refuse(next, "unauthorized", "{\"code\":401}");
}

/* Native per-socket state lives in a slot: flood control for "say". (What other servers of a
 * cluster should see goes in the socket's JSON data instead: see "nick".) */
typedef struct member {
    uint64_t window_ms; /* start of the current one-second window */
    unsigned said;      /* messages in it */
} member;
static const sio_slot member_slot = {"chat.member"};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_connection(sio_socket *s, void *user)
{
    (void)user;
    member *m = calloc(1, sizeof(*m));
    if (!m || sio_socket_set_slot(s, &member_slot, m, free) < 0) {
        free(m);
        sio_socket_disconnect(s, 0);
    }
}

static int may_say(sio_socket *s)
{
    member *m = sio_socket_slot(s, &member_slot);
    uint64_t now = now_ms();
    if (now - m->window_ms >= 1000) {
        m->window_ms = now;
        m->said = 0;
    }
    return ++m->said <= 5;
}

static void on_join(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                    void *user)
{
    (void)event, (void)user;
    char room[128], reply[128];
    int rc =
        sio_args_string(args, 0, room, sizeof(room)) < 0 ? SIO_EINVAL : sio_socket_join(s, room);
    if (!ack)
        return;
    if (rc == 0)
        snprintf(reply, sizeof(reply), "[{\"ok\":true}]");
    else
        snprintf(reply, sizeof(reply), "[{\"ok\":false,\"error\":\"%s\"}]", sio_strerror(rc));
    sio_ack_send(ack, reply, NULL, 0);
}

static int in_room(const sio_socket *s, const char *room)
{
    for (size_t i = 0; i < sio_socket_room_count(s); i++)
        if (!strcmp(sio_socket_room(s, i), room))
            return 1;
    return 0;
}

static void on_say(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack, void *user)
{
    (void)event, (void)ack, (void)user;
    char room[128];
    size_t room_len, text_len;
    const char *room_json = sio_args_json(args, 0, &room_len);
    const char *text_json = sio_args_json(args, 1, &text_len);
    if (sio_args_string(args, 0, room, sizeof(room)) < 0 || !in_room(s, room) || !text_json ||
        text_json[0] != '"' || !may_say(s))
        return;
    /* the arguments are JSON already: splice both string literals in as they came */
    size_t cap = room_len + text_len + 64;
    char *json = malloc(cap);
    if (!json)
        return;
    snprintf(json, cap, "[{\"from\":\"%s\",\"room\":%.*s,\"text\":%.*s}]", sio_socket_id(s),
             (int)room_len, room_json, (int)text_len, text_json);
    const char *rooms[] = {room};
    const char *except[] = {sio_socket_id(s)}; /* each socket is alone in a room named by its id */
    sio_target to = {.rooms = rooms, .nrooms = 1, .except = except, .nexcept = 1};
    sio_namespace_emit(sio_socket_namespace(s), &to, "say", json, NULL, 0);
    free(json);
}

static void on_nick(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                    void *user)
{
    (void)event, (void)ack, (void)user;
    size_t len;
    const char *name = sio_args_json(args, 0, &len);
    if (!name || name[0] != '"' || len > 128)
        return;
    char data[160];
    snprintf(data, sizeof(data), "{\"nick\":%.*s}", (int)len, name);
    sio_socket_set_data(s, data); /* copied; other servers see it through fetch sockets */
}

/* The answer to "who" comes later, from every server: the ack is retained until then. */
static void on_members(sio_namespace *nsp, int status, const sio_socket_info *sockets, size_t n,
                       void *user)
{
    (void)nsp, (void)status; /* on SIO_ETIMEDOUT, the servers that answered */
    size_t cap = 8;
    for (size_t i = 0; i < n; i++)
        cap += strlen(sockets[i].id) + strlen(sockets[i].data_json) + 24;
    char *json = malloc(cap);
    if (!json) {
        sio_ack_free(user);
        return;
    }
    size_t off = (size_t)snprintf(json, cap, "[[");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(json + off, cap - off, "%s{\"id\":\"%s\",\"data\":%s}",
                                i ? "," : "", sockets[i].id, sockets[i].data_json);
    snprintf(json + off, cap - off, "]]");
    sio_ack_send(user, json, NULL, 0);
    free(json);
}

static void on_who(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack, void *user)
{
    (void)event, (void)user;
    char room[128];
    if (!ack || sio_args_string(args, 0, room, sizeof(room)) < 0)
        return;
    const char *rooms[] = {room};
    sio_target to = {.rooms = rooms, .nrooms = 1};
    ack = sio_ack_retain(ack);
    if (sio_namespace_fetch_sockets(sio_socket_namespace(s), &to, on_members, ack) < 0)
        sio_ack_free(ack); /* an error: on_members will not run */
}

static void on_echo(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                    void *user)
{
    (void)event, (void)ack, (void)user;
    /* binary arguments are placeholders in the JSON: pass their attachments on, in order */
    sio_bin bins[16];
    size_t nbins = sio_args_binary_count(args), len;
    if (nbins > 16)
        return;
    for (size_t i = 0; i < nbins; i++)
        bins[i].data = sio_args_binary(args, i, &bins[i].len);
    const char *array = sio_args_array(args, &len);
    char *json = array ? strndup(array, len) : NULL;
    if (json)
        sio_socket_emit(s, "echo", json, bins, nbins, 0);
    free(json);
}

static void on_disconnect(sio_socket *s, const char *reason, void *user)
{
    (void)user;
    printf("%s left: %s\n", sio_socket_id(s), reason);
}

int main(int argc, char **argv)
{
    static char default_token[] = "secret";
    char *token = getenv("CHAT_TOKEN");
    if (!token)
        token = default_token;

    sio_server_options o;
    sio_server_options_init(&o);
    o.http.port = argc > 1 ? atoi(argv[1]) : 3000;
    o.http.cors_origin = "*"; /* let pages from any origin use HTTP long-polling */

    sio_server *srv = sio_server_new(NULL, &o); /* NULL: the server owns its event loop */
    if (!srv)
        return 1;
    sio_namespace *root = sio_server_of(srv, "/");
    sio_namespace_use(root, check_token, token);
    sio_namespace_on_connection(root, on_connection, NULL);
    sio_namespace_on_disconnect(root, on_disconnect, NULL);
    sio_namespace_on(root, "join", on_join, NULL);
    sio_namespace_on(root, "say", on_say, NULL);
    sio_namespace_on(root, "nick", on_nick, NULL);
    sio_namespace_on(root, "who", on_who, NULL);
    sio_namespace_on(root, "echo", on_echo, NULL);

    printf("chat server on port %d\n", sio_server_port(srv));
    fflush(stdout);
    sio_server_run(srv); /* until SIGINT or SIGTERM */
    sio_server_free(srv);
    return 0;
}
