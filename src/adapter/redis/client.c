/*
 * sio_redis: one Redis connection on our own libevent bufferevent (TCP, unix socket or TLS), with
 * hiredis used only to format commands and parse RESP2. Owns: the bufferevent, the reader, the
 * FIFO of commands awaiting replies, the remembered subscriptions and four timers (reconnect,
 * connect, command timeout, keepalive). Never blocks; never frees itself inside its callbacks.
 */
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sio/error.h>

#include "common/log.h"
#include "common/map.h"
#include "net/connect.h"

#define LOG_MODULE "adapter"

enum conn_state { ST_DOWN, ST_CONNECTING, ST_HANDSHAKE, ST_UP };

/* What a reply in the FIFO answers. Internal entries (handshake, keepalive) have no user
 * callback and are dropped silently when the connection goes. */
enum pending_type { P_USER, P_SUB, P_UNSUB, P_HANDSHAKE, P_KEEPALIVE };

typedef struct pending {
    struct pending *next;
    sio_redis_reply_cb cb; /* NULL once run (timed out: the late reply is only consumed) */
    void *arg;
    int64_t deadline_ms; /* 0: none */
    unsigned char type;
    unsigned char kind; /* P_SUB / P_UNSUB: enum sio_redis_sub_kind */
    size_t clen;
    char channel[]; /* P_SUB / P_UNSUB: to match confirmations and report errors */
} pending;

struct sio_redis {
    struct event_base *base;
    sio_redis_options o; /* copy; its strings point into strings */
    char *strings; /* o's strings: url, tls_ca_file, client_name, log_name (with the address) */
    sio_redis_url url;
    char address[SIO_REDIS_HOST_MAX + 8];
    struct evdns_base *dns;
    int own_dns;
    SSL_CTX *ssl_ctx;

    struct bufferevent *bev; /* NULL when down */
    redisReader *reader;
    int state;
    unsigned gen;         /* bumped by every drop: a reply loop stops when it changes */
    int handshake_left;   /* replies still expected before ST_UP */
    int array_refused;    /* the reader failed on an array over max_array */
    int subscriber;       /* sticky: a subscribe was ever made on this connection */
    pending *head, *tail; /* FIFO of requests sent, oldest first */
    size_t npending;

    struct event *reconnect_ev, *connect_timer, *cmd_timer, *ping_timer, *reap_ev;
    int attempt;     /* failed attempts since the last time up: the backoff exponent */
    int logged_down; /* the current outage has been logged */
    char last_error[256];
    int64_t last_rx_ms, ping_sent_ms;
    int ping_outstanding;

    sio_map subs; /* key: kind byte + channel; value: &sub_marker */
    int depth;    /* user callbacks on the stack */
    int freeing;
    uint64_t rng;
    sio_redis_stats st;
};

static char sub_marker;

/* ---- small utilities ----------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_tv(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static const char *kind_cmd(int kind, int unsub)
{
    static const char *names[2][3] = {{"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"},
                                      {"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"}};
    return names[unsub ? 1 : 0][kind];
}

/* The push name of a subscription confirmation: sets *kind and *unsub, or returns -1. */
static int parse_sub_push(const sio_redis_reply *name, int *kind, int *unsub)
{
    static const char *names[6] = {"subscribe",   "psubscribe",   "ssubscribe",
                                   "unsubscribe", "punsubscribe", "sunsubscribe"};
    for (int i = 0; i < 6; i++) {
        if (name->len == strlen(names[i]) && memcmp(name->str, names[i], name->len) == 0) {
            *kind = i % 3;
            *unsub = i >= 3;
            return 0;
        }
    }
    return -1;
}

static int str_is(const sio_redis_reply *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->type == SIO_REDIS_REPLY_STRING && s->len == n && memcmp(s->str, lit, n) == 0;
}

/* The subscription map key: one kind byte, then the channel. */
static char *sub_key(int kind, const char *ch, size_t len, char *stackbuf, size_t cap)
{
    char *k = len + 1 <= cap ? stackbuf : malloc(len + 1);
    if (!k)
        return NULL;
    k[0] = (char)('0' + kind);
    memcpy(k + 1, ch, len);
    return k;
}

/* ---- reply tree: hiredis reader object functions ------------------------------------------- */

/* The reader calls these for every value; we attach each to its parent array ourselves. Array
 * sizes come from the peer: capped before allocating (hiredis 0.14.1 would calloc any size). */

