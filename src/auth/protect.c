/*
 * The connect middleware and the session side of include/sio/auth.h: token lookup, verification
 * (waiting for a JWKS fetch on an unknown kid), refusal with a TOKEN_* code, the socket's data
 * and claims slot, and the expiry protocol ("auth:expiring", "auth:refresh", the disconnect at
 * exp + leeway). Tokens never reach a log line.
 */
#include "auth/auth_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/array.h"
#include "common/list.h"
#include "common/log.h"

/* A socket that is not connected yet (a later middleware is still deciding) gets its notice or
 * its disconnect this much later. */
enum { NOT_CONNECTED_RETRY_MS = 200, HEADER_CAP = 16384 };

static const sio_slot auth_slot = {"sio_auth"};

/* Per-socket state, owned by the socket's slot; linked into its sio_auth while that lives. */
struct auth_session {
    sio_auth_claims claims; /* the public view; points into the strings below */
    char *user_id, *org, *role, *payload;
    sio_auth *auth; /* NULL once the authenticator is freed */
    sio_socket *s;  /* borrowed: the slot dies with the socket */
    struct event *notice_ev, *expire_ev;
    auth_session *prev, *next;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_refusal(sio_auth_stats *st, int code)
{
    /* By -code: the counters follow the codes, SIO_JWT_TOKEN_MISSING (-1) to
     * SIO_JWT_TOKEN_ISSUER (-7); any other code counts as invalid. */
    uint64_t *const by_code[] = {
        NULL,
        &st->refused_missing,
        &st->refused_invalid,
        &st->refused_expired,
        &st->refused_not_yet_valid,
        &st->refused_algorithm,
        &st->refused_audience,
        &st->refused_issuer,
    };
    int i = code <= SIO_JWT_TOKEN_MISSING && code >= SIO_JWT_TOKEN_ISSUER ? -code
                                                                          : -SIO_JWT_TOKEN_INVALID;
    (*by_code[i])++;
}

/* ---- verification -------------------------------------------------------------------------- */

/* Verifies token (may be NULL) now. */
static int verify_token(const sio_auth *a, const char *token, json_t **payload, sio_jwt_detail *d)
{
    return sio_jwt_verify(a->src.ks, &a->opts, token, token ? strlen(token) : 0,
                          (int64_t)time(NULL), payload, d);
}

int sio_auth_verify_token(sio_auth *a, const char *token, char *role, size_t role_cap,
                          const char **code)
{
    json_t *payload = NULL;
    sio_jwt_detail d;
    memset(&d, 0, sizeof(d));
    int rc = verify_token(a, token, &payload, &d);
    if (role && role_cap)
        role[0] = 0;
    if (rc == 0) {
        sio_jwt_claims c;
        if (sio_jwt_claims_extract(payload, &a->names, &c) == 0) {
            if (c.role && role && role_cap)
                snprintf(role, role_cap, "%s", c.role);
            sio_jwt_claims_deinit(&c);
        }
    }
    json_decref(payload);
    if (code)
        *code = rc == 0 ? "OK" : sio_jwt_code_str(rc);
    return rc;
}

/* Finds and verifies the token of a connecting socket. */
static int verify_socket(const sio_auth *a, sio_socket *s, json_t **payload, sio_jwt_detail *d)
{
    char *hdr = malloc(HEADER_CAP), *token = NULL;
    memset(d, 0, sizeof(*d));
    d->alg = -1;
    *payload = NULL;
    if (!hdr) {
        d->code = SIO_JWT_INTERNAL, d->reason = "out of memory";
        return d->code;
    }
    long hl = sio_socket_header(s, "authorization", hdr, HEADER_CAP);
    int rc = sio_auth_token_find(sio_socket_auth(s), sio_socket_handshake(s), hl > 0 ? hdr : NULL,
                                 &token);
    free(hdr);
    if (rc == 0) {
        d->code = SIO_JWT_TOKEN_MISSING, d->reason = "no token in auth, query or header";
    } else if (rc == SIO_EPROTO) {
        d->code = SIO_JWT_TOKEN_INVALID, d->reason = "auth token is not a string";
    } else if (rc < 0) {
        d->code = SIO_JWT_INTERNAL, d->reason = "out of memory";
    } else {
        verify_token(a, token, payload, d);
    }
    free(token);
    return d->code;
}

/* ---- sessions ------------------------------------------------------------------------------ */

static void session_unlink(auth_session *st)
{
    if (st->auth)
        SIO_LIST_UNLINK(st->auth->sessions, st);
}

static void session_stop(auth_session *st)
{
    if (st->notice_ev)
        event_free(st->notice_ev);
    if (st->expire_ev)
        event_free(st->expire_ev);
    st->notice_ev = st->expire_ev = NULL;
}

static void session_free(void *p)
{
    auth_session *st = p;
    session_unlink(st);
    session_stop(st);
    free(st->user_id);
    free(st->org);
    free(st->role);
    free(st->payload);
    free(st);
}

void sio_auth_sessions_detach(sio_auth *a)
{
    for (auth_session *st = a->sessions, *nx; st; st = nx) {
        nx = st->next;
        session_stop(st);
        st->auth = NULL;
        st->prev = st->next = NULL;
    }
    a->sessions = NULL;
}

/* Replaces the session's identity with the one in payload and sets the socket's data. Returns 0
 * or SIO_ENOMEM (nothing changed). */
static int session_fill(auth_session *st, const sio_auth *a, const json_t *payload)
{
    sio_jwt_claims c;
    if (sio_jwt_claims_extract(payload, &a->names, &c) < 0)
        return SIO_ENOMEM;
    char *text = json_dumps(payload, JSON_COMPACT);
    json_t *data = json_pack("{s:s?,s:s?,s:s?}", "user_id", c.user_id, "organization_id",
                             c.organization, "role", c.role);
    char *data_text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text || !data_text || sio_socket_set_data(st->s, data_text) < 0) {
        free(text);
        free(data_text);
        sio_jwt_claims_deinit(&c);
        return SIO_ENOMEM;
    }
    free(data_text);
    free(st->user_id);
    free(st->org);
    free(st->role);
    free(st->payload);
    st->user_id = c.user_id, st->org = c.organization, st->role = c.role, st->payload = text;
    const json_t *exp = json_object_get(payload, "exp");
    st->claims = (sio_auth_claims){
        .user_id = st->user_id,
        .organization_id = st->org,
        .role = st->role,
        .exp = json_is_number(exp) ? (int64_t)json_number_value(exp) : 0,
        .payload_json = st->payload,
    };
    return 0;
}

