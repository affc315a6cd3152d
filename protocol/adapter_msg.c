/*
 * Redis-adapter cluster messages: decoding into sio_adapter_msg and encoding back in Node's key
 * order (docs/protocol-adapter.md §2 classic, §4 sharded). The message is validated as a whole
 * first (size, depth, element budget, every count against the bytes left), then read through the
 * JSON/msgpack node layer of adapter_node.c, so the grammar below exists once for both encodings.
 */
#include "adapter_msg.h"

#include <stdio.h>
#include <string.h>

#include <sio/error.h>

#include "adapter_node.h"
#include "json_scan.h"

void sio_adapter_limits_init(sio_adapter_limits *l)
{
    l->max_bytes = 16u << 20;
    l->max_depth = 32;
    l->max_elements = 1u << 20;
    l->max_list = 65536;
    l->max_attachments = 256;
}

/* ---- flags ---- */

static const char *const flag_names[SIO_ADAPTER_NFLAGS] = {
    "volatile", "compress", "local", "broadcast", "timeout", "expectSingleResponse"};

bool sio_adapter_flags_has(const sio_adapter_flags *f, sio_adapter_flag flag)
{
    for (unsigned i = 0; i < f->count; i++)
        if (f->order[i] == flag)
            return true;
    return false;
}

bool sio_adapter_flag_on(const sio_adapter_flags *f, sio_adapter_flag flag)
{
    return sio_adapter_flags_has(f, flag) &&
           (flag == SIO_ADAPTER_FLAG_TIMEOUT || (f->values & (1u << flag)) != 0);
}

void sio_adapter_flags_set(sio_adapter_flags *f, sio_adapter_flag flag, uint64_t v)
{
    if ((unsigned)flag >= SIO_ADAPTER_NFLAGS)
        return;
    f->present = true;
    if (!sio_adapter_flags_has(f, flag))
        f->order[f->count++] = (uint8_t)flag;
    if (flag == SIO_ADAPTER_FLAG_TIMEOUT)
        f->timeout = v;
    else if (v)
        f->values |= 1u << flag;
    else
        f->values &= ~(1u << flag);
}

void sio_adapter_msg_init(sio_adapter_msg *m, sio_adapter_kind kind)
{
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->type = -1;
    m->close = -1;
    m->client_count = -1;
    m->packet.id = -1;
}

void sio_adapter_msg_deinit(sio_adapter_msg *m)
{
    arena_free(&m->arena_);
    sio_adapter_msg_init(m, m->kind);
}

/* ---- decoding ---- */

struct dctx {
    const sio_adapter_limits *lim;
    void **arena;
    const char *why;
};

static int bad(struct dctx *c, int err, const char *why)
{
    c->why = why;
    return err;
}

static bool is_nil(const anode *v)
{
    return anode_kind_of(v) == AN_NIL;
}

/* Optional string member; nil counts as absent (the emitter may send uid nil). */
static int get_str(struct dctx *c, const anode *map, const char *key, sio_adapter_str *out)
{
    anode v;
    if (!anode_get(map, key, &v) || is_nil(&v))
        return 0;
    int rc = anode_str(&v, c->arena, false, out);
    return rc == 0 ? 0 : bad(c, rc, "expected a string member");
}

static int str_list(struct dctx *c, const anode *v, sio_adapter_strs *out)
{
    anode_iter it;
    anode e;
    long long count = anode_iter_init(&it, v);

    if (count < 0 || it.is_map)
        return bad(c, SIO_EPROTO, "expected a list of strings");
    if ((unsigned long long)count > c->lim->max_list)
        return bad(c, SIO_ELIMIT, "list too long");
    /* count is an actual member count of validated input, so this is bounded by its size. */
    out->v = arena_alloc(c->arena, (size_t)count * sizeof(*out->v));
    if (out->v == NULL)
        return bad(c, SIO_ENOMEM, "out of memory");
    out->n = 0;
    out->present = true;
    while (anode_iter_next(&it, NULL, &e)) {
        /* Rooms are strings, but JS allows numbers (adapter hasRoom tries parseFloat). */
        int rc = anode_str(&e, c->arena, true, &out->v[out->n]);
        if (rc != 0)
            return bad(c, rc, "expected a list of strings");
        out->n++;
    }
    return 0;
}

