/*
 * The Socket.IO layer (src/socketio/) on a fake transport and a manual clock (harness.h):
 * connect, rooms and broadcasts, acks both ways, middleware, disconnect reasons, socket data and
 * slots, and the asynchronous queries on the in-memory adapter. Every assertion on output is on
 * the exact Engine.IO message a client would receive.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what the callbacks saw --------------------------------------------------------------- */

typedef struct seen {
    int connections;
    int disconnects;
    char reason[64];
    char last_sid[SIO_ID_LEN + 1];
    int events;
    char event[64];
    char args[256];
    sio_ack *ack;  /* retained by a handler */
    int ack_calls; /* sio_ack_cb / sio_broadcast_ack_cb runs */
    int ack_status;
    char ack_args[256];
    int ack_socket_null;
    size_t nresponses;
    char responses[4][64];
    sio_next *next; /* kept by an asynchronous middleware (the last one) */
    sio_next *nexts[8];
    int nnexts;
    int mw_calls;
    int frees; /* slot free_fn runs */
    int last_freed;
} seen;

static seen R;
static h_server *S;

static void setup(void)
{
    h_quiet_log();
    memset(&R, 0, sizeof(R));
    S = h_server_new(NULL);
}

static void teardown(void)
{
    h_server_free(S);
}

static sio_namespace *nsp_of(const char *name)
{
    sio_namespace *n = sio_io_of(S->io, name);
    cr_assert_not_null(n);
    return n;
}

static void on_connection(sio_socket *s, void *user)
{
    (void)user;
    R.connections++;
    strcpy(R.last_sid, sio_socket_id(s));
}

static void on_disconnect(sio_socket *s, const char *reason, void *user)
{
    (void)user;
    R.disconnects++;
    snprintf(R.reason, sizeof(R.reason), "%s", reason);
    /* the socket has left its rooms already and is no longer connected */
    cr_assert_eq(sio_socket_room_count(s), 0);
    cr_assert_eq(sio_socket_connected(s), 0);
}

static void watch(sio_namespace *n)
{
    sio_namespace_on_connection(n, on_connection, NULL);
    sio_namespace_on_disconnect(n, on_disconnect, NULL);
}

/* ---- connect ------------------------------------------------------------------------------ */

TestSuite(sio_connect, .init = setup, .fini = teardown);

Test(sio_connect, root_namespace_answers_with_the_socket_id)
{
    watch(nsp_of("/"));
    h_client *c = h_client_ws(S);
    sio_socket *s = h_connect(c, "/", NULL);
    cr_assert_eq(R.connections, 1);
    cr_assert_str_eq(R.last_sid, sio_socket_id(s));
    cr_assert_str_eq(sio_socket_auth(s), "{}");
    cr_assert_str_eq(sio_socket_transport(s), "websocket");
    /* the socket is in its own room only */
    cr_assert_eq(sio_socket_room_count(s), 1);
    cr_assert_str_eq(sio_socket_room(s, 0), sio_socket_id(s));
    cr_assert_eq(sio_namespace_socket_count(nsp_of("/")), 1);
    cr_assert_eq(S->stats.sockets_connected, 1);
    /* the socket id is not the Engine.IO session id */
    cr_assert_str_neq(sio_socket_id(s), eio_session_id(c->s));
}

Test(sio_connect, named_namespace_with_auth)
{
    watch(nsp_of("/chat"));
    h_client *c = h_client_ws(S);
    sio_socket *s = h_connect(c, "/chat", "{\"token\":\"abc\"}");
    cr_assert_str_eq(sio_socket_auth(s), "{\"token\":\"abc\"}");
    cr_assert_str_eq(sio_namespace_name(sio_socket_namespace(s)), "/chat");
    char host[64];
    cr_assert_eq(sio_socket_header(s, "host", host, sizeof(host)), 10);
    cr_assert_str_eq(host, "test.local");
    cr_assert_eq(sio_socket_header(s, "cookie", host, sizeof(host)), SIO_ENOTFOUND);
    /* a second namespace over the same connection */
    sio_socket *r = h_connect(c, "/", NULL);
    cr_assert_str_neq(sio_socket_id(r), sio_socket_id(s));
    cr_assert_eq(R.connections, 1); /* only /chat is watched */
}

Test(sio_connect, unknown_namespace_is_refused_and_the_connection_stays)
{
    nsp_of("/");
    h_client *c = h_client_ws(S);
    h_send(c, "0/nope,");
    h_expect(c, "44/nope,{\"message\":\"Invalid namespace\"}");
    cr_assert(h_client_open(c));
    h_connect(c, "/", NULL);
}

Test(sio_connect, a_connection_that_joins_nothing_is_closed_at_connect_timeout)
{
    h_client *idle = h_client_ws(S);
    h_client *busy = h_client_ws(S);
    h_connect(busy, "/", NULL);
    h_advance(S, 999);
    cr_assert(h_client_open(idle));
    h_advance(S, 1);
    cr_assert_not(h_client_open(idle));
    cr_assert_eq(eio_server_stats(S->eio)->closes[EIO_CLOSE_FORCED], 1);
    cr_assert(h_client_open(busy));
}

Test(sio_connect, second_connect_to_a_joined_namespace_closes_the_connection)
{
    h_client *c = h_client_ws(S);
    h_connect(c, "/", NULL);
    h_send(c, "0");
    cr_assert_not(h_client_open(c));
    cr_assert_eq(eio_server_stats(S->eio)->closes[EIO_CLOSE_PARSE_ERROR], 1);
}

Test(sio_connect, event_for_a_namespace_not_joined_closes_the_connection)
{
    nsp_of("/chat");
    h_client *c = h_client_ws(S);
    h_connect(c, "/", NULL);
    h_send(c, "2/chat,[\"x\"]");
    cr_assert_not(h_client_open(c));
}

/* ---- rooms and broadcasts ----------------------------------------------------------------- */

TestSuite(sio_rooms, .init = setup, .fini = teardown);

