/*
 * Encoders for Redis-adapter cluster messages. One writer emits either JSON or msgpack, so each
 * message layout below is written once, in the member order Node's adapter 8.3 produces
 * (docs/protocol-adapter.md §2.3, §2.4, §4.2): re-encoding a decoded message gives Node's bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "adapter_msg.h"
#include "adapter_node.h"
#include "json_scan.h"

/* Nesting of the messages themselves (payload values are copied or converted whole). */
#define WDEPTH 8

struct w {
    sio_mp_buf *b;
    bool json;
    unsigned depth;
    bool first[WDEPTH];
    const char *why;
    int err;
};

static void wput(struct w *w, const char *s)
{
    sio_mp_buf_put(w->b, s, strlen(s));
}

static void wfail(struct w *w, int err, const char *why)
{
    if (w->err == 0) {
        w->err = err;
        w->why = why;
    }
}

/* JSON: a comma before every member or element but the first of its container. */
static void wsep(struct w *w)
{
    if (!w->json || w->depth == 0)
        return;
    if (!w->first[w->depth])
        wput(w, ",");
    w->first[w->depth] = false;
}

static void wopen(struct w *w, bool map, uint32_t count)
{
    wsep(w);
    if (w->depth + 1 >= WDEPTH) {
        wfail(w, SIO_EINVAL, "message nested too deep");
        return;
    }
    w->first[++w->depth] = true;
    if (w->json)
        wput(w, map ? "{" : "[");
    else if (map)
        sio_mp_write_map(w->b, count);
    else
        sio_mp_write_array(w->b, count);
}

static void wclose(struct w *w, bool map)
{
    if (w->depth > 0)
        w->depth--;
    if (w->json)
        wput(w, map ? "}" : "]");
}

static void wkey(struct w *w, const char *k)
{
    if (w->json) {
        wsep(w);
        w->first[w->depth] = true; /* the value that follows takes no comma */
        sio_mp_buf_put(w->b, "\"", 1);
        wput(w, k);
        wput(w, "\":");
    } else {
        sio_mp_write_str(w->b, k, strlen(k));
    }
}

/* After a key, the value resets "first" so the next key gets its comma. */
static void wafter(struct w *w)
{
    if (w->json)
        w->first[w->depth] = false;
}

static void wstr(struct w *w, sio_adapter_str s)
{
    wsep(w);
    if (w->json) {
        char small[128];
        size_t len = sio_json_write_string(small, sizeof(small), s.p, s.n);
        if (len < sizeof(small)) {
            sio_mp_buf_put(w->b, small, len);
        } else {
            char *big = malloc(len + 1);
            if (big == NULL) {
                wfail(w, SIO_ENOMEM, "out of memory");
            } else {
                sio_json_write_string(big, len + 1, s.p, s.n);
                sio_mp_buf_put(w->b, big, len);
                free(big);
            }
        }
    } else if (s.p == NULL) {
        sio_mp_write_nil(w->b);
    } else {
        sio_mp_write_str(w->b, s.p, s.n);
    }
    wafter(w);
}

static void wint(struct w *w, int64_t v)
{
    wsep(w);
    if (w->json) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%lld", (long long)v);
        wput(w, buf);
    } else {
        sio_mp_write_int(w->b, v);
    }
    wafter(w);
}

static void wbool(struct w *w, bool v)
{
    wsep(w);
    if (w->json)
        wput(w, v ? "true" : "false");
    else
        sio_mp_write_bool(w->b, v);
    wafter(w);
}

