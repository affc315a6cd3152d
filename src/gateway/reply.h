/*
 * The gateway's JSON in and out on its hot path, without a tree: replies are written straight
 * into a buffer (an argument array with one object), and the common payload of the
 * conversation events is recognised without parsing it into a tree.
 */
#ifndef SIO_GATEWAY_REPLY_H
#define SIO_GATEWAY_REPLY_H

#include <stddef.h>

/* An argument array `[{...}]` written member by member. Starts in an inline buffer and moves
 * to the heap for long strings; an allocation failure makes gw_reply_end return NULL. Keys are
 * the gateway's own (ASCII, nothing to escape); string values are escaped. */
typedef struct gw_reply {
    char *p;
    size_t n, cap;
    int oom;
    int first; /* the next member is the first of its object */
    char inl[256];
} gw_reply;

/* Writes `[{`. */
void gw_reply_begin(gw_reply *w);
/* A string member; val NULL writes null. */
void gw_reply_str(gw_reply *w, const char *key, const char *val);
void gw_reply_bool(gw_reply *w, const char *key, int val);
/* Opens a nested object member, closed by gw_reply_close. */
void gw_reply_open(gw_reply *w, const char *key);
void gw_reply_close(gw_reply *w);
/* Writes `}]` and returns the NUL-terminated text (owned by w), or NULL when out of memory. */
const char *gw_reply_end(gw_reply *w);
/* Frees what w allocated. */
void gw_reply_free(gw_reply *w);

/* When the JSON text p[0..n) is exactly an object with one member "conversation_id" whose
 * value is a string of 36 characters (white space allowed between tokens), the form clients
 * send, copies that string into id (NUL-terminated, unchecked) and returns 1; otherwise 0: the
 * caller then parses the payload fully. */
int gw_payload_conversation_id(const char *p, size_t n, char id[37]);

#endif