typedef struct trio {
    h_client *c[3];
    sio_socket *s[3];
} trio;

/* Three clients on ns; a joins "a", b joins "a" and "b", c joins "c". */
static trio three(const char *ns)
{
    trio t;
    nsp_of(ns);
    for (int i = 0; i < 3; i++) {
        t.c[i] = h_client_ws(S);
        t.s[i] = h_connect(t.c[i], ns, NULL);
    }
    cr_assert_eq(sio_socket_join(t.s[0], "a"), 0);
    cr_assert_eq(sio_socket_join(t.s[1], "a"), 0);
    cr_assert_eq(sio_socket_join(t.s[1], "b"), 0);
    cr_assert_eq(sio_socket_join(t.s[2], "c"), 0);
    return t;
}

Test(sio_rooms, join_and_leave)
{
    h_client *c = h_client_ws(S);
    sio_socket *s = h_connect(c, "/", NULL);
    cr_assert_eq(sio_socket_join(s, "r1"), 0);
    cr_assert_eq(sio_socket_join(s, "r1"), 0); /* twice is once */
    cr_assert_eq(sio_socket_join(s, "r2"), 0);
    cr_assert_eq(sio_socket_room_count(s), 3);
    cr_assert_eq(sio_socket_leave(s, "r1"), 0);
    cr_assert_eq(sio_socket_leave(s, "never"), 0);
    cr_assert_eq(sio_socket_room_count(s), 2);
    sio_namespace *n = nsp_of("/");
    const char *r1 = "r1", *r2 = "r2";
    sio_target to1 = {.rooms = &r1, .nrooms = 1}, to2 = {.rooms = &r2, .nrooms = 1};
    cr_assert_eq(sio_namespace_emit(n, &to1, "x", NULL, NULL, 0), 0);
    h_expect_none(c);
    cr_assert_eq(sio_namespace_emit(n, &to2, "x", NULL, NULL, 0), 1);
    h_expect(c, "42[\"x\"]");
}

Test(sio_rooms, broadcast_to_one_room)
{
    trio t = three("/");
    const char *a = "a";
    sio_target to = {.rooms = &a, .nrooms = 1};
    cr_assert_eq(sio_namespace_emit(nsp_of("/"), &to, "news", "[1,\"two\",{\"k\":[3]}]", NULL, 0),
                 2);
    h_expect(t.c[0], "42[\"news\",1,\"two\",{\"k\":[3]}]");
    h_expect(t.c[1], "42[\"news\",1,\"two\",{\"k\":[3]}]");
    h_expect_none(t.c[2]);
    cr_assert_eq(S->stats.broadcasts, 1);
}

Test(sio_rooms, a_socket_in_two_target_rooms_gets_it_once)
{
    trio t = three("/");
    const char *rooms[] = {"a", "b", "c"};
    sio_target to = {.rooms = rooms, .nrooms = 3};
    uint64_t encoded = S->stats.packets_encoded;
    cr_assert_eq(sio_namespace_emit(nsp_of("/"), &to, "x", "[]", NULL, 0), 3);
    cr_assert_eq(S->stats.packets_encoded, encoded + 1, "a broadcast is encoded once");
    for (int i = 0; i < 3; i++) {
        h_expect(t.c[i], "42[\"x\"]");
        h_expect_none(t.c[i]);
    }
}

Test(sio_rooms, except_rooms_and_except_socket_ids)
{
    trio t = three("/chat");
    sio_namespace *n = nsp_of("/chat");
    const char *a = "a", *b = "b";
    sio_target to = {.rooms = &a, .nrooms = 1, .except = &b, .nexcept = 1};
    cr_assert_eq(sio_namespace_emit(n, &to, "x", "[1]", NULL, 0), 1);
    h_expect(t.c[0], "42/chat,[\"x\",1]");
    h_expect_none(t.c[1]);
    h_expect_none(t.c[2]);
    /* the whole namespace except one socket (its own room) */
    const char *skip = sio_socket_id(t.s[2]);
    sio_target all_but = {.except = &skip, .nexcept = 1};
    cr_assert_eq(sio_namespace_emit(n, &all_but, "y", NULL, NULL, 0), 2);
    h_expect(t.c[0], "42/chat,[\"y\"]");
    h_expect(t.c[1], "42/chat,[\"y\"]");
    h_expect_none(t.c[2]);
    /* to one socket by its id */
    sio_target one = {.rooms = &skip, .nrooms = 1};
    cr_assert_eq(sio_namespace_emit(n, &one, "z", NULL, NULL, 0), 1);
    h_expect(t.c[2], "42/chat,[\"z\"]");
}

Test(sio_rooms, whole_namespace_only)
{
    trio t = three("/");
    h_client *other = h_client_ws(S);
    nsp_of("/other");
    h_connect(other, "/other", NULL);
    cr_assert_eq(sio_namespace_emit(nsp_of("/"), NULL, "all", "[true]", NULL, 0), 3);
    for (int i = 0; i < 3; i++)
        h_expect(t.c[i], "42[\"all\",true]");
    h_expect_none(other);
}

Test(sio_rooms, binary_broadcast_is_a_binary_event_with_attachments)
{
    trio t = three("/");
    sio_bin bins[2] = {{"\x01\x02", 2}, {"xyz", 3}};
    cr_assert_eq(sio_namespace_emit(nsp_of("/"), NULL, "file",
                                    "[{\"_placeholder\":true,\"num\":0},{\"n\":{\"_placeholder\":"
                                    "true,\"num\":1}}]",
                                    bins, 2),
                 3);
    h_expect(t.c[1], "452-[\"file\",{\"_placeholder\":true,\"num\":0},{\"n\":{\"_placeholder\":"
                     "true,\"num\":1}}]");
    h_expect_bin(t.c[1], "\x01\x02", 2);
    h_expect_bin(t.c[1], "xyz", 3);
    h_expect_none(t.c[1]);
}

