/*
 * One hexadecimal digit's value, for the codecs that read hex (JSON \u escapes, chunk sizes).
 */
#ifndef SIO_HEX_H
#define SIO_HEX_H

/** The value of hex digit c (either case), or -1. */
static inline int sio_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
