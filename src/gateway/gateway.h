/*
 * The chat gateway: the events of a support back office's realtime service (conversations,
 * typing, presence rooms) on one namespace, written only on the public API (include/sio/),
 * libevent timers, jansson and the HTTP client of src/httpc. docs/gateway.md describes the
 * events for clients; issue 11 section 2 is the specification.
 *
 * Identity comes from the socket data that an earlier connect middleware (JWT authentication)
 * sets: {"user_id":..,"organization_id":..,"role":..}, strings or null. Every call on the loop
 * thread, like the rest of sio.
 */
#ifndef SIO_GATEWAY_GATEWAY_H
#define SIO_GATEWAY_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include <sio/sio.h>

typedef struct sio_gateway sio_gateway;

/** A log line of the gateway (no newline), borrowed for the call; level is an sio_log_level. */
typedef void (*sio_gateway_log_cb)(int level, const char *line, void *user);

/** Options: fill with sio_gateway_options_init, then override. Strings are copied by
 *  sio_gateway_new. */
typedef struct sio_gateway_options {
    unsigned typing_timeout_ms;        /* 5000: a typing state not refreshed this long ends */
    unsigned rate_limit;               /* 60 events per minute per socket (token bucket of 60,
                                          refilled continuously); 0 = off */
    unsigned typing_rate_limit;        /* 10 typing events per typing_rate_window_ms; 0 = off */
    unsigned typing_rate_window_ms;    /* 5000 */
    unsigned max_connections_per_user; /* 3 sockets of one user on this node; 0 = off */
    const char *authorize_url;         /* NULL: any authenticated user may join any conversation */
    const char *authorize_token;       /* service bearer token sent to authorize_url (NULL: none) */
    unsigned authorize_cache_ttl_ms;   /* 60000: allow/deny decisions kept this long; 0 = none */
    unsigned authorize_timeout_ms;     /* 5000: an answer later than this is UNAVAILABLE */
    size_t authorize_cache_max;        /* 10000 cached decisions at most */
    const char *room_prefix_user;      /* "user:" */
    const char *room_prefix_org;       /* "org:" */
    const char *room_prefix_conversation; /* "conversation:" */
    /* Test-only: take the identity from the CONNECT auth object {user_id, organization_id,
     * role} (a middleware installed before the gateway's own) instead of a JWT. Anyone can
     * claim any identity: never in production. */
    int identity_from_auth; /* 0 */
    sio_gateway_log_cb log; /* NULL: silent */
    void *log_user;
} sio_gateway_options;

/** Fills o with the defaults listed above. */
void sio_gateway_options_init(sio_gateway_options *o);

/** Events the gateway handles, for the counters. */
enum sio_gateway_event {
    SIO_GW_EV_JOIN,
    SIO_GW_EV_LEAVE,
    SIO_GW_EV_TYPING_START,
    SIO_GW_EV_TYPING_STOP,
    SIO_GW_EV_PING,
    SIO_GW_EV_COUNT
};

/** Error codes the gateway sends in `error` events and acks. */
enum sio_gateway_error {
    SIO_GW_ERR_BAD_REQUEST,
    SIO_GW_ERR_FORBIDDEN,
    SIO_GW_ERR_UNAVAILABLE,
    SIO_GW_ERR_RATE_LIMITED,
    SIO_GW_ERR_COUNT
};

/** Counters since sio_gateway_new (monotonic) and gauges (now). */
typedef struct sio_gateway_stats {
    uint64_t events[SIO_GW_EV_COUNT];   /* received, by event (dropped ones included) */
    uint64_t errors[SIO_GW_ERR_COUNT];  /* `error` events sent, by code */
    uint64_t rate_limited_events;       /* events dropped by the per-socket event bucket */
    uint64_t rate_limited_typing;       /* typing events dropped by the typing bucket */
    uint64_t typing_expiries;           /* typing states closed by the typing timeout */
    uint64_t authorize_allowed;         /* authorisation answers 2xx */
    uint64_t authorize_denied;          /* authorisation answers 403 */
    uint64_t authorize_unavailable;     /* timeouts, other statuses, transport errors */
    uint64_t authorize_cached;          /* joins decided from the cache */
    uint64_t connections;               /* sockets accepted by the gateway */
    uint64_t connection_limit_refusals; /* CONNECT refused with CONNECTION_LIMIT */
    size_t users;                       /* users with at least one socket on this node now */
    size_t authorize_cache_entries;     /* cached decisions now (expired ones included) */
} sio_gateway_stats;

