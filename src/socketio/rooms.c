/*
 * The two-way room index (rooms.h). A room keeps an array of (member, set, slot) and each member's
 * set keeps an array of (room, idx), each side recording where it sits in the other, so leaving
 * is a swap-remove on both arrays plus fixing the one entry that moved on each side. Node's
 * in-memory-adapter.ts is the behaviour matched (rooms Map + sids Map).
 */
#include "rooms.h"

#include "common/array.h"

#include <sio/error.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct room_member {
    void *member;
    sio_room_set *set;
    size_t slot; /* index in set->v */
} room_member;

struct sio_room {
    sio_map_entry *entry; /* in ix->rooms; the key is the name */
    room_member *members;
    size_t n, cap;
};

typedef struct sio_room_slot {
    sio_room *room;
    size_t idx; /* index in room->members */
} sio_room_slot;

void sio_rooms_init(sio_rooms *ix, const sio_rooms_hooks *hooks)
{
    memset(ix, 0, sizeof(*ix));
    sio_map_init(&ix->rooms);
    if (hooks)
        ix->hooks = *hooks;
}

static void room_free(sio_room *r)
{
    free(r->members);
    free(r);
}

void sio_rooms_deinit(sio_rooms *ix)
{
    assert(ix->snap.n == 0 && "deinit inside a resolve");
    sio_map_iter it;
    sio_map_iter_init(&it, &ix->rooms);
    for (sio_map_entry *e; (e = sio_map_iter_next(&it));) {
        sio_room *r = e->value;
        for (size_t i = 0; i < r->n; i++)
            r->members[i].set->n = 0; /* every slot of a set points into this index */
        if (ix->hooks.on_delete)
            ix->hooks.on_delete(e->key, e->klen, ix->hooks.user);
        room_free(r);
    }
    sio_map_deinit(&ix->rooms);
    free(ix->snap.v);
    memset(&ix->snap, 0, sizeof(ix->snap));
}

size_t sio_rooms_count(const sio_rooms *ix)
{
    return ix->rooms.count;
}

sio_room *sio_rooms_find(const sio_rooms *ix, const char *name, size_t len)
{
    return sio_map_get(&ix->rooms, name, len);
}

/* Index of r in set->v, or SIZE_MAX. Scans whichever side is shorter: a socket is usually in a
 * few rooms, but a private room is tiny while a socket may be in hundreds. */
static size_t find_slot(const sio_room_set *set, const sio_room *r)
{
    if (set->n <= r->n) {
        for (size_t i = 0; i < set->n; i++)
            if (set->v[i].room == r)
                return i;
    } else {
        for (size_t k = 0; k < r->n; k++)
            if (r->members[k].set == set)
                return r->members[k].slot;
    }
    return SIZE_MAX;
}

static sio_room *room_new(sio_rooms *ix, const char *name, size_t len)
{
    sio_room *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    /* one member to start: most rooms are a socket's own room, which never holds another */
    if (sio_array_grow(&r->members, &r->cap, 0, sizeof(*r->members), 1) == 0)
        r->entry = sio_map_put(&ix->rooms, name, len, r);
    if (!r->entry) {
        room_free(r);
        return NULL;
    }
    return r;
}

int sio_rooms_join(sio_rooms *ix, void *member, sio_room_set *set, const char *name, size_t len,
                   size_t max_rooms)
{
    sio_room *r = sio_rooms_find(ix, name, len);
    if (r && find_slot(set, r) != SIZE_MAX)
        return 0;
    if (set->n >= max_rooms)
        return SIO_ELIMIT;
    /* Grow both arrays before linking anything, so a failure leaves no trace. */
    /* two to start: its own room and one more, for an idle socket */
    if (sio_array_grow(&set->v, &set->cap, set->n, sizeof(*set->v), 2) < 0)
        return SIO_ENOMEM;
    int created = !r;
    if (created && !(r = room_new(ix, name, len)))
        return SIO_ENOMEM;
    if (sio_array_grow(&r->members, &r->cap, r->n, sizeof(*r->members), 4) < 0)
        return SIO_ENOMEM; /* r is not new here: a new room has room for its first member */
    r->members[r->n] = (room_member){member, set, set->n};
    set->v[set->n++] = (sio_room_slot){r, r->n++};
    if (created && ix->hooks.on_create)
        ix->hooks.on_create(r->entry->key, r->entry->klen, ix->hooks.user);
    return 0;
}

