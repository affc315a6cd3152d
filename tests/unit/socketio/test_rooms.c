/* sio_rooms: the two-way room index and broadcast target resolution. */
#include "socketio/rooms.h"

#include <sio/error.h>

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stand-in for a socket: the caller embeds its set and, here, a refcount and a visit count. */
typedef struct member {
    int id;
    sio_room_set set;
    int refs;
    int visits;
    int freed;
} member;

static int join(sio_rooms *ix, member *m, const char *name)
{
    return sio_rooms_join(ix, m, &m->set, name, strlen(name), 100);
}

static int leave(sio_rooms *ix, member *m, const char *name)
{
    return sio_rooms_leave(ix, m, &m->set, name, strlen(name));
}

static size_t room_size(const sio_rooms *ix, const char *name)
{
    sio_room *r = sio_rooms_find(ix, name, strlen(name));
    return r ? sio_room_size(r) : 0;
}

static int in_room(const sio_rooms *ix, const member *m, const char *name)
{
    return sio_room_set_has(&m->set, sio_rooms_find(ix, name, strlen(name)));
}

/* Counts hook calls per room name ("r0".."r63"); a second create or an unmatched delete fails. */
typedef struct hook_log {
    int live[64];
    int created, deleted;
} hook_log;

static int room_number(const char *name, size_t len)
{
    cr_assert(len >= 2 && name[0] == 'r' && name[len] == 0);
    return atoi(name + 1);
}

static void on_create(const char *name, size_t len, void *user)
{
    hook_log *h = user;
    int i = room_number(name, len);
    cr_assert_eq(h->live[i], 0, "room %s created twice", name);
    h->live[i] = 1;
    h->created++;
}

static void on_delete(const char *name, size_t len, void *user)
{
    hook_log *h = user;
    int i = room_number(name, len);
    cr_assert_eq(h->live[i], 1, "room %s deleted while not live", name);
    h->live[i] = 0;
    h->deleted++;
}

Test(sio_rooms, join_and_leave_update_both_sides)
{
    sio_rooms ix;
    sio_rooms_init(&ix, NULL);
    member a = {.id = 1}, b = {.id = 2};
    cr_assert_eq(join(&ix, &a, "x"), 0);
    cr_assert_eq(join(&ix, &a, "x"), 0, "joining twice is not an error");
    cr_assert_eq(join(&ix, &b, "x"), 0);
    cr_assert_eq(join(&ix, &a, "y"), 0);
    cr_assert_eq(sio_rooms_count(&ix), 2);
    cr_assert_eq(room_size(&ix, "x"), 2);
    cr_assert_eq(sio_room_set_count(&a.set), 2);
    cr_assert(in_room(&ix, &b, "x"));
    cr_assert_not(in_room(&ix, &b, "y"));
    cr_assert_eq(sio_rooms_check(&ix), 3);

    sio_room *x = sio_rooms_find(&ix, "x", 1);
    size_t len;
    cr_assert_str_eq(sio_room_name(x, &len), "x");
    cr_assert_eq(len, 1);
    cr_assert(sio_room_member(x, 0) == &a || sio_room_member(x, 1) == &a);

    cr_assert_eq(leave(&ix, &a, "x"), 1);
    cr_assert_eq(leave(&ix, &a, "x"), 0, "leaving a room one is not in does nothing");
    cr_assert_eq(leave(&ix, &a, "nope"), 0);
    cr_assert_eq(room_size(&ix, "x"), 1);
    cr_assert_eq(sio_room_member(sio_rooms_find(&ix, "x", 1), 0), &b);
    cr_assert_str_eq(sio_room_set_name(&a.set, 0, &len), "y");

    cr_assert_eq(leave(&ix, &b, "x"), 1);
    cr_assert_null(sio_rooms_find(&ix, "x", 1), "the last leave frees the room");
    sio_rooms_leave_all(&ix, &a, &a.set);
    cr_assert_eq(sio_rooms_count(&ix), 0);
    cr_assert_eq(sio_room_set_count(&a.set), 0);
    sio_room_set_deinit(&a.set);
    sio_room_set_deinit(&b.set);
    sio_rooms_deinit(&ix);
}

