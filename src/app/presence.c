/*
 * Presence (presence.h, docs/presence.md). Two modes behind the gateway's hooks:
 *
 * - local (no Redis): this node's sockets per (organization, user); the transitions are emitted
 *   to the organization room directly.
 * - Redis: the state of docs/presence.md "Redis keys", changed only by the Lua scripts below, so
 *   each decision (a connect under the cap, a 0 -> 1 or 1 -> 0 transition, a node swept) is
 *   atomic and taken once. A script that makes a transition PUBLISHes it on the events channel
 *   in the same step; every node subscribes and emits it to its own clients of the organization
 *   room (SIO_EMIT_LOCAL), so a transition reaches each client once, also when the node that
 *   decided it dies right after.
 *
 * This node mirrors what it registered in Redis in p->local. Whenever Redis may have missed
 * something (a script failed or timed out, Redis restarted, this node was swept while it was
 * alive, the link came back up) the node is "dirty": its sockets are then counted locally only
 * until a resync script replaces its hash in Redis with p->local, adjusting the totals by the
 * difference (so a resync is idempotent). A resync waits for connect scripts in flight, whose
 * outcome p->local does not know yet.
 */
#include "app/presence.h"
#include "app/redis_link.h"
#include "gateway/json_count.h"

#include <jansson.h>

#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Expired nodes one heartbeat sweeps at most (the rest at the next ones). */
#define SWEEP_MAX 16
#define PRESENCE_KEY_MAX 256 /* bytes of the key option */

enum req_kind { RQ_CONNECT, RQ_DISCONNECT, RQ_HEARTBEAT, RQ_RESYNC, RQ_LEAVE, RQ_LIST, RQ_ORGS };

struct sio_presence {
    sio_server *srv;
    sio_namespace *nsp;
    sio_gateway *gw;
    struct event_base *base;
    sio_presence_options o;
    const char *url, *addr, *org_prefix, *user_prefix; /* copies, in strings */
    const char *key;                                   /* {key}, in strings like the next three */
    const char *node_id;                               /* addr/pid/start-ms */
    const char *nodes_key;      /* {key}:nodes: the key every script is routed by */
    const char *events_channel; /* {key}:events */
    char *strings;
    sio_redis_cluster *rc; /* NULL: local mode, or stopped */
    struct event *tick;
    int up, dirty, resync_inflight, closing, leave_done;
    unsigned pending_connects;
    json_t *local;      /* {org: {user: sockets on this node}}; org "" = none */
    json_t *org_counts; /* Redis mode: {org: users online} as last seen */
    sio_presence_stats st;
    uint64_t errors_logged;
};

typedef struct preq {
    sio_presence *p;
    int kind;
    sio_gateway_admission *admission; /* RQ_CONNECT */
    char *org, *user;                 /* RQ_CONNECT */
    unsigned cap;                     /* RQ_CONNECT */
    sio_ack *ack;                     /* RQ_LIST (retained) */
} preq;

/* ---- the scripts ----------------------------------------------------------------------------- */

/* Shared prelude. KEYS[1] = {key}:nodes, ARGV[1] = "{key}". A field is "<org>\0<user>" (org empty
 * for a user without one). Returns of every script: {a, b, online transitions, offline ones}. */
static const char lua_prelude[] =
    "local P = ARGV[1]\n"
    "local on, off = 0, 0\n"
    "local function now_ms() local t = redis.call('TIME') "
    "return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end\n"
    "local function transition(f, status)\n"
    "  local i = string.find(f, '\\0', 1, true)\n"
    "  if not i then return end\n"
    "  local org, user = string.sub(f, 1, i - 1), string.sub(f, i + 1)\n"
    "  if status == 'online' then on = on + 1 else off = off + 1 end\n"
    "  if org == '' then return end\n"
    "  if status == 'online' then\n"
    "    redis.call('SADD', P .. ':org:' .. org, user)\n"
    "    redis.call('HINCRBY', P .. ':orgs', org, 1)\n"
    "  else\n"
    "    redis.call('SREM', P .. ':org:' .. org, user)\n"
    "    if redis.call('HINCRBY', P .. ':orgs', org, -1) <= 0 then "
    "redis.call('HDEL', P .. ':orgs', org) end\n"
    "  end\n"
    "  redis.call('PUBLISH', P .. ':events', cjson.encode({user_id = user, "
    "organization_id = org, status = status}))\n"
    "end\n"
    "local function add(f, d)\n"
    "  local t = redis.call('HINCRBY', P .. ':total', f, d)\n"
    "  if t <= 0 then\n"
    "    redis.call('HDEL', P .. ':total', f)\n"
    "    if t - d > 0 then transition(f, 'offline') end\n"
    "  elseif t - d <= 0 then transition(f, 'online') end\n"
    "  return t\n"
    "end\n"
    "local function drop_node(n)\n"
    "  local k = P .. ':node:' .. n\n"
    "  local h = redis.call('HGETALL', k)\n"
    "  for i = 1, #h, 2 do add(h[i], -tonumber(h[i + 1])) end\n"
    "  redis.call('DEL', k)\n"
    "  redis.call('ZREM', KEYS[1], n)\n"
    "end\n";

