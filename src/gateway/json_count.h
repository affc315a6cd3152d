/*
 * Counts kept in a JSON object ({key: count}, jansson): the gateway's sockets per user, and the
 * same kind of table in the modules built on its hooks (src/app/presence.c). A key is there only
 * while its count is above zero.
 */
#ifndef SIO_GATEWAY_JSON_COUNT_H
#define SIO_GATEWAY_JSON_COUNT_H

#include <jansson.h>

/** Moves key's count in counts by d (the key is added, or removed at zero or below). Returns the
 *  new count, 0 when removed (or when adding it ran out of memory). */
json_int_t sio_json_count_add(json_t *counts, const char *key, json_int_t d);

#endif
