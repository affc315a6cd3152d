/* sio_map: chained string hash map (see map.h), hashing a word at a time; keys are short ids and
 * room names. */
#include "map.h"

#include <stdlib.h>
#include <string.h>

/* Eight bytes per multiply (room names such as "conversation:<uuid>" are 49 bytes, which FNV-1a
 * took a multiply per byte for); the tail is read as one zero-padded word. */
uint32_t sio_hash(const char *p, size_t n)
{
    const uint64_t k1 = 0xff51afd7ed558ccdull, k2 = 0xc4ceb9fe1a85ec53ull;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * k1;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * k2;
    h ^= h >> 29;
    return (uint32_t)h;
}

void sio_map_init(sio_map *m)
{
    m->buckets = NULL;
    m->nbuckets = 0;
    m->count = 0;
}

void sio_map_deinit_with(sio_map *m, void (*free_value)(void *value))
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        sio_map_entry *e = m->buckets[i];
        while (e) {
            sio_map_entry *next = e->next;
            if (free_value)
                free_value(e->value);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    sio_map_init(m);
}

void sio_map_deinit(sio_map *m)
{
    sio_map_deinit_with(m, NULL);
}

sio_map_entry *sio_map_find(const sio_map *m, const char *key, size_t klen)
{
    if (!m->nbuckets)
        return NULL;
    uint32_t h = sio_hash(key, klen);
    for (sio_map_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

void *sio_map_get(const sio_map *m, const char *key, size_t klen)
{
    sio_map_entry *e = sio_map_find(m, key, klen);
    return e ? e->value : NULL;
}

static int grow(sio_map *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    sio_map_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        sio_map_entry *e = m->buckets[i];
        while (e) {
            sio_map_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

sio_map_entry *sio_map_put(sio_map *m, const char *key, size_t klen, void *value)
{
    sio_map_entry *e = sio_map_find(m, key, klen);
    if (e) {
        e->value = value;
        return e;
    }
    if (klen > UINT32_MAX || (m->count >= m->nbuckets && grow(m) < 0))
        return NULL;
    e = malloc(sizeof(*e) + klen + 1);
    if (!e)
        return NULL;
    e->hash = sio_hash(key, klen);
    e->klen = (uint32_t)klen;
    memcpy(e->key, key, klen);
    e->key[klen] = 0;
    e->value = value;
    e->next = m->buckets[e->hash & (m->nbuckets - 1)];
    m->buckets[e->hash & (m->nbuckets - 1)] = e;
    m->count++;
    return e;
}

void *sio_map_del(sio_map *m, const char *key, size_t klen)
{
    if (!m->nbuckets)
        return NULL;
    uint32_t h = sio_hash(key, klen);
    sio_map_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        sio_map_entry *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            void *v = e->value;
            *pp = e->next;
            free(e);
            m->count--;
            return v;
        }
    }
    return NULL;
}

void sio_map_iter_init(sio_map_iter *it, const sio_map *m)
{
    it->m = m;
    it->bucket = 0;
    it->next = NULL;
}

sio_map_entry *sio_map_iter_next(sio_map_iter *it)
{
    while (!it->next) {
        if (it->bucket >= it->m->nbuckets)
            return NULL;
        it->next = it->m->buckets[it->bucket++];
    }
    sio_map_entry *e = it->next;
    it->next = e->next;
    return e;
}
