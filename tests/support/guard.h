/*
 * Guard-page copies for parser tests: the copy ends exactly where a PROT_NONE page begins, so a
 * decoder that reads (or writes) one byte past its input faults at once instead of passing by luck.
 */
#ifndef SIO_TEST_GUARD_H
#define SIO_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>

/**
 * Copies n bytes of p to the end of a fresh mapping whose next page is PROT_NONE. The copy is
 * writable, so in-place decoders can run on it. Returns memory owned by this module, valid until
 * guard_free(); aborts the test process if the mapping fails. n == 0 gives a pointer to the guard
 * page itself, so any dereference faults.
 */
uint8_t *guard_copy(const void *p, size_t n);

/** Unmaps every copy made since the last call. Safe to call when there are none. */
void guard_free(void);

#endif
