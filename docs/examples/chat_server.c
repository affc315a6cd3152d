/*
 * A small chat server on the sio C API (walked through in docs/api.md). Clients connect with
 * io(url, { auth: { token } }) and then use:
 *   "join"(room, ack)  join room; the ack answers {ok:true} or {ok:false,error}
 *   "say"(room, text)  send "say"({from,room,text}) to the other members of room
 *   "echo"(...args)    get the same arguments back, binary attachments included
 * Usage: chat-server-example [port]; the accepted token is $CHAT_TOKEN (default "secret").
 */
#include <sio/sio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Connect middleware. The auth object arrives as JSON text; matching the serialised pair keeps
 * the example short (socket.io-client sends JSON.stringify output, without spaces). */
static int check_token(sio_socket *s, void *user)
{
    char want[256];
    snprintf(want, sizeof(want), "\"token\":\"%s\"", (const char *)user);
    if (strstr(sio_socket_auth(s), want))
        return 0;
    sio_socket_refuse(s, "unauthorized", "{\"code\":401}");
    return -1;
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
        text_json[0] != '"')
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
    o.port = argc > 1 ? atoi(argv[1]) : 3000;
    o.cors_origin = "*"; /* let pages from any origin use HTTP long-polling */

    sio_server *srv = sio_server_new(NULL, &o); /* NULL: the server owns its event loop */
    if (!srv)
        return 1;
    sio_namespace *root = sio_server_of(srv, "/");
    sio_namespace_use(root, check_token, token);
    sio_namespace_on_disconnect(root, on_disconnect, NULL);
    sio_namespace_on(root, "join", on_join, NULL);
    sio_namespace_on(root, "say", on_say, NULL);
    sio_namespace_on(root, "echo", on_echo, NULL);

    printf("chat server on port %d\n", sio_server_port(srv));
    fflush(stdout);
    sio_server_run(srv); /* until SIGINT or SIGTERM */
    sio_server_free(srv);
    return 0;
}
