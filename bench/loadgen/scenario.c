/* sio-loadgen child process: connects its slice of clients, reports, waits for the parent's go,
 * runs the scenario's measured phase, reports again and holds the connections until told to
 * stop. Every wait is bounded by the child's deadline. */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define ROOM "bench"
#define FANOUT_IDLE_NS 10000000000ull /* no delivery for 10 s: give up on the rest */
#define ECHO_DRAIN_NS 5000000000ull   /* wait this long for the last acks */
#define EMIT_DRAIN_NS 1000000000ull   /* emit: let the server finish the last events */
#define MAX_PACKET_OVERHEAD 96

static char *pkt;

static bool dead(const lg_client *cl)
{
    return cl->state == LG_CL_FAILED || cl->state == LG_CL_DROPPED || cl->state == LG_CL_CLOSED;
}

static void start_more(lg_ctx *ctx)
{
    /* a start that fails at once calls back into here through on_down; the outer loop goes on */
    static bool active;
    if (active)
        return;
    active = true;
    while (ctx->next_start < ctx->nclients && ctx->inflight < ctx->inflight_max)
        lg_client_start(ctx, &ctx->clients[ctx->next_start++]);
    active = false;
}

/* ---- fanout ---------------------------------------------------------------------------- */

static void fanout_pump(lg_ctx *ctx)
{
    const lg_opts *o = ctx->o;
    lg_client *s = ctx->sender;
    if (!s || !ctx->running || s->state != LG_CL_READY || ctx->end_sent)
        return;
    uint64_t now = lg_now_ns();
    bool time_up = now - ctx->t_run_start > (uint64_t)(o->duration_s * 1e9);
    /* with --bcast-rate, broadcast k is not sent before k / rate seconds into the run */
    uint64_t allowed = o->bcast_rate > 0
                           ? (uint64_t)((double)(now - ctx->t_run_start) * o->bcast_rate / 1e9) + 1
                           : UINT64_MAX;
    while (!time_up && ctx->bcast_sent < o->messages &&
           ctx->bcast_sent - ctx->bcast_done < o->window && ctx->bcast_sent < allowed) {
        uint64_t seq = ++ctx->bcast_sent;
        /* "seq|send time|padding": receivers check the order and measure the delivery time
         * (CLOCK_MONOTONIC is shared by every process on the machine) */
        unsigned long long t = (unsigned long long)lg_now_ns();
        int digits = snprintf(pkt, 64, "%llu|%llu|", (unsigned long long)seq, t);
        int pad = (int)o->payload - digits;
        int n = snprintf(pkt, o->payload + MAX_PACKET_OVERHEAD,
                         "42[\"bcast\",\"" ROOM "\",\"%llu|%llu|%.*s\"]", (unsigned long long)seq,
                         t, pad > 0 ? pad : 0, ctx->payload);
        if (seq == 1)
            ctx->rep.t_first_ns = lg_now_ns();
        ctx->rep.sent = ctx->bcast_sent;
        if (lg_client_send(ctx, s, pkt, (size_t)n) < 0)
            return;
    }
    if ((time_up || ctx->bcast_sent >= o->messages) && ctx->bcast_done == ctx->bcast_sent) {
        /* the end marker tells receivers the total, so they stop without a timeout */
        int n = snprintf(pkt, 64, "42[\"bcast\",\"" ROOM "\",\"E%llu\"]",
                         (unsigned long long)ctx->bcast_sent);
        ctx->end_sent = true;
        lg_client_send(ctx, s, pkt, (size_t)n);
    }
}

static void fanout_msg(lg_ctx *ctx, lg_client *cl, const char *p, size_t n)
{
    if (n > 0 && p[0] == 'E') {
        if (!cl->got_end) {
            cl->got_end = true;
            if (cl->is_sender)
                ctx->sender_done = true;
            else
                ctx->ends_seen++;
        }
        return;
    }
    char *end;
    uint64_t seq = strtoull(p, &end, 10);
    if (cl->is_sender) {
        ctx->bcast_done++;
        fanout_pump(ctx);
        return;
    }
    uint64_t now = lg_now_ns();
    ctx->t_last_msg = now;
    ctx->rep.t_last_ns = now;
    cl->delivered++;
    ctx->rep.delivered++;
    ctx->rep.delivered_node[cl->node]++;
    if (end < p + n && *end == '|') {
        uint64_t t = strtoull(end + 1, NULL, 10);
        if (t > 0 && t <= now)
            lg_hist_add(ctx->rep.hist, (now - t) / 1000);
    }
    if (seq >= cl->next_seq) {
        cl->next_seq = seq + 1; /* a gap shows up as lost at the end */
    } else {
        cl->ooo++;
        ctx->rep.ooo++;
    }
}

