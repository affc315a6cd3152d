/*
 * The long-polling test client of poll_client.h. HTTP/1.1 over libevent bufferevents: every
 * request opens a connection, sends "Connection: close" and reads one response framed by
 * Content-Length (or, without one, by the end of the connection). Engine.IO v4 payloads are
 * split on 0x1e; opens, pings and closes are handled here, messages ("4...") and binary records
 * ("b...") are queued for the test.
 */
#include "poll_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

typedef struct pkt {
    struct pkt *next;
    char *text;
} pkt;

/* One HTTP request in flight, on its own connection. */
typedef struct request {
    poll_client *pc;
    struct bufferevent *bev;
    int is_get;
    int have_headers;
    int status;
    size_t header_len;
    size_t content_length; /* SIZE_MAX: until the connection ends */
} request;

struct poll_client {
    struct event_base *base;
    int port;
    char *headers;
    char sid[64];
    int closed;
    request *get, *post;
    char *outq; /* packets for the next POST, joined with 0x1e */
    size_t outq_len;
    pkt *in, **in_tail;
    size_t npending;
};

uint64_t poll_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void poll_step(struct event_base *base)
{
    event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
    struct timespec nap = {0, 200000};
    nanosleep(&nap, NULL);
}

/* ---- requests ------------------------------------------------------------------------------ */

static void start_get(poll_client *c);
static void flush_posts(poll_client *c);

static void request_free(request *r)
{
    poll_client *c = r->pc;
    if (c->get == r)
        c->get = NULL;
    if (c->post == r)
        c->post = NULL;
    bufferevent_free(r->bev);
    free(r);
}

static void push_packet(poll_client *c, const char *p, size_t n)
{
    pkt *k = malloc(sizeof(*k));
    char *t = malloc(n + 1);
    if (!k || !t) {
        free(k);
        free(t);
        return;
    }
    memcpy(t, p, n);
    t[n] = 0;
    k->text = t;
    k->next = NULL;
    *c->in_tail = k;
    c->in_tail = &k->next;
    c->npending++;
}

/* One Engine.IO packet of a GET payload. */
static void on_packet(poll_client *c, const char *p, size_t n)
{
    if (n == 0)
        return;
    switch (p[0]) {
    case '0': { /* open: {"sid":"...",...} */
        const char *k = strstr(p, "\"sid\":\"");
        if (k) {
            k += 7;
            size_t i = 0;
            while (i + 1 < sizeof(c->sid) && k + i < p + n && k[i] != '"')
                i++;
            memcpy(c->sid, k, i);
            c->sid[i] = 0;
        }
        break;
    }
    case '1':
        c->closed = 1;
        break;
    case '2':
        poll_client_send(c, "3");
        break;
    case '4':
    case 'b':
        push_packet(c, p, n);
        break;
    default: /* pong, noop */
        break;
    }
}

static void on_payload(poll_client *c, const char *body, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || body[i] == '\x1e') {
            char *one = malloc(i - start + 1);
            if (!one)
                return;
            memcpy(one, body + start, i - start);
            one[i - start] = 0;
            on_packet(c, one, i - start);
            free(one);
            start = i + 1;
        }
    }
}

/* A response is complete (or the request failed: status 0). */
static void request_done(request *r, int status, const char *body, size_t len)
{
    poll_client *c = r->pc;
    int is_get = r->is_get;
    request_free(r);
    if (status != 200) {
        c->closed = 1; /* an unknown sid, a refused request or a dropped connection */
        return;
    }
    if (is_get) {
        on_payload(c, body, len);
        if (!c->closed && c->sid[0])
            start_get(c);
    } else {
        flush_posts(c);
    }
}

static void finish_body(request *r, size_t len)
{
    struct evbuffer *in = bufferevent_get_input(r->bev);
    char *body = malloc(len + 1);
    if (!body) {
        request_done(r, 0, NULL, 0);
        return;
    }
    evbuffer_drain(in, r->header_len);
    evbuffer_remove(in, body, len);
    body[len] = 0;
    request_done(r, r->status, body, len);
    free(body);
}