static size_t default_max_array = (size_t)1 << 24;

static void *attach(const redisReadTask *task, sio_redis_reply *node)
{
    if (task->parent) {
        sio_redis_reply *parent = task->parent->obj;
        parent->element[task->idx] = node;
    }
    return node;
}

static void *obj_string(const redisReadTask *task, char *str, size_t len)
{
    sio_redis_reply *n = calloc(1, sizeof(*n) + len + 1); /* the text follows the node */
    if (!n)
        return NULL;
    n->str = (char *)(n + 1);
    memcpy(n->str, str, len);
    n->str[len] = '\0';
    n->len = len;
    n->type = task->type == REDIS_REPLY_ERROR    ? SIO_REDIS_REPLY_ERROR
              : task->type == REDIS_REPLY_STATUS ? SIO_REDIS_REPLY_STATUS
                                                 : SIO_REDIS_REPLY_STRING;
    return attach(task, n);
}

static void *obj_array(const redisReadTask *task, int elements)
{
    sio_redis *r = task->privdata;
    size_t max = r ? r->o.max_array : default_max_array;
    if (elements < 0 || (size_t)elements > max) {
        if (r)
            r->array_refused = 1;
        return NULL; /* the reader reports "out of memory": we drop the connection */
    }
    sio_redis_reply *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->type = SIO_REDIS_REPLY_ARRAY;
    if (elements > 0) {
        n->element = calloc((size_t)elements, sizeof(*n->element));
        if (!n->element) {
            free(n);
            return NULL;
        }
    }
    n->elements = (size_t)elements;
    return attach(task, n);
}

static void *obj_integer(const redisReadTask *task, long long v)
{
    sio_redis_reply *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->type = SIO_REDIS_REPLY_INTEGER;
    n->integer = v;
    return attach(task, n);
}

static void *obj_nil(const redisReadTask *task)
{
    sio_redis_reply *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->type = SIO_REDIS_REPLY_NIL;
    return attach(task, n);
}

static void reply_free(void *obj)
{
    sio_redis_reply *n = obj;
    if (!n)
        return;
    for (size_t i = 0; i < n->elements; i++)
        reply_free(n->element[i]);
    free(n->element);
    free(n);
}

static redisReplyObjectFunctions reply_fns = {
    .createString = obj_string,
    .createArray = obj_array,
    .createInteger = obj_integer,
    .createNil = obj_nil,
    .freeObject = reply_free,
};

static redisReader *reader_new(sio_redis *r)
{
    redisReader *rd = redisReaderCreateWithFunctions(&reply_fns);
    if (rd)
        rd->privdata = r;
    return rd;
}

/* ---- callbacks into the user ---------------------------------------------------------------- */

/* Runs a pending entry's callback once. Returns nonzero when r is being freed (stop). */
static int run_cb(sio_redis *r, pending *p, int status, const sio_redis_reply *reply)
{
    sio_redis_reply_cb cb = p->cb;
    p->cb = NULL;
    if (!cb)
        return r->freeing;
    r->depth++;
    cb(r, status, reply, p->arg);
    r->depth--;
    return r->freeing;
}

static void report_state(sio_redis *r, int up, const char *reason)
{
    if (!r->o.on_state || r->freeing)
        return;
    r->depth++;
    r->o.on_state(r, up, reason, r->o.user);
    r->depth--;
}

static void report_lost(sio_redis *r, int kind, const char *ch, size_t len,
                        const sio_redis_reply *reply)
{
    if (!r->o.on_sub_lost || r->freeing)
        return;
    r->depth++;
    r->o.on_sub_lost(r, kind, ch, len, reply, r->o.user);
    r->depth--;
}

/* ---- the FIFO ------------------------------------------------------------------------------ */

static pending *pop_head(sio_redis *r)
{
    pending *p = r->head;
    if (p) {
        r->head = p->next;
        if (!r->head)
            r->tail = NULL;
        r->npending--;
    }
    return p;
}

/* Fails every entry with status: user callbacks run (from the loop, never from sio_redis_free),
 * internal entries are dropped. The list is detached first so callbacks may queue again. */
static void fail_all(sio_redis *r, int status)
{
    pending *p = r->head;
    r->head = r->tail = NULL;
    r->npending = 0;
    while (p) {
        pending *next = p->next;
        /* a callback that frees r only marks it (depth > 0): the walk may go on */
        if (p->type == P_USER)
            run_cb(r, p, status, NULL);
        free(p);
        p = next;
    }
}

