/*
 * The chat gateway (issue 11 section 2): connection cap and presence rooms at connect, the
 * conversation events, typing states with their expiry, per-socket rate limits. Only the public
 * API of sio: every per-socket datum lives in a socket slot, freed with the socket. The join
 * authorisation is in authorize.c.
 */
#include "gateway/internal.h"
#include "gateway/json_count.h"
#include "gateway/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

/* The key of the gateway's per-socket state. */
static const sio_slot conn_slot = {"gateway"};

/* A user id longer than this is refused at connect: it becomes a room name and a map key. */
#define GW_MAX_ID_LEN 1024

static const char *const event_names[SIO_GW_EV_COUNT] = {
    "join_conversation", "leave_conversation", "typing_start", "typing_stop", "ping",
};
static const char *const error_names[SIO_GW_ERR_COUNT] = {
    "BAD_REQUEST",
    "FORBIDDEN",
    "UNAVAILABLE",
    "RATE_LIMITED",
};

const char *sio_gateway_event_name(int ev)
{
    return ev >= 0 && ev < SIO_GW_EV_COUNT ? event_names[ev] : "unknown";
}

const char *sio_gateway_error_name(int err)
{
    return err >= 0 && err < SIO_GW_ERR_COUNT ? error_names[err] : "UNKNOWN";
}

void sio_gateway_options_init(sio_gateway_options *o)
{
    *o = (sio_gateway_options){
        .typing_timeout_ms = 5000,
        .rate_limit = 60,
        .typing_rate_limit = 10,
        .typing_rate_window_ms = 5000,
        .max_connections_per_user = 3,
        .authorize_cache_ttl_ms = 60000,
        .authorize_timeout_ms = 5000,
        .authorize_cache_max = 10000,
        .room_prefix_user = "user:",
        .room_prefix_org = "org:",
        .room_prefix_conversation = "conversation:",
    };
}

uint64_t gw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void gw_log(const sio_gateway *gw, int level, const char *fmt, ...)
{
    if (!gw->o.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    gw->o.log(level, line, gw->o.log_user);
}

/* ---- JSON out ------------------------------------------------------------------------------ */

/* Emits event with the argument array w holds, and frees w. The writer's output is JSON by
 * construction (its strings are valid UTF-8: claims, UUIDs, our own texts), so it is not
 * validated again. */
static void emit_reply(sio_socket *s, const char *event, gw_reply *w)
{
    const char *txt = gw_reply_end(w);
    if (txt)
        sio_socket_emit(s, event, txt, NULL, 0, SIO_EMIT_TRUSTED_JSON);
    gw_reply_free(w);
}

/* Answers ack with the argument array w holds, and frees w. */
static void ack_reply(sio_ack *ack, gw_reply *w)
{
    const char *txt = gw_reply_end(w);
    sio_ack_send(ack, txt ? txt : "[]", NULL, 0);
    gw_reply_free(w);
}

/* Answers ack (may be NULL) with {ok:true, conversation_id} and, when given, a message or a
 * typing flag (typing < 0: none). */
static void ack_ok(sio_ack *ack, const char *conv, const char *message, int typing)
{
    if (!ack)
        return;
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_bool(&w, "ok", 1);
    gw_reply_str(&w, "conversation_id", conv);
    if (message)
        gw_reply_str(&w, "message", message);
    if (typing >= 0)
        gw_reply_bool(&w, "typing", typing);
    ack_reply(ack, &w);
}

/* The `error` event {code, message}, and {ok:false, error:{code, message}} to the ack. */
static void reply_error(gw_conn *c, sio_ack *ack, int err, const char *message)
{
    const char *code = sio_gateway_error_name(err);
    c->gw->stats.errors[err]++;
    gw_reply w;
    if (c->s && sio_socket_connected(c->s)) {
        gw_reply_begin(&w);
        gw_reply_str(&w, "code", code);
        gw_reply_str(&w, "message", message);
        emit_reply(c->s, "error", &w);
    }
    if (ack) {
        gw_reply_begin(&w);
        gw_reply_bool(&w, "ok", 0);
        gw_reply_open(&w, "error");
        gw_reply_str(&w, "code", code);
        gw_reply_str(&w, "message", message);
        gw_reply_close(&w);
        ack_reply(ack, &w);
    }
}

/* ---- rooms and typing ---------------------------------------------------------------------- */

static char *room_name(const char *prefix, const char *id)
{
    size_t pl = strlen(prefix), il = strlen(id);
    char *r = malloc(pl + il + 1);
    if (r) {
        memcpy(r, prefix, pl);
        memcpy(r + pl, id, il + 1);
    }
    return r;
}

/* The room of a conversation, in buf when it fits (prefixes are short), else on the heap: free
 * it with conv_room_free. NULL when out of memory. */
static char *conv_room(const sio_gateway *gw, const char *conv, char *buf, size_t cap)
{
    size_t pl = strlen(gw->o.room_prefix_conversation);
    if (pl + GW_UUID_LEN + 1 > cap)
        return room_name(gw->o.room_prefix_conversation, conv);
    memcpy(buf, gw->o.room_prefix_conversation, pl);
    memcpy(buf + pl, conv, GW_UUID_LEN + 1);
    return buf;
}

static void conv_room_free(char *room, const char *buf)
{
    if (room != buf)
        free(room);
}

static int is_member(const gw_conn *c, const char *room)
{
    size_t n = sio_socket_room_count(c->s);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sio_socket_room(c->s, i), room))
            return 1;
    return 0;
}