Test(sio_rooms, names_are_byte_strings_of_a_given_length)
{
    sio_rooms ix;
    sio_rooms_init(&ix, NULL);
    member a = {0};
    cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, "a\0b", 3, 10), 0);
    cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, "a\0c", 3, 10), 0);
    cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, "", 0, 10), 0);
    cr_assert_eq(sio_rooms_count(&ix), 3);
    cr_assert_not_null(sio_rooms_find(&ix, "", 0));
    cr_assert_null(sio_rooms_find(&ix, "a", 1));
    size_t len;
    sio_room_name(sio_rooms_find(&ix, "a\0c", 3), &len);
    cr_assert_eq(len, 3);
    sio_rooms_leave_all(&ix, &a, &a.set);
    sio_room_set_deinit(&a.set);
    sio_rooms_deinit(&ix);
}

Test(sio_rooms, max_rooms_refuses_a_new_room_but_not_a_repeat)
{
    sio_rooms ix;
    hook_log h = {0};
    sio_rooms_hooks hooks = {.on_create = on_create, .on_delete = on_delete, .user = &h};
    sio_rooms_init(&ix, &hooks);
    member a = {0};
    cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, "r1", 2, 2), 0);
    cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, "r2", 2, 2), 0);
    cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, "r3", 2, 2), SIO_ELIMIT);
    cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, "r2", 2, 2), 0, "already in: no limit applies");
    cr_assert_null(sio_rooms_find(&ix, "r3", 2), "a refused join leaves no room behind");
    cr_assert_eq(h.created, 2, "and fires no hook");
    cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, "r3", 2, 0), SIO_ELIMIT);
    sio_rooms_leave_all(&ix, &a, &a.set);
    cr_assert_eq(h.deleted, 2);
    sio_room_set_deinit(&a.set);
    sio_rooms_deinit(&ix);
}

Test(sio_rooms, hooks_fire_once_per_room_life_and_deinit_closes_the_rest)
{
    sio_rooms ix;
    hook_log h = {0};
    sio_rooms_hooks hooks = {.on_create = on_create, .on_delete = on_delete, .user = &h};
    sio_rooms_init(&ix, &hooks);
    member a = {0}, b = {0};
    join(&ix, &a, "r1");
    join(&ix, &b, "r1");
    cr_assert_eq(h.created, 1, "the second member does not create the room again");
    leave(&ix, &a, "r1");
    cr_assert_eq(h.deleted, 0);
    leave(&ix, &b, "r1");
    cr_assert_eq(h.deleted, 1);
    join(&ix, &a, "r1");
    cr_assert_eq(h.created, 2, "a room that comes back is a new life");
    join(&ix, &a, "r2");
    join(&ix, &b, "r2");
    sio_rooms_deinit(&ix);
    cr_assert_eq(h.created, 3);
    cr_assert_eq(h.deleted, 3, "deinit ends every live room");
    cr_assert_eq(sio_room_set_count(&a.set), 0, "and empties the sets");
    cr_assert_eq(sio_room_set_count(&b.set), 0);
    sio_room_set_deinit(&a.set);
    sio_room_set_deinit(&b.set);
}

