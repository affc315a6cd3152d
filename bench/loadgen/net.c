/* sio-loadgen socket layer: non-blocking TCP connections on one epoll set per process. Reads go
 * into one shared scratch buffer and only an unfinished tail is copied into the connection, so
 * 19,000 mostly idle clients cost little memory. Level-triggered; EPOLLOUT only while output is
 * pending. */
#include "loadgen.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)
#define READS_PER_EVENT 8 /* bound the time one busy socket can hold the loop */

static char rbuf[READ_CHUNK];

static int conn_arm(lg_ctx *ctx, lg_conn *c, bool want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0u), .data.ptr = c};
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return -errno;
    c->out_armed = want_out;
    return 0;
}

int lg_conn_open(lg_ctx *ctx, lg_conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (ctx->src != 0) {
        /* Let connect() pick the port per 4-tuple, so each source address has the whole
         * ephemeral range (Linux >= 4.2). */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = ctx->src};
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            int err = errno;
            close(fd);
            return -err;
        }
    }
    struct sockaddr_in da = {.sin_family = AF_INET,
                             .sin_port = htons(ctx->o->ports[c->client->node]),
                             .sin_addr.s_addr = ctx->o->dst};
    if (connect(fd, (struct sockaddr *)&da, sizeof(da)) != 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        return -err;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    c->fd = fd;
    c->state = LG_CS_CONNECTING;
    c->out_armed = true;
    c->in.off = c->in.len = 0;
    c->frag.off = c->frag.len = 0;
    return 0;
}

/* Closing keeps the buffers' memory for reuse; gen tells callers mid-parse to stop. An abortive
 * close (RST) leaves no TIME_WAIT behind, so back-to-back runs do not run out of ports. */
void lg_conn_close(lg_ctx *ctx, lg_conn *c, bool abortive)
{
    if (c->state == LG_CS_CLOSED)
        return;
    if (abortive) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = LG_CS_CLOSED;
    c->out_armed = false;
    c->gen++;
    c->in.off = c->in.len = 0;
    c->out.off = c->out.len = 0;
    c->frag.off = c->frag.len = 0;
}

int lg_conn_flush(lg_ctx *ctx, lg_conn *c)
{
    if (c->state == LG_CS_CLOSED || c->state == LG_CS_CONNECTING)
        return 0;
    while (c->out.len > c->out.off) {
        ssize_t w = write(c->fd, c->out.data + c->out.off, c->out.len - c->out.off);
        if (w > 0) {
            lg_buf_consume(&c->out, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return c->out_armed ? 0 : conn_arm(ctx, c, true);
        return w < 0 ? -errno : -EPIPE;
    }
    return c->out_armed ? conn_arm(ctx, c, false) : 0;
}

/* The connection failed or the peer closed it. An idle polling POST connection closed by the
 * server's keep-alive timer is harmless; anything else loses the client. */
void lg_conn_down(lg_ctx *ctx, lg_conn *c, const char *why)
{
    bool benign = c->kind == LG_CONN_POLL_POST && c->state == LG_CS_HTTP_IDLE;
    lg_conn_close(ctx, c, false);
    if (!benign)
        lg_client_lost(ctx, c->client, why);
}

static ssize_t conn_process(lg_ctx *ctx, lg_conn *c, char *p, size_t n)
{
    if (c->state == LG_CS_WS_OPEN)
        return lg_ws_on_data(ctx, c, p, n);
    return lg_http_on_data(ctx, c, p, n);
}

static void conn_readable(lg_ctx *ctx, lg_conn *c)
{
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t r = read(c->fd, rbuf, sizeof(rbuf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            lg_conn_down(ctx, c, r == 0 ? "closed by server" : strerror(errno));
            return;
        }
        char *p = rbuf;
        size_t n = (size_t)r;
        bool buffered = c->in.len > c->in.off;
        if (buffered) {
            if (lg_buf_append(&c->in, rbuf, n) < 0) {
                lg_conn_down(ctx, c, "out of memory");
                return;
            }
            p = c->in.data + c->in.off;
            n = c->in.len - c->in.off;
        }
        uint32_t gen = c->gen;
        ssize_t used = conn_process(ctx, c, p, n);
        if (c->gen != gen)
            return; /* closed (and maybe reopened) while handling its data */
        if (used < 0) {
            lg_conn_down(ctx, c, "protocol error");
            return;
        }
        if (buffered) {
            lg_buf_consume(&c->in, (size_t)used);
        } else if ((size_t)used < n && lg_buf_append(&c->in, p + used, n - (size_t)used) < 0) {
            lg_conn_down(ctx, c, "out of memory");
            return;
        }
        if ((size_t)r < sizeof(rbuf))
            return;
    }
}

static void conn_on_event(lg_ctx *ctx, lg_conn *c, uint32_t events)
{
    if (c->state == LG_CS_CLOSED)
        return; /* stale event of a connection closed earlier in this batch */
    if (c->state == LG_CS_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0) {
            lg_conn_down(ctx, c, strerror(err));
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLIN | EPOLLHUP | EPOLLERR)))
            return;
        c->state = LG_CS_HTTP_WAIT; /* every connection starts by sending a request */
    }
    if (events & EPOLLOUT) {
        int rc = lg_conn_flush(ctx, c);
        if (rc < 0) {
            lg_conn_down(ctx, c, strerror(-rc));
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        conn_readable(ctx, c);
}

static void ctl_readable(lg_ctx *ctx)
{
    char cmd[16];
    ssize_t r = read(ctx->ctl_in, cmd, sizeof(cmd));
    if (r <= 0) {
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        ctx->stop = true; /* parent went away */
        lg_fail(ctx, "control pipe closed");
        return;
    }
    for (ssize_t i = 0; i < r; i++) {
        if (cmd[i] == 'G')
            ctx->go = true;
        else if (cmd[i] == 'S')
            ctx->stop = true;
    }
}

int lg_loop_once(lg_ctx *ctx, int timeout_ms)
{
    struct epoll_event ev[1024];
    if (ctx->o->nap_us > 0 && ctx->running) {
        /* Reading in batches: while we sleep, the server's writes queue up in the socket
         * buffers without waking us, which on loopback costs the server a wake-up per write. */
        struct timespec ts = {0, (long)ctx->o->nap_us * 1000};
        nanosleep(&ts, NULL);
    }
    int n = epoll_wait(ctx->epfd, ev, 1024, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.ptr == NULL)
            ctl_readable(ctx);
        else
            conn_on_event(ctx, ev[i].data.ptr, ev[i].events);
    }
    return n;
}