static bool fanout_done(lg_ctx *ctx)
{
    if ((!ctx->sender || ctx->sender_done || dead(ctx->sender)) &&
        ctx->ends_seen >= ctx->receivers_alive)
        return true;
    uint64_t last = ctx->t_last_msg > ctx->t_run_start ? ctx->t_last_msg : ctx->t_run_start;
    if (lg_now_ns() - last > FANOUT_IDLE_NS) {
        fprintf(stderr, "sio-loadgen: child %u: no delivery for 10 s, ending the run\n",
                ctx->child);
        return true;
    }
    return false;
}

/* ---- echo ------------------------------------------------------------------------------ */

static uint32_t outstanding(const lg_client *cl)
{
    return cl->next_ack - 1 - cl->acked;
}

static void echo_tick(lg_ctx *ctx)
{
    uint64_t now = lg_now_ns();
    if (now >= ctx->t_send_end)
        return;
    uint64_t due = (uint64_t)((double)(now - ctx->t_run_start) * ctx->rate_here / 1e9) + 1;
    while (ctx->rep.sent + ctx->rep.skipped < due) {
        lg_client *cl = NULL;
        for (uint32_t tries = 0; tries < ctx->nclients && !cl; tries++) {
            lg_client *c = &ctx->clients[ctx->rr++ % ctx->nclients];
            if (c->state == LG_CL_READY && outstanding(c) < LG_ECHO_RING)
                cl = c;
        }
        if (!cl) {
            ctx->rep.skipped++;
            continue;
        }
        uint32_t id = cl->next_ack++;
        int n = snprintf(pkt, ctx->o->payload + MAX_PACKET_OVERHEAD, "42%u[\"echo\",\"%s\"]", id,
                         ctx->payload);
        lg_echo_slot *slot = &cl->ring[id % LG_ECHO_RING];
        slot->id = id;
        slot->t_ns = lg_now_ns();
        if (ctx->rep.sent++ == 0)
            ctx->rep.t_first_ns = slot->t_ns;
        lg_client_send(ctx, cl, pkt, (size_t)n);
    }
}

static void echo_ack(lg_ctx *ctx, lg_client *cl, uint32_t id)
{
    lg_echo_slot *slot = &cl->ring[id % LG_ECHO_RING];
    if (slot->id != id || slot->t_ns == 0)
        return;
    uint64_t now = lg_now_ns();
    uint64_t us = (now - slot->t_ns) / 1000;
    slot->t_ns = 0;
    cl->acked++;
    ctx->rep.acked++;
    ctx->rep.t_last_ns = now;
    lg_hist_add(ctx->rep.hist, us);
    if (us > ctx->rep.rtt_max_us)
        ctx->rep.rtt_max_us = us;
}

static bool echo_done(lg_ctx *ctx)
{
    uint64_t now = lg_now_ns();
    if (now < ctx->t_send_end)
        return false;
    if (now > ctx->t_send_end + ECHO_DRAIN_NS)
        return true;
    for (uint32_t i = 0; i < ctx->nclients; i++)
        if (ctx->clients[i].state == LG_CL_READY && outstanding(&ctx->clients[i]) > 0)
            return false;
    return true;
}

/* ---- emit: scripted events ------------------------------------------------------------ */

