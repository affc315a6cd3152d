/*
 * The adapter host of the Socket.IO layer (src/socketio/cluster.c, include/sio/adapter.h):
 * messages recorded from Node's @socket.io/redis-adapter 8.3 and redis-emitter
 * (protocol/fixtures/adapter) are decoded with protocol/adapter_msg, mapped into an
 * sio_cluster_msg the way a Redis adapter will, and handed to sio_adapter_host_receive; a
 * recording adapter shows what the layer publishes back. Then several servers in one process
 * run over the loopback bus of docs/examples/skeleton_adapter.c.
 */
#include "harness.h"

#include "adapter_msg.h"
#include "msgpack.h"
#include "skeleton_adapter.h"

#include <criterion/criterion.h>
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ADAPTER_FIXTURE_DIR
#error "ADAPTER_FIXTURE_DIR must name tests/unit/protocol/fixtures/adapter"
#endif

/* ---- a recording adapter ------------------------------------------------------------------ */

#define OWN_UID "c-node"

/* A published message, copied: what the layer handed to ops->publish. */
typedef struct pub {
    sio_cluster_type type;
    char nsp[64], uid[64], requester[64], request_id[64];
    int has_requester;
    char data[512];
    int has_data;
    size_t nbins;
    char bins[4][16];
    size_t binlen[4];
    uint64_t client_count;
    char rooms[256];  /* join/leave/all-rooms: "a;b;" */
    char trooms[128]; /* target */
    char texcept[128];
    int flags, close;
    unsigned ack_timeout_ms;
    size_t nsockets;
    struct {
        char id[32], rooms[256], data[128], handshake[1024];
    } socks[4];
} pub;

static pub P[32];
static size_t NP;
static size_t fake_servers = 2;
static sio_adapter_host *fake_host;

static void join_strs(char *out, size_t cap, const char *const *v, size_t n)
{
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        strncat(out, v[i], cap - strlen(out) - 2);
        strcat(out, ";");
    }
}

static void *fa_create(sio_adapter_host *host, void *config)
{
    (void)config;
    fake_host = host;
    return &fake_host;
}

static void fa_free(void *self)
{
    (void)self;
    fake_host = NULL;
}

static int fa_nsp_open(void *self, const char *nsp, void **state)
{
    (void)self, (void)nsp;
    *state = NULL;
    return 0;
}

static int fa_publish(void *self, void *state, const sio_cluster_msg *m)
{
    (void)self, (void)state;
    cr_assert_lt(NP, sizeof(P) / sizeof(P[0]));
    pub *p = &P[NP++];
    memset(p, 0, sizeof(*p));
    p->type = m->type;
    snprintf(p->nsp, sizeof(p->nsp), "%s", m->nsp);
    snprintf(p->uid, sizeof(p->uid), "%s", m->uid ? m->uid : "");
    p->has_requester = m->requester != NULL;
    snprintf(p->requester, sizeof(p->requester), "%s", m->requester ? m->requester : "");
    snprintf(p->request_id, sizeof(p->request_id), "%s", m->request_id ? m->request_id : "");
    p->has_data = m->data != NULL;
    if (m->data)
        snprintf(p->data, sizeof(p->data), "%.*s", (int)m->data_len, m->data);
    p->nbins = m->nbins;
    for (size_t i = 0; i < m->nbins && i < 4; i++) {
        p->binlen[i] = m->bins[i].len < 16 ? m->bins[i].len : 16;
        memcpy(p->bins[i], m->bins[i].data, p->binlen[i]);
    }
    p->client_count = m->client_count;
    join_strs(p->rooms, sizeof(p->rooms), m->rooms, m->nrooms);
    join_strs(p->trooms, sizeof(p->trooms), m->target.rooms, m->target.nrooms);
    join_strs(p->texcept, sizeof(p->texcept), m->target.except, m->target.nexcept);
    p->flags = m->target.flags;
    p->close = m->close;
    p->ack_timeout_ms = m->ack_timeout_ms;
    p->nsockets = m->nsockets;
    for (size_t i = 0; i < m->nsockets && i < 4; i++) {
        const sio_socket_info *s = &m->sockets[i];
        snprintf(p->socks[i].id, sizeof(p->socks[i].id), "%s", s->id);
        join_strs(p->socks[i].rooms, sizeof(p->socks[i].rooms), s->rooms, s->nrooms);
        snprintf(p->socks[i].data, sizeof(p->socks[i].data), "%s", s->data_json);
        snprintf(p->socks[i].handshake, sizeof(p->socks[i].handshake), "%s", s->handshake_json);
    }
    return 0;
}

static void fa_server_count(void *self, void *state, sio_server_count_cb done, void *arg)
{
    (void)self, (void)state;
    done(fake_servers, arg);
}

static const char *fa_uid(void *self)
{
    (void)self;
    return OWN_UID;
}

static const sio_adapter_ops recording_ops = {
    .name = "recording",
    .create = fa_create,
    .free = fa_free,
    .nsp_open = fa_nsp_open,
    .publish = fa_publish,
    .server_count = fa_server_count,
    .uid = fa_uid,
};

/* The last published message of this type (asserted to exist). */
static const pub *published(sio_cluster_type type)
{
    for (size_t i = NP; i-- > 0;)
        if (P[i].type == type)
            return &P[i];
    cr_assert_fail("nothing of type %d published", (int)type);
    return NULL;
}

static size_t published_count(sio_cluster_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < NP; i++)
        n += P[i].type == type;
    return n;
}

/* ---- recorded messages, mapped as a Redis adapter will ------------------------------------ */

/* One fixture decoded and mapped into an sio_cluster_msg. Every pointer of m points into this
 * struct (strings in pool, the payload's JSON in data, attachments into raw). */
typedef struct mapped {
    char name[96], channel[96];
    uint8_t raw[4096];
    size_t nraw;
    sio_adapter_kind kind;
    sio_adapter_msg am;
    sio_cluster_msg m;
    sio_mp_buf data;
    sio_adapter_bin att[16];
    sio_bin bins[16];
    char pool[16384];
    size_t used;
    const char *ptrs[128];
    size_t nptrs;
    sio_socket_info socks[8];
} mapped;

static const char *pool_copy(mapped *x, const char *p, size_t n)
{
    cr_assert_lt(x->used + n + 1, sizeof(x->pool));
    char *d = x->pool + x->used;
    memcpy(d, p, n);
    d[n] = 0;
    x->used += n + 1;
    return d;
}

static const char *str_of(mapped *x, sio_adapter_str s)
{
    return s.p ? pool_copy(x, s.p, s.n) : NULL;
}

static const char *const *strv_of(mapped *x, const sio_adapter_strs *l, size_t *n)
{
    *n = l->present ? l->n : 0;
    cr_assert_leq(x->nptrs + *n, sizeof(x->ptrs) / sizeof(x->ptrs[0]));
    const char **v = &x->ptrs[x->nptrs];
    for (size_t i = 0; i < *n; i++)
        v[i] = str_of(x, l->v[i]);
    x->nptrs += *n;
    return v;
}