static int get_strs(struct dctx *c, const anode *map, const char *key, sio_adapter_strs *out)
{
    anode v;
    if (!anode_get(map, key, &v) || is_nil(&v))
        return 0;
    return str_list(c, &v, out);
}

static int get_flags(struct dctx *c, const anode *v, sio_adapter_flags *f)
{
    anode_iter it;
    anode k, val;

    if (anode_iter_init(&it, v) < 0 || !it.is_map)
        return bad(c, SIO_EPROTO, "flags is not a map");
    f->present = true;
    while (anode_iter_next(&it, &k, &val)) {
        for (unsigned i = 0; i < SIO_ADAPTER_NFLAGS; i++) {
            if (!anode_str_eq(&k, flag_names[i], strlen(flag_names[i])))
                continue;
            bool b;
            int64_t t;
            if (i == SIO_ADAPTER_FLAG_TIMEOUT) {
                if (!anode_int(&val, &t) || t < 0)
                    return bad(c, SIO_EPROTO, "flags.timeout is not a duration");
                sio_adapter_flags_set(f, SIO_ADAPTER_FLAG_TIMEOUT, (uint64_t)t);
            } else if (anode_bool(&val, &b)) {
                sio_adapter_flags_set(f, (sio_adapter_flag)i, b);
            } else if (!is_nil(&val)) {
                return bad(c, SIO_EPROTO, "boolean flag is not a boolean");
            }
        }
    }
    return 0;
}

static int get_opts(struct dctx *c, const anode *map, sio_adapter_opts *o)
{
    anode v, f;
    int rc;

    if (!anode_get(map, "opts", &v) || is_nil(&v))
        return 0;
    if (anode_kind_of(&v) != AN_MAP)
        return bad(c, SIO_EPROTO, "opts is not a map");
    o->present = true;
    if ((rc = get_strs(c, &v, "rooms", &o->rooms)) != 0 ||
        (rc = get_strs(c, &v, "except", &o->except)) != 0)
        return rc;
    if (anode_get(&v, "flags", &f) && !is_nil(&f))
        return get_flags(c, &f, &o->flags);
    return 0;
}

static void get_value(const anode *map, const char *key, sio_adapter_value *out)
{
    anode v;
    if (anode_get(map, key, &v))
        *out = (sio_adapter_value){v.fmt, v.p, v.n, NULL, 0};
}

/* Binary values inside a msgpack value (bin, legacy ext type 0), counted without recursion. */
static size_t count_binary(const sio_adapter_value *v)
{
    sio_mp_reader r;
    sio_mp_item it;
    uint64_t pending = 1;
    size_t bins = 0;

    if (v->fmt != SIO_ADAPTER_FMT_MSGPACK || v->p == NULL)
        return 0;
    sio_mp_reader_init(&r, v->p, v->n);
    while (pending > 0 && sio_mp_read(&r, &it, NULL) == 0) {
        pending--;
        if (it.type == SIO_MP_ARRAY)
            pending += it.count;
        else if (it.type == SIO_MP_MAP)
            pending += (uint64_t)it.count * 2;
        else if (it.type == SIO_MP_BIN || (it.type == SIO_MP_EXT && it.ext_type == 0 &&
                                           it.marker >= 0xc7 && it.marker <= 0xc9))
            bins++;
    }
    return bins;
}

static int get_packet(struct dctx *c, const anode *v, sio_adapter_packet *pk)
{
    anode t;
    int64_t type, id;
    int rc;

    if (anode_kind_of(v) != AN_MAP)
        return bad(c, SIO_EPROTO, "packet is not a map");
    if (!anode_get(v, "type", &t) || !anode_int(&t, &type) || type < 0 || type > 6)
        return bad(c, SIO_EPROTO, "packet.type missing or not 0-6");
    pk->present = true;
    pk->type = (int)type;
    get_value(v, "data", &pk->data);
    if ((rc = get_str(c, v, "nsp", &pk->nsp)) != 0)
        return rc;
    if (anode_get(v, "id", &t) && !is_nil(&t)) {
        if (!anode_int(&t, &id) || id < 0)
            return bad(c, SIO_EPROTO, "packet.id is not an ack id");
        pk->id = id;
    }
    size_t bins = count_binary(&pk->data);
    if (bins > c->lim->max_attachments)
        return bad(c, SIO_ELIMIT, "too many binary attachments");
    pk->attachments = (unsigned)bins;
    return 0;
}

