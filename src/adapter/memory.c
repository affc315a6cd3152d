/*
 * The in-memory adapter: the two-way room index of one process (room -> members, socket ->
 * rooms; join/leave O(1), disconnect O(rooms of the socket), broadcast O(members)) and target
 * resolution with except rooms and de-duplication by a generation stamp. Node's
 * in-memory-adapter.ts is the behaviour to match.
 */
#include "adapter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct memory_adapter {
    sio_adapter base;
    sio_map rooms; /* name -> sio_room */
    uint64_t gen;  /* target-resolution generation, stamped on sockets */
} memory_adapter;

/* ---- rooms -------------------------------------------------------------------------------- */

static sio_room *room_get(memory_adapter *m, const char *name, size_t len, int create)
{
    sio_map_entry *e = sio_map_find(&m->rooms, name, len);
    if (e || !create)
        return e ? e->value : NULL;
    sio_room *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->entry = sio_map_put(&m->rooms, name, len, r);
    if (!r->entry) {
        free(r);
        return NULL;
    }
    return r;
}

static int socket_in_room(const sio_socket *s, const sio_room *r)
{
    for (size_t i = 0; i < s->nrooms; i++)
        if (s->rooms[i].room == r)
            return 1;
    return 0;
}

static int mem_add(sio_adapter *a, sio_socket *s, const char *name, size_t len)
{
    memory_adapter *m = (memory_adapter *)a;
    sio_namespace *nsp = s->nsp;
    sio_room *r = room_get(m, name, len, 1);
    if (!r)
        return SIO_ENOMEM;
    if (socket_in_room(s, r))
        return 0;
    if (s->nrooms >= nsp->srv->opts.max_rooms_per_socket + 1) /* + its own room */
        return SIO_ELIMIT;
    if (s->nrooms == s->rooms_cap) {
        size_t cap = s->rooms_cap ? s->rooms_cap * 2 : 2;
        socket_room *sr = realloc(s->rooms, cap * sizeof(*sr));
        if (!sr)
            return SIO_ENOMEM;
        s->rooms = sr;
        s->rooms_cap = cap;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4;
        room_member *mem = realloc(r->members, cap * sizeof(*mem));
        if (!mem)
            return SIO_ENOMEM;
        r->members = mem;
        r->cap = cap;
    }
    r->members[r->n] = (room_member){s, s->nrooms};
    s->rooms[s->nrooms++] = (socket_room){r, r->n};
    r->n++;
    return 0;
}

/* Removes membership slot i of s: swap-remove on both sides, fixing the moved entries. */
static void room_remove_slot(memory_adapter *m, sio_socket *s, size_t i)
{
    sio_room *r = s->rooms[i].room;
    size_t idx = s->rooms[i].idx;
    r->members[idx] = r->members[--r->n];
    if (idx < r->n) {
        room_member *moved = &r->members[idx];
        moved->s->rooms[moved->slot].idx = idx;
    }
    s->rooms[i] = s->rooms[--s->nrooms];
    if (i < s->nrooms) {
        socket_room *moved = &s->rooms[i];
        moved->room->members[moved->idx].slot = i;
    }
    if (r->n == 0) {
        sio_map_entry *e = r->entry;
        sio_map_del(&m->rooms, e->key, e->klen);
        free(r->members);
        free(r);
    }
}

static void mem_del(sio_adapter *a, sio_socket *s, const char *room, size_t len)
{
    memory_adapter *m = (memory_adapter *)a;
    sio_room *r = room_get(m, room, len, 0);
    for (size_t i = 0; r && i < s->nrooms; i++) {
        if (s->rooms[i].room == r) {
            room_remove_slot(m, s, i);
            return;
        }
    }
}

static void mem_del_all(sio_adapter *a, sio_socket *s)
{
    while (s->nrooms)
        room_remove_slot((memory_adapter *)a, s, s->nrooms - 1);
}

/* Calls fn for every socket of the target once: rooms' members (or every socket) minus the
 * members of except rooms, de-duplicated with the adapter's generation stamp. */
static long mem_apply(sio_adapter *a, const sio_target *to, sio_adapter_visit_cb fn, void *arg)
{
    memory_adapter *m = (memory_adapter *)a;
    sio_namespace *nsp = a->nsp;
    uint64_t gen = ++m->gen;
    for (size_t i = 0; to && i < to->nexcept; i++) {
        sio_room *r = sio_map_get(&m->rooms, to->except[i], strlen(to->except[i]));
        for (size_t k = 0; r && k < r->n; k++)
            r->members[k].s->except_gen = gen;
    }
    long count = 0;
    if (!to || !to->nrooms) {
        sio_map_iter it;
        sio_map_iter_init(&it, &nsp->sockets);
        for (sio_map_entry *e; (e = sio_map_iter_next(&it));) {
            sio_socket *s = e->value;
            if (s->except_gen != gen && fn(s, arg) == 0)
                count++;
        }
        return count;
    }
    for (size_t i = 0; i < to->nrooms; i++) {
        sio_room *r = sio_map_get(&m->rooms, to->rooms[i], strlen(to->rooms[i]));
        /* members may leave during fn (join/leave ops): walk backwards so swaps are safe */
        for (size_t k = r ? r->n : 0; k-- > 0;) {
            if (k >= r->n)
                continue;
            sio_socket *s = r->members[k].s;
            if (s->except_gen == gen || s->seen_gen == gen)
                continue;
            s->seen_gen = gen;
            if (fn(s, arg) == 0)
                count++;
        }
    }
    return count;
}