/* A payload value as the JSON text of the message (placeholders + attachments); wrapped in
 * [...] for an ack argument (sio_cluster_msg carries ack answers as an argument array). */
static void value_json(mapped *x, const sio_adapter_value *v, int wrap)
{
    const char *why = NULL;
    size_t natt = 0;
    sio_mp_buf_init(&x->data, 0);
    if (wrap)
        sio_mp_buf_put(&x->data, "[", 1);
    cr_assert_eq(sio_adapter_value_to_json(v, NULL, &x->data, x->att, 16, &natt, &why), 0, "%s: %s",
                 x->name, why ? why : "");
    if (wrap)
        sio_mp_buf_put(&x->data, "]", 1);
    cr_assert_eq(x->data.err, 0);
    for (size_t i = 0; i < natt; i++)
        x->bins[i] = (sio_bin){x->att[i].p, x->att[i].n};
    x->m.data = (const char *)x->data.p;
    x->m.data_len = x->data.len;
    x->m.bins = x->bins;
    x->m.nbins = natt;
}

static const char *value_cstr(mapped *x, const sio_adapter_value *v)
{
    if (!v->p)
        return NULL;
    sio_mp_buf b;
    sio_adapter_bin att[4];
    size_t natt = 0;
    sio_mp_buf_init(&b, 0);
    cr_assert_eq(sio_adapter_value_to_json(v, NULL, &b, att, 4, &natt, NULL), 0);
    const char *s = pool_copy(x, (const char *)b.p, b.len);
    sio_mp_buf_deinit(&b);
    return s;
}

/* The packet of a broadcast: BINARY_EVENT when it carries Buffers. */
static void map_packet(mapped *x)
{
    const sio_adapter_msg *a = &x->am;
    cr_assert(a->packet.present, "%s: no packet", x->name);
    x->m.packet_type = a->packet.attachments ? 5 : 2;
    value_json(x, &a->packet.data, 0);
}

static void map_target(mapped *x)
{
    const sio_adapter_opts *o = &x->am.opts;
    if (!o->present)
        return;
    x->m.target.rooms = strv_of(x, &o->rooms, &x->m.target.nrooms);
    x->m.target.except = strv_of(x, &o->except, &x->m.target.nexcept);
    if (sio_adapter_flag_on(&o->flags, SIO_ADAPTER_FLAG_VOLATILE))
        x->m.target.flags |= SIO_EMIT_VOLATILE;
    if (sio_adapter_flags_has(&o->flags, SIO_ADAPTER_FLAG_TIMEOUT))
        x->m.ack_timeout_ms = (unsigned)o->flags.timeout;
}

static void map_sockets(mapped *x)
{
    const sio_adapter_msg *a = &x->am;
    cr_assert_leq(a->nsockets, 8);
    for (size_t i = 0; i < a->nsockets; i++) {
        const sio_adapter_socket *s = &a->sockets[i];
        sio_socket_info *d = &x->socks[i];
        d->id = str_of(x, s->id);
        d->rooms = strv_of(x, &s->rooms, &d->nrooms);
        d->data_json = value_cstr(x, &s->data);
        d->handshake_json = value_cstr(x, &s->handshake);
    }
    x->m.sockets = x->socks;
    x->m.nsockets = a->nsockets;
}

/* The part of a channel name between its first two '#': the namespace; and the part after the
 * namespace up to the next '#': a room (classic broadcasts) or a server uid (responses). */
static const char *channel_part(mapped *x, int which)
{
    const char *p = strchr(x->channel, '#');
    for (int i = 0; p && i < which; i++)
        p = strchr(p + 1, '#');
    if (!p)
        return NULL;
    const char *end = strchr(p + 1, '#');
    return end && end > p + 1 ? pool_copy(x, p + 1, (size_t)(end - p - 1)) : NULL;
}

static void map_classic_request(mapped *x)
{
    const sio_adapter_msg *a = &x->am;
    sio_cluster_msg *m = &x->m;
    switch (a->type) {
    case SIO_ADAPTER_REQ_ALL_ROOMS:
        m->type = SIO_CLUSTER_ALL_ROOMS;
        break;
    case SIO_ADAPTER_REQ_REMOTE_JOIN:
    case SIO_ADAPTER_REQ_REMOTE_LEAVE:
        m->type = a->type == SIO_ADAPTER_REQ_REMOTE_JOIN ? SIO_CLUSTER_SOCKETS_JOIN
                                                         : SIO_CLUSTER_SOCKETS_LEAVE;
        m->rooms = strv_of(x, &a->rooms, &m->nrooms);
        break;
    case SIO_ADAPTER_REQ_REMOTE_DISCONNECT:
        m->type = SIO_CLUSTER_DISCONNECT_SOCKETS;
        m->close = a->close == 1;
        break;
    case SIO_ADAPTER_REQ_REMOTE_FETCH:
        m->type = SIO_CLUSTER_FETCH_SOCKETS;
        break;
    case SIO_ADAPTER_REQ_SERVER_SIDE_EMIT:
        m->type = SIO_CLUSTER_SERVER_SIDE_EMIT;
        value_json(x, &a->data, 0);
        break;
    case SIO_ADAPTER_REQ_BROADCAST:
        m->type = SIO_CLUSTER_BROADCAST;
        map_packet(x);
        break;
    default:
        cr_assert_fail("%s: request type %d", x->name, a->type);
    }
}

static void map_classic_response(mapped *x)
{
    const sio_adapter_msg *a = &x->am;
    sio_cluster_msg *m = &x->m;
    switch (a->type) {
    case SIO_ADAPTER_REQ_SERVER_SIDE_EMIT:
        m->type = SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE;
        value_json(x, &a->data, 1);
        break;
    case SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT:
        m->type = SIO_CLUSTER_BROADCAST_CLIENT_COUNT;
        m->client_count = (uint64_t)a->client_count;
        break;
    case SIO_ADAPTER_REQ_BROADCAST_ACK:
        m->type = SIO_CLUSTER_BROADCAST_ACK;
        value_json(x, &a->data, 1);
        break;
    default: /* untyped: matched by what it carries */
        if (a->has_sockets) {
            m->type = SIO_CLUSTER_FETCH_SOCKETS_RESPONSE;
            map_sockets(x);
        } else {
            cr_assert(a->rooms.present, "%s: unknown response", x->name);
            m->type = SIO_CLUSTER_ALL_ROOMS_RESPONSE;
            m->rooms = strv_of(x, &a->rooms, &m->nrooms);
        }
    }
}

