/*
 * sio_map: string-keyed hash map (chained, power-of-two buckets, grows at load 1). Keys are copied
 * into each entry; values are borrowed pointers the map never frees. Deleting during a walk is
 * allowed only for the entry just returned (sio_map_iter handles it).
 */
#ifndef SIO_COMMON_MAP_H
#define SIO_COMMON_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sio_map_entry {
    struct sio_map_entry *next;
    void *value;
    uint32_t hash;
    uint32_t klen;
    char key[]; /* NUL-terminated copy */
} sio_map_entry;

typedef struct sio_map {
    sio_map_entry **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t count;
} sio_map;

void sio_map_init(sio_map *m);
/** Frees the entries (not the values). */
void sio_map_deinit(sio_map *m);
/** Frees the entries, each value first with free_value (the map is not to be used from it). */
void sio_map_deinit_with(sio_map *m, void (*free_value)(void *value));
/** Value for key, or NULL. */
void *sio_map_get(const sio_map *m, const char *key, size_t klen);
/** The entry for key (its key copy lives as long as the entry), or NULL. */
sio_map_entry *sio_map_find(const sio_map *m, const char *key, size_t klen);
/** Inserts or replaces; returns the entry, or NULL on OOM. */
sio_map_entry *sio_map_put(sio_map *m, const char *key, size_t klen, void *value);
/** Removes key; returns the old value or NULL. */
void *sio_map_del(sio_map *m, const char *key, size_t klen);

typedef struct sio_map_iter {
    const sio_map *m;
    size_t bucket;
    sio_map_entry *next;
} sio_map_iter;

void sio_map_iter_init(sio_map_iter *it, const sio_map *m);
/** Next entry or NULL. The returned entry may be deleted before the next call. */
sio_map_entry *sio_map_iter_next(sio_map_iter *it);

uint32_t sio_hash(const char *p, size_t n);

#endif
