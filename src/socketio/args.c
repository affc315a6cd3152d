/*
 * Event and ack arguments (docs/protocol.md §2.4-2.5): accessors over a packet's JSON array and
 * its attachments, and heap copies kept past the packet (broadcast and cluster ack answers).
 */
#include "internal.h"

#include "json_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Everything but the argument slices. */
static void args_base(sio_args *a, const char *data, size_t len, size_t first, sio_buf *const *bins,
                      size_t nbins)
{
    a->data = data ? data : "[]";
    a->data_len = data ? len : 2;
    a->first = first;
    a->argc = 0;
    a->bins = bins;
    a->nbins = nbins;
    a->array = NULL;
    a->array_len = 0;
}

int sio_args_init(sio_args *a, const char *data, size_t len, size_t first, sio_buf *const *bins,
                  size_t nbins)
{
    args_base(a, data, len, first, bins, nbins);
    sio_json_iter it;
    if (sio_json_iter_init(&it, a->data, a->data_len) < 0)
        return SIO_EINVAL;
    const char *k, *v;
    size_t kn, vn, idx = 0;
    while (sio_json_iter_next(&it, &k, &kn, &v, &vn) == 1) {
        if (idx++ < first)
            continue;
        if (a->argc < sizeof(a->argv) / sizeof(a->argv[0])) {
            a->argv[a->argc].p = v;
            a->argv[a->argc].n = vn;
        }
        a->argc++;
    }
    return 0;
}

void sio_args_init_packet(sio_args *a, const sio_packet *p, size_t first, sio_buf *const *bins,
                          size_t nbins)
{
    args_base(a, p->data, p->data_len, first, bins, nbins);
    if (p->nelems <= first)
        return;
    a->argc = p->nelems - first;
    size_t stored = p->nelems < SIO_PACKET_INDEXED ? p->nelems : SIO_PACKET_INDEXED;
    for (size_t k = first, i = 0; k < stored && i < sizeof(a->argv) / sizeof(a->argv[0]);
         k++, i++) {
        a->argv[i].p = p->data + p->elems[k].off;
        a->argv[i].n = p->elems[k].len;
    }
}

void sio_args_deinit(sio_args *a)
{
    free(a->array);
}

size_t sio_args_count(const sio_args *a)
{
    return a->argc;
}

const char *sio_args_json(const sio_args *a, size_t i, size_t *len)
{
    if (i >= a->argc || i >= sizeof(a->argv) / sizeof(a->argv[0]))
        return NULL;
    *len = a->argv[i].n;
    return a->argv[i].p;
}

const char *sio_args_array(const sio_args *a, size_t *len)
{
    if (a->first == 0) {
        *len = a->data_len;
        return a->data;
    }
    sio_args *m = (sio_args *)(uintptr_t)a; /* lazily cached: logically const */
    if (!m->array) {
        const char *start = a->argc ? a->argv[0].p : NULL;
        const char *end = a->data + a->data_len;
        while (end > a->data && end[-1] != ']')
            end--;
        size_t inner = start ? (size_t)(end - 1 - start) : 0;
        m->array = malloc(inner + 3);
        if (!m->array)
            return NULL;
        m->array[0] = '[';
        if (inner)
            memcpy(m->array + 1, start, inner);
        m->array[inner + 1] = ']';
        m->array[inner + 2] = 0;
        m->array_len = inner + 2;
    }
    *len = m->array_len;
    return m->array;
}

long sio_args_string(const sio_args *a, size_t i, char *buf, size_t cap)
{
    size_t n;
    const char *v = sio_args_json(a, i, &n);
    if (!v || sio_json_type_of(v, n) != SIO_JSON_STRING)
        return SIO_EINVAL;
    ssize_t r = sio_json_string_unescape(v, n, buf, cap);
    return r < 0 ? SIO_ELIMIT : (long)r;
}

int sio_args_int(const sio_args *a, size_t i, long long *out)
{
    size_t n;
    const char *v = sio_args_json(a, i, &n);
    if (!v || sio_json_type_of(v, n) != SIO_JSON_NUMBER)
        return SIO_EINVAL;
    char tmp[32];
    if (n >= sizeof(tmp))
        return SIO_EINVAL;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    char *end;
    long long x = strtoll(tmp, &end, 10);
    if (*end)
        return SIO_EINVAL;
    *out = x;
    return 0;
}

size_t sio_args_binary_count(const sio_args *a)
{
    return a->nbins;
}

const void *sio_args_binary(const sio_args *a, size_t n, size_t *len)
{
    if (n >= a->nbins)
        return NULL;
    *len = a->bins[n]->len;
    return sio_buf_data(a->bins[n]);
}

int sio_args_binary_index(const sio_args *a, size_t i)
{
    size_t n;
    const char *v = sio_args_json(a, i, &n);
    if (!v || sio_json_type_of(v, n) != SIO_JSON_OBJECT)
        return -1;
    sio_json_iter it;
    const char *k, *val;
    size_t kn, vn;
    int is_ph = 0;
    uint64_t num = UINT64_MAX;
    sio_json_iter_init(&it, v, n);
    while (sio_json_iter_next(&it, &k, &kn, &val, &vn) == 1) {
        if (sio_json_string_eq(k, kn, "_placeholder", 12))
            is_ph = vn == 4 && !memcmp(val, "true", 4);
        else if (sio_json_string_eq(k, kn, "num", 3))
            sio_json_uint(val, vn, &num);
    }
    return is_ph && num < a->nbins ? (int)num : -1;
}

/* ---- copies ------------------------------------------------------------------------------- */

sio_args *sio_args_copy(const char *data, size_t len, sio_buf *const *bins, size_t nbins)
{
    sio_args *a = malloc(sizeof(*a));
    char *d = malloc(len + 1);
    sio_buf **b = nbins ? malloc(nbins * sizeof(*b)) : NULL;
    if (!a || !d || (nbins && !b)) {
        free(a);
        free(d);
        free(b);
        return NULL;
    }
    if (len)
        memcpy(d, data, len);
    d[len] = 0;
    for (size_t i = 0; i < nbins; i++)
        b[i] = sio_buf_ref(bins[i]);
    sio_args_init(a, d, len, 0, b, nbins);
    return a;
}

sio_args *sio_args_copy_bins(const char *data, size_t len, const sio_bin *bins, size_t nbins)
{
    sio_buf *tmp[SIO_BINARY_MAX_ATTACHMENTS] = {0};
    if (nbins > SIO_BINARY_MAX_ATTACHMENTS)
        return NULL;
    size_t made = 0;
    for (; made < nbins; made++) {
        tmp[made] = sio_buf_from(bins[made].data, bins[made].len);
        if (!tmp[made])
            break;
        tmp[made]->binary = 1;
    }
    sio_args *a = made == nbins ? sio_args_copy(data, len, tmp, nbins) : NULL;
    for (size_t i = 0; i < made; i++)
        sio_buf_unref(tmp[i]);
    return a;
}

void sio_args_free(sio_args *a)
{
    if (!a)
        return;
    for (size_t b = 0; b < a->nbins; b++)
        sio_buf_unref((sio_buf *)a->bins[b]);
    free((void *)a->bins);
    free((char *)a->data);
    sio_args_deinit(a);
    free(a);
}

void sio_args_free_all(sio_args **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sio_args_free(v[i]);
    free(v);
}
