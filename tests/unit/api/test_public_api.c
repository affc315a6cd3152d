/*
 * The public API (include/sio/sio.h, adapter.h, error.h) end to end: real servers on
 * 127.0.0.1, port 0, on a loop the test steps, and real long-polling clients (poll_client.h) on
 * the same loop. One server with the in-memory adapter covers namespaces, middleware, events,
 * arguments, acks, sockets, rooms, emits and the asynchronous queries; three servers joined by
 * the loopback bus of docs/examples/skeleton_adapter.c cover the cluster: broadcasts, fetch
 * sockets, all rooms, server count, server-side emits with acks, broadcasts with acks, remote
 * joins and disconnects, and the adapter host functions. scripts/check-api-coverage.sh checks
 * that every public function is called here.
 */
#include "poll_client.h"
#include "skeleton_adapter.h"

#include <sio/adapter.h>
#include <sio/error.h>
#include <sio/sio.h>

#include <criterion/criterion.h>

#include <signal.h>
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 5000

/* Steps the loop until cond holds (at most WAIT_MS), then asserts it. */
#define EXPECT_SOON(base, cond)                                                                    \
    do {                                                                                           \
        uint64_t deadline_ = poll_now_ms() + WAIT_MS;                                              \
        while (!(cond) && poll_now_ms() < deadline_)                                               \
            poll_step(base);                                                                       \
        cr_assert(cond, "timed out waiting for: %s", #cond);                                       \
    } while (0)

/* Steps the loop for ms whatever happens (to show that something does not happen). */
static void settle(struct event_base *base, int ms)
{
    uint64_t deadline = poll_now_ms() + (uint64_t)ms;
    while (poll_now_ms() < deadline)
        poll_step(base);
}

/* Waits for a packet starting with prefix and checks it is exactly want. */
static void expect_packet(poll_client *c, const char *prefix, const char *want)
{
    char *p = poll_client_wait(c, prefix, WAIT_MS);
    cr_assert_not_null(p, "no packet starting with %s (want %s)", prefix, want);
    cr_assert_str_eq(p, want);
    free(p);
}

/* Waits for an event packet that asks for an ack: prefix followed by the ack id. */
static char *wait_question(struct event_base *base, poll_client *c, const char *prefix)
{
    uint64_t deadline = poll_now_ms() + WAIT_MS;
    char p[64];
    do {
        for (char d = '0'; d <= '9'; d++) {
            snprintf(p, sizeof(p), "%s%c", prefix, d);
            char *t = poll_client_take(c, p);
            if (t)
                return t;
        }
        poll_step(base);
    } while (poll_now_ms() < deadline);
    return NULL;
}

/* ---- log capture ----------------------------------------------------------------------------- */

#define LOG_LINES 512

typedef struct log_capture {
    size_t n;
    char module[LOG_LINES][16];
    char line[LOG_LINES][200];
    int level[LOG_LINES];
} log_capture;

static log_capture logs;

static void capture_log(int level, const char *module, const char *line, void *user)
{
    log_capture *l = user;
    size_t i = l->n++ % LOG_LINES;
    snprintf(l->module[i], sizeof(l->module[i]), "%s", module);
    snprintf(l->line[i], sizeof(l->line[i]), "%s", line);
    l->level[i] = level;
}

/* Whether a line of module containing text was logged. */
static int logged(const char *module, const char *text)
{
    size_t n = logs.n < LOG_LINES ? logs.n : LOG_LINES;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(logs.module[i], module) && strstr(logs.line[i], text))
            return 1;
    return 0;
}

static sio_server_options test_options(void)
{
    sio_server_options o;
    sio_server_options_init(&o);
    o.http.host = "127.0.0.1";
    o.http.port = 0;
    return o;
}

/* ---- errors and options ---------------------------------------------------------------------- */

