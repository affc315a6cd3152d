/*
 * The programs' growing text buffer (text.h).
 */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for more bytes and the NUL: 0, or -1 with err set (now or before). */
static int reserve(sio_app_text *t, size_t more)
{
    if (t->err)
        return -1;
    if (t->p && t->len + more < t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 256;
    while (cap <= t->len + more)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        t->err = 1;
        return -1;
    }
    t->p = p;
    t->cap = cap;
    return 0;
}

void sio_app_text_put(sio_app_text *t, const char *s, size_t n)
{
    if (reserve(t, n) < 0)
        return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

void sio_app_text_printf(sio_app_text *t, const char *fmt, ...)
{
    /* formatted in place when it fits; else once more after growing to the size it said */
    for (int tries = 0; tries < 2 && !t->err; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->err = 1;
            return;
        }
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        reserve(t, (size_t)n);
    }
}
