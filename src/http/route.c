/*
 * HTTP routes outside the Engine.IO path (include/sio/http.h): the route table, the matching
 * (404, 405 with Allow, 413), bodies (Content-Length or chunked, bounded per route) and the
 * public sio_http_request API, whose responses may come after the callback has returned.
 */
#include "internal.h"

#include "common/log.h"
#include "hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct route_entry {
    char *method; /* NULL = any */
    char *path;
    size_t path_len;
    int flags;
    size_t max_body;
    sio_route_cb cb;
    void *user;
} route_entry;

/*
 * Owned by the http layer. Two links keep it: the connection (c, until the response is written
 * or the peer leaves) and the application (from the callback until sio_http_respond or
 * sio_http_request_release sets finished). It is freed when both are gone, never while one of
 * its callbacks runs (in_cb), so a late answer after the peer left is safe.
 */
struct sio_http_request {
    http_conn *c;
    sio_route_cb cb; /* copied: the route table may grow while a request waits */
    void *user;
    size_t max_body;
    const char *method; /* static */
    char *path, *query;
    char addr[64];
    uint8_t *body;
    size_t body_len, body_cap;
    int delivered; /* the route callback ran */
    int finished;  /* the application answered or released it */
    int in_cb;     /* a callback on it runs: the free waits until it returns */
    int aborted;
    sio_http_abort_cb on_abort;
    void *abort_user;
    /* the response, copied until the socket takes it (has_resp 0: an empty 500) */
    int has_resp, status;
    const char *ctype; /* points into resp_mem */
    sio_http_header *hdrs;
    size_t nhdrs;
    uint8_t *rbody;
    size_t rlen;
    void *resp_mem;
};

/* ---- the table ------------------------------------------------------------------------------ */

int sio_http_route_add(sio_http *h, const sio_http_route *r)
{
    if (!r || !r->cb || !r->path || r->path[0] != '/' || r->max_body > SIO_ROUTE_MAX_BODY)
        return SIO_EINVAL;
    route_entry *t = realloc(h->routes, (h->nroutes + 1) * sizeof(*t));
    if (!t)
        return SIO_ENOMEM;
    h->routes = t;
    route_entry *e = &t[h->nroutes];
    memset(e, 0, sizeof(*e));
    e->path = strdup(r->path);
    e->method = r->method ? strdup(r->method) : NULL;
    if (!e->path || (r->method && !e->method)) {
        free(e->path);
        free(e->method);
        return SIO_ENOMEM;
    }
    e->path_len = strlen(e->path);
    e->flags = r->flags;
    e->max_body = r->max_body;
    e->cb = r->cb;
    e->user = r->user;
    h->nroutes++;
    return 0;
}

void http_routes_free(sio_http *h)
{
    for (size_t i = 0; i < h->nroutes; i++) {
        free(h->routes[i].path);
        free(h->routes[i].method);
    }
    free(h->routes);
    h->routes = NULL;
    h->nroutes = 0;
}

static const char *method_name(struct lws *wsi)
{
    static const char *const names[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                        "PATCH", "DELETE", "CONNECT", "HEAD"};
    char *uri;
    int len;
    int m = lws_http_get_uri_and_method(wsi, &uri, &len);
    return m >= 0 && (size_t)m < sizeof(names) / sizeof(names[0]) ? names[m] : "OTHER";
}

static int path_matches(const route_entry *e, const char *uri)
{
    if (e->flags & SIO_ROUTE_PREFIX)
        return !strncmp(uri, e->path, e->path_len);
    return !strcmp(uri, e->path);
}

/* The first route matching path and method; collects the methods of the routes that match the
 * path only into allow (for 405). */
