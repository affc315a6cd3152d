/*
 * Counts in a JSON object (json_count.h).
 */
#include "gateway/json_count.h"

json_int_t sio_json_count_add(json_t *counts, const char *key, json_int_t d)
{
    json_int_t n = json_integer_value(json_object_get(counts, key)) + d;
    if (n <= 0) {
        json_object_del(counts, key);
        return 0;
    }
    return json_object_set_new(counts, key, json_integer(n)) < 0 ? 0 : n;
}
