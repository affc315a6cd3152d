/* The drain schedule (drain.h). */
#include "drain.h"

size_t sio_drain_due(size_t total, size_t remaining, uint64_t elapsed_ms, uint64_t window_ms)
{
    if (!remaining)
        return 0;
    if (elapsed_ms >= window_ms || remaining > total)
        return remaining;
    uint64_t target = ((uint64_t)total * elapsed_ms + window_ms - 1) / window_ms;
    size_t closed = total - remaining;
    if (target <= closed)
        return 0;
    uint64_t due = target - closed;
    return due < remaining ? (size_t)due : remaining;
}