/* Copies an event template, "%C" replaced by the client's conversation id (a UUID). */
static int render(const lg_ctx *ctx, const lg_client *cl, const char *tmpl, char *out, size_t cap)
{
    size_t n = 0;
    uint32_t group = ctx->o->group ? ctx->o->group : 1;
    for (const char *t = tmpl; *t; t++) {
        if (t[0] == '%' && t[1] == 'C') {
            int w = snprintf(out + n, cap - n, "00000000-0000-4000-8000-%012u", cl->gidx / group);
            if (w < 0 || (size_t)w >= cap - n)
                return -1;
            n += (size_t)w;
            t++;
            continue;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = *t;
    }
    out[n] = 0;
    return (int)n;
}

/* Sends 42[...] rendered from tmpl; with_ack: 420[...], ack id 0 (the join's). */
static void emit_send(lg_ctx *ctx, lg_client *cl, const char *tmpl, bool with_ack)
{
    size_t head = with_ack ? 3 : 2;
    memcpy(pkt, "420", head);
    int n = render(ctx, cl, tmpl, pkt + head, ctx->o->payload + MAX_PACKET_OVERHEAD - head);
    if (n < 0) {
        lg_fail(ctx, "event template too long (raise --payload)");
        return;
    }
    lg_client_send(ctx, cl, pkt, (size_t)n + head);
}

static void emit_tick(lg_ctx *ctx)
{
    uint64_t now = lg_now_ns();
    if (now >= ctx->t_send_end || ctx->o->nevents == 0)
        return;
    uint64_t due = (uint64_t)((double)(now - ctx->t_run_start) * ctx->rate_here / 1e9) + 1;
    while (ctx->rep.sent + ctx->rep.skipped < due) {
        lg_client *cl = NULL;
        for (uint32_t tries = 0; tries < ctx->nclients && !cl; tries++) {
            lg_client *c = &ctx->clients[ctx->rr++ % ctx->nclients];
            if (c->state == LG_CL_READY)
                cl = c;
        }
        if (!cl) {
            ctx->rep.skipped++;
            continue;
        }
        if (ctx->rep.sent++ == 0)
            ctx->rep.t_first_ns = lg_now_ns();
        emit_send(ctx, cl, ctx->o->events[cl->nsent++ % ctx->o->nevents], false);
    }
}

static bool emit_done(lg_ctx *ctx)
{
    return lg_now_ns() >= ctx->t_send_end + EMIT_DRAIN_NS;
}

/* ---- hooks from client.c -------------------------------------------------------------- */

void lg_scn_on_ready(lg_ctx *ctx, lg_client *cl)
{
    if (ctx->o->scenario == LG_SCN_FANOUT) {
        static const char join[] = "420[\"join\",\"" ROOM "\"]";
        lg_client_send(ctx, cl, join, sizeof(join) - 1);
    } else if (ctx->o->scenario == LG_SCN_EMIT && ctx->o->setup_event) {
        emit_send(ctx, cl, ctx->o->setup_event, ctx->o->setup_ack);
    }
    start_more(ctx);
}

void lg_scn_on_ack(lg_ctx *ctx, lg_client *cl, uint32_t id, const char *p, size_t n)
{
    if (id == 0) {
        if (n >= 6 && memcmp(p, "[\"ok\"]", 6) == 0)
            cl->joined = true;
        else
            lg_client_lost(ctx, cl, "join not acknowledged with \"ok\"");
        return;
    }
    if (ctx->o->scenario == LG_SCN_ECHO)
        echo_ack(ctx, cl, id);
}

void lg_scn_on_msg(lg_ctx *ctx, lg_client *cl, const char *p, size_t n)
{
    /* not gated on `running`: another child's sender may start before this child has read its
     * go command */
    if (ctx->o->scenario == LG_SCN_FANOUT)
        fanout_msg(ctx, cl, p, n);
}

/* Events other than the fanout's "msg": counted as deliveries (emit, hold), the emit scenario's
 * setup reply completes the client's setup. */
void lg_scn_on_event(lg_ctx *ctx, lg_client *cl, const char *name, size_t n)
{
    const char *reply = ctx->o->setup_reply;
    if (ctx->o->scenario == LG_SCN_EMIT && reply && !cl->joined && strlen(reply) == n &&
        memcmp(name, reply, n) == 0) {
        cl->joined = true;
        return;
    }
    if (!ctx->running)
        return;
    uint64_t now = lg_now_ns();
    if (ctx->o->scenario == LG_SCN_HOLD && ctx->rep.t_first_ns == 0)
        ctx->rep.t_first_ns = now;
    ctx->rep.t_last_ns = now;
    ctx->rep.delivered++;
}

void lg_scn_on_down(lg_ctx *ctx, lg_client *cl, bool was_ready)
{
    if (ctx->running && was_ready && !cl->is_sender)
        ctx->receivers_alive--;
    if (!ctx->running)
        start_more(ctx);
}

/* ---- phases ----------------------------------------------------------------------------- */

static bool setup_done(lg_ctx *ctx)
{
    if (ctx->next_start < ctx->nclients || ctx->inflight > 0)
        return false;
    bool joins = ctx->o->scenario == LG_SCN_FANOUT ||
                 (ctx->o->scenario == LG_SCN_EMIT && ctx->o->setup_event &&
                  (ctx->o->setup_reply || ctx->o->setup_ack));
    if (joins)
        for (uint32_t i = 0; i < ctx->nclients; i++)
            if (ctx->clients[i].state == LG_CL_READY && !ctx->clients[i].joined)
                return false;
    return true;
}

static bool got_go(lg_ctx *ctx)
{
    return ctx->go;
}

static bool got_stop(lg_ctx *ctx)
{
    return ctx->stop;
}

static bool run_done(lg_ctx *ctx)
{
    switch (ctx->o->scenario) {
    case LG_SCN_FANOUT:
        return fanout_done(ctx);
    case LG_SCN_ECHO:
        return echo_done(ctx);
    case LG_SCN_EMIT:
        return emit_done(ctx);
    default:
        return lg_now_ns() - ctx->t_run_start >= (uint64_t)(ctx->o->duration_s * 1e9);
    }
}

/* Services every socket until done() holds. Fails on the deadline or an early stop. */
static int run_until(lg_ctx *ctx, bool (*done)(lg_ctx *), bool stop_ok)
{
    while (!done(ctx)) {
        if (ctx->stop && !stop_ok)
            return -1;
        uint64_t now = lg_now_ns();
        if (now >= ctx->deadline_ns) {
            lg_fail(ctx, "deadline reached");
            return -1;
        }
        bool echo = ctx->running && ctx->o->scenario == LG_SCN_ECHO;
        bool emit = ctx->running && ctx->o->scenario == LG_SCN_EMIT;
        bool paced = ctx->running && ctx->o->scenario == LG_SCN_FANOUT && ctx->o->bcast_rate > 0;
        int rc = lg_loop_once(ctx, echo || emit || paced ? 1 : 20);
        if (rc < 0) {
            lg_fail(ctx, "epoll_wait failed");
            return -1;
        }
        if (echo)
            echo_tick(ctx);
        else if (emit)
            emit_tick(ctx);
        else if (ctx->running && ctx->o->scenario == LG_SCN_FANOUT)
            fanout_pump(ctx);
        else if (!ctx->running)
            start_more(ctx);
    }
    return 0;
}

static int report(lg_ctx *ctx, lg_report_kind kind)
{
    ctx->rep.kind = kind;
    ctx->rep.child = ctx->child;
    ctx->rep.cpu_s = lg_self_cpu_s();
    return lg_write_all(ctx->ctl_out, &ctx->rep, sizeof(ctx->rep));
}

static int child_init(lg_ctx *ctx)
{
    const lg_opts *o = ctx->o;
    ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->epfd < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, ctx->ctl_in, &ev) != 0)
        return -1;
    ctx->clients = calloc(ctx->nclients, sizeof(*ctx->clients));
    ctx->payload = malloc(o->payload + 1);
    pkt = malloc(o->payload + MAX_PACKET_OVERHEAD);
    if (!ctx->clients || !ctx->payload || !pkt)
        return -1;
    memset(ctx->payload, 'x', o->payload);
    ctx->payload[o->payload] = 0;
    for (uint32_t i = 0; i < ctx->nclients; i++) {
        lg_client *cl = &ctx->clients[i];
        cl->idx = i;
        cl->gidx = ctx->first + i;
        cl->node = (uint8_t)(cl->gidx % (o->nports ? o->nports : 1));
        cl->next_ack = 1;
        cl->main.fd = cl->post.fd = -1;
        cl->main.client = cl->post.client = cl;
    }
    if (o->scenario == LG_SCN_FANOUT && ctx->child == 0) {
        ctx->sender = &ctx->clients[0];
        ctx->sender->is_sender = true;
        ctx->sender->node = 0;
    }
    ctx->rep.clients = ctx->nclients;
    ctx->rep.receivers = ctx->nclients - (ctx->sender ? 1u : 0u);
    return 0;
}

