/*
 * The HTTP client (src/httpc) against an evhttp server on 127.0.0.1 in the same loop: bodies,
 * status codes, request fields, the deadline, the response limit, refused connections, chunked
 * replies, a TLS handshake with a plain server, and cancellation.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <sio/error.h>

#include "httpc/httpc.h"

static struct event_base *base;
static struct evhttp *http;
static unsigned port;
static char url_buf[256];

typedef struct result {
    int calls;
    int status;
    char body[512];
    size_t body_len;
    char content_type[64];
} result;

static void reply_text(struct evhttp_request *req, int code, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", b);
    evbuffer_free(b);
}

static void on_ok(struct evhttp_request *req, void *arg)
{
    reply_text(req, 200, "hello world");
}

static void on_missing(struct evhttp_request *req, void *arg)
{
    reply_text(req, 404, "no such thing");
}

/* Answers "<method> <authorization> <x-test> <body>". */
static void on_echo(struct evhttp_request *req, void *arg)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *auth = evhttp_find_header(in, "Authorization");
    const char *xt = evhttp_find_header(in, "X-Test");
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(body);
    char text[400];
    snprintf(text, sizeof(text), "%s %s %s %.*s",
             evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "OTHER",
             auth ? auth : "-", xt ? xt : "-", (int)n, (const char *)evbuffer_pullup(body, -1));
    reply_text(req, 200, text);
}

static void on_hang(struct evhttp_request *req, void *arg)
{
    (void)req; /* never answered; evhttp_free releases it */
}

static void on_big(struct evhttp_request *req, void *arg)
{
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    reply_text(req, 200, big);
    free(big);
}

static void on_chunked(struct evhttp_request *req, void *arg)
{
    evhttp_send_reply_start(req, 200, "OK");
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "abc", 3);
    evhttp_send_reply_chunk(req, b);
    evbuffer_add(b, "defgh", 5);
    evhttp_send_reply_chunk(req, b);
    evhttp_send_reply_end(req);
    evbuffer_free(b);
}

static void setup(void)
{
    base = event_base_new();
    http = evhttp_new(base);
    evhttp_set_cb(http, "/ok", on_ok, NULL);
    evhttp_set_cb(http, "/missing", on_missing, NULL);
    evhttp_set_cb(http, "/echo", on_echo, NULL);
    evhttp_set_cb(http, "/hang", on_hang, NULL);
    evhttp_set_cb(http, "/big", on_big, NULL);
    evhttp_set_cb(http, "/chunked", on_chunked, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    cr_assert_not_null(bs);
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl);
    port = ntohs(sin.sin_port);
}

static void teardown(void)
{
    evhttp_free(http);
    event_base_free(base);
}

static const char *url(const char *path)
{
    snprintf(url_buf, sizeof(url_buf), "http://127.0.0.1:%u%s", port, path);
    return url_buf;
}

static void on_done(sio_httpc *h, const sio_httpc_response *res, void *user)
{
    result *r = user;
    r->calls++;
    r->status = res->status;
    r->body_len = res->body_len;
    snprintf(r->body, sizeof(r->body), "%s", res->body);
    const char *ct = sio_httpc_response_header(h, "content-type");
    snprintf(r->content_type, sizeof(r->content_type), "%s", ct ? ct : "");
    sio_httpc_cancel(h); /* inside its own callback: does nothing */
    event_base_loopbreak(base);
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(base);
}

/* Runs the loop until the callback or ms milliseconds. */
static void run_for(int ms)
{
    struct event *guard = evtimer_new(base, on_guard, NULL);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(guard, &tv);
    event_base_dispatch(base);
    event_free(guard);
}

static result fetch(const sio_httpc_req *req)
{
    result r = {0};
    sio_httpc *h = sio_httpc_request(base, req, on_done, &r);
    cr_assert_not_null(h);
    cr_assert_eq(r.calls, 0, "never called synchronously");
    run_for(5000);
    cr_assert_eq(r.calls, 1);
    return r;
}