static const route_entry *find_route(const sio_http *h, const char *uri, const char *method,
                                     char *allow, size_t cap)
{
    size_t n = 0;
    allow[0] = 0;
    for (size_t i = 0; i < h->nroutes; i++) {
        const route_entry *e = &h->routes[i];
        if (!path_matches(e, uri))
            continue;
        if (!e->method || !strcmp(e->method, method))
            return e;
        size_t ml = strlen(e->method);
        if (n + ml + 3 < cap && !strstr(allow, e->method)) {
            n += (size_t)snprintf(allow + n, cap - n, "%s%s", n ? ", " : "", e->method);
        }
    }
    return NULL;
}

/* ---- requests ------------------------------------------------------------------------------- */

static void req_free(sio_http_request *req)
{
    free(req->path);
    free(req->query);
    free(req->body);
    free(req->resp_mem);
    free(req);
}

static sio_http_request *req_new(http_conn *c, const route_entry *e, const char *uri,
                                 const char *method)
{
    sio_http_request *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    char url[4096];
    http_request_url(c->wsi, "", url, sizeof(url));
    req->c = c;
    req->cb = e->cb;
    req->user = e->user;
    req->max_body = e->max_body;
    req->method = method;
    req->path = strdup(uri);
    req->query = strdup(url[0] == '?' ? url + 1 : url);
    http_peer_address(c->wsi, req->addr, sizeof(req->addr));
    if (!req->path || !req->query) {
        req_free(req);
        return NULL;
    }
    return req;
}

/* Answers a request no route takes: a small JSON body, like the old 404. */
static int respond_plain(http_conn *c, int status, const char *method, const char *allow,
                         long long content_length)
{
    const char *msg = status == 404   ? "not found"
                      : status == 405 ? "method not allowed"
                      : status == 413 ? "payload too large"
                                      : "bad request";
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
    /* a body still on its way is read and dropped before the next request */
    c->discard_body = content_length > 0;
    response r = {.status = status,
                  .ctype = "application/json",
                  .body = (const uint8_t *)body,
                  .len = (size_t)n,
                  .allow = allow,
                  .defer_complete = c->discard_body,
                  .head = !strcmp(method, "HEAD")};
    return http_respond(c, &r);
}

/* Sends the stored response (or a 500) and lets go of the request. */
static int write_response(http_conn *c)
{
    sio_http_request *req = c->route;
    /* a HEAD gets the headers of the GET, Content-Length included, and no body (RFC 9110 9.3.2) */
    response r = {.status = 500, .head = !strcmp(req->method, "HEAD")};
    if (req->has_resp) {
        r.status = req->status;
        r.ctype = req->ctype;
        r.body = req->rbody;
        r.len = req->rlen;
        r.headers = req->hdrs;
        r.nheaders = req->nhdrs;
    }
    c->route = NULL;
    c->kind = CONN_NONE;
    req->c = NULL;
    int rc = http_respond(c, &r);
    req_free(req); /* finished, and no callback of it runs */
    return rc;
}

/* Runs the route callback; the response goes out now if it came during the call. */
static int deliver(http_conn *c)
{
    sio_http_request *req = c->route;
    req->delivered = 1;
    req->in_cb = 1;
    req->cb(req, req->user);
    req->in_cb = 0;
    return req->finished ? write_response(c) : 0;
}

int http_route_request(http_conn *c, const char *uri)
{
    sio_http *h = c->http;
    http_read_origin(c->wsi, c); /* an invalid Origin only means no CORS headers */
    const char *method = method_name(c->wsi);
    long long cl = http_read_framing(c->wsi, c);
    if (c->chunked) {
        c->end_after = 1; /* as for the Engine.IO POST (request.c) */
        if (c->chunked < 0 || cl >= 0)
            return respond_plain(c, 400, method, NULL, -1);
    }
    char allow[128];
    const route_entry *e = find_route(h, uri, method, allow, sizeof(allow));
    if (!e && allow[0] && !strcmp(method, "OPTIONS") && h->opts.cors_origin) {
        response r = {.status = 204, .preflight = 1, .defer_complete = cl > 0};
        c->discard_body = cl > 0;
        return http_respond(c, &r);
    }
    if (!e)
        return respond_plain(c, allow[0] ? 405 : 404, method, allow[0] ? allow : NULL, cl);
    if ((cl > 0 && (unsigned long long)cl > e->max_body) || (c->chunked && !e->max_body))
        return respond_plain(c, 413, method, NULL, cl);
    sio_http_request *req = req_new(c, e, uri, method);
    if (!req)
        return -1;
    c->route = req;
    c->kind = CONN_ROUTE;
    if (cl > 0 || c->chunked) { /* the callback runs once the body is complete */
        if (c->chunked) {
            sio_chunked_init(&c->dechunk);
            h->stats.chunked_bodies++;
        }
        return 0;
    }
    return deliver(c);
}