/* 10k random join/leave/leave-all operations against a plain matrix, checking after each one. */
Test(sio_rooms, random_operations_match_a_naive_model)
{
    enum { NM = 24, NR = 64, MAX = 8, OPS = 10000 };
    static member ms[NM];
    static unsigned char model[NM][NR];
    memset(ms, 0, sizeof(ms));
    memset(model, 0, sizeof(model));
    hook_log h = {0};
    sio_rooms_hooks hooks = {.on_create = on_create, .on_delete = on_delete, .user = &h};
    sio_rooms ix;
    sio_rooms_init(&ix, &hooks);
    srand(12345);
    char name[8];
    int refused = 0;
    for (int op = 0; op < OPS; op++) {
        int m = rand() % NM, r = rand() % NR, kind = rand() % 10;
        int n = snprintf(name, sizeof(name), "r%d", r);
        int count = 0;
        for (int k = 0; k < NR; k++)
            count += model[m][k];
        if (kind < 6) {
            int rc = sio_rooms_join(&ix, &ms[m], &ms[m].set, name, (size_t)n, MAX);
            if (model[m][r] || count < MAX) {
                cr_assert_eq(rc, 0);
                model[m][r] = 1;
            } else {
                cr_assert_eq(rc, SIO_ELIMIT);
                refused++;
            }
        } else if (kind < 9) {
            cr_assert_eq(sio_rooms_leave(&ix, &ms[m], &ms[m].set, name, (size_t)n), model[m][r]);
            model[m][r] = 0;
        } else {
            sio_rooms_leave_all(&ix, &ms[m], &ms[m].set);
            memset(model[m], 0, sizeof(model[m]));
        }

        long memberships = 0, expected = 0;
        size_t live_rooms = 0;
        for (int k = 0; k < NM; k++)
            memberships += (long)sio_room_set_count(&ms[k].set);
        cr_assert_eq(sio_rooms_check(&ix), memberships, "op %d: the two sides disagree", op);
        for (int j = 0; j < NR; j++) {
            n = snprintf(name, sizeof(name), "r%d", j);
            sio_room *room = sio_rooms_find(&ix, name, (size_t)n);
            size_t size = 0;
            for (int k = 0; k < NM; k++) {
                size += model[k][j];
                cr_assert_eq(sio_room_set_has(&ms[k].set, room), model[k][j]);
            }
            expected += (long)size;
            live_rooms += size > 0;
            cr_assert_eq(room ? sio_room_size(room) : 0, size);
            cr_assert_eq(h.live[j], size > 0, "op %d: hooks out of step for %s", op, name);
        }
        cr_assert_eq(memberships, expected);
        cr_assert_eq(sio_rooms_count(&ix), live_rooms);
    }
    cr_assert_gt(h.deleted, 100, "the run should end many room lives (%d)", h.deleted);
    cr_assert_gt(refused, 100, "and hit max_rooms often (%d)", refused);
    for (int k = 0; k < NM; k++) {
        sio_rooms_leave_all(&ix, &ms[k], &ms[k].set);
        sio_room_set_deinit(&ms[k].set);
    }
    cr_assert_eq(h.created, h.deleted);
    sio_rooms_deinit(&ix);
}

Test(sio_rooms, iterator_walks_every_room_once)
{
    sio_rooms ix;
    sio_rooms_init(&ix, NULL);
    member a = {0};
    char name[16];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(name, sizeof(name), "room-%d", i);
        cr_assert_eq(sio_rooms_join(&ix, &a, &a.set, name, (size_t)n, 1000), 0);
    }
    static unsigned char seen[300];
    sio_rooms_iter it;
    sio_rooms_iter_init(&it, &ix);
    int count = 0;
    for (sio_room *r; (r = sio_rooms_iter_next(&it)); count++) {
        int i = atoi(sio_room_name(r, NULL) + 5);
        cr_assert_eq(seen[i]++, 0);
    }
    cr_assert_eq(count, 300);
    sio_rooms_leave_all(&ix, &a, &a.set);
    sio_room_set_deinit(&a.set);
    sio_rooms_deinit(&ix);
}

/* ---- resolve ------------------------------------------------------------------------------ */

typedef struct fixture {
    sio_rooms ix;
    member m[16];
} fixture;

/* Sixteen members, each in its own room "m<i>" (as a socket is in the room of its id), plus
 * "even"/"odd" and "low" (0-7). */
static void fixture_init(fixture *f, const sio_rooms_hooks *hooks)
{
    memset(f, 0, sizeof(*f));
    sio_rooms_init(&f->ix, hooks);
    char name[8];
    for (int i = 0; i < 16; i++) {
        member *m = &f->m[i];
        m->id = i;
        m->refs = 1;
        snprintf(name, sizeof(name), "m%d", i);
        cr_assert_eq(join(&f->ix, m, name), 0);
        cr_assert_eq(join(&f->ix, m, i % 2 ? "odd" : "even"), 0);
        if (i < 8)
            cr_assert_eq(join(&f->ix, m, "low"), 0);
    }
}