/* Drops slot i of set: swap-remove on both sides, fixing the entry that moved into each hole. */
static void remove_slot(sio_rooms *ix, sio_room_set *set, size_t i)
{
    sio_room *r = set->v[i].room;
    size_t idx = set->v[i].idx;
    r->members[idx] = r->members[--r->n];
    if (idx < r->n) {
        room_member *moved = &r->members[idx];
        moved->set->v[moved->slot].idx = idx;
    }
    set->v[i] = set->v[--set->n];
    if (i < set->n) {
        sio_room_slot *moved = &set->v[i];
        moved->room->members[moved->idx].slot = i;
    }
    if (r->n == 0) {
        sio_map_entry *e = r->entry;
        if (ix->hooks.on_delete)
            ix->hooks.on_delete(e->key, e->klen, ix->hooks.user);
        sio_map_del(&ix->rooms, e->key, e->klen);
        room_free(r);
    }
}

int sio_rooms_leave(sio_rooms *ix, void *member, sio_room_set *set, const char *name, size_t len)
{
    (void)member; /* the set identifies the member; kept for symmetry with join */
    sio_room *r = sio_rooms_find(ix, name, len);
    size_t i = r ? find_slot(set, r) : SIZE_MAX;
    if (i == SIZE_MAX)
        return 0;
    assert(r->members[set->v[i].idx].member == member);
    remove_slot(ix, set, i);
    return 1;
}

void sio_rooms_leave_all(sio_rooms *ix, void *member, sio_room_set *set)
{
    (void)member;
    /* Taking the last slot each time means the set side never needs a fix-up. */
    while (set->n)
        remove_slot(ix, set, set->n - 1);
}

size_t sio_room_size(const sio_room *r)
{
    return r->n;
}

void *sio_room_member(const sio_room *r, size_t i)
{
    assert(i < r->n);
    return r->members[i].member;
}

const char *sio_room_name(const sio_room *r, size_t *len)
{
    if (len)
        *len = r->entry->klen;
    return r->entry->key;
}

void sio_room_set_init(sio_room_set *set)
{
    memset(set, 0, sizeof(*set));
}

void sio_room_set_deinit(sio_room_set *set)
{
    assert(set->n == 0 && "the member is still in rooms");
    free(set->v);
    sio_room_set_init(set);
}

int sio_room_set_has(const sio_room_set *set, const sio_room *r)
{
    return r && find_slot(set, r) != SIZE_MAX;
}

size_t sio_room_set_count(const sio_room_set *set)
{
    return set->n;
}

sio_room *sio_room_set_room(const sio_room_set *set, size_t i)
{
    assert(i < set->n);
    return set->v[i].room;
}

const char *sio_room_set_name(const sio_room_set *set, size_t i, size_t *len)
{
    return sio_room_name(sio_room_set_room(set, i), len);
}

void sio_rooms_iter_init(sio_rooms_iter *it, const sio_rooms *ix)
{
    sio_map_iter_init(&it->it, &ix->rooms);
}

sio_room *sio_rooms_iter_next(sio_rooms_iter *it)
{
    sio_map_entry *e = sio_map_iter_next(&it->it);
    return e ? e->value : NULL;
}

long sio_rooms_check(const sio_rooms *ix)
{
    long total = 0;
    size_t nrooms = 0;
    sio_rooms_iter it;
    sio_rooms_iter_init(&it, ix);
    for (const sio_room *r; (r = sio_rooms_iter_next(&it)); nrooms++) {
        if (r->n == 0 || r->n > r->cap || r->entry->value != r)
            return -1;
        for (size_t k = 0; k < r->n; k++) {
            const room_member *m = &r->members[k];
            if (m->slot >= m->set->n || m->set->v[m->slot].room != r || m->set->v[m->slot].idx != k)
                return -1;
        }
        total += (long)r->n;
    }
    return nrooms == ix->rooms.count ? total : -1;
}

