/*
 * Timer front end (timer.h) and the manual clock: a binary min-heap of pending timers ordered by
 * (deadline, start sequence). The heap's array is sized when a timer is created, so arming never
 * allocates; advance pops due timers one by one, so callbacks may arm, stop or free any timer.
 */
#include "timer_impl.h"

#include "array.h"

#include <assert.h>
#include <stdlib.h>

typedef struct manual_clock {
    sio_clock base;
    uint64_t now;
    uint64_t seq;
    sio_timer **heap; /* pending timers; capacity >= base.ntimers */
    size_t n, cap;
} manual_clock;

static const sio_clock_ops manual_ops;

/* ---- front end ---------------------------------------------------------------------------- */

sio_timer *sio_timer_new(sio_clock *c, sio_timer_cb cb, void *arg)
{
    sio_timer *t = calloc(1, sizeof(*t) + c->timer_extra);
    if (!t)
        return NULL;
    t->clock = c;
    t->cb = cb;
    t->arg = arg;
    if (c->ops->timer_init && c->ops->timer_init(t) < 0) {
        free(t);
        return NULL;
    }
    c->ntimers++;
    return t;
}

void sio_timer_start(sio_timer *t, uint64_t ms)
{
    t->clock->ops->timer_start(t, ms);
}

void sio_timer_stop(sio_timer *t)
{
    if (t->pending)
        t->clock->ops->timer_stop(t);
}

int sio_timer_pending(const sio_timer *t)
{
    return t->pending;
}

void sio_timer_free(sio_timer *t)
{
    if (!t)
        return;
    sio_timer_stop(t);
    t->clock->ntimers--;
    free(t);
}

uint64_t sio_clock_now_ms(const sio_clock *c)
{
    return c->ops->now_ms(c);
}

void sio_clock_free(sio_clock *c)
{
    if (!c)
        return;
    assert(c->ntimers == 0 && "timers outlive their clock");
    if (c->ops->deinit)
        c->ops->deinit(c);
    free(c);
}

/* ---- manual clock ------------------------------------------------------------------------- */

static int before(const sio_timer *a, const sio_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(manual_clock *m, size_t i, sio_timer *t)
{
    m->heap[i] = t;
    t->heap_idx = i;
}

/* Moves the timer at i to its place, up or down. */
static void heap_fix(manual_clock *m, size_t i)
{
    sio_timer *t = m->heap[i];
    while (i > 0 && before(t, m->heap[(i - 1) / 2])) {
        heap_set(m, i, m->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m->n)
            break;
        if (c + 1 < m->n && before(m->heap[c + 1], m->heap[c]))
            c++;
        if (!before(m->heap[c], t))
            break;
        heap_set(m, i, m->heap[c]);
        i = c;
    }
    heap_set(m, i, t);
}

static void heap_remove(manual_clock *m, sio_timer *t)
{
    size_t i = t->heap_idx;
    sio_timer *last = m->heap[--m->n];
    if (i < m->n) {
        heap_set(m, i, last);
        heap_fix(m, i);
    }
}

static int manual_timer_init(sio_timer *t)
{
    manual_clock *m = (manual_clock *)t->clock;
    return sio_array_grow(&m->heap, &m->cap, m->base.ntimers, sizeof(*m->heap), 16);
}

static void manual_timer_start(sio_timer *t, uint64_t ms)
{
    manual_clock *m = (manual_clock *)t->clock;
    t->deadline = ms > UINT64_MAX - m->now ? UINT64_MAX : m->now + ms;
    t->seq = m->seq++;
    if (!t->pending) {
        t->pending = 1;
        heap_set(m, m->n++, t);
    }
    heap_fix(m, t->heap_idx);
}

static void manual_timer_stop(sio_timer *t)
{
    heap_remove((manual_clock *)t->clock, t);
    t->pending = 0;
}

static uint64_t manual_now_ms(const sio_clock *c)
{
    return ((const manual_clock *)c)->now;
}

static void manual_deinit(sio_clock *c)
{
    free(((manual_clock *)c)->heap);
}

static const sio_clock_ops manual_ops = {
    .timer_init = manual_timer_init,
    .timer_start = manual_timer_start,
    .timer_stop = manual_timer_stop,
    .now_ms = manual_now_ms,
    .deinit = manual_deinit,
};

sio_clock *sio_clock_manual(uint64_t start_ms)
{
    manual_clock *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base.ops = &manual_ops;
    m->now = start_ms;
    return &m->base;
}

void sio_clock_advance(sio_clock *c, uint64_t ms)
{
    assert(c->ops == &manual_ops && "only a manual clock can be advanced");
    manual_clock *m = (manual_clock *)c;
    uint64_t target = ms > UINT64_MAX - m->now ? UINT64_MAX : m->now + ms;
    /* One timer at a time, re-reading the heap: a callback may change it in any way. */
    while (m->n && m->heap[0]->deadline <= target) {
        sio_timer *t = m->heap[0];
        heap_remove(m, t);
        t->pending = 0;
        if (t->deadline > m->now)
            m->now = t->deadline;
        t->cb(t->arg); /* may free t */
    }
    if (m->now < target) /* a callback's own advance may have gone further */
        m->now = target;
}
