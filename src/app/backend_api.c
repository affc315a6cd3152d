/*
 * The backend API (backend_api.h, docs/backend.md). Every body is JSON, bounded by max_body and
 * validated before anything happens; errors are {"ok":false,"error":{"code","message"}} with
 * 400 (BAD_REQUEST), 401 (UNAUTHORIZED: no or bad credentials), 403 (FORBIDDEN: a valid token
 * without the role) or 413. An emit is encoded once for this server's recipients and published
 * once to the cluster, whatever the number of targets.
 */
#include "backend_api.h"

#include <sio/adapter.h>
#include <sio/http.h>

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 1024
#define MAX_NAMESPACES 16

struct sio_backend_api {
    sio_server *srv;
    sio_backend_api_options o;
    const char *token, *role, *pu, *po, *pc; /* point into strings */
    char *strings;
    sio_backend_api_stats stats;
    sio_namespace *nsps[MAX_NAMESPACES]; /* the namespaces a request may name ("/" first) */
    size_t nnsps;
};

void sio_backend_api_options_init(sio_backend_api_options *o)
{
    memset(o, 0, sizeof(*o));
    o->role = "admin";
    o->max_body = 1u << 20;
    o->prefix_user = "user:";
    o->prefix_org = "org:";
    o->prefix_conversation = "conversation:";
}

static const sio_http_header json_ctype[] = {{"content-type", "application/json"}};

static void reply(sio_http_request *req, int status, const char *body)
{
    sio_http_respond(req, status, json_ctype, 1, body, strlen(body));
}

static void fail(sio_backend_api *api, sio_http_request *req, int status, const char *code,
                 const char *message)
{
    if (status == 401 || status == 403)
        api->stats.unauthorized++;
    else
        api->stats.bad_requests++;
    json_t *j = json_pack("{s:b,s:{s:s,s:s}}", "ok", 0, "error", "code", code, "message", message);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    /* RFC 6750 section 3: a 401 names the scheme the client must use */
    static const sio_http_header unauthorized[] = {{"content-type", "application/json"},
                                                   {"www-authenticate", "Bearer"}};
    const char *body = text ? text : "{\"ok\":false}";
    sio_http_respond(req, status, status == 401 ? unauthorized : json_ctype, status == 401 ? 2 : 1,
                     body, strlen(body));
    free(text);
    json_decref(j);
}

/* Constant-time comparison of the presented secret with ours. */
static int same_secret(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++)
        d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return d == 0;
}

/* 0 when the request carries the service secret or a JWT with the API role; else answered. */
static int authorize(sio_backend_api *api, sio_http_request *req)
{
    char hdr[8192];
    long n = sio_http_request_header(req, "authorization", hdr, sizeof(hdr));
    if (n <= 7 || strncasecmp(hdr, "Bearer ", 7) != 0) {
        fail(api, req, 401, "UNAUTHORIZED", "a bearer token is required");
        return -1;
    }
    const char *token = hdr + 7;
    if (api->token && same_secret(token, api->token))
        return 0;
    if (api->o.auth) {
        char role[128];
        const char *code = NULL;
        if (sio_auth_verify_token(api->o.auth, token, role, sizeof(role), &code) == 0) {
            if (api->role && !strcmp(role, api->role))
                return 0;
            fail(api, req, 403, "FORBIDDEN", "the token's role may not use this API");
            return -1;
        }
    }
    fail(api, req, 401, "UNAUTHORIZED", "invalid credentials");
    return -1;
}