/* ---- target resolution -------------------------------------------------------------------- */

/* Makes room for n more members in the snapshot. */
static int snap_reserve(sio_rooms *ix, size_t n)
{
    if (n > SIZE_MAX - ix->snap.n)
        return SIO_ENOMEM;
    if (ix->snap.n + n <= ix->snap.cap)
        return 0;
    return sio_array_grow(&ix->snap.v, &ix->snap.cap, ix->snap.n + n - 1, sizeof(*ix->snap.v), 64);
}

/* Appends member unless it is excluded or already picked in generation gen; room reserved. */
static void pick(sio_rooms *ix, void *member, sio_room_set *set, uint64_t gen)
{
    if (set->except == gen || set->seen == gen)
        return;
    set->seen = gen;
    ix->snap.v[ix->snap.n++] = member;
}

static int pick_room(sio_rooms *ix, const sio_room *r, uint64_t gen)
{
    if (snap_reserve(ix, r->n) < 0)
        return SIO_ENOMEM;
    for (size_t k = 0; k < r->n; k++)
        pick(ix, r->members[k].member, r->members[k].set, gen);
    return 0;
}

/* Fills the snapshot above base with q's members; no callback into the caller but all(). */
static int select_targets(sio_rooms *ix, const sio_rooms_query *q)
{
    uint64_t gen = ++ix->gen;
    for (size_t i = 0; i < q->nexcept; i++) {
        const sio_room *r = sio_map_get(&ix->rooms, q->except[i], strlen(q->except[i]));
        for (size_t k = 0; r && k < r->n; k++)
            r->members[k].set->except = gen;
    }
    if (q->nrooms == 1 && !q->nexcept) {
        /* one room, nothing excluded (a plain room broadcast): its members are distinct, so they
         * are copied without the stamps */
        const sio_room *r = sio_map_get(&ix->rooms, q->rooms[0], strlen(q->rooms[0]));
        if (!r)
            return 0;
        if (snap_reserve(ix, r->n) < 0)
            return SIO_ENOMEM;
        void **v = ix->snap.v + ix->snap.n;
        for (size_t k = 0; k < r->n; k++)
            v[k] = r->members[k].member;
        ix->snap.n += r->n;
    } else if (q->nrooms) {
        for (size_t i = 0; i < q->nrooms; i++) {
            const sio_room *r = sio_map_get(&ix->rooms, q->rooms[i], strlen(q->rooms[i]));
            if (r && pick_room(ix, r, gen) < 0)
                return SIO_ENOMEM;
        }
    } else if (q->all) {
        sio_room_set *set;
        for (void *m; (m = q->all(q->all_cursor, &set));) {
            if (snap_reserve(ix, 1) < 0)
                return SIO_ENOMEM;
            pick(ix, m, set, gen);
        }
    } else {
        sio_rooms_iter it;
        sio_rooms_iter_init(&it, ix);
        for (sio_room *r; (r = sio_rooms_iter_next(&it));)
            if (pick_room(ix, r, gen) < 0)
                return SIO_ENOMEM;
    }
    return 0;
}

long sio_rooms_resolve(sio_rooms *ix, const sio_rooms_query *q, sio_rooms_visit_cb visit, void *arg)
{
    /* Selections stack: a resolve started by a visit appends above base and truncates back to
     * its own base before returning, so ours is intact (maybe moved: index, never cache v). */
    size_t base = ix->snap.n;
    if (select_targets(ix, q) < 0) {
        ix->snap.n = base;
        return SIO_ENOMEM;
    }
    size_t end = ix->snap.n;
    const sio_rooms_hooks h = ix->hooks; /* fixed at init: read once, not per member */
    if (h.hold)
        for (size_t i = base; i < end; i++)
            h.hold(ix->snap.v[i], h.user);
    long count = 0;
    for (size_t i = base; i < end; i++) {
        void *m = ix->snap.v[i];
        if (visit(m, arg) == 0)
            count++;
        if (h.release)
            h.release(m, h.user);
    }
    assert(ix->snap.n == end && "a nested resolve did not unwind");
    ix->snap.n = base;
    return count;
}