static void wvalue(struct w *w, const sio_adapter_value *v)
{
    sio_adapter_limits lim;
    const char *why = NULL;
    size_t natt = 0;
    int rc = 0;

    wsep(w);
    sio_adapter_limits_init(&lim);
    if (v->p == NULL) {
        wput(w, w->json ? "null" : "\xc0");
    } else if (w->json) {
        rc = sio_adapter_value_to_json(v, &lim, w->b, NULL, 0, &natt, &why);
        if (rc == SIO_ELIMIT && w->b->err == 0)
            rc = SIO_EINVAL, why = "binary payload cannot be sent as JSON";
    } else {
        rc = sio_adapter_value_to_msgpack(v, &lim, w->b, &why);
    }
    if (rc != 0)
        wfail(w, rc, why);
    wafter(w);
}

static void wstrs(struct w *w, const sio_adapter_strs *l)
{
    wopen(w, false, (uint32_t)l->n);
    for (size_t i = 0; i < l->n; i++)
        wstr(w, l->v[i]);
    wclose(w, false);
    wafter(w);
}

static void wflags(struct w *w, const sio_adapter_flags *f)
{
    static const char *const names[SIO_ADAPTER_NFLAGS] = {
        "volatile", "compress", "local", "broadcast", "timeout", "expectSingleResponse"};
    wopen(w, true, f->count);
    for (unsigned i = 0; i < f->count && f->order[i] < SIO_ADAPTER_NFLAGS; i++) {
        unsigned fl = f->order[i];
        wkey(w, names[fl]);
        if (fl == SIO_ADAPTER_FLAG_TIMEOUT)
            wint(w, (int64_t)f->timeout);
        else
            wbool(w, (f->values & (1u << fl)) != 0);
    }
    wclose(w, true);
    wafter(w);
}

/* {rooms, except[, flags]}: the adapter's order (the emitter's rooms, flags, except is not
 * reproduced; docs/protocol-adapter.md §2.5). */
static void wopts(struct w *w, const sio_adapter_opts *o, bool with_flags)
{
    static const sio_adapter_strs none = {NULL, 0, true};
    bool flags = with_flags && o->flags.present;
    wopen(w, true, 2 + flags);
    wkey(w, "rooms");
    wstrs(w, o->rooms.present ? &o->rooms : &none);
    wkey(w, "except");
    wstrs(w, o->except.present ? &o->except : &none);
    if (flags) {
        wkey(w, "flags");
        wflags(w, &o->flags);
    }
    wclose(w, true);
    wafter(w);
}

/* {type, data[, nsp][, id]} */
static void wpacket(struct w *w, const sio_adapter_packet *pk)
{
    bool nsp = pk->nsp.p != NULL, id = pk->id >= 0;
    wopen(w, true, 2 + nsp + id);
    wkey(w, "type");
    wint(w, pk->type);
    wkey(w, "data");
    wvalue(w, &pk->data);
    if (nsp) {
        wkey(w, "nsp");
        wstr(w, pk->nsp);
    }
    if (id) {
        wkey(w, "id");
        wint(w, pk->id);
    }
    wclose(w, true);
    wafter(w);
}

static void wsocket(struct w *w, const sio_adapter_socket *s)
{
    static const sio_adapter_strs none = {NULL, 0, true};
    wopen(w, true, 4);
    wkey(w, "id");
    wstr(w, s->id);
    wkey(w, "handshake");
    wvalue(w, &s->handshake);
    wkey(w, "rooms");
    wstrs(w, s->rooms.present ? &s->rooms : &none);
    wkey(w, "data");
    wvalue(w, &s->data);
    wclose(w, true);
    wafter(w);
}

static void wsockets(struct w *w, const sio_adapter_msg *m)
{
    if (m->socket_ids.present) {
        wstrs(w, &m->socket_ids);
        return;
    }
    wopen(w, false, (uint32_t)m->nsockets);
    for (size_t i = 0; i < m->nsockets; i++)
        wsocket(w, &m->sockets[i]);
    wclose(w, false);
    wafter(w);
}

static void enc_broadcast(struct w *w, const sio_adapter_msg *m)
{
    wopen(w, false, 3);
    wstr(w, m->uid);
    wpacket(w, &m->packet);
    wopts(w, &m->opts, true);
    wclose(w, false);
}