/* user_typing to the conversation room, the sender excepted (its own room is its id). Also
 * reaches the room's members on other servers through the adapter. */
static void typing_broadcast(gw_conn *c, const char *conv, int typing)
{
    char buf[64];
    char *room = conv_room(c->gw, conv, buf, sizeof(buf));
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_str(&w, "conversation_id", conv);
    gw_reply_str(&w, "user_id", c->user_id);
    gw_reply_bool(&w, "typing", typing);
    const char *txt = gw_reply_end(&w);
    if (room && txt) {
        const char *rooms[1] = {room};
        const char *except[1] = {sio_socket_id(c->s)};
        sio_target to = {rooms, 1, except, 1, SIO_EMIT_TRUSTED_JSON};
        sio_namespace_emit(c->gw->nsp, &to, "user_typing", txt, NULL, 0);
    }
    gw_reply_free(&w);
    conv_room_free(room, buf);
}

static gw_typing *typing_find(gw_conn *c, const char *conv)
{
    for (size_t i = 0; i < GW_MAX_TYPING; i++)
        if (c->typing[i].timer && !strcmp(c->typing[i].conv, conv))
            return &c->typing[i];
    return NULL;
}

/* Ends a typing state; announce: tell the room typing:false. */
static void typing_end(gw_typing *t, int announce)
{
    event_free(t->timer);
    t->timer = NULL;
    if (announce && t->conn->s)
        typing_broadcast(t->conn, t->conv, 0);
}

static void typing_expired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gw_typing *t = arg;
    t->conn->gw->stats.typing_expiries++;
    typing_end(t, 1);
}

static void typing_arm(gw_conn *c, gw_typing *t)
{
    unsigned ms = c->gw->o.typing_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(t->timer, &tv);
}

/* Opens or refreshes the typing state of conv. Returns 0 or SIO_ENOMEM. */
static int typing_start(gw_conn *c, const char *conv)
{
    gw_typing *t = typing_find(c, conv);
    if (!t) {
        gw_typing *oldest = NULL;
        for (size_t i = 0; i < GW_MAX_TYPING && !t; i++) {
            if (!c->typing[i].timer)
                t = &c->typing[i];
            else if (!oldest || c->typing[i].started_ms < oldest->started_ms)
                oldest = &c->typing[i];
        }
        if (!t) { /* GW_MAX_TYPING conversations at once: the oldest one stops */
            typing_end(oldest, 1);
            t = oldest;
        }
        t->timer = event_new(c->gw->base, -1, 0, typing_expired, t);
        if (!t->timer)
            return SIO_ENOMEM;
        t->conn = c;
        t->started_ms = gw_now_ms();
        memcpy(t->conv, conv, GW_UUID_LEN + 1);
    }
    typing_arm(c, t);
    return 0;
}

