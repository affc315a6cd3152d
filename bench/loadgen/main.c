/* sio-loadgen: Socket.IO benchmark load generator (see bench/README.md). The parent parses the
 * command line, forks one child per --procs (each bound to its own source address so that no
 * process needs more than ~19,000 sockets), samples the server's CPU and RSS from /proc between
 * phases, and prints a human summary plus one RESULT line. */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct lg_sample {
    bool ok;
    double cpu_s; /* user + system, every server of the cluster together */
    double sys_s;
    long rss_kib;
    double cpu_node[LG_MAX_NODES];
    double aux_cpu_s;
    double machine_busy_s;
} lg_sample;

typedef struct lg_child_proc {
    pid_t pid;
    int to_child;
    int from_child;
} lg_child_proc;

static const char *scenario_names[] = {"conn", "hold", "fanout", "echo", "emit"};

static void usage(void)
{
    fprintf(stderr,
            "usage: sio-loadgen conn|hold|fanout|echo|emit --port P[,P2,...] [options]\n"
            "  --host A          server IPv4 address (127.0.0.1)\n"
            "  --clients N       clients; receivers for fanout (100)\n"
            "  --transport T     websocket | polling (websocket)\n"
            "  --duration S      conn: hold 3, hold: 60, echo: send time 10, fanout: cap 60\n"
            "  --rate R          echo: acked messages per second in total (1000)\n"
            "  --messages M      fanout: broadcasts (1000)\n"
            "  --window W        fanout: broadcasts in flight (16)\n"
            "  --payload B       payload string bytes (100)\n"
            "  --inflight H      conn: handshakes in flight (500)\n"
            "  --procs K         child processes (1); child i uses --src entry i\n"
            "  --src A,B,...     source addresses (127.0.0.2+i when --procs > 1)\n"
            "  --server-pid PID  sample this process's CPU and RSS\n"
            "  --label NAME      server name for the RESULT line\n"
            "  --nap-us U        run phase: sleep U us before each poll (fanout 500, else 0)\n"
            "  --timeout S       global deadline (120 + duration)\n"
            "cluster (several --port and --server-pid entries, client i on port i mod count):\n"
            "  --aux-pid PID     also sample this process (a Redis) and report its CPU\n"
            "  --bcast-rate R    fanout: at most R broadcasts per second\n"
            "authentication and scripted events:\n"
            "  --auth-file F     CONNECT auth objects, one JSON object a line, client i uses\n"
            "                    line i mod lines, e.g. {\"token\":\"eyJ...\"}\n"
            "  --setup-event E   emit: event array sent once connected, e.g.\n"
            "                    '[\"join_conversation\",{\"conversation_id\":\"%%C\"}]'\n"
            "                    (%%C: the client's conversation, a UUID)\n"
            "  --setup-reply N   emit: the event name that completes the setup event\n"
            "  --setup-ack       emit: the setup event asks for an ack; its \"ok\" completes it\n"
            "                    (the bench contract's join, e.g. on the floor server)\n"
            "  --event E         emit: event array sent at --rate in total (repeatable, in turn)\n"
            "  --group G         emit: clients per conversation (10)\n");
    exit(2);
}

static double num_arg(const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != 0 || v < lo || v > hi) {
        fprintf(stderr, "sio-loadgen: bad number '%s'\n", s);
        usage();
    }
    return v;
}

/* "a,b,c" of numbers in [lo, hi] into out[]; returns the count */
static uint32_t parse_list(const char *list, double lo, double hi, double *out, uint32_t max)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", list);
    uint32_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n >= max) {
            fprintf(stderr, "sio-loadgen: at most %u entries in '%s'\n", max, list);
            usage();
        }
        out[n++] = num_arg(t, lo, hi);
    }
    if (n == 0)
        usage();
    return n;
}

static void read_auth(lg_opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "sio-loadgen: cannot open %s\n", path);
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint32_t max = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        if (o->nauth == max) {
            max = max ? 2 * max : 64;
            char **a = realloc(o->auth, max * sizeof(*a));
            if (!a)
                exit(1);
            o->auth = a;
        }
        if (!(o->auth[o->nauth++] = strdup(line)))
            exit(1);
    }
    free(line);
    fclose(f);
    if (o->nauth == 0) {
        fprintf(stderr, "sio-loadgen: %s has no auth line\n", path);
        exit(2);
    }
}

