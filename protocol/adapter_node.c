/*
 * One read interface over JSON and msgpack values for the adapter codec (docs/protocol-adapter.md
 * §1.2). Callers validate the whole message first (sio_json_validate / sio_mp_validate), so the
 * walks here only re-read bytes already known to be well formed and inside the input.
 */
#include "adapter_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

/* Arena blocks: a header, then the payload aligned for any struct we store. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

void *arena_alloc(void **a, size_t n)
{
    arena_block *b = *a;
    size_t align = sizeof(max_align_t);

    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        arena_block *nb = malloc(sizeof(*nb) + cap);
        if (nb == NULL)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        *a = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

void arena_free(void **a)
{
    arena_block *b = *a;
    while (b != NULL) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    *a = NULL;
}

static bool mp_item(const anode *v, sio_mp_item *it)
{
    sio_mp_reader r;
    sio_mp_reader_init(&r, v->p, v->n);
    return sio_mp_read(&r, it, NULL) == 0;
}

anode_kind anode_kind_of(const anode *v)
{
    if (v->fmt == SIO_ADAPTER_FMT_JSON) {
        switch (sio_json_type_of((const char *)v->p, v->n)) {
        case SIO_JSON_NULL:
            return AN_NIL;
        case SIO_JSON_TRUE:
        case SIO_JSON_FALSE:
            return AN_BOOL;
        case SIO_JSON_NUMBER:
            return AN_NUM;
        case SIO_JSON_STRING:
            return AN_STR;
        case SIO_JSON_ARRAY:
            return AN_ARRAY;
        case SIO_JSON_OBJECT:
            return AN_MAP;
        default:
            return AN_OTHER;
        }
    }
    sio_mp_item it;
    if (!mp_item(v, &it))
        return AN_OTHER;
    switch (it.type) {
    case SIO_MP_NIL:
        return AN_NIL;
    case SIO_MP_BOOL:
        return AN_BOOL;
    case SIO_MP_UINT:
    case SIO_MP_INT:
    case SIO_MP_FLOAT32:
    case SIO_MP_FLOAT64:
        return AN_NUM;
    case SIO_MP_STR:
        return AN_STR;
    case SIO_MP_BIN:
        return AN_BIN;
    case SIO_MP_ARRAY:
        return AN_ARRAY;
    case SIO_MP_MAP:
        return AN_MAP;
    case SIO_MP_EXT:
        /* notepack 2.x: fixext1 type 0 is undefined, ext8/16/32 type 0 an ArrayBuffer (§3.3). */
        if (it.ext_type == 0 && it.marker == 0xd4)
            return AN_NIL;
        if (it.ext_type == 0 && it.marker >= 0xc7 && it.marker <= 0xc9)
            return AN_BIN;
        return AN_OTHER;
    }
    return AN_OTHER;
}

long long anode_iter_init(anode_iter *it, const anode *v)
{
    memset(it, 0, sizeof(*it));
    it->fmt = v->fmt;
    if (v->fmt == SIO_ADAPTER_FMT_JSON) {
        sio_json_type t = sio_json_type_of((const char *)v->p, v->n);
        if (t != SIO_JSON_ARRAY && t != SIO_JSON_OBJECT)
            return -1;
        it->is_map = t == SIO_JSON_OBJECT;
        sio_json_iter_init(&it->j, (const char *)v->p, v->n);
        sio_json_iter c = it->j;
        long long count = 0;
        const char *vs;
        size_t vn;
        while (sio_json_iter_next(&c, NULL, NULL, &vs, &vn) == 1)
            count++;
        return count;
    }
    sio_mp_item item;
    sio_mp_reader_init(&it->r, v->p, v->n);
    if (sio_mp_read(&it->r, &item, NULL) != 0 ||
        (item.type != SIO_MP_ARRAY && item.type != SIO_MP_MAP))
        return -1;
    it->is_map = item.type == SIO_MP_MAP;
    it->left = item.count;
    return item.count;
}

/* The msgpack value at the reader's position, as a node. */
static bool mp_next_node(sio_mp_reader *r, anode *out)
{
    size_t start = r->pos;
    if (sio_mp_skip(r, NULL) != 0)
        return false;
    out->fmt = SIO_ADAPTER_FMT_MSGPACK;
    out->p = r->p + start;
    out->n = r->pos - start;
    return true;
}

bool anode_iter_next(anode_iter *it, anode *key, anode *val)
{
    anode k;
    if (it->fmt == SIO_ADAPTER_FMT_JSON) {
        const char *ks, *vs;
        size_t kn, vn;
        if (sio_json_iter_next(&it->j, &ks, &kn, &vs, &vn) != 1)
            return false;
        k = (anode){SIO_ADAPTER_FMT_JSON, (const uint8_t *)ks, kn};
        *val = (anode){SIO_ADAPTER_FMT_JSON, (const uint8_t *)vs, vn};
    } else {
        if (it->left == 0)
            return false;
        it->left--;
        if (it->is_map && !mp_next_node(&it->r, &k))
            return false;
        if (!mp_next_node(&it->r, val))
            return false;
    }
    if (key != NULL) {
        if (it->is_map)
            *key = k;
        else
            *key = (anode){0, NULL, 0};
    }
    return true;
}

