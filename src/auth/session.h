/*
 * Pure parts of the connect-time authenticator (include/sio/auth.h): finding the token in a
 * handshake, planning the expiry timers of a session, parsing claim-name lists. No sockets, no
 * loop, no logging: unit-tested on their own.
 */
#ifndef SIO_AUTH_SESSION_H
#define SIO_AUTH_SESSION_H

#include <stddef.h>
#include <stdint.h>

/**
 * Finds the token of a connection, first found wins: the "token" member of the CONNECT auth
 * object auth_json; the query parameter "token", then "access_token", of handshake_json (its
 * "query" object, as sio_socket_handshake gives it); an "Authorization: Bearer <token>" header
 * value (authorization, may be NULL). Empty values count as absent; "Bearer " (any case) in
 * front of an auth or query token is cut. All inputs borrowed. Returns 1 with *out a new string
 * (free it), 0 when there is no token, SIO_EPROTO when the auth "token" is not a string, or
 * SIO_ENOMEM.
 */
int sio_auth_token_find(const char *auth_json, const char *handshake_json,
                        const char *authorization, char **out);

/** When the timers of a session fire, in milliseconds from now. */
typedef struct sio_auth_plan {
    int64_t notice_ms; /* "auth:expiring"; -1: none (no exp, or notices off) */
    int64_t expire_ms; /* the server disconnect; -1: none (no exp) */
} sio_auth_plan;

/**
 * Plans the timers of a token expiring at exp_s (seconds since the epoch; 0 = no exp) at time
 * now_ms (milliseconds since the epoch): the notice notice_s before exp (at once, 0, when less
 * remains; none when notice_s is 0), the disconnect at exp + leeway_s (at once when past).
 */
sio_auth_plan sio_auth_plan_timers(int64_t now_ms, int64_t exp_s, unsigned leeway_s,
                                   unsigned notice_s);

/**
 * Parses a comma-separated list of claim names ("sub, nameid") into a NULL-terminated array
 * (one allocation, free it with free()). Returns the array, or NULL for an empty list, a name
 * longer than 64 bytes, more than 16 names, or OOM.
 */
char **sio_auth_names_parse(const char *list);

#endif
