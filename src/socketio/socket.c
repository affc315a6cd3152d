/*
 * Namespaces, sockets and rooms (docs/protocol.md §2.2-2.3, §2.6): connect with middleware, the
 * in-memory adapter's two-way room index (room -> members, socket -> rooms, O(1) join/leave,
 * disconnect in O(rooms of the socket)), and the socket life cycle.
 */
#include "internal.h"

#include "adapter/adapter.h"

#include "common/log.h"
#include "json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- namespaces --------------------------------------------------------------------------- */

sio_namespace *sio_nsp_new(sio_server *srv, const char *name, size_t len)
{
    sio_namespace *nsp = calloc(1, sizeof(*nsp));
    if (!nsp)
        return NULL;
    nsp->name = malloc(len + 1);
    if (!nsp->name) {
        free(nsp);
        return NULL;
    }
    memcpy(nsp->name, name, len);
    nsp->name[len] = 0;
    nsp->srv = srv;
    sio_map_init(&nsp->sockets);
    sio_map_init(&nsp->handlers);
    nsp->adapter = sio_memory_adapter_new(nsp);
    if (!nsp->adapter || !sio_map_put(&srv->nsps, nsp->name, len, nsp)) {
        if (nsp->adapter)
            nsp->adapter->ops->free(nsp->adapter);
        free(nsp->name);
        free(nsp);
        return NULL;
    }
    return nsp;
}