static void add_ms(struct event *ev, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

static void session_arm(auth_session *st)
{
    evtimer_del(st->notice_ev);
    evtimer_del(st->expire_ev);
    sio_auth_plan p =
        sio_auth_plan_timers(wall_ms(), st->claims.exp, st->auth->leeway_s, st->auth->notice_s);
    if (p.notice_ms >= 0)
        add_ms(st->notice_ev, p.notice_ms);
    if (p.expire_ms >= 0)
        add_ms(st->expire_ev, p.expire_ms);
}

static void on_notice(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    auth_session *st = arg;
    if (!sio_socket_connected(st->s)) {
        add_ms(st->notice_ev, NOT_CONNECTED_RETRY_MS);
        return;
    }
    char args[64];
    snprintf(args, sizeof(args), "[{\"exp\":%lld}]", (long long)st->claims.exp);
    if (sio_socket_emit(st->s, "auth:expiring", args, NULL, 0, 0) == 0)
        st->auth->stats.expiring_notices++;
}

static void on_expire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    auth_session *st = arg;
    sio_socket *s = st->s;
    if (!sio_socket_connected(s)) {
        add_ms(st->expire_ev, NOT_CONNECTED_RETRY_MS);
        return;
    }
    /* libevent measures from its cached loop time, which may lag the wall clock: never act
     * before exp + leeway by the wall clock the token is judged by */
    sio_auth_plan p =
        sio_auth_plan_timers(wall_ms(), st->claims.exp, st->auth->leeway_s, st->auth->notice_s);
    if (p.expire_ms > 0) {
        add_ms(st->expire_ev, p.expire_ms);
        return;
    }
    st->auth->stats.expired_disconnects++;
    sio_log(SIO_LOG_INFO, "auth", "socket %s: token expired, disconnecting", sio_socket_id(s));
    sio_socket_emit(s, "error",
                    "[{\"code\":\"TOKEN_EXPIRED\",\"message\":\"authentication token expired\"}]",
                    NULL, 0, 0);
    sio_socket_disconnect(s, 0); /* may free the socket, and st with it */
}