static json_t *body_json(sio_backend_api *api, sio_http_request *req)
{
    size_t len;
    const void *body = sio_http_request_body(req, &len);
    json_error_t err;
    json_t *j = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &err) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        fail(api, req, 400, "BAD_REQUEST", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Appends prefix + s to v (an owned string). */
static int add_target(const char *prefix, const char *s, char **v, size_t *n)
{
    if (!s || !*s || *n >= MAX_TARGETS)
        return -1;
    size_t len = strlen(prefix) + strlen(s) + 1;
    if (!(v[*n] = malloc(len)))
        return -1;
    snprintf(v[*n], len, "%s%s", prefix, s);
    (*n)++;
    return 0;
}

/* Collects prefix + each string (or integer) of field key of obj, a list or a single value. */
static int collect(json_t *obj, const char *key, const char *prefix, char **v, size_t *n)
{
    json_t *arr = json_object_get(obj, key);
    if (!arr)
        return 0;
    if (json_is_string(arr))
        return add_target(prefix, json_string_value(arr), v, n);
    if (!json_is_array(arr))
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char num[32];
        const char *s = json_is_string(e) ? json_string_value(e) : NULL;
        if (!s && json_is_integer(e)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(e));
            s = num;
        }
        if (add_target(prefix, s, v, n) < 0)
            return -1;
    }
    return 0;
}

typedef struct targets {
    char *rooms[MAX_TARGETS], *except[MAX_TARGETS];
    size_t nrooms, nexcept;
} targets;

static void targets_free(targets *t)
{
    for (size_t i = 0; i < t->nrooms; i++)
        free(t->rooms[i]);
    for (size_t i = 0; i < t->nexcept; i++)
        free(t->except[i]);
}

/* "to": {rooms, users, conversations, organizations}; "except": rooms or socket ids. Returns
 * NULL or why the request is refused. A key of "to" that is none of the four is refused, so that
 * a misspelt one ("user") is not silently ignored. */
static const char *read_targets(sio_backend_api *api, json_t *to, json_t *body, targets *t)
{
    static const char *bad_to =
        "to must be an object of strings or string lists (rooms, users, conversations, "
        "organizations)";
    if (!json_is_object(to))
        return bad_to;
    const char *key;
    json_t *v;
    json_object_foreach(to, key, v)
    {
        if (strcmp(key, "rooms") && strcmp(key, "users") && strcmp(key, "conversations") &&
            strcmp(key, "organizations"))
            return bad_to;
    }
    if (collect(to, "rooms", "", t->rooms, &t->nrooms) < 0 ||
        collect(to, "users", api->pu, t->rooms, &t->nrooms) < 0 ||
        collect(to, "conversations", api->pc, t->rooms, &t->nrooms) < 0 ||
        collect(to, "organizations", api->po, t->rooms, &t->nrooms) < 0)
        return bad_to;
    if (collect(body, "except", "", t->except, &t->nexcept) < 0)
        return "except must be a string or a list of strings (rooms or socket ids)";
    return NULL;
}

/* One of the namespaces the program registered, by name; NULL for any other. Never
 * sio_server_of on a name from the request: that would create the namespace, and a namespace
 * created here has none of the program's middleware (no authentication) and is never freed. */
static sio_namespace *namespace_named(sio_backend_api *api, const char *name)
{
    for (size_t i = 0; i < api->nnsps; i++)
        if (!strcmp(sio_namespace_name(api->nsps[i]), name))
            return api->nsps[i];
    return NULL;
}

/* The body's "namespace" ("/" when absent); NULL when it is not a string or not registered. */
static sio_namespace *namespace_of(sio_backend_api *api, json_t *body)
{
    json_t *n = json_object_get(body, "namespace");
    if (n && !json_is_string(n))
        return NULL;
    return namespace_named(api, n ? json_string_value(n) : "/");
}

/* What a POST route does with the JSON body of an authorised request for nsp (a served one),
 * with the targets it may fill in t. */
typedef void (*post_step)(sio_backend_api *api, sio_http_request *req, json_t *body,
                          sio_namespace *nsp, targets *t);

/* The POST routes: authorises the request, reads its JSON body and namespace, hands them to
 * step, and frees the body and the targets after it. */
static void post_route(sio_backend_api *api, sio_http_request *req, post_step step)
{
    json_t *body = authorize(api, req) < 0 ? NULL : body_json(api, req);
    if (!body)
        return; /* answered already */
    targets t = {0};
    sio_namespace *nsp = namespace_of(api, body);
    if (nsp)
        step(api, req, body, nsp, &t);
    else
        fail(api, req, 400, "BAD_REQUEST",
             "namespace must be the name of a namespace this server serves (\"/\")");
    targets_free(&t);
    json_decref(body);
}