static void fixture_deinit(fixture *f)
{
    for (int i = 0; i < 16; i++) {
        sio_rooms_leave_all(&f->ix, &f->m[i], &f->m[i].set);
        sio_room_set_deinit(&f->m[i].set);
    }
    sio_rooms_deinit(&f->ix);
}

static int count_visit(void *member_, void *arg)
{
    (void)arg;
    member *m = member_;
    cr_assert_not(m->freed, "visited a freed member");
    m->visits++;
    return 0;
}

/* Visits of each member as a bit per member, failing on any double visit. */
static unsigned visited(fixture *f)
{
    unsigned bits = 0;
    for (int i = 0; i < 16; i++) {
        cr_assert_leq(f->m[i].visits, 1, "member %d visited %d times", i, f->m[i].visits);
        if (f->m[i].visits)
            bits |= 1u << i;
        f->m[i].visits = 0;
    }
    return bits;
}

static long resolve(fixture *f, const char *const *rooms, size_t nrooms, const char *const *except,
                    size_t nexcept)
{
    sio_rooms_query q = {rooms, nrooms, except, nexcept, NULL, NULL};
    return sio_rooms_resolve(&f->ix, &q, count_visit, NULL);
}

Test(sio_rooms, resolve_visits_a_member_of_several_rooms_once)
{
    fixture f;
    fixture_init(&f, NULL);
    const char *rooms[] = {"m2", "even", "low", "even", "no-such-room"};
    cr_assert_eq(resolve(&f, rooms, 5, NULL, 0), 12);
    cr_assert_eq(visited(&f), 0x55ffu, "evens and 0-7, member 2 (in three of them) once");
    fixture_deinit(&f);
}

Test(sio_rooms, resolve_subtracts_except_rooms)
{
    fixture f;
    fixture_init(&f, NULL);
    const char *rooms[] = {"low"};
    const char *except[] = {"odd", "m4", "unknown"};
    cr_assert_eq(resolve(&f, rooms, 1, except, 3), 3);
    cr_assert_eq(visited(&f), (1u << 0) | (1u << 2) | (1u << 6));
    const char *own[] = {"m5"};
    const char *odd[] = {"odd"};
    cr_assert_eq(resolve(&f, odd, 1, own, 1), 7, "a member excepted by its own room");
    cr_assert_eq(visited(&f), 0xaaaau & ~(1u << 5));
    cr_assert_eq(resolve(&f, odd, 1, odd, 1), 0);
    cr_assert_eq(visited(&f), 0);
    fixture_deinit(&f);
}

Test(sio_rooms, resolve_without_rooms_takes_every_member_of_any_room)
{
    fixture f;
    fixture_init(&f, NULL);
    const char *except[] = {"low"};
    cr_assert_eq(resolve(&f, NULL, 0, except, 1), 8);
    cr_assert_eq(visited(&f), 0xff00u);
    cr_assert_eq(resolve(&f, NULL, 0, NULL, 0), 16);
    cr_assert_eq(visited(&f), 0xffffu);
    fixture_deinit(&f);
}

/* The caller's own list of all members, as a namespace's socket map would supply it. */
typedef struct all_cursor {
    member *v;
    int i, n;
} all_cursor;

static void *next_member(void *cursor, sio_room_set **set)
{
    all_cursor *c = cursor;
    if (c->i == c->n)
        return NULL;
    member *m = &c->v[c->i++];
    *set = &m->set;
    return m;
}

Test(sio_rooms, resolve_without_rooms_walks_the_callers_members)
{
    sio_rooms ix;
    sio_rooms_init(&ix, NULL);
    member all[17] = {{0}}; /* the last one is in no room, yet part of the namespace */
    for (int i = 0; i < 16; i++)
        cr_assert_eq(join(&ix, &all[i], i < 8 ? "low" : "high"), 0);
    all_cursor c = {all, 0, 17};
    const char *except[] = {"high"};
    sio_rooms_query q = {NULL, 0, except, 1, next_member, &c};
    cr_assert_eq(sio_rooms_resolve(&ix, &q, count_visit, NULL), 9);
    for (int i = 0; i < 17; i++)
        cr_assert_eq(all[i].visits, i < 8 || i == 16, "member %d", i);
    for (int i = 0; i < 17; i++) {
        sio_rooms_leave_all(&ix, &all[i], &all[i].set);
        sio_room_set_deinit(&all[i].set);
    }
    sio_rooms_deinit(&ix);
}

