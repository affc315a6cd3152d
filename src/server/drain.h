/*
 * The schedule of a graceful drain (docs/operations.md): the sessions open when it starts are
 * closed in batches spread evenly over the drain window, so that their clients reconnect to the
 * other nodes at a steady rate instead of all at once. Pure, for the tests.
 */
#ifndef SIO_SERVER_DRAIN_H
#define SIO_SERVER_DRAIN_H

#include <stddef.h>
#include <stdint.h>

/**
 * How many sessions to close now. total: sessions open when the drain started; remaining: open
 * now (those that left by themselves count as closed); elapsed_ms of window_ms. By time t,
 * ceil(total * t / window) sessions should be gone; from the window's end on, every remaining
 * one is due.
 */
size_t sio_drain_due(size_t total, size_t remaining, uint64_t elapsed_ms, uint64_t window_ms);

#endif
