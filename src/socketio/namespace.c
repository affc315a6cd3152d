/*
 * Namespaces (docs/protocol.md §2.2-2.3): creation (named by the application, or dynamic
 * children matched by a parent and removed again once empty), handlers, and the connection of a
 * socket through the asynchronous middleware chain: each middleware answers through an sio_next
 * now or later; the socket waits in its client's pending list meanwhile, bounded by
 * connect_timeout_ms; the last accept attaches it and sends the CONNECT reply.
 */
#include "internal.h"

#include "common/array.h"
#include "common/log.h"
#include "json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- life of a namespace ------------------------------------------------------------------ */

static void room_created(const char *name, size_t len, void *user)
{
    sio_cluster_room_changed(user, name, len, 1);
}

static void room_deleted(const char *name, size_t len, void *user)
{
    sio_cluster_room_changed(user, name, len, 0);
}

sio_namespace *sio_nsp_new(sio_io *io, const char *name, size_t len)
{
    sio_namespace *nsp = calloc(1, sizeof(*nsp) + len + 1); /* the name follows the struct */
    if (!nsp)
        return NULL;
    memcpy(nsp->name, name, len);
    nsp->name[len] = 0;
    nsp->name_len = len;
    nsp->io = io;
    sio_map_init(&nsp->sockets);
    sio_map_init(&nsp->handlers);
    /* no hold/release per member: sockets whose last reference goes during a walk are freed
     * when it ends (nsp->dead, sio_nsp_resolve) */
    sio_rooms_hooks hooks = {room_created, room_deleted, NULL, NULL, nsp};
    sio_rooms_init(&nsp->rooms, &hooks);
    if (!sio_map_put(&io->nsps, nsp->name, len, nsp)) {
        sio_rooms_deinit(&nsp->rooms);
        free(nsp);
        return NULL;
    }
    if (sio_cluster_open(io, nsp) < 0) {
        sio_log(SIO_LOG_ERROR, "socketio", "namespace %s: the adapter refused it", nsp->name);
        sio_map_del(&io->nsps, nsp->name, len);
        sio_rooms_deinit(&nsp->rooms);
        free(nsp);
        return NULL;
    }
    return nsp;
}

void sio_nsp_free(sio_namespace *nsp)
{
    /* all sockets are gone by now (the engine closed every session first) */
    sio_cluster_close(nsp->io, nsp);
    sio_map_deinit_with(&nsp->handlers, free);
    sio_rooms_deinit(&nsp->rooms);
    sio_map_deinit(&nsp->sockets);
    free(nsp->mw);
    free(nsp);
}

void sio_nsp_hold(sio_namespace *nsp)
{
    nsp->holds++;
}

void sio_nsp_release(sio_namespace *nsp)
{
    nsp->holds--;
    sio_nsp_collect(nsp);
}

/* The removal itself runs from the io's gc timer, so no caller still running on the namespace
 * sees it go. */
void sio_nsp_collect(sio_namespace *nsp)
{
    if (nsp->holds || !nsp->dynamic || nsp->pinned || nsp->gc_queued)
        return;
    sio_io *io = nsp->io;
    nsp->gc_queued = 1;
    nsp->gc_next = io->gc;
    io->gc = nsp;
    sio_timer_start(io->gc_timer, 0);
}

/* Removes the dynamic child namespaces that nothing holds any more (sio_nsp_release). */
void sio_io_gc(void *arg)
{
    sio_io *io = arg;
    while (io->gc) {
        sio_namespace *nsp = io->gc;
        io->gc = nsp->gc_next;
        nsp->gc_queued = 0;
        if (nsp->holds || nsp->pinned)
            continue; /* taken again since it was queued */
        sio_map_del(&io->nsps, nsp->name, nsp->name_len);
        io->ndyn_alive--;
        io->stats->namespaces_removed++;
        sio_nsp_free(nsp);
    }
}

static void log_refused_nsp(sio_io *io)
{
    /* at most one line a second, however hard a client tries */
    uint64_t now = sio_clock_now_ms(io->clock);
    if (now - io->ns_refused_logged_ms < 1000 && io->stats->namespaces_refused > 1)
        return;
    io->ns_refused_logged_ms = now;
    sio_log(SIO_LOG_WARN, "socketio",
            "refusing dynamic namespaces: %zu alive (max_dynamic_namespaces); %llu refused so far",
            io->ndyn_alive, (unsigned long long)io->stats->namespaces_refused);
}