/** Static name of an event ("join_conversation", ...) or an error code ("BAD_REQUEST", ...). */
const char *sio_gateway_event_name(int ev);
const char *sio_gateway_error_name(int err);

/**
 * Installs the gateway on nsp of srv (both borrowed; the gateway must be freed after
 * sio_server_free, since the server's last disconnect callbacks still reach it): the connection
 * cap middleware (appended with sio_namespace_use, so it runs after the middleware registered
 * before, the authentication one), the connection and disconnect callbacks and the event
 * handlers. o is copied. Returns NULL on OOM or a bad option (logged through o->log); the
 * namespace may then keep callbacks of the failed gateway, so free the server without running
 * it. Never calls back synchronously.
 */
sio_gateway *sio_gateway_new(sio_server *srv, sio_namespace *nsp, const sio_gateway_options *o);

/** Frees the gateway. Call after sio_server_free (see sio_gateway_new). NULL is a no-op. */
void sio_gateway_free(sio_gateway *gw);

/** Applies the limits of o that may change while sockets are connected (a reload):
 *  typing_timeout_ms, rate_limit, typing_rate_limit, typing_rate_window_ms,
 *  max_connections_per_user, authorize_cache_ttl_ms and authorize_timeout_ms. They take effect
 *  at their next use (a running typing timer keeps its time; a connection over a lowered cap
 *  stays). Other options need a new gateway. */
void sio_gateway_set_limits(sio_gateway *gw, const sio_gateway_options *o);

/** Fills out with the gateway's counters. */
void sio_gateway_get_stats(const sio_gateway *gw, sio_gateway_stats *out);

/* ---- hooks: presence and a cluster-wide connection cap (src/app/presence.c) ---------------- */

/** A connection waiting for the admission hook's verdict (see sio_gateway_hooks). */
typedef struct sio_gateway_admission sio_gateway_admission;

/** Verdicts of sio_gateway_admit. */
enum sio_gateway_verdict {
    SIO_GW_ADMIT = 0,        /* accepted: the hook counted one socket of the user */
    SIO_GW_ADMIT_LIMIT = 1,  /* refused with CONNECTION_LIMIT: nothing counted */
    SIO_GW_ADMIT_ERROR = -1, /* refused with a server error: nothing counted */
};

/**
 * Replaces the gateway's own per-node connection count with the hooks' (a presence service that
 * may count across a cluster). admit runs in the connect middleware for every socket that passed
 * authentication, with the identity (org_id may be NULL; both borrowed for the call) and the cap
 * (max_connections_per_user, 0 = none); it must call sio_gateway_admit exactly once, from inside
 * or later. release runs exactly once for every admitted socket whose admission still found it
 * (sio_gateway_admit returned 0): when it disconnects, or when it is freed without having
 * connected. Set before the server runs; h is copied.
 */
typedef struct sio_gateway_hooks {
    void (*admit)(const char *user_id, const char *org_id, unsigned cap, sio_gateway_admission *a,
                  void *user);
    void (*release)(const char *user_id, const char *org_id, void *user);
    void *user;
} sio_gateway_hooks;
void sio_gateway_set_hooks(sio_gateway *gw, const sio_gateway_hooks *h);

/**
 * The verdict on an admission (an sio_gateway_verdict); a is freed. Returns 0, or SIO_ECLOSED
 * when the socket went away while the verdict was pending: a SIO_GW_ADMIT then counts nothing
 * on the gateway's side and release will not run, so the hook undoes its own count.
 */
int sio_gateway_admit(sio_gateway_admission *a, int verdict);

/** The identity of a socket the gateway accepted: 0 with *user_id and *org_id (NULL when the
 *  token had none), borrowed while the socket lives, or SIO_ENOTFOUND. */
int sio_gateway_identity(sio_gateway *gw, sio_socket *s, const char **user_id, const char **org_id);

#endif
