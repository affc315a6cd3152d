/*
 * The public HTTP API (include/sio/http.h) end to end: HTTP routes and the handshake filter of a
 * real server on 127.0.0.1, port 0, driven by raw HTTP requests (poll_client.h) made on the same
 * loop. Routes: exact, prefix and method matching, 404/405/413, every request accessor, responses
 * with headers, now or from a timer, peers that leave before a deferred answer. The filter:
 * synchronous and later answers, polling and WebSocket, the timeout, peers that leave. And the
 * options of sio_server_new, whose strings the server must copy.
 */
#include "poll_client.h"

#include <sio/error.h>
#include <sio/http.h>
#include <sio/sio.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 5000

/* Steps the loop until cond holds (at most WAIT_MS), then asserts it. */
#define EXPECT_SOON(base, cond)                                                                    \
    do {                                                                                           \
        uint64_t deadline_ = poll_now_ms() + WAIT_MS;                                              \
        while (!(cond) && poll_now_ms() < deadline_)                                               \
            poll_step(base);                                                                       \
        cr_assert(cond, "timed out waiting for: %s", #cond);                                       \
    } while (0)

static void settle_for(struct event_base *base, int ms)
{
    uint64_t deadline = poll_now_ms() + (uint64_t)ms;
    while (poll_now_ms() < deadline)
        poll_step(base);
}

/* The server listens dual-stack where it can: an IPv4 peer may show as mapped (as in Node). */
static int is_loopback(const char *addr)
{
    return !strcmp(addr, "127.0.0.1") || !strcmp(addr, "::ffff:127.0.0.1");
}

static sio_server_options local_options(void)
{
    sio_server_options o;
    sio_server_options_init(&o);
    o.http.host = "127.0.0.1";
    o.http.port = 0;
    return o;
}

/* One request, "Connection: close": method, target, extra header lines (each ending in "\r\n")
 * and a body sent with Content-Length (NULL: none). */
static raw_http *start_request(struct event_base *base, int port, const char *method,
                               const char *target, const char *headers, const char *body)
{
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s", method,
                     target, port, headers ? headers : "");
    if (body)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Content-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    cr_assert_lt((size_t)n, sizeof(req));
    raw_http *r = raw_http_start(base, port, req, (size_t)n);
    cr_assert_not_null(r);
    return r;
}

static raw_http *request(struct event_base *base, int port, const char *method, const char *target,
                         const char *headers, const char *body)
{
    raw_http *r = start_request(base, port, method, target, headers, body);
    EXPECT_SOON(base, raw_http_done(r));
    return r;
}

/* Checks status and body of a finished exchange, then frees it. */
static void expect_response(raw_http *r, int status, const char *body)
{
    cr_assert_eq(raw_http_status(r), status, "status %d, want %d (body %s)", raw_http_status(r),
                 status, raw_http_body(r, NULL));
    if (body)
        cr_assert_str_eq(raw_http_body(r, NULL), body);
    raw_http_free(r);
}

static void expect_header(const raw_http *r, const char *name, const char *want)
{
    char v[256];
    long n = raw_http_header(r, name, v, sizeof(v));
    if (!want) {
        cr_assert_lt(n, 0, "unexpected header %s: %s", name, v);
        return;
    }
    cr_assert_geq(n, 0, "no header %s", name);
    cr_assert_str_eq(v, want, "header %s", name);
}

/* ---- routes ---------------------------------------------------------------------------------- */

typedef struct deferred {
    struct routes *rt;
    sio_http_request *req;
    struct event *timer;
    char mode[16]; /* "respond", "release-on-abort", "cleared" */
    int aborted_before_answer;
    int respond_rc;
    int answered;
} deferred;

typedef struct routes {
    struct event_base *base;
    sio_server *srv;
    /* what the hello route saw */
    int hello_calls;
    char method[16], path[64], query[128], name[64], header[64], addr[64];
    long name_rc, empty_rc, small_rc, missing_rc, header_rc, header_small_rc, header_missing_rc;
    size_t hello_body_len;
    int hello_body_empty, hello_aborted;
    int respond_rc, bad_rc, release_calls, engine_route_calls, stack_calls;
    /* the echo route */
    int echo_calls;
    char echo_method[16];
    /* deferred requests */
    deferred later[8];
    int nlater;
    int abort_calls, abort_aborted;
    long abort_header_rc;
} routes;