bool anode_str_eq(const anode *v, const char *s, size_t n)
{
    if (v->fmt == SIO_ADAPTER_FMT_JSON)
        return v->n > 0 && v->p[0] == '"' && sio_json_string_eq((const char *)v->p, v->n, s, n);
    sio_mp_item it;
    return mp_item(v, &it) && it.type == SIO_MP_STR && it.len == n && memcmp(it.p, s, n) == 0;
}

bool anode_get(const anode *m, const char *key, anode *out)
{
    anode_iter it;
    anode k, v;
    bool found = false;
    size_t kl = strlen(key);

    if (anode_iter_init(&it, m) < 0 || !it.is_map)
        return false;
    while (anode_iter_next(&it, &k, &v)) {
        if (anode_str_eq(&k, key, kl)) {
            *out = v;
            found = true;
        }
    }
    return found;
}

/* JSON number literal to double. The literal is validated, so strtod sees exactly JSON syntax;
 * it gets a NUL-terminated copy because the input is not terminated. */
static bool json_number(const anode *v, double *out)
{
    char buf[64];
    char *tmp = buf;
    if (v->n >= sizeof(buf) && (tmp = malloc(v->n + 1)) == NULL)
        return false;
    memcpy(tmp, v->p, v->n);
    tmp[v->n] = '\0';
    *out = strtod(tmp, NULL);
    if (tmp != buf)
        free(tmp);
    return true;
}

bool anode_int(const anode *v, int64_t *out)
{
    double d;
    if (v->fmt == SIO_ADAPTER_FMT_JSON) {
        if (sio_json_type_of((const char *)v->p, v->n) != SIO_JSON_NUMBER || !json_number(v, &d))
            return false;
    } else {
        sio_mp_item it;
        if (!mp_item(v, &it))
            return false;
        if (it.type == SIO_MP_INT) {
            *out = it.i;
            return true;
        }
        if (it.type == SIO_MP_UINT) {
            if (it.u > INT64_MAX)
                return false;
            *out = (int64_t)it.u;
            return true;
        }
        if (it.type != SIO_MP_FLOAT32 && it.type != SIO_MP_FLOAT64)
            return false;
        d = it.f;
    }
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || (double)(int64_t)d != d)
        return false;
    *out = (int64_t)d;
    return true;
}

bool anode_bool(const anode *v, bool *out)
{
    if (v->fmt == SIO_ADAPTER_FMT_JSON) {
        sio_json_type t = sio_json_type_of((const char *)v->p, v->n);
        if (t != SIO_JSON_TRUE && t != SIO_JSON_FALSE)
            return false;
        *out = t == SIO_JSON_TRUE;
        return true;
    }
    sio_mp_item it;
    if (!mp_item(v, &it) || it.type != SIO_MP_BOOL)
        return false;
    *out = it.b;
    return true;
}

int anode_str(const anode *v, void **arena, bool numbers_ok, sio_adapter_str *out)
{
    if (v->fmt == SIO_ADAPTER_FMT_JSON) {
        const char *s = (const char *)v->p;
        sio_json_type t = sio_json_type_of(s, v->n);
        if (t == SIO_JSON_NUMBER && numbers_ok) {
            *out = (sio_adapter_str){s, v->n};
            return 0;
        }
        if (t != SIO_JSON_STRING)
            return SIO_EPROTO;
        if (memchr(s, '\\', v->n) == NULL) {
            *out = (sio_adapter_str){s + 1, v->n - 2};
            return 0;
        }
        /* Unescaping never lengthens a literal (a lone surrogate's 6 bytes become 3). */
        char *buf = arena_alloc(arena, v->n);
        if (buf == NULL)
            return SIO_ENOMEM;
        ssize_t len = sio_json_string_unescape(s, v->n, buf, v->n);
        if (len < 0)
            return SIO_EPROTO;
        *out = (sio_adapter_str){buf, (size_t)len};
        return 0;
    }
    sio_mp_item it;
    if (!mp_item(v, &it))
        return SIO_EPROTO;
    if (it.type == SIO_MP_STR) {
        *out = (sio_adapter_str){(const char *)it.p, it.len};
        return 0;
    }
    int64_t i;
    if (numbers_ok && anode_int(v, &i)) {
        char *buf = arena_alloc(arena, 24);
        if (buf == NULL)
            return SIO_ENOMEM;
        int len = snprintf(buf, 24, "%lld", (long long)i);
        *out = (sio_adapter_str){buf, (size_t)len};
        return 0;
    }
    return SIO_EPROTO;
}
