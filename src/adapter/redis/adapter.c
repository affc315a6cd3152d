/*
 * The Redis adapter (include/sio/redis.h): translates the cluster messages of the Socket.IO
 * layer (include/sio/adapter.h) to and from Node's @socket.io/redis-adapter 8.3 wire format
 * (docs/protocol-adapter.md §2 classic, §4 sharded, §5 python-socketio) over the Redis client of
 * client.h. One instance per server: one uid, one set of connections, per-namespace channels.
 * Redis being down never blocks anything: publishes fail (counted as dropped by the host), the
 * server count falls back to this server, and the client reconnects and resubscribes.
 */
#include <sio/redis.h>

#include "adapter_msg.h"
#include "client.h"

#include "common/array.h"
#include "common/log.h"
#include "common/rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ra ra;

/* Binary values per message passed on (more are dropped and counted); the Socket.IO layer then
 * applies its own attachment limit when it encodes for clients. */
#define RA_MAX_BINS 64

/* One namespace's channels (docs/protocol-adapter.md §2.1, §4.1). */
typedef struct ra_nsp {
    ra *a;
    char *name;
    char *bcast;    /* key#nsp# */
    char *pattern;  /* classic: key#nsp#* with glob characters of nsp escaped */
    char *request;  /* classic: key-request#nsp# */
    char *response; /* classic: key-response#nsp# */
    char *own;      /* classic: key-response#nsp#uid#; sharded: key#nsp#uid# */
    struct ra_nsp *next;
} ra_nsp;

struct ra {
    sio_adapter_host *host;
    sio_redis_adapter_config cfg;
    const char *url, *key, *python_channel; /* copies, in strings */
    char *strings;
    char uid[17];
    sio_redis_cluster *rc;
    sio_adapter_limits lim;
    ra_nsp *nsps;
    int up;
    size_t publishes_pending; /* PUBLISH commands not answered yet (a drain waits for 0) */
    size_t counts_pending;    /* server counts not answered yet */
    int freed; /* ra_free ran: the answers still owed (the connections' reapers deliver them
                  with SIO_ECLOSED) free the adapter after the last one, and reach nobody */
    uint64_t bad, bad_logged; /* malformed messages, and how many were logged about */
};

/* ---- helpers ------------------------------------------------------------------------------ */

static char *fmt_alloc(const char *a, const char *b, const char *c, const char *d)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s%s", a, b, c, d);
    return s;
}

/* A namespace name with the glob characters of PSUBSCRIBE escaped. */
static char *glob_escape(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        if (strchr("*?[]\\", *s))
            *o++ = '\\';
        *o++ = *s;
    }
    *o = 0;
    return out;
}

/* Node's test for a socket id (20 URL-safe characters): such rooms get no channel in sharded
 * "dynamic" mode. */
static int looks_like_sid(const char *s, size_t n)
{
    if (n != 20)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= '0' && s[i] <= '9') && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

/* A received message that cannot be used: counted in the server's stats (adapter_received and
 * adapter_dropped) and logged, rate-limited. */
static void log_bad(ra *a, const char *what, const char *reason)
{
    sio_adapter_host_dropped(a->host);
    a->bad++;
    /* the first few, then every 1000th: a flood of garbage does not flood the log */
    if (a->bad_logged < 5 || a->bad % 1000 == 0) {
        a->bad_logged++;
        sio_adapter_host_log(a->host, SIO_LOG_WARN, "redis: dropped %s: %s (%llu so far)", what,
                             reason ? reason : "invalid", (unsigned long long)a->bad);
    }
}

/* Short-lived allocations of one conversion, freed together. */
typedef struct arena {
    void *v[64];
    size_t n;
    void **more;
    size_t nmore, capmore;
} arena;