static int has_user_pending(const sio_redis *r)
{
    for (const pending *p = r->head; p; p = p->next)
        if (p->type == P_USER && p->cb)
            return 1;
    return 0;
}

/* Formats and queues one request. Returns 0 or SIO_ELIMIT / SIO_ENOMEM / SIO_EINVAL. */
static int send_request(sio_redis *r, int type, int kind, const char *ch, size_t clen,
                        sio_redis_reply_cb cb, void *arg, int argc, const char **argv,
                        const size_t *lens)
{
    struct evbuffer *out = bufferevent_get_output(r->bev);
    if (r->npending >= r->o.max_pending) {
        r->st.limit_drops++;
        return SIO_ELIMIT;
    }
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (n < 0)
        return SIO_ENOMEM;
    if (evbuffer_get_length(out) + (size_t)n > r->o.max_out_bytes) {
        redisFreeCommand(cmd);
        r->st.limit_drops++;
        return SIO_ELIMIT;
    }
    pending *p = calloc(1, sizeof(*p) + clen);
    if (!p) {
        redisFreeCommand(cmd);
        return SIO_ENOMEM;
    }
    if (evbuffer_add(out, cmd, (size_t)n) < 0) {
        redisFreeCommand(cmd);
        free(p);
        return SIO_ENOMEM;
    }
    redisFreeCommand(cmd);
    p->cb = cb;
    p->arg = arg;
    p->type = (unsigned char)type;
    p->kind = (unsigned char)kind;
    p->clen = clen;
    if (clen)
        memcpy(p->channel, ch, clen);
    if (type == P_USER && r->o.command_timeout_ms > 0) {
        p->deadline_ms = now_ms() + r->o.command_timeout_ms;
        if (!evtimer_pending(r->cmd_timer, NULL)) {
            struct timeval tv = ms_tv(r->o.command_timeout_ms);
            evtimer_add(r->cmd_timer, &tv);
        }
    }
    if (r->tail)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    r->npending++;
    return 0;
}

static int send_sub(sio_redis *r, int kind, const char *ch, size_t len, int unsub)
{
    const char *argv[2] = {kind_cmd(kind, unsub), ch};
    size_t lens[2] = {strlen(argv[0]), len};
    return send_request(r, unsub ? P_UNSUB : P_SUB, kind, ch, len, NULL, NULL, 2, argv, lens);
}

/* ---- connection lifecycle ------------------------------------------------------------------ */

static void conn_start(sio_redis *r);

static void schedule_reconnect(sio_redis *r)
{
    int64_t d = r->o.reconnect_min_ms;
    for (int i = 0; i < r->attempt && d < r->o.reconnect_max_ms; i++)
        d *= 2;
    if (d > r->o.reconnect_max_ms)
        d = r->o.reconnect_max_ms;
    if (r->attempt < 30)
        r->attempt++;
    /* full jitter over the upper half: [d/2, d], so peers that lost the same server spread out */
    r->rng ^= r->rng << 13, r->rng ^= r->rng >> 7, r->rng ^= r->rng << 17;
    int64_t half = d / 2;
    d = half + (int64_t)(r->rng % (uint64_t)(d - half + 1));
    struct timeval tv = ms_tv(d);
    evtimer_add(r->reconnect_ev, &tv);
}

/* Closes the transport, fails what awaits a reply and schedules the next attempt. The caller
 * has put the reason in last_error (the log line and the state callback show it). */
static void conn_drop(sio_redis *r)
{
    int was_up = r->state == ST_UP;
    if (r->bev) {
        bufferevent_free(r->bev);
        r->bev = NULL;
    }
    r->state = ST_DOWN;
    r->gen++;
    evtimer_del(r->connect_timer);
    evtimer_del(r->cmd_timer);
    evtimer_del(r->ping_timer);
    r->ping_outstanding = 0;
    if (r->reader)
        redisReaderFree(r->reader);
    r->reader = reader_new(r); /* NULL on OOM: conn_start tries again */
    /* one line per state change: when an up connection drops, or for the first failed attempt
     * of an outage; the retries that follow are silent until the connection is up again */
    if (was_up) {
        r->st.disconnects++;
        sio_log(SIO_LOG_WARN, LOG_MODULE, "%s: connection lost (%s); reconnecting", r->o.log_name,
                r->last_error);
        r->logged_down = 1;
    } else if (!r->logged_down) {
        sio_log(SIO_LOG_WARN, LOG_MODULE, "%s: cannot connect (%s); retrying with backoff",
                r->o.log_name, r->last_error);
        r->logged_down = 1;
    }
    schedule_reconnect(r);
    unsigned gen = r->gen;
    fail_all(r, SIO_ECLOSED);
    if (r->freeing || gen != r->gen)
        return;
    if (was_up)
        report_state(r, 0, r->last_error);
}

