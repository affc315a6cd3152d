/* sio_map: chained string hash map (see map.h). FNV-1a hashing; keys are short ids and room names.
 */
#include "map.h"

#include <stdlib.h>
#include <string.h>

uint32_t sio_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
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