void sio_nsp_free(sio_namespace *nsp)
{
    /* all sockets are gone by now (the engine closed every session first) */
    sio_map_iter it;
    sio_map_iter_init(&it, &nsp->handlers);
    for (sio_map_entry *e; (e = sio_map_iter_next(&it));)
        free(e->value);
    sio_map_deinit(&nsp->handlers);
    nsp->adapter->ops->free(nsp->adapter);
    sio_map_deinit(&nsp->sockets);
    free(nsp->mw);
    free(nsp->name);
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

/* The removal itself runs from the server's gc event, so no caller still running on the
 * namespace sees it go. */
void sio_nsp_collect(sio_namespace *nsp)
{
    if (nsp->holds || !nsp->dynamic || nsp->pinned || nsp->gc_queued)
        return;
    sio_server *srv = nsp->srv;
    nsp->gc_queued = 1;
    nsp->gc_next = srv->gc;
    srv->gc = nsp;
    if (srv->gc_ev)
        event_active(srv->gc_ev, EV_WRITE, 0);
}

const char *sio_namespace_name(const sio_namespace *nsp)
{
    return nsp->name;
}

sio_server *sio_namespace_server(const sio_namespace *nsp)
{
    return nsp->srv;
}

size_t sio_namespace_socket_count(const sio_namespace *nsp)
{
    return nsp->sockets.count;
}

int sio_namespace_use(sio_namespace *nsp, sio_middleware_cb mw, void *user)
{
    middleware *m = realloc(nsp->mw, (nsp->nmw + 1) * sizeof(*m));
    if (!m)
        return SIO_ENOMEM;
    nsp->mw = m;
    nsp->mw[nsp->nmw++] = (middleware){mw, user};
    return 0;
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

int sio_socket_join(sio_socket *s, const char *room)
{
    if (!s->connected)
        return SIO_ECLOSED;
    sio_adapter *a = s->nsp->adapter;
    return a->ops->add(a, s, room, strlen(room));
}

int sio_socket_leave(sio_socket *s, const char *room)
{
    sio_adapter *a = s->nsp->adapter;
    a->ops->del(a, s, room, strlen(room));
    return 0;
}

size_t sio_socket_room_count(const sio_socket *s)
{
    return s->nrooms;
}

const char *sio_socket_room(const sio_socket *s, size_t i)
{
    return i < s->nrooms ? s->rooms[i].room->entry->key : NULL;
}

/* ---- sockets ------------------------------------------------------------------------------ */

sio_socket *sio_socket_new(sio_namespace *nsp, sio_client *c, const char *auth, size_t auth_len)
{
    sio_socket *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->refcnt = 1;
    s->nsp = nsp;
    sio_nsp_hold(nsp);
    s->client = c;
    if (!auth_len) {
        auth = "{}";
        auth_len = 2;
    }
    s->auth = malloc(auth_len + 1);
    if (!s->auth || sio_id_generate(s->id) < 0) {
        sio_nsp_release(nsp);
        free(s->auth);
        free(s);
        return NULL;
    }
    memcpy(s->auth, auth, auth_len);
    s->auth[auth_len] = 0;
    return s;
}

void sio_socket_ref(sio_socket *s)
{
    s->refcnt++;
}

void sio_socket_unref(sio_socket *s)
{
    if (--s->refcnt)
        return;
    sio_nsp_release(s->nsp);
    if (s->data_free)
        s->data_free(s->data);
    free(s->rooms);
    free(s->auth);
    free(s->refuse_msg);
    free(s->refuse_data);
    free(s);
}

static void client_link(sio_client *c, sio_socket *s)
{
    s->next_in_client = c->sockets;
    c->sockets = s;
    c->nsockets++;
}

static void client_unlink(sio_client *c, sio_socket *s)
{
    for (sio_socket **pp = &c->sockets; *pp; pp = &(*pp)->next_in_client) {
        if (*pp == s) {
            *pp = s->next_in_client;
            c->nsockets--;
            return;
        }
    }
}

static void send_simple(sio_client *c, sio_packet_type type, const char *nsp, const char *json,
                        size_t len)
{
    sio_frame f;
    if (sio_frame_encode_raw(&f, type, nsp, -1, json, len) == 0) {
        sio_client_send(c, &f, 0);
        sio_frame_release(&f);
    }
}

static void refuse(sio_client *c, sio_socket *s)
{
    const char *msg = s->refuse_msg ? s->refuse_msg : "not authorized";
    size_t cap = strlen(msg) * 6 + (s->refuse_data ? strlen(s->refuse_data) : 0) + 64;
    char *json = malloc(cap);
    if (!json)
        return;
    size_t n = (size_t)snprintf(json, cap, "{\"message\":");
    n += sio_json_write_string(json + n, cap - n, msg, strlen(msg));
    if (s->refuse_data)
        n += (size_t)snprintf(json + n, cap - n, ",\"data\":%s", s->refuse_data);
    n += (size_t)snprintf(json + n, cap - n, "}");
    send_simple(c, SIO_PACKET_CONNECT_ERROR, s->nsp->name, json, n);
    free(json);
}

int sio_nsp_connect(sio_namespace *nsp, sio_client *c, const sio_packet *p)
{
    sio_socket *s = sio_socket_new(nsp, c, p->data, p->data_len);
    if (!s)
        return SIO_ENOMEM;
    /* middleware sees the socket before anyone else can */
    for (size_t i = 0; i < nsp->nmw; i++) {
        if (nsp->mw[i].cb(s, nsp->mw[i].user) != 0) {
            nsp->srv->middleware_refusals++;
            refuse(c, s);
            s->client = NULL;
            sio_socket_unref(s);
            return SIO_EPROTO;
        }
        if (c->closed) { /* the middleware closed the connection */
            s->client = NULL;
            sio_socket_unref(s);
            return SIO_ECLOSED;
        }
    }
    if (!sio_map_put(&nsp->sockets, s->id, SIO_ID_LEN, s) ||
        nsp->adapter->ops->add(nsp->adapter, s, s->id, SIO_ID_LEN) < 0) {
        sio_map_del(&nsp->sockets, s->id, SIO_ID_LEN);
        s->client = NULL;
        sio_socket_unref(s);
        return SIO_ENOMEM;
    }
    s->connected = 1;
    nsp->srv->sockets_connected++;
    client_link(c, s);
    char reply[64];
    int n = snprintf(reply, sizeof(reply), "{\"sid\":\"%s\"}", s->id);
    send_simple(c, SIO_PACKET_CONNECT, nsp->name, reply, (size_t)n);
    if (nsp->on_connection) {
        sio_socket_ref(s);
        nsp->on_connection(s, nsp->on_connection_user);
        sio_socket_unref(s);
    }
    return 0;
}

/* Disconnects s: leaves every room, fails pending acks, tells the application, unlinks. */
void sio_socket_close(sio_socket *s, const char *reason, int notify_client)
{
    if (!s->connected)
        return;
    sio_client *c = s->client;
    s->connected = 0;
    sio_socket_ref(s);
    if (notify_client && c && !c->closed)
        send_simple(c, SIO_PACKET_DISCONNECT, s->nsp->name, NULL, 0);
    s->nsp->adapter->ops->del_all(s->nsp->adapter, s);
    sio_map_del(&s->nsp->sockets, s->id, SIO_ID_LEN);
    if (c)
        client_unlink(c, s);
    sio_socket_fail_acks(s);
    if (s->nsp->on_disconnect)
        s->nsp->on_disconnect(s, reason, s->nsp->on_disconnect_user);
    s->client = NULL;
    s->refcnt--;         /* the namespace's reference: ours keeps s alive */
    sio_socket_unref(s); /* ours */
}

void sio_socket_disconnect(sio_socket *s, int close)
{
    if (!s->connected)
        return;
    sio_client *c = s->client;
    if (!close || !c) {
        sio_socket_close(s, "server namespace disconnect", 1);
        return;
    }
    /* close: every namespace of the connection is told, then the connection goes (Node's
     * client._disconnect()) */
    while (c->sockets)
        sio_socket_close(c->sockets, "server namespace disconnect", 1);
    if (!c->closed)
        sio_client_close(c, EIO_CLOSE_FORCED);
}

void sio_socket_close_connection(sio_socket *s)
{
    if (s->client && !s->client->closed)
        sio_client_close(s->client, EIO_CLOSE_FORCED);
}

const char *sio_socket_id(const sio_socket *s)
{
    return s->id;
}

sio_namespace *sio_socket_namespace(const sio_socket *s)
{
    return s->nsp;
}

const char *sio_socket_auth(const sio_socket *s)
{
    return s->auth;
}

const char *sio_socket_handshake(const sio_socket *s)
{
    return s->client ? eio_session_handshake(s->client->eio) : "{}";
}

long sio_socket_header(const sio_socket *s, const char *name, char *buf, size_t cap)
{
    const char *hs = sio_socket_handshake(s);
    sio_json_iter it, hit;
    const char *k, *v;
    size_t kn, vn;
    if (sio_json_iter_init(&it, hs, strlen(hs)) < 0)
        return SIO_ENOTFOUND;
    while (sio_json_iter_next(&it, &k, &kn, &v, &vn) == 1) {
        if (!sio_json_string_eq(k, kn, "headers", 7) || sio_json_iter_init(&hit, v, vn) < 0)
            continue;
        while (sio_json_iter_next(&hit, &k, &kn, &v, &vn) == 1) {
            if (sio_json_string_eq(k, kn, name, strlen(name))) {
                ssize_t n = sio_json_string_unescape(v, vn, buf, cap);
                return n < 0 ? SIO_ELIMIT : (long)n;
            }
        }
    }
    return SIO_ENOTFOUND;
}

const char *sio_socket_transport(const sio_socket *s)
{
    if (!s->client)
        return "closed";
    return eio_session_transport(s->client->eio) == EIO_TRANSPORT_WEBSOCKET ? "websocket"
                                                                            : "polling";
}

int sio_socket_connected(const sio_socket *s)
{
    return s->connected;
}

void sio_socket_set_data(sio_socket *s, void *data, void (*free_fn)(void *data))
{
    if (s->data_free && s->data != data)
        s->data_free(s->data);
    s->data = data;
    s->data_free = free_fn;
}

void *sio_socket_get_data(const sio_socket *s)
{
    return s->data;
}

void sio_socket_refuse(sio_socket *s, const char *message, const char *data_json)
{
    free(s->refuse_msg);
    free(s->refuse_data);
    s->refuse_msg = message ? strdup(message) : NULL;
    s->refuse_data = data_json ? strdup(data_json) : NULL;
}
