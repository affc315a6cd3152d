/*
 * sio_redis_cluster: routes commands and subscriptions by key slot over sio_redis connections,
 * a command and (lazily) a subscriber connection per master. Owns the nodes, the slot map, the
 * wanted subscriptions and the requests in flight. Follows MOVED/ASK (cluster specification,
 * "Redirection and resharding"), refreshes the map with CLUSTER SLOTS, and moves subscriptions
 * when their slot moves. A plain server is a cluster of one node owning every slot.
 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <sio/error.h>

#include "common/list.h"
#include "common/log.h"
#include "common/map.h"

#define LOG_MODULE "adapter"
#define MAX_REDIRECTS 5
#define REFRESH_MAX_MS 2000

typedef struct node node;

struct node {
    node *next;
    sio_redis_cluster *c;
    char addr[SIO_REDIS_HOST_MAX + 8]; /* "host:port", the key of the node */
    char host[SIO_REDIS_HOST_MAX + 1];
    unsigned port;
    sio_redis *cmd;
    sio_redis *sub; /* created with the first subscription held here */
    int is_master;  /* owns slots in the last map */
    int seen;       /* refresh mark */
};

/* A wanted subscription and where it is held. */
typedef struct csub {
    node *held; /* the node whose subscriber connection has it, or NULL */
    int confirmed;
    int kind;
    unsigned slot;
    size_t len;
    char channel[];
} csub;

enum req_type { REQ_CMD, REQ_SUM, REQ_REFRESH };

typedef struct sum_op {
    sio_redis_cluster_sum_cb cb;
    void *arg;
    int left;
    int status;
    long long sum;
} sum_op;

/* A request in flight. The cluster keeps them in a list so that sio_redis_cluster_free can
 * detach them (c = NULL): their callbacks still arrive, later, from the connections' reapers. */
typedef struct creq {
    struct creq *prev, *next;
    sio_redis_cluster *c;
    int type;
    sio_redis_cluster_reply_cb cb;
    void *arg;
    sum_op *op;                         /* REQ_SUM */
    char asked[SIO_REDIS_HOST_MAX + 1]; /* REQ_REFRESH: host of the node asked */
    int redirects;
    int argc;
    const char **argv; /* REQ_CMD: copies, in the same allocation */
    size_t *lens;
} creq;

struct sio_redis_cluster {
    struct event_base *base;
    sio_redis_cluster_options o;
    sio_redis_options tmpl; /* node template, strings owned */
    char *ca_file, *client_name, *log_name;
    sio_redis_url seed; /* scheme and credentials for nodes learned from the map */
    char **urls;
    size_t nurls;
    node *nodes;
    node *slots[SIO_REDIS_SLOTS];
    creq *reqs;
    sio_map subs; /* key: kind byte + channel; value: csub */
    struct event *refresh_ev;
    int refresh_in_flight;
    int refresh_delay_ms;
    int up;
};

static void schedule_refresh(sio_redis_cluster *c, int now);
static void reconcile(sio_redis_cluster *c);

/* ---- nodes --------------------------------------------------------------------------------- */

static void on_node_state(sio_redis *r, int up, const char *reason, void *user);
static void on_node_message(sio_redis *r, int kind, const char *pattern, size_t plen,
                            const char *channel, size_t clen, const char *payload, size_t len,
                            void *user);
static void on_node_subscribed(sio_redis *r, int kind, const char *channel, size_t len,
                               long long count, void *user);
static void on_node_sub_lost(sio_redis *r, int kind, const char *channel, size_t len,
                             const sio_redis_reply *reply, void *user);