static sio_namespace *create_child(sio_io *io, const char *name, size_t len, const char *auth)
{
    sio_namespace *nsp = NULL;
    for (size_t i = 0; i < io->ndyn && !nsp; i++) {
        dyn_parent *d = &io->dyn[i];
        if (!d->match(io->owner, name, auth, d->user))
            continue;
        nsp = sio_nsp_new(io, name, len);
        if (!nsp)
            return NULL;
        nsp->dynamic = 1;
        io->ndyn_alive++;
        io->stats->namespaces_created++;
        if (d->setup) {
            nsp->holds++; /* a setup that pins or connects nothing must not free it */
            d->setup(nsp, d->user);
            nsp->holds--;
        }
    }
    return nsp;
}

sio_namespace *sio_nsp_lookup(sio_io *io, const sio_packet *p)
{
    sio_namespace *nsp = sio_map_get(&io->nsps, p->nsp, p->nsp_len);
    if (nsp || !io->ndyn)
        return nsp;
    /* Empty child namespaces are removed (sio_io_gc), so this caps the ones alive at once: a
     * loop of CONNECTs to "/dyn-<n>" from many connections cannot grow memory without end. */
    if (io->ndyn_alive >= io->opts.max_dynamic_namespaces) {
        io->stats->namespaces_refused++;
        log_refused_nsp(io);
        return NULL;
    }
    char name[512];
    if (p->nsp_len >= sizeof(name))
        return NULL;
    memcpy(name, p->nsp, p->nsp_len);
    name[p->nsp_len] = 0;
    char *auth = p->data_len ? malloc(p->data_len + 1) : NULL;
    if (p->data_len && !auth)
        return NULL;
    if (auth) {
        memcpy(auth, p->data, p->data_len);
        auth[p->data_len] = 0;
    }
    nsp = create_child(io, name, p->nsp_len, auth ? auth : "{}");
    free(auth);
    if (nsp) /* a new child is removed again unless a socket joins it now */
        sio_nsp_collect(nsp);
    return nsp;
}

/* ---- the public namespace API -------------------------------------------------------------- */

const char *sio_namespace_name(const sio_namespace *nsp)
{
    return nsp->name;
}

sio_server *sio_namespace_server(const sio_namespace *nsp)
{
    return nsp->io->owner;
}

size_t sio_namespace_socket_count(const sio_namespace *nsp)
{
    return nsp->sockets.count;
}

size_t sio_namespace_room_count(const sio_namespace *nsp)
{
    return sio_rooms_count(&nsp->rooms);
}

int sio_namespace_use(sio_namespace *nsp, sio_middleware_cb mw, void *user)
{
    if (!mw)
        return SIO_EINVAL;
    return sio_array_push(&nsp->mw, &nsp->nmw, &nsp->cap_mw, &(middleware){mw, user},
                          sizeof(middleware), 4);
}

void sio_namespace_on_connection(sio_namespace *nsp, sio_connection_cb cb, void *user)
{
    nsp->on_connection = cb;
    nsp->on_connection_user = user;
}

void sio_namespace_on_disconnect(sio_namespace *nsp, sio_disconnect_cb cb, void *user)
{
    nsp->on_disconnect = cb;
    nsp->on_disconnect_user = user;
}

int sio_namespace_on(sio_namespace *nsp, const char *event, sio_event_cb cb, void *user)
{
    if (!event)
        return SIO_EINVAL;
    size_t len = strlen(event);
    handler *h = sio_map_get(&nsp->handlers, event, len);
    if (!h) {
        h = malloc(sizeof(*h));
        if (!h || !sio_map_put(&nsp->handlers, event, len, h)) {
            free(h);
            return SIO_ENOMEM;
        }
    }
    h->cb = cb;
    h->user = user;
    return 0;
}

void sio_namespace_on_any(sio_namespace *nsp, sio_event_cb cb, void *user)
{
    nsp->any = (handler){cb, user};
}

/* ---- connecting: the middleware chain ------------------------------------------------------ */

/* A middleware's pending answer. It holds a socket reference, so a late answer after the
 * connection closed (stale) is safe and does nothing. */
struct sio_next {
    sio_socket *s;
    int in_call; /* the middleware has not returned yet */
    int stale;   /* the connection closed or the wait timed out */
};

static void pending_unlink(sio_client *c, sio_socket *s)
{
    for (sio_socket **pp = &c->pending; *pp; pp = &(*pp)->next_in_client) {
        if (*pp == s) {
            *pp = s->next_in_client;
            s->next_in_client = NULL;
            return;
        }
    }
}

/* Ends a pending connection attempt: the socket is dropped (the client's reference). */
static void pending_end(sio_socket *s)
{
    if (s->next) {
        s->next->stale = 1;
        s->next = NULL;
    }
    sio_timer_free(s->mw_timer);
    s->mw_timer = NULL;
    if (s->client)
        pending_unlink(s->client, s);
    s->client = NULL;
    sio_socket_unref(s);
}