static void typing_end_all(gw_conn *c, int announce)
{
    for (size_t i = 0; i < GW_MAX_TYPING; i++)
        if (c->typing[i].timer)
            typing_end(&c->typing[i], announce);
}

/* ---- per-socket state ---------------------------------------------------------------------- */

static void conn_uncount(gw_conn *c)
{
    if (c->counted) {
        c->counted = 0;
        sio_json_count_add(c->gw->users, c->user_id, -1);
        if (c->gw->hooks.release)
            c->gw->hooks.release(c->user_id, c->org_id, c->gw->hooks.user);
    }
}

/* A connection waiting for the admission hook. c is cleared when the socket is freed first. */
struct sio_gateway_admission {
    gw_conn *c;
    sio_next *next;
};

/* The slot's free function: runs when the socket is freed, connected or not. */
static void conn_free(void *v)
{
    gw_conn *c = v;
    if (c->admission)
        c->admission->c = NULL;
    gw_authorize_cancel(c, NULL);
    typing_end_all(c, 0);
    conn_uncount(c);
    free(c->user_id);
    free(c->org_id);
    free(c->role);
    free(c);
}

static char *dup_claim(json_t *data, const char *name)
{
    json_t *v = json_object_get(data, name);
    if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > GW_MAX_ID_LEN ||
        strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return strdup(json_string_value(v));
}

/* ---- connect ------------------------------------------------------------------------------- */

/* Test-only identity: the CONNECT auth object's fields become the socket data, as the JWT
 * middleware would set them. */
static void identity_mw(sio_socket *s, sio_next *next, void *user)
{
    (void)user;
    json_t *auth = json_loads(sio_socket_auth(s), 0, NULL);
    json_t *uid = json_object_get(auth, "user_id");
    if (!json_is_string(uid)) {
        json_decref(auth);
        sio_next_refuse(next, "Authentication required (user_id in auth)",
                        "{\"code\":\"TOKEN_MISSING\"}");
        return;
    }
    json_t *data = json_object();
    static const char *const keys[] = {"user_id", "organization_id", "role"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(auth, keys[i]);
        json_object_set(data, keys[i], json_is_string(v) ? v : json_null());
    }
    char *txt = json_dumps(data, JSON_COMPACT);
    int rc = txt ? sio_socket_set_data(s, txt) : SIO_ENOMEM;
    free(txt);
    json_decref(data);
    json_decref(auth);
    if (rc < 0)
        sio_next_refuse(next, "server error", NULL);
    else
        sio_next_accept(next);
}

/* CONNECT_ERROR for a user over the cap (have: this node's count, -1 when the hooks decided). */
static void refuse_limit(sio_gateway *gw, sio_next *next, json_int_t have)
{
    unsigned cap = gw->o.max_connections_per_user;
    gw->stats.connection_limit_refusals++;
    sio_socket *s = sio_next_socket(next);
    const char *who = s ? sio_socket_id(s) : "?";
    if (have >= 0)
        gw_log(gw, SIO_LOG_INFO, "socket %s refused: its user has %lld connections already", who,
               (long long)have);
    else
        gw_log(gw, SIO_LOG_INFO, "socket %s refused: its user is at the cluster-wide cap", who);
    char msg[96];
    snprintf(msg, sizeof(msg), "Maximum connections per user reached (%u)", cap);
    sio_next_refuse(next, msg, "{\"code\":\"CONNECTION_LIMIT\"}");
}

/* Runs after authentication: reads the identity, enforces the per-user cap (sockets counted on
 * this node, from here until the socket is freed, so concurrent connects cannot overshoot; or,
 * with hooks, counted by the admission hook, perhaps across a cluster) and attaches the
 * per-socket state. */