/* Classic requests (docs/protocol-adapter.md §2.4), member order of adapter 8.3 (the emitter
 * omits uid; legacy single-socket forms carry sid). */
static void enc_request(struct w *w, const sio_adapter_msg *m)
{
    int t = m->type;
    bool uid = m->uid.p != NULL, rid = m->request_id.p != NULL;
    bool legacy = m->sid.p != NULL && !m->opts.present;
    uint32_t n = uid + rid + 1;

    switch (t) {
    case SIO_ADAPTER_REQ_SOCKETS:
        n += 1;
        break;
    case SIO_ADAPTER_REQ_REMOTE_JOIN:
    case SIO_ADAPTER_REQ_REMOTE_LEAVE:
    case SIO_ADAPTER_REQ_REMOTE_DISCONNECT:
        n += legacy
                 ? 1 + (t == SIO_ADAPTER_REQ_REMOTE_DISCONNECT ? m->close >= 0 : m->room.p != NULL)
                 : 2;
        break;
    case SIO_ADAPTER_REQ_REMOTE_FETCH:
    case SIO_ADAPTER_REQ_SERVER_SIDE_EMIT:
        n += 1;
        break;
    case SIO_ADAPTER_REQ_BROADCAST:
        n += 2;
        break;
    }
    wopen(w, true, n);
    if (uid) {
        wkey(w, "uid");
        wstr(w, m->uid);
    }
    if (rid) {
        wkey(w, "requestId");
        wstr(w, m->request_id);
    }
    wkey(w, "type");
    wint(w, t);
    switch (t) {
    case SIO_ADAPTER_REQ_SOCKETS:
        wkey(w, "rooms");
        wstrs(w, &m->rooms);
        break;
    case SIO_ADAPTER_REQ_REMOTE_JOIN:
    case SIO_ADAPTER_REQ_REMOTE_LEAVE:
    case SIO_ADAPTER_REQ_REMOTE_DISCONNECT:
        if (legacy) {
            wkey(w, "sid");
            wstr(w, m->sid);
        } else {
            wkey(w, "opts");
            wopts(w, &m->opts, false);
        }
        if (t == SIO_ADAPTER_REQ_REMOTE_DISCONNECT) {
            if (!legacy || m->close >= 0) {
                wkey(w, "close");
                wbool(w, m->close > 0);
            }
        } else if (legacy) {
            if (m->room.p != NULL) {
                wkey(w, "room");
                wstr(w, m->room);
            }
        } else {
            wkey(w, "rooms");
            wstrs(w, &m->rooms);
        }
        break;
    case SIO_ADAPTER_REQ_REMOTE_FETCH:
        wkey(w, "opts");
        wopts(w, &m->opts, false);
        break;
    case SIO_ADAPTER_REQ_SERVER_SIDE_EMIT:
        wkey(w, "data");
        wvalue(w, &m->data);
        break;
    case SIO_ADAPTER_REQ_BROADCAST:
        wkey(w, "packet");
        wpacket(w, &m->packet);
        wkey(w, "opts");
        wopts(w, &m->opts, true);
        break;
    }
    wclose(w, true);
}