Test(sio_rooms, emit_rejects_reserved_names_and_bad_json)
{
    trio t = three("/");
    sio_namespace *n = nsp_of("/");
    cr_assert_eq(sio_namespace_emit(n, NULL, "disconnect", NULL, NULL, 0), SIO_EINVAL);
    cr_assert_eq(sio_namespace_emit(n, NULL, "x", "[1,", NULL, 0), SIO_EINVAL);
    cr_assert_eq(sio_namespace_emit(n, NULL, "x", "{}", NULL, 0), SIO_EINVAL);
    cr_assert_eq(sio_socket_emit(t.s[0], "connect", NULL, NULL, 0, 0), SIO_EINVAL);
    h_expect_none(t.c[0]);
}

/* Trusted JSON skips the full validation but not the array check, and is sent as given. */
Test(sio_rooms, trusted_json_is_sent_as_written)
{
    trio t = three("/");
    sio_namespace *n = nsp_of("/");
    sio_target trusted = {.flags = SIO_EMIT_TRUSTED_JSON};
    cr_assert_eq(sio_namespace_emit(n, &trusted, "t", "[{\"a\":\"\\u00e9\"}, 2]", NULL, 0), 3);
    h_expect(t.c[0], "42[\"t\",{\"a\":\"\\u00e9\"}, 2]");
    h_expect(t.c[1], "42[\"t\",{\"a\":\"\\u00e9\"}, 2]");
    cr_assert_eq(sio_socket_emit(t.s[1], "u", "[null]", NULL, 0, SIO_EMIT_TRUSTED_JSON), 0);
    h_expect(t.c[1], "42[\"u\",null]");
    cr_assert_eq(sio_namespace_emit(n, &trusted, "x", "{}", NULL, 0), SIO_EINVAL);
    cr_assert_eq(sio_socket_emit(t.s[1], "x", "7", NULL, 0, SIO_EMIT_TRUSTED_JSON), SIO_EINVAL);
    cr_assert_eq(sio_socket_emit(t.s[1], "connect", "[]", NULL, 0, SIO_EMIT_TRUSTED_JSON),
                 SIO_EINVAL);
    h_expect_none(t.c[1]);
    h_expect(t.c[2], "42[\"t\",{\"a\":\"\\u00e9\"}, 2]");
    h_expect_none(t.c[2]);
}

Test(sio_rooms, volatile_skips_a_transport_that_cannot_write_now)
{
    h_client *ws = h_client_ws(S);
    h_connect(ws, "/", NULL);
    h_client *poll = h_client_polling(S);
    h_send(poll, "0");
    h_expect_prefix(poll, "40{\"sid\":\"");
    /* no GET is held now: the polling session is not writable */
    sio_target vol = {.flags = SIO_EMIT_VOLATILE};
    sio_namespace *n = nsp_of("/");
    sio_namespace_emit(n, &vol, "tick", "[1]", NULL, 0);
    sio_namespace_emit(n, NULL, "kept", NULL, NULL, 0);
    h_expect(ws, "42[\"tick\",1]");
    h_expect(ws, "42[\"kept\"]");
    h_expect(poll, "42[\"kept\"]");
}

Test(sio_rooms, server_side_join_leave_and_disconnect_of_a_target)
{
    trio t = three("/");
    sio_namespace *n = nsp_of("/");
    watch(n);
    const char *a = "a";
    sio_target in_a = {.rooms = &a, .nrooms = 1};
    cr_assert_eq(sio_namespace_sockets_join(n, &in_a, "vip"), 2);
    cr_assert_eq(sio_socket_room_count(t.s[0]), 3);
    cr_assert_eq(sio_namespace_sockets_leave(n, NULL, "a"), 3);
    cr_assert_eq(sio_socket_room_count(t.s[0]), 2);
    const char *vip = "vip";
    sio_target in_vip = {.rooms = &vip, .nrooms = 1};
    cr_assert_eq(sio_namespace_disconnect_sockets(n, &in_vip, 0), 2);
    cr_assert_eq(R.disconnects, 2);
    cr_assert_str_eq(R.reason, "server namespace disconnect");
    h_expect(t.c[0], "41");
    h_expect(t.c[1], "41");
    h_expect_none(t.c[2]);
    cr_assert(h_client_open(t.c[0]));
    cr_assert_eq(sio_namespace_socket_count(n), 1);
}

/* ---- acks --------------------------------------------------------------------------------- */

TestSuite(sio_acks, .init = setup, .fini = teardown);

static void answer_now(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                       void *user)
{
    (void)s, (void)user;
    R.events++;
    snprintf(R.event, sizeof(R.event), "%s", event);
    size_t n;
    const char *a = sio_args_array(args, &n);
    snprintf(R.args, sizeof(R.args), "%.*s", (int)n, a);
    if (ack) {
        cr_assert_eq(sio_ack_send(ack, "[\"ok\",{\"n\":1}]", NULL, 0), 0);
        cr_assert_eq(sio_ack_send(ack, "[\"twice\"]", NULL, 0), SIO_EINVAL);
    }
}

static void answer_later(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                         void *user)
{
    (void)s, (void)event, (void)args, (void)user;
    R.events++;
    R.ack = ack ? sio_ack_retain(ack) : NULL;
}

Test(sio_acks, client_asks_and_the_handler_answers_at_once)
{
    sio_namespace_on(nsp_of("/"), "q", answer_now, NULL);
    h_client *c = h_client_ws(S);
    h_connect(c, "/", NULL);
    h_send(c, "27[\"q\",1,\"x\"]");
    cr_assert_eq(R.events, 1);
    cr_assert_str_eq(R.event, "q");
    cr_assert_str_eq(R.args, "[1,\"x\"]");
    h_expect(c, "437[\"ok\",{\"n\":1}]");
    h_expect_none(c);
    /* without an id there is no ack */
    h_send(c, "2[\"q\"]");
    cr_assert_eq(R.events, 2);
    h_expect_none(c);
}