/* ARGV[2] node, ARGV[3] field, ARGV[4] cap. a: 1 admitted, 0 over the cap, -1 node unknown
 * (swept: resync first); b: the user's sockets in the cluster. */
static const char lua_connect[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {-1, 0, 0, 0} end\n"
    "local f, cap = ARGV[3], tonumber(ARGV[4])\n"
    "local t = tonumber(redis.call('HGET', P .. ':total', f) or '0')\n"
    "if cap > 0 and t >= cap then return {0, t, 0, 0} end\n"
    "redis.call('HINCRBY', P .. ':node:' .. ARGV[2], f, 1)\n"
    "return {1, add(f, 1), on, off}\n";

/* ARGV[2] node, ARGV[3] field. a: 1 done, -1 node unknown or not holding the field (resync). */
static const char lua_disconnect[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {-1, 0, 0, 0} end\n"
    "local k = P .. ':node:' .. ARGV[2]\n"
    "local n = redis.call('HINCRBY', k, ARGV[3], -1)\n"
    "if n <= 0 then redis.call('HDEL', k, ARGV[3]) end\n"
    "if n < 0 then return {-1, 0, 0, 0} end\n"
    "return {1, add(ARGV[3], -1), on, off}\n";

/* ARGV[2] node, ARGV[3] lease validity ms, ARGV[4] sweep max. Sweeps lapsed nodes, then renews
 * this node's lease. a: 1 renewed, 0 this node is not registered (resync); b: nodes swept. */
static const char lua_heartbeat[] =
    "local now = now_ms()\n"
    "local swept = 0\n"
    "for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, "
    "tonumber(ARGV[4]))) do\n"
    "  if n ~= ARGV[2] then drop_node(n) swept = swept + 1 end\n"
    "end\n"
    "if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {0, swept, on, off} end\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])\n"
    "return {1, swept, on, off}\n";

/* ARGV[2] node, ARGV[3] lease validity ms, ARGV[4] address, then field, count pairs: this node's
 * whole state. Drops registered nodes of the same address (this node's predecessors on that
 * port), registers this one and makes its hash equal to the pairs, adjusting the totals by the
 * difference. b: predecessors dropped. */
static const char lua_resync[] =
    "local node = ARGV[2]\n"
    "local pre = ARGV[4] .. '/'\n"
    "local swept = 0\n"
    "for _, n in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  if n ~= node and string.sub(n, 1, #pre) == pre then drop_node(n) swept = swept + 1 end\n"
    "end\n"
    "redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[3]), node)\n"
    "local k = P .. ':node:' .. node\n"
    "local old = {}\n"
    "local h = redis.call('HGETALL', k)\n"
    "for i = 1, #h, 2 do old[h[i]] = tonumber(h[i + 1]) end\n"
    "for i = 5, #ARGV - 1, 2 do\n"
    "  local f, c = ARGV[i], tonumber(ARGV[i + 1])\n"
    "  local d = c - (old[f] or 0)\n"
    "  old[f] = nil\n"
    "  if d ~= 0 then redis.call('HSET', k, f, c) add(f, d) end\n"
    "end\n"
    "for f, c in pairs(old) do redis.call('HDEL', k, f) add(f, -c) end\n"
    "return {1, swept, on, off}\n";

/* ARGV[2] node: a graceful stop. */
static const char lua_leave[] = "drop_node(ARGV[2])\n"
                                "return {1, 0, on, off}\n";

/* ---- utilities ----------------------------------------------------------------------------- */

/* plog(p, level, fmt, ...): a line of presence's log. */
#define plog(p, ...) sio_app_log((p)->o.log, (p)->o.log_user, __VA_ARGS__)

/* A failed script: counted, logged (the first few, then every 100th). */
static void redis_error(sio_presence *p, const char *what, int status, const sio_redis_reply *r)
{
    p->st.redis_errors++;
    if (p->errors_logged < 5 || p->st.redis_errors % 100 == 0) {
        p->errors_logged++;
        plog(p, SIO_LOG_WARN, "presence: %s failed: %s (%llu so far)", what,
             r && r->type == SIO_REDIS_REPLY_ERROR ? r->str : sio_strerror(status),
             (unsigned long long)p->st.redis_errors);
    }
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* The Redis field of a user: "<org>\0<user>" (*len set). */
static char *field_of(const char *org, const char *user, size_t *len)
{
    size_t ol = strlen(org), ul = strlen(user);
    char *f = malloc(ol + ul + 2);
    if (f) {
        memcpy(f, org, ol);
        f[ol] = 0;
        memcpy(f + ol + 1, user, ul + 1);
        *len = ol + 1 + ul;
    }
    return f;
}

/* Adds d to this node's count of (org, user); returns the new count. */
static json_int_t local_add(sio_presence *p, const char *org, const char *user, json_int_t d)
{
    json_t *users = json_object_get(p->local, org);
    if (!users) {
        if (d <= 0)
            return 0;
        users = json_object();
        if (!users || json_object_set_new(p->local, org, users) < 0)
            return 0;
    }
    json_int_t n = sio_json_count_add(users, user, d);
    if (!json_object_size(users))
        json_object_del(p->local, org);
    return n;
}

static json_int_t local_get(sio_presence *p, const char *org, const char *user)
{
    return json_integer_value(json_object_get(json_object_get(p->local, org), user));
}

/* presence:update {user_id, organization_id, status} to the organization's room on this node
 * (local: with the in-memory adapter; Redis mode: SIO_EMIT_LOCAL, every node does the same),
 * the user's own sockets excepted: whether the socket that made its user online is in the room
 * yet would otherwise depend on timing. */
static void emit_update(sio_presence *p, const char *org, const char *user, const char *status)
{
    if (!org[0])
        return;
    char *room = cat3(p->org_prefix, org, ""), *self = cat3(p->user_prefix, user, "");
    json_t *arr =
        json_pack("[{s:s,s:s,s:s}]", "user_id", user, "organization_id", org, "status", status);
    char *txt = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    if (room && self && txt) {
        const char *rooms[1] = {room}, *except[1] = {self};
        sio_target to = {rooms, 1, except, 1, p->url ? SIO_EMIT_LOCAL : 0};
        if (sio_namespace_emit(p->nsp, &to, "presence:update", txt, NULL, 0) >= 0)
            p->st.updates++;
    }
    free(txt);
    json_decref(arr);
    free(room);
    free(self);
}

static long long reply_int(const sio_redis_reply *r, size_t i)
{
    if (!r || r->type != SIO_REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != SIO_REDIS_REPLY_INTEGER)
        return 0;
    return r->element[i]->integer;
}

static int reply_ok(int status, const sio_redis_reply *r)
{
    return status == 0 && r && r->type == SIO_REDIS_REPLY_ARRAY && r->elements == 4;
}

static void preq_free(preq *q)
{
    free(q->org);
    free(q->user);
    free(q);
}

static void on_reply(sio_redis_cluster *c, int status, const sio_redis_reply *r, void *user);

/* EVAL script with ARGV {key, args...}. Takes q (freed on failure). Returns 0 or an error. */
static int eval(sio_presence *p, const char *script, preq *q, int nargs, const char **args,
                const size_t *lens)
{
    size_t plen = strlen(lua_prelude), slen = strlen(script);
    char *text = malloc(plen + slen + 1);
    const char **argv = malloc(sizeof(*argv) * (size_t)(nargs + 5));
    size_t *lv = malloc(sizeof(*lv) * (size_t)(nargs + 5));
    int rc = SIO_ENOMEM;
    if (text && argv && lv && p->rc) {
        memcpy(text, lua_prelude, plen);
        memcpy(text + plen, script, slen + 1);
        argv[0] = "EVAL";
        argv[1] = text;
        argv[2] = "1";
        argv[3] = p->nodes_key;
        argv[4] = p->key;
        for (int i = 0; i < nargs; i++) {
            argv[5 + i] = args[i];
            lv[5 + i] = lens ? lens[i] : strlen(args[i]);
        }
        for (int i = 0; i < 5; i++)
            lv[i] = strlen(argv[i]);
        rc = sio_redis_cluster_command(p->rc, p->nodes_key, strlen(p->nodes_key), on_reply, q,
                                       nargs + 5, argv, lv);
    } else if (!p->rc) {
        rc = SIO_ECLOSED;
    }
    free(text);
    free(argv);
    free(lv);
    if (rc < 0)
        preq_free(q);
    return rc;
}

static preq *preq_new(sio_presence *p, int kind)
{
    preq *q = calloc(1, sizeof(*q));
    if (q) {
        q->p = p;
        q->kind = kind;
    }
    return q;
}

/* Sends the resync when it is due and possible. */
static void maybe_resync(sio_presence *p)
{
    if (!p->rc || !p->up || !p->dirty || p->resync_inflight || p->pending_connects || p->closing)
        return;
    size_t n = 0;
    const char *org;
    json_t *users, *v;
    json_object_foreach(p->local, org, users) n += json_object_size(users);
    const char **args = calloc(3 + 2 * n, sizeof(*args));
    size_t *lens = calloc(3 + 2 * n, sizeof(*lens));
    char **owned = calloc(2 * n + 1, sizeof(*owned));
    preq *q = preq_new(p, RQ_RESYNC);
    char lease[24];
    snprintf(lease, sizeof(lease), "%u", p->o.lease_ms * 3 / 4);
    size_t k = 0, i = 3;
    int ok = args && lens && owned && q;
    if (ok) {
        args[0] = p->node_id;
        args[1] = lease;
        args[2] = p->addr;
        for (int j = 0; j < 3; j++)
            lens[j] = strlen(args[j]);
        json_object_foreach(p->local, org, users)
        {
            const char *uid;
            json_object_foreach(users, uid, v)
            {
                char *f = field_of(org, uid, &lens[i]);
                char *cnt = malloc(24);
                owned[k++] = f;
                owned[k++] = cnt;
                if (!f || !cnt) {
                    ok = 0;
                    break;
                }
                args[i++] = f;
                snprintf(cnt, 24, "%lld", (long long)json_integer_value(v));
                lens[i] = strlen(cnt);
                args[i++] = cnt;
            }
            if (!ok)
                break;
        }
    }
    if (ok) {
        if (eval(p, lua_resync, q, (int)i, args, lens) == 0) {
            p->dirty = 0;
            p->resync_inflight = 1;
        }
    } else if (q) {
        preq_free(q);
    }
    for (size_t j = 0; j < k; j++)
        free(owned[j]);
    free(owned);
    free(args);
    free(lens);
}

/* A connect counted without Redis (down, dirty, failed): this node's count and cap only. */
static void admit_local(sio_presence *p, const char *org, const char *user, unsigned cap,
                        sio_gateway_admission *a)
{
    json_int_t have = local_get(p, org, user);
    if (cap && have >= (json_int_t)cap) {
        sio_gateway_admit(a, SIO_GW_ADMIT_LIMIT);
        return;
    }
    local_add(p, org, user, 1);
    if (sio_gateway_admit(a, SIO_GW_ADMIT) < 0) {
        local_add(p, org, user, -1);
        return;
    }
    if (p->url) {
        p->dirty = 1; /* Redis learns it from the resync */
    } else if (have == 0 && !p->closing) {
        p->st.online++;
        emit_update(p, org, user, "online");
    }
}

static void release(const char *user, const char *org_or_null, void *arg);

static void count_transitions(sio_presence *p, const sio_redis_reply *r)
{
    p->st.online += (uint64_t)reply_int(r, 2);
    p->st.offline += (uint64_t)reply_int(r, 3);
}

static void on_reply(sio_redis_cluster *c, int status, const sio_redis_reply *r, void *user)
{
    (void)c;
    preq *q = user;
    sio_presence *p = q->p;
    int ok = reply_ok(status, r);
    switch (q->kind) {
    case RQ_CONNECT: {
        p->pending_connects--;
        long long verdict = ok ? reply_int(r, 0) : -2;
        if (!ok)
            redis_error(p, "connect", status, r);
        if (verdict == 1) {
            count_transitions(p, r);
            local_add(p, q->org, q->user, 1);
            if (sio_gateway_admit(q->admission, SIO_GW_ADMIT) < 0)
                release(q->user, q->org, p); /* the socket went away meanwhile */
        } else if (verdict == 0) {
            sio_gateway_admit(q->admission, SIO_GW_ADMIT_LIMIT);
        } else {
            /* not registered (swept) or unknown outcome: count here, resync later */
            p->dirty = 1;
            admit_local(p, q->org, q->user, q->cap, q->admission);
        }
        break;
    }
    case RQ_DISCONNECT:
        if (ok)
            count_transitions(p, r);
        else
            redis_error(p, "disconnect", status, r);
        if ((!ok || reply_int(r, 0) < 0) && p->rc)
            p->dirty = 1;
        break;
    case RQ_HEARTBEAT:
        if (!ok) {
            redis_error(p, "heartbeat", status, r);
            break;
        }
        count_transitions(p, r);
        p->st.swept_nodes += (uint64_t)reply_int(r, 1);
        if (reply_int(r, 1))
            plog(p, SIO_LOG_INFO, "presence: swept %lld node(s) whose lease lapsed",
                 reply_int(r, 1));
        if (reply_int(r, 0) == 0 && p->rc) {
            plog(p, SIO_LOG_WARN, "presence: this node's lease had lapsed; registering again");
            p->dirty = 1;
        }
        break;
    case RQ_RESYNC:
        p->resync_inflight = 0;
        if (ok) {
            p->st.resyncs++;
            count_transitions(p, r);
            p->st.swept_nodes += (uint64_t)reply_int(r, 1);
            if (reply_int(r, 1))
                plog(p, SIO_LOG_INFO, "presence: replaced %lld earlier node(s) of %s",
                     reply_int(r, 1), p->addr);
        } else {
            redis_error(p, "resync", status, r);
            if (p->rc)
                p->dirty = 1;
        }
        break;
    case RQ_LEAVE:
        p->leave_done = 1;
        if (ok)
            count_transitions(p, r);
        break;
    case RQ_LIST: {
        json_t *users = json_array();
        if (status == 0 && r && r->type == SIO_REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == SIO_REDIS_REPLY_STRING)
                    json_array_append_new(users,
                                          json_stringn(r->element[i]->str, r->element[i]->len));
            json_t *ans = json_pack("[{s:b,s:o}]", "ok", 1, "users", users);
            char *txt = ans ? json_dumps(ans, JSON_COMPACT) : NULL;
            sio_ack_send(q->ack, txt ? txt : "[{\"ok\":false}]", NULL, 0);
            free(txt);
            json_decref(ans);
        } else {
            json_decref(users);
            redis_error(p, "presence:list", status, r);
            sio_ack_send(q->ack,
                         "[{\"ok\":false,\"error\":{\"code\":\"UNAVAILABLE\",\"message\":"
                         "\"Presence is unavailable\"}}]",
                         NULL, 0);
        }
        break;
    }
    case RQ_ORGS:
        if (status == 0 && r && r->type == SIO_REDIS_REPLY_ARRAY) {
            json_object_clear(p->org_counts);
            for (size_t i = 0; i + 1 < r->elements; i += 2) {
                const sio_redis_reply *k = r->element[i], *v = r->element[i + 1];
                long long n = v->type == SIO_REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : 0;
                if (k->type == SIO_REDIS_REPLY_STRING && n > 0 && strlen(k->str) == k->len)
                    json_object_set_new(p->org_counts, k->str, json_integer(n));
            }
        }
        break;
    }
    preq_free(q);
    maybe_resync(p);
}

/* ---- the gateway's hooks ------------------------------------------------------------------- */

static void admit(const char *user, const char *org_or_null, unsigned cap, sio_gateway_admission *a,
                  void *arg)
{
    sio_presence *p = arg;
    const char *org = org_or_null ? org_or_null : "";
    if (!p->rc || p->closing || !p->up || p->dirty) {
        admit_local(p, org, user, cap, a);
        maybe_resync(p);
        return;
    }
    preq *q = preq_new(p, RQ_CONNECT);
    size_t flen = 0;
    char *f = field_of(org, user, &flen);
    char capbuf[24];
    snprintf(capbuf, sizeof(capbuf), "%u", cap);
    if (q && f && (q->org = strdup(org)) && (q->user = strdup(user))) {
        q->admission = a;
        q->cap = cap;
        const char *args[3] = {p->node_id, f, capbuf};
        size_t lens[3] = {strlen(p->node_id), flen, strlen(capbuf)};
        int rc = eval(p, lua_connect, q, 3, args, lens); /* takes q */
        free(f);
        if (rc == 0) {
            p->pending_connects++;
            return;
        }
        redis_error(p, "connect", rc, NULL);
        p->dirty = 1;
        admit_local(p, org, user, cap, a);
        return;
    }
    free(f);
    if (q)
        preq_free(q);
    sio_gateway_admit(a, SIO_GW_ADMIT_ERROR);
}

static void release(const char *user, const char *org_or_null, void *arg)
{
    sio_presence *p = arg;
    const char *org = org_or_null ? org_or_null : "";
    if (!local_get(p, org, user))
        return;
    json_int_t left = local_add(p, org, user, -1);
    if (!p->url) {
        if (!left && !p->closing) {
            p->st.offline++;
            emit_update(p, org, user, "offline");
        }
        return;
    }
    if (p->closing || !p->up || p->dirty) {
        p->dirty = 1;
        return;
    }
    preq *q = preq_new(p, RQ_DISCONNECT);
    size_t flen = 0;
    char *f = field_of(org, user, &flen);
    if (q && f) {
        const char *args[2] = {p->node_id, f};
        size_t lens[2] = {strlen(p->node_id), flen};
        if (eval(p, lua_disconnect, q, 2, args, lens) < 0)
            p->dirty = 1;
    } else {
        if (q)
            preq_free(q);
        p->dirty = 1;
    }
    free(f);
}

/* ---- presence:list --------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void on_list(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                    void *user)
{
    (void)event;
    (void)args;
    sio_presence *p = user;
    const char *uid, *org;
    if (!ack)
        return;
    if (sio_gateway_identity(p->gw, s, &uid, &org) < 0) {
        sio_ack_send(ack,
                     "[{\"ok\":false,\"error\":{\"code\":\"FORBIDDEN\",\"message\":"
                     "\"Not an authenticated connection\"}}]",
                     NULL, 0);
        return;
    }
    p->st.lists++;
    if (org && p->rc && !p->closing) {
        preq *q = preq_new(p, RQ_LIST);
        char *k = cat3(p->key, ":org:", org);
        if (q && k) {
            q->ack = sio_ack_retain(ack);
            const char *argv[2] = {"SMEMBERS", k};
            if (sio_redis_cluster_command(p->rc, k, strlen(k), on_reply, q, 2, argv, NULL) == 0) {
                free(k);
                return;
            }
            sio_ack_free(q->ack);
            q->ack = NULL;
        }
        free(k);
        if (q)
            preq_free(q);
        sio_ack_send(ack,
                     "[{\"ok\":false,\"error\":{\"code\":\"UNAVAILABLE\",\"message\":"
                     "\"Presence is unavailable\"}}]",
                     NULL, 0);
        return;
    }
    /* local mode: this node's users of the organization, sorted */
    json_t *users = json_object_get(p->local, org ? org : "");
    size_t n = org ? json_object_size(users) : 0, i = 0;
    const char **ids = calloc(n + 1, sizeof(*ids));
    const char *k;
    json_t *v;
    if (ids && n)
        json_object_foreach(users, k, v) ids[i++] = k;
    if (ids)
        qsort(ids, i, sizeof(*ids), cmp_str);
    json_t *arr = json_array();
    for (size_t j = 0; ids && j < i; j++)
        json_array_append_new(arr, json_string(ids[j]));
    free(ids);
    json_t *ans = json_pack("[{s:b,s:o}]", "ok", 1, "users", arr);
    char *txt = ans ? json_dumps(ans, JSON_COMPACT) : NULL;
    sio_ack_send(ack, txt ? txt : "[{\"ok\":false}]", NULL, 0);
    free(txt);
    json_decref(ans);
}

/* ---- Redis: events, state, heartbeat -----------------------------------------------------------
 */

static void on_message(sio_redis_cluster *c, int kind, const char *pattern, size_t plen,
                       const char *channel, size_t clen, const char *payload, size_t len,
                       void *user)
{
    (void)c;
    (void)kind;
    (void)pattern;
    (void)plen;
    sio_presence *p = user;
    if (clen != strlen(p->events_channel) || memcmp(channel, p->events_channel, clen))
        return;
    json_t *m = json_loadb(payload, len, 0, NULL);
    const char *uid = json_string_value(json_object_get(m, "user_id"));
    const char *org = json_string_value(json_object_get(m, "organization_id"));
    const char *status = json_string_value(json_object_get(m, "status"));
    if (uid && org && status && (!strcmp(status, "online") || !strcmp(status, "offline"))) {
        sio_json_count_add(p->org_counts, org, !strcmp(status, "online") ? 1 : -1);
        emit_update(p, org, uid, status);
    }
    json_decref(m);
}

static void on_state(sio_redis_cluster *c, int up, void *user)
{
    (void)c;
    sio_presence *p = user;
    p->up = up;
    plog(p, up ? SIO_LOG_INFO : SIO_LOG_WARN, "presence: Redis %s", up ? "up" : "down");
    if (up) {
        p->dirty = 1; /* Redis may have lost or missed something: register again */
        maybe_resync(p);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sio_presence *p = arg;
    if (!p->rc || !p->up || p->closing)
        return;
    char lease[24], max[16];
    snprintf(lease, sizeof(lease), "%u", p->o.lease_ms * 3 / 4);
    snprintf(max, sizeof(max), "%d", SWEEP_MAX);
    const char *args[3] = {p->node_id, lease, max};
    preq *q = preq_new(p, RQ_HEARTBEAT);
    if (q)
        eval(p, lua_heartbeat, q, 3, args, NULL);
    char *k = cat3(p->key, ":orgs", "");
    preq *o = k ? preq_new(p, RQ_ORGS) : NULL;
    const char *argv[2] = {"HGETALL", k};
    if (o && sio_redis_cluster_command(p->rc, k, strlen(k), on_reply, o, 2, argv, NULL) < 0)
        preq_free(o);
    free(k);
    maybe_resync(p);
}

/* ---- life ---------------------------------------------------------------------------------- */

void sio_presence_options_init(sio_presence_options *o)
{
    *o = (sio_presence_options){
        .lease_ms = 30000, .key = "sio:presence", .org_prefix = "org:", .user_prefix = "user:"};
}

void sio_presence_free(sio_presence *p)
{
    if (!p)
        return;
    sio_redis_cluster_free(p->rc);
    if (p->tick)
        event_free(p->tick);
    json_decref(p->local);
    json_decref(p->org_counts);
    free(p->strings);
    free(p);
}

sio_presence *sio_presence_new(sio_server *srv, sio_namespace *nsp, sio_gateway *gw,
                               const sio_presence_options *o)
{
    char key[PRESENCE_KEY_MAX + 3], nodes_key[sizeof(key) + 6], events[sizeof(key) + 7];
    int klen = snprintf(key, sizeof(key), "{%s}", o->key ? o->key : "sio:presence");
    const char *bad = NULL;
    if (o->redis_url && o->lease_ms < 400)
        bad = "presence: --presence-lease must be at least 400 ms";
    else if (klen < 0 || klen >= (int)sizeof(key))
        bad = "presence: --presence-key is too long";
    if (bad) {
        if (o->log)
            o->log(SIO_LOG_ERROR, bad, o->log_user);
        return NULL;
    }
    sio_presence *p = malloc(sizeof(*p));
    if (!p)
        return NULL;
    *p = (sio_presence){.srv = srv, .nsp = nsp, .gw = gw, .base = sio_server_base(srv), .o = *o};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char id[512];
    snprintf(id, sizeof(id), "%s/%ld/%lld", o->node_addr ? o->node_addr : "sio", (long)getpid(),
             (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    snprintf(nodes_key, sizeof(nodes_key), "%s:nodes", key);
    snprintf(events, sizeof(events), "%s:events", key);
    p->url = o->redis_url;
    p->addr = o->node_addr ? o->node_addr : "sio";
    p->org_prefix = o->org_prefix ? o->org_prefix : "org:";
    p->user_prefix = o->user_prefix ? o->user_prefix : "user:";
    p->key = key;
    p->node_id = id;
    p->nodes_key = nodes_key;
    p->events_channel = events;
    const char **fields[] = {&p->url, &p->addr,    &p->org_prefix, &p->user_prefix,
                             &p->key, &p->node_id, &p->nodes_key,  &p->events_channel};
    p->strings = sio_strings_copy(fields, sizeof(fields) / sizeof(fields[0]));
    p->local = json_object();
    p->org_counts = json_object();
    p->dirty = 1;
    if (!p->strings || !p->local || !p->org_counts ||
        sio_namespace_on(nsp, "presence:list", on_list, p) < 0) {
        sio_presence_free(p);
        return NULL;
    }
    if (o->redis_url) {
        sio_app_redis_link link = {"presence", o->redis_url, o->redis_cluster, on_message, on_state,
                                   p,          o->log,       o->log_user};
        if (!(p->rc = sio_app_redis_connect(p->base, &link))) {
            sio_presence_free(p);
            return NULL;
        }
        unsigned period = o->lease_ms / 4;
        struct timeval tp = {(time_t)(period / 1000), (suseconds_t)(period % 1000) * 1000};
        p->tick = event_new(p->base, -1, EV_PERSIST, on_tick, p);
        if (!p->tick || event_add(p->tick, &tp) < 0 ||
            sio_redis_cluster_subscribe(p->rc, SIO_REDIS_SUBSCRIBE, p->events_channel,
                                        strlen(p->events_channel)) < 0) {
            plog(p, SIO_LOG_ERROR, "presence: cannot start the heartbeat or subscribe to %s",
                 p->events_channel);
            sio_presence_free(p);
            return NULL;
        }
    }
    sio_gateway_hooks h = {admit, release, p};
    sio_gateway_set_hooks(gw, &h);
    if (p->rc)
        plog(p, SIO_LOG_INFO, "presence: cluster-wide in Redis (keys %s:*), node %s, lease %u ms",
             p->key, p->node_id, o->lease_ms);
    else
        plog(p, SIO_LOG_INFO, "presence: this node only (no Redis)");
    return p;
}

static void stop_guard(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

void sio_presence_stop(sio_presence *p)
{
    if (!p || p->closing)
        return;
    p->closing = 1;
    if (!p->rc)
        return;
    if (p->tick)
        event_del(p->tick);
    preq *q = p->up ? preq_new(p, RQ_LEAVE) : NULL;
    const char *args[1] = {p->node_id};
    if (q && eval(p, lua_leave, q, 1, args, NULL) == 0) {
        struct event *guard = event_new(p->base, -1, EV_PERSIST, stop_guard, NULL);
        struct timeval tv = {0, 50000};
        if (guard && event_add(guard, &tv) == 0) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (;;) {
                event_base_loop(p->base, EVLOOP_ONCE);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                if (p->leave_done || t1.tv_sec - t0.tv_sec >= 1)
                    break;
            }
        }
        if (guard)
            event_free(guard);
    }
    sio_redis_cluster_free(p->rc);
    p->rc = NULL;
    for (int i = 0; i < 3; i++) /* the connections' reapers: callbacks owed run with ECLOSED */
        event_base_loop(p->base, EVLOOP_NONBLOCK);
}

void sio_presence_get_stats(const sio_presence *p, sio_presence_stats *out)
{
    *out = p->st;
    out->redis = p->url != NULL;
    out->redis_up = p->rc && p->up;
    const char *org;
    json_t *v;
    size_t users = 0, orgs = 0;
    if (p->url) {
        json_object_foreach(p->org_counts, org, v)
        {
            users += (size_t)json_integer_value(v);
            orgs++;
        }
    } else {
        json_object_foreach(p->local, org, v)
        {
            if (org[0]) {
                users += json_object_size(v);
                orgs++;
            }
        }
    }
    out->users = users;
    out->orgs = orgs;
}

void sio_presence_foreach_org(const sio_presence *p, size_t max,
                              void (*fn)(const char *org, size_t online, void *user), void *user)
{
    const char *org;
    json_t *v;
    size_t n = 0;
    if (p->url) {
        json_object_foreach(p->org_counts, org, v)
        {
            if (n++ == max)
                return;
            fn(org, (size_t)json_integer_value(v), user);
        }
    } else {
        json_object_foreach(p->local, org, v)
        {
            if (!org[0])
                continue;
            if (n++ == max)
                return;
            fn(org, json_object_size(v), user);
        }
    }
}

const char *sio_presence_node_id(const sio_presence *p)
{
    return p->node_id;
}
