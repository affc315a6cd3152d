/*
 * Timers behind a clock interface, so the layers above run on libevent in the server and on a
 * manual clock in unit tests (time moves only when the test says so: no sleeps). A timer is
 * allocated once and then armed, re-armed and stopped without allocating, which suits the hot
 * path (an ack timeout per emit). Everything runs on the loop thread.
 */
#ifndef SIO_COMMON_TIMER_H
#define SIO_COMMON_TIMER_H

#include <stdint.h>

struct event_base;

/** A time source that runs timers. Owner: whoever created it; free it after its timers. */
typedef struct sio_clock sio_clock;
/** One timer on a clock. Owner: its creator (sio_timer_new / sio_timer_free). */
typedef struct sio_timer sio_timer;

/** Called when a timer fires; the timer is no longer pending and may be re-armed or freed. */
typedef void (*sio_timer_cb)(void *arg);

/**
 * A clock on libevent timers of base (borrowed; must outlive the clock). Defined in
 * src/engine/timer_libevent.c, not in the common library, which must not depend on libevent:
 * link the engine library (engine_dep) to use it. Ties between equal deadlines fire in
 * libevent's order. Returns NULL on OOM.
 */
sio_clock *sio_clock_libevent(struct event_base *base);

/** A clock whose time starts at start_ms and moves only through sio_clock_advance. NULL on OOM. */
sio_clock *sio_clock_manual(uint64_t start_ms);

/**
 * Manual clocks only: moves time forward by ms, firing every timer due by then in deadline
 * order, ties in the order they were started. Timers armed by callbacks run in the same call if
 * they fall due by the new time, so a callback that re-arms its own timer for 0 ms every time
 * keeps this from returning. While a callback runs, now_ms is that timer's deadline.
 */
void sio_clock_advance(sio_clock *c, uint64_t ms);

/** Frees the clock. Every timer on it must have been freed. NULL is a no-op. */
void sio_clock_free(sio_clock *c);

/** Monotonic milliseconds (manual: the simulated time; libevent: CLOCK_MONOTONIC). */
uint64_t sio_clock_now_ms(const sio_clock *c);

/** A stopped timer on c that calls cb(arg) when it fires (arg borrowed). NULL on OOM. */
sio_timer *sio_timer_new(sio_clock *c, sio_timer_cb cb, void *arg);

/**
 * Arms t to fire ms from now, replacing any earlier deadline. 0 runs it soon but never inside
 * this call: libevent, at the next loop iteration; manual, at the next sio_clock_advance (even
 * advance(0)). Never allocates here; the libevent clock relies on libevent, whose timer heap can
 * grow, and if that fails the timer stays disarmed (sio_timer_pending returns 0).
 */
void sio_timer_start(sio_timer *t, uint64_t ms);

/** Disarms t; no-op when not pending. */
void sio_timer_stop(sio_timer *t);

/** 1 when t is armed and has not fired yet, else 0. */
int sio_timer_pending(const sio_timer *t);

/** Stops and frees t; safe from inside its own callback. NULL is a no-op. */
void sio_timer_free(sio_timer *t);

#endif