Test(sio_acks, client_ack_answered_later_through_a_retained_ack)
{
    sio_namespace_on(nsp_of("/chat"), "q", answer_later, NULL);
    h_client *c = h_client_ws(S);
    h_connect(c, "/chat", NULL);
    h_send(c, "2/chat,12[\"q\"]");
    cr_assert_not_null(R.ack);
    h_expect_none(c);
    h_advance(S, 500);
    sio_bin bin = {"\xff", 1};
    cr_assert_eq(sio_ack_send(R.ack, "[{\"_placeholder\":true,\"num\":0}]", &bin, 1), 0);
    h_expect(c, "461-/chat,12[{\"_placeholder\":true,\"num\":0}]");
    h_expect_bin(c, "\xff", 1);
}

Test(sio_acks, a_retained_ack_after_the_socket_left_reports_closed)
{
    sio_namespace_on(nsp_of("/"), "q", answer_later, NULL);
    h_client *c = h_client_ws(S);
    h_connect(c, "/", NULL);
    h_send(c, "23[\"q\"]");
    h_send(c, "1");
    cr_assert_eq(sio_ack_send(R.ack, "[1]", NULL, 0), SIO_ECLOSED);
    /* and one that is freed without an answer */
    h_connect(c, "/", NULL);
    h_send(c, "24[\"q\"]");
    sio_ack_free(R.ack);
    h_expect_none(c);
}

static void on_ack(sio_socket *s, int status, const sio_args *args, void *user)
{
    (void)user;
    R.ack_calls++;
    R.ack_status = status;
    R.ack_socket_null = s == NULL;
    R.ack_args[0] = 0;
    if (args) {
        size_t n;
        const char *a = sio_args_array(args, &n);
        snprintf(R.ack_args, sizeof(R.ack_args), "%.*s", (int)n, a);
    }
}

Test(sio_acks, server_asks_and_the_client_answers)
{
    h_client *c = h_client_ws(S);
    sio_socket *s = h_connect(c, "/", NULL);
    cr_assert_eq(sio_socket_emit_ack(s, "ask", "[1]", NULL, 0, 1000, on_ack, NULL), 0);
    cr_assert_eq(sio_socket_emit_ack(s, "ask", "[2]", NULL, 0, 1000, on_ack, NULL), 0);
    h_expect(c, "420[\"ask\",1]");
    h_expect(c, "421[\"ask\",2]");
    h_send(c, "31[\"second\"]");
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, 0);
    cr_assert_str_eq(R.ack_args, "[\"second\"]");
    h_send(c, "30[]");
    cr_assert_eq(R.ack_calls, 2);
    cr_assert_str_eq(R.ack_args, "[]");
    /* an unknown or repeated id is ignored */
    h_send(c, "30[\"again\"]");
    h_send(c, "399[]");
    cr_assert_eq(R.ack_calls, 2);
    h_advance(S, 5000);
    cr_assert_eq(R.ack_calls, 2, "answered acks must not time out");
    cr_assert(h_client_open(c));
}

Test(sio_acks, server_ack_times_out_once)
{
    h_client *c = h_client_ws(S);
    sio_socket *s = h_connect(c, "/", NULL);
    cr_assert_eq(sio_socket_emit_ack(s, "ask", NULL, NULL, 0, 300, on_ack, NULL), 0);
    h_expect(c, "420[\"ask\"]");
    h_advance(S, 299);
    cr_assert_eq(R.ack_calls, 0);
    h_advance(S, 1);
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, SIO_ETIMEDOUT);
    cr_assert_eq(S->stats.ack_timeouts, 1);
    h_send(c, "30[\"late\"]");
    h_advance(S, 1000);
    cr_assert_eq(R.ack_calls, 1);
}

Test(sio_acks, server_ack_fails_with_closed_when_the_socket_leaves_first)
{
    h_client *c = h_client_ws(S);
    sio_socket *s = h_connect(c, "/", NULL);
    cr_assert_eq(sio_socket_emit_ack(s, "ask", NULL, NULL, 0, 300, on_ack, NULL), 0);
    cr_assert_eq(sio_socket_emit_ack(s, "ask", NULL, NULL, 0, 0, on_ack, NULL), 0);
    h_expect(c, "420[\"ask\"]");
    h_expect(c, "421[\"ask\"]");
    h_send(c, "1");
    cr_assert_eq(R.ack_calls, 2);
    cr_assert_eq(R.ack_status, SIO_ECLOSED);
    cr_assert(R.ack_socket_null);
    h_advance(S, 1000);
    cr_assert_eq(R.ack_calls, 2);
}

static void on_bcast(sio_namespace *nsp, int status, const sio_args *const *responses, size_t n,
                     void *user)
{
    (void)nsp, (void)user;
    R.ack_calls++;
    R.ack_status = status;
    R.nresponses = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        size_t len;
        const char *a = sio_args_array(responses[i], &len);
        snprintf(R.responses[i], sizeof(R.responses[i]), "%.*s", (int)len, a);
    }
}

Test(sio_acks, broadcast_with_acks_all_answer)
{
    trio t = three("/");
    sio_namespace *n = nsp_of("/");
    const char *a = "a";
    sio_target to = {.rooms = &a, .nrooms = 1};
    cr_assert_eq(sio_namespace_emit_ack(n, &to, "vote", "[\"?\"]", NULL, 0, 1000, on_bcast, NULL),
                 2);
    cr_assert_eq(R.ack_calls, 0, "the callback ran inside the emit");
    /* one id for every recipient */
    h_expect(t.c[0], "420[\"vote\",\"?\"]");
    h_expect(t.c[1], "420[\"vote\",\"?\"]");
    h_expect_none(t.c[2]);
    h_send(t.c[0], "30[\"yes\"]");
    h_send(t.c[1], "30[\"no\"]");
    cr_assert_eq(R.ack_calls, 0, "answers before the next loop turn complete it there");
    h_advance(S, 0);
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, 0);
    cr_assert_eq(R.nresponses, 2);
    cr_assert_str_eq(R.responses[0], "[\"yes\"]");
    cr_assert_str_eq(R.responses[1], "[\"no\"]");
    h_advance(S, 2000);
    cr_assert_eq(R.ack_calls, 1);
}

