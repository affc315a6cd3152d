/*
 * UTF-8 validation (Unicode 15 table 3-7, RFC 3629). Engine.IO text packets must be valid UTF-8,
 * because the JavaScript peer decodes them as strings. Sans-I/O: no allocation, no logging.
 */
#ifndef SIO_UTF8_H
#define SIO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * Returns true when the n bytes at p are well-formed UTF-8. Rejects overlong forms, UTF-16
 * surrogates (U+D800..U+DFFF), code points above U+10FFFF, stray continuation bytes and sequences
 * cut off by the end of the input. U+0000 is a valid character. Borrows p; n == 0 is valid.
 */
bool sio_utf8_valid(const uint8_t *p, size_t n);

#endif