static int odd_declines(void *member_, void *arg)
{
    member *m = member_;
    (*(int *)arg)++;
    return m->id % 2 ? -1 : 0;
}

Test(sio_rooms, resolve_counts_only_visits_that_return_zero)
{
    fixture f;
    fixture_init(&f, NULL);
    const char *rooms[] = {"low"};
    sio_rooms_query q = {rooms, 1, NULL, 0, NULL, NULL};
    int calls = 0;
    cr_assert_eq(sio_rooms_resolve(&f.ix, &q, odd_declines, &calls), 4);
    cr_assert_eq(calls, 8);
    fixture_deinit(&f);
}

/* Visit that makes every member it sees leave all its rooms, and member 0's visit also removes
 * members 1..15 from "low" and "even" and joins them to a new room. */
static int leaving_visit(void *member_, void *arg)
{
    fixture *f = arg;
    member *m = member_;
    m->visits++;
    if (m->id == 0) {
        for (int i = 1; i < 16; i++) {
            leave(&f->ix, &f->m[i], "low");
            leave(&f->ix, &f->m[i], "even");
            join(&f->ix, &f->m[i], "late");
        }
    }
    sio_rooms_leave_all(&f->ix, m, &m->set);
    cr_assert_geq(sio_rooms_check(&f->ix), 0);
    return 0;
}

Test(sio_rooms, visits_may_join_and_leave_rooms_during_resolve)
{
    fixture f;
    fixture_init(&f, NULL);
    const char *rooms[] = {"low", "even", "late"};
    sio_rooms_query q = {rooms, 3, NULL, 0, NULL, NULL};
    cr_assert_eq(sio_rooms_resolve(&f.ix, &q, leaving_visit, &f), 12,
                 "the selection made before the first visit is kept");
    cr_assert_eq(visited(&f), 0x55ffu);
    cr_assert_null(sio_rooms_find(&f.ix, "low", 3));
    cr_assert_null(sio_rooms_find(&f.ix, "even", 4));
    cr_assert_eq(room_size(&f.ix, "late"), 4, "the odd members above 7 joined it and stayed");
    fixture_deinit(&f);
}

/* hold/release as a socket refcount; the visit of member 0 "disconnects" everyone else: leaves
 * all their rooms and drops the namespace's reference, which frees any not held. */
static void member_unref(member *m)
{
    if (--m->refs == 0)
        m->freed = 1;
}

static void hold(void *m, void *user)
{
    (void)user;
    ((member *)m)->refs++;
}

static void release(void *m, void *user)
{
    (void)user;
    member_unref(m);
}

static int disconnecting_visit(void *member_, void *arg)
{
    fixture *f = arg;
    member *m = member_;
    cr_assert_not(m->freed, "member %d visited after it was freed", m->id);
    m->visits++;
    for (int i = 0; m->id == 0 && i < 16; i++) {
        sio_rooms_leave_all(&f->ix, &f->m[i], &f->m[i].set);
        member_unref(&f->m[i]);
    }
    return 0;
}

Test(sio_rooms, held_members_survive_a_visit_that_disconnects_them)
{
    fixture f;
    sio_rooms_hooks hooks = {.hold = hold, .release = release};
    fixture_init(&f, &hooks);
    const char *rooms[] = {"even"};
    sio_rooms_query q = {rooms, 1, NULL, 0, NULL, NULL};
    cr_assert_eq(sio_rooms_resolve(&f.ix, &q, disconnecting_visit, &f), 8);
    cr_assert_eq(sio_rooms_count(&f.ix), 0);
    for (int i = 0; i < 16; i++) {
        cr_assert(f.m[i].freed, "member %d: the last reference went with the resolve", i);
        cr_assert_eq(f.m[i].visits, i % 2 == 0);
    }
    fixture_deinit(&f);
}