/* Classic responses: typed ones lead with type; untyped ones are {requestId[, sockets|rooms]}. */
static void enc_response(struct w *w, const sio_adapter_msg *m)
{
    int t = m->type;
    if (t == SIO_ADAPTER_REQ_SERVER_SIDE_EMIT || t == SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT ||
        t == SIO_ADAPTER_REQ_BROADCAST_ACK) {
        bool payload = t == SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT || m->data.p != NULL;
        wopen(w, true, 2 + payload);
        wkey(w, "type");
        wint(w, t);
        wkey(w, "requestId");
        wstr(w, m->request_id);
        if (t == SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT) {
            wkey(w, "clientCount");
            wint(w, m->client_count);
        } else if (payload) {
            wkey(w, t == SIO_ADAPTER_REQ_SERVER_SIDE_EMIT ? "data" : "packet");
            wvalue(w, &m->data);
        }
        wclose(w, true);
        return;
    }
    bool sockets = m->has_sockets || m->socket_ids.present, rooms = m->rooms.present;
    wopen(w, true, 1 + sockets + (!sockets && rooms));
    wkey(w, "requestId");
    wstr(w, m->request_id);
    if (sockets) {
        wkey(w, "sockets");
        wsockets(w, m);
    } else if (rooms) {
        wkey(w, "rooms");
        wstrs(w, &m->rooms);
    }
    wclose(w, true);
}

/* The "data" member of a sharded message (docs/protocol-adapter.md §4.2). */
static void enc_cluster_data(struct w *w, const sio_adapter_msg *m)
{
    bool rid = m->request_id.p != NULL;
    switch (m->type) {
    case SIO_ADAPTER_CL_BROADCAST:
        wopen(w, true, 2 + rid);
        wkey(w, "packet");
        wpacket(w, &m->packet);
        if (rid) {
            wkey(w, "requestId");
            wstr(w, m->request_id);
        }
        wkey(w, "opts");
        wopts(w, &m->opts, true);
        break;
    case SIO_ADAPTER_CL_SOCKETS_JOIN:
    case SIO_ADAPTER_CL_SOCKETS_LEAVE:
    case SIO_ADAPTER_CL_DISCONNECT_SOCKETS:
    case SIO_ADAPTER_CL_FETCH_SOCKETS:
        wopen(w, true, 2);
        wkey(w, "opts");
        wopts(w, &m->opts, true);
        if (m->type == SIO_ADAPTER_CL_DISCONNECT_SOCKETS) {
            wkey(w, "close");
            wbool(w, m->close > 0);
        } else if (m->type == SIO_ADAPTER_CL_FETCH_SOCKETS) {
            wkey(w, "requestId");
            wstr(w, m->request_id);
        } else {
            wkey(w, "rooms");
            wstrs(w, &m->rooms);
        }
        break;
    case SIO_ADAPTER_CL_FETCH_SOCKETS_RESPONSE:
        wopen(w, true, 2);
        wkey(w, "requestId");
        wstr(w, m->request_id);
        wkey(w, "sockets");
        wsockets(w, m);
        break;
    case SIO_ADAPTER_CL_BROADCAST_CLIENT_COUNT:
        wopen(w, true, 2);
        wkey(w, "requestId");
        wstr(w, m->request_id);
        wkey(w, "clientCount");
        wint(w, m->client_count);
        break;
    default: /* SERVER_SIDE_EMIT[_RESPONSE], BROADCAST_ACK: {[requestId,] packet} */
        wopen(w, true, 1 + rid);
        if (rid) {
            wkey(w, "requestId");
            wstr(w, m->request_id);
        }
        wkey(w, "packet");
        wvalue(w, &m->data);
        break;
    }
    wclose(w, true);
    wafter(w);
}

/* {type[, data], uid, nsp}: ClusterAdapter sets uid and nsp after building the message. */
static void enc_cluster(struct w *w, const sio_adapter_msg *m)
{
    bool data = m->type >= SIO_ADAPTER_CL_BROADCAST && m->type <= SIO_ADAPTER_CL_BROADCAST_ACK;
    wopen(w, true, 3 + data);
    wkey(w, "type");
    wint(w, m->type);
    if (data) {
        wkey(w, "data");
        enc_cluster_data(w, m);
    }
    wkey(w, "uid");
    wstr(w, m->uid);
    wkey(w, "nsp");
    wstr(w, m->nsp.p != NULL ? m->nsp : (sio_adapter_str){"/", 1});
    wclose(w, true);
}