static void on_hello(sio_http_request *req, void *user)
{
    routes *rt = user;
    size_t len = 1;
    char tiny[3];
    rt->hello_calls++;
    snprintf(rt->method, sizeof(rt->method), "%s", sio_http_request_method(req));
    snprintf(rt->path, sizeof(rt->path), "%s", sio_http_request_path(req));
    snprintf(rt->query, sizeof(rt->query), "%s", sio_http_request_query(req));
    snprintf(rt->addr, sizeof(rt->addr), "%s", sio_http_request_address(req));
    rt->name_rc = sio_http_request_query_param(req, "name", rt->name, sizeof(rt->name));
    rt->empty_rc = sio_http_request_query_param(req, "empty", tiny, sizeof(tiny));
    rt->small_rc = sio_http_request_query_param(req, "name", tiny, sizeof(tiny));
    rt->missing_rc = sio_http_request_query_param(req, "nope", tiny, sizeof(tiny));
    rt->header_rc = sio_http_request_header(req, "x-demo", rt->header, sizeof(rt->header));
    rt->header_small_rc = sio_http_request_header(req, "x-demo", tiny, sizeof(tiny));
    rt->header_missing_rc = sio_http_request_header(req, "x-nope", tiny, sizeof(tiny));
    const char *body = sio_http_request_body(req, &len);
    rt->hello_body_empty = body && body[0] == 0;
    rt->hello_body_len = len;
    rt->hello_aborted = sio_http_request_is_aborted(req);
    const sio_http_header h[] = {{"content-type", "application/json"},
                                 {"X-Route", "hello"},
                                 {"content-length", "999"}, /* sio's: ignored */
                                 {"connection", "keep-alive"}};
    rt->respond_rc = sio_http_respond(req, 200, h, 4, "{\"ok\":true}", 11);
}

static void on_echo(sio_http_request *req, void *user)
{
    routes *rt = user;
    size_t len = 0;
    char ctype[64] = "application/octet-stream";
    rt->echo_calls++;
    snprintf(rt->echo_method, sizeof(rt->echo_method), "%s", sio_http_request_method(req));
    const void *body = sio_http_request_body(req, &len);
    sio_http_request_body(req, NULL); /* len is optional */
    sio_http_request_header(req, "content-type", ctype, sizeof(ctype));
    const sio_http_header h[] = {{"content-type", ctype}};
    sio_http_respond(req, 200, h, 1, body, len);
}

/* Any method, by prefix: answers the method and the path, with no Content-Type. */
static void on_files(sio_http_request *req, void *user)
{
    const char *path = sio_http_request_path(req);
    const sio_http_header h[] = {{"x-method", sio_http_request_method(req)}};
    sio_http_respond(req, 200, h, 1, path, strlen(path));
}

/* ?what=status|header|body: a response sio must refuse (a 500 goes out instead). */
static void on_bad(sio_http_request *req, void *user)
{
    routes *rt = user;
    char what[16] = "";
    sio_http_request_query_param(req, "what", what, sizeof(what));
    const sio_http_header crlf[] = {{"x-evil", "a\r\nset-cookie: b"}};
    const sio_http_header name[] = {{"bad name", "v"}};
    if (!strcmp(what, "status"))
        rt->bad_rc = sio_http_respond(req, 99, NULL, 0, NULL, 0);
    else if (!strcmp(what, "header"))
        rt->bad_rc = sio_http_respond(req, 200, crlf, 1, "x", 1);
    else if (!strcmp(what, "name"))
        rt->bad_rc = sio_http_respond(req, 200, name, 1, "x", 1);
    else
        rt->bad_rc = sio_http_respond(req, 200, NULL, 0, NULL, 3); /* a length without a body */
}

static void on_release(sio_http_request *req, void *user)
{
    ((routes *)user)->release_calls++;
    sio_http_request_release(req);
}

static void on_engine_prefix(sio_http_request *req, void *user)
{
    ((routes *)user)->engine_route_calls++;
    sio_http_respond(req, 418, NULL, 0, NULL, 0);
}

static void on_stack(sio_http_request *req, void *user)
{
    ((routes *)user)->stack_calls++;
    sio_http_respond(req, 204, NULL, 0, NULL, 0);
}

static void later_timer(evutil_socket_t fd, short what, void *arg)
{
    deferred *d = arg;
    d->aborted_before_answer = sio_http_request_is_aborted(d->req);
    d->answered = 1;
    if (!strcmp(d->mode, "cleared")) {
        sio_http_request_release(d->req);
        return;
    }
    const sio_http_header h[] = {{"content-type", "text/plain"}, {"x-late", "1"}};
    d->respond_rc = sio_http_respond(d->req, 200, h, 2, "later", 5);
}

static void on_abort(sio_http_request *req, void *user)
{
    deferred *d = user;
    routes *rt = d->rt;
    char buf[32];
    rt->abort_calls++;
    rt->abort_aborted = sio_http_request_is_aborted(req);
    rt->abort_header_rc = sio_http_request_header(req, "host", buf, sizeof(buf));
    if (!strcmp(d->mode, "release-on-abort")) {
        evtimer_del(d->timer);
        d->answered = 1;
        sio_http_request_release(req);
    }
}