static int parse_headers(request *r)
{
    struct evbuffer *in = bufferevent_get_input(r->bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return 0;
    r->header_len = (size_t)end.pos + 4;
    char *h = malloc(r->header_len + 1);
    if (!h)
        return -1;
    evbuffer_copyout(in, h, r->header_len);
    h[r->header_len] = 0;
    if (sscanf(h, "HTTP/1.%*d %d", &r->status) != 1)
        r->status = 0;
    r->content_length = SIZE_MAX;
    for (char *line = strstr(h, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (!strncasecmp(line + 2, "content-length:", 15))
            r->content_length = strtoul(line + 17, NULL, 10);
    }
    free(h);
    r->have_headers = 1;
    return 1;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    request *r = arg;
    if (!r->have_headers) {
        int rc = parse_headers(r);
        if (rc < 0)
            request_done(r, 0, NULL, 0);
        if (rc <= 0)
            return;
    }
    size_t avail = evbuffer_get_length(bufferevent_get_input(bev));
    if (r->content_length != SIZE_MAX && avail >= r->header_len + r->content_length)
        finish_body(r, r->content_length);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    request *r = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    size_t avail = evbuffer_get_length(bufferevent_get_input(bev));
    if (r->have_headers && r->content_length == SIZE_MAX)
        finish_body(r, avail - r->header_len);
    else
        request_done(r, 0, NULL, 0);
}

static request *request_start(poll_client *c, int is_get, const char *body, size_t len)
{
    request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->pc = c;
    r->is_get = is_get;
    r->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!r->bev) {
        free(r);
        return NULL;
    }
    bufferevent_setcb(r->bev, on_read, NULL, on_event, r);
    bufferevent_enable(r->bev, EV_READ | EV_WRITE);
    struct evbuffer *out = bufferevent_get_output(r->bev);
    char sid[80] = "";
    if (c->sid[0])
        snprintf(sid, sizeof(sid), "&sid=%s", c->sid);
    evbuffer_add_printf(out,
                        "%s /socket.io/?EIO=4&transport=polling%s HTTP/1.1\r\n"
                        "Host: 127.0.0.1:%d\r\nConnection: close\r\n%s",
                        is_get ? "GET" : "POST", sid, c->port, c->headers ? c->headers : "");
    if (!is_get)
        evbuffer_add_printf(out,
                            "Content-Type: text/plain;charset=UTF-8\r\n"
                            "Content-Length: %zu\r\n",
                            len);
    evbuffer_add(out, "\r\n", 2);
    if (len)
        evbuffer_add(out, body, len);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)c->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bufferevent_socket_connect(r->bev, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        bufferevent_free(r->bev);
        free(r);
        return NULL;
    }
    return r;
}

static void start_get(poll_client *c)
{
    if (c->get || c->closed)
        return;
    c->get = request_start(c, 1, NULL, 0);
    if (!c->get)
        c->closed = 1;
}

/* One POST at a time: the server refuses overlapping ones. */
static void flush_posts(poll_client *c)
{
    if (c->post || !c->outq_len || c->closed)
        return;
    c->post = request_start(c, 0, c->outq, c->outq_len);
    free(c->outq);
    c->outq = NULL;
    c->outq_len = 0;
    if (!c->post)
        c->closed = 1;
}

/* ---- the client ---------------------------------------------------------------------------- */

poll_client *poll_client_open(struct event_base *base, int port, const char *headers, int ms)
{
    poll_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base = base;
    c->port = port;
    c->in_tail = &c->in;
    c->headers = headers ? strdup(headers) : NULL;
    c->get = request_start(c, 1, NULL, 0);
    uint64_t deadline = poll_now_ms() + (uint64_t)ms;
    while (c->get && !c->sid[0] && !c->closed && poll_now_ms() < deadline)
        poll_step(base);
    if (!c->sid[0]) {
        poll_client_free(c);
        return NULL;
    }
    return c;
}

const char *poll_client_sid(const poll_client *c)
{
    return c->sid;
}

int poll_client_is_closed(const poll_client *c)
{
    return c->closed;
}

static int outq_append(poll_client *c, const char *p, size_t n)
{
    size_t sep = c->outq_len ? 1 : 0;
    char *q = realloc(c->outq, c->outq_len + sep + n + 1);
    if (!q)
        return -1;
    if (sep)
        q[c->outq_len] = '\x1e';
    memcpy(q + c->outq_len + sep, p, n);
    c->outq = q;
    c->outq_len += sep + n;
    q[c->outq_len] = 0;
    return 0;
}

int poll_client_send(poll_client *c, const char *packet)
{
    if (c->closed || outq_append(c, packet, strlen(packet)) < 0)
        return -1;
    flush_posts(c);
    return 0;
}