/* Percent-encodes s into out (RFC 3986 unreserved bytes kept). */
static void pct(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

static sio_redis *node_conn(sio_redis_cluster *c, node *n, const char *url, int sub)
{
    sio_redis_options o = c->tmpl;
    char buf[2 * (SIO_REDIS_CRED_MAX * 3 + 1) + SIO_REDIS_HOST_MAX + 32];
    if (!url) {
        char user[SIO_REDIS_CRED_MAX * 3 + 1], pass[SIO_REDIS_CRED_MAX * 3 + 1];
        pct(user, sizeof(user), c->seed.user);
        pct(pass, sizeof(pass), c->seed.password);
        const char *v6 = strchr(n->host, ':') ? "[" : "";
        snprintf(buf, sizeof(buf), "%s://%s%s%s%s%s%s%s:%u", c->seed.tls ? "rediss" : "redis", user,
                 c->seed.has_password ? ":" : "", pass,
                 (user[0] || c->seed.has_password) ? "@" : "", v6, n->host, *v6 ? "]" : "",
                 n->port);
        url = buf;
    }
    o.url = url;
    o.user = n;
    o.on_state = on_node_state;
    o.on_message = sub ? on_node_message : NULL;
    o.on_subscribed = sub ? on_node_subscribed : NULL;
    o.on_sub_lost = sub ? on_node_sub_lost : NULL;
    return sio_redis_new(c->base, &o, NULL);
}

static node *find_node(sio_redis_cluster *c, const char *host, unsigned port)
{
    for (node *n = c->nodes; n; n = n->next)
        if (n->port == port && strcmp(n->host, host) == 0)
            return n;
    return NULL;
}

/* The node for host:port, created (and connecting) when new. url NULL: built from the seed. */
static node *node_get(sio_redis_cluster *c, const char *host, unsigned port, const char *url)
{
    node *n = find_node(c, host, port);
    if (n)
        return n;
    if (strlen(host) > SIO_REDIS_HOST_MAX)
        return NULL;
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->c = c;
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    snprintf(n->addr, sizeof(n->addr), "%s:%u", host, port);
    n->cmd = node_conn(c, n, url, 0);
    if (!n->cmd) {
        free(n);
        return NULL;
    }
    n->next = c->nodes;
    c->nodes = n;
    return n;
}

static void node_free(node *n)
{
    sio_redis_free(n->cmd);
    sio_redis_free(n->sub);
    free(n);
}

/* Splits "host:port" (or "[v6]:port", or a v6 address whose last colon starts the port). */
static int split_addr(const char *s, size_t len, char *host, size_t cap, unsigned *port)
{
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ':')
            colon = s + i;
    if (!colon || colon == s)
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (*h == '[' && hl >= 2 && h[hl - 1] == ']')
        h++, hl -= 2;
    if (hl >= cap)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    unsigned long p = strtoul(colon + 1, NULL, 10);
    if (p == 0 || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}

/* Parses "MOVED 3999 127.0.0.1:6381" / "ASK ...": returns the node (created if new) and slot. */
static node *parse_redirect(sio_redis_cluster *c, const sio_redis_reply *rep, unsigned *slot)
{
    const char *sp1 = memchr(rep->str, ' ', rep->len);
    if (!sp1)
        return NULL;
    const char *rest = sp1 + 1;
    const char *sp2 = memchr(rest, ' ', rep->len - (size_t)(rest - rep->str));
    if (!sp2)
        return NULL;
    unsigned long s = strtoul(rest, NULL, 10);
    if (s >= SIO_REDIS_SLOTS)
        return NULL;
    char host[SIO_REDIS_HOST_MAX + 1];
    unsigned port;
    if (split_addr(sp2 + 1, rep->len - (size_t)(sp2 + 1 - rep->str), host, sizeof(host), &port) < 0)
        return NULL;
    *slot = (unsigned)s;
    return node_get(c, host, port, NULL);
}

/* ---- requests ------------------------------------------------------------------------------ */

static creq *req_new(sio_redis_cluster *c, int type, int argc, const char **argv,
                     const size_t *lens)
{
    size_t total = sizeof(creq);
    if (type == REQ_CMD) {
        total += (size_t)argc * (sizeof(char *) + sizeof(size_t));
        for (int i = 0; i < argc; i++)
            total += lens ? lens[i] : strlen(argv[i]);
    }
    creq *q = calloc(1, total);
    if (!q)
        return NULL;
    q->c = c;
    q->type = type;
    if (type == REQ_CMD) {
        q->argc = argc;
        q->argv = (const char **)(q + 1);
        q->lens = (size_t *)(q->argv + argc);
        char *p = (char *)(q->lens + argc);
        for (int i = 0; i < argc; i++) {
            q->lens[i] = lens ? lens[i] : strlen(argv[i]);
            memcpy(p, argv[i], q->lens[i]);
            q->argv[i] = p;
            p += q->lens[i];
        }
    }
    SIO_LIST_PUSH(c->reqs, q);
    return q;
}

/* Unlinks q (if still attached) and frees it. */
static void req_done(creq *q)
{
    if (q->c)
        SIO_LIST_UNLINK(q->c->reqs, q);
    free(q);
}

static void on_cmd_reply(sio_redis *r, int status, const sio_redis_reply *reply, void *arg);

/* Sends q to n (after ASKING when asking). Returns 0 or a negative code. */
static int req_send(creq *q, node *n, int asking)
{
    if (!n || !sio_redis_is_up(n->cmd))
        return SIO_ECLOSED;
    if (asking) {
        const char *argv[1] = {"ASKING"};
        int rc = sio_redis_command(n->cmd, NULL, NULL, 1, argv, NULL);
        if (rc < 0)
            return rc;
    }
    return sio_redis_command(n->cmd, on_cmd_reply, q, q->argc, q->argv, q->lens);
}

static void on_cmd_reply(sio_redis *r, int status, const sio_redis_reply *reply, void *arg)
{
    creq *q = arg;
    sio_redis_cluster *c = q->c;
    (void)r;
    if (!c) {
        status = SIO_ECLOSED, reply = NULL; /* the cluster is gone */
    } else if (status == 0 && q->redirects < MAX_REDIRECTS &&
               (sio_redis_reply_is_error(reply, "MOVED ") ||
                sio_redis_reply_is_error(reply, "ASK "))) {
        int ask = reply->str[0] == 'A';
        unsigned slot;
        node *n = parse_redirect(c, reply, &slot);
        if (n) {
            q->redirects++;
            if (!ask) {
                /* MOVED: the slot has a new owner for good; learn the rest of the map too */
                c->slots[slot] = n;
                schedule_refresh(c, 1);
            }
            int rc = req_send(q, n, ask);
            if (rc == 0)
                return;
            status = rc, reply = NULL;
        }
    }
    sio_redis_cluster_reply_cb cb = q->cb;
    void *user = q->arg;
    req_done(q);
    if (cb)
        cb(c, status, reply, user);
}

/* ---- the slot map -------------------------------------------------------------------------- */

static int compute_up(const sio_redis_cluster *c)
{
    if (!c->o.cluster)
        return c->nodes && sio_redis_is_up(c->nodes->cmd);
    for (unsigned s = 0; s < SIO_REDIS_SLOTS; s++)
        if (!c->slots[s] || !sio_redis_is_up(c->slots[s]->cmd))
            return 0;
    return 1;
}

/* Recomputes health; keeps refreshing while unhealthy; reports a change (last: may free c). */
static void update_state(sio_redis_cluster *c)
{
    int up = compute_up(c);
    if (!up && c->o.cluster)
        schedule_refresh(c, 0);
    if (up == c->up)
        return;
    c->up = up;
    sio_log(up ? SIO_LOG_INFO : SIO_LOG_WARN, LOG_MODULE, "%s: %s", c->log_name,
            up ? "every slot is served" : "some slots have no live master");
    if (c->o.on_state)
        c->o.on_state(c, up, c->o.user);
}

/* Applies a CLUSTER SLOTS reply. Returns 0, or -1 when it is malformed (nothing changed). */
static int apply_slots(sio_redis_cluster *c, const sio_redis_reply *rep, const char *asked)
{
    if (rep->type != SIO_REDIS_REPLY_ARRAY || rep->elements == 0)
        return -1;
    for (size_t i = 0; i < rep->elements; i++) {
        const sio_redis_reply *e = rep->element[i];
        if (e->type != SIO_REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != SIO_REDIS_REPLY_INTEGER ||
            e->element[1]->type != SIO_REDIS_REPLY_INTEGER ||
            e->element[2]->type != SIO_REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
            e->element[2]->element[0]->type != SIO_REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != SIO_REDIS_REPLY_INTEGER)
            return -1;
        long long a = e->element[0]->integer, b = e->element[1]->integer;
        if (a < 0 || b < a || b >= SIO_REDIS_SLOTS)
            return -1;
    }
    for (node *n = c->nodes; n; n = n->next)
        n->seen = 0, n->is_master = 0;
    memset(c->slots, 0, sizeof(c->slots));
    for (size_t i = 0; i < rep->elements; i++) {
        const sio_redis_reply *e = rep->element[i];
        const sio_redis_reply *m = e->element[2];
        /* an empty host means "the address you reached me at" (cluster-preferred-endpoint) */
        const char *host = m->element[0]->len ? m->element[0]->str : asked;
        long long port = m->element[1]->integer;
        if (port <= 0 || port > 65535 || strcmp(host, "?") == 0)
            continue;
        node *n = node_get(c, host, (unsigned)port, NULL);
        if (!n)
            continue; /* out of memory: those slots stay unserved, the next refresh retries */
        n->seen = 1;
        n->is_master = 1;
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            c->slots[s] = n;
    }
    /* forget nodes that own nothing (gone, or demoted to replica), unless it is the last way
     * into the cluster */
    for (node **pp = &c->nodes; *pp;) {
        node *n = *pp;
        if (!n->seen && c->nodes->next) {
            *pp = n->next;
            sio_map_iter it;
            sio_map_iter_init(&it, &c->subs);
            for (sio_map_entry *me; (me = sio_map_iter_next(&it));) {
                csub *s = me->value;
                if (s->held == n)
                    s->held = NULL, s->confirmed = 0;
            }
            node_free(n);
        } else {
            pp = &n->next;
        }
    }
    return 0;
}

static void on_slots_reply(sio_redis *r, int status, const sio_redis_reply *reply, void *arg)
{
    creq *q = arg;
    sio_redis_cluster *c = q->c;
    (void)r;
    if (!c) {
        req_done(q);
        return;
    }
    c->refresh_in_flight = 0;
    int ok = status == 0 && apply_slots(c, reply, q->asked) == 0;
    req_done(q);
    if (!ok) {
        sio_log(SIO_LOG_DEBUG, LOG_MODULE, "%s: CLUSTER SLOTS failed", c->log_name);
        c->refresh_delay_ms =
            c->refresh_delay_ms * 2 > REFRESH_MAX_MS ? REFRESH_MAX_MS : c->refresh_delay_ms * 2;
        schedule_refresh(c, 0);
        return;
    }
    c->refresh_delay_ms = c->o.refresh_min_ms;
    reconcile(c);
    update_state(c);
}

static void refresh(sio_redis_cluster *c)
{
    if (!c->o.cluster || c->refresh_in_flight)
        return;
    /* ask any live node: masters first (they know the map best), then seeds */
    node *pick = NULL;
    for (node *n = c->nodes; n; n = n->next)
        if (sio_redis_is_up(n->cmd) && (!pick || (n->is_master && !pick->is_master)))
            pick = n;
    if (!pick) {
        schedule_refresh(c, 0);
        return;
    }
    creq *q = req_new(c, REQ_REFRESH, 0, NULL, NULL);
    if (!q)
        return;
    snprintf(q->asked, sizeof(q->asked), "%s", pick->host);
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    if (sio_redis_command(pick->cmd, on_slots_reply, q, 2, argv, NULL) < 0) {
        req_done(q);
        schedule_refresh(c, 0);
        return;
    }
    c->refresh_in_flight = 1;
}

static void on_refresh_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    refresh(arg);
}