static void parse_src(lg_opts *o, const char *list)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        struct in_addr a;
        if (o->nsrc >= LG_MAX_SRC || inet_pton(AF_INET, t, &a) != 1) {
            fprintf(stderr, "sio-loadgen: bad --src entry '%s'\n", t);
            usage();
        }
        o->src[o->nsrc++] = a.s_addr;
    }
}

static void set_opt(lg_opts *o, int c, const char *arg, long *nap)
{
    switch (c) {
    case 'h':
        o->host = arg;
        break;
    case 'p': {
        double v[LG_MAX_NODES];
        o->nports = parse_list(arg, 1, 65535, v, LG_MAX_NODES);
        for (uint32_t i = 0; i < o->nports; i++)
            o->ports[i] = (uint16_t)v[i];
        o->port = o->ports[0];
        break;
    }
    case 'n':
        o->clients = (uint32_t)num_arg(arg, 1, 1e6);
        break;
    case 's':
        parse_src(o, arg);
        break;
    case 'd':
        o->duration_s = num_arg(arg, 0, 86400);
        break;
    case 'r':
        o->rate = num_arg(arg, 1, 1e7);
        break;
    case 'm':
        o->messages = (uint32_t)num_arg(arg, 1, 1e9);
        break;
    case 'w':
        o->window = (uint32_t)num_arg(arg, 1, 1e6);
        break;
    case 'b':
        o->payload = (uint32_t)num_arg(arg, 8, 1 << 20);
        break;
    case 'P': {
        double v[LG_MAX_NODES];
        o->npids = parse_list(arg, 1, 1 << 30, v, LG_MAX_NODES);
        for (uint32_t i = 0; i < o->npids; i++)
            o->server_pids[i] = (pid_t)v[i];
        o->server_pid = o->server_pids[0];
        break;
    }
    case 'A':
        o->aux_pid = (pid_t)num_arg(arg, 1, 1 << 30);
        break;
    case 'B':
        o->bcast_rate = num_arg(arg, 0, 1e7);
        break;
    case 'a':
        read_auth(o, arg);
        break;
    case 'E':
        o->setup_event = arg;
        break;
    case 'R':
        o->setup_reply = arg;
        break;
    case 'K':
        o->setup_ack = true;
        break;
    case 'e':
        if (o->nevents >= LG_MAX_EVENTS) {
            fprintf(stderr, "sio-loadgen: at most %d --event\n", LG_MAX_EVENTS);
            usage();
        }
        o->events[o->nevents++] = arg;
        break;
    case 'g':
        o->group = (uint32_t)num_arg(arg, 1, 1e6);
        break;
    case 'k':
        o->procs = (uint32_t)num_arg(arg, 1, LG_MAX_PROCS);
        break;
    case 'l':
        o->label = arg;
        break;
    case 'i':
        o->inflight = (uint32_t)num_arg(arg, 1, 1e6);
        break;
    case 'T':
        o->timeout_s = num_arg(arg, 1, 86400);
        break;
    case 'z':
        *nap = (long)num_arg(arg, 0, 100000);
        break;
    case 't':
        if (strcmp(arg, "websocket") == 0)
            o->transport = LG_TRANSPORT_WEBSOCKET;
        else if (strcmp(arg, "polling") == 0)
            o->transport = LG_TRANSPORT_POLLING;
        else
            usage();
        break;
    default:
        usage();
    }
}