__attribute__((format(printf, 2, 3))) static void fail_conn(sio_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->last_error, sizeof(r->last_error), fmt, ap);
    va_end(ap);
    conn_drop(r);
}

static void become_up(sio_redis *r)
{
    r->state = ST_UP;
    r->attempt = 0;
    r->st.connects++;
    r->last_rx_ms = now_ms();
    evtimer_del(r->connect_timer);
    if (r->o.ping_interval_ms > 0) {
        struct timeval tv = ms_tv(r->o.ping_interval_ms);
        evtimer_add(r->ping_timer, &tv);
    }
    sio_log(SIO_LOG_INFO, LOG_MODULE, "%s: connected", r->o.log_name);
    r->logged_down = 0;
    r->last_error[0] = '\0';
    /* re-send every remembered subscription (on a first connect: those made while down) */
    sio_map_iter it;
    sio_map_iter_init(&it, &r->subs);
    for (sio_map_entry *e; (e = sio_map_iter_next(&it));) {
        if (send_sub(r, e->key[0] - '0', e->key + 1, e->klen - 1, 0) < 0) {
            fail_conn(r, "cannot re-subscribe (limits)");
            return;
        }
    }
    report_state(r, 1, "connected");
}

/* A reply to AUTH, SELECT or CLIENT SETNAME. A refusal (wrong password, bad db) drops the
 * connection: it is retried with backoff, and logged once with Redis's own text. */
static void on_handshake(sio_redis *r, const sio_redis_reply *reply)
{
    if (reply->type == SIO_REDIS_REPLY_ERROR) {
        int n = reply->len > 200 ? 200 : (int)reply->len;
        fail_conn(r, "handshake refused: %.*s", n, reply->str);
        return;
    }
    if (--r->handshake_left == 0)
        become_up(r);
}

static int send_internal(sio_redis *r, int argc, const char **argv)
{
    int rc = send_request(r, P_HANDSHAKE, 0, NULL, 0, NULL, NULL, argc, argv, NULL);
    r->handshake_left += rc == 0;
    return rc;
}

static void start_handshake(sio_redis *r)
{
    r->state = ST_HANDSHAKE;
    r->handshake_left = 0;
    int rc = 0;
    if (r->url.has_password) {
        const char *argv[3] = {"AUTH", r->url.user, r->url.password};
        if (r->url.user[0])
            rc = send_internal(r, 3, argv);
        else
            rc = send_internal(r, 2, (const char *[]){"AUTH", r->url.password});
    }
    if (rc == 0 && r->url.db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->url.db);
        rc = send_internal(r, 2, (const char *[]){"SELECT", db});
    }
    if (rc == 0 && r->o.client_name)
        rc = send_internal(r, 3, (const char *[]){"CLIENT", "SETNAME", r->o.client_name});
    if (rc < 0) {
        fail_conn(r, "cannot send the handshake");
        return;
    }
    if (r->handshake_left == 0)
        become_up(r);
}

/* A message push: ["message", ch, payload], ["pmessage", pattern, ch, payload] or
 * ["smessage", ch, payload]. Returns 1 when reply was one (delivered). */
static int deliver_message(sio_redis *r, const sio_redis_reply *rep)
{
    const sio_redis_reply *const *e = (const sio_redis_reply *const *)rep->element;
    int kind;
    const sio_redis_reply *pat = NULL, *ch, *pl;
    if (rep->elements == 3 && str_is(e[0], "message"))
        kind = SIO_REDIS_SUBSCRIBE, ch = e[1], pl = e[2];
    else if (rep->elements == 3 && str_is(e[0], "smessage"))
        kind = SIO_REDIS_SSUBSCRIBE, ch = e[1], pl = e[2];
    else if (rep->elements == 4 && str_is(e[0], "pmessage"))
        kind = SIO_REDIS_PSUBSCRIBE, pat = e[1], ch = e[2], pl = e[3];
    else
        return 0;
    if (ch->type != SIO_REDIS_REPLY_STRING || pl->type != SIO_REDIS_REPLY_STRING ||
        (pat && pat->type != SIO_REDIS_REPLY_STRING))
        return 1; /* malformed push: nothing to deliver */
    r->st.messages++;
    if (r->o.on_message && !r->freeing) {
        r->depth++;
        r->o.on_message(r, kind, pat ? pat->str : NULL, pat ? pat->len : 0, ch->str, ch->len,
                        pl->str, pl->len, r->o.user);
        r->depth--;
    }
    return 1;
}