/* now: on the next loop turn (a MOVED or a lost subscription); otherwise after the backoff. */
static void schedule_refresh(sio_redis_cluster *c, int now)
{
    if (!c->o.cluster)
        return;
    if (evtimer_pending(c->refresh_ev, NULL) && !now)
        return;
    struct timeval tv = {0, 0};
    if (!now) {
        tv.tv_sec = c->refresh_delay_ms / 1000;
        tv.tv_usec = (c->refresh_delay_ms % 1000) * 1000;
    }
    evtimer_add(c->refresh_ev, &tv);
}

/* ---- subscriptions ------------------------------------------------------------------------- */

static node *owner(const sio_redis_cluster *c, unsigned slot)
{
    return c->o.cluster ? c->slots[slot] : c->nodes;
}

/* Moves each wanted subscription to the subscriber connection of its slot's owner. */
static void reconcile(sio_redis_cluster *c)
{
    sio_map_iter it;
    sio_map_iter_init(&it, &c->subs);
    for (sio_map_entry *me; (me = sio_map_iter_next(&it));) {
        csub *s = me->value;
        node *want = owner(c, s->slot);
        if (!want || s->held == want)
            continue;
        if (s->held && s->held->sub)
            sio_redis_unsubscribe(s->held->sub, s->kind, s->channel, s->len);
        s->held = NULL;
        s->confirmed = 0;
        if (!want->sub && !(want->sub = node_conn(c, want, c->o.cluster ? NULL : c->urls[0], 1)))
            continue; /* out of memory: the next refresh tries again */
        if (sio_redis_subscribe(want->sub, s->kind, s->channel, s->len) == 0)
            s->held = want;
    }
}

