/*
 * Loop utilities shared by the Redis client tests: run the event loop until a condition holds or a
 * deadline passes, and collect what the callbacks report.
 */
#ifndef SIO_TEST_REDIS_HARNESS_H
#define SIO_TEST_REDIS_HARNESS_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

static inline int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void harness_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
}

/* Runs base until cond(arg) is true or timeout_ms passes. Returns cond's last value. */
static inline int run_until(struct event_base *base, int (*cond)(void *), void *arg, int timeout_ms)
{
    struct event *tick = event_new(base, -1, EV_PERSIST, harness_tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(tick, &tv);
    int64_t deadline = harness_now_ms() + timeout_ms;
    int ok;
    while (!(ok = cond ? cond(arg) : 0) && harness_now_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    return ok;
}

/* Runs base for ms milliseconds. */
static inline void run_for(struct event_base *base, int ms)
{
    run_until(base, NULL, NULL, ms);
}

#endif
