/* sio_timer on both clocks: the manual one tests run on, and libevent's with short real waits. */
#include "common/timer.h"

#include <criterion/criterion.h>

#include <event2/event.h>

#include <stdlib.h>
#include <string.h>

/* One clock under test; run_for moves its time forward by ms (libevent: really waits). */
typedef struct env {
    sio_clock *c;
    struct event_base *eb; /* NULL for the manual clock */
} env;

static env manual_env(void)
{
    env e = {sio_clock_manual(1000), NULL};
    cr_assert_not_null(e.c);
    return e;
}

static env libevent_env(void)
{
    env e = {NULL, event_base_new()};
    cr_assert_not_null(e.eb);
    e.c = sio_clock_libevent(e.eb);
    cr_assert_not_null(e.c);
    return e;
}

static void env_free(env *e)
{
    sio_clock_free(e->c);
    if (e->eb)
        event_base_free(e->eb);
}

static void run_for(env *e, uint64_t ms)
{
    if (!e->eb) {
        sio_clock_advance(e->c, ms);
        return;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_base_loopexit(e->eb, &tv); /* bounds the loop even if a timer misbehaves */
    event_base_dispatch(e->eb);
}

/* Records which timer fired, in order, and when. */
typedef struct fire_log {
    char order[64];
    size_t n;
    uint64_t at[64];
    sio_clock *c;
} fire_log;

typedef struct probe {
    fire_log *out;
    char name;
    sio_timer *t;
    sio_timer *other; /* armed by this one's callback, when set */
    uint64_t other_ms;
    int rearm;   /* times the callback re-arms its own timer */
    int free_it; /* the callback frees its own timer */
} probe;

static void probe_cb(void *arg)
{
    probe *p = arg;
    fire_log *l = p->out;
    cr_assert_lt(l->n, sizeof(l->order) - 1);
    cr_assert_not(sio_timer_pending(p->t), "a firing timer is no longer pending");
    l->at[l->n] = sio_clock_now_ms(l->c);
    l->order[l->n++] = p->name;
    if (p->other)
        sio_timer_start(p->other, p->other_ms);
    if (p->rearm > 0) {
        p->rearm--;
        sio_timer_start(p->t, 5);
    }
    if (p->free_it) {
        sio_timer_free(p->t);
        p->t = NULL;
    }
}

static void probe_init(probe *p, env *e, fire_log *l, char name)
{
    memset(p, 0, sizeof(*p));
    p->out = l;
    p->name = name;
    l->c = e->c;
    p->t = sio_timer_new(e->c, probe_cb, p);
    cr_assert_not_null(p->t);
}

/* ---- scenarios, run on both clocks ---------------------------------------------------------- */

static void fires_in_deadline_order(env *e)
{
    fire_log l = {0};
    probe a, b, c;
    probe_init(&a, e, &l, 'a');
    probe_init(&b, e, &l, 'b');
    probe_init(&c, e, &l, 'c');
    sio_timer_start(a.t, 60);
    sio_timer_start(b.t, 20);
    sio_timer_start(c.t, 40);
    cr_assert(sio_timer_pending(a.t) && sio_timer_pending(b.t) && sio_timer_pending(c.t));
    run_for(e, 150);
    cr_assert_str_eq(l.order, "bca");
    cr_assert_not(sio_timer_pending(a.t));
    sio_timer_free(a.t);
    sio_timer_free(b.t);
    sio_timer_free(c.t);
}

static void rearming_replaces_the_deadline(env *e)
{
    fire_log l = {0};
    probe a, b;
    probe_init(&a, e, &l, 'a');
    probe_init(&b, e, &l, 'b');
    sio_timer_start(a.t, 10);
    sio_timer_start(a.t, 200); /* later */
    sio_timer_start(b.t, 5000);
    sio_timer_start(b.t, 20); /* sooner */
    run_for(e, 80);
    cr_assert_str_eq(l.order, "b", "a moved out of the window, b into it");
    cr_assert(sio_timer_pending(a.t));
    run_for(e, 200);
    cr_assert_str_eq(l.order, "ba", "a fired once, at its new deadline");
    sio_timer_free(a.t);
    sio_timer_free(b.t);
}

static void stopped_timers_do_not_fire(env *e)
{
    fire_log l = {0};
    probe a, b;
    probe_init(&a, e, &l, 'a');
    probe_init(&b, e, &l, 'b');
    sio_timer_stop(a.t); /* not pending: no-op */
    sio_timer_start(a.t, 10);
    sio_timer_start(b.t, 20);
    sio_timer_stop(a.t);
    sio_timer_stop(a.t);
    cr_assert_not(sio_timer_pending(a.t));
    run_for(e, 60);
    cr_assert_str_eq(l.order, "b");
    sio_timer_start(a.t, 10); /* a stopped timer can be armed again */
    run_for(e, 60);
    cr_assert_str_eq(l.order, "ba");
    sio_timer_free(a.t);
    sio_timer_free(b.t);
}

static void a_callback_may_free_its_timer(env *e)
{
    fire_log l = {0};
    probe a, b;
    probe_init(&a, e, &l, 'a');
    probe_init(&b, e, &l, 'b');
    a.free_it = 1;
    sio_timer_start(a.t, 10);
    sio_timer_start(b.t, 30);
    run_for(e, 80);
    cr_assert_str_eq(l.order, "ab");
    cr_assert_null(a.t);
    sio_timer_start(b.t, 10);
    sio_timer_free(b.t); /* freeing a pending timer disarms it */
    run_for(e, 40);
    cr_assert_str_eq(l.order, "ab");
}

static void a_callback_may_arm_timers(env *e)
{
    fire_log l = {0};
    probe a, b, c;
    probe_init(&a, e, &l, 'a');
    probe_init(&b, e, &l, 'b');
    probe_init(&c, e, &l, 'c');
    a.other = b.t;
    a.other_ms = 20;
    c.rearm = 3; /* periodic: re-arms itself three times, 5 ms apart */
    sio_timer_start(a.t, 10);
    sio_timer_start(c.t, 60);
    run_for(e, 200);
    cr_assert_str_eq(l.order, "abcccc");
    cr_assert_geq(l.at[1] - l.at[0], 19); /* libevent arms from its cached loop time */
    sio_timer_free(a.t);
    sio_timer_free(b.t);
    sio_timer_free(c.t);
}

static void zero_ms_runs_later_not_inside_start(env *e)
{
    fire_log l = {0};
    probe a;
    probe_init(&a, e, &l, 'a');
    sio_timer_start(a.t, 0);
    cr_assert_eq(l.n, 0, "never inside sio_timer_start");
    cr_assert(sio_timer_pending(a.t));
    if (e->eb)
        event_base_loop(e->eb, EVLOOP_ONCE);
    else
        sio_clock_advance(e->c, 0);
    cr_assert_str_eq(l.order, "a");
    sio_timer_free(a.t);
}

static void callbacks_see_time_move(env *e)
{
    fire_log l = {0};
    probe a;
    probe_init(&a, e, &l, 'a');
    uint64_t t0 = sio_clock_now_ms(e->c);
    sio_timer_start(a.t, 25);
    run_for(e, 60);
    cr_assert_str_eq(l.order, "a");
    cr_assert_geq(l.at[0], t0 + 24, "fired at %llu, armed at %llu", (unsigned long long)l.at[0],
                  (unsigned long long)t0); /* libevent may round to the millisecond */
    cr_assert_geq(sio_clock_now_ms(e->c), l.at[0]);
    sio_timer_free(a.t);
}

#define BOTH_CLOCKS(name)                                                                          \
    Test(sio_timer_manual, name)                                                                   \
    {                                                                                              \
        env e = manual_env();                                                                      \
        name(&e);                                                                                  \
        env_free(&e);                                                                              \
    }                                                                                              \
    Test(sio_timer_libevent, name, .timeout = 10)                                                  \
    {                                                                                              \
        env e = libevent_env();                                                                    \
        name(&e);                                                                                  \
        env_free(&e);                                                                              \
    }

BOTH_CLOCKS(fires_in_deadline_order)
BOTH_CLOCKS(rearming_replaces_the_deadline)
BOTH_CLOCKS(stopped_timers_do_not_fire)
BOTH_CLOCKS(a_callback_may_free_its_timer)
BOTH_CLOCKS(a_callback_may_arm_timers)
BOTH_CLOCKS(zero_ms_runs_later_not_inside_start)
BOTH_CLOCKS(callbacks_see_time_move)

/* ---- manual clock only: exact times and tie order ----------------------------------------- */

Test(sio_timer_manual, now_moves_only_by_advance_and_callbacks_see_their_deadline)
{
    env e = manual_env();
    fire_log l = {0};
    probe a, b;
    probe_init(&a, &e, &l, 'a');
    probe_init(&b, &e, &l, 'b');
    cr_assert_eq(sio_clock_now_ms(e.c), 1000);
    sio_timer_start(a.t, 30);
    sio_timer_start(b.t, 70);
    sio_clock_advance(e.c, 100);
    cr_assert_eq(l.at[0], 1030);
    cr_assert_eq(l.at[1], 1070);
    cr_assert_eq(sio_clock_now_ms(e.c), 1100);
    sio_clock_advance(e.c, 0);
    cr_assert_eq(sio_clock_now_ms(e.c), 1100);
    sio_timer_free(a.t);
    sio_timer_free(b.t);
    env_free(&e);
}

Test(sio_timer_manual, equal_deadlines_fire_in_start_order)
{
    env e = manual_env();
    fire_log l = {0};
    probe p[4];
    for (int i = 0; i < 4; i++)
        probe_init(&p[i], &e, &l, (char)('a' + i));
    sio_timer_start(p[2].t, 10);
    sio_timer_start(p[0].t, 10);
    sio_timer_start(p[3].t, 10);
    sio_timer_start(p[1].t, 10);
    sio_timer_start(p[2].t, 10); /* re-armed: now the last one started */
    sio_clock_advance(e.c, 10);
    cr_assert_str_eq(l.order, "adbc");
    for (int i = 0; i < 4; i++)
        sio_timer_free(p[i].t);
    env_free(&e);
}

Test(sio_timer_manual, timers_armed_by_callbacks_run_in_the_same_advance_when_due)
{
    env e = manual_env();
    fire_log l = {0};
    probe a, b, c;
    probe_init(&a, &e, &l, 'a');
    probe_init(&b, &e, &l, 'b');
    probe_init(&c, &e, &l, 'c');
    a.other = b.t;
    a.other_ms = 0; /* due at once: runs within this advance, after a returns */
    b.other = c.t;
    b.other_ms = 50; /* due at 1060, beyond this advance */
    sio_timer_start(a.t, 10);
    sio_clock_advance(e.c, 20);
    cr_assert_str_eq(l.order, "ab");
    cr_assert_eq(l.at[1], 1010);
    cr_assert(sio_timer_pending(c.t));
    sio_clock_advance(e.c, 39);
    cr_assert_str_eq(l.order, "ab");
    sio_clock_advance(e.c, 1);
    cr_assert_str_eq(l.order, "abc");
    sio_timer_free(a.t);
    sio_timer_free(b.t);
    sio_timer_free(c.t);
    env_free(&e);
}

/* Random arms, re-arms, stops and frees on many timers; the firing sequence must be sorted by
 * (deadline, start order) and contain exactly the timers left armed. */
typedef struct heap_probe {
    sio_timer *t;
    uint64_t deadline, order;
    int armed, fired;
    uint64_t *last_deadline, *last_order;
    sio_clock *c;
} heap_probe;

static void heap_cb(void *arg)
{
    heap_probe *p = arg;
    cr_assert(p->armed && !p->fired);
    cr_assert_eq(sio_clock_now_ms(p->c), p->deadline);
    cr_assert(p->deadline > *p->last_deadline ||
              (p->deadline == *p->last_deadline && p->order > *p->last_order));
    *p->last_deadline = p->deadline;
    *p->last_order = p->order;
    p->fired = 1;
}

Test(sio_timer_manual, many_timers_fire_sorted)
{
    enum { N = 1000 };
    env e = manual_env();
    heap_probe *p = calloc(N, sizeof(*p));
    uint64_t last_deadline = 0, last_order = 0, order = 1;
    srand(7);
    for (int i = 0; i < N; i++) {
        p[i] = (heap_probe){.last_deadline = &last_deadline, .last_order = &last_order, .c = e.c};
        p[i].t = sio_timer_new(e.c, heap_cb, &p[i]);
    }
    for (int op = 0; op < 5 * N; op++) {
        heap_probe *q = &p[rand() % N];
        if (!q->t)
            continue;
        int kind = rand() % 10;
        if (kind < 7) {
            uint64_t ms = (uint64_t)(rand() % 50); /* many ties */
            sio_timer_start(q->t, ms);
            q->deadline = 1000 + ms;
            q->order = order++;
            q->armed = 1;
        } else if (kind < 9) {
            sio_timer_stop(q->t);
            q->armed = 0;
        } else {
            sio_timer_free(q->t);
            q->t = NULL;
            q->armed = 0;
        }
    }
    sio_clock_advance(e.c, 100);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(p[i].fired, p[i].armed, "timer %d", i);
        sio_timer_free(p[i].t);
    }
    free(p);
    env_free(&e);
}