static bool value_has_binary(const sio_adapter_value *v)
{
    if (v->p == NULL)
        return false;
    if (v->fmt == SIO_ADAPTER_FMT_JSON)
        return v->natt > 0;
    sio_mp_reader r;
    sio_mp_item it;
    uint64_t pending = 1;
    sio_mp_reader_init(&r, v->p, v->n);
    while (pending > 0 && sio_mp_read(&r, &it, NULL) == 0) {
        pending--;
        if (it.type == SIO_MP_ARRAY)
            pending += it.count;
        else if (it.type == SIO_MP_MAP)
            pending += (uint64_t)it.count * 2;
        else if (it.type == SIO_MP_BIN || it.type == SIO_MP_EXT)
            return true;
    }
    return false;
}

/* Sharded adapter encode(): msgpack only for the types that may carry binary, when they do. */
static bool cluster_wants_msgpack(const sio_adapter_msg *m)
{
    switch (m->type) {
    case SIO_ADAPTER_CL_BROADCAST:
        return value_has_binary(&m->packet.data);
    case SIO_ADAPTER_CL_BROADCAST_ACK:
    case SIO_ADAPTER_CL_SERVER_SIDE_EMIT:
    case SIO_ADAPTER_CL_SERVER_SIDE_EMIT_RESPONSE:
        return value_has_binary(&m->data);
    case SIO_ADAPTER_CL_FETCH_SOCKETS_RESPONSE:
        for (size_t i = 0; i < m->nsockets; i++)
            if (value_has_binary(&m->sockets[i].data) || value_has_binary(&m->sockets[i].handshake))
                return true;
        return false;
    default:
        return false;
    }
}

static bool type_known(const sio_adapter_msg *m)
{
    switch (m->kind) {
    case SIO_ADAPTER_BROADCAST:
        return m->packet.present;
    case SIO_ADAPTER_REQUEST:
        return m->type >= SIO_ADAPTER_REQ_SOCKETS && m->type <= SIO_ADAPTER_REQ_BROADCAST;
    case SIO_ADAPTER_RESPONSE:
        return m->type <= SIO_ADAPTER_REQ_BROADCAST_ACK && m->request_id.p != NULL;
    case SIO_ADAPTER_CLUSTER:
        return m->type >= SIO_ADAPTER_CL_INITIAL_HEARTBEAT &&
               m->type <= SIO_ADAPTER_CL_ADAPTER_CLOSE;
    }
    return false;
}

int sio_adapter_msg_encode(const sio_adapter_msg *m, sio_mp_buf *out, const char **reason)
{
    struct w w = {0};
    size_t start = out->len;

    w.b = out;
    if (!type_known(m)) {
        if (reason != NULL)
            *reason = "message type unknown for its kind, or a required field is missing";
        return SIO_EINVAL;
    }
    switch (m->kind) {
    case SIO_ADAPTER_BROADCAST:
        w.json = false;
        enc_broadcast(&w, m);
        break;
    case SIO_ADAPTER_REQUEST:
        w.json = m->type != SIO_ADAPTER_REQ_BROADCAST;
        enc_request(&w, m);
        break;
    case SIO_ADAPTER_RESPONSE:
        w.json = m->type != SIO_ADAPTER_REQ_BROADCAST_ACK;
        enc_response(&w, m);
        break;
    case SIO_ADAPTER_CLUSTER:
        w.json = m->fmt == SIO_ADAPTER_FMT_JSON ||
                 (m->fmt == SIO_ADAPTER_FMT_AUTO && !cluster_wants_msgpack(m));
        enc_cluster(&w, m);
        break;
    }
    if (w.err == 0 && out->err != 0)
        wfail(&w, out->err, out->err == SIO_ENOMEM ? "out of memory" : "output too large");
    if (w.err != 0) {
        if (out->err == 0)
            out->len = start;
        if (reason != NULL)
            *reason = w.why;
        return w.err;
    }
    return 0;
}
