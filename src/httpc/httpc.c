/*
 * Asynchronous HTTP/1.1 client (httpc.h): one bufferevent per request, plain or OpenSSL, one
 * deadline timer, a response parser bounded by SIO_HTTPC_MAX_HEAD and max_response_bytes
 * (RFC 9112: status line, fields, Content-Length, chunked through protocol/http_chunked, or the
 * body delimited by the close). It does not log: the caller gets a status and a reason.
 */
#include "httpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sio/error.h>

#include "http_chunked.h"
#include "net/connect.h"

enum { MAX_HEADERS = 64, HOST_MAX = 256 };

enum state { ST_HEAD, ST_BODY_LEN, ST_BODY_CHUNKED, ST_BODY_CLOSE };

struct sio_httpc_tls {
    SSL_CTX *ctx;
};

struct sio_httpc {
    struct event_base *base;
    struct bufferevent *bev;
    struct event *timer; /* the deadline; also delivers failures found before any I/O */
    struct evdns_base *dns;
    int own_dns;
    sio_httpc_tls *tls;
    int own_tls;
    sio_httpc_cb cb;
    void *user;
    char host[HOST_MAX];
    unsigned port;
    int https;
    int no_body; /* HEAD request */
    int in_cb;
    int pending_status; /* != 0: fail with it when the timer fires */
    const char *pending_reason;
    enum state state;
    int status;
    uint64_t remain; /* ST_BODY_LEN: bytes still expected */
    sio_chunked chunked;
    char *head; /* the response head, split in place into the fields below */
    const char *hname[MAX_HEADERS], *hval[MAX_HEADERS];
    size_t nhdr;
    char *body;
    size_t body_len, body_cap, max_body;
    char reason[160];
};

/* ---- request URL and fields ---------------------------------------------------------------- */

typedef struct url {
    int https;
    char host[HOST_MAX];
    unsigned port;
    const char *path; /* into the URL; "" means "/" */
    size_t path_len;
} url;

static int parse_url(const char *s, url *u)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return -1;
    if (strncasecmp(s, "http://", 7) == 0) {
        u->https = 0, s += 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        u->https = 1, s += 8;
    } else {
        return -1;
    }
    size_t alen = strcspn(s, "/?#");
    const char *auth = s, *end = s + alen;
    if (memchr(auth, '@', alen))
        return -1; /* credentials in URLs are not supported (and would end up in logs) */
    const char *hs = auth, *he, *colon;
    if (*auth == '[') {
        he = memchr(auth, ']', alen);
        if (!he)
            return -1;
        hs = auth + 1;
        colon = he + 1 < end ? he + 1 : NULL;
        if (colon && *colon != ':')
            return -1;
    } else {
        colon = memchr(auth, ':', alen);
        he = colon ? colon : end;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= HOST_MAX)
        return -1;
    memcpy(u->host, hs, hl);
    u->host[hl] = '\0';
    u->port = u->https ? 443 : 80;
    if (colon) {
        unsigned long port = 0;
        const char *p = colon + 1;
        if (p == end)
            return -1;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9' || (port = port * 10 + (unsigned)(*p - '0')) > 65535)
                return -1;
        }
        if (port == 0)
            return -1;
        u->port = (unsigned)port;
    }
    u->path = end;
    u->path_len = strcspn(end, "#");
    return 0;
}

static int is_token(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return 0;
    }
    return 1;
}