/* /later?ms=N&mode=M: answered from a timer N ms later. */
static void on_later(sio_http_request *req, void *user)
{
    routes *rt = user;
    char ms[16] = "50";
    cr_assert_lt(rt->nlater, 8);
    deferred *d = &rt->later[rt->nlater++];
    d->rt = rt;
    d->req = req;
    snprintf(d->mode, sizeof(d->mode), "respond");
    sio_http_request_query_param(req, "mode", d->mode, sizeof(d->mode));
    sio_http_request_query_param(req, "ms", ms, sizeof(ms));
    sio_http_request_on_abort(req, on_abort, d);
    if (!strcmp(d->mode, "cleared"))
        sio_http_request_on_abort(req, NULL, NULL);
    d->timer = evtimer_new(rt->base, later_timer, d);
    long v = atol(ms);
    struct timeval tv = {v / 1000, (v % 1000) * 1000};
    evtimer_add(d->timer, &tv);
}

static void add_route(sio_server *srv, const char *method, const char *path, int flags,
                      size_t max_body, sio_route_cb cb, void *user)
{
    sio_http_route r = {method, path, flags, max_body, cb, user};
    cr_assert_eq(sio_server_route_add(srv, &r), 0, "route %s", path);
}

Test(public_http, routes)
{
    routes rt_storage;
    routes *rt = &rt_storage;
    memset(rt, 0, sizeof(*rt));
    rt->base = event_base_new();
    sio_server_options o = local_options();
    o.http.cors_origin = "*";
    rt->srv = sio_server_new(rt->base, &o);
    cr_assert_not_null(rt->srv);
    struct event_base *base = rt->base;
    int port = sio_server_port(rt->srv);

    /* refused routes */
    sio_http_route bad = {.method = "GET", .path = "/x", .cb = NULL};
    cr_assert_eq(sio_server_route_add(rt->srv, &bad), SIO_EINVAL, "no callback");
    bad.cb = on_hello;
    bad.path = "x";
    cr_assert_eq(sio_server_route_add(rt->srv, &bad), SIO_EINVAL, "a path without '/'");
    bad.path = NULL;
    cr_assert_eq(sio_server_route_add(rt->srv, &bad), SIO_EINVAL, "no path");
    bad.path = "/x";
    bad.max_body = SIO_ROUTE_MAX_BODY + 1;
    cr_assert_eq(sio_server_route_add(rt->srv, &bad), SIO_EINVAL, "max_body too large");

    add_route(rt->srv, "GET", "/hello", 0, 0, on_hello, rt);
    add_route(rt->srv, "POST", "/echo", 0, 16, on_echo, rt);
    add_route(rt->srv, "PUT", "/echo", 0, 16, on_echo, rt);
    add_route(rt->srv, NULL, "/files/", SIO_ROUTE_PREFIX, 0, on_files, rt);
    add_route(rt->srv, "GET", "/bad", 0, 0, on_bad, rt);
    add_route(rt->srv, NULL, "/release", 0, 0, on_release, rt);
    add_route(rt->srv, "GET", "/later", 0, 0, on_later, rt);
    add_route(rt->srv, NULL, "/socket.io", SIO_ROUTE_PREFIX, 0, on_engine_prefix, rt);
    /* the route and its strings are copied */
    char method[8] = "DELETE", path[16] = "/stack";
    sio_http_route stacked = {method, path, 0, 0, on_stack, rt};
    cr_assert_eq(sio_server_route_add(rt->srv, &stacked), 0);
    memset(method, 'Z', sizeof(method) - 1);
    memset(path, 'Z', sizeof(path) - 1);
    memset(&stacked, 0, sizeof(stacked));

    /* an exact route: every accessor, and the response headers */
    raw_http *r = request(base, port, "GET", "/hello?name=a%20b%26c&t=1&empty",
                          "X-Demo: yes\r\nOrigin: http://example.test\r\n", NULL);
    cr_assert_eq(rt->hello_calls, 1);
    cr_assert_str_eq(rt->method, "GET");
    cr_assert_str_eq(rt->path, "/hello");
    cr_assert_str_eq(rt->query, "name=a%20b%26c&t=1&empty");
    cr_assert_eq(rt->name_rc, 5);
    cr_assert_str_eq(rt->name, "a b&c");
    cr_assert_eq(rt->empty_rc, 0, "a parameter without '=' is empty");
    cr_assert_eq(rt->small_rc, SIO_ELIMIT);
    cr_assert_eq(rt->missing_rc, SIO_ENOTFOUND);
    cr_assert_eq(rt->header_rc, 3);
    cr_assert_str_eq(rt->header, "yes");
    cr_assert_eq(rt->header_small_rc, SIO_ELIMIT);
    cr_assert_eq(rt->header_missing_rc, SIO_ENOTFOUND);
    cr_assert(is_loopback(rt->addr), "address %s", rt->addr);
    cr_assert(rt->hello_body_empty && rt->hello_body_len == 0, "no body: \"\", length 0");
    cr_assert_eq(rt->hello_aborted, 0);
    cr_assert_eq(rt->respond_rc, 0);
    expect_header(r, "content-type", "application/json");
    expect_header(r, "x-route", "hello");
    expect_header(r, "content-length", "11");
    expect_header(r, "access-control-allow-origin", "*");
    expect_response(r, 200, "{\"ok\":true}");
    r = request(base, port, "GET", "/hello", NULL, NULL);
    cr_assert_str_eq(rt->query, "");
    cr_assert_eq(rt->name_rc, SIO_ENOTFOUND);
    expect_response(r, 200, "{\"ok\":true}");
    /* empty arguments do not end the query; the first of two wins; '+' is a space */
    r = request(base, port, "GET", "/hello?a=1&&name=x%26y%3Dz&name=second", NULL, NULL);
    cr_assert_str_eq(rt->query, "a=1&&name=x%26y%3Dz&name=second");
    cr_assert_str_eq(rt->name, "x&y=z");
    expect_response(r, 200, NULL);
    r = request(base, port, "GET", "/hello?name=a+b%2B", NULL, NULL);
    cr_assert_str_eq(rt->query, "name=a%20b%2B");
    cr_assert_str_eq(rt->name, "a b+");
    expect_response(r, 200, NULL);
    /* exact means exact */
    expect_response(request(base, port, "GET", "/hello/", NULL, NULL), 404,
                    "{\"error\":\"not found\"}");

    /* bodies: Content-Length, chunked, and over the limit */
    r = request(base, port, "POST", "/echo", "Content-Type: text/plain\r\n", "hello body");
    cr_assert_str_eq(rt->echo_method, "POST");
    expect_header(r, "content-type", "text/plain");
    expect_response(r, 200, "hello body");
    r = request(base, port, "PUT", "/echo", NULL, "0123456789abcdef"); /* exactly max_body */
    cr_assert_str_eq(rt->echo_method, "PUT");
    expect_response(r, 200, "0123456789abcdef");
    static const char chunked[] =
        "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nchu\r\n9\r\nnked body\r\n0\r\n\r\n";
    expect_response(raw_http_fetch(base, port, chunked, WAIT_MS), 200, "chunked body");
    int echoes = rt->echo_calls;
    expect_response(request(base, port, "POST", "/echo", NULL, "0123456789abcdefg"), 413, NULL);
    static const char chunked_big[] = "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n"
                                      "4\r\nmore\r\n0\r\n\r\n";
    expect_response(raw_http_fetch(base, port, chunked_big, WAIT_MS), 413, NULL);
    expect_response(request(base, port, "GET", "/hello", NULL, "no body here"), 413, NULL);
    cr_assert_eq(rt->echo_calls, echoes, "a refused body never reaches the route");

    /* prefix, methods, 405 and 404 */
    r = request(base, port, "PATCH", "/files/a/b.txt?x=1", NULL, NULL);
    expect_header(r, "x-method", "PATCH");
    expect_header(r, "content-type", NULL);
    expect_response(r, 200, "/files/a/b.txt");
    r = request(base, port, "DELETE", "/files/", NULL, NULL);
    expect_header(r, "x-method", "DELETE");
    expect_response(r, 200, "/files/");
    expect_response(request(base, port, "GET", "/files", NULL, NULL), 404, NULL);
    /* HEAD: the headers of the answer, its Content-Length, and no body */
    r = request(base, port, "HEAD", "/files/abc", NULL, NULL);
    expect_header(r, "x-method", "HEAD");
    expect_header(r, "content-length", "10");
    expect_response(r, 200, "");
    r = request(base, port, "HEAD", "/nothing", NULL, NULL);
    expect_header(r, "content-length", "21");
    expect_response(r, 404, "");
    r = request(base, port, "POST", "/hello", NULL, NULL);
    expect_header(r, "allow", "GET");
    expect_response(r, 405, "{\"error\":\"method not allowed\"}");
    r = request(base, port, "GET", "/echo", NULL, NULL);
    expect_header(r, "allow", "POST, PUT");
    expect_response(r, 405, NULL);
    expect_response(request(base, port, "GET", "/nothing", NULL, NULL), 404,
                    "{\"error\":\"not found\"}");
    expect_response(request(base, port, "DELETE", "/stack", NULL, NULL), 204, "");
    cr_assert_eq(rt->stack_calls, 1);
    expect_response(request(base, port, "GET", "/health", NULL, NULL), 200, "{\"status\":\"ok\"}");

    /* the Engine.IO path wins over a route that matches it */
    r = request(base, port, "GET", "/socket.io/?EIO=4&transport=polling", NULL, NULL);
    cr_assert(!strncmp(raw_http_body(r, NULL), "0{\"sid\"", 7), "got %s", raw_http_body(r, NULL));
    expect_response(r, 200, NULL);
    cr_assert_eq(rt->engine_route_calls, 0);

    /* responses sio refuses, and a release: 500 */
    static const char *const bads[] = {"status", "header", "name", "length"};
    for (size_t i = 0; i < 4; i++) {
        char target[32];
        snprintf(target, sizeof(target), "/bad?what=%s", bads[i]);
        rt->bad_rc = 0;
        r = request(base, port, "GET", target, NULL, NULL);
        cr_assert_eq(rt->bad_rc, SIO_EINVAL, "%s", bads[i]);
        expect_header(r, "x-evil", NULL);
        expect_header(r, "set-cookie", NULL);
        expect_response(r, 500, NULL);
    }
    expect_response(request(base, port, "OPTIONS", "/release", NULL, NULL), 500, "");
    cr_assert_eq(rt->release_calls, 1);

    /* a deferred response, from a timer 50 ms later */
    uint64_t t0 = poll_now_ms();
    r = request(base, port, "GET", "/later?ms=50", NULL, NULL);
    cr_assert_geq(poll_now_ms() - t0, 40);
    expect_header(r, "x-late", "1");
    expect_header(r, "content-type", "text/plain");
    expect_response(r, 200, "later");
    cr_assert_eq(rt->later[0].respond_rc, 0);
    cr_assert_eq(rt->later[0].aborted_before_answer, 0);
    cr_assert_eq(rt->abort_calls, 0);

    /* peers that leave first: answered later (SIO_ECLOSED), released from the abort callback,
     * and one whose abort callback was cleared */
    static const char *const modes[] = {"respond", "release-on-abort", "cleared"};
    for (size_t i = 0; i < 3; i++) {
        char target[64];
        snprintf(target, sizeof(target), "/later?ms=300&mode=%s", modes[i]);
        int n = rt->nlater, aborts = rt->abort_calls;
        r = start_request(base, port, "GET", target, NULL, NULL);
        EXPECT_SOON(base, rt->nlater == n + 1);
        deferred *d = &rt->later[n];
        cr_assert_eq(sio_http_request_is_aborted(d->req), 0);
        raw_http_free(r);
        if (strcmp(modes[i], "cleared") != 0) {
            EXPECT_SOON(base, rt->abort_calls == aborts + 1);
            cr_assert_eq(rt->abort_aborted, 1);
            cr_assert_eq(rt->abort_header_rc, SIO_ECLOSED);
        }
        EXPECT_SOON(base, d->answered);
        cr_assert_eq(rt->abort_calls, strcmp(modes[i], "cleared") ? aborts + 1 : aborts);
        if (!strcmp(modes[i], "respond")) {
            cr_assert_eq(d->aborted_before_answer, 1);
            cr_assert_eq(d->respond_rc, SIO_ECLOSED);
        }
        if (!strcmp(modes[i], "cleared"))
            cr_assert_eq(d->aborted_before_answer, 1, "is_aborted without the callback");
    }
    expect_response(request(base, port, "GET", "/hello", NULL, NULL), 200, NULL);

    /* a request still waiting when the server is freed is aborted; finished afterwards */
    int n = rt->nlater, aborts = rt->abort_calls;
    r = start_request(base, port, "GET", "/later?ms=60000", NULL, NULL);
    EXPECT_SOON(base, rt->nlater == n + 1);
    sio_server_free(rt->srv);
    cr_assert_eq(rt->abort_calls, aborts + 1);
    evtimer_del(rt->later[n].timer);
    sio_http_request_release(rt->later[n].req);
    raw_http_free(r);
    for (int i = 0; i < rt->nlater; i++)
        event_free(rt->later[i].timer);
    event_base_free(base);
}