static int get_socket(struct dctx *c, const anode *v, sio_adapter_socket *s)
{
    int rc;
    if (anode_kind_of(v) != AN_MAP)
        return bad(c, SIO_EPROTO, "socket entry is not a map");
    if ((rc = get_str(c, v, "id", &s->id)) != 0 || (rc = get_strs(c, v, "rooms", &s->rooms)) != 0)
        return rc;
    if (s->id.p == NULL)
        return bad(c, SIO_EPROTO, "socket entry without id");
    get_value(v, "handshake", &s->handshake);
    get_value(v, "data", &s->data);
    return 0;
}

/* "sockets": plain ids (reply to SOCKETS) or fetchSockets entries. */
static int get_sockets(struct dctx *c, const anode *map, sio_adapter_msg *m)
{
    anode v, e;
    anode_iter it;
    long long count;

    if (!anode_get(map, "sockets", &v) || is_nil(&v))
        return 0;
    m->has_sockets = true;
    count = anode_iter_init(&it, &v);
    if (count < 0 || it.is_map)
        return bad(c, SIO_EPROTO, "sockets is not a list");
    if (count > 0) {
        anode_iter peek = it;
        anode_iter_next(&peek, NULL, &e);
        if (anode_kind_of(&e) == AN_STR)
            return str_list(c, &v, &m->socket_ids);
    }
    if ((unsigned long long)count > c->lim->max_list)
        return bad(c, SIO_ELIMIT, "list too long");
    m->sockets = arena_alloc(c->arena, (size_t)count * sizeof(*m->sockets));
    if (m->sockets == NULL)
        return bad(c, SIO_ENOMEM, "out of memory");
    memset(m->sockets, 0, (size_t)count * sizeof(*m->sockets));
    while (anode_iter_next(&it, NULL, &e)) {
        int rc = get_socket(c, &e, &m->sockets[m->nsockets]);
        if (rc != 0)
            return rc;
        m->nsockets++;
    }
    return 0;
}

/* Members shared by classic requests/responses and sharded "data" maps. "packet" is a Socket.IO
 * packet object only for broadcasts; elsewhere it carries event args or an ack argument and
 * lands in m->data (docs/protocol-adapter.md §2.4, §4.2). */
static int get_members(struct dctx *c, const anode *map, sio_adapter_msg *m, bool packet_obj)
{
    anode v;
    int64_t i;
    bool b;
    int rc;

    if ((rc = get_str(c, map, "requestId", &m->request_id)) != 0 ||
        (rc = get_opts(c, map, &m->opts)) != 0 ||
        (rc = get_strs(c, map, "rooms", &m->rooms)) != 0 || (rc = get_sockets(c, map, m)) != 0 ||
        (rc = get_str(c, map, "sid", &m->sid)) != 0 ||
        (rc = get_str(c, map, "room", &m->room)) != 0)
        return rc;
    if (anode_get(map, "close", &v) && !is_nil(&v)) {
        if (!anode_bool(&v, &b))
            return bad(c, SIO_EPROTO, "close is not a boolean");
        m->close = b;
    }
    if (anode_get(map, "clientCount", &v)) {
        if (!anode_int(&v, &i) || i < 0)
            return bad(c, SIO_EPROTO, "clientCount is not a count");
        m->client_count = i;
    }
    get_value(map, "data", &m->data);
    if (anode_get(map, "packet", &v)) {
        if (packet_obj)
            return get_packet(c, &v, &m->packet);
        m->data = (sio_adapter_value){v.fmt, v.p, v.n, NULL, 0};
    }
    return 0;
}

static int need(struct dctx *c, bool ok, const char *why)
{
    return ok ? 0 : bad(c, SIO_EPROTO, why);
}

static int decode_broadcast(struct dctx *c, const anode *root, sio_adapter_msg *m)
{
    anode_iter it;
    anode uid, pk, opts;

    /* [uid, packet, opts]; Node reads opts.rooms unconditionally, so all three are required. */
    if (anode_iter_init(&it, root) < 3 || it.is_map)
        return bad(c, SIO_EPROTO, "broadcast is not [uid, packet, opts]");
    anode_iter_next(&it, NULL, &uid);
    anode_iter_next(&it, NULL, &pk);
    anode_iter_next(&it, NULL, &opts);
    if (!is_nil(&uid) && anode_str(&uid, c->arena, false, &m->uid) != 0)
        return bad(c, SIO_EPROTO, "broadcast uid is not a string");
    int rc = get_packet(c, &pk, &m->packet);
    if (rc != 0)
        return rc;
    if (anode_kind_of(&opts) != AN_MAP)
        return bad(c, SIO_EPROTO, "broadcast opts is not a map");
    m->opts.present = true;
    if ((rc = get_strs(c, &opts, "rooms", &m->opts.rooms)) != 0 ||
        (rc = get_strs(c, &opts, "except", &m->opts.except)) != 0)
        return rc;
    anode f;
    if (anode_get(&opts, "flags", &f) && !is_nil(&f))
        return get_flags(c, &f, &m->opts.flags);
    return 0;
}