/* Creates the state of an accepted socket. Returns 0 or SIO_ENOMEM. */
static int session_start(sio_auth *a, sio_socket *s, const json_t *payload)
{
    auth_session *st = calloc(1, sizeof(*st));
    if (!st)
        return SIO_ENOMEM;
    st->s = s;
    st->notice_ev = evtimer_new(a->base, on_notice, st);
    st->expire_ev = evtimer_new(a->base, on_expire, st);
    if (!st->notice_ev || !st->expire_ev || session_fill(st, a, payload) < 0) {
        session_free(st);
        return SIO_ENOMEM;
    }
    st->auth = a;
    SIO_LIST_PUSH(a->sessions, st);
    if (sio_socket_set_slot(s, &auth_slot, st, session_free) < 0) {
        session_free(st);
        return SIO_ENOMEM;
    }
    session_arm(st);
    return 0;
}

const sio_auth_claims *sio_auth_claims_of(const sio_socket *s)
{
    const auth_session *st = s ? sio_socket_slot(s, &auth_slot) : NULL;
    return st ? &st->claims : NULL;
}

/* ---- the middleware ------------------------------------------------------------------------ */

static void refuse(sio_auth *a, sio_next *next, int code, const char *reason)
{
    char data[64];
    count_refusal(&a->stats, code);
    snprintf(data, sizeof(data), "{\"code\":\"%s\"}", sio_jwt_code_str(code));
    sio_log(SIO_LOG_INFO, "auth", "socket %s refused: %s (%s)",
            sio_socket_id(sio_next_socket(next)), sio_jwt_code_str(code), reason);
    sio_next_refuse(next, sio_jwt_code_message(code), data);
}

static int waiter_add(sio_auth *a, sio_next *next)
{
    return sio_array_push(&a->waiters, &a->nwaiters, &a->cap_waiters, &next, sizeof(next), 16);
}

/* Whether a failed verification may be a key the JWKS URL has not given us yet. */
static int worth_a_fetch(const sio_auth *a, int code, const sio_jwt_detail *d)
{
    if (!a->src.jwks_url || a->nwaiters >= SIO_AUTH_MAX_WAITERS)
        return 0;
    if (d->unknown_kid)
        return 1;
    /* before the first successful fetch, the set may lack every key of the URL */
    return !a->url_keys_loaded &&
           (code == SIO_JWT_TOKEN_ALGORITHM || code == SIO_JWT_TOKEN_INVALID);
}

/* Verifies and answers next; may_wait lets an unknown kid wait for a JWKS fetch. */
static void decide(sio_auth *a, sio_next *next, int may_wait)
{
    sio_socket *s = sio_next_socket(next);
    json_t *payload = NULL;
    sio_jwt_detail d;
    int code = verify_socket(a, s, &payload, &d);
    if (code != SIO_JWT_OK && may_wait && worth_a_fetch(a, code, &d) && sio_auth_fetch_allowed(a) &&
        sio_auth_fetch_start(a) == 0 && waiter_add(a, next) == 0)
        return; /* answered when the fetch ends (sio_auth_waiters_resume) */
    if (code != SIO_JWT_OK) {
        refuse(a, next, code, d.reason);
        return;
    }
    int rc = session_start(a, s, payload);
    json_decref(payload);
    if (rc < 0) {
        refuse(a, next, SIO_JWT_INTERNAL, "out of memory");
        return;
    }
    a->stats.accepted++;
    sio_next_accept(next);
}

static void middleware(sio_socket *s, sio_next *next, void *user)
{
    (void)s;
    decide(user, next, 1);
}