static void map_sharded(mapped *x)
{
    const sio_adapter_msg *a = &x->am;
    sio_cluster_msg *m = &x->m;
    m->type = (sio_cluster_type)a->type; /* ClusterAdapter numbering on both sides */
    switch (a->type) {
    case SIO_ADAPTER_CL_BROADCAST:
        map_packet(x);
        break;
    case SIO_ADAPTER_CL_SOCKETS_JOIN:
    case SIO_ADAPTER_CL_SOCKETS_LEAVE:
        m->rooms = strv_of(x, &a->rooms, &m->nrooms);
        break;
    case SIO_ADAPTER_CL_DISCONNECT_SOCKETS:
        m->close = a->close == 1;
        break;
    case SIO_ADAPTER_CL_FETCH_SOCKETS_RESPONSE:
        map_sockets(x);
        break;
    case SIO_ADAPTER_CL_SERVER_SIDE_EMIT:
        value_json(x, &a->data, 0);
        break;
    case SIO_ADAPTER_CL_SERVER_SIDE_EMIT_RESPONSE:
    case SIO_ADAPTER_CL_BROADCAST_ACK:
        value_json(x, &a->data, 1);
        break;
    case SIO_ADAPTER_CL_BROADCAST_CLIENT_COUNT:
        m->client_count = (uint64_t)a->client_count;
        break;
    default:
        break;
    }
    /* a response arrives on the requester's own channel socket.io#<nsp>#<uid># */
    if (a->type == SIO_ADAPTER_CL_FETCH_SOCKETS_RESPONSE ||
        a->type == SIO_ADAPTER_CL_SERVER_SIDE_EMIT_RESPONSE ||
        a->type == SIO_ADAPTER_CL_BROADCAST_CLIENT_COUNT || a->type == SIO_ADAPTER_CL_BROADCAST_ACK)
        m->requester = channel_part(x, 1);
}

/* Loads fixture num ("NN-....bin" of manifest.txt). */
static void load_fixture(mapped *x, int num)
{
    FILE *mf = fopen(ADAPTER_FIXTURE_DIR "/manifest.txt", "r");
    cr_assert_not_null(mf);
    char prefix[4], name[96], channel[96];
    snprintf(prefix, sizeof(prefix), "%02d-", num);
    int found = 0;
    while (!found && fscanf(mf, "%95s %95s", name, channel) == 2)
        found = strncmp(name, prefix, 3) == 0;
    fclose(mf);
    cr_assert(found, "no fixture %d", num);
    strcpy(x->name, name);
    strcpy(x->channel, channel);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", ADAPTER_FIXTURE_DIR, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    x->nraw = fread(x->raw, 1, sizeof(x->raw), f);
    cr_assert(feof(f), "%s: larger than the buffer", name);
    fclose(f);
    if (strstr(name, "-sharded-"))
        x->kind = SIO_ADAPTER_CLUSTER;
    else if (!strncmp(channel, "socket.io-request#", 18))
        x->kind = SIO_ADAPTER_REQUEST;
    else if (!strncmp(channel, "socket.io-response#", 19))
        x->kind = SIO_ADAPTER_RESPONSE;
    else
        x->kind = SIO_ADAPTER_BROADCAST;
}

/*
 * The fixture -> sio_cluster_msg mapping, a preview of the Redis adapter's read side: decode
 * once, convert payloads to JSON + attachments (slices of the message), take the namespace from
 * the message or else from the channel, and carry target, flags and request ids across.
 */
static mapped *map_fixture(int num)
{
    mapped *x = calloc(1, sizeof(*x));
    cr_assert_not_null(x);
    load_fixture(x, num);
    const char *why = NULL;
    cr_assert_eq(sio_adapter_msg_decode(x->kind, x->raw, x->nraw, NULL, &x->am, &why), 0, "%s: %s",
                 x->name, why ? why : "");
    const sio_adapter_msg *a = &x->am;
    sio_cluster_msg *m = &x->m;
    m->uid = str_of(x, a->uid);
    m->request_id = str_of(x, a->request_id);
    if (a->nsp.p)
        m->nsp = str_of(x, a->nsp);
    else if (a->packet.present && a->packet.nsp.p)
        m->nsp = str_of(x, a->packet.nsp);
    else
        m->nsp = channel_part(x, 0);
    map_target(x);
    switch (x->kind) {
    case SIO_ADAPTER_BROADCAST:
        m->type = SIO_CLUSTER_BROADCAST;
        map_packet(x);
        break;
    case SIO_ADAPTER_REQUEST:
        map_classic_request(x);
        break;
    case SIO_ADAPTER_RESPONSE:
        map_classic_response(x);
        break;
    case SIO_ADAPTER_CLUSTER:
        map_sharded(x);
        break;
    }
    return x;
}

static void unmap(mapped *x)
{
    sio_mp_buf_deinit(&x->data);
    sio_adapter_msg_deinit(&x->am);
    free(x);
}

/* Maps fixture num and hands it to the layer; returns sio_adapter_host_receive's answer. */
static int feed(int num)
{
    mapped *x = map_fixture(num);
    int rc = sio_adapter_host_receive(fake_host, &x->m);
    unmap(x);
    return rc;
}

/* Same, as a response to a request this server started (its id replaces the recorded one). */
static int feed_response(int num, const char *request_id, const char *requester)
{
    mapped *x = map_fixture(num);
    x->m.request_id = request_id;
    if (requester)
        x->m.requester = requester;
    int rc = sio_adapter_host_receive(fake_host, &x->m);
    unmap(x);
    return rc;
}

/* ---- servers ------------------------------------------------------------------------------ */

static h_server *S;