Test(sio_acks, broadcast_with_acks_answers_after_the_first_turn)
{
    trio t = three("/");
    cr_assert_eq(
        sio_namespace_emit_ack(nsp_of("/"), NULL, "vote", NULL, NULL, 0, 1000, on_bcast, NULL), 3);
    h_advance(S, 0);
    cr_assert_eq(R.ack_calls, 0);
    for (int i = 0; i < 3; i++) {
        h_expect(t.c[i], "420[\"vote\"]");
        h_send(t.c[i], "30[1]");
    }
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, 0);
    cr_assert_eq(R.nresponses, 3);
}

Test(sio_acks, broadcast_with_acks_times_out_with_what_came)
{
    trio t = three("/");
    const char *a = "a";
    sio_target to = {.rooms = &a, .nrooms = 1};
    cr_assert_eq(
        sio_namespace_emit_ack(nsp_of("/"), &to, "vote", NULL, NULL, 0, 500, on_bcast, NULL), 2);
    h_send(t.c[0], "30[\"yes\"]");
    h_advance(S, 499);
    cr_assert_eq(R.ack_calls, 0);
    h_advance(S, 1);
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, SIO_ETIMEDOUT);
    cr_assert_eq(R.nresponses, 1);
    cr_assert_str_eq(R.responses[0], "[\"yes\"]");
    cr_assert_eq(S->stats.ack_timeouts, 1);
    h_send(t.c[1], "30[\"late\"]");
    cr_assert_eq(R.ack_calls, 1);
}

Test(sio_acks, broadcast_with_acks_to_nobody_completes_on_the_next_turn)
{
    const char *a = "empty";
    sio_target to = {.rooms = &a, .nrooms = 1};
    cr_assert_eq(
        sio_namespace_emit_ack(nsp_of("/"), &to, "vote", NULL, NULL, 0, 500, on_bcast, NULL), 0);
    cr_assert_eq(R.ack_calls, 0);
    h_advance(S, 0);
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, 0);
    cr_assert_eq(R.nresponses, 0);
}

Test(sio_acks, broadcast_with_acks_stops_waiting_for_a_recipient_that_leaves)
{
    trio t = three("/");
    const char *a = "a";
    sio_target to = {.rooms = &a, .nrooms = 1};
    sio_namespace_emit_ack(nsp_of("/"), &to, "vote", NULL, NULL, 0, 0, on_bcast, NULL);
    h_advance(S, 0);
    h_send(t.c[0], "30[\"yes\"]");
    h_client_drop(t.c[1]);
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, 0);
    cr_assert_eq(R.nresponses, 1);
}

/* ---- middleware --------------------------------------------------------------------------- */

TestSuite(sio_middleware, .init = setup, .fini = teardown);

static void mw_accept(sio_socket *s, sio_next *next, void *user)
{
    (void)user;
    R.mw_calls++;
    cr_assert_eq(sio_socket_set_data(s, "{\"user\":\"u1\"}"), 0);
    cr_assert_eq(sio_next_socket(next), s);
    sio_next_accept(next);
}

static void mw_refuse(sio_socket *s, sio_next *next, void *user)
{
    (void)s, (void)user;
    R.mw_calls++;
    sio_next_refuse(next, "not \"allowed\"", "{\"code\":7}");
}

static void mw_later(sio_socket *s, sio_next *next, void *user)
{
    (void)s, (void)user;
    R.mw_calls++;
    R.next = next;
    if (R.nnexts < 8)
        R.nexts[R.nnexts++] = next;
}

Test(sio_middleware, synchronous_accept_runs_the_chain_in_order)
{
    sio_namespace *n = nsp_of("/");
    watch(n);
    sio_namespace_use(n, mw_accept, NULL);
    sio_namespace_use(n, mw_accept, NULL);
    h_client *c = h_client_ws(S);
    sio_socket *s = h_connect(c, "/", NULL);
    cr_assert_eq(R.mw_calls, 2);
    cr_assert_eq(R.connections, 1);
    cr_assert_str_eq(sio_socket_data(s), "{\"user\":\"u1\"}");
}

Test(sio_middleware, synchronous_refusal_sends_connect_error_with_data)
{
    sio_namespace *n = nsp_of("/");
    watch(n);
    sio_namespace_use(n, mw_refuse, NULL);
    sio_namespace_use(n, mw_accept, NULL);
    h_client *c = h_client_ws(S);
    h_send(c, "0");
    h_expect(c, "44{\"message\":\"not \\\"allowed\\\"\",\"data\":{\"code\":7}}");
    cr_assert_eq(R.mw_calls, 1);
    cr_assert_eq(R.connections, 0);
    cr_assert_eq(R.disconnects, 0);
    cr_assert_eq(S->stats.middleware_refusals, 1);
    cr_assert_eq(sio_namespace_socket_count(n), 0);
    cr_assert(h_client_open(c), "a refusal keeps the connection");
}

Test(sio_middleware, asynchronous_accept_later)
{
    sio_namespace *n = nsp_of("/chat");
    watch(n);
    sio_namespace_use(n, mw_later, NULL);
    sio_namespace_use(n, mw_accept, NULL);
    h_client *c = h_client_ws(S);
    h_send(c, "0/chat,");
    cr_assert_not_null(R.next);
    h_expect_none(c);
    h_advance(S, 300);
    h_expect_none(c);
    sio_next_accept(R.next);
    h_expect_prefix(c, "40/chat,{\"sid\":\"");
    cr_assert_eq(R.mw_calls, 2);
    cr_assert_eq(R.connections, 1);
    /* the middleware timer is gone: nothing happens at connect_timeout_ms */
    h_advance(S, 2000);
    cr_assert_eq(S->stats.middleware_timeouts, 0);
    h_expect_none(c);
    cr_assert(h_client_open(c));
}