static int body_append(sio_http_request *req, const void *in, size_t len)
{
    if (req->body_len + len > req->max_body)
        return SIO_ELIMIT;
    return sio_bytes_append(&req->body, &req->body_len, &req->body_cap, in, len);
}

static int dechunk_sink(void *user, const uint8_t *data, size_t len)
{
    return body_append(user, data, len) < 0 ? 1 : 0;
}

int http_route_body(http_conn *c, const void *in, size_t len)
{
    sio_http_request *req = c->route;
    if (!req || req->delivered)
        return 0;
    int rc;
    if (c->chunked) {
        const char *reason = NULL;
        rc = sio_chunked_feed(&c->dechunk, in, len, NULL, dechunk_sink, req, &reason);
        if (rc == 1)
            return deliver(c);
    } else {
        rc = body_append(req, in, len);
    }
    if (rc == 0)
        return 0;
    /* the application never saw it: drop it and refuse the body */
    int too_large = req->body_len + len > req->max_body || rc == SIO_ELIMIT;
    c->route = NULL;
    c->kind = CONN_NONE;
    req_free(req);
    c->discard_body = 1;
    response r = {.status = too_large ? 413 : 400, .ctype = "text/html", .defer_complete = 1};
    return http_respond(c, &r);
}

int http_route_body_done(http_conn *c)
{
    if (!c->route || c->route->delivered)
        return 0;
    return deliver(c);
}

int http_route_writable(http_conn *c)
{
    if (!c->route || !c->route->finished)
        return 0;
    return write_response(c);
}

void http_route_detach(http_conn *c)
{
    sio_http_request *req = c->route;
    c->route = NULL;
    req->c = NULL;
    if (!req->delivered || req->finished) {
        if (!req->in_cb)
            req_free(req);
        return;
    }
    req->aborted = 1;
    if (req->on_abort) {
        req->in_cb = 1;
        req->on_abort(req, req->abort_user);
        req->in_cb = 0;
    }
    if (req->finished)
        req_free(req);
}

/* ---- the public request API ----------------------------------------------------------------- */

const char *sio_http_request_method(const sio_http_request *req)
{
    return req->method;
}

const char *sio_http_request_path(const sio_http_request *req)
{
    return req->path;
}

const char *sio_http_request_query(const sio_http_request *req)
{
    return req->query;
}

const char *sio_http_request_address(const sio_http_request *req)
{
    return req->addr;
}

const void *sio_http_request_body(const sio_http_request *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body ? (const void *)req->body : "";
}

int sio_http_request_is_aborted(const sio_http_request *req)
{
    return req->aborted;
}

void sio_http_request_on_abort(sio_http_request *req, sio_http_abort_cb cb, void *user)
{
    req->on_abort = cb;
    req->abort_user = user;
}

/* Percent-decodes s[0..n) into out (cap bytes, NUL-terminated); its length or SIO_ELIMIT. */
static long url_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int hi, lo;
        if (ch == '%' && i + 2 < n && (hi = sio_hex_value((unsigned char)s[i + 1])) >= 0 &&
            (lo = sio_hex_value((unsigned char)s[i + 2])) >= 0) {
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return SIO_ELIMIT;
        out[o++] = ch;
    }
    if (!cap)
        return SIO_ELIMIT;
    out[o] = 0;
    return (long)o;
}