static void cap_mw(sio_socket *s, sio_next *next, void *user)
{
    sio_gateway *gw = user;
    json_t *data = json_loads(sio_socket_data(s), 0, NULL);
    char *uid = dup_claim(data, "user_id");
    if (!uid) {
        json_decref(data);
        sio_next_refuse(next, "The token names no user", "{\"code\":\"TOKEN_INVALID\"}");
        return;
    }
    json_int_t have = json_integer_value(json_object_get(gw->users, uid));
    unsigned cap = gw->o.max_connections_per_user;
    if (!gw->hooks.admit && cap && have >= (json_int_t)cap) {
        free(uid);
        json_decref(data);
        refuse_limit(gw, next, have);
        return;
    }
    gw_conn *c = calloc(1, sizeof(*c));
    if (c) {
        c->gw = gw;
        c->user_id = uid;
        c->org_id = dup_claim(data, "organization_id");
        c->role = dup_claim(data, "role");
        c->events.tokens = gw->o.rate_limit;
        c->typing_bucket.tokens = gw->o.typing_rate_limit;
        c->events.last_ms = c->typing_bucket.last_ms = gw_now_ms();
    }
    json_decref(data);
    if (!c || sio_socket_set_slot(s, &conn_slot, c, conn_free) < 0) {
        if (c)
            conn_free(c);
        else
            free(uid);
        sio_next_refuse(next, "server error", NULL);
        return;
    }
    if (gw->hooks.admit) {
        sio_gateway_admission *a = malloc(sizeof(*a));
        if (!a) {
            sio_next_refuse(next, "server error", NULL);
            return;
        }
        *a = (sio_gateway_admission){c, next};
        c->admission = a;
        gw->hooks.admit(c->user_id, c->org_id, cap, a, gw->hooks.user);
        return;
    }
    sio_json_count_add(gw->users, uid, 1);
    c->counted = 1;
    sio_next_accept(next);
}

void sio_gateway_set_hooks(sio_gateway *gw, const sio_gateway_hooks *h)
{
    gw->hooks = *h;
}

int sio_gateway_admit(sio_gateway_admission *a, int verdict)
{
    gw_conn *c = a->c;
    sio_next *next = a->next;
    free(a);
    if (!c) { /* the socket is gone: the answer only frees next */
        sio_next_refuse(next, "gone", NULL);
        return SIO_ECLOSED;
    }
    c->admission = NULL;
    if (verdict == SIO_GW_ADMIT) {
        sio_json_count_add(c->gw->users, c->user_id, 1);
        c->counted = 1;
        sio_next_accept(next);
    } else if (verdict == SIO_GW_ADMIT_LIMIT) {
        refuse_limit(c->gw, next, -1);
    } else {
        sio_next_refuse(next, "server error", NULL);
    }
    return 0;
}

int sio_gateway_identity(sio_gateway *gw, sio_socket *s, const char **user_id, const char **org_id)
{
    gw_conn *c = sio_socket_slot(s, &conn_slot);
    if (!c || !c->counted || c->gw != gw)
        return SIO_ENOTFOUND;
    *user_id = c->user_id;
    *org_id = c->org_id;
    return 0;
}

static void on_connection(sio_socket *s, void *user)
{
    sio_gateway *gw = user;
    gw_conn *c = sio_socket_slot(s, &conn_slot);
    if (!c)
        return;
    c->s = s;
    gw->stats.connections++;
    char *room = room_name(gw->o.room_prefix_user, c->user_id);
    if (room)
        sio_socket_join(s, room);
    free(room);
    if (c->org_id && (room = room_name(gw->o.room_prefix_org, c->org_id))) {
        sio_socket_join(s, room);
        free(room);
    }
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_str(&w, "message", "Connected to chat server");
    gw_reply_str(&w, "user_id", c->user_id);
    gw_reply_str(&w, "organization_id", c->org_id);
    gw_reply_str(&w, "role", c->role);
    emit_reply(s, "connected", &w);
}

/* The socket has left its rooms already; typing states still tell the others they ended. */
static void on_disconnect(sio_socket *s, const char *reason, void *user)
{
    (void)reason;
    (void)user;
    gw_conn *c = sio_socket_slot(s, &conn_slot);
    if (!c)
        return;
    typing_end_all(c, 1);
    gw_authorize_cancel(c, NULL);
    conn_uncount(c);
    c->s = NULL;
}

/* ---- events -------------------------------------------------------------------------------- */