/* ---- the handshake filter -------------------------------------------------------------------- */

typedef struct filter {
    struct event_base *base;
    sio_server *srv;
    int calls;
    char method[8], transport[16], addr[64], mode[32], token[32];
    long mode_rc, token_rc, small_rc, missing_rc, missing_header_rc;
    int settled_in_cb;
    /* handshakes answered later */
    sio_handshake *held;
    struct event *timer;
    int timer_settled;
    long timer_token_rc;
    char timer_addr[64];
    int connections;
} filter;

/* The answer, from the x-mode header: "deny", "custom", "code3", "later-allow", "later-deny",
 * "hold" (the test answers), or anything else to allow. */
static void answer(filter *f, sio_handshake *hs, const char *mode)
{
    if (!strcmp(mode, "deny"))
        sio_handshake_deny(hs, -1, NULL);
    else if (!strcmp(mode, "custom"))
        sio_handshake_deny(hs, 4, "custom refusal");
    else if (!strcmp(mode, "code3"))
        sio_handshake_deny(hs, 3, NULL);
    else
        sio_handshake_allow(hs);
}

static void filter_timer(evutil_socket_t fd, short what, void *arg)
{
    filter *f = arg;
    sio_handshake *hs = f->held;
    char token[32];
    f->held = NULL;
    f->timer_settled = sio_handshake_is_settled(hs);
    f->timer_token_rc = sio_handshake_query_param(hs, "token", token, sizeof(token));
    snprintf(f->timer_addr, sizeof(f->timer_addr), "%s", sio_handshake_address(hs));
    answer(f, hs, !strcmp(f->mode, "later-allow") ? "allow" : "custom");
}