int lg_child_main(lg_ctx *ctx)
{
    int rc = child_init(ctx);
    if (rc < 0) {
        lg_fail(ctx, "out of memory or epoll failure");
        report(ctx, LG_REPORT_SETUP);
        return 1;
    }
    ctx->rep.t_first_ns = lg_now_ns();
    rc = run_until(ctx, setup_done, false);
    report(ctx, LG_REPORT_SETUP);
    if (rc < 0)
        return 1;
    if (run_until(ctx, got_go, false) < 0)
        return ctx->stop ? 0 : 1;

    /* run phase: counters restart so the report covers only the measured part */
    ctx->rep.dropped = 0;
    ctx->rep.polls = 0;
    ctx->rep.t_first_ns = ctx->rep.t_last_ns = 0;
    for (uint32_t i = 0; i < ctx->nclients; i++)
        if (!ctx->clients[i].is_sender && ctx->clients[i].state == LG_CL_READY)
            ctx->receivers_alive++;
    ctx->running = true;
    ctx->t_run_start = lg_now_ns();
    ctx->t_send_end = ctx->t_run_start + (uint64_t)(ctx->o->duration_s * 1e9);
    fanout_pump(ctx);
    rc = run_until(ctx, run_done, false);
    ctx->running = false;
    report(ctx, LG_REPORT_RUN);
    if (rc < 0)
        return 1;
    run_until(ctx, got_stop, true);
    for (uint32_t i = 0; i < ctx->nclients; i++)
        lg_client_close(ctx, &ctx->clients[i]);
    return 0;
}
