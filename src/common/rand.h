/*
 * Random ids. sio_id_generate() writes a 20-char URL-safe id (15 random bytes, base64url without
 * padding), the shape Node's engine.io uses for session and socket ids.
 */
#ifndef SIO_COMMON_RAND_H
#define SIO_COMMON_RAND_H

#include <stddef.h>

#define SIO_ID_LEN 20

/** Fills out[0..20) and writes a NUL at out[20]. Returns 0 or SIO_EIO. */
int sio_id_generate(char out[SIO_ID_LEN + 1]);
/** Fills buf with cryptographically random bytes. Returns 0 or SIO_EIO. */
int sio_random_bytes(void *buf, size_t n);

#endif