void sio_auth_waiters_resume(sio_auth *a)
{
    /* taken first: answering runs later middleware and handlers, which may connect others */
    sio_next **w = a->waiters;
    size_t n = a->nwaiters;
    a->waiters = NULL, a->nwaiters = a->cap_waiters = 0;
    for (size_t i = 0; i < n; i++)
        decide(a, w[i], 0);
    free(w);
}

void sio_auth_waiters_refuse_all(sio_auth *a)
{
    sio_next **w = a->waiters;
    size_t n = a->nwaiters;
    a->waiters = NULL, a->nwaiters = a->cap_waiters = 0;
    for (size_t i = 0; i < n; i++)
        sio_next_refuse(w[i], "server shutting down", NULL);
    free(w);
}

/* ---- auth:refresh -------------------------------------------------------------------------- */

static void refresh_answer(sio_ack *ack, int code, const char *message, int64_t exp)
{
    if (!ack)
        return;
    json_t *r = code == SIO_JWT_OK ? json_pack("[{s:b,s:I}]", "ok", 1, "exp", (json_int_t)exp)
                                   : json_pack("[{s:b,s:{s:s,s:s}}]", "ok", 0, "error", "code",
                                               sio_jwt_code_str(code), "message", message);
    char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    sio_ack_send(ack, text ? text : "[{\"ok\":false}]", NULL, 0);
    free(text);
}

/* The token of an "auth:refresh" argument: {"token": "..."} or the string itself. */
static char *refresh_token(const sio_args *args)
{
    size_t len = 0;
    const char *raw = sio_args_json(args, 0, &len);
    json_t *v = raw ? json_loadb(raw, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const json_t *t = json_is_object(v) ? json_object_get(v, "token") : v;
    char *token = json_is_string(t) ? strdup(json_string_value(t)) : NULL;
    json_decref(v);
    return token;
}

static int same(const char *x, const char *y)
{
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

static void on_refresh_event(sio_socket *s, const char *event, const sio_args *args, sio_ack *ack,
                             void *user)
{
    (void)event;
    sio_auth *a = user;
    auth_session *st = sio_socket_slot(s, &auth_slot);
    char *token = refresh_token(args);
    json_t *payload = NULL;
    sio_jwt_detail d = {.code = SIO_JWT_TOKEN_MISSING, .reason = "no token", .alg = -1};
    int code = token ? verify_token(a, token, &payload, &d) : SIO_JWT_TOKEN_MISSING;
    const char *message = sio_jwt_code_message(code);
    free(token);
    if (code == SIO_JWT_OK && (!st || st->auth != a)) {
        code = SIO_JWT_TOKEN_INVALID, d.reason = message = "socket not authenticated";
    } else if (code == SIO_JWT_OK) {
        sio_jwt_claims c;
        int rc = sio_jwt_claims_extract(payload, &a->names, &c);
        if (rc < 0) {
            code = SIO_JWT_INTERNAL, d.reason = "out of memory";
        } else if (!same(c.user_id, st->user_id)) {
            code = SIO_JWT_TOKEN_INVALID, d.reason = message = "the token is for another user";
        } else if (session_fill(st, a, payload) < 0) {
            code = SIO_JWT_INTERNAL, d.reason = "out of memory";
        }
        if (rc == 0)
            sio_jwt_claims_deinit(&c);
    }
    json_decref(payload);
    if (code == SIO_JWT_OK) {
        a->stats.refreshes_ok++;
        session_arm(st);
        refresh_answer(ack, code, NULL, st->claims.exp);
        return;
    }
    if (code == SIO_JWT_TOKEN_INVALID && d.unknown_kid && sio_auth_fetch_allowed(a))
        sio_auth_fetch_start(a); /* the client may retry once the set is fresh */
    a->stats.refreshes_refused++;
    sio_log(SIO_LOG_INFO, "auth", "socket %s: refresh refused: %s (%s)", sio_socket_id(s),
            sio_jwt_code_str(code), d.reason);
    refresh_answer(ack, code, message, 0);
}

int sio_auth_protect(sio_auth *a, sio_namespace *nsp)
{
    if (!a || !nsp)
        return SIO_EINVAL;
    int rc = sio_namespace_use(nsp, middleware, a);
    return rc ? rc : sio_namespace_on(nsp, "auth:refresh", on_refresh_event, a);
}
