/*
 * The libevent clock of common/timer.h. It lives in the engine library because src/common stays
 * free of libevent (docs/architecture.md). Each timer embeds its struct event in its own
 * allocation (event_assign), so a timer costs one malloc for its whole life. Durations used again
 * and again (ack and heartbeat timeouts) go through libevent common timeouts, which keep equal
 * durations in a FIFO instead of the timer heap.
 */
#include "common/timer_impl.h"

#include <event2/event.h>

#include <stdlib.h>
#include <time.h>

/* libevent allows 256 common timeouts per base; a few distinct durations cover the server's
 * timers, and other durations use the ordinary heap. */
#define COMMON_MAX 8

typedef struct event_clock {
    sio_clock base;
    struct event_base *eb;
    struct {
        uint64_t ms;
        const struct timeval *tv;
    } common[COMMON_MAX];
    size_t ncommon;
} event_clock;

static void fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    sio_timer *t = arg;
    t->pending = 0;
    t->cb(t->arg); /* may free t: nothing touches it afterwards */
}

static struct event *ev_of(sio_timer *t)
{
    return (struct event *)(void *)t->impl;
}

static int ev_timer_init(sio_timer *t)
{
    event_clock *c = (event_clock *)t->clock;
    return event_assign(ev_of(t), c->eb, -1, 0, fire, t);
}

/* The common-timeout timeval for ms, registering it while there is room; NULL otherwise. */
static const struct timeval *common_tv(event_clock *c, uint64_t ms)
{
    for (size_t i = 0; i < c->ncommon; i++)
        if (c->common[i].ms == ms)
            return c->common[i].tv;
    if (c->ncommon == COMMON_MAX)
        return NULL;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    const struct timeval *ct = event_base_init_common_timeout(c->eb, &tv);
    if (ct) {
        c->common[c->ncommon].ms = ms;
        c->common[c->ncommon++].tv = ct;
    }
    return ct;
}

static void ev_timer_start(sio_timer *t, uint64_t ms)
{
    event_clock *c = (event_clock *)t->clock;
    const struct timeval *tv = ms ? common_tv(c, ms) : NULL;
    struct timeval plain = {.tv_sec = (time_t)(ms / 1000),
                            .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    /* event_add on a pending event re-arms it with the new timeout. It fails only when libevent
     * cannot grow its timer heap; the timer then stays disarmed, which pending reports. */
    t->pending = event_add(ev_of(t), tv ? tv : &plain) == 0;
}

static void ev_timer_stop(sio_timer *t)
{
    event_del(ev_of(t));
    t->pending = 0;
}

static uint64_t ev_now_ms(const sio_clock *c)
{
    (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const sio_clock_ops event_ops = {
    .timer_init = ev_timer_init,
    .timer_start = ev_timer_start,
    .timer_stop = ev_timer_stop,
    .now_ms = ev_now_ms,
};

sio_clock *sio_clock_libevent(struct event_base *base)
{
    event_clock *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = &event_ops;
    c->base.timer_extra = event_get_struct_event_size(); /* the size of this libevent build */
    c->eb = base;
    return &c->base;
}
