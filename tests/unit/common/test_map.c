/* sio_map and sio_buf: the containers everything else stands on. */
#include "common/buf.h"
#include "common/map.h"
#include "common/rand.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(sio_map, put_get_replace_and_delete_many_keys)
{
    sio_map m;
    sio_map_init(&m);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof(key), "room:%d", i);
        cr_assert_not_null(sio_map_put(&m, key, (size_t)n, (void *)(intptr_t)(i + 1)));
    }
    cr_assert_eq(m.count, 5000);
    cr_assert_eq((intptr_t)sio_map_get(&m, "room:4242", 9), 4243);
    sio_map_put(&m, "room:7", 6, (void *)(intptr_t)99);
    cr_assert_eq(m.count, 5000);
    cr_assert_eq((intptr_t)sio_map_get(&m, "room:7", 6), 99);
    for (int i = 0; i < 5000; i += 2) {
        int n = snprintf(key, sizeof(key), "room:%d", i);
        cr_assert_not_null(sio_map_del(&m, key, (size_t)n));
    }
    cr_assert_eq(m.count, 2500);
    cr_assert_null(sio_map_get(&m, "room:0", 6));
    cr_assert_null(sio_map_del(&m, "room:0", 6));
    sio_map_deinit(&m);
}

static int values_freed;

static void count_free(void *v)
{
    values_freed++;
    free(v);
}

Test(sio_map, deinit_with_frees_every_value_once)
{
    sio_map m;
    sio_map_init(&m);
    char key[32];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i);
        cr_assert_not_null(sio_map_put(&m, key, (size_t)n, malloc(8)));
    }
    values_freed = 0;
    sio_map_deinit_with(&m, count_free);
    cr_assert_eq(values_freed, 100);
    cr_assert_eq(m.count, 0);
    cr_assert_null(sio_map_get(&m, "k1", 2));
    sio_map_deinit(&m); /* an empty map again: a no-op */
}

Test(sio_map, keys_with_nul_bytes_are_distinct)
{
    sio_map m;
    sio_map_init(&m);
    sio_map_put(&m, "a\0b", 3, (void *)1);
    sio_map_put(&m, "a\0c", 3, (void *)2);
    cr_assert_eq((intptr_t)sio_map_get(&m, "a\0b", 3), 1);
    cr_assert_eq((intptr_t)sio_map_get(&m, "a\0c", 3), 2);
    cr_assert_null(sio_map_get(&m, "a", 1));
    sio_map_deinit(&m);
}

Test(sio_map, deleting_the_entry_just_visited_keeps_the_walk_going)
{
    sio_map m;
    sio_map_init(&m);
    char key[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(key, sizeof(key), "%d", i);
        sio_map_put(&m, key, (size_t)n, NULL);
    }
    sio_map_iter it;
    sio_map_iter_init(&it, &m);
    int seen = 0;
    for (sio_map_entry *e; (e = sio_map_iter_next(&it)); seen++)
        sio_map_del(&m, e->key, e->klen);
    cr_assert_eq(seen, 100);
    cr_assert_eq(m.count, 0);
    sio_map_deinit(&m);
}

Test(sio_buf, last_unref_frees_and_counters_track_it)
{
    size_t live = sio_buf_live_count();
    sio_buf *b = sio_buf_from("hello", 5);
    cr_assert_eq(sio_buf_live_count(), live + 1);
    sio_buf_ref(b);
    sio_buf_unref(b);
    cr_assert_eq(sio_buf_live_count(), live + 1);
    cr_assert_eq(sio_buf_data(b)[5], 0, "NUL-terminated");
    sio_buf_unref(b);
    cr_assert_eq(sio_buf_live_count(), live);
}

Test(sio_id, ids_are_twenty_url_safe_chars_and_differ)
{
    char a[SIO_ID_LEN + 1], b[SIO_ID_LEN + 1];
    cr_assert_eq(sio_id_generate(a), 0);
    cr_assert_eq(sio_id_generate(b), 0);
    cr_assert_eq(strlen(a), 20);
    cr_assert_neq(strcmp(a, b), 0);
    for (int i = 0; i < 20; i++)
        cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
}

/* The longest bucket chain once n keys made by key_of are in the map. */
static size_t longest_chain(int n, int (*key_of)(char *buf, size_t cap, int i))
{
    sio_map m;
    sio_map_init(&m);
    char key[64];
    for (int i = 0; i < n; i++) {
        int len = key_of(key, sizeof(key), i);
        cr_assert_not_null(sio_map_put(&m, key, (size_t)len, (void *)(intptr_t)1));
    }
    size_t longest = 0;
    for (size_t b = 0; b < m.nbuckets; b++) {
        size_t chain = 0;
        for (sio_map_entry *e = m.buckets[b]; e; e = e->next)
            chain++;
        longest = chain > longest ? chain : longest;
    }
    sio_map_deinit(&m);
    return longest;
}

static int room_key(char *buf, size_t cap, int i)
{
    return snprintf(buf, cap, "room:%d", i);
}

/* Conversation rooms differ only in the last digits of a 49-byte name: the hash's tail word. */
static int conversation_key(char *buf, size_t cap, int i)
{
    return snprintf(buf, cap, "conversation:00000000-0000-4000-8000-%012d", i);
}

/* Keys that differ only in their first eight bytes, and lengths that are multiples of eight. */
static int head_key(char *buf, size_t cap, int i)
{
    return snprintf(buf, cap, "%08d:org:0123456", i);
}

/* The map hashes a word at a time: keys the server makes (sequential room names, UUID rooms
 * differing in their tail, keys differing in their first word) still spread over the buckets
 * (at most one key per bucket on average; a chain of 12 would mean a bad hash). */
Test(sio_map, hash_spreads_keys_that_differ_in_one_word)
{
    cr_expect_leq(longest_chain(20000, room_key), 12);
    cr_expect_leq(longest_chain(20000, conversation_key), 12);
    cr_expect_leq(longest_chain(20000, head_key), 12);
}
