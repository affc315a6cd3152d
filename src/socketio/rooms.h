/*
 * sio_rooms: the two-way room index of one namespace (room -> members, member -> rooms) and the
 * broadcast target resolution on top of it (rooms minus except rooms, each member once). Pure:
 * libc and src/common only; members are opaque pointers and know nothing of sockets or the loop.
 * Costs: join and leave O(1) (swap-remove with index fix-up on both sides), leave-all O(rooms of
 * the member), resolve O(members of the named rooms) with no allocation once warmed up.
 * Everything runs on one thread; nothing here is thread-safe.
 */
#ifndef SIO_SOCKETIO_ROOMS_H
#define SIO_SOCKETIO_ROOMS_H

#include "common/map.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sio_room sio_room;

/**
 * The rooms of one member, embedded by the caller in its member struct (the socket). Zero (or
 * sio_room_set_init) is the empty set. Belongs to at most one index at a time. seen and except
 * are resolve's generation stamps: private to rooms.c, kept here so that a broadcast never looks
 * anything up per member.
 */
typedef struct sio_room_set {
    struct sio_room_slot *v;
    size_t n, cap;
    uint64_t seen;   /* last resolve generation that selected the member */
    uint64_t except; /* last resolve generation that excluded the member */
} sio_room_set;

/**
 * Notifications and member references. Every field may be NULL.
 * - on_create / on_delete: a room came into being (its first member joined) or ended (its last
 *   member left, or deinit). Each fires exactly once per room life, create before delete (Node's
 *   create-room / delete-room; a sharded cluster adapter subscribes and unsubscribes there). name
 *   is NUL-terminated and borrowed for the call. They must not call into the index.
 * - hold / release: resolve holds each selected member before the first visit and releases it
 *   after its own visit, so that a visit which frees other members (a disconnect dropping the last
 *   reference) cannot leave a dangling pointer in the snapshot. hold must not call into the index;
 *   release may (it may free the member, which then leaves all its rooms).
 */
typedef struct sio_rooms_hooks {
    void (*on_create)(const char *name, size_t len, void *user);
    void (*on_delete)(const char *name, size_t len, void *user);
    void (*hold)(void *member, void *user);
    void (*release)(void *member, void *user);
    void *user;
} sio_rooms_hooks;

/** The index of one namespace: caller storage, sio_rooms_init / sio_rooms_deinit. Fields are
 *  private. */
typedef struct sio_rooms {
    sio_map rooms; /* name -> sio_room (the entry's key is the room's name) */
    sio_rooms_hooks hooks;
    uint64_t gen; /* resolve generation, stamped on sio_room_set */
    struct {
        void **v; /* members selected by resolve; nested resolves push above their caller's */
        size_t n, cap;
    } snap;
} sio_rooms;

/** Starts an empty index. hooks may be NULL (no notifications, no holds); it is copied. */
void sio_rooms_init(sio_rooms *ix, const sio_rooms_hooks *hooks);

/**
 * Frees every room, firing on_delete for each, and empties every member's set, so the members
 * need no further leave (they still own their set's array: sio_room_set_deinit). Must not run
 * during a resolve of this index.
 */
void sio_rooms_deinit(sio_rooms *ix);

/**
 * Adds member (whose embedded set is set) to room name[0..len). Creates the room if needed,
 * firing on_create after the member is in. Returns 0, also when it was already a member;
 * SIO_ELIMIT when set already holds max_rooms rooms; SIO_ENOMEM. On error nothing changed and no
 * hook ran. O(1) amortised, plus O(min(rooms of member, members of room)) for the duplicate test.
 */
int sio_rooms_join(sio_rooms *ix, void *member, sio_room_set *set, const char *name, size_t len,
                   size_t max_rooms);

/**
 * Removes member from room name[0..len); the last member's leave frees the room (on_delete fires
 * first). Returns 1 when the member left, 0 when it was not in the room (nothing happens).
 */
int sio_rooms_leave(sio_rooms *ix, void *member, sio_room_set *set, const char *name, size_t len);

/** Removes member from every room of set. O(rooms of the member). */
void sio_rooms_leave_all(sio_rooms *ix, void *member, sio_room_set *set);