static void on_allow_request(sio_handshake *hs, void *user)
{
    filter *f = user;
    char tiny[2];
    f->calls++;
    snprintf(f->method, sizeof(f->method), "%s", sio_handshake_method(hs));
    snprintf(f->transport, sizeof(f->transport), "%s", sio_handshake_transport(hs));
    snprintf(f->addr, sizeof(f->addr), "%s", sio_handshake_address(hs));
    f->settled_in_cb = sio_handshake_is_settled(hs);
    f->mode[0] = 0;
    f->mode_rc = sio_handshake_header(hs, "x-mode", f->mode, sizeof(f->mode));
    f->missing_header_rc = sio_handshake_header(hs, "x-nope", tiny, sizeof(tiny));
    f->token[0] = 0;
    f->token_rc = sio_handshake_query_param(hs, "token", f->token, sizeof(f->token));
    f->small_rc = sio_handshake_query_param(hs, "token", tiny, sizeof(tiny));
    f->missing_rc = sio_handshake_query_param(hs, "nope", tiny, sizeof(tiny));
    if (!strncmp(f->mode, "later-", 6) || !strcmp(f->mode, "hold")) {
        cr_assert_null(f->held, "one held handshake at a time");
        f->held = hs;
        if (!strncmp(f->mode, "later-", 6)) {
            struct timeval tv = {0, 100 * 1000};
            evtimer_add(f->timer, &tv);
        }
        return;
    }
    answer(f, hs, f->mode);
}