static void parse_opts(int argc, char **argv, lg_opts *o)
{
    static const struct option longs[] = {
        {"host", 1, 0, 'h'},
        {"port", 1, 0, 'p'},
        {"clients", 1, 0, 'n'},
        {"src", 1, 0, 's'},
        {"duration", 1, 0, 'd'},
        {"rate", 1, 0, 'r'},
        {"messages", 1, 0, 'm'},
        {"window", 1, 0, 'w'},
        {"payload", 1, 0, 'b'},
        {"server-pid", 1, 0, 'P'},
        {"transport", 1, 0, 't'},
        {"procs", 1, 0, 'k'},
        {"label", 1, 0, 'l'},
        {"inflight", 1, 0, 'i'},
        {"timeout", 1, 0, 'T'},
        {"nap-us", 1, 0, 'z'},
        {"aux-pid", 1, 0, 'A'},
        {"bcast-rate", 1, 0, 'B'},
        {"auth-file", 1, 0, 'a'},
        {"setup-event", 1, 0, 'E'},
        {"setup-reply", 1, 0, 'R'},
        {"event", 1, 0, 'e'},
        {"group", 1, 0, 'g'},
        {"setup-ack", 0, 0, 'K'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof(*o));
    if (argc < 2)
        usage();
    int sc = -1;
    for (int i = 0; i < (int)(sizeof(scenario_names) / sizeof(scenario_names[0])); i++)
        if (strcmp(argv[1], scenario_names[i]) == 0)
            sc = i;
    if (sc < 0)
        usage();
    o->scenario = (lg_scenario)sc;
    o->host = "127.0.0.1";
    o->label = "unknown";
    o->clients = 100;
    o->duration_s = -1;
    o->rate = 1000;
    o->messages = 1000;
    o->window = 16;
    o->payload = 100;
    o->inflight = 500;
    o->procs = 1;
    o->timeout_s = -1;
    o->group = 10;
    long nap = -1;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1)
        set_opt(o, c, optarg, &nap);
    struct in_addr a;
    if (o->port == 0 || optind != argc || inet_pton(AF_INET, o->host, &a) != 1)
        usage();
    o->dst = a.s_addr;
    if (o->duration_s < 0) {
        static const double defaults[] = {3, 60, 60, 10};
        o->duration_s = defaults[o->scenario];
    }
    /* fanout measures throughput, so batch reads; echo measures latency, so never sleep */
    o->nap_us = nap >= 0 ? (uint32_t)nap : o->scenario == LG_SCN_FANOUT ? 500 : 0;
    if (o->timeout_s < 0)
        o->timeout_s = 120 + 1.5 * o->duration_s;
    if (o->procs > o->clients)
        o->procs = o->clients;
    if (o->nsrc == 0 && o->procs > 1)
        for (uint32_t i = 0; i < o->procs; i++)
            o->src[o->nsrc++] = htonl(0x7F000002u + i);
}

static lg_sample sample(const lg_opts *o)
{
    lg_sample s = {0};
    s.machine_busy_s = lg_machine_busy_s();
    s.ok = o->npids > 0;
    for (uint32_t i = 0; i < o->npids; i++) {
        double cpu, sys;
        long rss;
        if (lg_proc_sample(o->server_pids[i], &cpu, &sys, &rss) != 0) {
            s.ok = false;
            continue;
        }
        s.cpu_node[i] = cpu;
        s.cpu_s += cpu;
        s.sys_s += sys;
        s.rss_kib += rss;
    }
    double sys;
    long rss;
    if (o->aux_pid > 0 && lg_proc_sample(o->aux_pid, &s.aux_cpu_s, &sys, &rss) != 0)
        s.aux_cpu_s = 0;
    return s;
}

static int spawn(const lg_opts *o, lg_child_proc *kids)
{
    uint64_t start = lg_now_ns();
    uint32_t first = 0;
    for (uint32_t i = 0; i < o->procs; i++) {
        uint32_t count = o->clients / o->procs + (i < o->clients % o->procs ? 1u : 0u);
        if (o->scenario == LG_SCN_FANOUT && i == 0)
            count++; /* the sender */
        int down[2], up[2];
        if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0)
            return -1;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            for (uint32_t j = 0; j < i; j++) {
                close(kids[j].to_child);
                close(kids[j].from_child);
            }
            close(down[1]);
            close(up[0]);
            static lg_ctx ctx;
            ctx.o = o;
            ctx.child = i;
            ctx.src = o->nsrc ? o->src[i % o->nsrc] : 0;
            ctx.ctl_in = down[0];
            ctx.ctl_out = up[1];
            ctx.first = first;
            ctx.nclients = count;
            ctx.inflight_max = o->inflight / o->procs ? o->inflight / o->procs : 1;
            ctx.deadline_ns = start + (uint64_t)(o->timeout_s * 1e9);
            ctx.rng = start ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
            ctx.rate_here = o->rate * (double)count / (double)o->clients;
            _exit(lg_child_main(&ctx));
        }
        close(down[0]);
        close(up[1]);
        kids[i] = (lg_child_proc){.pid = pid, .to_child = down[1], .from_child = up[0]};
        first += count;
    }
    return 0;
}

