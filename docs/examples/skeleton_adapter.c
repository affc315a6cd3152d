/*
 * A skeleton cluster adapter (walked through in docs/adapter.md): the "loopback bus". Every
 * server of this process created with loopback_adapter() is a member of one cluster. publish
 * copies the message once and queues the copy for each other member that has the namespace
 * open; each member hands its queue to its host from a 0 ms libevent timer, never from inside
 * publish. An adapter over Redis, NATS or PostgreSQL keeps this shape: publish encodes and writes
 * to its connection, and the connection's read callback decodes into an sio_cluster_msg and calls
 * sio_adapter_host_receive.
 *
 * Uses <sio/adapter.h>, libc and libevent only. The member list is a plain static list: every
 * member must run on the same thread (normally on one event_base).
 */
#include "skeleton_adapter.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

/* ---- copies of messages -------------------------------------------------------------------- */

/* A copy owns every byte it points to in a chain of blocks, freed together. One message holds
 * strings, string arrays, attachments and socket snapshots, each with its own lifetime in the
 * caller; a bump allocator keeps the copy to a few mallocs and a single free path. */
typedef struct block {
    struct block *next;
    size_t used, cap;
    max_align_t mem[]; /* aligned for any member type */
} block;

#define BLOCK_MIN 4096
#define ALIGN_UP(n) (((n) + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1))

typedef struct copier {
    block *blocks;
    int failed; /* sticky: any allocation failed */
} copier;

/* n bytes from the copier, or NULL for n == 0 (empty arrays stay NULL) and on failure. */
static void *take(copier *c, size_t n)
{
    if (n == 0 || c->failed)
        return NULL;
    if (n > SIZE_MAX / 2) {
        c->failed = 1;
        return NULL;
    }
    n = ALIGN_UP(n);
    block *b = c->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_MIN ? n : BLOCK_MIN;
        b = malloc(sizeof(*b) + cap);
        if (!b) {
            c->failed = 1;
            return NULL;
        }
        b->next = c->blocks;
        b->used = 0;
        b->cap = cap;
        c->blocks = b;
    }
    void *p = (char *)b->mem + b->used;
    b->used += n;
    return p;
}

static void blocks_free(block *b)
{
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
}

/* Copies n bytes and appends a NUL, so JSON text can be handed on as a C string too. */
static const char *copy_bytes(copier *c, const void *p, size_t n)
{
    char *d = take(c, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static const char *copy_str(copier *c, const char *s)
{
    return s ? copy_bytes(c, s, strlen(s)) : NULL;
}

static const char *const *copy_strv(copier *c, const char *const *v, size_t n)
{
    const char **d = take(c, n * sizeof(*d));
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = copy_str(c, v[i]);
    return d;
}

static const sio_bin *copy_bins(copier *c, const sio_bin *v, size_t n)
{
    sio_bin *d = take(c, n * sizeof(*d));
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        void *bytes = take(c, v[i].len);
        if (bytes)
            memcpy(bytes, v[i].data, v[i].len);
        d[i].data = bytes;
        d[i].len = v[i].len;
    }
    return d;
}

static const sio_socket_info *copy_sockets(copier *c, const sio_socket_info *v, size_t n)
{
    sio_socket_info *d = take(c, n * sizeof(*d));
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        d[i].id = copy_str(c, v[i].id);
        d[i].rooms = copy_strv(c, v[i].rooms, v[i].nrooms);
        d[i].nrooms = v[i].nrooms;
        d[i].data_json = copy_str(c, v[i].data_json);
        d[i].handshake_json = copy_str(c, v[i].handshake_json);
    }
    return d;
}

/* One published message, shared by the members it is queued for; the last one frees it. */
typedef struct parcel {
    unsigned refs;
    block *blocks;
    sio_cluster_msg msg; /* every pointer points into blocks */
} parcel;

/* A deep copy of msg stamped with the sender's uid (on a real bus the sender writes its uid into
 * every message, whatever msg->uid holds), one reference held by the caller. NULL on OOM. */