static void on_connection(sio_socket *s, void *user)
{
    ((filter *)user)->connections++;
}

#define HANDSHAKE "/socket.io/?EIO=4&transport=polling"

static const char ws_headers[] = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                 "Sec-WebSocket-Version: 13\r\n";

/* A WebSocket handshake with header line extra; "Connection: close" is not sent. */
static raw_http *start_ws(filter *f, int port, const char *extra)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "%s%s\r\n",
                     port, ws_headers, extra);
    raw_http *r = raw_http_start(f->base, port, req, (size_t)n);
    cr_assert_not_null(r);
    return r;
}

static void expect_open_packet(raw_http *r)
{
    cr_assert(strstr(raw_http_body(r, NULL), "0{\"sid\":\""), "no open packet: %s",
              raw_http_body(r, NULL));
}

Test(public_http, allow_request)
{
    filter f_storage;
    filter *f = &f_storage;
    memset(f, 0, sizeof(*f));
    f->base = event_base_new();
    struct event_base *base = f->base;
    sio_server_options o = local_options();
    o.engine.allow_request_timeout_ms = 300;
    f->srv = sio_server_new(base, &o);
    cr_assert_not_null(f->srv);
    f->timer = evtimer_new(base, filter_timer, f);
    sio_namespace_on_connection(sio_server_of(f->srv, "/"), on_connection, f);
    int port = sio_server_port(f->srv);
    sio_server_set_allow_request(f->srv, on_allow_request, f);

    /* allowed inside the hook; every accessor */
    raw_http *r =
        request(base, port, "GET", HANDSHAKE "&token=a%20b%26c", "X-Mode: allow\r\n", NULL);
    expect_open_packet(r);
    expect_response(r, 200, NULL);
    cr_assert_eq(f->calls, 1);
    cr_assert_str_eq(f->method, "GET");
    cr_assert_str_eq(f->transport, "polling");
    cr_assert(is_loopback(f->addr), "address %s", f->addr);
    cr_assert_eq(f->settled_in_cb, 0);
    cr_assert_eq(f->mode_rc, 5);
    cr_assert_str_eq(f->mode, "allow");
    cr_assert_eq(f->missing_header_rc, SIO_ENOTFOUND);
    cr_assert_eq(f->token_rc, 5);
    cr_assert_str_eq(f->token, "a b&c");
    cr_assert_eq(f->small_rc, SIO_ELIMIT);
    cr_assert_eq(f->missing_rc, SIO_ENOTFOUND);
    /* empty query arguments are skipped, not the end of the query */
    r = request(base, port, "GET", "/socket.io/?&EIO=4&&transport=polling&token=t2", NULL, NULL);
    expect_open_packet(r);
    expect_response(r, 200, NULL);
    cr_assert_str_eq(f->token, "t2");

    /* refused inside the hook: 403 (400 for other codes) and Node's error body */
    expect_response(request(base, port, "GET", HANDSHAKE, "X-Mode: deny\r\n", NULL), 403,
                    "{\"code\":4,\"message\":\"Forbidden\"}");
    expect_response(request(base, port, "GET", HANDSHAKE, "X-Mode: custom\r\n", NULL), 403,
                    "{\"code\":4,\"message\":\"custom refusal\"}");
    expect_response(request(base, port, "GET", HANDSHAKE, "X-Mode: code3\r\n", NULL), 400,
                    "{\"code\":3,\"message\":\"Bad request\"}");
    cr_assert_eq(sio_server_client_count(f->srv), 2, "only the allowed sessions exist");

    /* answered from a timer 100 ms later: the GET is held, then opens or gets the 403 */
    uint64_t t0 = poll_now_ms();
    r = request(base, port, "GET", HANDSHAKE "&token=later", "X-Mode: later-allow\r\n", NULL);
    cr_assert_geq(poll_now_ms() - t0, 90);
    expect_open_packet(r);
    expect_response(r, 200, NULL);
    cr_assert_eq(f->timer_settled, 0);
    cr_assert_eq(f->timer_token_rc, 5, "the query stays readable until answered");
    cr_assert(is_loopback(f->timer_addr), "address %s", f->timer_addr);
    r = request(base, port, "GET", HANDSHAKE, "X-Mode: later-deny\r\n", NULL);
    expect_response(r, 403, "{\"code\":4,\"message\":\"custom refusal\"}");
    /* a Socket.IO client connects once allowed later */
    int conns = f->connections;
    poll_client *c = poll_client_open(base, port, "X-Mode: later-allow\r\n", WAIT_MS);
    cr_assert_not_null(c);
    char *reply = poll_client_connect(c, "/", NULL, WAIT_MS);
    cr_assert(reply && !strncmp(reply, "40{", 3), "got %s", reply ? reply : "nothing");
    free(reply);
    cr_assert_eq(f->connections, conns + 1);
    poll_client_free(c);

    /* WebSocket: refused in the hook (400 and the message), allowed (101, open packet), refused
     * later (closed with 1008 and the message) */
    r = start_ws(f, port, "X-Mode: custom\r\n");
    EXPECT_SOON(base, raw_http_done(r));
    cr_assert_str_eq(f->transport, "websocket");
    cr_assert_str_eq(f->method, "GET");
    expect_response(r, 400, "custom refusal");
    r = start_ws(f, port, "X-Mode: allow\r\n");
    EXPECT_SOON(base, strstr(raw_http_body(r, NULL), "0{\"sid\""));
    cr_assert_eq(raw_http_status(r), 101);
    raw_http_free(r);
    r = start_ws(f, port, "X-Mode: later-deny\r\n");
    EXPECT_SOON(base, raw_http_done(r));
    cr_assert_eq(raw_http_status(r), 101);
    size_t len;
    const unsigned char *frame = (const unsigned char *)raw_http_body(r, &len);
    static const char reason[] = "custom refusal";
    cr_assert_eq(len, 4 + sizeof(reason) - 1, "one close frame, got %zu bytes", len);
    cr_assert_eq(frame[0], 0x88);
    cr_assert_eq(frame[1], 2 + sizeof(reason) - 1);
    cr_assert_eq(frame[2] << 8 | frame[3], 1008);
    cr_assert(!memcmp(frame + 4, reason, sizeof(reason) - 1));
    raw_http_free(r);

    /* a peer that leaves while the decision is pending: settled; the answer is a no-op */
    size_t sessions = sio_server_client_count(f->srv);
    r = start_request(base, port, "GET", HANDSHAKE, "X-Mode: hold\r\n", NULL);
    EXPECT_SOON(base, f->held != NULL);
    cr_assert_eq(sio_handshake_is_settled(f->held), 0);
    raw_http_free(r);
    EXPECT_SOON(base, sio_handshake_is_settled(f->held));
    char buf[16];
    cr_assert_eq(sio_handshake_header(f->held, "x-mode", buf, sizeof(buf)), SIO_ECLOSED);
    cr_assert(is_loopback(sio_handshake_address(f->held)), "address %s",
              sio_handshake_address(f->held));
    cr_assert_str_eq(sio_handshake_transport(f->held), "polling");
    sio_handshake_allow(f->held);
    f->held = NULL;
    settle_for(base, 50);
    cr_assert_eq(sio_server_client_count(f->srv), sessions, "no session for a peer gone");

    /* the same with a WebSocket */
    r = start_ws(f, port, "X-Mode: hold\r\n");
    EXPECT_SOON(base, f->held != NULL);
    EXPECT_SOON(base, raw_http_status(r) == 101);
    raw_http_free(r);
    EXPECT_SOON(base, sio_handshake_is_settled(f->held));
    sio_handshake_deny(f->held, -1, "too late");
    f->held = NULL;

    /* no answer within allow_request_timeout_ms: refused with code 4, settled */
    sio_server_stats st;
    sio_server_get_stats(f->srv, &st);
    uint64_t refused = st.handshakes_refused;
    t0 = poll_now_ms();
    r = request(base, port, "GET", HANDSHAKE, "X-Mode: hold\r\n", NULL);
    cr_assert_geq(poll_now_ms() - t0, 250);
    expect_response(r, 403, "{\"code\":4,\"message\":\"Forbidden\"}");
    cr_assert_not_null(f->held);
    cr_assert_eq(sio_handshake_is_settled(f->held), 1);
    sio_handshake_allow(f->held); /* a no-op now */
    f->held = NULL;
    sio_server_get_stats(f->srv, &st);
    cr_assert_eq(st.handshakes_refused, refused + 1);

    /* the hook removed: handshakes open without it */
    int calls = f->calls;
    sio_server_set_allow_request(f->srv, NULL, NULL);
    r = request(base, port, "GET", HANDSHAKE, "X-Mode: deny\r\n", NULL);
    expect_open_packet(r);
    expect_response(r, 200, NULL);
    cr_assert_eq(f->calls, calls);

    /* a handshake never answered is freed with the server */
    sio_server_set_allow_request(f->srv, on_allow_request, f);
    r = start_request(base, port, "GET", HANDSHAKE, "X-Mode: hold\r\n", NULL);
    EXPECT_SOON(base, f->held != NULL);
    sio_server_free(f->srv);
    raw_http_free(r);
    event_free(f->timer);
    event_base_free(base);
}

