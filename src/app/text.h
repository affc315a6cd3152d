/*
 * A growing text buffer of the programs: the /metrics body (metrics.c and the sources the program
 * adds) and the JSON answers of the reference server. The text stays NUL-terminated; after a
 * failed allocation err is set and every later append is a no-op, so a writer checks once at
 * the end.
 */
#ifndef SIO_APP_TEXT_H
#define SIO_APP_TEXT_H

#include <stddef.h>

/** Start from {0}; free p when done. */
typedef struct sio_app_text {
    char *p;
    size_t len, cap;
    int err;
} sio_app_text;

/** Appends s[0..n). */
void sio_app_text_put(sio_app_text *t, const char *s, size_t n);
/** Appends the formatted text. */
void sio_app_text_printf(sio_app_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