/* ---- POST /api/emit ----------------------------------------------------------------------- */

static void emit(sio_backend_api *api, sio_http_request *req, json_t *body, sio_namespace *nsp,
                 targets *t)
{
    json_t *ev = json_object_get(body, "event"), *data = json_object_get(body, "data"),
           *args = json_object_get(body, "args"), *to = json_object_get(body, "to");
    const char *why = NULL;
    if (!json_is_string(ev) || !json_string_length(ev))
        why = "event must be a non-empty string";
    else if (data && args)
        why = "give data (one argument) or args (an array of arguments), not both";
    else if (args && !json_is_array(args))
        why = "args must be an array";
    else if (!to)
        why = "to is required: {rooms, users, conversations, organizations}";
    else if ((why = read_targets(api, to, body, t)) != NULL)
        ;
    else if (!t->nrooms)
        why = "no target: give at least one room, user, conversation or organization";
    if (why) {
        fail(api, req, 400, "BAD_REQUEST", why);
        return;
    }
    json_t *list = args ? json_incref(args) : json_array();
    if (!args && data)
        json_array_append(list, data);
    char *args_json = json_dumps(list, JSON_COMPACT | JSON_ENCODE_ANY);
    sio_target tg = {(const char *const *)t->rooms, t->nrooms, (const char *const *)t->except,
                     t->nexcept, 0};
    long n = args_json ? sio_namespace_emit(nsp, &tg, json_string_value(ev), args_json, NULL, 0)
                       : SIO_ENOMEM;
    if (n < 0) {
        fail(api, req, n == SIO_EINVAL ? 400 : 500, n == SIO_EINVAL ? "BAD_REQUEST" : "INTERNAL",
             n == SIO_EINVAL ? "reserved event name or unusable data" : sio_strerror((int)n));
    } else {
        api->stats.emits++;
        char out[96];
        snprintf(out, sizeof(out), "{\"ok\":true,\"local_recipients\":%ld}", n);
        reply(req, 200, out);
    }
    free(args_json);
    json_decref(list);
}

static void emit_route(sio_http_request *req, void *user)
{
    post_route(user, req, emit);
}

/* ---- POST /api/disconnect ----------------------------------------------------------------- */

static void disconnect(sio_backend_api *api, sio_http_request *req, json_t *body,
                       sio_namespace *nsp, targets *t)
{
    json_t *reason = json_object_get(body, "reason"), *close = json_object_get(body, "close");
    if (collect(body, "users", api->pu, t->rooms, &t->nrooms) < 0 ||
        collect(body, "rooms", "", t->rooms, &t->nrooms) < 0 || !t->nrooms ||
        (reason && !json_is_string(reason)) || (close && !json_is_boolean(close))) {
        fail(api, req, 400, "BAD_REQUEST",
             "give users or rooms (string lists); reason, if any, a string; close a boolean");
    } else {
        sio_target tg = {(const char *const *)t->rooms, t->nrooms, NULL, 0, 0};
        long n = sio_namespace_disconnect_sockets(nsp, &tg, json_is_true(close));
        api->stats.disconnects++;
        char out[96];
        snprintf(out, sizeof(out), "{\"ok\":true,\"local_disconnected\":%ld}", n);
        reply(req, 200, out);
    }
}

static void disconnect_route(sio_http_request *req, void *user)
{
    post_route(user, req, disconnect);
}

/* ---- GET /api/sockets?room= --------------------------------------------------------------- */