TestSuite(httpc, .init = setup, .fini = teardown, .timeout = 30);

Test(httpc, ok_with_body)
{
    sio_httpc_req req = {.url = url("/ok")};
    result r = fetch(&req);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello world");
    cr_assert_eq(r.body_len, 11);
    cr_assert_str_eq(r.content_type, "text/plain");
}

Test(httpc, not_found)
{
    sio_httpc_req req = {.url = url("/missing?x=1")};
    result r = fetch(&req);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "no such thing");
}

Test(httpc, post_body_and_headers)
{
    sio_httpc_header hs[] = {{"Authorization", "Bearer abc.def"}, {"X-Test", "yes"}};
    sio_httpc_req req = {
        .url = url("/echo"), .headers = hs, .n_headers = 2, .body = "{\"a\":1}", .body_len = 7};
    result r = fetch(&req);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "POST Bearer abc.def yes {\"a\":1}");
}

Test(httpc, chunked_reply)
{
    sio_httpc_req req = {.url = url("/chunked")};
    result r = fetch(&req);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "abcdefgh");
}

Test(httpc, timeout_when_the_server_never_answers)
{
    sio_httpc_req req = {.url = url("/hang"), .timeout_ms = 200};
    result r = fetch(&req);
    cr_assert_eq(r.status, SIO_ETIMEDOUT);
}

Test(httpc, response_too_large)
{
    sio_httpc_req req = {.url = url("/big"), .max_response_bytes = 1024};
    result r = fetch(&req);
    cr_assert_eq(r.status, SIO_ELIMIT);
    req.max_response_bytes = 0; /* default 1 MiB: fits */
    r = fetch(&req);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 100000);
}

Test(httpc, connection_refused)
{
    /* a port that was just free: bind, read it, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    close(fd);
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%u/", ntohs(sin.sin_port));
    sio_httpc_req req = {.url = u};
    result r = fetch(&req);
    cr_assert_eq(r.status, SIO_EIO);
}

Test(httpc, tls_against_a_plain_server_fails)
{
    char u[64];
    snprintf(u, sizeof(u), "https://127.0.0.1:%u/ok", port);
    sio_httpc_req req = {.url = u, .timeout_ms = 2000};
    result r = fetch(&req);
    cr_assert_eq(r.status, SIO_EIO);
}

Test(httpc, cancel_means_no_callback)
{
    result r = {0};
    sio_httpc_req req = {.url = url("/hang"), .timeout_ms = 100};
    sio_httpc *h = sio_httpc_request(base, &req, on_done, &r);
    cr_assert_not_null(h);
    run_for(50);
    sio_httpc_cancel(h);
    run_for(300); /* past the deadline */
    cr_assert_eq(r.calls, 0);
    /* cancelled before any I/O happened */
    h = sio_httpc_request(base, &req, on_done, &r);
    sio_httpc_cancel(h);
    run_for(200);
    cr_assert_eq(r.calls, 0);
}

Test(httpc, invalid_requests_are_refused_without_callback)
{
    result r = {0};
    const char *bad[] = {"ftp://x/",       "http://",     "http://a:99999/",
                         "http://user@h/", "http://a b/", "http://[::1/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sio_httpc_req req = {.url = bad[i]};
        cr_assert_null(sio_httpc_request(base, &req, on_done, &r), "%s", bad[i]);
    }
    sio_httpc_header inj[] = {{"X-A", "1\r\nX-B: 2"}};
    sio_httpc_req req = {.url = url("/ok"), .headers = inj, .n_headers = 1};
    cr_assert_null(sio_httpc_request(base, &req, on_done, &r));
    cr_assert_eq(r.calls, 0);
}

Test(httpc, name_resolution_failure)
{
    sio_httpc_req req = {.url = "http://no-such-host.invalid/", .timeout_ms = 3000};
    result r = fetch(&req);
    cr_assert(r.status == SIO_EIO || r.status == SIO_ETIMEDOUT);
}
