/*
 * Join authorisation (issue 11 section 2): POST {user_id, organization_id, role,
 * conversation_id} to the configured URL with the service bearer token, through src/httpc so the
 * loop never blocks; 2xx allows, 403 denies, anything else (timeout, refused connection, other
 * status) is UNAVAILABLE. Allow and deny are cached per identity and conversation for the TTL.
 */
#include "gateway/internal.h"

#include <stdlib.h>
#include <string.h>

#include "httpc/httpc.h"

/* A join waiting for the authorisation answer: owned by its gw_conn's pending slot, freed when
 * the answer came or the request was cancelled. */
struct gw_pending {
    gw_conn *conn;
    sio_httpc *req;
    sio_ack *ack; /* retained, or NULL */
    char *key;    /* cache key */
    char conv[GW_UUID_LEN + 1];
};

/* The identity and the conversation as one JSON array text: unambiguous whatever the ids
 * contain. The role and organisation take part, so a changed token is asked again. */
static char *cache_key(const gw_conn *c, const char *conv)
{
    json_t *k = json_pack("[s,s?,s?,s]", c->user_id, c->org_id, c->role, conv);
    char *txt = k ? json_dumps(k, JSON_COMPACT) : NULL;
    json_decref(k);
    return txt;
}

void gw_authorize_cache_prune(sio_gateway *gw, int force)
{
    if (force) {
        json_object_clear(gw->authz_cache);
        return;
    }
    uint64_t now = gw_now_ms();
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(gw->authz_cache, tmp, key, v)
    {
        if ((uint64_t)json_integer_value(json_array_get(v, 1)) <= now)
            json_object_del(gw->authz_cache, key);
    }
}

/* Returns 1 (allow), 0 (deny) or -1 (not cached, or expired). */
static int cache_get(sio_gateway *gw, const char *key)
{
    json_t *v = json_object_get(gw->authz_cache, key);
    if (!v)
        return -1;
    if ((uint64_t)json_integer_value(json_array_get(v, 1)) <= gw_now_ms()) {
        json_object_del(gw->authz_cache, key);
        return -1;
    }
    return json_is_true(json_array_get(v, 0));
}

/* At authorize_cache_max entries, expired ones go first and, if none had expired, all of them:
 * the cache only saves round trips, so forgetting is always safe. */
static void cache_put(sio_gateway *gw, const char *key, int allow)
{
    if (!gw->o.authorize_cache_ttl_ms || !gw->o.authorize_cache_max)
        return;
    if (json_object_size(gw->authz_cache) >= gw->o.authorize_cache_max) {
        gw_authorize_cache_prune(gw, 0);
        if (json_object_size(gw->authz_cache) >= gw->o.authorize_cache_max)
            gw_authorize_cache_prune(gw, 1);
    }
    json_int_t expiry = (json_int_t)(gw_now_ms() + gw->o.authorize_cache_ttl_ms);
    json_object_set_new(gw->authz_cache, key, json_pack("[b,I]", allow, expiry));
}

static void pending_free(gw_pending *p)
{
    free(p->key);
    free(p);
}

/* Removes p from its socket's pending slots. */
static void pending_unlink(gw_pending *p)
{
    for (size_t i = 0; i < GW_MAX_PENDING; i++)
        if (p->conn->pending[i] == p)
            p->conn->pending[i] = NULL;
}

static void on_answer(sio_httpc *req, const sio_httpc_response *res, void *user)
{
    (void)req;
    gw_pending *p = user;
    gw_conn *c = p->conn;
    sio_gateway *gw = c->gw;
    pending_unlink(p);
    int allowed = 0, err = SIO_GW_ERR_UNAVAILABLE;
    const char *msg = "Authorization service unavailable";
    if (res->status >= 200 && res->status < 300) {
        allowed = 1;
        gw->stats.authorize_allowed++;
        cache_put(gw, p->key, 1);
    } else if (res->status == 403) {
        err = SIO_GW_ERR_FORBIDDEN;
        msg = "Not authorized to join this conversation";
        gw->stats.authorize_denied++;
        cache_put(gw, p->key, 0);
    } else {
        gw->stats.authorize_unavailable++;
        gw_log(gw, SIO_LOG_WARN, "authorization of user %s for %s failed: %s", c->user_id, p->conv,
               res->reason ? res->reason : "error");
    }
    gw_join_finish(c, p->conv, p->ack, allowed, err, msg);
    pending_free(p);
}

