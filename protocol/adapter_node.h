/*
 * Internal to the adapter codec (not an API): one read interface over a JSON value or a msgpack
 * value, so each message grammar in adapter_msg.c is written once for both encodings
 * (docs/protocol-adapter.md §1.2), plus the arena that owns decoded arrays and unescaped strings.
 * Every node handed to these helpers lies inside an input that was validated first.
 */
#ifndef SIO_ADAPTER_NODE_H
#define SIO_ADAPTER_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter_msg.h"
#include "json_scan.h"
#include "msgpack.h"

/** One encoded value: JSON text or a whole msgpack value. */
typedef struct anode {
    sio_adapter_fmt fmt;
    const uint8_t *p;
    size_t n;
} anode;

typedef enum anode_kind {
    AN_NIL = 1, /* null, nil, legacy undefined (fixext1 type 0) */
    AN_BOOL,
    AN_NUM,
    AN_STR,
    AN_ARRAY,
    AN_MAP,
    AN_BIN, /* bin, legacy ext8/16/32 type 0 */
    AN_OTHER
} anode_kind;

anode_kind anode_kind_of(const anode *v);

/** Looks key up in map node m; the last duplicate wins. False when absent or m is not a map. */
bool anode_get(const anode *m, const char *key, anode *out);

/** Iterator over array elements or map values; key is set for maps (a node too). */
typedef struct anode_iter {
    sio_adapter_fmt fmt;
    sio_json_iter j;
    sio_mp_reader r;
    uint64_t left;
    bool is_map;
} anode_iter;

/** Starts iterating an array or map. Returns the member count, or -1 when v is neither. */
long long anode_iter_init(anode_iter *it, const anode *v);
/** Next member (key may be NULL); false after the last. */
bool anode_iter_next(anode_iter *it, anode *key, anode *val);

/** Integral number within int64 (JS numbers: 2.0 counts). */
bool anode_int(const anode *v, int64_t *out);
bool anode_bool(const anode *v, bool *out);
/** True when string node v equals the plain bytes s[0..n). */
bool anode_str_eq(const anode *v, const char *s, size_t n);

/** Arena: a chain of blocks freed together. *a == NULL is an empty arena. */
void *arena_alloc(void **a, size_t n);
void arena_free(void **a);

/**
 * String node to plain bytes: msgpack str and escape-free JSON strings are sliced in place,
 * escaped JSON strings are unescaped into the arena. Numbers are accepted as their decimal text
 * when numbers_ok (rooms may be numbers in JS). Returns 0, SIO_EPROTO or SIO_ENOMEM.
 */
int anode_str(const anode *v, void **arena, bool numbers_ok, sio_adapter_str *out);

#endif