static parcel *parcel_new(const sio_cluster_msg *msg, const char *sender)
{
    copier c = {NULL, 0};
    parcel *p = take(&c, sizeof(*p));
    if (!p) {
        blocks_free(c.blocks);
        return NULL;
    }
    sio_cluster_msg *m = &p->msg;
    *m = *msg; /* scalars: type, packet_type, counts, flags, close, client_count, timeout */
    m->nsp = copy_str(&c, msg->nsp);
    m->uid = copy_str(&c, sender);
    m->requester = copy_str(&c, msg->requester);
    m->request_id = copy_str(&c, msg->request_id);
    m->target.rooms = copy_strv(&c, msg->target.rooms, msg->target.nrooms);
    m->target.except = copy_strv(&c, msg->target.except, msg->target.nexcept);
    m->data = msg->data ? copy_bytes(&c, msg->data, msg->data_len) : NULL;
    m->bins = copy_bins(&c, msg->bins, msg->nbins);
    m->rooms = copy_strv(&c, msg->rooms, msg->nrooms);
    m->sockets = copy_sockets(&c, msg->sockets, msg->nsockets);
    if (c.failed) {
        blocks_free(c.blocks);
        return NULL;
    }
    p->refs = 1;
    p->blocks = c.blocks; /* p itself lives in the chain too */
    return p;
}

static void parcel_unref(parcel *p)
{
    if (--p->refs == 0)
        blocks_free(p->blocks);
}

/* ---- members of the bus -------------------------------------------------------------------- */

/* A namespace open on a member: the subscription a real adapter would hold for it. */
typedef struct lb_nsp {
    struct lb_nsp *next;
    char name[]; /* NUL-terminated copy */
} lb_nsp;

/* A parcel waiting in a member's inbox. */
typedef struct delivery {
    struct delivery *next;
    parcel *p;
} delivery;

/* One member: the adapter state of one server (ops->create to ops->free). */
typedef struct loopback {
    struct loopback *next;  /* in members */
    sio_adapter_host *host; /* borrowed from create until free */
    struct event *wake;     /* timer that drains the inbox on this member's loop */
    struct timeval delay;
    delivery *inbox, **inbox_tail;
    lb_nsp *nsps;
    char uid[32];
} loopback;

static loopback *members;        /* every live member of the process */
static unsigned long last_index; /* for uids; a real adapter takes random ones */

static int has_nsp(const loopback *lb, const char *name)
{
    for (const lb_nsp *ns = lb->nsps; ns; ns = ns->next)
        if (strcmp(ns->name, name) == 0)
            return 1;
    return 0;
}

/* Runs on the receiver's loop, never inside anybody's publish. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    loopback *lb = arg;
    (void)fd, (void)what;
    /* Take the whole inbox first: handlers run by receive may publish, and a parcel for this
     * member posted meanwhile lands in a fresh inbox and re-arms the timer for the next round. */
    delivery *d = lb->inbox;
    lb->inbox = NULL;
    lb->inbox_tail = &lb->inbox;
    while (d) {
        delivery *next = d->next;
        parcel *p = d->p;
        free(d);
        /* A pub/sub bus echoes a member's own messages back to it: drop them by uid. That never
         * happens on the loopback (it does not queue to the sender) but is a real adapter's
         * first check. */
        int own = p->msg.uid && strcmp(p->msg.uid, lb->uid) == 0;
        if (!own && sio_adapter_host_receive(lb->host, &p->msg) < 0)
            sio_adapter_host_log(lb->host, SIO_LOG_DEBUG, "loopback: host refused type %d from %s",
                                 (int)p->msg.type, p->msg.uid);
        parcel_unref(p);
        d = next;
    }
}

/* Queues p for lb and arms its timer. 0 or SIO_ENOMEM. */
static int post(loopback *lb, parcel *p)
{
    delivery *d = malloc(sizeof(*d));
    if (!d)
        return SIO_ENOMEM;
    d->next = NULL;
    d->p = p;
    p->refs++;
    *lb->inbox_tail = d;
    lb->inbox_tail = &d->next;
    if (!event_pending(lb->wake, EV_TIMEOUT, NULL))
        event_add(lb->wake, &lb->delay);
    return 0;
}

/* ---- the operations ------------------------------------------------------------------------ */

static void *lb_create(sio_adapter_host *host, void *config)
{
    const loopback_config *cfg = config; /* borrowed until lb_free; NULL: defaults */
    loopback *lb = calloc(1, sizeof(*lb));
    if (!lb)
        return NULL;
    lb->host = host;
    lb->inbox_tail = &lb->inbox;
    unsigned ms = cfg ? cfg->delay_ms : 0;
    lb->delay.tv_sec = ms / 1000;
    lb->delay.tv_usec = (ms % 1000) * 1000;
    snprintf(lb->uid, sizeof(lb->uid), "loopback-%lu", ++last_index);
    /* The adapter's own events live on the server's loop; a real adapter opens its connection
     * here (non-blocking) and reconnects from timers on the same base. */
    lb->wake = evtimer_new(sio_adapter_host_base(host), on_wake, lb);
    if (!lb->wake) {
        free(lb);
        return NULL;
    }
    lb->next = members;
    members = lb;
    sio_adapter_host_log(host, SIO_LOG_INFO, "loopback: joined the bus as %s", lb->uid);
    return lb;
}