/* Starts the request; returns 0, or a negative error (nothing pending then). */
static int request_start(gw_conn *c, gw_pending *p)
{
    sio_gateway *gw = c->gw;
    json_t *body = json_pack("{s:s,s:s?,s:s?,s:s}", "user_id", c->user_id, "organization_id",
                             c->org_id, "role", c->role, "conversation_id", p->conv);
    char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char *bearer = NULL;
    sio_httpc_header h[3] = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    size_t nh = 2;
    if (gw->o.authorize_token) {
        size_t tl = strlen(gw->o.authorize_token);
        if ((bearer = malloc(tl + 8))) {
            memcpy(bearer, "Bearer ", 7);
            memcpy(bearer + 7, gw->o.authorize_token, tl + 1);
            h[nh++] = (sio_httpc_header){"Authorization", bearer};
        }
    }
    if (txt && (bearer || !gw->o.authorize_token)) {
        sio_httpc_req r = {
            .method = "POST",
            .url = gw->o.authorize_url,
            .headers = h,
            .n_headers = nh,
            .body = txt,
            .body_len = strlen(txt),
            .timeout_ms = (int)(gw->o.authorize_timeout_ms ? gw->o.authorize_timeout_ms : 1),
            .max_response_bytes = 64 * 1024, /* only the status matters */
            .tls = gw->tls,
        };
        p->req = sio_httpc_request(gw->base, &r, on_answer, p);
    }
    free(bearer);
    free(txt);
    return p->req ? 0 : SIO_ENOMEM;
}

void gw_authorize(gw_conn *c, const char *conv, sio_ack *ack)
{
    sio_gateway *gw = c->gw;
    if (!gw->o.authorize_url) {
        gw_join_finish(c, conv, ack, 1, 0, NULL);
        return;
    }
    char *key = cache_key(c, conv);
    int cached = key ? cache_get(gw, key) : -1;
    if (cached >= 0) {
        free(key);
        gw->stats.authorize_cached++;
        gw_join_finish(c, conv, ack, cached, SIO_GW_ERR_FORBIDDEN,
                       "Not authorized to join this conversation");
        return;
    }
    size_t slot = 0;
    while (slot < GW_MAX_PENDING && c->pending[slot])
        slot++;
    if (slot == GW_MAX_PENDING) {
        free(key);
        gw_join_finish(c, conv, ack, 0, SIO_GW_ERR_RATE_LIMITED,
                       "Too many joins waiting for authorization");
        return;
    }
    gw_pending *p = key ? calloc(1, sizeof(*p)) : NULL;
    if (p) {
        p->conn = c;
        p->key = key;
        memcpy(p->conv, conv, GW_UUID_LEN + 1);
    }
    if (!p || request_start(c, p) < 0) {
        if (p)
            pending_free(p);
        else
            free(key);
        gw->stats.authorize_unavailable++;
        gw_join_finish(c, conv, ack, 0, SIO_GW_ERR_UNAVAILABLE,
                       "Authorization service unavailable");
        return;
    }
    p->ack = ack ? sio_ack_retain(ack) : NULL;
    c->pending[slot] = p;
}

void gw_authorize_cancel(gw_conn *c, const char *conv)
{
    for (size_t i = 0; i < GW_MAX_PENDING; i++) {
        gw_pending *p = c->pending[i];
        if (!p || (conv && strcmp(p->conv, conv)))
            continue;
        c->pending[i] = NULL;
        sio_httpc_cancel(p->req);
        if (conv)
            gw_join_finish(c, p->conv, p->ack, 0, SIO_GW_ERR_BAD_REQUEST,
                           "Left the conversation before the join was authorized");
        else if (p->ack)
            sio_ack_free(p->ack);
        pending_free(p);
    }
}