static void *arena_keep(arena *ar, void *p)
{
    if (!p)
        return NULL;
    if (ar->n < 64) {
        ar->v[ar->n++] = p;
        return p;
    }
    if (sio_array_push(&ar->more, &ar->nmore, &ar->capmore, &p, sizeof(p), 64) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void arena_free(arena *ar)
{
    for (size_t i = 0; i < ar->n; i++)
        free(ar->v[i]);
    for (size_t i = 0; i < ar->nmore; i++)
        free(ar->more[i]);
    free(ar->more);
}

static const char *str_z(arena *ar, sio_adapter_str s)
{
    if (!s.p)
        return NULL;
    char *z = arena_keep(ar, malloc(s.n + 1));
    if (z) {
        memcpy(z, s.p, s.n);
        z[s.n] = 0;
    }
    return z;
}

static const char *const *strs_z(arena *ar, const sio_adapter_strs *s, size_t *n)
{
    *n = 0;
    if (!s->present || !s->n)
        return NULL;
    const char **v = arena_keep(ar, calloc(s->n, sizeof(*v)));
    if (!v)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if ((v[i] = str_z(ar, s->v[i])))
            (*n)++;
    return v;
}

/* A payload value as JSON text with its attachments (slices of the message). wrap: a single ack
 * argument becomes a one-element argument array. */
static int value_json(ra *a, arena *ar, const sio_adapter_value *v, int wrap, const char **out,
                      size_t *len, sio_bin *bins, size_t *nbins)
{
    sio_adapter_bin att[RA_MAX_BINS];
    size_t natt = 0;
    const char *reason;
    sio_mp_buf b;
    sio_mp_buf_init(&b, a->lim.max_bytes);
    if (wrap)
        sio_mp_buf_put(&b, "[", 1);
    if (v->p) {
        if (sio_adapter_value_to_json(v, &a->lim, &b, att, RA_MAX_BINS, &natt, &reason) < 0) {
            sio_mp_buf_deinit(&b);
            return SIO_EPROTO;
        }
    }
    if (wrap)
        sio_mp_buf_put(&b, "]", 1);
    sio_mp_buf_put(&b, "", 1); /* NUL-terminated: snapshots use the text as C strings */
    if (b.err) {
        sio_mp_buf_deinit(&b);
        return SIO_ENOMEM;
    }
    size_t n;
    uint8_t *p = sio_mp_buf_take(&b, &n);
    *out = arena_keep(ar, p);
    *len = n - 1;
    for (size_t i = 0; i < natt && i < RA_MAX_BINS; i++)
        bins[i] = (sio_bin){att[i].p, att[i].n};
    *nbins = natt;
    return *out ? 0 : SIO_ENOMEM;
}

static void target_of(arena *ar, const sio_adapter_opts *o, sio_target *t, unsigned *timeout)
{
    memset(t, 0, sizeof(*t));
    if (!o->present)
        return;
    t->rooms = strs_z(ar, &o->rooms, &t->nrooms);
    t->except = strs_z(ar, &o->except, &t->nexcept);
    if (sio_adapter_flag_on(&o->flags, SIO_ADAPTER_FLAG_VOLATILE))
        t->flags |= SIO_EMIT_VOLATILE;
    if (timeout && sio_adapter_flags_has(&o->flags, SIO_ADAPTER_FLAG_TIMEOUT))
        *timeout = o->flags.timeout > 0xffffffffu ? 0xffffffffu : (unsigned)o->flags.timeout;
}

/* ---- inbound ------------------------------------------------------------------------------ */

static ra_nsp *nsp_by_channel(ra *a, const char *ch, size_t n, int *main_channel)
{
    ra_nsp *best = NULL;
    size_t best_len = 0;
    *main_channel = 0;
    for (ra_nsp *s = a->nsps; s; s = s->next) {
        const char *cands[] = {s->bcast, s->request, s->response, s->own};
        for (size_t i = 0; i < 4; i++) {
            if (!cands[i])
                continue;
            size_t l = strlen(cands[i]);
            if (l == n && !memcmp(cands[i], ch, n)) {
                *main_channel = i == 0;
                return s;
            }
        }
        size_t l = strlen(s->bcast);
        if (l < n && !memcmp(s->bcast, ch, l) && l > best_len) /* a room channel */
            best = s, best_len = l;
    }
    return best;
}

static void deliver(ra *a, sio_cluster_msg *cm)
{
    sio_adapter_host_receive(a->host, cm);
}

/* Fields shared by the classic and the sharded grammar, into an sio_cluster_msg. */
static int convert(ra *a, arena *ar, ra_nsp *n, const sio_adapter_msg *m, int type,
                   sio_cluster_msg *cm, sio_bin *bins)
{
    memset(cm, 0, sizeof(*cm));
    cm->type = type;
    cm->nsp = n->name;
    cm->uid = str_z(ar, m->uid);
    cm->request_id = str_z(ar, m->request_id);
    unsigned timeout = 0;
    target_of(ar, &m->opts, &cm->target, &timeout);
    cm->ack_timeout_ms = timeout;
    cm->rooms = strs_z(ar, &m->rooms, &cm->nrooms);
    cm->close = m->close > 0;
    cm->client_count = m->client_count > 0 ? (uint64_t)m->client_count : 0;
    switch (type) {
    case SIO_CLUSTER_BROADCAST:
        if (!m->packet.present || (m->packet.type != 2 && m->packet.type != 5))
            return SIO_EPROTO;
        if (m->packet.nsp.p && (m->packet.nsp.n != strlen(n->name) ||
                                memcmp(m->packet.nsp.p, n->name, m->packet.nsp.n)))
            return SIO_EPROTO; /* another namespace's packet */
        cm->packet_type = 2;
        return value_json(a, ar, &m->packet.data, 0, &cm->data, &cm->data_len, bins, &cm->nbins);
    case SIO_CLUSTER_SERVER_SIDE_EMIT:
        return value_json(a, ar, &m->data, 0, &cm->data, &cm->data_len, bins, &cm->nbins);
    case SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE:
    case SIO_CLUSTER_BROADCAST_ACK: /* Node answers with one argument */
        return value_json(a, ar, &m->data, 1, &cm->data, &cm->data_len, bins, &cm->nbins);
    case SIO_CLUSTER_FETCH_SOCKETS_RESPONSE: {
        sio_socket_info *v = arena_keep(ar, calloc(m->nsockets ? m->nsockets : 1, sizeof(*v)));
        if (!v)
            return SIO_ENOMEM;
        for (size_t i = 0; i < m->nsockets; i++) {
            const sio_adapter_socket *s = &m->sockets[i];
            sio_bin tmp[RA_MAX_BINS];
            size_t nt, len;
            v[i].id = str_z(ar, s->id);
            v[i].rooms = strs_z(ar, &s->rooms, &v[i].nrooms);
            if (value_json(a, ar, &s->data, 0, &v[i].data_json, &len, tmp, &nt) < 0 ||
                value_json(a, ar, &s->handshake, 0, &v[i].handshake_json, &len, tmp, &nt) < 0)
                return SIO_EPROTO;
            if (!s->data.p)
                v[i].data_json = "{}";
            if (!s->handshake.p)
                v[i].handshake_json = "{}";
        }
        cm->sockets = v;
        cm->nsockets = m->nsockets;
        return 0;
    }
    default:
        return 0;
    }
}

static int classic_type(const sio_adapter_msg *m, sio_adapter_kind kind)
{
    if (kind == SIO_ADAPTER_BROADCAST)
        return SIO_CLUSTER_BROADCAST;
    if (kind == SIO_ADAPTER_REQUEST) {
        switch (m->type) {
        case SIO_ADAPTER_REQ_ALL_ROOMS:
            return SIO_CLUSTER_ALL_ROOMS;
        case SIO_ADAPTER_REQ_REMOTE_JOIN:
            return SIO_CLUSTER_SOCKETS_JOIN;
        case SIO_ADAPTER_REQ_REMOTE_LEAVE:
            return SIO_CLUSTER_SOCKETS_LEAVE;
        case SIO_ADAPTER_REQ_REMOTE_DISCONNECT:
            return SIO_CLUSTER_DISCONNECT_SOCKETS;
        case SIO_ADAPTER_REQ_REMOTE_FETCH:
            return SIO_CLUSTER_FETCH_SOCKETS;
        case SIO_ADAPTER_REQ_SERVER_SIDE_EMIT:
            return SIO_CLUSTER_SERVER_SIDE_EMIT;
        case SIO_ADAPTER_REQ_BROADCAST:
            return SIO_CLUSTER_BROADCAST;
        default:
            return -1; /* SOCKETS (type 0): no 8.x sender left */
        }
    }
    switch (m->type) { /* responses */
    case SIO_ADAPTER_REQ_SERVER_SIDE_EMIT:
        return SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE;
    case SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT:
        return SIO_CLUSTER_BROADCAST_CLIENT_COUNT;
    case SIO_ADAPTER_REQ_BROADCAST_ACK:
        return SIO_CLUSTER_BROADCAST_ACK;
    default:
        if (m->has_sockets)
            return SIO_CLUSTER_FETCH_SOCKETS_RESPONSE;
        if (m->rooms.present)
            return SIO_CLUSTER_ALL_ROOMS_RESPONSE;
        return -1; /* legacy {requestId} acknowledgements */
    }
}

static int sharded_type(const sio_adapter_msg *m)
{
    switch (m->type) {
    case SIO_ADAPTER_CL_BROADCAST:
    case SIO_ADAPTER_CL_SOCKETS_JOIN:
    case SIO_ADAPTER_CL_SOCKETS_LEAVE:
    case SIO_ADAPTER_CL_DISCONNECT_SOCKETS:
    case SIO_ADAPTER_CL_FETCH_SOCKETS:
    case SIO_ADAPTER_CL_FETCH_SOCKETS_RESPONSE:
    case SIO_ADAPTER_CL_SERVER_SIDE_EMIT:
    case SIO_ADAPTER_CL_SERVER_SIDE_EMIT_RESPONSE:
    case SIO_ADAPTER_CL_BROADCAST_CLIENT_COUNT:
    case SIO_ADAPTER_CL_BROADCAST_ACK:
        return m->type; /* numbered alike (include/sio/adapter.h) */
    default:
        return -1; /* heartbeats and ADAPTER_CLOSE: nothing to do */
    }
}

static void on_node_message(ra *a, ra_nsp *n, sio_adapter_kind kind, const char *payload,
                            size_t len)
{
    sio_adapter_msg m;
    const char *reason = NULL;
    if (sio_adapter_msg_decode(kind, (const uint8_t *)payload, len, &a->lim, &m, &reason) < 0) {
        log_bad(a, "message", reason);
        return;
    }
    if (m.uid.p && m.uid.n == strlen(a->uid) && !memcmp(m.uid.p, a->uid, m.uid.n)) {
        sio_adapter_msg_deinit(&m); /* our own */
        return;
    }
    int type = kind == SIO_ADAPTER_CLUSTER ? sharded_type(&m) : classic_type(&m, kind);
    if (type < 0) {
        sio_adapter_msg_deinit(&m);
        return;
    }
    arena ar = {0};
    sio_cluster_msg cm;
    sio_bin bins[RA_MAX_BINS];
    cm.bins = bins;
    int rc = convert(a, &ar, n, &m, type, &cm, bins);
    cm.bins = bins;
    if (rc == 0) {
        deliver(a, &cm);
    } else {
        log_bad(a, "message", "unusable fields");
    }
    arena_free(&ar);
    sio_adapter_msg_deinit(&m);
}

/* python-socketio (docs/protocol-adapter.md §5): emits, disconnects and room changes aimed at
 * this server's sockets. Pickled payloads are refused by the decoder, never unpickled. */
static void on_python_message(ra *a, const char *payload, size_t len)
{
    sio_py_msg m;
    const char *reason = NULL;
    int rc = sio_py_msg_decode((const uint8_t *)payload, len, &a->lim, &m, &reason);
    if (rc < 0) {
        log_bad(a,
                rc == SIO_EUNSUPPORTED ? "python-socketio message (pickle)"
                                       : "python-socketio message",
                reason);
        return;
    }
    arena ar = {0};
    sio_cluster_msg cm = {0};
    sio_bin bins[RA_MAX_BINS];
    const char *nsp = m.nsp.p ? str_z(&ar, m.nsp) : "/";
    const char *sid = str_z(&ar, m.sid);
    cm.nsp = nsp;
    cm.uid = "python";
    rc = 0;
    switch (m.method) {
    case SIO_PY_EMIT: {
        if (m.binary > 0) {
            rc = SIO_EUNSUPPORTED; /* base64 attachments: not accepted (docs/deployment.md) */
            break;
        }
        /* ["event", ...args]: the event name, then the argument list's members. A data that
         * is not a list is one argument (what Python's emit makes of a single value), null or
         * absent none. */
        const char *args = "[]";
        size_t alen = 2, nb = 0;
        if (m.data.p) {
            rc = value_json(a, &ar, &m.data, 0, &args, &alen, bins, &nb);
            if (rc < 0)
                break;
        }
        const char *ev = str_z(&ar, m.event);
        if (!ev) {
            rc = SIO_EPROTO;
            break;
        }
        if (alen == 4 && !memcmp(args, "null", 4))
            args = "[]", alen = 2;
        else if (!alen || args[0] != '[') {
            char *w = arena_keep(&ar, malloc(alen + 3));
            if (!w) {
                rc = SIO_ENOMEM;
                break;
            }
            w[0] = '[';
            memcpy(w + 1, args, alen);
            w[alen + 1] = ']';
            w[alen + 2] = 0;
            args = w, alen += 2;
        }
        size_t elen = strlen(ev);
        char *d = arena_keep(&ar, malloc(elen * 6 + alen + 8));
        if (!d || alen < 2) {
            rc = d ? SIO_EPROTO : SIO_ENOMEM;
            break;
        }
        size_t k = 0;
        d[k++] = '[';
        d[k++] = '"';
        for (size_t i = 0; i < elen; i++) { /* JSON string escape of the event name */
            unsigned char c = (unsigned char)ev[i];
            if (c == '"' || c == '\\')
                d[k++] = '\\', d[k++] = (char)c;
            else if (c < 0x20)
                k += (size_t)sprintf(d + k, "\\u%04x", c);
            else
                d[k++] = (char)c;
        }
        d[k++] = '"';
        if (alen > 2)
            d[k++] = ',', memcpy(d + k, args + 1, alen - 2), k += alen - 2;
        d[k++] = ']';
        cm.type = SIO_CLUSTER_BROADCAST;
        cm.packet_type = 2;
        cm.data = d;
        cm.data_len = k;
        cm.target.rooms = strs_z(&ar, &m.room, &cm.target.nrooms);
        cm.target.except = strs_z(&ar, &m.skip_sid, &cm.target.nexcept);
        break;
    }
    case SIO_PY_DISCONNECT:
    case SIO_PY_ENTER_ROOM:
    case SIO_PY_LEAVE_ROOM:
    case SIO_PY_CLOSE_ROOM: {
        static const char *one[1];
        const char *room = m.room.present && m.room.n ? str_z(&ar, m.room.v[0]) : NULL;
        const char **who = arena_keep(&ar, calloc(1, sizeof(*who)));
        const char **what = arena_keep(&ar, calloc(1, sizeof(*what)));
        (void)one;
        if (!who || !what) {
            rc = SIO_ENOMEM;
            break;
        }
        who[0] = m.method == SIO_PY_CLOSE_ROOM ? room : sid;
        what[0] = room;
        if (!who[0] || (m.method != SIO_PY_DISCONNECT && !room)) {
            rc = SIO_EPROTO;
            break;
        }
        cm.target.rooms = who;
        cm.target.nrooms = 1;
        cm.type = m.method == SIO_PY_DISCONNECT   ? SIO_CLUSTER_DISCONNECT_SOCKETS
                  : m.method == SIO_PY_ENTER_ROOM ? SIO_CLUSTER_SOCKETS_JOIN
                                                  : SIO_CLUSTER_SOCKETS_LEAVE;
        cm.rooms = what;
        cm.nrooms = 1;
        break;
    }
    default:
        rc = 1; /* callbacks answer emits we never publish */
        break;
    }
    if (rc == 0) {
        cm.bins = bins;
        deliver(a, &cm);
    } else if (rc < 0) {
        log_bad(a, "python-socketio message", "unsupported or invalid");
    }
    arena_free(&ar);
    sio_py_msg_deinit(&m);
}

static void on_message(sio_redis_cluster *c, int kind, const char *pattern, size_t plen,
                       const char *channel, size_t clen, const char *payload, size_t len,
                       void *user)
{
    ra *a = user;
    if (len > a->cfg.max_message_bytes) {
        log_bad(a, "message", "over max_message_bytes");
        return;
    }
    if (a->python_channel && clen == strlen(a->python_channel) &&
        !memcmp(channel, a->python_channel, clen)) {
        on_python_message(a, payload, len);
        return;
    }
    int main_channel;
    ra_nsp *n = nsp_by_channel(a, channel, clen, &main_channel);
    if (!n)
        return;
    if (a->cfg.sharded) {
        on_node_message(a, n, SIO_ADAPTER_CLUSTER, payload, len);
        return;
    }
    sio_adapter_kind k = SIO_ADAPTER_BROADCAST;
    if (n->request && clen == strlen(n->request) && !memcmp(channel, n->request, clen))
        k = SIO_ADAPTER_REQUEST;
    else if ((clen == strlen(n->response) && !memcmp(channel, n->response, clen)) ||
             (clen == strlen(n->own) && !memcmp(channel, n->own, clen)))
        k = SIO_ADAPTER_RESPONSE;
    on_node_message(a, n, k, payload, len);
}

static void on_state(sio_redis_cluster *c, int up, void *user)
{
    ra *a = user;
    a->up = up;
    sio_adapter_host_log(a->host, up ? SIO_LOG_INFO : SIO_LOG_WARN,
                         up ? "redis: connected (%s)"
                            : "redis: unreachable (%s); serving this node's clients only",
                         a->url);
}

/* ---- outbound ----------------------------------------------------------------------------- */

static sio_adapter_strs strs_of(arena *ar, const char *const *v, size_t n)
{
    sio_adapter_strs s = {NULL, 0, true};
    if (!n)
        return s;
    s.v = arena_keep(ar, calloc(n, sizeof(*s.v)));
    if (!s.v)
        return s;
    for (size_t i = 0; i < n; i++)
        s.v[i] = (sio_adapter_str){v[i], strlen(v[i])};
    s.n = n;
    return s;
}

static sio_adapter_str str_of(const char *s)
{
    return (sio_adapter_str){s, s ? strlen(s) : 0};
}

static sio_adapter_value json_value(const char *p, size_t n, const sio_bin *bins, size_t nbins,
                                    sio_adapter_bin *att)
{
    for (size_t i = 0; i < nbins && i < RA_MAX_BINS; i++)
        att[i] = (sio_adapter_bin){bins[i].data, bins[i].len};
    return (sio_adapter_value){SIO_ADAPTER_FMT_JSON, (const uint8_t *)p, n, att,
                               nbins < RA_MAX_BINS ? nbins : RA_MAX_BINS};
}

/* The first argument of an ack array (Node's acks across servers carry one value). */
static sio_adapter_value first_arg(const sio_cluster_msg *msg, sio_adapter_bin *att)
{
    const char *p = msg->data;
    size_t n = msg->data_len;
    while (n && (*p == '[' || *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++, n--;
    /* the element runs to the matching end: find it by depth, strings aware */
    size_t depth = 0, i = 0;
    int in_str = 0;
    for (; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                break;
            depth--;
        } else if (c == ',' && depth == 0) {
            break;
        }
    }
    while (i && (p[i - 1] == ' ' || p[i - 1] == '\n'))
        i--;
    if (!i)
        return (sio_adapter_value){SIO_ADAPTER_FMT_JSON, NULL, 0, NULL, 0};
    return json_value(p, i, msg->bins, msg->nbins, att);
}

static void set_opts(arena *ar, sio_adapter_opts *o, const sio_cluster_msg *msg, int flags)
{
    o->present = true;
    o->rooms = strs_of(ar, msg->target.rooms, msg->target.nrooms);
    o->except = strs_of(ar, msg->target.except, msg->target.nexcept);
    if (!flags)
        return;
    o->flags.present = true;
    if (msg->target.flags & SIO_EMIT_VOLATILE)
        sio_adapter_flags_set(&o->flags, SIO_ADAPTER_FLAG_VOLATILE, 1);
    if (msg->request_id && msg->ack_timeout_ms)
        sio_adapter_flags_set(&o->flags, SIO_ADAPTER_FLAG_TIMEOUT, msg->ack_timeout_ms);
}

typedef struct out_msg {
    sio_adapter_msg m;
    const char *channel;
    sio_adapter_socket *socks;
    sio_adapter_bin att[RA_MAX_BINS];
} out_msg;

static int build_sockets(arena *ar, out_msg *o, const sio_cluster_msg *msg)
{
    o->m.has_sockets = true;
    if (!msg->nsockets)
        return 0;
    o->socks = arena_keep(ar, calloc(msg->nsockets, sizeof(*o->socks)));
    if (!o->socks)
        return SIO_ENOMEM;
    for (size_t i = 0; i < msg->nsockets; i++) {
        const sio_socket_info *s = &msg->sockets[i];
        o->socks[i].id = str_of(s->id);
        o->socks[i].rooms = strs_of(ar, s->rooms, s->nrooms);
        o->socks[i].data = json_value(s->data_json, strlen(s->data_json), NULL, 0, NULL);
        o->socks[i].handshake =
            json_value(s->handshake_json, strlen(s->handshake_json), NULL, 0, NULL);
    }
    o->m.sockets = o->socks;
    o->m.nsockets = msg->nsockets;
    return 0;
}

/* The fields of msg's type, alike in both formats but for two details: a classic broadcast names
 * its namespace in the packet (a sharded message names it in m->nsp), and classic targets of the
 * other requests carry no flags (as Node's adapter writes them). */
static int build_body(arena *ar, ra_nsp *n, const sio_cluster_msg *msg, out_msg *o, int sharded)
{
    sio_adapter_msg *m = &o->m;
    switch (msg->type) {
    case SIO_CLUSTER_BROADCAST:
        m->packet = (sio_adapter_packet){
            true,
            2,
            json_value(msg->data, msg->data_len, msg->bins, msg->nbins, o->att),
            sharded ? (sio_adapter_str){NULL, 0} : str_of(n->name),
            -1,
            0};
        set_opts(ar, &m->opts, msg, 1);
        break;
    case SIO_CLUSTER_SOCKETS_JOIN:
    case SIO_CLUSTER_SOCKETS_LEAVE:
        set_opts(ar, &m->opts, msg, sharded);
        m->rooms = strs_of(ar, msg->rooms, msg->nrooms);
        break;
    case SIO_CLUSTER_DISCONNECT_SOCKETS:
        set_opts(ar, &m->opts, msg, sharded);
        m->close = msg->close ? 1 : 0;
        break;
    case SIO_CLUSTER_FETCH_SOCKETS:
        set_opts(ar, &m->opts, msg, sharded);
        break;
    case SIO_CLUSTER_SERVER_SIDE_EMIT:
        m->data = json_value(msg->data, msg->data_len, msg->bins, msg->nbins, o->att);
        break;
    case SIO_CLUSTER_FETCH_SOCKETS_RESPONSE:
        return build_sockets(ar, o, msg);
    case SIO_CLUSTER_ALL_ROOMS_RESPONSE:
        m->rooms = strs_of(ar, msg->rooms, msg->nrooms);
        break;
    case SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE:
    case SIO_CLUSTER_BROADCAST_ACK:
        m->data = first_arg(msg, o->att);
        break;
    case SIO_CLUSTER_BROADCAST_CLIENT_COUNT:
        m->client_count = (int64_t)msg->client_count;
        break;
    default:
        break;
    }
    return 0;
}

static int build_classic(ra *a, arena *ar, ra_nsp *n, const sio_cluster_msg *msg, out_msg *o)
{
    sio_adapter_msg *m = &o->m;
    int t = -1;
    sio_adapter_kind kind = SIO_ADAPTER_REQUEST;
    o->channel = n->request;
    switch (msg->type) {
    case SIO_CLUSTER_BROADCAST:
        if (!msg->request_id) {
            kind = SIO_ADAPTER_BROADCAST;
            o->channel = n->bcast;
            if (msg->target.nrooms == 1) /* exactly one room: its own channel (§2.1) */
                o->channel = arena_keep(ar, fmt_alloc(n->bcast, msg->target.rooms[0], "#", ""));
        } else {
            t = SIO_ADAPTER_REQ_BROADCAST;
        }
        break;
    case SIO_CLUSTER_SOCKETS_JOIN:
        t = SIO_ADAPTER_REQ_REMOTE_JOIN;
        break;
    case SIO_CLUSTER_SOCKETS_LEAVE:
        t = SIO_ADAPTER_REQ_REMOTE_LEAVE;
        break;
    case SIO_CLUSTER_DISCONNECT_SOCKETS:
        t = SIO_ADAPTER_REQ_REMOTE_DISCONNECT;
        break;
    case SIO_CLUSTER_FETCH_SOCKETS:
        t = SIO_ADAPTER_REQ_REMOTE_FETCH;
        break;
    case SIO_CLUSTER_ALL_ROOMS:
        t = SIO_ADAPTER_REQ_ALL_ROOMS;
        break;
    case SIO_CLUSTER_SERVER_SIDE_EMIT:
        t = SIO_ADAPTER_REQ_SERVER_SIDE_EMIT;
        break;
    default: /* responses, on the shared response channel (§2.1) */
        kind = SIO_ADAPTER_RESPONSE;
        o->channel = n->response;
        t = msg->type == SIO_CLUSTER_SERVER_SIDE_EMIT_RESPONSE ? SIO_ADAPTER_REQ_SERVER_SIDE_EMIT
            : msg->type == SIO_CLUSTER_BROADCAST_CLIENT_COUNT
                ? SIO_ADAPTER_REQ_BROADCAST_CLIENT_COUNT
            : msg->type == SIO_CLUSTER_BROADCAST_ACK ? SIO_ADAPTER_REQ_BROADCAST_ACK
                                                     : -1;
        break;
    }
    sio_adapter_msg_init(m, kind);
    m->type = t;
    if (kind != SIO_ADAPTER_RESPONSE)
        m->uid = str_of(a->uid);
    m->request_id = str_of(msg->request_id);
    if (msg->type == SIO_CLUSTER_BROADCAST && kind == SIO_ADAPTER_REQUEST)
        m->fmt = SIO_ADAPTER_FMT_MSGPACK;
    return build_body(ar, n, msg, o, 0);
}

static int build_sharded(ra *a, arena *ar, ra_nsp *n, const sio_cluster_msg *msg, out_msg *o)
{
    sio_adapter_msg *m = &o->m;
    sio_adapter_msg_init(m, SIO_ADAPTER_CLUSTER);
    m->type = (int)msg->type; /* numbered alike */
    m->uid = str_of(a->uid);
    m->nsp = str_of(n->name);
    m->request_id = str_of(msg->request_id);
    o->channel = n->bcast;
    switch (msg->type) {
    case SIO_CLUSTER_BROADCAST: {
        int mode = a->cfg.subscription_mode;
        if (!msg->request_id && msg->target.nrooms == 1 && mode != SIO_REDIS_SUB_STATIC) {
            const char *room = msg->target.rooms[0];
            if (mode == SIO_REDIS_SUB_DYNAMIC_PRIVATE || !looks_like_sid(room, strlen(room)))
                o->channel = arena_keep(ar, fmt_alloc(n->bcast, room, "#", ""));
        }
        break;
    }
    case SIO_CLUSTER_SOCKETS_JOIN:
    case SIO_CLUSTER_SOCKETS_LEAVE:
    case SIO_CLUSTER_DISCONNECT_SOCKETS:
    case SIO_CLUSTER_FETCH_SOCKETS:
    case SIO_CLUSTER_SERVER_SIDE_EMIT:
        break;
    case SIO_CLUSTER_ALL_ROOMS:
    case SIO_CLUSTER_ALL_ROOMS_RESPONSE:
        return SIO_EUNSUPPORTED; /* the sharded format has no allRooms */
    default:                     /* responses go to the requester's own channel */
        if (!msg->requester)
            return SIO_EINVAL;
        o->channel = arena_keep(ar, fmt_alloc(n->bcast, msg->requester, "#", ""));
        break;
    }
    return build_body(ar, n, msg, o, 1);
}

/* Frees the adapter once ra_free has run and no Redis answer is owed to it any more. */
static void release_if_freed(ra *a)
{
    if (a->freed && !a->publishes_pending && !a->counts_pending)
        free(a);
}

static void publish_done(sio_redis_cluster *c, int status, const sio_redis_reply *r, void *user)
{
    (void)c, (void)status, (void)r; /* fire and forget, as Node's adapter */
    ra *a = user;
    if (a->publishes_pending)
        a->publishes_pending--;
    release_if_freed(a);
}

static int ra_publish(void *self, void *nsp_state, const sio_cluster_msg *msg)
{
    ra *a = self;
    ra_nsp *n = nsp_state;
    if (!a->up)
        return SIO_ECLOSED; /* counted by the host as dropped: this node's clients still got it */
    arena ar = {0};
    out_msg o;
    memset(&o, 0, sizeof(o));
    int rc = a->cfg.sharded ? build_sharded(a, &ar, n, msg, &o) : build_classic(a, &ar, n, msg, &o);
    sio_mp_buf b;
    sio_mp_buf_init(&b, a->lim.max_bytes);
    const char *reason = NULL;
    if (rc == 0 && o.channel)
        rc = sio_adapter_msg_encode(&o.m, &b, &reason);
    else if (rc == 0)
        rc = SIO_ENOMEM;
    if (rc == 0) {
        const char *argv[3] = {a->cfg.sharded ? "SPUBLISH" : "PUBLISH", o.channel, (char *)b.p};
        size_t lens[3] = {strlen(argv[0]), strlen(o.channel), b.len};
        rc = sio_redis_cluster_command(a->rc, o.channel, lens[1], publish_done, a, 3, argv, lens);
        if (rc == 0)
            a->publishes_pending++;
    } else if (rc != SIO_EUNSUPPORTED) {
        sio_adapter_host_log(a->host, SIO_LOG_DEBUG, "redis: cannot encode type %d: %s",
                             (int)msg->type, reason ? reason : "invalid");
    }
    sio_mp_buf_deinit(&b);
    arena_free(&ar);
    return rc;
}

/* ---- server count ------------------------------------------------------------------------- */

typedef struct count_req {
    sio_server_count_cb done;
    void *arg;
    ra *a;
} count_req;

static void count_done(sio_redis_cluster *c, int status, long long sum, void *user)
{
    count_req *r = user;
    ra *a = r->a;
    if (!a->freed) /* else the host is gone: it failed its requests when it shut down */
        r->done(status == 0 && sum > 0 ? (size_t)sum : 1, r->arg);
    free(r);
    a->counts_pending--;
    release_if_freed(a);
}

static void ra_server_count(void *self, void *nsp_state, sio_server_count_cb done, void *arg)
{
    ra *a = self;
    ra_nsp *n = nsp_state;
    count_req *r = malloc(sizeof(*r));
    if (!r || !a->up) {
        free(r);
        done(1, arg); /* Redis down: this server alone */
        return;
    }
    *r = (count_req){done, arg, a};
    /* Node counts the subscribers of the request channel (classic) or the namespace channel
     * (sharded), summed over every master */
    const char *argv[3] = {"PUBSUB", a->cfg.sharded ? "SHARDNUMSUB" : "NUMSUB",
                           a->cfg.sharded ? n->bcast : n->request};
    size_t lens[3] = {6, strlen(argv[1]), strlen(argv[2])};
    if (sio_redis_cluster_sum(a->rc, count_done, r, 3, argv, lens) < 0) {
        free(r);
        done(1, arg);
        return;
    }
    a->counts_pending++;
}

/* ---- namespaces and life ------------------------------------------------------------------ */

static void nsp_free(ra_nsp *n)
{
    free(n->name);
    free(n->bcast);
    free(n->pattern);
    free(n->request);
    free(n->response);
    free(n->own);
    free(n);
}

static int ra_nsp_open(void *self, const char *nsp, void **state)
{
    ra *a = self;
    ra_nsp *n = calloc(1, sizeof(*n));
    if (!n)
        return SIO_ENOMEM;
    n->a = a;
    n->name = strdup(nsp);
    n->bcast = fmt_alloc(a->key, "#", nsp, "#");
    int ok = n->name && n->bcast;
    if (a->cfg.sharded) {
        n->own = n->bcast ? fmt_alloc(n->bcast, a->uid, "#", "") : NULL; /* key#nsp#uid# */
        ok = ok && n->own && sio_redis_cluster_ssubscribe(a->rc, n->bcast, strlen(n->bcast)) == 0 &&
             sio_redis_cluster_ssubscribe(a->rc, n->own, strlen(n->own)) == 0;
    } else {
        char *esc = glob_escape(nsp);
        n->pattern = esc ? fmt_alloc(a->key, "#", esc, "#*") : NULL;
        free(esc);
        n->request = fmt_alloc(a->key, "-request#", nsp, "#");
        n->response = fmt_alloc(a->key, "-response#", nsp, "#");
        n->own = n->response ? fmt_alloc(n->response, a->uid, "#", "") : NULL;
        ok = ok && n->pattern && n->request && n->response && n->own &&
             sio_redis_cluster_subscribe(a->rc, SIO_REDIS_PSUBSCRIBE, n->pattern,
                                         strlen(n->pattern)) == 0 &&
             sio_redis_cluster_subscribe(a->rc, SIO_REDIS_SUBSCRIBE, n->request,
                                         strlen(n->request)) == 0 &&
             sio_redis_cluster_subscribe(a->rc, SIO_REDIS_SUBSCRIBE, n->response,
                                         strlen(n->response)) == 0 &&
             sio_redis_cluster_subscribe(a->rc, SIO_REDIS_SUBSCRIBE, n->own, strlen(n->own)) == 0;
    }
    if (!ok) {
        nsp_free(n);
        return SIO_ENOMEM;
    }
    n->next = a->nsps;
    a->nsps = n;
    *state = n;
    return 0;
}

static void ra_nsp_close(void *self, void *state)
{
    ra *a = self;
    ra_nsp *n = state;
    for (ra_nsp **pp = &a->nsps; *pp; pp = &(*pp)->next)
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    if (a->cfg.sharded) {
        sio_redis_cluster_unsubscribe(a->rc, SIO_REDIS_SSUBSCRIBE, n->bcast, strlen(n->bcast));
        sio_redis_cluster_unsubscribe(a->rc, SIO_REDIS_SSUBSCRIBE, n->own, strlen(n->own));
    } else {
        sio_redis_cluster_unsubscribe(a->rc, SIO_REDIS_PSUBSCRIBE, n->pattern, strlen(n->pattern));
        sio_redis_cluster_unsubscribe(a->rc, SIO_REDIS_SUBSCRIBE, n->request, strlen(n->request));
        sio_redis_cluster_unsubscribe(a->rc, SIO_REDIS_SUBSCRIBE, n->response, strlen(n->response));
        sio_redis_cluster_unsubscribe(a->rc, SIO_REDIS_SUBSCRIBE, n->own, strlen(n->own));
    }
    nsp_free(n);
}

/* Sharded dynamic modes: a channel per room with local members (§4.1). */
static void ra_room_changed(void *self, void *state, const char *room, size_t len, int created,
                            int socket_room)
{
    ra *a = self;
    ra_nsp *n = state;
    int mode = a->cfg.subscription_mode;
    if (!a->cfg.sharded || mode == SIO_REDIS_SUB_STATIC ||
        (mode == SIO_REDIS_SUB_DYNAMIC && (socket_room || looks_like_sid(room, len))))
        return;
    size_t bl = strlen(n->bcast);
    char *ch = malloc(bl + len + 2);
    if (!ch)
        return;
    memcpy(ch, n->bcast, bl);
    memcpy(ch + bl, room, len);
    ch[bl + len] = '#';
    ch[bl + len + 1] = 0;
    if (created)
        sio_redis_cluster_ssubscribe(a->rc, ch, bl + len + 1);
    else
        sio_redis_cluster_unsubscribe(a->rc, SIO_REDIS_SSUBSCRIBE, ch, bl + len + 1);
    free(ch);
}

static const char *ra_uid(void *self)
{
    return ((ra *)self)->uid;
}

static int ra_is_up(void *self)
{
    return ((ra *)self)->up;
}

static size_t ra_pending(void *self)
{
    return ((ra *)self)->publishes_pending;
}

static void ra_free(void *self)
{
    ra *a = self;
    while (a->nsps) {
        ra_nsp *n = a->nsps;
        a->nsps = n->next;
        nsp_free(n);
    }
    /* Answers still owed arrive later (or at once, from inside the cluster's free) and must
     * reach nobody: mark first. The last one frees the adapter. */
    a->freed = 1;
    sio_redis_cluster_free(a->rc);
    a->rc = NULL;
    free(a->strings);
    a->strings = NULL;
    release_if_freed(a);
}

/* Node's uids: 6 alphanumerics (classic uid2(6)), 16 hex digits (sharded). */
static void make_uid(ra *a)
{
    char id[SIO_ID_LEN + 1];
    sio_id_generate(id);
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                      hex[] = "0123456789abcdef";
    size_t n = a->cfg.sharded ? 16 : 6;
    for (size_t i = 0; i < n; i++)
        a->uid[i] = a->cfg.sharded ? hex[(unsigned char)id[i] % 16]
                                   : alnum[(unsigned char)id[i] % (sizeof(alnum) - 1)];
    a->uid[n] = 0;
}

static void *ra_create(sio_adapter_host *host, void *config)
{
    const sio_redis_adapter_config *cfg = config;
    if (!cfg || !cfg->url) {
        sio_adapter_host_log(host, SIO_LOG_ERROR, "redis: no URL configured");
        return NULL;
    }
    ra *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->host = host;
    a->cfg = *cfg;
    a->url = cfg->url;
    a->key = cfg->key ? cfg->key : "socket.io";
    a->python_channel = cfg->python_channel;
    const char **fields[] = {&a->url, &a->key, &a->python_channel};
    a->strings = sio_strings_copy(fields, sizeof(fields) / sizeof(fields[0]));
    sio_adapter_limits_init(&a->lim);
    if (cfg->max_message_bytes)
        a->lim.max_bytes = cfg->max_message_bytes;
    make_uid(a);
    sio_redis_cluster_options o;
    sio_redis_cluster_options_init(&o);
    o.cluster = cfg->cluster;
    if (cfg->max_out_bytes)
        o.node.max_out_bytes = cfg->max_out_bytes;
    if (cfg->connect_timeout_ms)
        o.node.connect_timeout_ms = cfg->connect_timeout_ms;
    o.on_message = on_message;
    o.on_state = on_state;
    o.user = a;
    int err = 0;
    a->rc = a->strings ? sio_redis_cluster_new_list(sio_adapter_host_base(host), a->url, &o, &err)
                       : NULL;
    if (!a->rc) {
        sio_adapter_host_log(host, SIO_LOG_ERROR, "redis: bad configuration for %s (%s)", cfg->url,
                             sio_strerror(err ? err : SIO_EINVAL));
        ra_free(a);
        return NULL;
    }
    if (a->python_channel)
        sio_redis_cluster_subscribe(a->rc, SIO_REDIS_SUBSCRIBE, a->python_channel,
                                    strlen(a->python_channel));
    sio_adapter_host_log(host, SIO_LOG_INFO, "redis: %s adapter, uid %s, %s",
                         cfg->sharded ? "sharded" : "classic", a->uid, cfg->url);
    return a;
}

void sio_redis_adapter_config_init(sio_redis_adapter_config *c)
{
    memset(c, 0, sizeof(*c));
    c->subscription_mode = SIO_REDIS_SUB_DYNAMIC;
    c->key = "socket.io";
    c->max_message_bytes = 16u << 20;
    c->max_out_bytes = 64u << 20;
    c->connect_timeout_ms = 5000;
}

static const sio_adapter_ops redis_ops = {
    .name = "redis",
    .create = ra_create,
    .free = ra_free,
    .nsp_open = ra_nsp_open,
    .nsp_close = ra_nsp_close,
    .room_changed = ra_room_changed,
    .publish = ra_publish,
    .server_count = ra_server_count,
    .uid = ra_uid,
    .is_up = ra_is_up,
    .pending = ra_pending,
};

const sio_adapter_ops *sio_adapter_redis(void)
{
    return &redis_ops;
}