static void setup(void)
{
    h_quiet_log();
    NP = 0;
    fake_servers = 2;
    h_config cfg = {.adapter = &recording_ops, .requests_timeout_ms = 2000};
    S = h_server_new(&cfg);
    cr_assert_not_null(fake_host);
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

typedef struct peer {
    h_client *c;
    sio_socket *s;
} peer;

static peer connect_to(const char *nsp, const char *room)
{
    nsp_of(nsp);
    peer p;
    p.c = h_client_ws(S);
    p.s = h_connect(p.c, nsp, NULL);
    if (room)
        cr_assert_eq(sio_socket_join(p.s, room), 0);
    return p;
}

static const char hello_all[] = "42[\"hello\",\"world\",1,-2,2.5,300,70000,5000000000,{\"a\":[true,"
                                "false,null]},\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]";

/* ---- inbound broadcasts ------------------------------------------------------------------- */

TestSuite(cluster_in, .init = setup, .fini = teardown);

Test(cluster_in, broadcast_to_everyone_classic_and_sharded)
{
    peer a = connect_to("/", NULL), b = connect_to("/", "room1");
    size_t before = NP;
    cr_assert_eq(feed(1), 0);
    h_expect(a.c, hello_all);
    h_expect(b.c, hello_all);
    cr_assert_eq(feed(28), 0);
    h_expect(a.c, hello_all);
    h_expect(b.c, hello_all);
    cr_assert_eq(NP, before, "a received broadcast is never published again");
    cr_assert_eq(S->stats.adapter_received, 2);
    cr_assert_eq(S->stats.adapter_dropped, 0);
}

Test(cluster_in, broadcast_to_a_room)
{
    peer a = connect_to("/", NULL), b = connect_to("/", "room1");
    cr_assert_eq(feed(2), 0);
    cr_assert_eq(feed(29), 0);
    h_expect(b.c, "42[\"to-room\",\"x\"]");
    h_expect(b.c, "42[\"to-room\",\"x\"]");
    h_expect_none(a.c);
}

Test(cluster_in, broadcast_to_rooms_except_a_room)
{
    peer a = connect_to("/", "r1"), b = connect_to("/", "r2"), c = connect_to("/", "r2");
    cr_assert_eq(sio_socket_join(b.s, "r3"), 0);
    cr_assert_eq(feed(3), 0);
    cr_assert_eq(feed(30), 0);
    for (int i = 0; i < 2; i++) {
        h_expect(a.c, "42[\"multi\",1]");
        h_expect(c.c, "42[\"multi\",1]");
    }
    h_expect_none(b.c);
}

static void expect_binary_packet(h_client *c)
{
    h_expect(c, "452-[\"bin\",{\"_placeholder\":true,\"num\":0},{\"nested\":{\"_placeholder\":"
                "true,\"num\":1},\"n\":1}]");
    h_expect_bin(c, "\x01\x02\x03", 3);
    h_expect_bin(c, "xyz", 3);
}

Test(cluster_in, buffers_reach_clients_as_a_binary_event)
{
    peer a = connect_to("/", NULL);
    uint64_t encoded = S->stats.packets_encoded;
    cr_assert_eq(feed(4), 0);
    expect_binary_packet(a.c);
    cr_assert_eq(feed(31), 0);
    expect_binary_packet(a.c);
    h_expect_none(a.c);
    cr_assert_eq(S->stats.packets_encoded, encoded + 2);
}

Test(cluster_in, volatile_broadcast_skips_a_busy_transport)
{
    peer a = connect_to("/", NULL);
    h_client *poll = h_client_polling(S);
    h_send(poll, "0");
    h_expect_prefix(poll, "40{\"sid\":\"");
    cr_assert_eq(feed(5), 0);
    cr_assert_eq(feed(32), 0);
    cr_assert_eq(feed(29), 0); /* not volatile, to room1: nobody */
    cr_assert_eq(feed(28), 0); /* not volatile: everybody */
    h_expect(a.c, "42[\"vol\",\"v\"]");
    h_expect(a.c, "42[\"vol\",\"v\"]");
    h_expect(a.c, hello_all);
    h_expect(poll, hello_all);
}

Test(cluster_in, other_namespace)
{
    peer root = connect_to("/", NULL), chat = connect_to("/chat", NULL);
    cr_assert_eq(feed(6), 0);
    cr_assert_eq(feed(33), 0);
    h_expect(chat.c, "42/chat,[\"chat-msg\",\"hi\"]");
    h_expect(chat.c, "42/chat,[\"chat-msg\",\"hi\"]");
    h_expect_none(root.c);
}

Test(cluster_in, unknown_namespace_is_dropped_and_counted)
{
    peer root = connect_to("/", NULL);
    cr_assert_eq(feed(6), SIO_EINVAL);
    cr_assert_eq(feed(23), SIO_EINVAL);
    cr_assert_eq(S->stats.adapter_received, 2);
    cr_assert_eq(S->stats.adapter_dropped, 2);
    h_expect_none(root.c);
}

Test(cluster_in, emitter_broadcasts)
{
    peer all = connect_to("/", NULL), r1 = connect_to("/", "room1");
    peer ab = connect_to("/", "a"), bc = connect_to("/", "b");
    cr_assert_eq(sio_socket_join(bc.s, "c"), 0);
    peer chat = connect_to("/chat", NULL);
    cr_assert_eq(feed(20), 0);
    cr_assert_eq(feed(21), 0);
    cr_assert_eq(feed(22), 0);
    cr_assert_eq(feed(23), 0);
    static const char from_emitter[] = "42[\"from-emitter\",1,\"two\",{\"three\":3}]";
    h_expect(all.c, from_emitter);
    h_expect_none(all.c);
    h_expect(r1.c, from_emitter);
    h_expect(r1.c, "451-[\"em-room\",{\"_placeholder\":true,\"num\":0}]");
    h_expect_bin(r1.c, "\xde\xad", 2);
    h_expect(ab.c, from_emitter);
    h_expect(ab.c, "42[\"em-multi\",null]"); /* rooms a, b except c */
    h_expect(bc.c, from_emitter);
    h_expect_none(bc.c);
    h_expect(chat.c, "42/chat,[\"em-chat\",true]");
    cr_assert_eq(S->stats.adapter_dropped, 0);
}

/* ---- remote socket operations ------------------------------------------------------------- */

static int in_room(sio_socket *s, const char *room)
{
    for (size_t i = 0; i < sio_socket_room_count(s); i++)
        if (!strcmp(sio_socket_room(s, i), room))
            return 1;
    return 0;
}

Test(cluster_in, remote_join_and_leave)
{
    peer a = connect_to("/", "room1"), b = connect_to("/", NULL);
    cr_assert_eq(feed(12), 0); /* sockets in room1 join room-x and room-y */
    cr_assert(in_room(a.s, "room-x") && in_room(a.s, "room-y"));
    cr_assert(!in_room(b.s, "room-x"));
    cr_assert_eq(sio_socket_join(b.s, "room-x"), 0);
    cr_assert_eq(feed(13), 0); /* all but room-y members leave room-x */
    cr_assert(in_room(a.s, "room-x"));
    cr_assert(!in_room(b.s, "room-x"));
    /* sharded */
    cr_assert_eq(sio_socket_leave(a.s, "room-y"), 0);
    cr_assert_eq(sio_socket_join(b.s, "room-x"), 0);
    cr_assert_eq(feed(39), 0);
    cr_assert(in_room(a.s, "room-y"));
    cr_assert_eq(feed(40), 0);
    cr_assert(in_room(a.s, "room-x"));
    cr_assert(!in_room(b.s, "room-x"));
    /* emitter: join em-room for room1, then everybody leaves em-room and other */
    cr_assert_eq(feed(24), 0);
    cr_assert(in_room(a.s, "em-room") && !in_room(b.s, "em-room"));
    cr_assert_eq(sio_socket_join(b.s, "other"), 0);
    cr_assert_eq(feed(25), 0);
    cr_assert(!in_room(a.s, "em-room") && !in_room(b.s, "other"));
    cr_assert_eq(S->stats.adapter_dropped, 0);
}

static int disconnects;
static char disconnect_reason[64];

static void on_disconnect(sio_socket *s, const char *reason, void *user)
{
    (void)s, (void)user;
    disconnects++;
    snprintf(disconnect_reason, sizeof(disconnect_reason), "%s", reason);
}

Test(cluster_in, remote_disconnect)
{
    sio_namespace_on_disconnect(nsp_of("/"), on_disconnect, NULL);
    peer a = connect_to("/", "nobody-room"), b = connect_to("/", "nobody");
    peer c = connect_to("/", NULL);
    cr_assert_eq(feed(19), 0); /* close: true */
    h_expect(a.c, "41");
    cr_assert_not(h_client_open(a.c));
    cr_assert_eq(feed(27), 0); /* emitter, close: false */
    h_expect(b.c, "41");
    cr_assert(h_client_open(b.c));
    cr_assert_eq(disconnects, 2);
    cr_assert_str_eq(disconnect_reason, "server namespace disconnect");
    h_expect_none(c.c);
    cr_assert_eq(feed(44), 0); /* sharded: nobody left in nobody-room */
    cr_assert_eq(disconnects, 2);
}

/* ---- requests from other servers ---------------------------------------------------------- */

Test(cluster_in, remote_fetch_is_answered_to_the_requester)
{
    peer a = connect_to("/", "room1"), b = connect_to("/", NULL);
    cr_assert_eq(sio_socket_set_data(a.s, "{\"user\":\"a\",\"n\":1}"), 0);
    cr_assert_eq(feed(10), 0);
    const pub *r = published(SIO_CLUSTER_FETCH_SOCKETS_RESPONSE);
    cr_assert_str_eq(r->requester, "-q4ZeD");
    cr_assert_str_eq(r->request_id, "EFTDxA");
    cr_assert_str_eq(r->nsp, "/");
    cr_assert_str_eq(r->uid, OWN_UID);
    cr_assert_eq(r->nsockets, 2);
    int ia = !strcmp(r->socks[0].id, sio_socket_id(a.s)) ? 0 : 1;
    cr_assert_str_eq(r->socks[ia].id, sio_socket_id(a.s));
    cr_assert_str_eq(r->socks[1 - ia].id, sio_socket_id(b.s));
    char rooms[64];
    snprintf(rooms, sizeof(rooms), "%s;room1;", sio_socket_id(a.s));
    cr_assert_str_eq(r->socks[ia].rooms, rooms);
    cr_assert_str_eq(r->socks[ia].data, "{\"user\":\"a\",\"n\":1}");
    cr_assert_str_eq(r->socks[1 - ia].data, "{}");
    cr_assert(strstr(r->socks[ia].handshake, "\"host\":\"test.local\""));
    cr_assert(strstr(r->socks[ia].handshake, "\"address\":\"127.0.0.1\""));
    /* sharded, with a target */
    cr_assert_eq(feed(37), 0);
    r = published(SIO_CLUSTER_FETCH_SOCKETS_RESPONSE);
    cr_assert_str_eq(r->requester, "33197d04963ead58");
    cr_assert_str_eq(r->request_id, "6e4a36818b5f0b23");
    cr_assert_eq(r->nsockets, 2);
}

Test(cluster_in, remote_all_rooms)
{
    connect_to("/", "room1");
    cr_assert_eq(feed(17), 0);
    const pub *r = published(SIO_CLUSTER_ALL_ROOMS_RESPONSE);
    cr_assert_str_eq(r->requester, "-q4ZeD");
    cr_assert_str_eq(r->request_id, "4veuy1");
    cr_assert(strstr(r->rooms, "room1;"), "%s", r->rooms);
    cr_assert_eq(strlen(r->rooms), SIO_ID_LEN + 1 + 6);
}

static int server_events;
static char server_event[64], server_args[128];
static sio_ack *server_ack;
static int answer_at_once;

static void on_server_event(sio_namespace *nsp, const char *event, const sio_args *args,
                            sio_ack *ack, void *user)
{
    (void)nsp, (void)user;
    server_events++;
    snprintf(server_event, sizeof(server_event), "%s", event);
    size_t n;
    const char *a = sio_args_array(args, &n);
    snprintf(server_args, sizeof(server_args), "%.*s", (int)n, a);
    server_ack = NULL;
    if (ack && answer_at_once)
        cr_assert_eq(sio_ack_send(ack, "[{\"pong\":1.5}]", NULL, 0), 0);
    else if (ack)
        server_ack = sio_ack_retain(ack);
}

Test(cluster_in, server_side_emit_runs_the_handler)
{
    sio_namespace_on_server_event(nsp_of("/"), on_server_event, NULL);
    cr_assert_eq(feed(14), 0);
    cr_assert_eq(server_events, 1);
    cr_assert_str_eq(server_event, "hello-srv");
    cr_assert_str_eq(server_args, "[\"a\",1]");
    cr_assert_null(server_ack);
    cr_assert_eq(feed(41), 0);
    cr_assert_eq(server_events, 2);
    cr_assert_str_eq(server_args, "[\"a\",1]");
    cr_assert_eq(feed(26), 0); /* emitter */
    cr_assert_str_eq(server_event, "em-srv");
    cr_assert_str_eq(server_args, "[{\"k\":\"v\"}]");
    cr_assert_eq(NP, 0);
}

Test(cluster_in, server_side_emit_ack_publishes_the_response)
{
    sio_namespace_on_server_event(nsp_of("/"), on_server_event, NULL);
    answer_at_once = 1;
    cr_assert_eq(feed(15), 0);
    cr_assert_str_eq(server_event, "ping-srv");
    cr_assert_str_eq(server_args, "[2]");
    const pub *r = published(SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE);
    cr_assert_str_eq(r->requester, "-q4ZeD");
    cr_assert_str_eq(r->request_id, "CCE0fR");
    cr_assert_str_eq(r->data, "[{\"pong\":1.5}]");
    /* sharded, answered later */
    answer_at_once = 0;
    cr_assert_eq(feed(42), 0);
    cr_assert_not_null(server_ack);
    cr_assert_eq(published_count(SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE), 1);
    h_advance(S, 100);
    sio_bin bin = {"\x07", 1};
    cr_assert_eq(sio_ack_send(server_ack, "[{\"_placeholder\":true,\"num\":0}]", &bin, 1), 0);
    r = published(SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE);
    cr_assert_str_eq(r->requester, "33197d04963ead58");
    cr_assert_str_eq(r->request_id, "ecbf9de39d3374e3");
    cr_assert_str_eq(r->data, "[{\"_placeholder\":true,\"num\":0}]");
    cr_assert_eq(r->nbins, 1);
    cr_assert_eq(r->bins[0][0], 7);
}

static void broadcast_with_ack(int num, const char *requester, const char *request_id)
{
    peer a = connect_to("/", NULL), b = connect_to("/", NULL);
    cr_assert_eq(feed(num), 0);
    h_expect(a.c, "420[\"ack-me\",\"please\"]");
    h_expect(b.c, "420[\"ack-me\",\"please\"]");
    const pub *r = published(SIO_CLUSTER_BROADCAST_CLIENT_COUNT);
    cr_assert_str_eq(r->requester, requester);
    cr_assert_str_eq(r->request_id, request_id);
    cr_assert_eq(r->client_count, 2);
    cr_assert_eq(NP, 1);
    h_send(a.c, "30[\"ok\"]");
    cr_assert_eq(NP, 2);
    r = published(SIO_CLUSTER_BROADCAST_ACK);
    cr_assert_str_eq(r->requester, requester);
    cr_assert_str_eq(r->request_id, request_id);
    cr_assert_str_eq(r->data, "[\"ok\"]");
    h_advance(S, 0);
    h_send(b.c, "61-0[{\"ok\":true,\"bin\":{\"_placeholder\":true,\"num\":0}}]");
    h_send_bin(b.c, "\x07\x08", 2);
    cr_assert_eq(NP, 3);
    r = published(SIO_CLUSTER_BROADCAST_ACK);
    cr_assert_str_eq(r->data, "[{\"ok\":true,\"bin\":{\"_placeholder\":true,\"num\":0}}]");
    cr_assert_eq(r->nbins, 1);
    cr_assert(r->binlen[0] == 2 && !memcmp(r->bins[0], "\x07\x08", 2));
    h_advance(S, 5000);
    cr_assert_eq(NP, 3);
}

Test(cluster_in, broadcast_with_ack_classic)
{
    broadcast_with_ack(7, "-q4ZeD", "HfbG0e");
}

Test(cluster_in, broadcast_with_ack_sharded)
{
    broadcast_with_ack(34, "33197d04963ead58", "ed4d715c931215ea");
}

Test(cluster_in, broadcast_with_ack_stops_at_its_timeout)
{
    peer a = connect_to("/", NULL);
    cr_assert_eq(feed(34), 0); /* flags.timeout 1500 */
    h_expect(a.c, "420[\"ack-me\",\"please\"]");
    h_advance(S, 1500);
    h_send(a.c, "30[\"late\"]");
    cr_assert_eq(published_count(SIO_CLUSTER_BROADCAST_ACK), 0);
}

Test(cluster_in, a_response_for_another_server_is_ignored)
{
    connect_to("/", NULL);
    cr_assert_eq(feed(35), 0); /* addressed to 1a18... (not us), an unknown request */
    cr_assert_eq(feed(43), 0);
    cr_assert_eq(feed_response(11, "no-such-request", NULL), 0);
    cr_assert_eq(S->stats.adapter_dropped, 0);
    cr_assert_eq(NP, 0);
}

/* ---- requests this server started --------------------------------------------------------- */

typedef struct result {
    int calls, status;
    size_t n;
    char items[8][256];
    size_t nbins[8];
} result;

static result RES;

static void on_fetch(sio_namespace *nsp, int status, const sio_socket_info *v, size_t n, void *user)
{
    (void)nsp, (void)user;
    RES.calls++;
    RES.status = status;
    RES.n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        char rooms[128];
        join_strs(rooms, sizeof(rooms), v[i].rooms, v[i].nrooms);
        snprintf(RES.items[i], sizeof(RES.items[i]), "%s|%s|%s", v[i].id, rooms, v[i].data_json);
    }
}