static void tell(const lg_opts *o, lg_child_proc *kids, char cmd)
{
    for (uint32_t i = 0; i < o->procs; i++)
        if (write(kids[i].to_child, &cmd, 1) != 1)
            fprintf(stderr, "sio-loadgen: child %u is gone\n", i);
}

/* Reads one report from every child, bounded by the deadline. */
static int collect(const lg_opts *o, lg_child_proc *kids, lg_report *reps, uint64_t deadline)
{
    struct pollfd pfd[LG_MAX_PROCS];
    bool have[LG_MAX_PROCS] = {false};
    uint32_t left = o->procs;
    while (left > 0) {
        uint64_t now = lg_now_ns();
        if (now >= deadline) {
            fprintf(stderr, "sio-loadgen: timeout waiting for children\n");
            return -1;
        }
        for (uint32_t i = 0; i < o->procs; i++)
            pfd[i] = (struct pollfd){.fd = have[i] ? -1 : kids[i].from_child, .events = POLLIN};
        int n = poll(pfd, o->procs, (int)((deadline - now) / 1000000 + 1));
        if (n < 0 && errno != EINTR)
            return -1;
        for (uint32_t i = 0; n > 0 && i < o->procs; i++) {
            if (have[i] || !pfd[i].revents)
                continue;
            if (lg_read_all(kids[i].from_child, &reps[i], sizeof(reps[i])) != 0) {
                fprintf(stderr, "sio-loadgen: child %u exited early\n", i);
                return -1;
            }
            if (reps[i].error[0]) {
                fprintf(stderr, "sio-loadgen: %s\n", reps[i].error);
                return -1;
            }
            have[i] = true;
            left--;
        }
    }
    return 0;
}

