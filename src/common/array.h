/*
 * Growable arrays: a pointer, a count and a capacity, kept by the owner in its own struct. The
 * capacity doubles from a first size. The helpers take the address of the array pointer (as a
 * void *, so any element type fits); on failure they leave the array, count and capacity alone.
 */
#ifndef SIO_COMMON_ARRAY_H
#define SIO_COMMON_ARRAY_H

#include <sio/error.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/** Makes room for element n of the array *arrp (elements of elem bytes, *cap of them): doubles
 *  *cap, from first, until it exceeds n. Returns 0 or SIO_ENOMEM. */
static inline int sio_array_grow(void *arrp, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap : first;
    while (c <= n)
        c *= 2;
    if (c > SIZE_MAX / elem)
        return SIO_ENOMEM;
    void *v;
    memcpy(&v, arrp, sizeof(v));
    v = realloc(v, c * elem);
    if (!v)
        return SIO_ENOMEM;
    memcpy(arrp, &v, sizeof(v));
    *cap = c;
    return 0;
}

/** Appends a copy of the elem bytes at item to the array *arrp of *n elements. Returns 0 or
 *  SIO_ENOMEM. */
static inline int sio_array_push(void *arrp, size_t *n, size_t *cap, const void *item, size_t elem,
                                 size_t first)
{
    if (sio_array_grow(arrp, cap, *n, elem, first) < 0)
        return SIO_ENOMEM;
    char *v;
    memcpy(&v, arrp, sizeof(v));
    memcpy(v + *n * elem, item, elem);
    (*n)++;
    return 0;
}

#endif
