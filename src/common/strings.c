/* sio_strings_copy: the option strings of an object, in one block. */
#include <sio/sio.h>

#include <stdlib.h>
#include <string.h>

char *sio_strings_copy(const char **const fields[], size_t n)
{
    size_t total = 1; /* never a zero-byte block, so NULL means out of memory */
    for (size_t i = 0; i < n; i++)
        if (*fields[i])
            total += strlen(*fields[i]) + 1;
    char *block = malloc(total), *p = block;
    if (!block)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!*fields[i])
            continue;
        size_t len = strlen(*fields[i]) + 1;
        memcpy(p, *fields[i], len);
        *fields[i] = p;
        p += len;
    }
    return block;
}
