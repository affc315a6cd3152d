/*
 * The gateway's shared types: the gateway, the per-socket state kept in a socket slot, and the
 * calls between gateway.c (connections, events, typing) and authorize.c (the join authorisation
 * callback and its cache).
 */
#ifndef SIO_GATEWAY_INTERNAL_H
#define SIO_GATEWAY_INTERNAL_H

#include "gateway/gateway.h"

#include <jansson.h>

#include "httpc/httpc.h"

struct event;
struct event_base;

/* A canonical UUID: 36 characters, lower case. */
#define GW_UUID_LEN 36

/* Per-socket bounds (C.1.5): typing states live at once (starting a 17th closes the oldest) and
 * joins waiting for the authorisation callback (a 9th is RATE_LIMITED). The rate limits keep a
 * well-behaved client far below both. */
#define GW_MAX_TYPING 16
#define GW_MAX_PENDING 8

typedef struct gw_conn gw_conn;
typedef struct gw_pending gw_pending;

/* A token bucket: capacity tokens, refilled continuously at capacity per window_ms. */
typedef struct gw_bucket {
    double tokens;
    uint64_t last_ms;
} gw_bucket;

/* A typing state of one socket in one conversation; its timer closes it. Owned by its gw_conn
 * (a fixed slot: the timer's argument points at it, so slots never move). */
typedef struct gw_typing {
    gw_conn *conn;
    struct event *timer; /* NULL: the slot is free */
    uint64_t started_ms;
    char conv[GW_UUID_LEN + 1];
} gw_typing;

/* The gateway's state of one socket, stored in the socket's slot (freed with the socket by
 * conn_free). s is borrowed and cleared when the socket disconnects. */
struct gw_conn {
    sio_gateway *gw;
    sio_socket *s;
    char *user_id; /* never NULL once accepted */
    char *org_id;  /* NULL when the token had none */
    char *role;    /* NULL when the token had none */
    int counted;   /* holds one place in the user's connection count (and, with hooks, was
                      admitted: release runs when it ends) */
    struct sio_gateway_admission *admission; /* a hook's verdict pending, or NULL */
    gw_bucket events, typing_bucket;
    gw_typing typing[GW_MAX_TYPING];
    gw_pending *pending[GW_MAX_PENDING]; /* joins waiting for authorisation */
};

struct sio_gateway {
    sio_server *srv;
    sio_namespace *nsp;
    struct event_base *base;
    sio_gateway_options o; /* strings point into strings below */
    char *strings;
    json_t *users;       /* user_id -> integer: sockets counted on this node */
    json_t *authz_cache; /* cache key -> [decision (1 allow, 0 deny), expiry ms] */
    sio_httpc_tls *tls;  /* https authorisation URL: the trusted store, loaded once */
    sio_gateway_stats stats;
    sio_gateway_hooks hooks; /* admit NULL: the gateway's own per-node cap */
};

/* Monotonic milliseconds. */
uint64_t gw_now_ms(void);
/* Logs through the options' sink. */
void gw_log(const sio_gateway *gw, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers a join (gateway.c): allowed, or refused with err (an sio_gateway_error) and a
 * message. Takes ack (NULL: none), which it answers or frees. */
void gw_join_finish(gw_conn *c, const char *conv, sio_ack *ack, int allowed, int err,
                    const char *message);

/* authorize.c */
/* Decides a join now (allowed or from the cache: then gw_join_finish runs inside the call) or
 * later (a request to the authorisation URL). Takes ack. */
void gw_authorize(gw_conn *c, const char *conv, sio_ack *ack);
/* Cancels the socket's pending joins: all of them (conv NULL; their acks are dropped, as the
 * socket is gone) or those of one conversation (their acks get a refusal). */
void gw_authorize_cancel(gw_conn *c, const char *conv);
/* Frees the decision cache's expired entries (all when force). */
void gw_authorize_cache_prune(sio_gateway *gw, int force);

#endif