static long mem_broadcast(sio_adapter *a, const sio_frame *f, const sio_target *to,
                          sio_adapter_visit_cb visit, void *arg)
{
    (void)f; /* one process: nothing to publish */
    return mem_apply(a, to, visit, arg);
}

static long mem_broadcast_with_ack(sio_adapter *a, const sio_frame *f, const sio_target *to,
                                   sio_adapter_visit_cb visit, void *arg,
                                   void (*remote_count)(void *arg, size_t n))
{
    (void)remote_count; /* no other servers, so no remote recipients to report */
    return mem_broadcast(a, f, to, visit, arg);
}

static long mem_all_rooms(sio_adapter *a, void (*fn)(const char *room, void *arg), void *arg)
{
    memory_adapter *m = (memory_adapter *)a;
    sio_map_iter it;
    sio_map_iter_init(&it, &m->rooms);
    long n = 0;
    for (sio_map_entry *e; (e = sio_map_iter_next(&it)); n++)
        fn(e->key, arg);
    return n;
}

static int join_one(sio_socket *s, void *arg)
{
    return sio_socket_join(s, arg);
}

static int leave_one(sio_socket *s, void *arg)
{
    return sio_socket_leave(s, arg);
}

static long mem_add_sockets(sio_adapter *a, const sio_target *to, const char *room)
{
    return mem_apply(a, to, join_one, (void *)(uintptr_t)room);
}

static long mem_del_sockets(sio_adapter *a, const sio_target *to, const char *room)
{
    return mem_apply(a, to, leave_one, (void *)(uintptr_t)room);
}

typedef struct collect {
    sio_socket **v;
    size_t n, cap;
} collect;

static int collect_one(sio_socket *s, void *arg)
{
    collect *c = arg;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        sio_socket **v = realloc(c->v, cap * sizeof(*v));
        if (!v)
            return -1;
        c->v = v;
        c->cap = cap;
    }
    sio_socket_ref(s);
    c->v[c->n++] = s;
    return 0;
}

static long mem_disconnect_sockets(sio_adapter *a, const sio_target *to, int close)
{
    collect c = {0};
    mem_apply(a, to, collect_one, &c); /* disconnecting changes the rooms: collect first */
    for (size_t i = 0; i < c.n; i++) {
        sio_socket_disconnect(c.v[i], close);
        sio_socket_unref(c.v[i]);
    }
    free(c.v);
    return (long)c.n;
}

static int mem_server_side_emit(sio_adapter *a, const char *event, const char *args_json)
{
    (void)a, (void)event, (void)args_json;
    return 0; /* a lone server has no peers to tell (Node's in-memory adapter does the same) */
}

static size_t mem_server_count(sio_adapter *a)
{
    (void)a;
    return 1;
}

static void mem_free(sio_adapter *a)
{
    memory_adapter *m = (memory_adapter *)a;
    sio_map_iter it;
    sio_map_iter_init(&it, &m->rooms);
    for (sio_map_entry *e; (e = sio_map_iter_next(&it));) {
        sio_room *r = e->value;
        free(r->members);
        free(r);
    }
    sio_map_deinit(&m->rooms);
    free(m);
}

static const sio_adapter_ops memory_ops = {
    .name = "memory",
    .free = mem_free,
    .add = mem_add,
    .del = mem_del,
    .del_all = mem_del_all,
    .broadcast = mem_broadcast,
    .broadcast_with_ack = mem_broadcast_with_ack,
    .apply = mem_apply,
    .all_rooms = mem_all_rooms,
    .add_sockets = mem_add_sockets,
    .del_sockets = mem_del_sockets,
    .disconnect_sockets = mem_disconnect_sockets,
    .server_side_emit = mem_server_side_emit,
    .server_count = mem_server_count,
    .persist_session = NULL,
    .restore_session = NULL,
};

sio_adapter *sio_memory_adapter_new(sio_namespace *nsp)
{
    memory_adapter *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base.ops = &memory_ops;
    m->base.nsp = nsp;
    sio_map_init(&m->rooms);
    return &m->base;
}