static void lb_free(void *self)
{
    loopback *lb = self;
    for (loopback **pp = &members; *pp; pp = &(*pp)->next)
        if (*pp == lb) {
            *pp = lb->next;
            break;
        }
    event_free(lb->wake); /* before the base goes: the base outlives the server */
    while (lb->inbox) {   /* undelivered messages are dropped, as on a closed connection */
        delivery *d = lb->inbox;
        lb->inbox = d->next;
        parcel_unref(d->p);
        free(d);
    }
    while (lb->nsps) { /* namespaces the host did not close (it should have) */
        lb_nsp *ns = lb->nsps;
        lb->nsps = ns->next;
        free(ns);
    }
    free(lb);
}

static int lb_nsp_open(void *self, const char *nsp, void **nsp_state)
{
    loopback *lb = self;
    size_t n = strlen(nsp);
    lb_nsp *ns = malloc(sizeof(*ns) + n + 1);
    if (!ns)
        return SIO_ENOMEM;
    memcpy(ns->name, nsp, n + 1);
    /* A real adapter subscribes here (Redis classic: the namespace's broadcast pattern, its
     * request channel and its response channels). */
    ns->next = lb->nsps;
    lb->nsps = ns;
    *nsp_state = ns;
    return 0;
}

static void lb_nsp_close(void *self, void *nsp_state)
{
    loopback *lb = self;
    for (lb_nsp **pp = &lb->nsps; *pp; pp = &(*pp)->next)
        if (*pp == nsp_state) {
            *pp = (*pp)->next;
            break;
        }
    free(nsp_state);
}

static void lb_room_changed(void *self, void *nsp_state, const char *room, size_t len, int created,
                            int socket_room)
{
    /* Nothing to do: a member receives every message of its namespaces. A bus with a channel per
     * room subscribes here when created is 1 and unsubscribes when it is 0 (Node's sharded Redis
     * adapter does so for rooms that are not socket ids: socket_room 0). room is len bytes, not
     * NUL-terminated: copy it. Runs on joins and leaves, so it must not block or call the host. */
    (void)self, (void)nsp_state, (void)room, (void)len, (void)created, (void)socket_room;
}

static int lb_publish(void *self, void *nsp_state, const sio_cluster_msg *msg)
{
    loopback *lb = self;
    (void)nsp_state; /* msg->nsp names the namespace too */
    parcel *p = parcel_new(msg, lb->uid);
    if (!p)
        return SIO_ENOMEM;
    int rc = 0;
    for (loopback *peer = members; peer; peer = peer->next) {
        if (peer == lb)
            continue; /* the host already did the local part */
        if (msg->requester && strcmp(msg->requester, peer->uid) != 0)
            continue; /* a response goes to the server that asked, only */
        if (!has_nsp(peer, msg->nsp))
            continue; /* not subscribed to this namespace */
        if (post(peer, p) < 0)
            rc = SIO_ENOMEM;
    }
    parcel_unref(p); /* the reference parcel_new gave us */
    return rc;
}

static void lb_server_count(void *self, void *nsp_state, sio_server_count_cb done, void *arg)
{
    const lb_nsp *ns = nsp_state;
    size_t n = 0;
    (void)self;
    /* Members subscribed to the namespace, this one included: exactly those that receive a
     * request and answer it (Redis classic counts the subscribers of the request channel). With
     * the same namespaces on every server this is the number of members. Known at once, so
     * answered now; a bus that has to ask answers later, but always exactly once. */
    for (const loopback *m = members; m; m = m->next)
        if (has_nsp(m, ns->name))
            n++;
    done(n, arg);
}

static const char *lb_uid(void *self)
{
    return ((loopback *)self)->uid;
}

static const sio_adapter_ops loopback_ops = {
    .name = "loopback",
    .create = lb_create,
    .free = lb_free,
    .nsp_open = lb_nsp_open,
    .nsp_close = lb_nsp_close,
    .room_changed = lb_room_changed,
    .publish = lb_publish,
    .server_count = lb_server_count,
    .uid = lb_uid,
};

const sio_adapter_ops *loopback_adapter(void)
{
    return &loopback_ops;
}
