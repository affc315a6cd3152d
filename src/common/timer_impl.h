/*
 * The clock interface behind timer.h, for clock implementations only (timer.c has the manual
 * clock, src/engine/timer_libevent.c the libevent one). Callers use timer.h.
 */
#ifndef SIO_COMMON_TIMER_IMPL_H
#define SIO_COMMON_TIMER_IMPL_H

#include "timer.h"

#include <stddef.h>

typedef struct sio_clock_ops {
    int (*timer_init)(sio_timer *t);                /* may be NULL; < 0 fails sio_timer_new */
    void (*timer_start)(sio_timer *t, uint64_t ms); /* sets t->pending */
    void (*timer_stop)(sio_timer *t);               /* only called when t->pending; clears it */
    uint64_t (*now_ms)(const sio_clock *c);
    void (*deinit)(sio_clock *c); /* may be NULL; releases what the clock holds, not the clock:
                                     sio_clock_free frees that */
} sio_clock_ops;

/* The first member of each implementation's clock (one allocation, freed by sio_clock_free). */
struct sio_clock {
    const sio_clock_ops *ops;
    size_t timer_extra; /* bytes of sio_timer.impl each timer needs */
    size_t ntimers;     /* live timers, to catch a clock freed under them */
};

struct sio_timer {
    sio_clock *clock;
    sio_timer_cb cb;
    void *arg;
    int pending;
    uint64_t deadline;  /* manual clock: when it fires */
    uint64_t seq;       /* manual clock: start order, breaks deadline ties */
    size_t heap_idx;    /* manual clock: position in the heap while pending */
    max_align_t impl[]; /* clock->timer_extra bytes for the implementation */
};

#endif