/* Looks up, or removes (remove = 1), the subscription keyed by its kind and channel. */
static csub *sub_lookup(sio_redis_cluster *c, int kind, const char *ch, size_t len, int remove)
{
    return sio_redis_sub_find(&c->subs, kind, ch, len, remove);
}

int sio_redis_cluster_subscribe(sio_redis_cluster *c, int kind, const char *channel, size_t len)
{
    if (!c || !sio_redis_sub_is_valid(kind, channel, len))
        return SIO_EINVAL;
    if (sub_lookup(c, kind, channel, len, 0))
        return 0;
    csub *s = calloc(1, sizeof(*s) + len + 1);
    if (!s)
        return SIO_ENOMEM;
    s->kind = kind;
    s->len = len;
    s->slot = sio_redis_key_slot(channel, len);
    s->channel[0] = (char)('0' + kind);
    memcpy(s->channel + 1, channel, len);
    if (!sio_map_put(&c->subs, s->channel, len + 1, s)) {
        free(s);
        return SIO_ENOMEM;
    }
    memmove(s->channel, s->channel + 1, len); /* the map keeps its own copy of the key */
    s->channel[len] = '\0';
    reconcile(c);
    return 0;
}

int sio_redis_cluster_ssubscribe(sio_redis_cluster *c, const char *channel, size_t len)
{
    return sio_redis_cluster_subscribe(c, SIO_REDIS_SSUBSCRIBE, channel, len);
}