/** Number of rooms. */
size_t sio_rooms_count(const sio_rooms *ix);

/** The room called name[0..len), or NULL. Borrowed: valid until its last member leaves. */
sio_room *sio_rooms_find(const sio_rooms *ix, const char *name, size_t len);

/** Number of members of r (never 0: an empty room does not exist). */
size_t sio_room_size(const sio_room *r);

/** Member i of r, i < sio_room_size(r). Order is unspecified and changes when members leave. */
void *sio_room_member(const sio_room *r, size_t i);

/** The room's name, NUL-terminated; *len (if not NULL) gets its length. Borrowed like r. */
const char *sio_room_name(const sio_room *r, size_t *len);

/** Starts an empty set (the same as zero-initialising it). */
void sio_room_set_init(sio_room_set *set);

/** Frees the set's array. The set must be empty (sio_rooms_leave_all, or sio_rooms_deinit). */
void sio_room_set_deinit(sio_room_set *set);

/** Whether the member owning set is in r. O(min(rooms of member, members of r)). */
int sio_room_set_has(const sio_room_set *set, const sio_room *r);

/** Number of rooms the member is in. */
size_t sio_room_set_count(const sio_room_set *set);

/** Room i of the member, i < sio_room_set_count(set). Order is unspecified and changes on leave. */
sio_room *sio_room_set_room(const sio_room_set *set, size_t i);

/** Name of room i of the member (sio_room_name of sio_room_set_room). */
const char *sio_room_set_name(const sio_room_set *set, size_t i, size_t *len);

/** A walk over every room (Node's allRooms). The index must not change during the walk. */
typedef struct sio_rooms_iter {
    sio_map_iter it;
} sio_rooms_iter;

void sio_rooms_iter_init(sio_rooms_iter *it, const sio_rooms *ix);
/** The next room, or NULL at the end. */
sio_room *sio_rooms_iter_next(sio_rooms_iter *it);

/**
 * The caller's walk over all its members, used by resolve when no room is named (a broadcast to
 * the whole namespace): returns the next member and sets *set to its embedded set, or returns
 * NULL at the end. cursor is the query's all_cursor. It must not call into the index.
 */
typedef void *(*sio_rooms_next_cb)(void *cursor, sio_room_set **set);

/** Called once per selected member; return 0 if it counts as a recipient. */
typedef int (*sio_rooms_visit_cb)(void *member, void *arg);

/**
 * A broadcast target: members in any of rooms minus members in any of except (names are
 * NUL-terminated; unknown names match nobody). With nrooms == 0 the candidates are the members
 * all() yields, or, when all is NULL, every member of any room. Borrowed for the call.
 */
typedef struct sio_rooms_query {
    const char *const *rooms;
    size_t nrooms;
    const char *const *except;
    size_t nexcept;
    sio_rooms_next_cb all;
    void *all_cursor;
} sio_rooms_query;

/**
 * Calls visit once for each member q selects. Returns how many visits returned 0, or
 * SIO_ENOMEM (then no visit ran).
 *
 * The selection is complete before the first visit: members are stamped with a fresh generation
 * (set->except for except rooms, set->seen for the picked ones) and copied into a buffer the
 * index keeps and reuses, so a broadcast allocates only when it selects more members than any
 * before it. Visits therefore see a fixed list: a visit may join, leave, leave-all, disconnect,
 * or start another resolve on this index (nested resolves stack their selections). A member that
 * leaves the target during the walk is still visited if it was selected, so visit checks whether
 * the member is still live (a disconnected socket). Without hold/release hooks, a visit must not
 * free members other than its own.
 */
long sio_rooms_resolve(sio_rooms *ix, const sio_rooms_query *q, sio_rooms_visit_cb visit,
                       void *arg);

/**
 * Checks the index's invariants from the room side (every member entry and the set slot it
 * names point at each other; no empty room; names match their map keys). Returns the number of
 * member entries (memberships), or -1 at the first broken invariant. O(memberships): for tests
 * and debug builds.
 */
long sio_rooms_check(const sio_rooms *ix);

#endif