static void sockets_answer(sio_namespace *nsp, int status, const sio_socket_info *s, size_t n,
                           void *user)
{
    sio_http_request *req = user;
    if (sio_http_request_is_aborted(req)) {
        sio_http_request_release(req);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *rooms = json_array();
        for (size_t k = 0; k < s[i].nrooms; k++)
            json_array_append_new(rooms, json_string(s[i].rooms[k]));
        json_t *data = json_loads(s[i].data_json, 0, NULL);
        json_t *e = json_pack("{s:s,s:o,s:o*,s:o*,s:o*}", "id", s[i].id, "rooms", rooms, "user_id",
                              json_incref(json_object_get(data, "user_id")), "organization_id",
                              json_incref(json_object_get(data, "organization_id")), "role",
                              json_incref(json_object_get(data, "role")));
        json_decref(data);
        json_array_append_new(list, e);
    }
    json_t *out = json_pack("{s:b,s:b,s:o}", "ok", 1, "complete", status == 0, "sockets", list);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    if (text)
        reply(req, 200, text);
    else
        sio_http_respond(req, 500, NULL, 0, NULL, 0);
    free(text);
    json_decref(out);
}

static void sockets_route(sio_http_request *req, void *user)
{
    sio_backend_api *api = user;
    if (authorize(api, req) < 0)
        return;
    char room[512];
    long n = sio_http_request_query_param(req, "room", room, sizeof(room));
    char ns[256] = "/";
    sio_http_request_query_param(req, "namespace", ns, sizeof(ns));
    sio_namespace *nsp = namespace_named(api, ns);
    if (!nsp || n == SIO_ELIMIT) {
        fail(api, req, 400, "BAD_REQUEST", "room too long, or not a namespace this server serves");
        return;
    }
    const char *r = room;
    sio_target to = {&r, n > 0 ? 1 : 0, NULL, 0, 0};
    if (sio_namespace_fetch_sockets(nsp, &to, sockets_answer, req) < 0) {
        fail(api, req, 503, "UNAVAILABLE", "the server is shutting down");
        return;
    }
    api->stats.socket_lists++; /* answered when every server did (requests_timeout_ms) */
}

/* ---- life --------------------------------------------------------------------------------- */

sio_backend_api *sio_backend_api_new(sio_server *srv, const sio_backend_api_options *o)
{
    sio_backend_api *api = calloc(1, sizeof(*api));
    if (!api)
        return NULL;
    api->srv = srv;
    api->o = *o;
    api->token = o->token && *o->token ? o->token : NULL;
    api->role = o->role;
    api->pu = o->prefix_user ? o->prefix_user : "user:";
    api->po = o->prefix_org ? o->prefix_org : "org:";
    api->pc = o->prefix_conversation ? o->prefix_conversation : "conversation:";
    const char **fields[] = {&api->token, &api->role, &api->pu, &api->po, &api->pc};
    api->strings = sio_strings_copy(fields, sizeof(fields) / sizeof(fields[0]));
    sio_http_route routes[] = {
        {.method = "POST", .path = "/api/emit", .max_body = o->max_body, .cb = emit_route},
        {.method = "POST",
         .path = "/api/disconnect",
         .max_body = o->max_body,
         .cb = disconnect_route},
        {.method = "GET", .path = "/api/sockets", .cb = sockets_route},
    };
    api->nsps[api->nnsps++] = sio_server_of(srv, "/");
    int ok = api->strings && api->nsps[0];
    for (size_t i = 0; ok && i < sizeof(routes) / sizeof(routes[0]); i++) {
        routes[i].user = api;
        ok = sio_server_route_add(srv, &routes[i]) == 0;
    }
    if (!ok) {
        sio_backend_api_free(api);
        return NULL;
    }
    return api;
}

int sio_backend_api_add_namespace(sio_backend_api *api, sio_namespace *nsp)
{
    if (namespace_named(api, sio_namespace_name(nsp)))
        return 0;
    if (api->nnsps == MAX_NAMESPACES)
        return SIO_ELIMIT;
    api->nsps[api->nnsps++] = nsp;
    return 0;
}

void sio_backend_api_free(sio_backend_api *api)
{
    if (!api)
        return;
    free(api->strings);
    free(api);
}

void sio_backend_api_get_stats(const sio_backend_api *api, sio_backend_api_stats *out)
{
    *out = api->stats;
}