static int check_request(struct dctx *c, const sio_adapter_msg *m)
{
    bool rid = m->request_id.p != NULL;
    switch (m->type) {
    case SIO_ADAPTER_REQ_SOCKETS:
    case SIO_ADAPTER_REQ_ALL_ROOMS:
        return need(c, rid, "request without requestId");
    case SIO_ADAPTER_REQ_REMOTE_JOIN:
    case SIO_ADAPTER_REQ_REMOTE_LEAVE:
        return need(c, (m->opts.present && m->rooms.present) || m->sid.p != NULL,
                    "join/leave without opts and rooms (or sid)");
    case SIO_ADAPTER_REQ_REMOTE_DISCONNECT:
        return need(c, m->opts.present || m->sid.p != NULL, "disconnect without opts (or sid)");
    case SIO_ADAPTER_REQ_REMOTE_FETCH:
        return need(c, rid && m->opts.present, "fetch without requestId or opts");
    case SIO_ADAPTER_REQ_SERVER_SIDE_EMIT: {
        anode d = {m->data.fmt, m->data.p, m->data.n};
        return need(c, m->data.p != NULL && anode_kind_of(&d) == AN_ARRAY,
                    "serverSideEmit data is not a list");
    }
    case SIO_ADAPTER_REQ_BROADCAST:
        return need(c, rid && m->packet.present && m->opts.present,
                    "broadcast request without requestId, packet or opts");
    default:
        return bad(c, SIO_EPROTO, "unknown request type");
    }
}

static int check_cluster(struct dctx *c, const sio_adapter_msg *m, bool has_data)
{
    bool rid = m->request_id.p != NULL;
    switch (m->type) {
    case SIO_ADAPTER_CL_INITIAL_HEARTBEAT:
    case SIO_ADAPTER_CL_HEARTBEAT:
    case SIO_ADAPTER_CL_ADAPTER_CLOSE:
        return 0;
    case SIO_ADAPTER_CL_BROADCAST:
        return need(c, m->packet.present && m->opts.present, "broadcast without packet or opts");
    case SIO_ADAPTER_CL_SOCKETS_JOIN:
    case SIO_ADAPTER_CL_SOCKETS_LEAVE:
        return need(c, m->opts.present && m->rooms.present, "join/leave without opts or rooms");
    case SIO_ADAPTER_CL_DISCONNECT_SOCKETS:
        return need(c, m->opts.present, "disconnect without opts");
    case SIO_ADAPTER_CL_FETCH_SOCKETS:
        return need(c, rid && m->opts.present, "fetch without requestId or opts");
    case SIO_ADAPTER_CL_FETCH_SOCKETS_RESPONSE:
        return need(c, rid && m->has_sockets, "fetch response without requestId or sockets");
    case SIO_ADAPTER_CL_SERVER_SIDE_EMIT: {
        anode d = {m->data.fmt, m->data.p, m->data.n};
        return need(c, m->data.p != NULL && anode_kind_of(&d) == AN_ARRAY,
                    "serverSideEmit packet is not a list");
    }
    case SIO_ADAPTER_CL_SERVER_SIDE_EMIT_RESPONSE:
    case SIO_ADAPTER_CL_BROADCAST_ACK:
        return need(c, rid, "response without requestId");
    case SIO_ADAPTER_CL_BROADCAST_CLIENT_COUNT:
        return need(c, rid && m->client_count >= 0, "client count without requestId or count");
    default:
        (void)has_data;
        return bad(c, SIO_EPROTO, "unknown cluster message type");
    }
}

