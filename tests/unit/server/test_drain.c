/* The drain schedule (src/server/drain.h). */
#include <criterion/criterion.h>

#include "server/drain.h"

Test(drain, spreads_closes_evenly_over_the_window)
{
    size_t total = 2000, left = total, closed_at_half = 0;
    for (uint64_t t = 0; t <= 10000; t += 100) {
        size_t due = sio_drain_due(total, left, t, 10000);
        cr_assert_leq(due, 20 + 1, "batch of %zu at %llu ms", due, (unsigned long long)t);
        left -= due;
        if (t == 5000)
            closed_at_half = total - left;
    }
    cr_assert_eq(left, 0);
    cr_assert_eq(closed_at_half, 1000);
}

Test(drain, counts_clients_that_left_and_ends_at_the_deadline)
{
    cr_assert_eq(sio_drain_due(100, 100, 0, 1000), 0);
    cr_assert_eq(sio_drain_due(100, 100, 100, 1000), 10);
    cr_assert_eq(sio_drain_due(100, 85, 100, 1000), 0); /* 15 left on their own */
    cr_assert_eq(sio_drain_due(100, 85, 200, 1000), 5);
    cr_assert_eq(sio_drain_due(100, 1, 1, 1000), 0);
    cr_assert_eq(sio_drain_due(100, 40, 1000, 1000), 40); /* the deadline: all */
    cr_assert_eq(sio_drain_due(100, 40, 5000, 1000), 40);
    cr_assert_eq(sio_drain_due(100, 0, 500, 1000), 0);
    cr_assert_eq(sio_drain_due(3, 3, 1, 10000), 1);   /* a few sessions: one per step */
    cr_assert_eq(sio_drain_due(10, 12, 1, 1000), 12); /* more than at the start: all now */
}