Test(sio_middleware, asynchronous_refusal)
{
    sio_namespace *n = nsp_of("/");
    sio_namespace_use(n, mw_later, NULL);
    h_client *c = h_client_ws(S);
    h_send(c, "0");
    h_advance(S, 100);
    sio_next_refuse(R.next, "later no", NULL);
    h_expect(c, "44{\"message\":\"later no\"}");
    cr_assert_eq(S->stats.middleware_refusals, 1);
}

Test(sio_middleware, no_answer_is_refused_at_connect_timeout)
{
    sio_namespace *n = nsp_of("/auth");
    sio_namespace_use(n, mw_later, NULL);
    h_client *c = h_client_ws(S);
    h_connect(c, "/", NULL); /* the connection itself is in use */
    h_send(c, "0/auth,");
    h_advance(S, 999);
    h_expect_none(c);
    h_advance(S, 1);
    h_expect(c, "44/auth,{\"message\":\"middleware timeout\"}");
    cr_assert_eq(S->stats.middleware_timeouts, 1);
    cr_assert_eq(S->stats.middleware_refusals, 1);
    /* the late answer is a no-op (and frees next) */
    sio_next_accept(R.next);
    h_expect_none(c);
    cr_assert_eq(sio_namespace_socket_count(n), 0);
    cr_assert(h_client_open(c));
}

Test(sio_middleware, connection_closing_while_pending_makes_the_answer_a_no_op)
{
    sio_namespace *n = nsp_of("/");
    watch(n);
    sio_namespace_use(n, mw_later, NULL);
    sio_namespace_use(n, mw_accept, NULL);
    h_client *c = h_client_ws(S);
    h_send(c, "0");
    sio_socket *s = sio_next_socket(R.next);
    h_client_drop(c);
    cr_assert_eq(R.disconnects, 0, "a socket that never connected does not disconnect");
    /* the socket stays valid until next is answered */
    cr_assert_eq(sio_socket_connected(s), 0);
    cr_assert_eq(sio_socket_emit(s, "x", NULL, NULL, 0, 0), SIO_ECLOSED);
    sio_next_accept(R.next);
    cr_assert_eq(R.mw_calls, 1);
    cr_assert_eq(R.connections, 0);
    h_advance(S, 5000);
    cr_assert_eq(S->stats.middleware_timeouts, 0);
}

Test(sio_middleware, refusing_late_after_close_is_a_no_op)
{
    sio_namespace *n = nsp_of("/");
    sio_namespace_use(n, mw_later, NULL);
    h_client *c = h_client_ws(S);
    h_send(c, "0");
    h_client_drop(c);
    sio_next_refuse(R.next, "too late", NULL);
    cr_assert_eq(S->stats.middleware_refusals, 0);
}

/* ---- disconnect reasons ------------------------------------------------------------------- */

TestSuite(sio_disconnect, .init = setup, .fini = teardown);

static h_client *connected(sio_socket **s)
{
    watch(nsp_of("/"));
    h_client *c = h_client_ws(S);
    *s = h_connect(c, "/", NULL);
    return c;
}

Test(sio_disconnect, client_namespace_disconnect)
{
    sio_socket *s;
    h_client *c = connected(&s);
    h_send(c, "1");
    cr_assert_eq(R.disconnects, 1);
    cr_assert_str_eq(R.reason, "client namespace disconnect");
    cr_assert(h_client_open(c), "other namespaces may still use the connection");
    h_expect_none(c);
    cr_assert_eq(sio_namespace_socket_count(nsp_of("/")), 0);
}

Test(sio_disconnect, server_namespace_disconnect)
{
    sio_socket *s;
    h_client *c = connected(&s);
    sio_socket_disconnect(s, 0);
    cr_assert_eq(R.disconnects, 1);
    cr_assert_str_eq(R.reason, "server namespace disconnect");
    h_expect(c, "41");
    cr_assert(h_client_open(c));
}

Test(sio_disconnect, server_disconnect_with_close_ends_the_connection)
{
    sio_socket *s;
    h_client *c = connected(&s);
    sio_namespace *chat = nsp_of("/chat");
    watch(chat);
    h_connect(c, "/chat", NULL);
    sio_socket_disconnect(s, 1);
    cr_assert_eq(R.disconnects, 2);
    cr_assert_str_eq(R.reason, "server namespace disconnect");
    cr_assert_not(h_client_open(c));
    /* both namespaces are told before the connection goes */
    h_expect(c, "41/chat,");
    h_expect(c, "41");
}

Test(sio_disconnect, transport_close)
{
    sio_socket *s;
    h_client *c = connected(&s);
    h_client_drop(c);
    cr_assert_str_eq(R.reason, "transport close");
}

Test(sio_disconnect, forced_close)
{
    sio_socket *s;
    h_client *c = connected(&s);
    sio_socket_close_connection(s);
    cr_assert_str_eq(R.reason, "forced close");
    cr_assert_not(h_client_open(c));
    h_expect_none(c); /* no DISCONNECT packet */
}

Test(sio_disconnect, parse_error)
{
    sio_socket *s;
    h_client *c = connected(&s);
    h_send(c, "2[\"unterminated");
    cr_assert_str_eq(R.reason, "parse error");
    cr_assert_not(h_client_open(c));
}

Test(sio_disconnect, server_shutting_down)
{
    sio_socket *s;
    connected(&s);
    eio_server_shutdown(S->eio);
    cr_assert_str_eq(R.reason, "server shutting down");
}

Test(sio_disconnect, handler_that_disconnects_its_own_socket)
{
    sio_socket *s;
    h_client *c = connected(&s);
    sio_namespace_on_any(nsp_of("/"), answer_later, NULL);
    h_send(c, "25[\"bye\"]");
    sio_socket_disconnect(s, 1);
    cr_assert_eq(R.disconnects, 1);
    cr_assert_eq(sio_ack_send(R.ack, NULL, NULL, 0), SIO_ECLOSED);
}