int sio_redis_cluster_unsubscribe(sio_redis_cluster *c, int kind, const char *channel, size_t len)
{
    csub *s = c ? sub_lookup(c, kind, channel, len, 0) : NULL;
    if (!s)
        return SIO_ENOTFOUND;
    if (s->held && s->held->sub)
        sio_redis_unsubscribe(s->held->sub, kind, channel, len);
    if (sub_lookup(c, kind, channel, len, 1) != s)
        return SIO_ENOMEM; /* the key copy failed: it stays subscribed here, and in the map */
    free(s);
    return 0;
}

/* ---- node callbacks ------------------------------------------------------------------------ */

static void on_node_state(sio_redis *r, int up, const char *reason, void *user)
{
    node *n = user;
    sio_redis_cluster *c = n->c;
    (void)reason;
    if (r == n->sub) {
        if (!up) {
            sio_map_iter it;
            sio_map_iter_init(&it, &c->subs);
            for (sio_map_entry *me; (me = sio_map_iter_next(&it));) {
                csub *s = me->value;
                if (s->held == n)
                    s->confirmed = 0; /* the connection re-sends it when it is back */
            }
        }
        return;
    }
    if (c->o.cluster && (up || n->is_master))
        schedule_refresh(c, up); /* a node is back (learn the map), or a master is gone */
    update_state(c);
}

static void on_node_message(sio_redis *r, int kind, const char *pattern, size_t plen,
                            const char *channel, size_t clen, const char *payload, size_t len,
                            void *user)
{
    node *n = user;
    (void)r;
    if (n->c->o.on_message)
        n->c->o.on_message(n->c, kind, pattern, plen, channel, clen, payload, len, n->c->o.user);
}

static void on_node_subscribed(sio_redis *r, int kind, const char *channel, size_t len,
                               long long count, void *user)
{
    node *n = user;
    (void)r, (void)count;
    csub *s = sub_lookup(n->c, kind, channel, len, 0);
    if (s && s->held == n)
        s->confirmed = 1;
}

static void on_node_sub_lost(sio_redis *r, int kind, const char *channel, size_t len,
                             const sio_redis_reply *reply, void *user)
{
    node *n = user;
    sio_redis_cluster *c = n->c;
    (void)r;
    csub *s = sub_lookup(c, kind, channel, len, 0);
    if (s && s->held == n)
        s->held = NULL, s->confirmed = 0;
    if (sio_redis_reply_is_error(reply, "MOVED ")) {
        unsigned slot;
        node *to = parse_redirect(c, reply, &slot);
        if (to)
            c->slots[slot] = to;
        /* a subscriber connection may come up before the command connection of the new
         * owner: subscribing there needs no command connection */
        reconcile(c);
    }
    /* an sunsubscribe push (slot moved) or another refusal: learn the new map, then move */
    schedule_refresh(c, 1);
    if (!c->o.cluster)
        sio_log(SIO_LOG_WARN, LOG_MODULE, "%s: subscription refused by the server", c->log_name);
}