static void refuse(sio_socket *s, const char *message, const char *data_json)
{
    sio_io *io = s->nsp->io;
    const char *msg = message ? message : "not authorized";
    size_t cap = strlen(msg) * 6 + (data_json ? strlen(data_json) : 0) + 64;
    char *json = malloc(cap);
    const char *reason;
    if (data_json && sio_json_validate(data_json, strlen(data_json), 32, &reason) < 0)
        data_json = NULL; /* the refusal still goes out, without the bad data */
    if (json && s->client) {
        size_t n = (size_t)snprintf(json, cap, "{\"message\":");
        n += sio_json_write_string(json + n, cap - n, msg, strlen(msg));
        if (data_json)
            n += (size_t)snprintf(json + n, cap - n, ",\"data\":%s", data_json);
        n += (size_t)snprintf(json + n, cap - n, "}");
        sio_client_send_simple(s->client, SIO_PACKET_CONNECT_ERROR, s->nsp->name, json, n);
    }
    free(json);
    io->stats->middleware_refusals++;
    pending_end(s);
}

static void connect_finish(sio_socket *s)
{
    sio_client *c = s->client;
    sio_namespace *nsp = s->nsp;
    sio_timer_free(s->mw_timer);
    s->mw_timer = NULL;
    pending_unlink(c, s);
    if (sio_socket_attach(s) < 0) {
        s->client = NULL;
        sio_socket_unref(s);
        return;
    }
    nsp->io->stats->sockets_connected++;
    char reply[64];
    int n = snprintf(reply, sizeof(reply), "{\"sid\":\"%s\"}", s->id);
    sio_client_send_simple(c, SIO_PACKET_CONNECT, nsp->name, reply, (size_t)n);
    if (nsp->on_connection) {
        sio_socket_ref(s);
        nsp->on_connection(s, nsp->on_connection_user);
        sio_socket_unref(s);
    }
}

static void mw_timeout_cb(void *arg)
{
    sio_socket *s = arg;
    s->nsp->io->stats->middleware_timeouts++;
    sio_log(SIO_LOG_INFO, "socketio", "namespace %s: middleware did not answer in %u ms",
            s->nsp->name, s->nsp->io->opts.connect_timeout_ms);
    refuse(s, "middleware timeout", NULL);
}

/* Runs the middleware from s->mw_index on; returns when one answers later, refuses, or the
 * socket connected. */
static void mw_step(sio_socket *s)
{
    sio_namespace *nsp = s->nsp;
    while (s->mw_index < nsp->nmw) {
        sio_next *n = calloc(1, sizeof(*n));
        if (!n) {
            refuse(s, "server error", NULL);
            return;
        }
        n->s = s;
        n->in_call = 1;
        sio_socket_ref(s);
        s->next = n;
        middleware *m = &nsp->mw[s->mw_index++];
        sio_socket_ref(s);
        m->cb(s, n, m->user);
        int pending = s->next == n;
        int gone = !s->client; /* refused, or the connection closed */
        if (pending)
            n->in_call = 0;
        sio_socket_unref(s);
        if (gone)
            return;
        if (pending) {
            if (!s->mw_timer && (s->mw_timer = sio_timer_new(nsp->io->clock, mw_timeout_cb, s)))
                sio_timer_start(s->mw_timer, nsp->io->opts.connect_timeout_ms);
            return;
        }
    }
    connect_finish(s);
}

static sio_socket *next_take(sio_next *n)
{
    sio_socket *s = n->s;
    int live = !n->stale && s->next == n;
    if (live)
        s->next = NULL;
    return live ? s : NULL;
}

void sio_next_accept(sio_next *n)
{
    sio_socket *held = n->s;
    int in_call = n->in_call;
    sio_socket *s = next_take(n);
    free(n);
    if (s && !in_call)
        mw_step(s);
    sio_socket_unref(held);
}

void sio_next_refuse(sio_next *n, const char *message, const char *data_json)
{
    sio_socket *held = n->s;
    sio_socket *s = next_take(n);
    free(n);
    if (s)
        refuse(s, message, data_json);
    sio_socket_unref(held);
}

sio_socket *sio_next_socket(const sio_next *n)
{
    return n->s;
}

int sio_nsp_connect(sio_namespace *nsp, sio_client *c, const sio_packet *p)
{
    sio_socket *s = sio_socket_new(nsp, c, p->data, p->data_len);
    if (!s)
        return SIO_ENOMEM;
    s->next_in_client = c->pending;
    c->pending = s;
    mw_step(s);
    return 0;
}

void sio_nsp_abort_pending(sio_client *c)
{
    while (c->pending)
        pending_end(c->pending);
}