static seen *hb_seen;

static void hb_disconnect(sio_socket *s, const char *reason, void *user)
{
    (void)s, (void)user;
    hb_seen->disconnects++;
    snprintf(hb_seen->reason, sizeof(hb_seen->reason), "%s", reason);
}

Test(sio_disconnect_engine, ping_timeout)
{
    /* With a heartbeat of 0 ms the engine pings on the first loop turn and gives up on the
     * next: the ping timeout, without waiting. */
    h_quiet_log();
    seen r = {0};
    hb_seen = &r;
    h_config cfg = {.zero_heartbeat = 1};
    h_server *srv = h_server_new(&cfg);
    sio_namespace_on_disconnect(sio_io_of(srv->io, "/"), hb_disconnect, NULL);
    h_client *c = h_client_ws(srv);
    h_send(c, "0");
    for (int i = 0; i < 10 && !r.disconnects; i++)
        h_spin(srv->base);
    cr_assert_eq(r.disconnects, 1);
    cr_assert_str_eq(r.reason, "ping timeout");
    h_server_free(srv);
}

/* ---- socket data and slots ---------------------------------------------------------------- */

TestSuite(sio_data, .init = setup, .fini = teardown);

static int freed_values[8];

static void slot_free(void *v)
{
    R.frees++;
    R.last_freed = *(int *)v;
}

static const sio_slot key_a = {"a"}, key_b = {"b"};

Test(sio_data, json_data_is_validated_and_replaced)
{
    sio_socket *s;
    connected(&s);
    cr_assert_str_eq(sio_socket_data(s), "{}");
    cr_assert_eq(sio_socket_set_data(s, "{\"n\":1}"), 0);
    cr_assert_str_eq(sio_socket_data(s), "{\"n\":1}");
    cr_assert_eq(sio_socket_set_data(s, "{\"n\":"), SIO_EINVAL);
    cr_assert_eq(sio_socket_set_data(s, "1 2"), SIO_EINVAL);
    cr_assert_eq(sio_socket_set_data(s, NULL), SIO_EINVAL);
    cr_assert_str_eq(sio_socket_data(s), "{\"n\":1}");
    cr_assert_eq(sio_socket_set_data(s, "[\"any\",\"json\"]"), 0);
    cr_assert_str_eq(sio_socket_data(s), "[\"any\",\"json\"]");
}

Test(sio_data, slots_free_on_replace_and_with_the_socket)
{
    for (int i = 0; i < 8; i++)
        freed_values[i] = i;
    sio_socket *s;
    h_client *c = connected(&s);
    cr_assert_null(sio_socket_slot(s, &key_a));
    cr_assert_eq(sio_socket_set_slot(s, &key_a, &freed_values[1], slot_free), 0);
    cr_assert_eq(sio_socket_set_slot(s, &key_b, &freed_values[2], NULL), 0);
    cr_assert_eq(sio_socket_slot(s, &key_a), &freed_values[1]);
    cr_assert_eq(sio_socket_slot(s, &key_b), &freed_values[2]);
    /* the same value again: not freed */
    cr_assert_eq(sio_socket_set_slot(s, &key_a, &freed_values[1], slot_free), 0);
    cr_assert_eq(R.frees, 0);
    cr_assert_eq(sio_socket_set_slot(s, &key_a, &freed_values[3], slot_free), 0);
    cr_assert_eq(R.frees, 1);
    cr_assert_eq(R.last_freed, 1);
    cr_assert_eq(sio_socket_slot(s, &key_a), &freed_values[3]);
    /* freed when the socket is (after on_disconnect) */
    h_send(c, "1");
    cr_assert_eq(R.disconnects, 1);
    cr_assert_eq(R.frees, 2);
    cr_assert_eq(R.last_freed, 3);
}

/* ---- asynchronous queries on the in-memory adapter ---------------------------------------- */

TestSuite(sio_queries, .init = setup, .fini = teardown);

typedef struct fetched {
    int calls, status;
    size_t n;
    char ids[4][SIO_ID_LEN + 1];
    char rooms[4][128];
    char data[4][64];
    int has_handshake[4];
} fetched;

static fetched F;

static void on_fetch(sio_namespace *nsp, int status, const sio_socket_info *v, size_t n, void *user)
{
    (void)nsp, (void)user;
    F.calls++;
    F.status = status;
    F.n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(F.ids[i], sizeof(F.ids[i]), "%s", v[i].id);
        F.rooms[i][0] = 0;
        for (size_t r = 0; r < v[i].nrooms; r++) {
            strncat(F.rooms[i], v[i].rooms[r], sizeof(F.rooms[i]) - strlen(F.rooms[i]) - 2);
            strcat(F.rooms[i], ";");
        }
        snprintf(F.data[i], sizeof(F.data[i]), "%s", v[i].data_json);
        F.has_handshake[i] = strstr(v[i].handshake_json, "\"host\":\"test.local\"") != NULL;
    }
}

Test(sio_queries, fetch_sockets_gives_snapshots_after_the_call)
{
    trio t = three("/");
    sio_socket_set_data(t.s[1], "{\"user\":\"b\"}");
    const char *b = "b";
    sio_target to = {.rooms = &b, .nrooms = 1};
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), &to, on_fetch, NULL), 0);
    cr_assert_eq(F.calls, 0, "the callback ran inside the call");
    h_advance(S, 0);
    cr_assert_eq(F.calls, 1);
    cr_assert_eq(F.status, 0);
    cr_assert_eq(F.n, 1);
    cr_assert_str_eq(F.ids[0], sio_socket_id(t.s[1]));
    char want[128];
    snprintf(want, sizeof(want), "%s;a;b;", sio_socket_id(t.s[1]));
    cr_assert_str_eq(F.rooms[0], want);
    cr_assert_str_eq(F.data[0], "{\"user\":\"b\"}");
    cr_assert(F.has_handshake[0]);
    h_advance(S, 10000);
    cr_assert_eq(F.calls, 1);
    /* the whole namespace */
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), NULL, on_fetch, NULL), 0);
    h_advance(S, 0);
    cr_assert_eq(F.calls, 2);
    cr_assert_eq(F.n, 3);
}