/* ---- fan-out sum --------------------------------------------------------------------------- */

static long long sum_integers(const sio_redis_reply *rep)
{
    if (rep->type == SIO_REDIS_REPLY_INTEGER)
        return rep->integer;
    long long s = 0;
    if (rep->type == SIO_REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < rep->elements; i++)
            if (rep->element[i]->type == SIO_REDIS_REPLY_INTEGER)
                s += rep->element[i]->integer;
    return s;
}

static void on_sum_part(sio_redis *r, int status, const sio_redis_reply *reply, void *arg)
{
    creq *q = arg;
    sio_redis_cluster *c = q->c;
    sum_op *op = q->op;
    (void)r;
    if (status == 0 && reply->type == SIO_REDIS_REPLY_ERROR)
        status = SIO_EPROTO;
    if (!c && status == 0)
        status = SIO_ECLOSED;
    if (status < 0 && op->status == 0)
        op->status = status;
    if (status == 0)
        op->sum += sum_integers(reply);
    req_done(q);
    if (--op->left > 0)
        return;
    sio_redis_cluster_sum_cb cb = op->cb;
    void *user = op->arg;
    long long sum = op->sum;
    status = op->status;
    free(op);
    cb(c, status, status == 0 ? sum : 0, user);
}

int sio_redis_cluster_sum(sio_redis_cluster *c, sio_redis_cluster_sum_cb cb, void *arg, int argc,
                          const char **argv, const size_t *lens)
{
    if (!c || !cb || argc < 1)
        return SIO_EINVAL;
    int masters = 0;
    for (node *n = c->nodes; n; n = n->next) {
        if (c->o.cluster && !n->is_master)
            continue;
        if (!sio_redis_is_up(n->cmd))
            return SIO_ECLOSED;
        masters++;
    }
    if (masters == 0)
        return SIO_ECLOSED;
    sum_op *op = malloc(sizeof(*op));
    if (!op)
        return SIO_ENOMEM;
    *op = (sum_op){.cb = cb, .arg = arg};
    int sent = 0;
    for (node *n = c->nodes; n; n = n->next) {
        if (c->o.cluster && !n->is_master)
            continue;
        creq *q = req_new(c, REQ_SUM, 0, NULL, NULL);
        int rc = q ? sio_redis_command(n->cmd, on_sum_part, q, argc, argv, lens) : SIO_ENOMEM;
        if (rc < 0) {
            if (q)
                req_done(q);
            op->status = rc;
            break;
        }
        q->op = op;
        op->left++;
        sent++;
    }
    if (sent == 0) {
        int rc = op->status;
        free(op);
        return rc;
    }
    return 0;
}

/* ---- commands and lifecycle ---------------------------------------------------------------- */

int sio_redis_cluster_command(sio_redis_cluster *c, const char *key, size_t klen,
                              sio_redis_cluster_reply_cb cb, void *arg, int argc, const char **argv,
                              const size_t *lens)
{
    if (!c || argc < 1 || !argv || (!key && klen))
        return SIO_EINVAL;
    node *n = owner(c, key ? sio_redis_key_slot(key, klen) : 0);
    if (!n || !sio_redis_is_up(n->cmd))
        return SIO_ECLOSED;
    creq *q = req_new(c, REQ_CMD, argc, argv, lens);
    if (!q)
        return SIO_ENOMEM;
    q->cb = cb;
    q->arg = arg;
    int rc = req_send(q, n, 0);
    if (rc < 0)
        req_done(q);
    return rc;
}

void sio_redis_cluster_options_init(sio_redis_cluster_options *o)
{
    memset(o, 0, sizeof(*o));
    sio_redis_options_init(&o->node);
    o->refresh_min_ms = 100;
}

