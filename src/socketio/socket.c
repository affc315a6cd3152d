/*
 * Sockets (docs/protocol.md §2.3, §2.6): one per namespace a client joined. Life cycle
 * (attach, close with a reason, disconnect by the server), room membership through the
 * namespace's index, the application's data (JSON, what fetchSockets reports on every server)
 * and keyed native slots, and the handshake accessors.
 */
#include "internal.h"

#include "common/array.h"

#include "json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void socket_free(sio_socket *s)
{
    sio_namespace *nsp = s->nsp;
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i].free_fn)
            s->slots[i].free_fn(s->slots[i].value);
    free(s->slots);
    sio_room_set_deinit(&s->rooms);
    free(s->data);
    free(s->auth);
    free(s);
    sio_nsp_release(nsp);
}

void sio_socket_unref(sio_socket *s)
{
    if (--s->refcnt)
        return;
    sio_namespace *nsp = s->nsp;
    if (nsp->walks) { /* a walk's selection may still point at s */
        s->next_dead = nsp->dead;
        nsp->dead = s;
        return;
    }
    socket_free(s);
}

void sio_nsp_free_dead(sio_namespace *nsp)
{
    while (nsp->dead) {
        sio_socket *s = nsp->dead;
        nsp->dead = s->next_dead;
        socket_free(s);
    }
}

int sio_socket_attach(sio_socket *s)
{
    sio_namespace *nsp = s->nsp;
    if (!sio_map_put(&nsp->sockets, s->id, SIO_ID_LEN, s))
        return SIO_ENOMEM;
    s->connected = 1; /* before the join, so the own room counts as a normal join */
    if (sio_rooms_join(&nsp->rooms, s, &s->rooms, s->id, SIO_ID_LEN, SIZE_MAX) < 0) {
        s->connected = 0;
        sio_map_del(&nsp->sockets, s->id, SIO_ID_LEN);
        return SIO_ENOMEM;
    }
    sio_client_link(s->client, s);
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
        sio_client_send_simple(c, SIO_PACKET_DISCONNECT, s->nsp->name, NULL, 0);
    sio_rooms_leave_all(&s->nsp->rooms, s, &s->rooms);
    sio_map_del(&s->nsp->sockets, s->id, SIO_ID_LEN);
    if (c)
        sio_client_unlink(c, s);
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

/* ---- rooms -------------------------------------------------------------------------------- */

int sio_socket_join(sio_socket *s, const char *room)
{
    if (!s->connected)
        return SIO_ECLOSED;
    if (!room)
        return SIO_EINVAL;
    /* + 1: the socket's own room does not count against the limit */
    return sio_rooms_join(&s->nsp->rooms, s, &s->rooms, room, strlen(room),
                          s->nsp->io->opts.max_rooms_per_socket + 1);
}

int sio_socket_leave(sio_socket *s, const char *room)
{
    if (room)
        sio_rooms_leave(&s->nsp->rooms, s, &s->rooms, room, strlen(room));
    return 0;
}

size_t sio_socket_room_count(const sio_socket *s)
{
    return sio_room_set_count(&s->rooms);
}

const char *sio_socket_room(const sio_socket *s, size_t i)
{
    return i < sio_room_set_count(&s->rooms) ? sio_room_set_name(&s->rooms, i, NULL) : NULL;
}

/* ---- accessors ---------------------------------------------------------------------------- */

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
    return (long)sio_json_nested_string(hs, strlen(hs), "headers", name, buf, cap);
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

void sio_socket_info_of(const sio_socket *s, sio_socket_info *info, const char **rooms)
{
    size_t n = sio_room_set_count(&s->rooms);
    for (size_t i = 0; i < n; i++)
        rooms[i] = sio_room_set_name(&s->rooms, i, NULL);
    info->id = s->id;
    info->rooms = rooms;
    info->nrooms = n;
    info->data_json = sio_socket_data(s);
    info->handshake_json = sio_socket_handshake(s);
}

/* ---- data and slots ----------------------------------------------------------------------- */

int sio_socket_set_data(sio_socket *s, const char *json)
{
    const char *reason;
    size_t len = json ? strlen(json) : 0;
    if (!json || sio_json_validate(json, len, 64, &reason) < 0)
        return SIO_EINVAL;
    char *copy = malloc(len + 1);
    if (!copy)
        return SIO_ENOMEM;
    memcpy(copy, json, len + 1);
    free(s->data);
    s->data = copy;
    return 0;
}

const char *sio_socket_data(const sio_socket *s)
{
    return s->data ? s->data : "{}";
}

int sio_socket_set_slot(sio_socket *s, const sio_slot *key, void *value,
                        void (*free_fn)(void *value))
{
    for (size_t i = 0; i < s->nslots; i++) {
        socket_slot *sl = &s->slots[i];
        if (sl->key != key)
            continue;
        if (sl->free_fn && sl->value != value)
            sl->free_fn(sl->value);
        sl->value = value;
        sl->free_fn = free_fn;
        return 0;
    }
    return sio_array_push(&s->slots, &s->nslots, &s->cap_slots, &(socket_slot){key, value, free_fn},
                          sizeof(socket_slot), 2);
}

void *sio_socket_slot(const sio_socket *s, const sio_slot *key)
{
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i].key == key)
            return s->slots[i].value;
    return NULL;
}