static int reap(const lg_opts *o, lg_child_proc *kids)
{
    int bad = 0;
    for (uint32_t i = 0; i < o->procs; i++) {
        int st = 0;
        if (waitpid(kids[i].pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad = 1;
        close(kids[i].to_child);
        close(kids[i].from_child);
    }
    return bad;
}

typedef struct lg_totals {
    lg_report sum; /* counters summed, times min/max'ed, histogram merged */
    double cpu_setup;
    double cpu_run;
} lg_totals;

static void add_up(const lg_opts *o, const lg_report *setup, const lg_report *run, lg_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (uint32_t i = 0; i < o->procs; i++) {
        const lg_report *r = &run[i];
        t->cpu_setup += setup[i].cpu_s;
        t->cpu_run += r->cpu_s - setup[i].cpu_s;
        t->sum.clients += setup[i].clients;
        t->sum.ready += setup[i].ready;
        t->sum.failed += setup[i].failed;
        t->sum.receivers += r->receivers;
        t->sum.dropped += r->dropped;
        t->sum.sent += r->sent;
        t->sum.acked += r->acked;
        t->sum.delivered += r->delivered;
        t->sum.ooo += r->ooo;
        t->sum.polls += r->polls;
        for (uint32_t k = 0; k < LG_MAX_NODES; k++)
            t->sum.delivered_node[k] += r->delivered_node[k];
        t->sum.skipped += r->skipped;
        if (r->rtt_max_us > t->sum.rtt_max_us)
            t->sum.rtt_max_us = r->rtt_max_us;
        if (r->t_first_ns && (!t->sum.t_first_ns || r->t_first_ns < t->sum.t_first_ns))
            t->sum.t_first_ns = r->t_first_ns;
        if (r->t_last_ns > t->sum.t_last_ns)
            t->sum.t_last_ns = r->t_last_ns;
        for (size_t b = 0; b < LG_HIST_BUCKETS; b++)
            t->sum.hist[b] += r->hist[b];
    }
}

/* CPU used on the machine by anything but the server and the generator during [a, b]: a
 * non-trivial value means the figures were disturbed by other work. */
static double other_cpu(lg_sample a, lg_sample b, double gen)
{
    double busy = b.machine_busy_s - a.machine_busy_s;
    double srv = a.ok && b.ok ? b.cpu_s - a.cpu_s : 0;
    double v = busy - srv - gen - (b.aux_cpu_s - a.aux_cpu_s);
    return v > 0 ? v : 0;
}

static double sys_share(lg_sample a, lg_sample b)
{
    double cpu = b.cpu_s - a.cpu_s;
    return cpu > 0 ? 100 * (b.sys_s - a.sys_s) / cpu : 0;
}

/* Prints "key=value" with "na" when the server was not sampled. */
static void kv(const char *key, bool ok, double v)
{
    if (ok)
        printf(" %s=%.6g", key, v);
    else
        printf(" %s=na", key);
}

static void report_conn(const lg_opts *o, const lg_report *setup, const lg_totals *t, lg_sample s0,
                        lg_sample s1, lg_sample s3)
{
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (uint32_t i = 0; i < o->procs; i++) {
        if (setup[i].t_first_ns < t0)
            t0 = setup[i].t_first_ns;
        if (setup[i].t_last_ns > t1)
            t1 = setup[i].t_last_ns;
    }
    double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
    double ready = (double)t->sum.ready;
    bool srv = s0.ok && s1.ok && s3.ok && ready > 0;
    double cpu_k = srv ? (s1.cpu_s - s0.cpu_s) / (ready / 1000) : 0;
    double rss = srv ? (double)(s3.rss_kib - s0.rss_kib) / ready : 0;
    printf("%s %s: %llu/%u clients connected in %.2f s (%.0f/s), %llu failed, "
           "%llu dropped during the %.0f s hold\n",
           o->label, scenario_names[o->scenario], (unsigned long long)t->sum.ready, o->clients,
           secs, secs > 0 ? ready / secs : 0, (unsigned long long)t->sum.failed,
           (unsigned long long)t->sum.dropped, o->duration_s);
    if (srv)
        printf("  server: %.1f KiB RSS per connection (%ld -> %ld KiB), %.3f s CPU per 1000 "
               "connects (%.0f%% system)\n",
               rss, s0.rss_kib, s3.rss_kib, cpu_k, sys_share(s0, s1));
    double other = other_cpu(s0, s1, t->cpu_setup);
    printf("  generator CPU: %.2f s connecting; other processes: %.2f s\n", t->cpu_setup, other);
    printf("RESULT scenario=%s server=%s transport=%s clients=%u connected=%llu failed=%llu "
           "dropped=%llu",
           scenario_names[o->scenario], o->label,
           o->transport == LG_TRANSPORT_POLLING ? "polling" : "websocket", o->clients,
           (unsigned long long)t->sum.ready, (unsigned long long)t->sum.failed,
           (unsigned long long)t->sum.dropped);
    kv("connects_per_s", secs > 0, secs > 0 ? ready / secs : 0);
    kv("rss_kib_per_conn", srv, rss);
    kv("cpu_s_per_1000_conn", srv, cpu_k);
    kv("gen_cpu_s", true, t->cpu_setup);
    kv("other_cpu_s", true, other);
    if (o->scenario == LG_SCN_HOLD) {
        /* events pushed to the held clients (by a backend, through the server) */
        double es = t->sum.t_last_ns > t->sum.t_first_ns
                        ? (double)(t->sum.t_last_ns - t->sum.t_first_ns) / 1e9
                        : 0;
        kv("events", true, (double)t->sum.delivered);
        kv("events_per_s", es > 0, es > 0 ? (double)t->sum.delivered / es : 0);
        bool ev = s1.ok && s3.ok && t->sum.delivered > 0;
        kv("cpu_s_per_1000_events", ev,
           ev ? (s3.cpu_s - s1.cpu_s) / ((double)t->sum.delivered / 1000) : 0);
    }
    printf("\n");
}

static void report_fanout(const lg_opts *o, const lg_totals *t, lg_sample s1, lg_sample s2)
{
    double secs = t->sum.t_last_ns > t->sum.t_first_ns
                      ? (double)(t->sum.t_last_ns - t->sum.t_first_ns) / 1e9
                      : 0;
    uint64_t expected = t->sum.sent * t->sum.receivers;
    uint64_t lost = expected > t->sum.delivered ? expected - t->sum.delivered : 0;
    double dps = secs > 0 ? (double)t->sum.delivered / secs : 0;
    bool srv = s1.ok && s2.ok && t->sum.delivered > 0;
    double cpu_m = srv ? (s2.cpu_s - s1.cpu_s) / ((double)t->sum.delivered / 1e6) : 0;
    printf("%s fanout (%s): %llu broadcasts x %llu receivers in %.2f s: %.0f deliveries/s, "
           "%llu lost, %llu out of order\n",
           o->label, o->transport == LG_TRANSPORT_POLLING ? "polling" : "websocket",
           (unsigned long long)t->sum.sent, (unsigned long long)t->sum.receivers, secs, dps,
           (unsigned long long)lost, (unsigned long long)t->sum.ooo);
    if (srv)
        printf("  server: %.2f s CPU per million deliveries (%.2f s in total, %.0f%% system)\n",
               cpu_m, s2.cpu_s - s1.cpu_s, sys_share(s1, s2));
    double per_poll = t->sum.polls ? (double)t->sum.delivered / (double)t->sum.polls : 0;
    if (t->sum.polls)
        printf("  %.2f deliveries per polling response (%llu responses)\n", per_poll,
               (unsigned long long)t->sum.polls);
    double other = other_cpu(s1, s2, t->cpu_run);
    printf("  generator CPU: %.2f s (%.0f%% of one core); other processes: %.2f s\n", t->cpu_run,
           secs > 0 ? 100 * t->cpu_run / secs : 0, other);
    printf("RESULT scenario=fanout server=%s transport=%s receivers=%llu broadcasts=%llu "
           "delivered=%llu lost=%llu ooo=%llu dropped=%llu",
           o->label, o->transport == LG_TRANSPORT_POLLING ? "polling" : "websocket",
           (unsigned long long)t->sum.receivers, (unsigned long long)t->sum.sent,
           (unsigned long long)t->sum.delivered, (unsigned long long)lost,
           (unsigned long long)t->sum.ooo, (unsigned long long)t->sum.dropped);
    kv("deliveries_per_s", true, dps);
    kv("cpu_s_per_million", srv, cpu_m);
    /* the same split into user space and kernel (every node together) */
    kv("user_cpu_s_per_million", srv, srv ? cpu_m * (1 - sys_share(s1, s2) / 100) : 0);
    kv("sys_cpu_s_per_million", srv, srv ? cpu_m * sys_share(s1, s2) / 100 : 0);
    kv("deliveries_per_poll", t->sum.polls > 0, per_poll);
    kv("gen_cpu_s", true, t->cpu_run);
    kv("other_cpu_s", true, other);
    kv("elapsed_s", true, secs);
    /* delivery time: from the sender's write to a receiver's read (includes up to --nap-us) */
    bool lat = t->sum.delivered > 0;
    kv("lat_p50_us", lat, (double)lg_hist_quantile(t->sum.hist, 0.5));
    kv("lat_p99_us", lat, (double)lg_hist_quantile(t->sum.hist, 0.99));
    if (o->npids > 1) {
        double worst = 0;
        for (uint32_t i = 0; i < o->npids; i++) {
            char key[48];
            double d = (double)t->sum.delivered_node[i];
            double v = srv && d > 0 ? (s2.cpu_node[i] - s1.cpu_node[i]) / (d / 1e6) : 0;
            if (v > worst)
                worst = v;
            snprintf(key, sizeof(key), "node%u_cpu_s_per_million", i);
            kv(key, srv && d > 0, v);
        }
        kv("max_node_cpu_s_per_million", srv, worst);
    }
    if (o->aux_pid > 0) {
        double aux = s2.aux_cpu_s - s1.aux_cpu_s;
        kv("aux_cpu_s", true, aux);
        kv("aux_cpu_us_per_bcast", t->sum.sent > 0,
           aux * 1e6 / (double)(t->sum.sent ? t->sum.sent : 1));
    }
    printf("\n");
}

static void report_emit(const lg_opts *o, const lg_totals *t, lg_sample s1, lg_sample s2)
{
    bool srv = s1.ok && s2.ok && t->sum.sent > 0;
    double cpu_k = srv ? (s2.cpu_s - s1.cpu_s) / ((double)t->sum.sent / 1000) : 0;
    double rate = (double)t->sum.sent / o->duration_s;
    double other = other_cpu(s1, s2, t->cpu_run);
    printf("%s emit: %llu events sent (%.0f/s) by %u clients, %llu events received, %llu "
           "skipped\n",
           o->label, (unsigned long long)t->sum.sent, rate, o->clients,
           (unsigned long long)t->sum.delivered, (unsigned long long)t->sum.skipped);
    if (srv)
        printf("  server: %.4f s CPU per 1000 events (%.0f%% system)\n", cpu_k, sys_share(s1, s2));
    printf("  generator CPU: %.2f s; other processes: %.2f s\n", t->cpu_run, other);
    printf("RESULT scenario=emit server=%s clients=%u sent=%llu received=%llu skipped=%llu "
           "dropped=%llu",
           o->label, o->clients, (unsigned long long)t->sum.sent,
           (unsigned long long)t->sum.delivered, (unsigned long long)t->sum.skipped,
           (unsigned long long)t->sum.dropped);
    kv("rate_per_s", true, rate);
    kv("received_per_sent", t->sum.sent > 0,
       (double)t->sum.delivered / (double)(t->sum.sent ? t->sum.sent : 1));
    kv("cpu_s_per_1000", srv, cpu_k);
    kv("user_cpu_s_per_1000", srv, srv ? cpu_k * (1 - sys_share(s1, s2) / 100) : 0);
    kv("sys_cpu_s_per_1000", srv, srv ? cpu_k * sys_share(s1, s2) / 100 : 0);
    kv("gen_cpu_s", true, t->cpu_run);
    kv("other_cpu_s", true, other);
    printf("\n");
}

static void report_echo(const lg_opts *o, const lg_totals *t, lg_sample s1, lg_sample s2)
{
    const uint32_t *h = t->sum.hist;
    double p50 = (double)lg_hist_quantile(h, 0.5), p99 = (double)lg_hist_quantile(h, 0.99);
    double p999 = (double)lg_hist_quantile(h, 0.999);
    bool srv = s1.ok && s2.ok && t->sum.acked > 0;
    double cpu_k = srv ? (s2.cpu_s - s1.cpu_s) / ((double)t->sum.acked / 1000) : 0;
    uint64_t lost = t->sum.sent - t->sum.acked;
    double rate = (double)t->sum.acked / o->duration_s;
    printf("%s echo (%s): %llu sent, %llu acked (%.0f/s), %llu unanswered, %llu skipped\n",
           o->label, o->transport == LG_TRANSPORT_POLLING ? "polling" : "websocket",
           (unsigned long long)t->sum.sent, (unsigned long long)t->sum.acked, rate,
           (unsigned long long)lost, (unsigned long long)t->sum.skipped);
    printf("  RTT us: p50 %.0f  p99 %.0f  p99.9 %.0f  max %llu\n", p50, p99, p999,
           (unsigned long long)t->sum.rtt_max_us);
    if (srv)
        printf("  server: %.4f s CPU per 1000 messages (%.0f%% system)\n", cpu_k,
               sys_share(s1, s2));
    double other = other_cpu(s1, s2, t->cpu_run);
    printf("  generator CPU: %.2f s; other processes: %.2f s\n", t->cpu_run, other);
    printf("RESULT scenario=echo server=%s transport=%s clients=%u sent=%llu acked=%llu "
           "lost=%llu skipped=%llu dropped=%llu",
           o->label, o->transport == LG_TRANSPORT_POLLING ? "polling" : "websocket", o->clients,
           (unsigned long long)t->sum.sent, (unsigned long long)t->sum.acked,
           (unsigned long long)lost, (unsigned long long)t->sum.skipped,
           (unsigned long long)t->sum.dropped);
    kv("rate_per_s", true, rate);
    kv("rtt_p50_us", true, p50);
    kv("rtt_p99_us", true, p99);
    kv("rtt_p999_us", true, p999);
    kv("rtt_max_us", true, (double)t->sum.rtt_max_us);
    kv("cpu_s_per_1000", srv, cpu_k);
    kv("gen_cpu_s", true, t->cpu_run);
    kv("other_cpu_s", true, other);
    printf("\n");
}

static int abort_run(const lg_opts *o, lg_child_proc *kids, const char *why)
{
    fprintf(stderr, "sio-loadgen: %s\n", why);
    tell(o, kids, 'S');
    reap(o, kids);
    return 1;
}

int main(int argc, char **argv)
{
    static lg_opts o;
    parse_opts(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    /* watchdog: if anything below hangs, SIGALRM ends the parent and the children see EOF */
    alarm((unsigned)o.timeout_s + 30);
    uint64_t deadline = lg_now_ns() + (uint64_t)(o.timeout_s * 1e9);
    lg_report *setup = calloc(o.procs, sizeof(*setup));
    lg_report *run = calloc(o.procs, sizeof(*run));
    lg_child_proc kids[LG_MAX_PROCS];
    if (!setup || !run) {
        fprintf(stderr, "sio-loadgen: out of memory\n");
        return 1;
    }
    if (o.server_pid > 0 && !sample(&o).ok) {
        fprintf(stderr, "sio-loadgen: cannot read /proc/%ld\n", (long)o.server_pid);
        return 1;
    }
    lg_sample s0 = sample(&o);
    if (spawn(&o, kids) != 0) {
        perror("sio-loadgen: fork");
        return 1;
    }
    if (collect(&o, kids, setup, deadline) != 0)
        return abort_run(&o, kids, "setup failed");
    lg_sample s1 = sample(&o);
    lg_totals t;
    add_up(&o, setup, setup, &t);
    if (t.sum.failed > 0 &&
        (o.scenario == LG_SCN_FANOUT || o.scenario == LG_SCN_ECHO || o.scenario == LG_SCN_EMIT)) {
        fprintf(stderr, "sio-loadgen: %llu of %llu clients failed to connect or join\n",
                (unsigned long long)t.sum.failed, (unsigned long long)t.sum.clients);
        return abort_run(&o, kids, "setup incomplete");
    }
    tell(&o, kids, 'G');
    /* a script driving traffic through the server from outside (a backend) waits for this */
    printf("phase run: %llu clients ready\n", (unsigned long long)t.sum.ready);
    fflush(stdout);
    if (collect(&o, kids, run, deadline) != 0)
        return abort_run(&o, kids, "run failed");
    lg_sample s2 = sample(&o);
    tell(&o, kids, 'S');
    int bad = reap(&o, kids);
    if (o.server_pid > 0 && (!s1.ok || !s2.ok)) {
        fprintf(stderr, "sio-loadgen: server process %ld went away\n", (long)o.server_pid);
        return 1;
    }
    add_up(&o, setup, run, &t);
    switch (o.scenario) {
    case LG_SCN_CONN:
    case LG_SCN_HOLD:
        report_conn(&o, setup, &t, s0, s1, s2);
        if (t.sum.ready == 0)
            bad = 1;
        break;
    case LG_SCN_FANOUT:
        report_fanout(&o, &t, s1, s2);
        break;
    case LG_SCN_ECHO:
        report_echo(&o, &t, s1, s2);
        break;
    case LG_SCN_EMIT:
        report_emit(&o, &t, s1, s2);
        break;
    }
    if (bad)
        fprintf(stderr, "sio-loadgen: a child exited with an error\n");
    free(setup);
    free(run);
    return bad;
}