/* Takes a token; capacity 0 means no limit. */
static int bucket_take(gw_bucket *b, unsigned capacity, unsigned window_ms, uint64_t now)
{
    if (!capacity || !window_ms)
        return 1;
    b->tokens += (double)(now - b->last_ms) * capacity / window_ms;
    if (b->tokens > capacity)
        b->tokens = capacity;
    b->last_ms = now;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

/* Each byte in lower case when it is a hex digit, else 0 ('-' aside, which the UUID's shape
 * checks by position): one lookup both checks and canonicalises a digit. */
static const char uuid_digit[256] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5',
    ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9', ['a'] = 'a', ['b'] = 'b',
    ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['A'] = 'a', ['B'] = 'b',
    ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f'};

/* Copies the 36 characters at p into conv in lower case, NUL-terminated, and tells whether they
 * are a UUID (hex digits in groups of 8-4-4-4-12 joined by '-'); p may be conv. */
static int canonical_uuid(char conv[GW_UUID_LEN + 1], const char *p)
{
    static const unsigned char group_end[] = {8, 13, 18, 23, GW_UUID_LEN};
    unsigned char ok = 1;
    size_t i = 0;
    for (size_t g = 0; g < sizeof(group_end); g++) {
        for (; i < group_end[g]; i++) {
            char d = uuid_digit[(unsigned char)p[i]];
            ok &= d != 0;
            conv[i] = d;
        }
        if (i < GW_UUID_LEN) {
            ok &= p[i] == '-';
            conv[i++] = '-';
        }
    }
    conv[GW_UUID_LEN] = '\0';
    return ok;
}

/*
 * The common start of every event: the socket's state, the counter, the rate limits (typing
 * events spend from both buckets), and the payload's conversation_id in canonical lower case
 * (when conv is not NULL). Returns the state, or NULL when the event was answered (an error)
 * or is not the gateway's.
 */
static gw_conn *event_begin(sio_socket *s, int ev, const sio_args *args, sio_ack *ack,
                            char conv[GW_UUID_LEN + 1])
{
    gw_conn *c = sio_socket_slot(s, &conn_slot);
    if (!c || !c->s)
        return NULL;
    sio_gateway *gw = c->gw;
    gw->stats.events[ev]++;
    uint64_t now = gw_now_ms();
    if (!bucket_take(&c->events, gw->o.rate_limit, 60000, now)) {
        gw->stats.rate_limited_events++;
        reply_error(c, ack, SIO_GW_ERR_RATE_LIMITED, "Too many events, slow down");
        return NULL;
    }
    int typing = ev == SIO_GW_EV_TYPING_START || ev == SIO_GW_EV_TYPING_STOP;
    if (typing && !bucket_take(&c->typing_bucket, gw->o.typing_rate_limit,
                               gw->o.typing_rate_window_ms, now)) {
        gw->stats.rate_limited_typing++;
        reply_error(c, ack, SIO_GW_ERR_RATE_LIMITED, "Too many typing events, slow down");
        return NULL;
    }
    if (!conv)
        return c;
    size_t len = 0;
    const char *txt = sio_args_json(args, 0, &len);
    if (txt && gw_payload_conversation_id(txt, len, conv) && canonical_uuid(conv, conv))
        return c;
    json_t *payload = txt ? json_loadb(txt, len, JSON_DECODE_ANY, NULL) : NULL;
    json_t *id = json_object_get(payload, "conversation_id");
    const char *why = NULL;
    if (!json_is_object(payload))
        why = "Payload must be an object with a conversation_id";
    else if (!id)
        why = "conversation_id is required";
    else if (!json_is_string(id))
        why = "conversation_id must be a string";
    else if (json_string_length(id) != GW_UUID_LEN || !canonical_uuid(conv, json_string_value(id)))
        why = "conversation_id must be a UUID";
    json_decref(payload);
    if (why) {
        reply_error(c, ack, SIO_GW_ERR_BAD_REQUEST, why);
        return NULL;
    }
    return c;
}

void gw_join_finish(gw_conn *c, const char *conv, sio_ack *ack, int allowed, int err,
                    const char *message)
{
    if (!c->s || !sio_socket_connected(c->s)) {
        if (ack)
            sio_ack_free(ack);
        return;
    }
    if (allowed) {
        char buf[64];
        char *room = conv_room(c->gw, conv, buf, sizeof(buf));
        int rc = room ? sio_socket_join(c->s, room) : SIO_ENOMEM;
        conv_room_free(room, buf);
        if (rc == SIO_ELIMIT) {
            allowed = 0;
            err = SIO_GW_ERR_BAD_REQUEST;
            message = "Too many rooms joined";
        } else if (rc < 0) {
            allowed = 0;
            err = SIO_GW_ERR_UNAVAILABLE;
            message = "Could not join the conversation";
        }
    }
    if (!allowed) {
        reply_error(c, ack, err, message);
        return;
    }
    static const char joined[] = "Joined conversation ";
    char text[sizeof(joined) + GW_UUID_LEN];
    memcpy(text, joined, sizeof(joined) - 1);
    memcpy(text + sizeof(joined) - 1, conv, GW_UUID_LEN + 1);
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_str(&w, "conversation_id", conv);
    gw_reply_str(&w, "message", text);
    emit_reply(c->s, "joined_conversation", &w);
    ack_ok(ack, conv, text, -1);
}

/* The events' own steps, after event_begin: conv is the conversation (unused by ping). */

static void do_join(gw_conn *c, int ev, const char *conv, sio_ack *ack)
{
    (void)ev;
    gw_authorize(c, conv, ack);
}

static void do_leave(gw_conn *c, int ev, const char *conv, sio_ack *ack)
{
    (void)ev;
    gw_authorize_cancel(c, conv);
    char buf[64];
    char *room = conv_room(c->gw, conv, buf, sizeof(buf));
    if (room)
        sio_socket_leave(c->s, room);
    conv_room_free(room, buf);
    gw_typing *t = typing_find(c, conv);
    if (t)
        typing_end(t, 1);
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_str(&w, "conversation_id", conv);
    emit_reply(c->s, "left_conversation", &w);
    ack_ok(ack, conv, NULL, -1);
}

static void do_typing(gw_conn *c, int ev, const char *conv, sio_ack *ack)
{
    int start = ev == SIO_GW_EV_TYPING_START;
    char buf[64];
    char *room = conv_room(c->gw, conv, buf, sizeof(buf));
    int member = room && is_member(c, room);
    conv_room_free(room, buf);
    if (!member) {
        reply_error(c, ack, SIO_GW_ERR_FORBIDDEN, "Not a member of this conversation");
        return;
    }
    gw_typing *t = typing_find(c, conv);
    if (start) {
        if (typing_start(c, conv) < 0) {
            reply_error(c, ack, SIO_GW_ERR_UNAVAILABLE, "Out of memory");
            return;
        }
    } else if (t) {
        typing_end(t, 0);
    }
    typing_broadcast(c, conv, start);
    ack_ok(ack, conv, NULL, start);
}

static void do_ping(gw_conn *c, int ev, const char *conv, sio_ack *ack)
{
    (void)ev;
    (void)conv;
    struct timespec ts;
    struct tm tm;
    char stamp[40], iso[64];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(iso, sizeof(iso), "%s.%03ldZ", stamp, ts.tv_nsec / 1000000L);
    gw_reply w;
    gw_reply_begin(&w);
    gw_reply_str(&w, "timestamp", iso);
    emit_reply(c->s, "pong", &w);
    if (ack) {
        gw_reply_begin(&w);
        gw_reply_bool(&w, "ok", 1);
        gw_reply_str(&w, "timestamp", iso);
        ack_reply(ack, &w);
    }
}

/* Every event of the gateway (event_names): counted, rate-limited and its conversation id read
 * by event_begin, then handled by its step. */
static void on_event(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                     void *user)
{
    static void (*const steps[SIO_GW_EV_COUNT])(gw_conn *, int, const char *, sio_ack *) = {
        do_join, do_leave, do_typing, do_typing, do_ping};
    (void)user;
    int ev = 0;
    while (ev < SIO_GW_EV_COUNT - 1 && strcmp(event, event_names[ev]))
        ev++;
    char conv[GW_UUID_LEN + 1] = "";
    gw_conn *c = event_begin(s, ev, args, ack, ev == SIO_GW_EV_PING ? NULL : conv);
    if (c)
        steps[ev](c, ev, conv, ack);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

/* Copies the option strings into one block owned by the gateway, gw->strings. */
static int copy_strings(sio_gateway *gw)
{
    const char **fields[] = {&gw->o.authorize_url, &gw->o.authorize_token, &gw->o.room_prefix_user,
                             &gw->o.room_prefix_org, &gw->o.room_prefix_conversation};
    gw->strings = sio_strings_copy(fields, sizeof(fields) / sizeof(fields[0]));
    return gw->strings ? 0 : SIO_ENOMEM;
}

sio_gateway *sio_gateway_new(sio_server *srv, sio_namespace *nsp, const sio_gateway_options *o)
{
    sio_gateway *gw = calloc(1, sizeof(*gw));
    if (!gw)
        return NULL;
    gw->srv = srv;
    gw->nsp = nsp;
    gw->base = sio_server_base(srv);
    gw->o = *o;
    if (!gw->o.room_prefix_user || !gw->o.room_prefix_org || !gw->o.room_prefix_conversation ||
        !gw->o.typing_timeout_ms) {
        gw_log(gw, SIO_LOG_ERROR, "gateway: room prefixes and a typing timeout are required");
        free(gw);
        return NULL;
    }
    if (gw->o.authorize_url && !gw->o.authorize_url[0])
        gw->o.authorize_url = NULL;
    gw->users = json_object();
    gw->authz_cache = json_object();
    int ok = copy_strings(gw) == 0 && gw->users && gw->authz_cache;
    if (ok && gw->o.authorize_url && !strncmp(gw->o.authorize_url, "https://", 8) &&
        !(gw->tls = sio_httpc_tls_new(NULL))) {
        gw_log(gw, SIO_LOG_ERROR, "gateway: cannot load the trusted certificates for %s",
               gw->o.authorize_url);
        sio_gateway_free(gw);
        return NULL;
    }
    if (ok && gw->o.identity_from_auth)
        ok = sio_namespace_use(nsp, identity_mw, gw) == 0;
    ok = ok && sio_namespace_use(nsp, cap_mw, gw) == 0;
    for (int ev = 0; ok && ev < SIO_GW_EV_COUNT; ev++)
        ok = sio_namespace_on(nsp, event_names[ev], on_event, gw) == 0;
    if (!ok) {
        gw_log(gw, SIO_LOG_ERROR, "gateway: out of memory");
        sio_gateway_free(gw);
        return NULL;
    }
    sio_namespace_on_connection(nsp, on_connection, gw);
    sio_namespace_on_disconnect(nsp, on_disconnect, gw);
    if (gw->o.identity_from_auth)
        gw_log(gw, SIO_LOG_WARN,
               "gateway: TEST MODE, identities are taken from the CONNECT auth object "
               "unverified; never use this in production");
    if (gw->o.authorize_url)
        gw_log(gw, SIO_LOG_INFO, "gateway: joins authorised by %s (cache %u ms, timeout %u ms)",
               gw->o.authorize_url, gw->o.authorize_cache_ttl_ms, gw->o.authorize_timeout_ms);
    else
        gw_log(gw, SIO_LOG_WARN,
               "gateway: no --authorize-url: any authenticated user may join any conversation");
    return gw;
}

void sio_gateway_free(sio_gateway *gw)
{
    if (!gw)
        return;
    json_decref(gw->users);
    json_decref(gw->authz_cache);
    sio_httpc_tls_free(gw->tls);
    free(gw->strings);
    free(gw);
}

void sio_gateway_get_stats(const sio_gateway *gw, sio_gateway_stats *out)
{
    *out = gw->stats;
    out->users = json_object_size(gw->users);
    out->authorize_cache_entries = json_object_size(gw->authz_cache);
}

void sio_gateway_set_limits(sio_gateway *gw, const sio_gateway_options *o)
{
    if (o->typing_timeout_ms) /* required */
        gw->o.typing_timeout_ms = o->typing_timeout_ms;
    gw->o.rate_limit = o->rate_limit;
    gw->o.typing_rate_limit = o->typing_rate_limit;
    gw->o.typing_rate_window_ms = o->typing_rate_window_ms;
    gw->o.max_connections_per_user = o->max_connections_per_user;
    gw->o.authorize_cache_ttl_ms = o->authorize_cache_ttl_ms;
    gw->o.authorize_timeout_ms = o->authorize_timeout_ms;
}
