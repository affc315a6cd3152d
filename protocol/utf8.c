/*
 * UTF-8 validator: the well-formed byte sequences of Unicode table 3-7, with an ASCII fast path
 * because Engine.IO text (JSON, event names) is almost all ASCII.
 */
#include "utf8.h"

#include <string.h>

/* For a lead byte, the number of continuation bytes and the allowed range of the first one. The
 * narrowed ranges are what exclude overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4).
 * Returns false for bytes that can never start a sequence: 80..C1 and F5..FF. */
static bool lead_info(uint8_t c, size_t *need, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        *need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        *need = 2;
        if (c == 0xe0)
            *lo = 0xa0;
        else if (c == 0xed)
            *hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        *need = 3;
        if (c == 0xf0)
            *lo = 0x90;
        else if (c == 0xf4)
            *hi = 0x8f;
    } else {
        return false;
    }
    return true;
}

/* Skips ASCII eight bytes at a time; memcpy keeps the load free of alignment assumptions. */
static size_t skip_ascii(const uint8_t *p, size_t i, size_t n)
{
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        if (w & UINT64_C(0x8080808080808080))
            break;
        i += 8;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

bool sio_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while ((i = skip_ascii(p, i, n)) < n) {
        size_t need;
        uint8_t lo, hi;
        if (!lead_info(p[i], &need, &lo, &hi))
            return false;
        if (n - i - 1 < need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        }
        i += need + 1;
    }
    return true;
}