static int get_type(struct dctx *c, const anode *root, bool required, int *out)
{
    anode v;
    int64_t t;
    if (!anode_get(root, "type", &v) || is_nil(&v))
        return required ? bad(c, SIO_EPROTO, "message without type") : 0;
    if (!anode_int(&v, &t) || t < 0 || t > 99)
        return bad(c, SIO_EPROTO, "type is not a small integer");
    *out = (int)t;
    return 0;
}

static int decode_root(struct dctx *c, const anode *root, sio_adapter_msg *m)
{
    int rc;
    anode data;

    if (m->kind == SIO_ADAPTER_BROADCAST)
        return decode_broadcast(c, root, m);
    if (anode_kind_of(root) != AN_MAP)
        return bad(c, SIO_EPROTO, "message is not a map");
    if ((rc = get_str(c, root, "uid", &m->uid)) != 0)
        return rc;
    switch (m->kind) {
    case SIO_ADAPTER_REQUEST:
        if ((rc = get_type(c, root, true, &m->type)) != 0 ||
            (rc = get_members(c, root, m, m->type == SIO_ADAPTER_REQ_BROADCAST)) != 0)
            return rc;
        return check_request(c, m);
    case SIO_ADAPTER_RESPONSE:
        if ((rc = get_type(c, root, false, &m->type)) != 0 ||
            (rc = get_members(c, root, m, false)) != 0)
            return rc;
        /* Node matches responses by requestId and reads "type" only to tell the typed replies
         * (6, 8, 9) apart; any other type carries no meaning and is dropped (§2.4). */
        if (m->type != SIO_ADAPTER_REQ_SERVER_SIDE_EMIT &&
            m->type != SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT &&
            m->type != SIO_ADAPTER_REQ_BROADCAST_ACK)
            m->type = -1;
        if (m->type == SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT && m->client_count < 0)
            return bad(c, SIO_EPROTO, "client count response without clientCount");
        return need(c, m->request_id.p != NULL, "response without requestId");
    case SIO_ADAPTER_CLUSTER: {
        if ((rc = get_type(c, root, true, &m->type)) != 0 ||
            (rc = get_str(c, root, "nsp", &m->nsp)) != 0)
            return rc;
        bool has_data = anode_get(root, "data", &data) && !is_nil(&data);
        if (has_data) {
            if (anode_kind_of(&data) != AN_MAP)
                return bad(c, SIO_EPROTO, "data is not a map");
            if ((rc = get_members(c, &data, m, m->type == SIO_ADAPTER_CL_BROADCAST)) != 0)
                return rc;
        }
        /* get_members read data.data, which no cluster type has; "packet" fills m->data. */
        return check_cluster(c, m, has_data);
    }
    default:
        return bad(c, SIO_EINVAL, "unknown message kind");
    }
}

int sio_adapter_msg_decode(sio_adapter_kind kind, const uint8_t *p, size_t n,
                           const sio_adapter_limits *lim, sio_adapter_msg *m, const char **reason)
{
    sio_adapter_limits def;
    struct dctx c;
    anode root;
    int rc;

    if (lim == NULL) {
        sio_adapter_limits_init(&def);
        lim = &def;
    }
    sio_adapter_msg_init(m, kind);
    c = (struct dctx){lim, &m->arena_, NULL};
    if (n > lim->max_bytes) {
        rc = bad(&c, SIO_ELIMIT, "message too large");
    } else if (n == 0) {
        rc = bad(&c, SIO_EPROTO, "empty message");
    } else if (kind != SIO_ADAPTER_BROADCAST && p[0] == '{') {
        /* Node's rule: a payload starting with '{' is JSON, anything else msgpack (§1.2). */
        m->fmt = SIO_ADAPTER_FMT_JSON;
        rc = sio_json_validate((const char *)p, n, lim->max_depth, &c.why);
    } else {
        sio_mp_limits ml = {lim->max_bytes, lim->max_depth, lim->max_elements};
        ssize_t len = sio_mp_validate(p, n, &ml, &c.why);
        m->fmt = SIO_ADAPTER_FMT_MSGPACK;
        rc = len < 0 ? (int)len : 0;
        if (rc == 0 && (size_t)len != n)
            rc = bad(&c, SIO_EPROTO, "msgpack: trailing bytes");
    }
    if (rc == 0) {
        root = (anode){m->fmt, p, n};
        rc = decode_root(&c, &root, m);
    }
    if (rc != 0) {
        if (reason != NULL)
            *reason = c.why != NULL ? c.why : "malformed message";
        sio_adapter_msg_deinit(m);
    }
    return rc;
}