int poll_client_send_binary(poll_client *c, const void *data, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = data;
    char *out = malloc(2 + (len + 2) / 3 * 4);
    if (!out)
        return -1;
    size_t n = 0;
    out[n++] = 'b';
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[n++] = b64[(v >> 18) & 63];
        out[n++] = b64[(v >> 12) & 63];
        out[n++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[n++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[n] = 0;
    int rc = poll_client_send(c, out);
    free(out);
    return rc;
}

char *poll_client_take(poll_client *c, const char *prefix)
{
    size_t n = strlen(prefix);
    for (pkt **pp = &c->in; *pp; pp = &(*pp)->next) {
        pkt *k = *pp;
        if (strncmp(k->text, prefix, n) != 0)
            continue;
        *pp = k->next;
        if (c->in_tail == &k->next)
            c->in_tail = pp;
        char *t = k->text;
        free(k);
        c->npending--;
        return t;
    }
    return NULL;
}

char *poll_client_wait(poll_client *c, const char *prefix, int ms)
{
    uint64_t deadline = poll_now_ms() + (uint64_t)ms;
    char *t;
    while (!(t = poll_client_take(c, prefix)) && poll_now_ms() < deadline)
        poll_step(c->base);
    return t;
}

size_t poll_client_pending(const poll_client *c)
{
    return c->npending;
}

char *poll_client_connect(poll_client *c, const char *nsp, const char *auth_json, int ms)
{
    int root = !strcmp(nsp, "/");
    char pkt_text[1024], ok[300], err[300];
    snprintf(pkt_text, sizeof(pkt_text), "40%s%s%s", root ? "" : nsp, root ? "" : ",",
             auth_json ? auth_json : "");
    snprintf(ok, sizeof(ok), "40%s%s", root ? "{" : nsp, root ? "" : ",");
    snprintf(err, sizeof(err), "44%s%s", root ? "{" : nsp, root ? "" : ",");
    if (poll_client_send(c, pkt_text) < 0)
        return NULL;
    uint64_t deadline = poll_now_ms() + (uint64_t)ms;
    char *t = NULL;
    while (!(t = poll_client_take(c, ok)) && !(t = poll_client_take(c, err)) &&
           poll_now_ms() < deadline)
        poll_step(c->base);
    return t;
}

void poll_client_free(poll_client *c)
{
    if (!c)
        return;
    if (c->get)
        request_free(c->get);
    if (c->post)
        request_free(c->post);
    while (c->in) {
        pkt *k = c->in;
        c->in = k->next;
        free(k->text);
        free(k);
    }
    free(c->outq);
    free(c->headers);
    free(c);
}

/* ---- one raw HTTP exchange ------------------------------------------------------------------ */

struct raw_http {
    struct bufferevent *bev;
    int done;
    int status;
    char *head; /* the status line and headers, NUL-terminated */
    size_t head_len;
    size_t content_length; /* SIZE_MAX: until the connection ends */
    char *body;
    size_t body_len;
};

static void raw_take(raw_http *r)
{
    struct evbuffer *in = bufferevent_get_input(r->bev);
    if (!r->head) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0)
            return;
        r->head_len = (size_t)end.pos + 4;
        r->head = malloc(r->head_len + 1);
        if (!r->head) {
            r->done = 1;
            return;
        }
        evbuffer_remove(in, r->head, r->head_len);
        r->head[r->head_len] = 0;
        if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
            r->status = 0;
        r->content_length = SIZE_MAX;
        char v[32];
        if (raw_http_header(r, "content-length", v, sizeof(v)) >= 0)
            r->content_length = strtoul(v, NULL, 10);
    }
    size_t n = evbuffer_get_length(in);
    if (n) {
        char *b = realloc(r->body, r->body_len + n + 1);
        if (!b) {
            r->done = 1;
            return;
        }
        evbuffer_remove(in, b + r->body_len, n);
        r->body = b;
        r->body_len += n;
        b[r->body_len] = 0;
    }
    if (r->content_length != SIZE_MAX && r->body_len >= r->content_length)
        r->done = 1;
}

static void raw_on_read(struct bufferevent *bev, void *arg)
{
    raw_take(arg);
}

static void raw_on_event(struct bufferevent *bev, short what, void *arg)
{
    raw_http *r = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    raw_take(r);
    r->done = 1;
}

raw_http *raw_http_start(struct event_base *base, int port, const char *text, size_t len)
{
    raw_http *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!r->bev) {
        free(r);
        return NULL;
    }
    bufferevent_setcb(r->bev, raw_on_read, NULL, raw_on_event, r);
    bufferevent_enable(r->bev, EV_READ | EV_WRITE);
    evbuffer_add(bufferevent_get_output(r->bev), text, len);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bufferevent_socket_connect(r->bev, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        raw_http_free(r);
        return NULL;
    }
    return r;
}

raw_http *raw_http_fetch(struct event_base *base, int port, const char *text, int ms)
{
    raw_http *r = raw_http_start(base, port, text, strlen(text));
    uint64_t deadline = poll_now_ms() + (uint64_t)ms;
    while (r && !r->done && poll_now_ms() < deadline)
        poll_step(base);
    return r;
}

int raw_http_done(const raw_http *r)
{
    return r->done;
}

int raw_http_has_head(const raw_http *r)
{
    return r->head != NULL;
}

int raw_http_status(const raw_http *r)
{
    return r->status;
}

const char *raw_http_body(const raw_http *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

long raw_http_header(const raw_http *r, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    if (!r->head)
        return -1;
    for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *p = line + 2;
        if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
            continue;
        p += nl + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strstr(p, "\r\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n + 1 > cap)
            return -1;
        memcpy(buf, p, n);
        buf[n] = 0;
        return (long)n;
    }
    return -1;
}

void raw_http_free(raw_http *r)
{
    if (!r)
        return;
    bufferevent_free(r->bev);
    free(r->head);
    free(r->body);
    free(r);
}