int sio_redis_sub_is_valid(int kind, const char *channel, size_t len)
{
    return kind >= SIO_REDIS_SUBSCRIBE && kind <= SIO_REDIS_SSUBSCRIBE && (channel || !len);
}

void *sio_redis_sub_find(sio_map *subs, int kind, const char *channel, size_t len, int remove)
{
    char buf[256];
    char *k = sub_key(kind, channel, len, buf, sizeof(buf));
    if (!k)
        return NULL;
    void *v = remove ? sio_map_del(subs, k, len + 1) : sio_map_get(subs, k, len + 1);
    if (k != buf)
        free(k);
    return v;
}

/* A subscription confirmation or an unsolicited sunsubscribe. Returns 1 when handled. */
static int handle_sub_push(sio_redis *r, const sio_redis_reply *rep)
{
    int kind, unsub;
    if (parse_sub_push(rep->element[0], &kind, &unsub) < 0)
        return 0;
    /* a confirmation is never the reply of another command: consume malformed ones */
    if (rep->elements != 3 || rep->element[1]->type != SIO_REDIS_REPLY_STRING)
        return 1;
    const sio_redis_reply *ch = rep->element[1], *count = rep->element[2];
    pending *h = r->head;
    if (h && h->type == (unsub ? P_UNSUB : P_SUB) && h->kind == kind && h->clen == ch->len &&
        memcmp(h->channel, ch->str, ch->len) == 0) {
        free(pop_head(r));
        if (!unsub && sio_redis_sub_find(&r->subs, kind, ch->str, ch->len, 0) &&
            r->o.on_subscribed && !r->freeing) {
            r->depth++;
            r->o.on_subscribed(r, kind, ch->str, ch->len,
                               count->type == SIO_REDIS_REPLY_INTEGER ? count->integer : 0,
                               r->o.user);
            r->depth--;
        }
        return 1;
    }
    if (unsub && kind == SIO_REDIS_SSUBSCRIBE) {
        /* Redis 7 drops the sharded subscriptions of a slot that moved away from this node
         * with an unsolicited sunsubscribe: the cluster layer re-subscribes at the new owner. */
        if (sio_redis_sub_find(&r->subs, kind, ch->str, ch->len, 1))
            report_lost(r, kind, ch->str, ch->len, rep);
        return 1;
    }
    return 1; /* a stray confirmation: nothing awaits it */
}

static void handle_reply(sio_redis *r, const sio_redis_reply *rep)
{
    r->last_rx_ms = now_ms();
    if (r->subscriber && rep->type == SIO_REDIS_REPLY_ARRAY && rep->elements >= 1 &&
        rep->element[0]->type == SIO_REDIS_REPLY_STRING) {
        if (deliver_message(r, rep) || handle_sub_push(r, rep))
            return;
    }
    pending *p = pop_head(r);
    if (!p) {
        fail_conn(r, "reply with no request");
        return;
    }
    if (p->type == P_KEEPALIVE) {
        r->ping_outstanding = 0;
    } else if (p->type == P_SUB && rep->type == SIO_REDIS_REPLY_ERROR) {
        if (sio_redis_sub_find(&r->subs, p->kind, p->channel, p->clen, 1))
            report_lost(r, p->kind, p->channel, p->clen, rep);
    } else if (p->type == P_HANDSHAKE) {
        on_handshake(r, rep);
    } else if (p->type == P_USER) {
        run_cb(r, p, 0, rep);
    }
    free(p);
}