static void on_answers(sio_namespace *nsp, int status, const sio_args *const *r, size_t n,
                       void *user)
{
    (void)nsp, (void)user;
    RES.calls++;
    RES.status = status;
    RES.n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        size_t len;
        const char *a = sio_args_array(r[i], &len);
        snprintf(RES.items[i], sizeof(RES.items[i]), "%.*s", (int)len, a);
        RES.nbins[i] = sio_args_binary_count(r[i]);
    }
}

static int has_item(const char *prefix)
{
    for (size_t i = 0; i < RES.n && i < 8; i++)
        if (!strncmp(RES.items[i], prefix, strlen(prefix)))
            return 1;
    return 0;
}

Test(cluster_out, fetch_sockets_merges_the_responses, .init = setup, .fini = teardown)
{
    fake_servers = 3;
    connect_to("/", NULL);
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), NULL, on_fetch, NULL), 0);
    const pub *req = published(SIO_CLUSTER_FETCH_SOCKETS);
    cr_assert_eq(strlen(req->request_id), SIO_ID_LEN);
    char id[64];
    strcpy(id, req->request_id);
    h_advance(S, 0);
    cr_assert_eq(RES.calls, 0);
    cr_assert_eq(feed_response(11, id, NULL), 0); /* classic: no requester */
    cr_assert_eq(RES.calls, 0);
    cr_assert_eq(feed_response(38, id, OWN_UID), 0);
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, 0);
    cr_assert_eq(RES.n, 3);
    cr_assert(has_item("gzpb6k2qyWQV8rOcAAAB|gzpb6k2qyWQV8rOcAAAB;room1;|{\"user\":\"u-gzpb\","
                       "\"n\":42}"));
    cr_assert(has_item("SQhKES76cftPHvb9AAAD|SQhKES76cftPHvb9AAAD;room1;|{\"user\":\"u-SQhK\","
                       "\"n\":42}"));
    cr_assert_eq(S->stats.cluster_requests, 1);
    /* a late duplicate is ignored */
    cr_assert_eq(feed_response(38, id, OWN_UID), 0);
    h_advance(S, 5000);
    cr_assert_eq(RES.calls, 1);
}