static int is_field_value(const char *s)
{
    if (!s)
        return 0;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

/* ---- completion ---------------------------------------------------------------------------- */

static void release(sio_httpc *h)
{
    if (h->bev)
        bufferevent_free(h->bev); /* cancels a pending name resolution too */
    if (h->timer)
        event_free(h->timer);
    if (h->own_dns && h->dns)
        evdns_base_free(h->dns, 0);
    if (h->own_tls)
        sio_httpc_tls_free(h->tls);
    free(h->head);
    free(h->body);
    free(h);
}

static void finish(sio_httpc *h, int status, const char *reason)
{
    if (h->bev)
        bufferevent_disable(h->bev, EV_READ | EV_WRITE);
    evtimer_del(h->timer);
    sio_httpc_response res = {.status = status, .body = "", .body_len = 0, .reason = reason};
    if (status > 0 && h->body) {
        h->body[h->body_len] = '\0';
        res.body = h->body;
        res.body_len = h->body_len;
    }
    h->in_cb = 1;
    h->cb(h, &res, h->user);
    release(h);
}

static int fail(sio_httpc *h, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Finishes with an error; returns 1 (the request is freed) for the parser's convenience. */
static int fail(sio_httpc *h, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
    va_end(ap);
    finish(h, status, h->reason);
    return 1;
}

static int done(sio_httpc *h)
{
    snprintf(h->reason, sizeof(h->reason), "%d", h->status);
    finish(h, h->status, h->reason);
    return 1;
}

/* ---- response parsing ---------------------------------------------------------------------- */

static int body_append(sio_httpc *h, const void *p, size_t n)
{
    if (n > h->max_body - h->body_len)
        return SIO_ELIMIT;
    if (h->body_len + n + 1 > h->body_cap) {
        size_t cap = h->body_cap ? h->body_cap : 1024;
        while (cap < h->body_len + n + 1)
            cap *= 2;
        if (cap > h->max_body + 1)
            cap = h->max_body + 1;
        char *nb = realloc(h->body, cap);
        if (!nb)
            return SIO_ENOMEM;
        h->body = nb, h->body_cap = cap;
    }
    memcpy(h->body + h->body_len, p, n);
    h->body_len += n;
    return 0;
}

static int chunk_sink(void *user, const uint8_t *data, size_t len)
{
    return body_append(user, data, len) ? 1 : 0;
}

static int parse_uint64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Splits the head (NUL-terminated, CRLF lines, final empty line included) into status and
 * fields and chooses how the body is delimited. Returns 0 or SIO_EPROTO / SIO_ELIMIT. */
static int parse_head(sio_httpc *h)
{
    char *line = h->head, *eol = strstr(line, "\r\n");
    *eol = '\0';
    if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
        line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' ||
        line[11] > '9' || (line[12] != ' ' && line[12] != '\0'))
        return SIO_EPROTO;
    h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    h->nhdr = 0;
    int have_len = 0, chunked = 0;
    uint64_t len = 0;
    for (line = eol + 2; *line && strncmp(line, "\r\n", 2) != 0; line = eol + 2) {
        eol = strstr(line, "\r\n");
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (!colon || colon == line || line[0] == ' ' || line[0] == '\t')
            return SIO_EPROTO; /* obsolete line folding is refused (RFC 9112 §5.2) */
        *colon = '\0';
        if (!is_token(line))
            return SIO_EPROTO;
        if (h->nhdr == MAX_HEADERS)
            return SIO_ELIMIT;
        char *value = trim(colon + 1);
        h->hname[h->nhdr] = line, h->hval[h->nhdr++] = value;
        if (strcasecmp(line, "Content-Length") == 0) {
            uint64_t v;
            if (parse_uint64(value, &v) < 0 || (have_len && v != len))
                return SIO_EPROTO;
            have_len = 1, len = v;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            /* chunked must be the last coding; any other coding is not supported */
            if (strcasecmp(value, "chunked") != 0)
                return SIO_EPROTO;
            chunked = 1;
        }
    }
    if (h->no_body || h->status == 204 || h->status == 304) {
        h->remain = 0, h->state = ST_BODY_LEN;
    } else if (chunked) {
        sio_chunked_init(&h->chunked);
        h->state = ST_BODY_CHUNKED;
    } else if (have_len) {
        if (len > h->max_body)
            return SIO_ELIMIT;
        h->remain = len, h->state = ST_BODY_LEN;
    } else {
        h->state = ST_BODY_CLOSE;
    }
    return 0;
}

/* Reads the head from in. Returns 1 when a final head was parsed, 0 when more bytes are needed,
 * or a negative SIO_E*. Interim 1xx responses are skipped. */
static int read_head(sio_httpc *h, struct evbuffer *in)
{
    for (;;) {
        struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (p.pos < 0)
            return evbuffer_get_length(in) > SIO_HTTPC_MAX_HEAD ? SIO_ELIMIT : 0;
        size_t n = (size_t)p.pos + 4;
        if (n > SIO_HTTPC_MAX_HEAD)
            return SIO_ELIMIT;
        free(h->head);
        if (!(h->head = malloc(n + 1)))
            return SIO_ENOMEM;
        evbuffer_remove(in, h->head, n);
        h->head[n] = '\0';
        if (memchr(h->head, '\0', n))
            return SIO_EPROTO;
        int rc = parse_head(h);
        if (rc < 0)
            return rc;
        if (h->status >= 200)
            return 1;
    }
}

/* Consumes what input holds. Returns 1 when the request finished (h is freed), else 0. */
static int process(sio_httpc *h, struct evbuffer *in)
{
    if (h->state == ST_HEAD) {
        int rc = read_head(h, in);
        if (rc == SIO_ELIMIT)
            return fail(h, SIO_ELIMIT, "response too large");
        if (rc < 0)
            return fail(h, rc, "malformed response");
        if (rc == 0)
            return 0;
    }
    if (h->state == ST_BODY_LEN) {
        size_t n = evbuffer_get_length(in);
        if (n > h->remain)
            n = (size_t)h->remain;
        if (n && (body_append(h, evbuffer_pullup(in, (ssize_t)n), n) < 0))
            return fail(h, SIO_ELIMIT, "response too large");
        evbuffer_drain(in, n);
        h->remain -= n;
        if (h->remain == 0)
            return done(h);
    } else if (h->state == ST_BODY_CHUNKED) {
        size_t n = evbuffer_get_length(in), used = 0;
        const char *why = NULL;
        int rc = n ? sio_chunked_feed(&h->chunked, evbuffer_pullup(in, (ssize_t)n), n, &used,
                                      chunk_sink, h, &why)
                   : 0;
        if (rc == SIO_ELIMIT)
            return fail(h, SIO_ELIMIT, "response too large");
        if (rc < 0)
            return fail(h, SIO_EPROTO, "malformed chunked body: %s", why);
        evbuffer_drain(in, rc == 1 ? n : used);
        if (rc == 1)
            return done(h);
    } else if (h->state == ST_BODY_CLOSE) {
        size_t n = evbuffer_get_length(in);
        if (n && body_append(h, evbuffer_pullup(in, (ssize_t)n), n) < 0)
            return fail(h, SIO_ELIMIT, "response too large");
        evbuffer_drain(in, n);
    }
    return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    process(arg, bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    sio_httpc *h = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_EOF) {
        if (process(h, bufferevent_get_input(bev))) /* what is still buffered */
            return;
        if (h->state == ST_BODY_CLOSE)
            done(h);
        else
            fail(h, SIO_EPROTO, "connection closed before the end of the response");
        return;
    }
    if (!(what & BEV_EVENT_ERROR))
        return;
    int dns_err = bufferevent_socket_get_dns_error(bev);
    unsigned long ssl_err = h->https ? bufferevent_get_openssl_error(bev) : 0;
    int e = EVUTIL_SOCKET_ERROR();
    if (dns_err) {
        fail(h, SIO_EIO, "name resolution: %s", evutil_gai_strerror(dns_err));
    } else if (ssl_err) {
        char buf[120];
        ERR_error_string_n(ssl_err, buf, sizeof(buf));
        fail(h, SIO_EIO, "TLS: %s", buf);
    } else if (h->https && !e) {
        fail(h, SIO_EIO, "TLS: handshake failed");
    } else {
        fail(h, SIO_EIO, "connection: %s", evutil_socket_error_to_string(e));
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    sio_httpc *h = arg;
    if (h->pending_status)
        fail(h, h->pending_status, "%s", h->pending_reason);
    else
        fail(h, SIO_ETIMEDOUT, "timed out");
}

/* ---- start --------------------------------------------------------------------------------- */

static int write_request(sio_httpc *h, const sio_httpc_req *req, const url *u, const char *method)
{
    struct evbuffer *out = bufferevent_get_output(h->bev);
    int rc = 0;
    const char *path = u->path_len ? u->path : "/";
    int plen = u->path_len ? (int)u->path_len : 1;
    const char *pre = u->path_len && u->path[0] == '?' ? "/" : "";
    int v6 = strchr(h->host, ':') != NULL;
    int default_port = h->port == (h->https ? 443u : 80u);
    rc |= evbuffer_add_printf(out, "%s %s%.*s HTTP/1.1\r\nHost: %s%s%s", method, pre, plen, path,
                              v6 ? "[" : "", h->host, v6 ? "]" : "") < 0;
    if (!default_port)
        rc |= evbuffer_add_printf(out, ":%u", h->port) < 0;
    rc |= evbuffer_add_printf(out, "\r\nConnection: close\r\n") < 0;
    if (req->body_len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0)
        rc |= evbuffer_add_printf(out, "Content-Length: %zu\r\n", req->body_len) < 0;
    for (size_t i = 0; i < req->n_headers; i++)
        rc |=
            evbuffer_add_printf(out, "%s: %s\r\n", req->headers[i].name, req->headers[i].value) < 0;
    rc |= evbuffer_add(out, "\r\n", 2);
    if (req->body_len)
        rc |= evbuffer_add(out, req->body, req->body_len);
    return rc ? -1 : 0;
}

static int valid_request(const sio_httpc_req *req, url *u)
{
    if (!req || !req->url || parse_url(req->url, u) < 0 || (req->body_len && !req->body))
        return 0;
    if (req->method && !is_token(req->method))
        return 0;
    for (size_t i = 0; i < req->n_headers; i++)
        if (!is_token(req->headers[i].name) || !is_field_value(req->headers[i].value))
            return 0;
    return 1;
}

sio_httpc *sio_httpc_request(struct event_base *base, const sio_httpc_req *req, sio_httpc_cb cb,
                             void *user)
{
    url u;
    if (!base || !cb || !valid_request(req, &u))
        return NULL;
    sio_httpc *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->base = base, h->cb = cb, h->user = user;
    h->https = u.https, h->port = u.port;
    memcpy(h->host, u.host, sizeof(h->host));
    h->dns = req->dns;
    h->max_body =
        req->max_response_bytes ? req->max_response_bytes : SIO_HTTPC_DEFAULT_MAX_RESPONSE;
    const char *method = req->method ? req->method : req->body_len ? "POST" : "GET";
    h->no_body = strcmp(method, "HEAD") == 0;
    h->state = ST_HEAD;
    if (h->https) {
        h->tls = req->tls;
        if (!h->tls) {
            h->tls = sio_httpc_tls_new(req->ca_file);
            h->own_tls = 1;
        }
    }
    if ((h->https && !h->tls) || !(h->timer = evtimer_new(base, on_timer, h)) ||
        !(h->bev = sio_net_bev_new(base, h->https ? h->tls->ctx : NULL, h->host)) ||
        write_request(h, req, &u, method) < 0) {
        release(h);
        return NULL;
    }
    bufferevent_setcb(h->bev, on_read, NULL, on_event, h);
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    int ms = req->timeout_ms > 0 ? req->timeout_ms : SIO_HTTPC_DEFAULT_TIMEOUT_MS;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(h->timer, &tv);
    if (sio_net_connect(h->bev, &h->dns, &h->own_dns, h->host, h->port) < 0) {
        /* reported from the loop: the callback never runs inside this call */
        h->pending_status = SIO_EIO;
        h->pending_reason = h->own_dns || h->dns ? "name resolution failed" : "connect failed";
        event_active(h->timer, EV_TIMEOUT, 1);
    }
    return h;
}

void sio_httpc_cancel(sio_httpc *h)
{
    if (!h || h->in_cb)
        return;
    release(h);
}

const char *sio_httpc_response_header(const sio_httpc *h, const char *name)
{
    if (!h || !h->in_cb || !name)
        return NULL;
    for (size_t i = 0; i < h->nhdr; i++)
        if (strcasecmp(h->hname[i], name) == 0)
            return h->hval[i];
    return NULL;
}

sio_httpc_tls *sio_httpc_tls_new(const char *ca_file)
{
    SSL_CTX *ctx = sio_net_tls_ctx_new(ca_file);
    sio_httpc_tls *t = ctx ? calloc(1, sizeof(*t)) : NULL;
    if (t)
        t->ctx = ctx;
    else
        SSL_CTX_free(ctx); /* NULL is fine */
    return t;
}

void sio_httpc_tls_free(sio_httpc_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}