/* ---- libevent callbacks -------------------------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
    sio_redis *r = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned gen = r->gen;
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        if (redisReaderFeed(r->reader, v.iov_base, v.iov_len) != REDIS_OK) {
            fail_conn(r, "out of memory reading a reply");
            return;
        }
        evbuffer_drain(in, v.iov_len);
    }
    r->depth++;
    for (;;) {
        void *obj = NULL;
        if (redisReaderGetReply(r->reader, &obj) != REDIS_OK) {
            r->depth--;
            if (!r->freeing && r->array_refused)
                fail_conn(r, "protocol error: reply array larger than max_array");
            else if (!r->freeing)
                fail_conn(r, "protocol error: %s", r->reader->errstr);
            r->array_refused = 0;
            return;
        }
        if (!obj)
            break;
        handle_reply(r, obj);
        reply_free(obj);
        if (r->freeing || gen != r->gen)
            break;
    }
    r->depth--;
    if (r->freeing || gen != r->gen)
        return;
    /* an incomplete reply larger than the cap: a broken or hostile server */
    if (r->reader->len - r->reader->pos > r->o.max_in_bytes)
        fail_conn(r, "reply larger than max_in_bytes");
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    sio_redis *r = arg;
    if (what & BEV_EVENT_CONNECTED) {
        evutil_socket_t fd = bufferevent_getfd(bev);
        int one = 1;
        if (!r->url.is_unix)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        start_handshake(r);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        char why[200];
        unsigned long ssl_err = r->url.tls ? bufferevent_get_openssl_error(bev) : 0;
        int err = EVUTIL_SOCKET_ERROR();
        int dns_err = bufferevent_socket_get_dns_error(bev);
        if (ssl_err)
            ERR_error_string_n(ssl_err, why, sizeof(why));
        else if (dns_err)
            snprintf(why, sizeof(why), "resolve: %s", evutil_gai_strerror(dns_err));
        else if (what & BEV_EVENT_EOF)
            snprintf(why, sizeof(why), "closed by the server");
        else
            snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(err));
        fail_conn(r, "%s", why);
    }
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    sio_redis *r = arg;
    (void)fd, (void)what;
    if (r->state == ST_UP)
        return;
    fail_conn(r, "connect timeout");
}

/* Fails expired commands. Deadlines grow along the FIFO (one timeout for all), so the walk
 * stops at the first live entry; expired ones stay queued to absorb their late replies. */
static void on_cmd_timer(evutil_socket_t fd, short what, void *arg)
{
    sio_redis *r = arg;
    (void)fd, (void)what;
    int64_t now = now_ms();
    unsigned gen = r->gen;
    for (pending *p = r->head; p; p = p->next) {
        if (p->type != P_USER || !p->cb)
            continue;
        if (p->deadline_ms > now) {
            struct timeval tv = ms_tv(p->deadline_ms - now);
            evtimer_add(r->cmd_timer, &tv);
            return;
        }
        r->st.timeouts++;
        if (run_cb(r, p, SIO_ETIMEDOUT, NULL) || gen != r->gen)
            return;
    }
}

static void on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
    sio_redis *r = arg;
    (void)fd, (void)what;
    int64_t now = now_ms();
    if (r->state != ST_UP)
        return;
    if (r->ping_outstanding && now - r->ping_sent_ms >= r->o.ping_interval_ms) {
        fail_conn(r, "keepalive PING unanswered");
        return;
    }
    if (!r->ping_outstanding && now - r->last_rx_ms >= r->o.ping_interval_ms) {
        /* On a subscribed RESP2 connection the answer is ["pong", ""], not +PONG; either way it
         * is the next reply in order, so it is matched like any other. */
        const char *argv[1] = {"PING"};
        if (send_request(r, P_KEEPALIVE, 0, NULL, 0, NULL, NULL, 1, argv, NULL) == 0) {
            r->ping_outstanding = 1;
            r->ping_sent_ms = now;
        }
    }
    struct timeval tv = ms_tv(r->o.ping_interval_ms);
    evtimer_add(r->ping_timer, &tv);
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    conn_start(arg);
}

static int start_connect(sio_redis *r)
{
    if (r->url.is_unix) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        size_t n = strlen(r->url.host); /* < sizeof(sun_path): checked by the URL parser */
        if (n >= sizeof(sun.sun_path))
            return -1;
        memcpy(sun.sun_path, r->url.host, n);
        return bufferevent_socket_connect(r->bev, (struct sockaddr *)&sun, sizeof(sun));
    }
    return sio_net_connect(r->bev, &r->dns, &r->own_dns, r->url.host, r->url.port);
}