Test(cluster_out, fetch_sockets_times_out_with_the_partial_result, .init = setup, .fini = teardown)
{
    fake_servers = 3;
    connect_to("/", NULL);
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), NULL, on_fetch, NULL), 0);
    char id[64];
    strcpy(id, published(SIO_CLUSTER_FETCH_SOCKETS)->request_id);
    cr_assert_eq(feed_response(38, id, OWN_UID), 0);
    h_advance(S, 1999);
    cr_assert_eq(RES.calls, 0);
    h_advance(S, 1);
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, SIO_ETIMEDOUT);
    cr_assert_eq(RES.n, 2);
    cr_assert(has_item("SQhKES76cftPHvb9AAAD|"));
    cr_assert_eq(S->stats.cluster_timeouts, 1);
    cr_assert_eq(feed_response(11, id, NULL), 0);
    cr_assert_eq(RES.calls, 1);
}

Test(cluster_out, server_side_emit_with_acks_collects_every_server, .init = setup, .fini = teardown)
{
    fake_servers = 3;
    cr_assert_eq(
        sio_namespace_server_emit(nsp_of("/"), "ping-srv", "[2]", NULL, 0, 0, on_answers, NULL), 0);
    const pub *req = published(SIO_CLUSTER_SERVER_SIDE_EMIT);
    cr_assert_str_eq(req->data, "[\"ping-srv\",2]");
    char id[64];
    strcpy(id, req->request_id);
    cr_assert_eq(feed_response(16, id, NULL), 0);
    cr_assert_eq(feed_response(43, id, OWN_UID), 0);
    cr_assert_eq(RES.calls, 0, "completion waits for the first loop turn");
    h_advance(S, 0);
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, 0);
    cr_assert_eq(RES.n, 2);
    cr_assert_str_eq(RES.items[0], "[{\"pong\":1.5}]");
    cr_assert_str_eq(RES.items[1], "[{\"pong\":1.5}]");
    /* without a callback: published, no request */
    cr_assert_eq(sio_namespace_server_emit(nsp_of("/"), "fire", NULL, NULL, 0, 0, NULL, NULL), 0);
    req = published(SIO_CLUSTER_SERVER_SIDE_EMIT);
    cr_assert_str_eq(req->data, "[\"fire\"]");
    cr_assert_str_eq(req->request_id, "");
}

