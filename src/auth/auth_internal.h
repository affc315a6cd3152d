/*
 * Shared between auth.c (keys, JWKS URL, life cycle) and protect.c (middleware, sessions). Not
 * installed: the public face is include/sio/auth.h.
 */
#ifndef SIO_AUTH_INTERNAL_H
#define SIO_AUTH_INTERNAL_H

#include <sio/auth.h>

#include "auth/jwt.h"
#include "auth/session.h"
#include "httpc/httpc.h"

struct event;
typedef struct auth_session auth_session;

/* Most connections one JWKS fetch may hold waiting (more are answered at once). */
enum { SIO_AUTH_MAX_WAITERS = 4096 };

/* What a reload replaces as a whole (built aside, then swapped in). */
typedef struct auth_sources {
    char *issuer, *audience; /* the policy: opts points at them */
    /* key material kept to rebuild the set after each JWKS fetch */
    unsigned char *secret;
    size_t secret_len;
    char **pems;
    size_t *pem_lens, npems;
    char *jwks_text;
    size_t jwks_len;
    sio_jwt_keyset *ks; /* the set in use; replaced whole by a successful fetch */
    /* JWKS URL */
    char *jwks_url;
    sio_httpc_tls *tls;
} auth_sources;

struct sio_auth {
    sio_server *srv;
    struct event_base *base;
    sio_jwt_options opts;
    char **user_names, **org_names, **role_names; /* NULL: the defaults */
    sio_jwt_claim_names names;
    unsigned leeway_s, notice_s;
    auth_sources src;
    sio_httpc *fetch; /* in flight, or NULL */
    struct event *refresh_ev;
    int64_t last_fetch_ms; /* monotonic start of the last fetch */
    int url_keys_loaded;   /* a fetch succeeded once */
    unsigned refresh_s, min_refetch_s, timeout_ms;
    size_t max_bytes;
    /* connections waiting for the fetch in flight */
    sio_next **waiters;
    size_t nwaiters, cap_waiters;
    auth_session *sessions; /* every socket state, for sio_auth_free */
    sio_auth_stats stats;
};

/** Monotonic milliseconds. */
int64_t sio_auth_mono_ms(void);
/** Starts a JWKS fetch unless one is in flight. Returns 0 or SIO_ENOMEM (bad URL, OOM). */
int sio_auth_fetch_start(sio_auth *a);
/** Whether a connection with an unknown kid may wait for a fetch (one in flight, or the last
 *  one started at least min_refetch_s ago). */
int sio_auth_fetch_allowed(const sio_auth *a);
/** Verifies again, and answers, every connection waiting for the fetch that just ended. */
void sio_auth_waiters_resume(sio_auth *a);
/** Refuses every waiting connection (the authenticator is going away). */
void sio_auth_waiters_refuse_all(sio_auth *a);
/** Stops every socket's timers and unlinks the socket states from a. */
void sio_auth_sessions_detach(sio_auth *a);

#endif