static void conn_start(sio_redis *r)
{
    if (r->freeing || r->state != ST_DOWN)
        return;
    if (!r->reader)
        r->reader = reader_new(r);
    if (!r->reader ||
        !(r->bev = sio_net_bev_new(r->base, r->url.tls ? r->ssl_ctx : NULL, r->url.host))) {
        fail_conn(r, "out of memory");
        return;
    }
    r->state = ST_CONNECTING;
    bufferevent_setcb(r->bev, on_read, NULL, on_event, r);
    bufferevent_enable(r->bev, EV_READ | EV_WRITE);
    struct timeval tv = ms_tv(r->o.connect_timeout_ms);
    evtimer_add(r->connect_timer, &tv);
    if (start_connect(r) < 0) {
        /* the event callback is deferred, so a synchronous failure is ours to report */
        if (r->bev && r->state == ST_CONNECTING) {
            fail_conn(r, "connect: %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        }
    }
}

/* ---- public API ---------------------------------------------------------------------------- */

void sio_redis_options_init(sio_redis_options *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 5000;
    o->command_timeout_ms = 5000;
    o->ping_interval_ms = 15000;
    o->reconnect_min_ms = 100;
    o->reconnect_max_ms = 5000;
    o->max_out_bytes = (size_t)64 << 20;
    o->max_in_bytes = (size_t)512 << 20;
    o->max_pending = (size_t)1 << 20;
    o->max_array = (size_t)1 << 24;
}

static void destroy(sio_redis *r)
{
    if (r->bev)
        bufferevent_free(r->bev);
    pending *p = r->head;
    while (p) {
        pending *next = p->next;
        free(p);
        p = next;
    }
    if (r->reader)
        redisReaderFree(r->reader);
    struct event *evs[5] = {r->reconnect_ev, r->connect_timer, r->cmd_timer, r->ping_timer,
                            r->reap_ev};
    for (int i = 0; i < 5; i++)
        if (evs[i])
            event_free(evs[i]);
    if (r->own_dns)
        evdns_base_free(r->dns, 0);
    if (r->ssl_ctx)
        SSL_CTX_free(r->ssl_ctx);
    sio_map_deinit(&r->subs);
    free(r->strings);
    free(r);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    sio_redis *r = arg;
    (void)fd, (void)what;
    fail_all(r, SIO_ECLOSED);
    destroy(r);
}

sio_redis *sio_redis_new(struct event_base *base, const sio_redis_options *o, int *err)
{
    int e = SIO_ENOMEM;
    const char *reason = NULL;
    sio_redis *r = calloc(1, sizeof(*r));
    if (!r)
        goto fail_early;
    r->base = base;
    r->o = *o;
    sio_map_init(&r->subs);
    if (!base || o->max_out_bytes == 0 || o->max_pending == 0 || o->reconnect_min_ms <= 0 ||
        o->reconnect_max_ms < o->reconnect_min_ms || o->connect_timeout_ms <= 0 ||
        sio_redis_url_parse(o->url, &r->url, &reason) < 0) {
        e = SIO_EINVAL;
        if (reason)
            sio_log(SIO_LOG_ERROR, LOG_MODULE, "redis: bad URL: %s", reason);
        goto fail;
    }
    if (r->url.is_unix)
        snprintf(r->address, sizeof(r->address), "%s", r->url.host);
    else
        snprintf(r->address, sizeof(r->address), strchr(r->url.host, ':') ? "[%s]:%u" : "%s:%u",
                 r->url.host, r->url.port);
    char log_name[256 + sizeof(r->address)];
    snprintf(log_name, sizeof(log_name), "%s %s", o->log_name ? o->log_name : "redis", r->address);
    r->o.log_name = log_name;
    const char **fields[] = {&r->o.url, &r->o.tls_ca_file, &r->o.client_name, &r->o.log_name};
    if (!(r->strings = sio_strings_copy(fields, sizeof(fields) / sizeof(fields[0]))))
        goto fail;
    if (o->dns)
        r->dns = o->dns;
    if (r->url.tls && !(r->ssl_ctx = sio_net_tls_ctx_new(r->o.tls_ca_file))) {
        sio_log(SIO_LOG_ERROR, LOG_MODULE, "%s: cannot set up TLS (CA file?)", r->o.log_name);
        e = SIO_EINVAL;
        goto fail;
    }
    r->reader = reader_new(r);
    r->reconnect_ev = evtimer_new(base, on_reconnect, r);
    r->connect_timer = evtimer_new(base, on_connect_timeout, r);
    r->cmd_timer = evtimer_new(base, on_cmd_timer, r);
    r->ping_timer = evtimer_new(base, on_ping_timer, r);
    r->reap_ev = event_new(base, -1, 0, on_reap, r);
    if (!r->reader || !r->reconnect_ev || !r->connect_timer || !r->cmd_timer || !r->ping_timer ||
        !r->reap_ev)
        goto fail;
    r->rng = (uint64_t)(uintptr_t)r ^ ((uint64_t)now_ms() << 20) ^ 0x9e3779b97f4a7c15ull;
    /* the first attempt runs from the loop, so no callback can run inside sio_redis_new */
    struct timeval zero = {0, 0};
    evtimer_add(r->reconnect_ev, &zero);
    return r;
fail:
    destroy(r);
fail_early:
    if (err)
        *err = e;
    return NULL;
}

void sio_redis_free(sio_redis *r)
{
    if (!r || r->freeing)
        return;
    r->freeing = 1;
    evtimer_del(r->reconnect_ev);
    evtimer_del(r->connect_timer);
    evtimer_del(r->cmd_timer);
    evtimer_del(r->ping_timer);
    if (r->bev) {
        bufferevent_free(r->bev);
        r->bev = NULL;
    }
    r->state = ST_DOWN;
    r->gen++;
    if (r->depth == 0 && !has_user_pending(r)) {
        destroy(r);
        return;
    }
    /* a callback of ours is on the stack, or callbacks are owed: finish from the loop */
    event_active(r->reap_ev, 0, 0);
}

static int is_ping(const char *s, size_t n)
{
    return n == 4 && strncasecmp(s, "PING", 4) == 0;
}

int sio_redis_command(sio_redis *r, sio_redis_reply_cb cb, void *arg, int argc, const char **argv,
                      const size_t *lens)
{
    if (!r || argc < 1 || !argv)
        return SIO_EINVAL;
    if (r->subscriber && !is_ping(argv[0], lens ? lens[0] : strlen(argv[0])))
        return SIO_EINVAL;
    if (r->freeing || r->state != ST_UP)
        return SIO_ECLOSED;
    int rc = send_request(r, P_USER, 0, NULL, 0, cb, arg, argc, argv, lens);
    if (rc == 0)
        r->st.commands++;
    return rc;
}

int sio_redis_subscribe(sio_redis *r, int kind, const char *channel, size_t len)
{
    if (!r || !sio_redis_sub_is_valid(kind, channel, len))
        return SIO_EINVAL;
    if (r->freeing)
        return SIO_ECLOSED;
    r->subscriber = 1;
    char buf[256];
    char *k = sub_key(kind, channel, len, buf, sizeof(buf));
    if (!k)
        return SIO_ENOMEM;
    int rc = 0;
    if (!sio_map_get(&r->subs, k, len + 1)) {
        if (r->state == ST_UP)
            rc = send_sub(r, kind, channel, len, 0);
        if (rc == 0 && !sio_map_put(&r->subs, k, len + 1, &sub_marker))
            rc = SIO_ENOMEM; /* the request went out: its confirmation is simply ignored */
        if (rc == 0)
            r->st.commands++;
    }
    if (k != buf)
        free(k);
    return rc;
}

int sio_redis_unsubscribe(sio_redis *r, int kind, const char *channel, size_t len)
{
    if (!r || !sio_redis_sub_is_valid(kind, channel, len))
        return SIO_EINVAL;
    if (!sio_redis_sub_find(&r->subs, kind, channel, len, 1))
        return SIO_ENOTFOUND;
    /* best effort: when the request cannot be sent the connection still forgets it, and a
     * message still arriving for it is delivered (the caller filters what it no longer wants) */
    if (r->state == ST_UP && !r->freeing && send_sub(r, kind, channel, len, 1) == 0)
        r->st.commands++;
    return 0;
}

size_t sio_redis_subscription_count(const sio_redis *r)
{
    return r->subs.count;
}

int sio_redis_is_up(const sio_redis *r)
{
    return r && !r->freeing && r->state == ST_UP;
}

const char *sio_redis_last_error(const sio_redis *r)
{
    return r->last_error;
}

const char *sio_redis_address(const sio_redis *r)
{
    return r->address;
}

void sio_redis_get_stats(const sio_redis *r, sio_redis_stats *out)
{
    *out = r->st;
}