long sio_http_request_query_param(const sio_http_request *req, const char *name, char *buf,
                                  size_t cap)
{
    const char *p = req->query;
    char key[256];
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kn = eq ? (size_t)(eq - p) : len;
        if (url_decode(p, kn, key, sizeof(key)) >= 0 && !strcmp(key, name)) {
            if (!eq)
                return url_decode("", 0, buf, cap);
            return url_decode(eq + 1, len - kn - 1, buf, cap);
        }
        if (!end)
            break;
        p = end + 1;
    }
    return SIO_ENOTFOUND;
}

long sio_http_request_header(const sio_http_request *req, const char *name, char *buf, size_t cap)
{
    return req->c ? http_header_by_name(req->c->wsi, name, buf, cap) : SIO_ECLOSED;
}

/* ---- answering ------------------------------------------------------------------------------ */

static int header_ok(const sio_http_header *hd)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    size_t n = hd->name ? strlen(hd->name) : 0;
    if (!n || n > 64 || !hd->value)
        return 0;
    for (const char *p = hd->name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(tchar, *p)))
            return 0;
    for (const unsigned char *p = (const unsigned char *)hd->value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}

/* Copies status, headers and body into one allocation kept on req until it is written. */
static int store_response(sio_http_request *req, int status, const sio_http_header *headers,
                          size_t nheaders, const void *body, size_t len)
{
    size_t strings = 0;
    for (size_t i = 0; i < nheaders; i++) {
        if (!header_ok(&headers[i]))
            return SIO_EINVAL;
        strings += strlen(headers[i].name) + strlen(headers[i].value) + 2;
    }
    if (status < 100 || status > 599 || strings > 1024 || (len && !body))
        return SIO_EINVAL;
    char *mem = malloc(nheaders * sizeof(sio_http_header) + strings + len + 1);
    if (!mem)
        return SIO_ENOMEM;
    sio_http_header *hdrs = (sio_http_header *)(void *)mem;
    char *s = mem + nheaders * sizeof(sio_http_header);
    size_t n = 0;
    req->ctype = NULL;
    for (size_t i = 0; i < nheaders; i++) {
        const char *name = headers[i].name, *value = headers[i].value;
        size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
        memcpy(s, name, nl);
        memcpy(s + nl, value, vl);
        if (!strcasecmp(name, "content-type"))
            req->ctype = s + nl;
        else if (strcasecmp(name, "content-length") && strcasecmp(name, "connection"))
            hdrs[n++] = (sio_http_header){s, s + nl};
        s += nl + vl;
    }
    if (len)
        memcpy(s, body, len);
    req->resp_mem = mem;
    req->hdrs = hdrs;
    req->nhdrs = n;
    req->rbody = (uint8_t *)s;
    req->rlen = len;
    req->status = status;
    req->has_resp = 1;
    return 0;
}

/* The application is done with req: free it, or have its connection write the answer. */
static void finish(sio_http_request *req)
{
    req->finished = 1;
    if (!req->c) {
        if (!req->in_cb)
            req_free(req);
    } else if (!req->in_cb) {
        lws_callback_on_writable(req->c->wsi); /* http_route_writable sends it */
    }
}

int sio_http_respond(sio_http_request *req, int status, const sio_http_header *headers,
                     size_t nheaders, const void *body, size_t len)
{
    int rc = req->c ? store_response(req, status, headers, nheaders, body, len) : SIO_ECLOSED;
    if (rc < 0 && rc != SIO_ECLOSED)
        sio_log(SIO_LOG_WARN, "http", "route %s: response refused (%s): answering 500", req->path,
                sio_strerror(rc));
    finish(req);
    return rc;
}

void sio_http_request_release(sio_http_request *req)
{
    finish(req);
}