typedef struct roomlist {
    int calls, status;
    char all[256];
    size_t n;
} roomlist;

static roomlist RL;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void on_rooms(sio_namespace *nsp, int status, const char *const *rooms, size_t n, void *user)
{
    (void)nsp, (void)user;
    RL.calls++;
    RL.status = status;
    RL.n = n;
    const char *v[16];
    for (size_t i = 0; i < n && i < 16; i++)
        v[i] = rooms[i];
    qsort(v, n < 16 ? n : 16, sizeof(v[0]), cmp_str);
    RL.all[0] = 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        if (strlen(v[i]) == SIO_ID_LEN)
            continue; /* socket ids: random */
        strcat(RL.all, v[i]);
        strcat(RL.all, ";");
    }
}

Test(sio_queries, all_rooms)
{
    three("/");
    cr_assert_eq(sio_namespace_all_rooms(nsp_of("/"), on_rooms, NULL), 0);
    cr_assert_eq(RL.calls, 0);
    h_advance(S, 0);
    cr_assert_eq(RL.calls, 1);
    cr_assert_eq(RL.status, 0);
    cr_assert_eq(RL.n, 6); /* three own rooms, a, b, c */
    cr_assert_str_eq(RL.all, "a;b;c;");
}

static int count_calls;
static size_t count_servers;
static int count_status;

static void on_count(sio_namespace *nsp, int status, size_t servers, void *user)
{
    (void)nsp, (void)user;
    count_calls++;
    count_status = status;
    count_servers = servers;
}

Test(sio_queries, server_count_is_one)
{
    cr_assert_eq(sio_namespace_server_count(nsp_of("/"), on_count, NULL), 0);
    cr_assert_eq(count_calls, 0);
    h_advance(S, 0);
    cr_assert_eq(count_calls, 1);
    cr_assert_eq(count_status, 0);
    cr_assert_eq(count_servers, 1);
}

Test(sio_queries, server_emit_with_ack_on_a_lone_server)
{
    sio_namespace *n = nsp_of("/");
    cr_assert_eq(sio_namespace_server_emit(n, "hello", "[1]", NULL, 0, 0, on_bcast, NULL), 0);
    cr_assert_eq(R.ack_calls, 0);
    h_advance(S, 0);
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, 0);
    cr_assert_eq(R.nresponses, 0);
    cr_assert_eq(sio_namespace_server_emit(n, "hello", NULL, NULL, 0, 0, NULL, NULL), 0);
    cr_assert_eq(sio_namespace_server_emit(n, "connect", NULL, NULL, 0, 0, NULL, NULL), SIO_EINVAL);
    cr_assert_eq(sio_namespace_server_emit(n, "x", "{}", NULL, 0, 0, on_bcast, NULL), SIO_EINVAL);
    h_advance(S, 10000);
    cr_assert_eq(R.ack_calls, 1);
}

Test(sio_queries, pending_queries_fail_with_closed_at_shutdown)
{
    /* a lone server answers on the next turn; shut down before it */
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), NULL, on_fetch, NULL), 0);
    sio_io_shutdown(S->io);
    h_advance(S, 0);
    cr_assert_eq(F.calls, 1);
    cr_assert_eq(F.status, SIO_ECLOSED);
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), NULL, on_fetch, NULL), SIO_ECLOSED);
}

Test(sio_acks, broadcast_with_acks_pending_at_shutdown_fails_with_closed)
{
    trio t = three("/");
    const char *a = "a";
    sio_target to = {.rooms = &a, .nrooms = 1};
    cr_assert_eq(
        sio_namespace_emit_ack(nsp_of("/"), &to, "vote", NULL, NULL, 0, 500, on_bcast, NULL), 2);
    (void)t;
    sio_io_shutdown(S->io);
    eio_server_shutdown(S->eio);
    h_advance(S, 0);
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, SIO_ECLOSED);
}

Test(sio_acks, broadcast_with_acks_to_nobody_at_shutdown_fails_with_closed)
{
    cr_assert_eq(
        sio_namespace_emit_ack(nsp_of("/"), NULL, "vote", NULL, NULL, 0, 500, on_bcast, NULL), 0);
    sio_io_shutdown(S->io);
    h_advance(S, 0);
    cr_assert_eq(R.ack_calls, 1);
    cr_assert_eq(R.ack_status, SIO_ECLOSED);
}

Test(sio_queries, local_fetch_pending_at_shutdown_fails_with_closed)
{
    sio_target local = {.flags = SIO_EMIT_LOCAL};
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), &local, on_fetch, NULL), 0);
    h_server_free(S);
    S = NULL;
    cr_assert_eq(F.calls, 1);
    cr_assert_eq(F.status, SIO_ECLOSED);
}

Test(sio_middleware_limits, connects_waiting_on_middleware_count_against_the_namespace_limit)
{
    /* Without counting them, one connection could hold any number of sockets in an
     * asynchronous middleware (each keeping a dynamic namespace alive, for instance). */
    h_quiet_log();
    h_config cfg = {.max_namespaces = 2};
    S = h_server_new(&cfg);
    const char *names[] = {"/a", "/b", "/c"};
    for (int i = 0; i < 3; i++)
        sio_namespace_use(sio_io_of(S->io, names[i]), mw_later, NULL);
    h_client *c = h_client_ws(S);
    h_send(c, "0/a,");
    h_send(c, "0/b,");
    cr_assert(h_client_open(c));
    h_send(c, "0/c,");
    cr_assert_not(h_client_open(c));
    cr_assert_eq(R.mw_calls, 2);
    for (int i = 0; i < R.nnexts; i++)
        sio_next_accept(R.nexts[i]); /* no-ops now, but they free next */
    h_server_free(S);
}