void sio_redis_cluster_free(sio_redis_cluster *c)
{
    if (!c)
        return;
    /* requests in flight finish later with SIO_ECLOSED, from the connections' reapers */
    for (creq *q = c->reqs; q; q = q->next)
        q->c = NULL;
    while (c->nodes) {
        node *n = c->nodes;
        c->nodes = n->next;
        node_free(n);
    }
    sio_map_deinit_with(&c->subs, free);
    if (c->refresh_ev)
        event_free(c->refresh_ev);
    for (size_t i = 0; i < c->nurls; i++)
        free(c->urls[i]);
    free(c->urls);
    free(c->ca_file);
    free(c->client_name);
    free(c->log_name);
    free(c);
}

sio_redis_cluster *sio_redis_cluster_new(struct event_base *base,
                                         const sio_redis_cluster_options *o, int *err)
{
    int e = SIO_EINVAL;
    sio_redis_cluster *c = NULL;
    if (!base || !o->urls || o->nurls == 0 || o->refresh_min_ms <= 0 ||
        sio_redis_url_parse(o->urls[0], &(sio_redis_url){0}, NULL) < 0)
        goto fail;
    e = SIO_ENOMEM;
    if (!(c = calloc(1, sizeof(*c))))
        goto fail;
    c->base = base;
    c->o = *o;
    c->o.urls = NULL;
    c->tmpl = o->node;
    sio_map_init(&c->subs);
    c->refresh_delay_ms = o->refresh_min_ms;
    c->ca_file = o->node.tls_ca_file ? strdup(o->node.tls_ca_file) : NULL;
    c->client_name = o->node.client_name ? strdup(o->node.client_name) : NULL;
    c->log_name = strdup(o->node.log_name ? o->node.log_name : "redis");
    c->urls = calloc(o->nurls, sizeof(char *));
    c->refresh_ev = evtimer_new(base, on_refresh_timer, c);
    if ((o->node.tls_ca_file && !c->ca_file) || (o->node.client_name && !c->client_name) ||
        !c->log_name || !c->urls || !c->refresh_ev)
        goto fail;
    c->tmpl.tls_ca_file = c->ca_file;
    c->tmpl.client_name = c->client_name;
    c->tmpl.log_name = c->log_name;
    c->nurls = o->nurls;
    for (size_t i = 0; i < o->nurls; i++)
        if (!(c->urls[i] = strdup(o->urls[i])))
            goto fail;
    e = SIO_EINVAL;
    if (sio_redis_url_parse(c->urls[0], &c->seed, NULL) < 0)
        goto fail;
    size_t seeds = o->cluster ? o->nurls : 1;
    for (size_t i = 0; i < seeds; i++) {
        sio_redis_url u;
        if (sio_redis_url_parse(c->urls[i], &u, NULL) < 0)
            goto fail;
        e = SIO_ENOMEM;
        if (!node_get(c, u.host, u.port, c->urls[i]))
            goto fail;
        e = SIO_EINVAL;
    }
    return c;
fail:
    sio_redis_cluster_free(c);
    if (err)
        *err = e;
    return NULL;
}

sio_redis_cluster *sio_redis_cluster_new_list(struct event_base *base, const char *urls,
                                              const sio_redis_cluster_options *o, int *err)
{
    char *copy = urls ? strdup(urls) : NULL;
    if (urls && !copy) {
        if (err)
            *err = SIO_ENOMEM;
        return NULL;
    }
    const char *seeds[SIO_REDIS_CLUSTER_MAX_SEEDS];
    size_t n = 0;
    char *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL;
         tok && n < SIO_REDIS_CLUSTER_MAX_SEEDS; tok = strtok_r(NULL, ",", &save))
        seeds[n++] = tok;
    sio_redis_cluster_options with = *o;
    with.urls = seeds;
    with.nurls = n;
    sio_redis_cluster *c = sio_redis_cluster_new(base, &with, err); /* copies the seeds */
    free(copy);
    return c;
}

int sio_redis_cluster_is_up(const sio_redis_cluster *c)
{
    return compute_up(c);
}

size_t sio_redis_cluster_master_count(const sio_redis_cluster *c)
{
    size_t k = 0;
    for (const node *n = c->nodes; n; n = n->next)
        k += c->o.cluster ? n->is_master : 1;
    return k;
}

size_t sio_redis_cluster_confirmed_count(const sio_redis_cluster *c)
{
    size_t k = 0;
    sio_map_iter it;
    sio_map_iter_init(&it, &c->subs);
    for (sio_map_entry *me; (me = sio_map_iter_next(&it));)
        k += ((const csub *)me->value)->confirmed;
    return k;
}