Test(public_api, strerror_and_options)
{
    static const int codes[] = {SIO_OK,        SIO_EINCOMPLETE, SIO_EPROTO,      SIO_ENOMEM,
                                SIO_ELIMIT,    SIO_ECLOSED,     SIO_ETIMEDOUT,   SIO_EINVAL,
                                SIO_ENOTFOUND, SIO_EIO,         SIO_EUNSUPPORTED};
    const size_t n = sizeof(codes) / sizeof(codes[0]);
    const char *unknown = sio_strerror(-1000);
    cr_assert_not_null(unknown);
    for (size_t i = 0; i < n; i++) {
        const char *t = sio_strerror(codes[i]);
        cr_assert(t && t[0], "no text for %d", codes[i]);
        cr_assert_str_neq(t, unknown, "code %d has the unknown text", codes[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(t, sio_strerror(codes[j]), "%d and %d share a text", codes[i],
                              codes[j]);
    }
    cr_assert_str_eq(sio_strerror(SIO_ETIMEDOUT), "timed out");
    cr_assert_str_eq(sio_strerror(SIO_ECLOSED), "closed");

    sio_server_options o;
    memset(&o, 0xa5, sizeof(o)); /* init must set every field, not rely on the caller */
    sio_server_options_init(&o);
    cr_assert_eq(o.http.port, 3000);
    cr_assert_null(o.http.host);
    cr_assert_null(o.http.cors_origin);
    cr_assert_eq(o.http.cors_max_age, -1);
    cr_assert_str_eq(o.http.cookie_path, "/");
    cr_assert_eq(o.http.max_header_bytes, 8192);
    cr_assert_str_eq(o.engine.path, "/socket.io/");
    cr_assert_eq(o.engine.ping_interval_ms, 25000);
    cr_assert_eq(o.engine.ping_timeout_ms, 20000);
    cr_assert_eq(o.engine.max_payload, 1000000);
    cr_assert(o.engine.allow_polling && o.engine.allow_websocket && o.engine.allow_upgrades);
    cr_assert_eq(o.engine.max_connections, 0);
    cr_assert_null(o.engine.initial_packet);
    cr_assert_eq(o.socketio.connect_timeout_ms, 45000);
    cr_assert_eq(o.socketio.max_attachments, 10);
    cr_assert_eq(o.socketio.max_rooms_per_socket, 10000);
    cr_assert_null(o.adapter.ops);
    cr_assert_null(o.adapter.config);
    cr_assert_eq(o.adapter.requests_timeout_ms, 5000);
    cr_assert_eq(o.shutdown_timeout_ms, 10000);
    cr_assert_null(o.stats_path);
    cr_assert_str_eq(o.health_path, "/health");

    const sio_adapter_ops *mem = sio_adapter_memory();
    cr_assert_not_null(mem);
    cr_assert_str_eq(mem->name, "memory");
    cr_assert(mem->create && mem->free && mem->publish);
    cr_assert_eq(sio_adapter_memory(), mem);
}

/* ---- run and stop ---------------------------------------------------------------------------- */

typedef struct run_state {
    sio_server *srv;
    int stopped;
    size_t clients_at_stop;
} run_state;

static void stop_timer(evutil_socket_t fd, short what, void *arg)
{
    run_state *st = arg;
    st->clients_at_stop = sio_server_client_count(st->srv);
    st->stopped = 1;
    sio_server_stop(st->srv);
}

Test(public_api, strings_copy)
{
    char a[] = "alpha", c[] = "";
    const char *fa = a, *fb = NULL, *fc = c;
    const char **fields[] = {&fa, &fb, &fc};
    char *block = sio_strings_copy(fields, 3);
    cr_assert_not_null(block);
    cr_assert_eq(fa, block, "the first string starts the block");
    cr_assert_str_eq(fa, "alpha");
    cr_assert_null(fb, "a NULL field stays NULL");
    cr_assert_str_eq(fc, "");
    cr_assert(fc != c && fc == block + 6, "copies follow each other");
    a[0] = 'A';
    cr_assert_str_eq(fa, "alpha", "the block owns its copies");
    free(block);
    cr_assert_not_null(block = sio_strings_copy(NULL, 0), "nothing to copy is still a block");
    free(block);
}

Test(public_api, run_until_stopped)
{
    sio_server_options o = test_options();
    run_state st = {0};
    st.srv = sio_server_new(NULL, &o); /* the server owns its loop */
    cr_assert_not_null(st.srv);
    struct event_base *base = sio_server_base(st.srv);
    cr_assert_not_null(base);
    cr_assert_gt(sio_server_port(st.srv), 0);
    struct event *t = evtimer_new(base, stop_timer, &st);
    struct timeval tv = {0, 50 * 1000};
    evtimer_add(t, &tv);
    uint64_t t0 = poll_now_ms();
    cr_assert_eq(sio_server_run(st.srv), 0);
    cr_assert(st.stopped, "sio_server_run returned before the stop");
    cr_assert_lt(poll_now_ms() - t0, 5000);
    cr_assert_eq(st.clients_at_stop, 0);
    event_free(t);
    sio_server_free(st.srv);
}

/* A signal of the application's own (sio_server_on_signal), then a drain on SIGTERM with no
 * session: the health route answers 503 and the loop ends by itself. */
static void on_usr1(sio_server *srv, int sig, void *user)
{
    (*(int *)user)++;
    raise(SIGTERM);
}

Test(public_api, signal_hooks_limits_and_drain)
{
    sio_server_options o = test_options();
    sio_server *srv = sio_server_new(NULL, &o);
    cr_assert_not_null(srv);
    int calls = 0;
    cr_assert_eq(sio_server_on_signal(srv, SIGTERM, on_usr1, &calls), SIO_EINVAL);
    cr_assert_eq(sio_server_on_signal(srv, SIGINT, on_usr1, &calls), SIO_EINVAL);
    cr_assert_eq(sio_server_on_signal(srv, SIGUSR1, NULL, &calls), SIO_EINVAL);
    cr_assert_eq(sio_server_on_signal(srv, SIGUSR1, on_usr1, &calls), 0);
    o.drain_seconds = 1;
    o.engine.max_connections = 5;
    sio_server_update_limits(srv, &o);
    cr_assert_not(sio_server_draining(srv));
    raise(SIGUSR1); /* delivered once the loop runs */
    uint64_t t0 = poll_now_ms();
    cr_assert_eq(sio_server_run(srv), 0);
    cr_assert_eq(calls, 1);
    cr_assert(sio_server_draining(srv));
    cr_assert_lt(poll_now_ms() - t0, 5000);
    sio_server_free(srv);
}

/* ---- one server: the application side -------------------------------------------------------- */

static const sio_slot slot_key = {"test.tracked"};
static const sio_slot other_key = {"test.other"};

static int tracked_freed;

static void tracked_free(void *v)
{
    tracked_freed++;
    free(v);
}

typedef struct echo_seen {
    int calls;
    size_t count;
    char json0[64];
    int json_past_end_null;
    long str_rc;
    char str[32];
    long str_small_rc;
    long str_not_string_rc;
    int int_rc;
    long long ival;
    int int_bad_rc;
    char array[128];
    size_t bin_count;
    int bin_index;
    int ack_rc, ack_again_rc;
    int had_ack;
} echo_seen;

typedef struct bin_seen {
    int calls;
    size_t bin_count;
    int index0, index1;
    size_t len;
    unsigned char bytes[8];
    int missing_null;
    int ack_rc;
} bin_seen;

typedef struct app {
    struct event_base *base;
    sio_server *srv;
    sio_namespace *root, *chat, *slow;
    /* chat connections */
    sio_socket *socks[8];
    int nsocks;
    int connections;
    int disconnects;
    char reason[8][48];
    char disc_id[8][24];
    int slot_at_disconnect;
    /* middleware */
    int mw_calls;
    int join_in_mw, emit_in_mw;
    sio_next *held;
    sio_next *slow_next;
    /* events */
    echo_seen echo;
    bin_seen bin;
    sio_ack *kept;
    int any_calls;
    char any_event[32];
    size_t any_count;
    /* emit_ack to one socket */
    int ack_calls[3];
    int ack_status[3];
    int ack_socket_null[3];
    char ack_arg[3][32];
    /* asynchronous results */
    int in_call;
    int bcast_calls, bcast_status, bcast_in_call;
    size_t bcast_n;
    char bcast_answers[4][32];
    int fetch_calls, fetch_status, fetch_in_call;
    size_t fetch_n;
    char fetch_ids[4][24];
    char fetch_data[4][64];
    int fetch_has_handshake;
    int rooms_calls, rooms_status;
    int rooms_has_red, rooms_has_id;
    int count_calls, count_status;
    size_t count_servers;
    int sse_calls, sse_status;
    size_t sse_n;
    int shutdown_fetch_calls, shutdown_fetch_status;
    /* dynamic namespaces */
    int match_calls;
    char match_auth[64];
    int setup_calls;
    sio_namespace *dyn;
    int dyn_connections;
} app;

static void on_chat_connection(sio_socket *s, void *user)
{
    app *a = user;
    a->connections++;
    if (a->nsocks < 8)
        a->socks[a->nsocks++] = s;
}

static void on_chat_disconnect(sio_socket *s, const char *reason, void *user)
{
    app *a = user;
    int i = a->disconnects++ % 8;
    snprintf(a->reason[i], sizeof(a->reason[i]), "%s", reason);
    snprintf(a->disc_id[i], sizeof(a->disc_id[i]), "%s", sio_socket_id(s));
    /* documented: the socket has left its rooms; its slots are freed only after this */
    a->slot_at_disconnect = sio_socket_slot(s, &slot_key) != NULL;
    for (int k = 0; k < a->nsocks; k++)
        if (a->socks[k] == s)
            a->socks[k] = NULL; /* freed after this callback */
}

/* Runs first: refuses a bad token at once, else tags the socket and goes on. */
static void mw_check(sio_socket *s, sio_next *next, void *user)
{
    app *a = user;
    a->mw_calls++;
    if (sio_next_socket(next) != s) {
        sio_next_refuse(next, "sio_next_socket mismatch", NULL);
        return;
    }
    if (strstr(sio_socket_auth(s), "\"token\":\"bad\"")) {
        sio_next_refuse(next, "unauthorized", "{\"code\":401}");
        return;
    }
    /* not connected yet: rooms and emits are refused (documented) */
    a->join_in_mw = sio_socket_join(s, "early");
    a->emit_in_mw = sio_socket_emit(s, "early", NULL, NULL, 0, 0);
    sio_socket_set_data(s, "{\"stage\":\"mw\"}");
    int *v = malloc(sizeof(*v));
    *v = 1;
    sio_socket_set_slot(s, &slot_key, v, tracked_free);
    sio_next_accept(next);
}

/* Runs second: answers later (from the test body) when the auth asks for it. */
static void mw_async(sio_socket *s, sio_next *next, void *user)
{
    app *a = user;
    if (strstr(sio_socket_auth(s), "\"hold\":true"))
        a->held = next;
    else
        sio_next_accept(next);
}

static void mw_never(sio_socket *s, sio_next *next, void *user)
{
    ((app *)user)->slow_next = next;
}

static void copy_json(char *dst, size_t cap, const char *src, size_t n)
{
    if (!src) {
        dst[0] = 0;
        return;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void on_echo(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                    void *user)
{
    echo_seen *e = &((app *)user)->echo;
    size_t n;
    char tiny[2];
    long long ignored;
    e->calls++;
    e->count = sio_args_count(args);
    const char *j = sio_args_json(args, 0, &n);
    copy_json(e->json0, sizeof(e->json0), j, j ? n : 0);
    e->json_past_end_null = sio_args_json(args, e->count, &n) == NULL;
    e->str_rc = sio_args_string(args, 0, e->str, sizeof(e->str));
    e->str_small_rc = sio_args_string(args, 0, tiny, sizeof(tiny));
    e->str_not_string_rc = sio_args_string(args, 1, tiny, sizeof(tiny));
    e->int_rc = sio_args_int(args, 1, &e->ival);
    e->int_bad_rc = sio_args_int(args, 0, &ignored);
    const char *arr = sio_args_array(args, &n);
    copy_json(e->array, sizeof(e->array), arr, arr ? n : 0);
    e->bin_count = sio_args_binary_count(args);
    e->bin_index = sio_args_binary_index(args, 2);
    e->had_ack = ack != NULL;
    if (ack) {
        e->ack_rc = sio_ack_send(ack, e->array, NULL, 0);
        e->ack_again_rc = sio_ack_send(ack, "[]", NULL, 0); /* single-shot */
    }
}

static void on_bin(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack, void *user)
{
    bin_seen *b = &((app *)user)->bin;
    size_t len = 0;
    b->calls++;
    b->bin_count = sio_args_binary_count(args);
    b->index0 = sio_args_binary_index(args, 0);
    b->index1 = sio_args_binary_index(args, 1);
    const void *data = sio_args_binary(args, 0, &len);
    b->len = len;
    if (data && len <= sizeof(b->bytes))
        memcpy(b->bytes, data, len);
    b->missing_null = sio_args_binary(args, 1, &len) == NULL;
    if (ack && data) {
        sio_bin back = {data, b->len};
        b->ack_rc = sio_ack_send(ack, "[{\"_placeholder\":true,\"num\":0}]", &back, 1);
    }
}

static void on_later(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                     void *user)
{
    if (ack)
        ((app *)user)->kept = sio_ack_retain(ack);
}

static void on_ignore(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                      void *user)
{
    /* neither answered nor retained: dropped when this returns */
}

static void on_any(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack, void *user)
{
    app *a = user;
    a->any_calls++;
    snprintf(a->any_event, sizeof(a->any_event), "%s", event);
    a->any_count = sio_args_count(args);
}

/* Results of sio_socket_emit_ack, by slot. */
typedef struct ack_ref {
    app *a;
    int i;
} ack_ref;

static void on_socket_ack(sio_socket *s, int status, const sio_args *args, void *user)
{
    ack_ref *r = user;
    app *a = r->a;
    a->ack_calls[r->i]++;
    a->ack_status[r->i] = status;
    a->ack_socket_null[r->i] = s == NULL;
    if (status == 0 && args)
        sio_args_string(args, 0, a->ack_arg[r->i], sizeof(a->ack_arg[r->i]));
}

static void on_bcast_done(sio_namespace *nsp, int status, const sio_args *const *responses,
                          size_t n, void *user)
{
    app *a = user;
    a->bcast_calls++;
    a->bcast_status = status;
    a->bcast_in_call = a->in_call;
    a->bcast_n = n;
    for (size_t i = 0; i < n && i < 4; i++)
        sio_args_string(responses[i], 0, a->bcast_answers[i], sizeof(a->bcast_answers[i]));
}

static void on_fetch(sio_namespace *nsp, int status, const sio_socket_info *sockets, size_t n,
                     void *user)
{
    app *a = user;
    a->fetch_calls++;
    a->fetch_status = status;
    a->fetch_in_call = a->in_call;
    a->fetch_n = n;
    a->fetch_has_handshake = 1;
    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(a->fetch_ids[i], sizeof(a->fetch_ids[i]), "%s", sockets[i].id);
        snprintf(a->fetch_data[i], sizeof(a->fetch_data[i]), "%s", sockets[i].data_json);
        int own_room = 0;
        for (size_t r = 0; r < sockets[i].nrooms; r++)
            own_room |= !strcmp(sockets[i].rooms[r], sockets[i].id);
        if (!own_room || !strstr(sockets[i].handshake_json, "\"headers\""))
            a->fetch_has_handshake = 0;
    }
}

static void on_rooms(sio_namespace *nsp, int status, const char *const *rooms, size_t n, void *user)
{
    app *a = user;
    a->rooms_calls++;
    a->rooms_status = status;
    const char *id = a->socks[0] ? sio_socket_id(a->socks[0]) : "";
    for (size_t i = 0; i < n; i++) {
        a->rooms_has_red |= !strcmp(rooms[i], "red");
        a->rooms_has_id |= !strcmp(rooms[i], id);
    }
}

static void on_count(sio_namespace *nsp, int status, size_t servers, void *user)
{
    app *a = user;
    a->count_calls++;
    a->count_status = status;
    a->count_servers = servers;
}

static void on_sse_done(sio_namespace *nsp, int status, const sio_args *const *responses, size_t n,
                        void *user)
{
    app *a = user;
    a->sse_calls++;
    a->sse_status = status;
    a->sse_n = n;
}

static void on_shutdown_fetch(sio_namespace *nsp, int status, const sio_socket_info *sockets,
                              size_t n, void *user)
{
    app *a = user;
    a->shutdown_fetch_calls++;
    a->shutdown_fetch_status = status;
}

static int match_dyn(sio_server *srv, const char *name, const char *auth_json, void *user)
{
    app *a = user;
    a->match_calls++;
    snprintf(a->match_auth, sizeof(a->match_auth), "%s", auth_json);
    return srv == a->srv && !strncmp(name, "/dyn-", 5);
}

static void on_dyn_connection(sio_socket *s, void *user)
{
    ((app *)user)->dyn_connections++;
}

static void setup_dyn(sio_namespace *nsp, void *user)
{
    app *a = user;
    a->setup_calls++;
    a->dyn = nsp;
    sio_namespace_on_connection(nsp, on_dyn_connection, a);
}

/* The connected chat socket with this id, or NULL. */
static sio_socket *chat_socket(app *a, const char *connect_reply)
{
    /* connect_reply: 40/chat,{"sid":"<id>"} */
    const char *sid = strstr(connect_reply, "\"sid\":\"");
    if (!sid)
        return NULL;
    sid += 7;
    for (int i = 0; i < a->nsocks; i++)
        if (a->socks[i] && !strncmp(sio_socket_id(a->socks[i]), sid, 20))
            return a->socks[i];
    return NULL;
}

static int has_room(const sio_socket *s, const char *room)
{
    for (size_t i = 0; i < sio_socket_room_count(s); i++)
        if (!strcmp(sio_socket_room(s, i), room))
            return 1;
    return 0;
}

/* The ack id of an event packet "42/chat,<id>[...]". */
static long ack_id_of(const char *packet, const char *prefix)
{
    return strtol(packet + strlen(prefix), NULL, 10);
}

static poll_client *open_client(app *a, const char *headers)
{
    poll_client *c = poll_client_open(a->base, sio_server_port(a->srv), headers, WAIT_MS);
    cr_assert_not_null(c, "handshake failed");
    return c;
}

Test(public_api, one_server)
{
    app a_storage;
    app *a = &a_storage;
    memset(a, 0, sizeof(*a));
    memset(&logs, 0, sizeof(logs));
    tracked_freed = 0;
    sio_log_set_sink(capture_log, &logs, SIO_LOG_DEBUG);

    a->base = event_base_new();
    sio_server_options o = test_options();
    o.adapter.ops = sio_adapter_memory();
    o.socketio.connect_timeout_ms = 1500; /* bounds the middleware that never answers */
    o.socketio.max_rooms_per_socket = 3;
    a->srv = sio_server_new(a->base, &o);
    cr_assert_not_null(a->srv);
    cr_assert_eq(sio_server_base(a->srv), a->base);
    cr_assert_gt(sio_server_port(a->srv), 0);
    cr_assert_eq(sio_server_client_count(a->srv), 0);

    /* namespaces */
    cr_assert_null(sio_server_of(a->srv, "chat"), "names start with '/'");
    a->root = sio_server_of(a->srv, "/");
    a->chat = sio_server_of(a->srv, "/chat");
    a->slow = sio_server_of(a->srv, "/slow");
    cr_assert(a->root && a->chat && a->slow);
    cr_assert_eq(sio_server_of(a->srv, "/chat"), a->chat, "created once");
    cr_assert_str_eq(sio_namespace_name(a->chat), "/chat");
    cr_assert_str_eq(sio_namespace_name(a->root), "/");
    cr_assert_eq(sio_namespace_server(a->chat), a->srv);
    cr_assert_eq(sio_namespace_socket_count(a->chat), 0);

    cr_assert_eq(sio_namespace_use(a->chat, mw_check, a), 0);
    cr_assert_eq(sio_namespace_use(a->chat, mw_async, a), 0);
    cr_assert_eq(sio_namespace_use(a->slow, mw_never, a), 0);
    sio_namespace_on_connection(a->chat, on_chat_connection, a);
    sio_namespace_on_disconnect(a->chat, on_chat_disconnect, a);
    cr_assert_eq(sio_namespace_on(a->chat, "echo", on_echo, a), 0);
    cr_assert_eq(sio_namespace_on(a->chat, "bin", on_later, a), 0);
    cr_assert_eq(sio_namespace_on(a->chat, "bin", on_bin, a), 0, "a second call replaces");
    cr_assert_eq(sio_namespace_on(a->chat, "later", on_later, a), 0);
    cr_assert_eq(sio_namespace_on(a->chat, "ignore", on_ignore, a), 0);
    sio_namespace_on_any(a->chat, on_any, a);
    cr_assert_eq(sio_server_add_dynamic(a->srv, match_dyn, setup_dyn, a), 0);

    /* client A: handshake headers, auth, the whole middleware chain at once */
    poll_client *ca =
        open_client(a, "Referer: http://sio.test/page\r\nAuthorization: Bearer t0k\r\n");
    cr_assert_eq(sio_server_client_count(a->srv), 1);
    char *reply = poll_client_connect(ca, "/chat", "{\"user\":\"alice\"}", WAIT_MS);
    cr_assert_not_null(reply);
    cr_assert(!strncmp(reply, "40/chat,{\"sid\":\"", 16), "got %s", reply);
    sio_socket *sa = chat_socket(a, reply);
    free(reply);
    cr_assert_not_null(sa);
    cr_assert_eq(a->mw_calls, 1);
    cr_assert_eq(a->join_in_mw, SIO_ECLOSED);
    cr_assert_eq(a->emit_in_mw, SIO_ECLOSED);
    cr_assert_eq(sio_namespace_socket_count(a->chat), 1);
    size_t rooms_before = sio_namespace_room_count(a->chat);
    cr_assert_geq(rooms_before, 1, "the socket's own room");
    cr_assert_eq(sio_socket_join(sa, "room-count-check"), 0);
    cr_assert_eq(sio_namespace_room_count(a->chat), rooms_before + 1);
    cr_assert_eq(sio_socket_leave(sa, "room-count-check"), 0);
    cr_assert_eq(sio_namespace_room_count(a->chat), rooms_before);

    /* socket accessors */
    cr_assert_eq(strlen(sio_socket_id(sa)), 20);
    cr_assert_eq(sio_socket_namespace(sa), a->chat);
    cr_assert_str_eq(sio_socket_auth(sa), "{\"user\":\"alice\"}");
    cr_assert_not_null(strstr(sio_socket_handshake(sa), "\"headers\""));
    cr_assert_not_null(strstr(sio_socket_handshake(sa), "http://sio.test/page"));
    char hbuf[64];
    cr_assert_eq(sio_socket_header(sa, "referer", hbuf, sizeof(hbuf)), 20);
    cr_assert_str_eq(hbuf, "http://sio.test/page");
    cr_assert_eq(sio_socket_header(sa, "authorization", hbuf, sizeof(hbuf)), 10);
    cr_assert_str_eq(hbuf, "Bearer t0k");
    cr_assert_eq(sio_socket_header(sa, "x-not-sent", hbuf, sizeof(hbuf)), SIO_ENOTFOUND);
    cr_assert_eq(sio_socket_header(sa, "referer", hbuf, 4), SIO_ELIMIT);
    cr_assert_str_eq(sio_socket_transport(sa), "polling");
    cr_assert_eq(sio_socket_connected(sa), 1);

    /* data and slots (set by the middleware) */
    cr_assert_str_eq(sio_socket_data(sa), "{\"stage\":\"mw\"}");
    cr_assert_eq(sio_socket_set_data(sa, "{\"user\":\"alice\",\"n\":1}"), 0);
    cr_assert_eq(sio_socket_set_data(sa, "{\"broken\":"), SIO_EINVAL);
    cr_assert_str_eq(sio_socket_data(sa), "{\"user\":\"alice\",\"n\":1}");
    int *tracked = sio_socket_slot(sa, &slot_key);
    cr_assert(tracked && *tracked == 1);
    cr_assert_null(sio_socket_slot(sa, &other_key));
    int *v2 = malloc(sizeof(*v2));
    *v2 = 2;
    cr_assert_eq(sio_socket_set_slot(sa, &slot_key, v2, tracked_free), 0);
    cr_assert_eq(tracked_freed, 1, "the replaced value is freed");
    cr_assert_eq(*(int *)sio_socket_slot(sa, &slot_key), 2);
    static int plain;
    cr_assert_eq(sio_socket_set_slot(sa, &other_key, &plain, NULL), 0);
    cr_assert_eq(sio_socket_slot(sa, &other_key), &plain);

    /* rooms: own room first, limit of max_rooms_per_socket besides it */
    cr_assert_eq(sio_socket_room_count(sa), 1);
    cr_assert_str_eq(sio_socket_room(sa, 0), sio_socket_id(sa));
    cr_assert_null(sio_socket_room(sa, 5));
    cr_assert_eq(sio_socket_join(sa, "red"), 0);
    cr_assert_eq(sio_socket_join(sa, "red"), 0, "joining twice is one membership");
    cr_assert_eq(sio_socket_join(sa, "r2"), 0);
    cr_assert_eq(sio_socket_join(sa, "r3"), 0);
    cr_assert_eq(sio_socket_join(sa, "r4"), SIO_ELIMIT);
    cr_assert_eq(sio_socket_room_count(sa), 4);
    cr_assert(has_room(sa, "red") && has_room(sa, "r3") && !has_room(sa, "r4"));
    cr_assert_eq(sio_socket_leave(sa, "r2"), 0);
    cr_assert_eq(sio_socket_leave(sa, "r3"), 0);
    cr_assert_eq(sio_socket_leave(sa, "never-joined"), 0);
    cr_assert_eq(sio_socket_room_count(sa), 2);
    cr_assert(!has_room(sa, "r2"));

    /* events from the client: arguments, an ack answered in the handler */
    poll_client_send(ca, "42/chat,1[\"echo\",\"h\\u00e9\",42,{\"a\":[1,2]}]");
    expect_packet(ca, "43/chat,1", "43/chat,1[\"h\\u00e9\",42,{\"a\":[1,2]}]");
    echo_seen *e = &a->echo;
    cr_assert_eq(e->calls, 1);
    cr_assert_eq(e->count, 3);
    cr_assert_str_eq(e->json0, "\"h\\u00e9\"");
    cr_assert(e->json_past_end_null);
    cr_assert_eq(e->str_rc, 3);
    cr_assert_str_eq(e->str, "h\xc3\xa9");
    cr_assert_eq(e->str_small_rc, SIO_ELIMIT);
    cr_assert_eq(e->str_not_string_rc, SIO_EINVAL);
    cr_assert_eq(e->int_rc, 0);
    cr_assert_eq(e->ival, 42);
    cr_assert_eq(e->int_bad_rc, SIO_EINVAL);
    cr_assert_str_eq(e->array, "[\"h\\u00e9\",42,{\"a\":[1,2]}]");
    cr_assert_eq(e->bin_count, 0);
    cr_assert_eq(e->bin_index, -1);
    cr_assert(e->had_ack);
    cr_assert_eq(e->ack_rc, 0);
    cr_assert_eq(e->ack_again_rc, SIO_EINVAL);

    /* an event without an ack id gets no ack object */
    poll_client_send(ca, "42/chat,[\"echo\",\"x\",1]");
    EXPECT_SOON(a->base, e->calls == 2);
    cr_assert(!e->had_ack);

    /* a binary event: the placeholder, then the attachment as its own record */
    static const unsigned char blob[] = {0xde, 0xad, 0xbe, 0xef};
    poll_client_send(ca, "451-/chat,5[\"bin\",{\"_placeholder\":true,\"num\":0},\"tail\"]");
    poll_client_send_binary(ca, blob, sizeof(blob));
    expect_packet(ca, "461-/chat,5", "461-/chat,5[{\"_placeholder\":true,\"num\":0}]");
    expect_packet(ca, "b", "b3q2+7w==");
    cr_assert_eq(a->bin.calls, 1);
    cr_assert_eq(a->bin.bin_count, 1);
    cr_assert_eq(a->bin.index0, 0);
    cr_assert_eq(a->bin.index1, -1);
    cr_assert_eq(a->bin.len, 4);
    cr_assert_eq(memcmp(a->bin.bytes, blob, 4), 0);
    cr_assert(a->bin.missing_null);
    cr_assert_eq(a->bin.ack_rc, 0);

    /* a retained ack answered later, one freed unanswered, one dropped by its handler */
    poll_client_send(ca, "42/chat,6[\"later\"]");
    EXPECT_SOON(a->base, a->kept != NULL);
    cr_assert_eq(sio_ack_send(a->kept, "[\"late\"]", NULL, 0), 0);
    a->kept = NULL;
    expect_packet(ca, "43/chat,6", "43/chat,6[\"late\"]");
    poll_client_send(ca, "42/chat,7[\"later\"]");
    EXPECT_SOON(a->base, a->kept != NULL);
    sio_ack_free(a->kept);
    a->kept = NULL;
    poll_client_send(ca, "42/chat,8[\"ignore\"]");
    poll_client_send(ca, "42/chat,9[\"echo\",\"y\",2]");
    expect_packet(ca, "43/chat,9", "43/chat,9[\"y\",2]");
    cr_assert_null(poll_client_take(ca, "43/chat,7"), "a freed ack is never answered");
    cr_assert_null(poll_client_take(ca, "43/chat,8"), "a dropped ack is never answered");

    /* the catch-all handler */
    poll_client_send(ca, "42/chat,[\"mystery\",true,null]");
    EXPECT_SOON(a->base, a->any_calls == 1);
    cr_assert_str_eq(a->any_event, "mystery");
    cr_assert_eq(a->any_count, 2);

    /* emits to one socket */
    cr_assert_eq(sio_socket_emit(sa, "hello", "[1,\"x\"]", NULL, 0, 0), 0);
    expect_packet(ca, "42/chat,[\"hello\"", "42/chat,[\"hello\",1,\"x\"]");
    cr_assert_eq(sio_socket_emit(sa, "bare", NULL, NULL, 0, SIO_EMIT_NO_COMPRESS), 0);
    expect_packet(ca, "42/chat,[\"bare\"", "42/chat,[\"bare\"]");
    cr_assert_eq(sio_socket_emit(sa, "disconnect", "[]", NULL, 0, 0), SIO_EINVAL);
    cr_assert_eq(sio_socket_emit(sa, "bad", "[1,", NULL, 0, 0), SIO_EINVAL);
    cr_assert_eq(sio_socket_emit(sa, "bad", "{\"not\":\"array\"}", NULL, 0, 0), SIO_EINVAL);
    sio_bin bin = {blob, 3};
    cr_assert_eq(sio_socket_emit(sa, "file", "[{\"_placeholder\":true,\"num\":0}]", &bin, 1, 0), 0);
    expect_packet(ca, "451-/chat,", "451-/chat,[\"file\",{\"_placeholder\":true,\"num\":0}]");
    expect_packet(ca, "b", "b3q2+");

    /* emit with ack to one socket: answered, and timed out */
    ack_ref r0 = {a, 0}, r1 = {a, 1}, r2 = {a, 2};
    cr_assert_eq(sio_socket_emit_ack(sa, "ask", "[7]", NULL, 0, 5000, on_socket_ack, &r0), 0);
    char *ask = wait_question(a->base, ca, "42/chat,");
    cr_assert_not_null(ask);
    long id = ack_id_of(ask, "42/chat,");
    char want[64];
    snprintf(want, sizeof(want), "42/chat,%ld[\"ask\",7]", id);
    cr_assert_str_eq(ask, want);
    free(ask);
    cr_assert_eq(a->ack_calls[0], 0);
    char answer[64];
    snprintf(answer, sizeof(answer), "43/chat,%ld[\"answer\"]", id);
    poll_client_send(ca, answer);
    EXPECT_SOON(a->base, a->ack_calls[0] == 1);
    cr_assert_eq(a->ack_status[0], 0);
    cr_assert(!a->ack_socket_null[0]);
    cr_assert_str_eq(a->ack_arg[0], "answer");
    cr_assert_eq(sio_socket_emit_ack(sa, "ask", NULL, NULL, 0, 100, on_socket_ack, &r1), 0);
    EXPECT_SOON(a->base, a->ack_calls[1] == 1);
    cr_assert_eq(a->ack_status[1], SIO_ETIMEDOUT);
    free(wait_question(a->base, ca, "42/chat,")); /* the unanswered question */
    cr_assert_eq(sio_socket_emit_ack(sa, "connect", NULL, NULL, 0, 0, on_socket_ack, &r2),
                 SIO_EINVAL);

    /* client B: held by the asynchronous middleware, accepted from here */
    poll_client *cb = open_client(a, NULL);
    cr_assert_eq(poll_client_send(cb, "40/chat,{\"hold\":true}"), 0);
    EXPECT_SOON(a->base, a->held != NULL);
    sio_socket *pending = sio_next_socket(a->held);
    cr_assert_str_eq(sio_socket_auth(pending), "{\"hold\":true}");
    cr_assert_eq(sio_socket_connected(pending), 0);
    cr_assert_eq(sio_namespace_socket_count(a->chat), 1, "not visible before the answer");
    sio_next_accept(a->held);
    a->held = NULL;
    reply = poll_client_wait(cb, "40/chat,", WAIT_MS);
    cr_assert_not_null(reply);
    sio_socket *sb = chat_socket(a, reply);
    free(reply);
    cr_assert_not_null(sb);
    cr_assert_eq(sio_namespace_socket_count(a->chat), 2);

    /* refusals: at once with data, later without */
    poll_client *cc = open_client(a, NULL);
    reply = poll_client_connect(cc, "/chat", "{\"token\":\"bad\"}", WAIT_MS);
    cr_assert_not_null(reply);
    cr_assert_str_eq(reply, "44/chat,{\"message\":\"unauthorized\",\"data\":{\"code\":401}}");
    free(reply);
    cr_assert_eq(poll_client_send(cc, "40/chat,{\"hold\":true}"), 0);
    EXPECT_SOON(a->base, a->held != NULL);
    sio_next_refuse(a->held, "not \"now\"", NULL);
    a->held = NULL;
    expect_packet(cc, "44/chat,", "44/chat,{\"message\":\"not \\\"now\\\"\"}");

    /* a middleware that never answers: refused at connect_timeout_ms, the late answer is a
     * no-op */
    reply = poll_client_connect(cc, "/", NULL, WAIT_MS); /* keeps the session past the timer */
    cr_assert_not_null(reply);
    cr_assert(!strncmp(reply, "40{\"sid\":", 9), "got %s", reply);
    free(reply);
    poll_client_send(cc, "40/slow,");
    expect_packet(cc, "44/slow,", "44/slow,{\"message\":\"middleware timeout\"}");
    cr_assert_not_null(a->slow_next);
    sio_next_accept(a->slow_next);
    a->slow_next = NULL;
    cr_assert_eq(sio_namespace_socket_count(a->slow), 0);
    cr_assert(logged("socketio", "middleware did not answer"));

    /* broadcasts: all, a room, all but a room */
    cr_assert_eq(sio_namespace_emit(a->chat, NULL, "news", "[1]", NULL, 0), 2);
    expect_packet(ca, "42/chat,[\"news\"", "42/chat,[\"news\",1]");
    expect_packet(cb, "42/chat,[\"news\"", "42/chat,[\"news\",1]");
    const char *red[] = {"red"};
    sio_target to_red = {.rooms = red, .nrooms = 1};
    sio_target but_red = {.except = red, .nexcept = 1};
    cr_assert_eq(sio_namespace_emit(a->chat, &to_red, "r", "[\"red\"]", NULL, 0), 1);
    cr_assert_eq(sio_namespace_emit(a->chat, &but_red, "r", "[\"not red\"]", NULL, 0), 1);
    cr_assert_eq(sio_namespace_emit(a->chat, NULL, "connect", NULL, NULL, 0), SIO_EINVAL);
    expect_packet(ca, "42/chat,[\"r\"", "42/chat,[\"r\",\"red\"]");
    expect_packet(cb, "42/chat,[\"r\"", "42/chat,[\"r\",\"not red\"]");
    cr_assert_null(poll_client_take(ca, "42/chat,[\"r\""));

    /* broadcast with acks: both answer; the callback never runs inside the call */
    a->in_call = 1;
    long n =
        sio_namespace_emit_ack(a->chat, NULL, "poll", "[\"?\"]", NULL, 0, 3000, on_bcast_done, a);
    a->in_call = 0;
    cr_assert_eq(n, 2);
    char *qa = wait_question(a->base, ca, "42/chat,");
    char *qb = wait_question(a->base, cb, "42/chat,");
    cr_assert(qa && qb);
    snprintf(answer, sizeof(answer), "43/chat,%ld[\"yes A\"]", ack_id_of(qa, "42/chat,"));
    poll_client_send(ca, answer);
    snprintf(answer, sizeof(answer), "43/chat,%ld[\"yes B\"]", ack_id_of(qb, "42/chat,"));
    poll_client_send(cb, answer);
    free(qa);
    free(qb);
    EXPECT_SOON(a->base, a->bcast_calls == 1);
    cr_assert_eq(a->bcast_status, 0);
    cr_assert(!a->bcast_in_call);
    cr_assert_eq(a->bcast_n, 2);
    cr_assert(!strcmp(a->bcast_answers[0], "yes A") || !strcmp(a->bcast_answers[1], "yes A"));
    cr_assert(!strcmp(a->bcast_answers[0], "yes B") || !strcmp(a->bcast_answers[1], "yes B"));

    /* joins and leaves of a target */
    char id_b[24];
    snprintf(id_b, sizeof(id_b), "%s", sio_socket_id(sb));
    const char *idb[] = {id_b}; /* a copy: the socket is freed once it disconnects */
    sio_target to_b = {.rooms = idb, .nrooms = 1};
    cr_assert_eq(sio_namespace_sockets_join(a->chat, &to_b, "blue"), 1);
    cr_assert(has_room(sb, "blue") && !has_room(sa, "blue"));
    cr_assert_eq(sio_namespace_sockets_leave(a->chat, &to_b, "blue"), 1);
    cr_assert(!has_room(sb, "blue"));
    cr_assert_eq(sio_namespace_sockets_join(a->chat, NULL, "all"), 2);
    cr_assert(has_room(sa, "all") && has_room(sb, "all"));

    /* the asynchronous queries, answered by this server alone */
    a->in_call = 1;
    cr_assert_eq(sio_namespace_fetch_sockets(a->chat, NULL, on_fetch, a), 0);
    cr_assert_eq(sio_namespace_all_rooms(a->chat, on_rooms, a), 0);
    cr_assert_eq(sio_namespace_server_count(a->chat, on_count, a), 0);
    cr_assert_eq(sio_namespace_server_emit(a->chat, "sync", "[1]", NULL, 0, 0, on_sse_done, a), 0);
    a->in_call = 0;
    cr_assert_eq(a->fetch_calls + a->rooms_calls + a->count_calls + a->sse_calls, 0);
    EXPECT_SOON(a->base, a->fetch_calls && a->rooms_calls && a->count_calls && a->sse_calls);
    cr_assert_eq(a->fetch_status, 0);
    cr_assert(!a->fetch_in_call);
    cr_assert_eq(a->fetch_n, 2);
    cr_assert(a->fetch_has_handshake);
    int found_a = 0;
    for (int i = 0; i < 2; i++)
        if (!strcmp(a->fetch_ids[i], sio_socket_id(sa)))
            found_a = !strcmp(a->fetch_data[i], "{\"user\":\"alice\",\"n\":1}");
    cr_assert(found_a, "fetch sockets reports the socket's data");
    cr_assert_eq(a->rooms_status, 0);
    cr_assert(a->rooms_has_red && a->rooms_has_id);
    cr_assert_eq(a->count_status, 0);
    cr_assert_eq(a->count_servers, 1);
    cr_assert_eq(a->sse_status, 0);
    cr_assert_eq(a->sse_n, 0, "a lone server has no one to answer");
    cr_assert_eq(sio_namespace_server_emit(a->chat, "fire", "[]", NULL, 0, 0, NULL, NULL), 0);
    cr_assert_eq(sio_namespace_server_emit(a->chat, "connect", NULL, NULL, 0, 0, NULL, NULL),
                 SIO_EINVAL);
    cr_assert_eq(sio_namespace_server_emit(a->chat, "x", "[1,", NULL, 0, 0, NULL, NULL),
                 SIO_EINVAL);
    sio_target only_red_local = {.rooms = red, .nrooms = 1, .flags = SIO_EMIT_LOCAL};
    cr_assert_eq(sio_namespace_fetch_sockets(a->chat, &only_red_local, on_fetch, a), 0);
    EXPECT_SOON(a->base, a->fetch_calls == 2);
    cr_assert_eq(a->fetch_n, 1);
    cr_assert_str_eq(a->fetch_ids[0], sio_socket_id(sa));

    /* dynamic namespaces: matched, set up, removed once empty */
    poll_client *cd = open_client(a, NULL);
    reply = poll_client_connect(cd, "/dyn-7", "{\"k\":1}", WAIT_MS);
    cr_assert_not_null(reply);
    cr_assert(!strncmp(reply, "40/dyn-7,{\"sid\":", 16), "got %s", reply);
    free(reply);
    cr_assert_eq(a->setup_calls, 1);
    cr_assert_str_eq(a->match_auth, "{\"k\":1}");
    cr_assert_not_null(a->dyn);
    cr_assert_str_eq(sio_namespace_name(a->dyn), "/dyn-7");
    cr_assert_eq(sio_namespace_socket_count(a->dyn), 1);
    cr_assert_eq(a->dyn_connections, 1);
    reply = poll_client_connect(cd, "/elsewhere", NULL, WAIT_MS);
    cr_assert_not_null(reply);
    cr_assert_str_eq(reply, "44/elsewhere,{\"message\":\"Invalid namespace\"}");
    free(reply);
    sio_server_stats st;
    sio_server_get_stats(a->srv, &st);
    cr_assert_eq(st.namespaces_created, 1);
    cr_assert_eq(st.dynamic_namespaces, 1);
    poll_client_send(cd, "41/dyn-7,");
    EXPECT_SOON(a->base, (sio_server_get_stats(a->srv, &st), st.namespaces_removed == 1));
    cr_assert_eq(st.dynamic_namespaces, 0);
    a->dyn = NULL;

    /* a packet for a namespace not joined ends the connection, and is logged */
    poll_client_send(cd, "42/nowhere,[\"x\"]");
    EXPECT_SOON(a->base, poll_client_is_closed(cd));
    cr_assert(logged("socketio", "not joined"));
    cr_assert(logged("engine", "parse error"));

    /* disconnects: by target, by the client, by the server, and the connection only */
    int d0 = a->disconnects;
    cr_assert_eq(sio_namespace_disconnect_sockets(a->chat, &to_b, 0), 1);
    cr_assert_eq(a->disconnects, d0 + 1, "on_disconnect runs synchronously");
    cr_assert_str_eq(a->reason[d0 % 8], "server namespace disconnect");
    cr_assert_str_eq(a->disc_id[d0 % 8], idb[0]);
    expect_packet(cb, "41/chat,", "41/chat,");
    sb = NULL;
    cr_assert_eq(sio_namespace_socket_count(a->chat), 1);

    /* a pending ack of a socket that goes fails with SIO_ECLOSED and no socket */
    cr_assert_eq(sio_socket_emit_ack(sa, "ask", NULL, NULL, 0, 0, on_socket_ack, &r2), 0);
    free(wait_question(a->base, ca, "42/chat,"));
    tracked_freed = 0;
    poll_client_send(ca, "41/chat,");
    EXPECT_SOON(a->base, a->disconnects == d0 + 2);
    cr_assert_str_eq(a->reason[(d0 + 1) % 8], "client namespace disconnect");
    cr_assert(a->slot_at_disconnect, "slots live through on_disconnect");
    cr_assert_eq(tracked_freed, 1, "the slot's value is freed with the socket");
    cr_assert_eq(a->ack_calls[2], 1);
    cr_assert_eq(a->ack_status[2], SIO_ECLOSED);
    cr_assert(a->ack_socket_null[2]);
    sa = NULL;

    /* reconnect A and B to chat, then: disconnect(0), disconnect(1), close_connection */
    reply = poll_client_connect(ca, "/chat", NULL, WAIT_MS);
    cr_assert_not_null(reply);
    sa = chat_socket(a, reply);
    free(reply);
    cr_assert_not_null(sa);
    sio_socket_disconnect(sa, 0);
    cr_assert_eq(a->disconnects, d0 + 3);
    cr_assert_str_eq(a->reason[(d0 + 2) % 8], "server namespace disconnect");
    expect_packet(ca, "41/chat,", "41/chat,");
    cr_assert(!poll_client_is_closed(ca), "disconnect(0) keeps the connection");

    reply = poll_client_connect(ca, "/chat", NULL, WAIT_MS);
    cr_assert_not_null(reply);
    sa = chat_socket(a, reply);
    free(reply);
    cr_assert_not_null(sa);
    size_t clients = sio_server_client_count(a->srv);
    sio_socket_disconnect(sa, 1);
    cr_assert_eq(a->disconnects, d0 + 4);
    cr_assert_str_eq(a->reason[(d0 + 3) % 8], "server namespace disconnect");
    expect_packet(ca, "41/chat,", "41/chat,");
    EXPECT_SOON(a->base, poll_client_is_closed(ca));
    cr_assert_eq(sio_server_client_count(a->srv), clients - 1);

    reply = poll_client_connect(cb, "/chat", NULL, WAIT_MS);
    cr_assert_not_null(reply);
    sb = chat_socket(a, reply);
    free(reply);
    cr_assert_not_null(sb);
    sio_socket_close_connection(sb);
    cr_assert_eq(a->disconnects, d0 + 5);
    cr_assert_str_eq(a->reason[(d0 + 4) % 8], "forced close");
    EXPECT_SOON(a->base, poll_client_is_closed(cb));
    cr_assert_null(poll_client_take(cb, "41/chat,"), "no DISCONNECT packet, only the close");

    /* counters */
    sio_server_get_stats(a->srv, &st);
    cr_assert_geq(st.sessions_opened, 4);
    cr_assert_geq(st.sockets_connected, 6);
    cr_assert_eq(st.middleware_refusals, 3);
    cr_assert_eq(st.middleware_timeouts, 1);
    cr_assert_geq(st.broadcasts, 4);
    cr_assert_geq(st.ack_timeouts, 1);
    cr_assert_geq(st.cluster_requests, 5);
    cr_assert_eq(st.adapter_published, 0, "the in-memory adapter publishes nothing");
    cr_assert_geq(st.closes_parse_error, 1);
    cr_assert_geq(st.packets_in, 10);
    cr_assert_eq(st.sessions, sio_server_client_count(a->srv));

    /* the last connection is still up when the server goes: every socket hears of it, and a
     * query still pending fails with SIO_ECLOSED */
    reply = poll_client_connect(cc, "/chat", NULL, WAIT_MS);
    cr_assert_not_null(reply);
    cr_assert(!strncmp(reply, "40/chat,", 8), "got %s", reply);
    free(reply);
    cr_assert_eq(sio_namespace_fetch_sockets(a->chat, NULL, on_shutdown_fetch, a), 0);
    int b0 = a->bcast_calls;
    cr_assert_eq(sio_namespace_emit_ack(a->chat, NULL, "bye", NULL, NULL, 0, 0, on_bcast_done, a),
                 1);
    int d1 = a->disconnects;
    sio_server_free(a->srv);
    cr_assert_eq(a->disconnects, d1 + 1);
    cr_assert_str_eq(a->reason[d1 % 8], "server shutting down");
    cr_assert_eq(a->shutdown_fetch_calls, 1, "a pending query runs its callback at shutdown");
    cr_assert_eq(a->shutdown_fetch_status, SIO_ECLOSED);
    cr_assert_eq(a->bcast_calls, b0 + 1, "a pending broadcast with acks too");
    cr_assert_eq(a->bcast_status, SIO_ECLOSED);

    poll_client_free(ca);
    poll_client_free(cb);
    poll_client_free(cc);
    poll_client_free(cd);
    event_base_free(a->base);
    sio_log_set_sink(NULL, NULL, SIO_LOG_INFO);
}

/* ---- a cluster: three servers on the loopback bus ---------------------------------------------
 */

#define NODES 3

typedef struct node {
    int idx;
    sio_server *srv;
    sio_namespace *nsp;
    sio_adapter_host *host; /* seen by the spy in create */
    void *bus;              /* the loopback adapter's state */
    sio_socket *sock;       /* the one client socket of this server */
    int conns, discs;
    char reason[48];
    int sse_calls, sse_acked;
    char sse_event[32];
    long long sse_int;
    sio_ack *sse_kept;
    size_t published[32]; /* by sio_cluster_type */
} node;

static node cluster[NODES];

/* The spy: the loopback adapter, with create and publish watched. */
typedef struct spy_config {
    loopback_config bus;
    node *node;
} spy_config;

static sio_adapter_ops spy_ops;

static void *spy_create(sio_adapter_host *host, void *config)
{
    spy_config *cfg = config;
    void *self = loopback_adapter()->create(host, &cfg->bus);
    cfg->node->host = host;
    cfg->node->bus = self;
    return self;
}

static int spy_publish(void *self, void *nsp_state, const sio_cluster_msg *msg)
{
    for (int i = 0; i < NODES; i++)
        if (cluster[i].bus == self && (unsigned)msg->type < 32)
            cluster[i].published[msg->type]++;
    return loopback_adapter()->publish(self, nsp_state, msg);
}

static void on_node_connection(sio_socket *s, void *user)
{
    node *n = user;
    char json[32], room[16];
    n->conns++;
    n->sock = s;
    snprintf(json, sizeof(json), "{\"server\":%d}", n->idx);
    snprintf(room, sizeof(room), "room-%c", 'a' + n->idx);
    sio_socket_set_data(s, json);
    sio_socket_join(s, room);
}

static void on_node_disconnect(sio_socket *s, const char *reason, void *user)
{
    node *n = user;
    n->discs++;
    snprintf(n->reason, sizeof(n->reason), "%s", reason);
    if (n->sock == s)
        n->sock = NULL;
}

static void on_node_server_event(sio_namespace *nsp, const char *event, const sio_args *args,
                                 sio_ack *ack, void *user)
{
    node *n = user;
    n->sse_calls++;
    n->sse_acked = ack != NULL;
    snprintf(n->sse_event, sizeof(n->sse_event), "%s", event);
    n->sse_int = -1;
    sio_args_int(args, 0, &n->sse_int);
    if (!ack)
        return;
    if (n->idx == 2) { /* answers later, from the test */
        n->sse_kept = sio_ack_retain(ack);
        return;
    }
    char json[32];
    snprintf(json, sizeof(json), "[\"from %d\"]", n->idx);
    sio_ack_send(ack, json, NULL, 0);
}

typedef struct cluster_results {
    int in_call;
    int count_calls, count_status;
    size_t servers;
    int fetch_calls, fetch_status, fetch_in_call;
    size_t fetch_n;
    char fetch_ids[4][24], fetch_data[4][32];
    int fetch_rooms_ok[4];
    int rooms_calls, rooms_status;
    size_t rooms_n;
    char rooms[16][24];
    int sse_calls, sse_status, sse_in_call;
    size_t sse_n;
    char sse_answers[4][32];
    int bcast_calls, bcast_status;
    size_t bcast_n;
    char bcast_answers[4][32];
} cluster_results;

static void on_cluster_count(sio_namespace *nsp, int status, size_t servers, void *user)
{
    cluster_results *r = user;
    r->count_calls++;
    r->count_status = status;
    r->servers = servers;
}

static void on_cluster_fetch(sio_namespace *nsp, int status, const sio_socket_info *sockets,
                             size_t n, void *user)
{
    cluster_results *r = user;
    r->fetch_calls++;
    r->fetch_status = status;
    r->fetch_in_call = r->in_call;
    r->fetch_n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(r->fetch_ids[i], sizeof(r->fetch_ids[i]), "%s", sockets[i].id);
        snprintf(r->fetch_data[i], sizeof(r->fetch_data[i]), "%s", sockets[i].data_json);
        int own = 0, named = 0;
        for (size_t k = 0; k < sockets[i].nrooms; k++) {
            own |= !strcmp(sockets[i].rooms[k], sockets[i].id);
            named |= !strncmp(sockets[i].rooms[k], "room-", 5);
        }
        r->fetch_rooms_ok[i] = own && named && sockets[i].handshake_json &&
                               strstr(sockets[i].handshake_json, "\"headers\"");
    }
}

static void on_cluster_rooms(sio_namespace *nsp, int status, const char *const *rooms, size_t n,
                             void *user)
{
    cluster_results *r = user;
    r->rooms_calls++;
    r->rooms_status = status;
    r->rooms_n = n;
    for (size_t i = 0; i < n && i < 16; i++)
        snprintf(r->rooms[i], sizeof(r->rooms[i]), "%s", rooms[i]);
}

static void on_cluster_sse(sio_namespace *nsp, int status, const sio_args *const *responses,
                           size_t n, void *user)
{
    cluster_results *r = user;
    r->sse_calls++;
    r->sse_status = status;
    r->sse_in_call = r->in_call;
    r->sse_n = n;
    for (size_t i = 0; i < n && i < 4; i++)
        sio_args_string(responses[i], 0, r->sse_answers[i], sizeof(r->sse_answers[i]));
}

static void on_cluster_bcast(sio_namespace *nsp, int status, const sio_args *const *responses,
                             size_t n, void *user)
{
    cluster_results *r = user;
    r->bcast_calls++;
    r->bcast_status = status;
    r->bcast_n = n;
    for (size_t i = 0; i < n && i < 4; i++)
        sio_args_string(responses[i], 0, r->bcast_answers[i], sizeof(r->bcast_answers[i]));
}

static int in_list(char list[][32], size_t n, const char *s)
{
    for (size_t i = 0; i < n && i < 4; i++)
        if (!strcmp(list[i], s))
            return 1;
    return 0;
}

static int has_cluster_room(const cluster_results *r, const char *name)
{
    for (size_t i = 0; i < r->rooms_n && i < 16; i++)
        if (!strcmp(r->rooms[i], name))
            return 1;
    return 0;
}

Test(public_api, cluster)
{
    memset(cluster, 0, sizeof(cluster));
    memset(&logs, 0, sizeof(logs));
    sio_log_set_sink(capture_log, &logs, SIO_LOG_DEBUG);
    struct event_base *base = event_base_new();
    spy_ops = *loopback_adapter();
    spy_ops.name = "spy";
    spy_ops.create = spy_create;
    spy_ops.publish = spy_publish;
    spy_config cfg[NODES];
    for (int i = 0; i < NODES; i++) {
        node *n = &cluster[i];
        n->idx = i;
        cfg[i].bus.delay_ms = 0;
        cfg[i].node = n;
        sio_server_options o = test_options();
        o.adapter.ops = &spy_ops;
        o.adapter.config = &cfg[i];
        o.adapter.requests_timeout_ms = 4000;
        n->srv = sio_server_new(base, &o);
        cr_assert_not_null(n->srv);
        cr_assert_not_null(n->host);
        cr_assert_eq(sio_adapter_host_server(n->host), n->srv);
        cr_assert_eq(sio_adapter_host_base(n->host), base);
        n->nsp = sio_server_of(n->srv, "/");
        cr_assert_not_null(n->nsp);
        sio_namespace_on_connection(n->nsp, on_node_connection, n);
        sio_namespace_on_disconnect(n->nsp, on_node_disconnect, n);
        sio_namespace_on_server_event(n->nsp, on_node_server_event, n);
    }
    cr_assert(logged("adapter", "loopback: joined the bus as"));
    sio_adapter_host_log(cluster[0].host, SIO_LOG_WARN, "spy says %d", 42);
    cr_assert(logged("adapter", "spy says 42"));

    poll_client *c[NODES];
    for (int i = 0; i < NODES; i++) {
        c[i] = poll_client_open(base, sio_server_port(cluster[i].srv), NULL, WAIT_MS);
        cr_assert_not_null(c[i]);
        char *reply = poll_client_connect(c[i], "/", NULL, WAIT_MS);
        cr_assert_not_null(reply);
        cr_assert(!strncmp(reply, "40{\"sid\":", 9), "got %s", reply);
        free(reply);
        cr_assert_not_null(cluster[i].sock);
    }
    sio_namespace *na = cluster[0].nsp;
    cluster_results r;
    memset(&r, 0, sizeof(r));

    /* server count: every member of the bus */
    cr_assert_eq(sio_namespace_server_count(na, on_cluster_count, &r), 0);
    EXPECT_SOON(base, r.count_calls == 1);
    cr_assert_eq(r.count_status, 0);
    cr_assert_eq(r.servers, NODES);

    /* a broadcast on A reaches the clients of B and C, attachments included */
    cr_assert_eq(sio_namespace_emit(na, NULL, "hello", "[\"all\"]", NULL, 0), 1);
    for (int i = 0; i < NODES; i++)
        expect_packet(c[i], "42[\"hello\"", "42[\"hello\",\"all\"]");
    static const unsigned char two[] = {1, 2};
    sio_bin bin = {two, sizeof(two)};
    cr_assert_eq(
        sio_namespace_emit(na, NULL, "blob", "[{\"_placeholder\":true,\"num\":0}]", &bin, 1), 1);
    expect_packet(c[1], "451-", "451-[\"blob\",{\"_placeholder\":true,\"num\":0}]");
    expect_packet(c[1], "b", "bAQI=");

    /* SIO_EMIT_LOCAL stays on A: nothing is published */
    size_t published = cluster[0].published[SIO_CLUSTER_BROADCAST];
    sio_target local = {.flags = SIO_EMIT_LOCAL};
    cr_assert_eq(sio_namespace_emit(na, &local, "mine", NULL, NULL, 0), 1);
    cr_assert_eq(cluster[0].published[SIO_CLUSTER_BROADCAST], published);
    expect_packet(c[0], "42[\"mine\"", "42[\"mine\"]");

    /* a room on B, targeted from A */
    const char *room_b[] = {"room-b"};
    sio_target to_room_b = {.rooms = room_b, .nrooms = 1};
    cr_assert_eq(sio_namespace_emit(na, &to_room_b, "rb", NULL, NULL, 0), 0);
    expect_packet(c[1], "42[\"rb\"", "42[\"rb\"]");
    cr_assert_eq(sio_namespace_emit(na, NULL, "marker", NULL, NULL, 0), 1);
    for (int i = 0; i < NODES; i++) {
        expect_packet(c[i], "42[\"marker\"", "42[\"marker\"]");
        cr_assert_null(poll_client_take(c[i], "42[\"mine\""), "client %d got a local emit", i);
        cr_assert_null(poll_client_take(c[i], "42[\"rb\""), "client %d is not in room-b", i);
    }

    /* fetch sockets on A: the sockets of every server, with their data */
    r.in_call = 1;
    cr_assert_eq(sio_namespace_fetch_sockets(na, NULL, on_cluster_fetch, &r), 0);
    r.in_call = 0;
    EXPECT_SOON(base, r.fetch_calls == 1);
    cr_assert_eq(r.fetch_status, 0);
    cr_assert(!r.fetch_in_call);
    cr_assert_eq(r.fetch_n, NODES);
    for (int i = 0; i < NODES; i++) {
        int found = 0;
        char want[32];
        snprintf(want, sizeof(want), "{\"server\":%d}", i);
        for (size_t k = 0; k < NODES; k++)
            if (!strcmp(r.fetch_ids[k], sio_socket_id(cluster[i].sock))) {
                found = 1;
                cr_assert_str_eq(r.fetch_data[k], want);
                cr_assert(r.fetch_rooms_ok[k], "rooms or handshake of socket %d", i);
            }
        cr_assert(found, "socket of server %d missing", i);
    }
    cr_assert_eq(sio_namespace_fetch_sockets(na, &to_room_b, on_cluster_fetch, &r), 0);
    EXPECT_SOON(base, r.fetch_calls == 2);
    cr_assert_eq(r.fetch_n, 1);
    cr_assert_str_eq(r.fetch_ids[0], sio_socket_id(cluster[1].sock));

    /* all rooms: merged from every server */
    cr_assert_eq(sio_namespace_all_rooms(na, on_cluster_rooms, &r), 0);
    EXPECT_SOON(base, r.rooms_calls == 1);
    cr_assert_eq(r.rooms_status, 0);
    cr_assert_eq(r.rooms_n, 2 * NODES, "three own rooms and room-a, -b, -c");
    cr_assert(has_cluster_room(&r, "room-a") && has_cluster_room(&r, "room-b") &&
              has_cluster_room(&r, "room-c"));
    for (int i = 0; i < NODES; i++)
        cr_assert(has_cluster_room(&r, sio_socket_id(cluster[i].sock)));

    /* server-side emit with acks: one answer per other server, one of them late */
    r.in_call = 1;
    cr_assert_eq(sio_namespace_server_emit(na, "ask", "[5]", NULL, 0, 0, on_cluster_sse, &r), 0);
    r.in_call = 0;
    EXPECT_SOON(base, cluster[1].sse_calls == 1 && cluster[2].sse_kept != NULL);
    cr_assert_eq(cluster[0].sse_calls, 0, "the sender does not hear itself");
    cr_assert_str_eq(cluster[1].sse_event, "ask");
    cr_assert_eq(cluster[1].sse_int, 5);
    cr_assert(cluster[1].sse_acked);
    settle(base, 30);
    cr_assert_eq(r.sse_calls, 0, "C has not answered yet");
    cr_assert_eq(sio_ack_send(cluster[2].sse_kept, "[\"from 2\"]", NULL, 0), 0);
    cluster[2].sse_kept = NULL;
    EXPECT_SOON(base, r.sse_calls == 1);
    cr_assert_eq(r.sse_status, 0);
    cr_assert(!r.sse_in_call);
    cr_assert_eq(r.sse_n, NODES - 1);
    cr_assert(in_list(r.sse_answers, r.sse_n, "from 1") &&
              in_list(r.sse_answers, r.sse_n, "from 2"));
    cr_assert_eq(sio_namespace_server_emit(na, "tell", "[6]", NULL, 0, 0, NULL, NULL), 0);
    EXPECT_SOON(base, cluster[1].sse_calls == 2 && cluster[2].sse_calls == 2);
    cr_assert_str_eq(cluster[2].sse_event, "tell");
    cr_assert_eq(cluster[2].sse_int, 6);
    cr_assert(!cluster[2].sse_acked);

    /* a broadcast with acks counts the answers of the other servers' clients */
    long n = sio_namespace_emit_ack(na, NULL, "q", "[1]", NULL, 0, 4000, on_cluster_bcast, &r);
    cr_assert_eq(n, 1, "one local recipient");
    for (int i = 0; i < NODES; i++) {
        char *q = wait_question(base, c[i], "42");
        cr_assert_not_null(q, "client %d got no question", i);
        long id = ack_id_of(q, "42");
        char want[64], answer[64];
        snprintf(want, sizeof(want), "42%ld[\"q\",1]", id);
        cr_assert_str_eq(q, want);
        free(q);
        snprintf(answer, sizeof(answer), "43%ld[\"ans %d\"]", id, i);
        poll_client_send(c[i], answer);
    }
    EXPECT_SOON(base, r.bcast_calls == 1);
    cr_assert_eq(r.bcast_status, 0);
    cr_assert_eq(r.bcast_n, NODES);
    cr_assert(in_list(r.bcast_answers, r.bcast_n, "ans 0") &&
              in_list(r.bcast_answers, r.bcast_n, "ans 1") &&
              in_list(r.bcast_answers, r.bcast_n, "ans 2"));

    /* sockets_join on A makes B's socket join; a broadcast to that room then reaches it */
    const char *id_b[] = {sio_socket_id(cluster[1].sock)};
    sio_target to_b = {.rooms = id_b, .nrooms = 1};
    cr_assert_eq(sio_namespace_sockets_join(na, &to_b, "vip"), 0, "no local socket");
    EXPECT_SOON(base, has_room(cluster[1].sock, "vip"));
    const char *vip[] = {"vip"};
    sio_target to_vip = {.rooms = vip, .nrooms = 1};
    cr_assert_eq(sio_namespace_emit(na, &to_vip, "vip-news", "[]", NULL, 0), 0);
    expect_packet(c[1], "42[\"vip-news\"", "42[\"vip-news\"]");
    cr_assert_eq(sio_namespace_sockets_leave(na, &to_b, "vip"), 0);
    EXPECT_SOON(base, !has_room(cluster[1].sock, "vip"));

    /* the inbound entry point, called directly: an emitter's server event and broadcast */
    int before = cluster[1].sse_calls;
    sio_cluster_msg sse = {.type = SIO_CLUSTER_SERVER_SIDE_EMIT, .nsp = "/"};
    sse.data = "[\"injected\",9]";
    sse.data_len = strlen(sse.data);
    cr_assert_eq(sio_adapter_host_receive(cluster[1].host, &sse), 0);
    cr_assert_eq(cluster[1].sse_calls, before + 1, "handlers run inside the receive");
    cr_assert_str_eq(cluster[1].sse_event, "injected");
    cr_assert_eq(cluster[1].sse_int, 9);
    cr_assert(!cluster[1].sse_acked);
    sio_cluster_msg bc = {.type = SIO_CLUSTER_BROADCAST, .nsp = "/", .packet_type = 2};
    bc.data = "[\"from-outside\",true]";
    bc.data_len = strlen(bc.data);
    cr_assert_eq(sio_adapter_host_receive(cluster[1].host, &bc), 0);
    expect_packet(c[1], "42[\"from-outside\"", "42[\"from-outside\",true]");
    sio_server_stats st0, st1;
    sio_server_get_stats(cluster[1].srv, &st0);
    sio_cluster_msg bad = bc;
    bad.nsp = "/unknown";
    cr_assert_eq(sio_adapter_host_receive(cluster[1].host, &bad), SIO_EINVAL);
    bad.nsp = "/";
    bad.data = "[\"cut";
    bad.data_len = strlen(bad.data);
    cr_assert_eq(sio_adapter_host_receive(cluster[1].host, &bad), SIO_EINVAL);
    sio_server_get_stats(cluster[1].srv, &st1);
    cr_assert_eq(st1.adapter_received, st0.adapter_received + 2);
    cr_assert_eq(st1.adapter_dropped, st0.adapter_dropped + 2);
    /* a message the adapter itself could not decode counts the same way */
    sio_adapter_host_dropped(cluster[1].host);
    sio_server_get_stats(cluster[1].srv, &st1);
    cr_assert_eq(st1.adapter_received, st0.adapter_received + 3);
    cr_assert_eq(st1.adapter_dropped, st0.adapter_dropped + 3);

    /* disconnect_sockets on A disconnects B's client */
    cr_assert_eq(sio_namespace_disconnect_sockets(na, &to_b, 0), 0);
    EXPECT_SOON(base, cluster[1].discs == 1);
    cr_assert_str_eq(cluster[1].reason, "server namespace disconnect");
    expect_packet(c[1], "41", "41");
    cr_assert_eq(sio_namespace_socket_count(cluster[1].nsp), 0);
    cr_assert_eq(sio_namespace_socket_count(na), 1);

    sio_server_get_stats(cluster[0].srv, &st0);
    cr_assert_geq(st0.cluster_requests, 6);
    cr_assert_eq(st0.cluster_timeouts, 0);
    cr_assert_geq(st0.adapter_published, 10);
    cr_assert_geq(st0.adapter_received, 6, "responses from B and C");
    cr_assert_eq(st0.adapter_dropped, 0);
    cr_assert_eq(cluster[0].published[SIO_CLUSTER_SOCKETS_JOIN], 1);
    cr_assert_eq(cluster[0].published[SIO_CLUSTER_SOCKETS_LEAVE], 1);
    cr_assert_eq(cluster[0].published[SIO_CLUSTER_DISCONNECT_SOCKETS], 1);
    cr_assert_eq(cluster[1].published[SIO_CLUSTER_BROADCAST_CLIENT_COUNT], 1);
    cr_assert_eq(cluster[1].published[SIO_CLUSTER_BROADCAST_ACK], 1);

    /* a broadcast with acks still waiting when its server goes: SIO_ECLOSED */
    r.bcast_calls = 0;
    cr_assert_eq(sio_namespace_emit_ack(na, NULL, "last", NULL, NULL, 0, 0, on_cluster_bcast, &r),
                 1);
    char *q = wait_question(base, c[2], "42");
    cr_assert_not_null(q, "C's client got no question");
    free(q);
    for (int i = 0; i < NODES; i++)
        sio_server_free(cluster[i].srv);
    cr_assert_eq(r.bcast_calls, 1);
    cr_assert_eq(r.bcast_status, SIO_ECLOSED);
    cr_assert_eq(cluster[0].discs, 1);
    cr_assert_str_eq(cluster[0].reason, "server shutting down");
    for (int i = 0; i < NODES; i++)
        poll_client_free(c[i]);
    event_base_free(base);
    sio_log_set_sink(NULL, NULL, SIO_LOG_INFO);
}