/* A visit that broadcasts again (an on_disconnect handler emitting to a room). */
static int nesting_visit(void *member_, void *arg)
{
    fixture *f = arg;
    member *m = member_;
    m->visits++;
    if (m->id == 1) {
        const char *rooms[] = {"low"};
        const char *except[] = {"odd"};
        sio_rooms_query q = {rooms, 1, except, 1, NULL, NULL};
        /* grows the shared buffer past its first size and re-stamps every member */
        for (int i = 0; i < 40; i++)
            cr_assert_eq(sio_rooms_resolve(&f->ix, &q, count_visit, NULL), 4);
    }
    return 0;
}

Test(sio_rooms, a_resolve_inside_a_visit_leaves_the_outer_one_intact)
{
    fixture f;
    fixture_init(&f, NULL);
    const char *rooms[] = {"odd", "low", "m8"};
    sio_rooms_query q = {rooms, 3, NULL, 0, NULL, NULL};
    cr_assert_eq(sio_rooms_resolve(&f.ix, &q, nesting_visit, &f), 13);
    for (int i = 0; i < 16; i++) {
        int outer = i % 2 == 1 || i < 8 || i == 8;
        int inner = i < 8 && i % 2 == 0 ? 40 : 0;
        cr_assert_eq(f.m[i].visits, outer + inner, "member %d", i);
    }
    fixture_deinit(&f);
}

Test(sio_rooms, many_rooms_and_members)
{
    enum { NM = 2000, NR = 500 };
    member *ms = calloc(NM, sizeof(*ms));
    sio_rooms ix;
    sio_rooms_init(&ix, NULL);
    char name[16];
    /* member i is in rooms i % NR, (i * 7) % NR and "all" */
    for (int i = 0; i < NM; i++) {
        int n = snprintf(name, sizeof(name), "%d", i % NR);
        cr_assert_eq(sio_rooms_join(&ix, &ms[i], &ms[i].set, name, (size_t)n, 3), 0);
        n = snprintf(name, sizeof(name), "%d", (i * 7) % NR);
        cr_assert_eq(sio_rooms_join(&ix, &ms[i], &ms[i].set, name, (size_t)n, 3), 0);
        cr_assert_eq(sio_rooms_join(&ix, &ms[i], &ms[i].set, "all", 3, 3), 0);
    }
    cr_assert_eq(sio_rooms_count(&ix), NR + 1);
    cr_assert_eq(room_size(&ix, "all"), NM);
    static char names[NR][8];
    const char *rooms[NR];
    for (int r = 0; r < NR; r++) {
        snprintf(names[r], sizeof(names[r]), "%d", r);
        rooms[r] = names[r];
    }
    const char *except[] = {"0"};
    sio_rooms_query q = {rooms, NR, except, 1, NULL, NULL};
    long expect = 0;
    for (int i = 0; i < NM; i++)
        expect += i % NR != 0 && (i * 7) % NR != 0;
    for (int round = 0; round < 3; round++)
        cr_assert_eq(sio_rooms_resolve(&ix, &q, count_visit, NULL), expect);
    for (int i = 0; i < NM; i++)
        cr_assert_eq(ms[i].visits, (i % NR != 0 && (i * 7) % NR != 0) ? 3 : 0, "member %d", i);
    for (int i = 0; i < NM; i += 2)
        sio_rooms_leave_all(&ix, &ms[i], &ms[i].set);
    cr_assert_eq(sio_rooms_check(&ix), (long)(NM / 2) * 3);
    cr_assert_eq(room_size(&ix, "all"), NM / 2);
    for (int i = 0; i < NM; i++) {
        sio_rooms_leave_all(&ix, &ms[i], &ms[i].set);
        sio_room_set_deinit(&ms[i].set);
    }
    cr_assert_eq(sio_rooms_count(&ix), 0);
    sio_rooms_deinit(&ix);
    free(ms);
}