/* ---- options: strings are copied ------------------------------------------------------------- */

Test(public_http, options_strings_copied)
{
    struct event_base *base = event_base_new();
    char host[32] = "127.0.0.1", path[32] = "/rt/", health[32] = "/alive", stats[32] = "/st";
    char origin[32] = "http://a.test", methods[32] = "GET,POST", headers[32] = "x-a";
    char cookie[32] = "io2", cookie_path[32] = "/c", same_site[32] = "Strict";
    char initial[32] = "\"hi\"";
    sio_server_options o;
    sio_server_options_init(&o);
    o.http.port = 0;
    o.http.host = host;
    o.http.cors_origin = origin;
    o.http.cors_methods = methods;
    o.http.cors_headers = headers;
    o.http.cookie_name = cookie;
    o.http.cookie_path = cookie_path;
    o.http.cookie_same_site = same_site;
    o.engine.path = path;
    o.engine.initial_packet = initial;
    o.health_path = health;
    o.stats_path = stats;
    sio_server *srv = sio_server_new(base, &o);
    cr_assert_not_null(srv);
    char *const bufs[] = {host,    path,   health,      stats,     origin, methods,
                          headers, cookie, cookie_path, same_site, initial};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        memset(bufs[i], 'Z', 31);
        bufs[i][31] = 0;
    }
    memset(&o, 0, sizeof(o));
    int port = sio_server_port(srv);

    expect_response(request(base, port, "GET", "/alive", NULL, NULL), 200, "{\"status\":\"ok\"}");
    raw_http *r = request(base, port, "GET", "/st", NULL, NULL);
    cr_assert(strstr(raw_http_body(r, NULL), "\"sessions_opened\":"), "got %s",
              raw_http_body(r, NULL));
    expect_response(r, 200, NULL);
    r = request(base, port, "GET", "/rt/?EIO=4&transport=polling", "Origin: http://a.test\r\n",
                NULL);
    expect_open_packet(r);
    expect_header(r, "access-control-allow-origin", "http://a.test");
    char v[256];
    cr_assert_geq(raw_http_header(r, "set-cookie", v, sizeof(v)), 0);
    cr_assert(!strncmp(v, "io2=", 4) && strstr(v, "; Path=/c") && strstr(v, "SameSite=Strict"),
              "set-cookie: %s", v);
    expect_response(r, 200, NULL);
    r = request(base, port, "OPTIONS", "/rt/?EIO=4&transport=polling",
                "Origin: http://a.test\r\nAccess-Control-Request-Method: POST\r\n", NULL);
    expect_header(r, "access-control-allow-methods", "GET,POST");
    expect_header(r, "access-control-allow-headers", "x-a");
    expect_response(r, 204, NULL);
    sio_server_free(srv);
    event_base_free(base);
}