static char rooms_seen[512];
static int rooms_calls;

static void on_rooms(sio_namespace *nsp, int status, const char *const *rooms, size_t n, void *user)
{
    (void)nsp, (void)user;
    rooms_calls++;
    cr_assert_eq(status, 0);
    rooms_seen[0] = 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(rooms[i]) != SIO_ID_LEN) { /* socket ids aside */
            strcat(rooms_seen, rooms[i]);
            strcat(rooms_seen, ";");
        }
}

Test(cluster_out, all_rooms_merges_without_duplicates, .init = setup, .fini = teardown)
{
    connect_to("/", "room1");
    cr_assert_eq(sio_namespace_all_rooms(nsp_of("/"), on_rooms, NULL), 0);
    char id[64];
    strcpy(id, published(SIO_CLUSTER_ALL_ROOMS)->request_id);
    cr_assert_eq(feed_response(18, id, NULL), 0);
    h_advance(S, 0);
    cr_assert_eq(rooms_calls, 1);
    /* room1 once, then room-x and room-y from the other server (order of a hash set) */
    cr_assert(strstr(rooms_seen, "room1;") && strstr(rooms_seen, "room-x;") &&
                  strstr(rooms_seen, "room-y;"),
              "%s", rooms_seen);
    cr_assert_eq(strlen(rooms_seen), strlen("room1;room-x;room-y;"));
}

Test(cluster_out, broadcast_with_acks_counts_remote_clients, .init = setup, .fini = teardown)
{
    peer a = connect_to("/", NULL);
    cr_assert_eq(sio_namespace_emit_ack(nsp_of("/"), NULL, "ack-me", "[\"please\"]", NULL, 0, 1500,
                                        on_answers, NULL),
                 1);
    const pub *req = published(SIO_CLUSTER_BROADCAST);
    cr_assert_str_eq(req->data, "[\"ack-me\",\"please\"]");
    cr_assert_eq(req->ack_timeout_ms, 1500);
    char id[64];
    strcpy(id, req->request_id);
    cr_assert_eq(strlen(id), SIO_ID_LEN);
    h_expect(a.c, "420[\"ack-me\",\"please\"]");
    h_send(a.c, "30[\"local\"]");
    h_advance(S, 0);
    cr_assert_eq(RES.calls, 0, "the other server has not reported its count");
    cr_assert_eq(feed_response(35, id, OWN_UID), 0); /* clientCount 1 */
    cr_assert_eq(RES.calls, 0);
    cr_assert_eq(feed_response(36, id, OWN_UID), 0); /* its client's answer, with a Buffer */
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, 0);
    cr_assert_eq(RES.n, 2);
    cr_assert_str_eq(RES.items[0], "[\"local\"]");
    cr_assert_str_eq(RES.items[1], "[{\"ok\":true,\"bin\":{\"_placeholder\":true,\"num\":0}}]");
    cr_assert_eq(RES.nbins[1], 1);
}

Test(cluster_out, broadcast_with_acks_times_out_without_the_remote_answers, .init = setup,
     .fini = teardown)
{
    connect_to("/", NULL);
    sio_namespace_emit_ack(nsp_of("/"), NULL, "ack-me", NULL, NULL, 0, 1500, on_answers, NULL);
    char id[64];
    strcpy(id, published(SIO_CLUSTER_BROADCAST)->request_id);
    cr_assert_eq(feed_response(35, id, OWN_UID), 0);
    h_advance(S, 1500);
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, SIO_ETIMEDOUT);
    cr_assert_eq(RES.n, 0);
    cr_assert_eq(feed_response(36, id, OWN_UID), 0);
    cr_assert_eq(RES.calls, 1);
}

Test(cluster_out, local_operations_are_published_once, .init = setup, .fini = teardown)
{
    peer a = connect_to("/", "r");
    sio_namespace *n = nsp_of("/");
    const char *r = "r", *x = "x";
    sio_target to = {
        .rooms = &r, .nrooms = 1, .except = &x, .nexcept = 1, .flags = SIO_EMIT_VOLATILE};
    cr_assert_eq(sio_namespace_emit(n, &to, "ev", "[1]", NULL, 0), 1);
    h_expect(a.c, "42[\"ev\",1]");
    const pub *p = published(SIO_CLUSTER_BROADCAST);
    cr_assert_str_eq(p->data, "[\"ev\",1]");
    cr_assert_str_eq(p->trooms, "r;");
    cr_assert_str_eq(p->texcept, "x;");
    cr_assert_eq(p->flags, SIO_EMIT_VOLATILE);
    cr_assert_str_eq(p->request_id, "");
    sio_target local = {.flags = SIO_EMIT_LOCAL};
    cr_assert_eq(sio_namespace_emit(n, &local, "ev", NULL, NULL, 0), 1);
    cr_assert_eq(published_count(SIO_CLUSTER_BROADCAST), 1);
    cr_assert_eq(sio_namespace_sockets_join(n, &to, "vip"), 1);
    cr_assert_str_eq(published(SIO_CLUSTER_SOCKETS_JOIN)->rooms, "vip;");
    cr_assert_eq(sio_namespace_sockets_leave(n, NULL, "vip"), 1);
    cr_assert_str_eq(published(SIO_CLUSTER_SOCKETS_LEAVE)->rooms, "vip;");
    cr_assert_eq(sio_namespace_disconnect_sockets(n, &to, 1), 1);
    cr_assert_eq(published(SIO_CLUSTER_DISCONNECT_SOCKETS)->close, 1);
    cr_assert_eq(S->stats.adapter_published, 4);
}

Test(cluster_out, requests_pending_at_shutdown_fail_with_closed, .init = setup, .fini = teardown)
{
    fake_servers = 3;
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), NULL, on_fetch, NULL), 0);
    h_advance(S, 0);
    sio_io_shutdown(S->io);
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, SIO_ECLOSED);
    cr_assert_eq(sio_namespace_fetch_sockets(nsp_of("/"), NULL, on_fetch, NULL), SIO_ECLOSED);
    cr_assert_eq(RES.calls, 1);
}

/* ---- servers over the loopback bus -------------------------------------------------------- */

/* Three servers on one libevent base (the bus delivers from 0-ms libevent timers, so the tests
 * spin it) and one manual clock (the layer's own timers: request kicks and timeouts). */
typedef struct bus {
    struct event_base *base;
    sio_clock *clock;
    h_server *srv[3];
    h_client *c[3];
    sio_socket *s[3];
} bus;

static bus B;

static void bus_setup(void)
{
    h_quiet_log();
    memset(&B, 0, sizeof(B));
    memset(&RES, 0, sizeof(RES));
    B.base = event_base_new();
    B.clock = sio_clock_manual(0);
    cr_assert(B.base && B.clock);
    h_config cfg = {.base = B.base, .clock = B.clock, .adapter = loopback_adapter()};
    for (int i = 0; i < 3; i++) {
        B.srv[i] = h_server_new(&cfg);
        B.c[i] = h_client_ws(B.srv[i]);
        B.s[i] = h_connect(B.c[i], "/", NULL);
    }
}

static void bus_teardown(void)
{
    for (int i = 0; i < 3; i++)
        h_server_free(B.srv[i]);
    sio_clock_free(B.clock);
    event_base_free(B.base);
}

/* Lets the layer's timers run (a request's first turn) and the bus deliver, until quiet. */
static void bus_run(void)
{
    for (int i = 0; i < 4; i++) {
        sio_clock_advance(B.clock, 0);
        h_spin(B.base);
    }
}

static sio_namespace *root(int i)
{
    return sio_io_of(B.srv[i]->io, "/");
}

TestSuite(cluster_bus, .init = bus_setup, .fini = bus_teardown);

Test(cluster_bus, a_broadcast_reaches_the_clients_of_every_server)
{
    cr_assert_eq(sio_namespace_emit(root(0), NULL, "hi", "[1,{\"x\":\"y\"}]", NULL, 0), 1);
    h_expect(B.c[0], "42[\"hi\",1,{\"x\":\"y\"}]");
    bus_run();
    h_expect(B.c[1], "42[\"hi\",1,{\"x\":\"y\"}]");
    h_expect(B.c[2], "42[\"hi\",1,{\"x\":\"y\"}]");
    h_expect_none(B.c[0]);
    cr_assert_eq(B.srv[0]->stats.adapter_published, 1);
    cr_assert_eq(B.srv[1]->stats.adapter_received, 1);
}

Test(cluster_bus, rooms_and_binary_across_servers)
{
    cr_assert_eq(sio_socket_join(B.s[2], "room"), 0);
    const char *room = "room";
    sio_target to = {.rooms = &room, .nrooms = 1};
    sio_bin bin = {"\x00\x01", 2};
    cr_assert_eq(
        sio_namespace_emit(root(0), &to, "b", "[{\"_placeholder\":true,\"num\":0}]", &bin, 1), 0);
    bus_run();
    h_expect_none(B.c[0]);
    h_expect_none(B.c[1]);
    h_expect(B.c[2], "451-[\"b\",{\"_placeholder\":true,\"num\":0}]");
    h_expect_bin(B.c[2], "\x00\x01", 2);
}

Test(cluster_bus, remote_join_then_broadcast_to_the_room)
{
    cr_assert_eq(sio_namespace_sockets_join(root(1), NULL, "everyone"), 1);
    bus_run();
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sio_socket_room_count(B.s[i]), 2, "server %d", i);
    const char *room = "everyone";
    sio_target to = {.rooms = &room, .nrooms = 1};
    sio_namespace_emit(root(2), &to, "e", NULL, NULL, 0);
    bus_run();
    for (int i = 0; i < 3; i++)
        h_expect(B.c[i], "42[\"e\"]");
}

Test(cluster_bus, fetch_sockets_merges_every_server)
{
    sio_socket_set_data(B.s[1], "{\"on\":1}");
    cr_assert_eq(sio_namespace_fetch_sockets(root(0), NULL, on_fetch, NULL), 0);
    cr_assert_eq(RES.calls, 0);
    bus_run();
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, 0);
    cr_assert_eq(RES.n, 3);
    char want[128];
    for (int i = 0; i < 3; i++) {
        snprintf(want, sizeof(want), "%s|%s;|%s", sio_socket_id(B.s[i]), sio_socket_id(B.s[i]),
                 i == 1 ? "{\"on\":1}" : "{}");
        cr_assert(has_item(want), "missing %s", want);
    }
}

static int bus_count_calls;
static size_t bus_count;

static void on_count(sio_namespace *nsp, int status, size_t servers, void *user)
{
    (void)nsp, (void)user;
    cr_assert_eq(status, 0);
    bus_count_calls++;
    bus_count = servers;
}

Test(cluster_bus, server_count)
{
    cr_assert_eq(sio_namespace_server_count(root(2), on_count, NULL), 0);
    bus_run();
    cr_assert_eq(bus_count_calls, 1);
    cr_assert_eq(bus_count, 3);
}

Test(cluster_bus, broadcast_with_acks_counts_remote_clients)
{
    cr_assert_eq(sio_namespace_emit_ack(root(0), NULL, "q", "[7]", NULL, 0, 1000, on_answers, NULL),
                 1);
    bus_run();
    for (int i = 0; i < 3; i++)
        h_expect(B.c[i], "420[\"q\",7]");
    h_send(B.c[1], "30[\"one\"]");
    h_send(B.c[0], "30[\"zero\"]");
    bus_run();
    cr_assert_eq(RES.calls, 0, "server 2's client has not answered");
    h_send(B.c[2], "30[\"two\"]");
    bus_run();
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, 0);
    cr_assert_eq(RES.n, 3);
    cr_assert(has_item("[\"zero\"]") && has_item("[\"one\"]") && has_item("[\"two\"]"));
}

Test(cluster_bus, broadcast_with_acks_times_out_on_a_silent_remote_client)
{
    sio_namespace_emit_ack(root(0), NULL, "q", NULL, NULL, 0, 1000, on_answers, NULL);
    bus_run();
    h_send(B.c[0], "30[0]");
    h_send(B.c[1], "30[1]");
    bus_run();
    sio_clock_advance(B.clock, 1000);
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, SIO_ETIMEDOUT);
    cr_assert_eq(RES.n, 2);
}

static void bus_server_event(sio_namespace *nsp, const char *event, const sio_args *args,
                             sio_ack *ack, void *user)
{
    (void)event, (void)args;
    char answer[64];
    snprintf(answer, sizeof(answer), "[%d,\"%s\"]", *(int *)user, sio_namespace_name(nsp));
    if (ack)
        cr_assert_eq(sio_ack_send(ack, answer, NULL, 0), 0);
}

Test(cluster_bus, server_side_emit_with_acks)
{
    static int ids[3] = {0, 1, 2};
    for (int i = 0; i < 3; i++)
        sio_namespace_on_server_event(root(i), bus_server_event, &ids[i]);
    cr_assert_eq(sio_namespace_server_emit(root(1), "who", NULL, NULL, 0, 0, on_answers, NULL), 0);
    bus_run();
    cr_assert_eq(RES.calls, 1);
    cr_assert_eq(RES.status, 0);
    cr_assert_eq(RES.n, 2);
    cr_assert(has_item("[0,\"/\"]") && has_item("[2,\"/\"]"));
}

Test(cluster_bus, remote_disconnect)
{
    cr_assert_eq(sio_namespace_disconnect_sockets(root(0), NULL, 0), 1);
    bus_run();
    for (int i = 0; i < 3; i++) {
        h_expect(B.c[i], "41");
        cr_assert_eq(sio_namespace_socket_count(root(i)), 0);
    }
}
