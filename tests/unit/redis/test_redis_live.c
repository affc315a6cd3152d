/*
 * Redis client layer against real redis-server processes started here on free loopback ports
 * (each test its own servers, killed at the end even on failure: PR_SET_PDEATHSIG and the fini
 * hook). Covers commands, pub/sub of the three kinds with binary payloads, a restart mid-run,
 * the output cap, command timeouts, AUTH, and a 3-master cluster with a slot moved under a
 * sharded subscription. redis-server and redis-cli are required: their absence fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include <sio/error.h>
#include <sio/redis.h>
#include <sio/sio.h>

#include "client.h"
#include "common/log.h"
#include "harness.h"

/* ---- processes ----------------------------------------------------------------------------- */

#define MAX_PROCS 8
static pid_t procs[MAX_PROCS];
static char tmpdir[64];

static void kill_all(void)
{
    for (int i = 0; i < MAX_PROCS; i++) {
        if (procs[i] > 0) {
            kill(procs[i], SIGKILL);
            waitpid(procs[i], NULL, 0);
            procs[i] = 0;
        }
    }
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        cr_expect_eq(system(cmd), 0);
        tmpdir[0] = '\0';
    }
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sio-redis-live-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    signal(SIGPIPE, SIG_IGN);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* A free port whose cluster bus port (port + 10000) is free and valid too. */
static int free_cluster_port(void)
{
    for (int i = 0; i < 1000; i++) {
        int p = free_port();
        if (p - 20000 > 1024 && port_bindable(p - 20000) && port_bindable(p - 10000))
            return p - 20000;
    }
    cr_assert_fail("no free port pair");
    return -1;
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static pid_t spawn(const char *const argv[])
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Starts redis-server on port (slot i of procs); extra: NULL-terminated extra arguments. */
static void start_redis(int i, int port, const char *const *extra)
{
    char p[16], dir[96];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(dir, sizeof(dir), "%s/%d", tmpdir, port);
    mkdir(dir, 0700);
    const char *argv[40] = {"redis-server",
                            "--port",
                            p,
                            "--bind",
                            "127.0.0.1",
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--dir",
                            dir,
                            "--enable-debug-command",
                            "yes",
                            "--protected-mode",
                            "no"};
    int n = 15;
    for (; extra && *extra && n < 38; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    procs[i] = spawn(argv);
    int64_t deadline = harness_now_ms() + 5000;
    while (!port_open(port)) {
        int st;
        cr_assert_eq(waitpid(procs[i], &st, WNOHANG), 0,
                     "redis-server exited: is it installed (scripts/deps.sh)?");
        cr_assert(harness_now_ms() < deadline, "redis-server did not start on %d", port);
        usleep(10000);
    }
}

static void stop_redis(int i)
{
    kill(procs[i], SIGKILL);
    waitpid(procs[i], NULL, 0);
    procs[i] = 0;
}

/* ---- callback recorder --------------------------------------------------------------------- */

typedef struct rec {
    int ups, downs, subscribed, lost;
    int messages;
    int kinds[3];
    char last_payload[64];
    size_t last_len;
    char last_channel[64];
    /* command results by slot */
    int got[64];
    int status[64];
    sio_redis_reply copy[64]; /* type, integer, len only */
    char str[64][256];
} rec;

static void r_state(sio_redis *r, int up, const char *reason, void *user)
{
    rec *x = user;
    (void)r, (void)reason;
    up ? x->ups++ : x->downs++;
}

static void r_message(sio_redis *r, int kind, const char *pattern, size_t plen, const char *channel,
                      size_t clen, const char *payload, size_t len, void *user)
{
    rec *x = user;
    (void)r, (void)pattern, (void)plen;
    x->messages++;
    x->kinds[kind]++;
    x->last_len = len < 64 ? len : 64;
    memcpy(x->last_payload, payload, x->last_len);
    size_t cl = clen < 63 ? clen : 63;
    memcpy(x->last_channel, channel, cl);
    x->last_channel[cl] = '\0';
}

static void r_subscribed(sio_redis *r, int kind, const char *channel, size_t len, long long count,
                         void *user)
{
    rec *x = user;
    (void)r, (void)kind, (void)channel, (void)len, (void)count;
    x->subscribed++;
}

static void r_lost(sio_redis *r, int kind, const char *channel, size_t len,
                   const sio_redis_reply *reply, void *user)
{
    rec *x = user;
    (void)r, (void)kind, (void)channel, (void)len, (void)reply;
    x->lost++;
}

typedef struct slot_ref {
    rec *x;
    int i;
} slot_ref;

static slot_ref refs[64];

static void r_reply(sio_redis *r, int status, const sio_redis_reply *reply, void *user)
{
    slot_ref *s = user;
    (void)r;
    s->x->got[s->i]++;
    s->x->status[s->i] = status;
    if (reply) {
        s->x->copy[s->i].type = reply->type;
        s->x->copy[s->i].integer = reply->integer;
        s->x->copy[s->i].len = reply->len;
        s->x->copy[s->i].elements = reply->elements;
        if (reply->str)
            memcpy(s->x->str[s->i], reply->str, reply->len < 255 ? reply->len : 255);
    }
}

static slot_ref *slot(rec *x, int i)
{
    refs[i].x = x;
    refs[i].i = i;
    x->got[i] = 0;
    return &refs[i];
}

static sio_redis *conn(struct event_base *base, const char *url, rec *x,
                       void (*tweak)(sio_redis_options *))
{
    sio_redis_options o;
    sio_redis_options_init(&o);
    o.url = url;
    o.user = x;
    o.on_state = r_state;
    o.on_message = r_message;
    o.on_subscribed = r_subscribed;
    o.on_sub_lost = r_lost;
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 200;
    o.connect_timeout_ms = 1000;
    if (tweak)
        tweak(&o);
    sio_redis *r = sio_redis_new(base, &o, NULL);
    cr_assert_not_null(r);
    return r;
}

static int is_up(void *arg)
{
    return sio_redis_is_up(arg);
}

static int cmdv(sio_redis *r, rec *x, int i, int argc, const char **argv, const size_t *lens)
{
    return sio_redis_command(r, r_reply, slot(x, i), argc, argv, lens);
}

typedef struct wait_n {
    int *counter;
    int n;
} wait_n;

static int reached(void *arg)
{
    wait_n *w = arg;
    return *w->counter >= w->n;
}

#define WAIT(base, counter_expr, n, ms)                                                            \
    run_until(base, reached, &(wait_n){&(counter_expr), (n)}, (ms))

TestSuite(redis_live, .init = setup, .fini = kill_all, .timeout = 60);

/* ---- single server ------------------------------------------------------------------------- */

static void named(sio_redis_options *o)
{
    o->client_name = "sio-test";
}

Test(redis_live, commands_and_replies)
{
    int port = free_port();
    start_redis(0, port, NULL);
    struct event_base *base = event_base_new();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/2", port);
    rec x = {0};
    sio_redis *r = conn(base, url, &x, named);
    cr_assert(run_until(base, is_up, r, 3000));
    const char bin[] = {'a', 0, (char)0xff, 'z'};
    cr_assert_eq(cmdv(r, &x, 0, 3, (const char *[]){"SET", "k", bin}, (size_t[]){3, 1, 4}), 0);
    cr_assert_eq(cmdv(r, &x, 1, 2, (const char *[]){"GET", "k"}, NULL), 0);
    cr_assert_eq(cmdv(r, &x, 2, 2, (const char *[]){"GET", "missing"}, NULL), 0);
    cr_assert_eq(cmdv(r, &x, 3, 2, (const char *[]){"INCR", "k"}, NULL), 0);
    cr_assert_eq(cmdv(r, &x, 4, 4, (const char *[]){"RPUSH", "l", "x", "y"}, NULL), 0);
    cr_assert_eq(cmdv(r, &x, 5, 4, (const char *[]){"LRANGE", "l", "0", "-1"}, NULL), 0);
    cr_assert_eq(cmdv(r, &x, 6, 1, (const char *[]){"CLIENT"}, NULL), 0);
    for (int i = 0; i < 40; i++)
        cr_assert_eq(cmdv(r, &x, 10 + i, 2, (const char *[]){"INCR", "n"}, NULL), 0);
    cr_assert(WAIT(base, x.got[49], 1, 3000));
    cr_expect_eq(x.copy[0].type, SIO_REDIS_REPLY_STATUS);
    cr_expect_eq(x.copy[1].type, SIO_REDIS_REPLY_STRING);
    cr_expect_eq(x.copy[1].len, 4);
    cr_expect_eq(memcmp(x.str[1], bin, 4), 0);
    cr_expect_eq(x.copy[2].type, SIO_REDIS_REPLY_NIL);
    cr_expect_eq(x.copy[3].type, SIO_REDIS_REPLY_ERROR);
    cr_expect_eq(x.copy[4].integer, 2);
    cr_expect_eq(x.copy[5].type, SIO_REDIS_REPLY_ARRAY);
    cr_expect_eq(x.copy[5].elements, 2);
    cr_expect_eq(x.copy[6].type, SIO_REDIS_REPLY_ERROR);
    for (int i = 0; i < 40; i++)
        cr_expect_eq(x.copy[10 + i].integer, i + 1, "pipelined replies in order");
    /* the URL's /2 selected database 2, and the client is named */
    cr_assert_eq(cmdv(r, &x, 50, 2, (const char *[]){"CLIENT", "INFO"}, NULL), 0);
    cr_assert(WAIT(base, x.got[50], 1, 3000));
    cr_expect(strstr(x.str[50], " name=sio-test ") != NULL, "%s", x.str[50]);
    cr_expect(strstr(x.str[50], " db=2 ") != NULL, "%s", x.str[50]);
    cr_assert_eq(cmdv(r, &x, 51, 2, (const char *[]){"CLIENT", "GETNAME"}, NULL), 0);
    cr_assert_eq(cmdv(r, &x, 52, 2, (const char *[]){"GET", "k"}, NULL), 0);
    cr_assert(WAIT(base, x.got[52], 1, 3000));
    cr_expect_eq(memcmp(x.str[51], "sio-test", 8), 0);
    cr_expect_eq(x.copy[52].len, 4, "database 2 holds k");
    sio_redis_free(r);
    run_for(base, 10);
    event_base_free(base);
}

static void fast_ping(sio_redis_options *o)
{
    o->ping_interval_ms = 50;
}

Test(redis_live, pubsub_three_kinds_binary_and_ping)
{
    int port = free_port();
    start_redis(0, port, NULL);
    struct event_base *base = event_base_new();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    rec x = {0}, y = {0};
    sio_redis *pub = conn(base, url, &x, NULL);
    sio_redis *sub = conn(base, url, &y, fast_ping);
    cr_assert_eq(sio_redis_subscribe(sub, SIO_REDIS_SUBSCRIBE, "c\0h", 3), 0);
    cr_assert_eq(sio_redis_subscribe(sub, SIO_REDIS_PSUBSCRIBE, "pat*", 4), 0);
    cr_assert_eq(sio_redis_subscribe(sub, SIO_REDIS_SSUBSCRIBE, "shard", 5), 0);
    cr_assert(run_until(base, is_up, pub, 3000));
    cr_assert(WAIT(base, y.subscribed, 3, 3000));
    const char payload[] = {0, (char)0xff, 'x', 0, (char)0x80};
    cr_assert_eq(
        cmdv(pub, &x, 0, 3, (const char *[]){"PUBLISH", "c\0h", payload}, (size_t[]){7, 3, 5}), 0);
    cr_assert_eq(
        cmdv(pub, &x, 1, 3, (const char *[]){"PUBLISH", "pattern", payload}, (size_t[]){7, 7, 5}),
        0);
    cr_assert_eq(
        cmdv(pub, &x, 2, 3, (const char *[]){"SPUBLISH", "shard", payload}, (size_t[]){8, 5, 5}),
        0);
    cr_assert(WAIT(base, y.messages, 3, 3000));
    cr_expect_eq(y.kinds[SIO_REDIS_SUBSCRIBE], 1);
    cr_expect_eq(y.kinds[SIO_REDIS_PSUBSCRIBE], 1);
    cr_expect_eq(y.kinds[SIO_REDIS_SSUBSCRIBE], 1);
    cr_expect_eq(y.last_len, 5);
    cr_expect_eq(memcmp(y.last_payload, payload, 5), 0);
    cr_expect_eq(x.copy[0].integer, 1);
    cr_expect_eq(x.copy[2].integer, 1);
    /* PING on the subscribed connection answers ["pong", ""] to its own callback, while the
     * keepalive pings (every 50 ms here) are matched too */
    run_for(base, 200);
    cr_assert_eq(cmdv(sub, &y, 0, 1, (const char *[]){"PING"}, NULL), 0);
    cr_assert(WAIT(base, y.got[0], 1, 2000));
    cr_expect_eq(y.status[0], 0);
    cr_expect_eq(y.copy[0].type, SIO_REDIS_REPLY_ARRAY);
    cr_expect_eq(y.copy[0].elements, 2);
    cr_expect_eq(cmdv(sub, &y, 1, 2, (const char *[]){"GET", "x"}, NULL), SIO_EINVAL);
    cr_expect_eq(y.downs, 0);
    /* unsubscribe: no more deliveries */
    cr_assert_eq(sio_redis_unsubscribe(sub, SIO_REDIS_SUBSCRIBE, "c\0h", 3), 0);
    cr_expect_eq(sio_redis_unsubscribe(sub, SIO_REDIS_SUBSCRIBE, "nope", 4), SIO_ENOTFOUND);
    run_for(base, 50);
    cr_assert_eq(
        cmdv(pub, &x, 3, 3, (const char *[]){"PUBLISH", "c\0h", "late"}, (size_t[]){7, 3, 4}), 0);
    cr_assert(WAIT(base, x.got[3], 1, 2000));
    cr_expect_eq(x.copy[3].integer, 0);
    run_for(base, 50);
    cr_expect_eq(y.messages, 3);
    sio_redis_free(pub);
    sio_redis_free(sub);
    run_for(base, 10);
    event_base_free(base);
}

Test(redis_live, restart_reconnects_and_resubscribes)
{
    int port = free_port();
    start_redis(0, port, NULL);
    struct event_base *base = event_base_new();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    rec x = {0}, y = {0};
    sio_redis *pub = conn(base, url, &x, NULL);
    sio_redis *sub = conn(base, url, &y, NULL);
    cr_assert_eq(sio_redis_subscribe(sub, SIO_REDIS_SUBSCRIBE, "news", 4), 0);
    cr_assert_eq(sio_redis_subscribe(sub, SIO_REDIS_SSUBSCRIBE, "snews", 5), 0);
    cr_assert(run_until(base, is_up, pub, 3000));
    cr_assert(WAIT(base, y.subscribed, 2, 3000));
    /* a command blocked in the server when it dies fails with SIO_ECLOSED */
    cr_assert_eq(cmdv(pub, &x, 0, 3, (const char *[]){"BLPOP", "nothing", "0"}, NULL), 0);
    run_for(base, 50);
    stop_redis(0);
    cr_assert(WAIT(base, x.downs, 1, 3000));
    cr_assert(WAIT(base, y.downs, 1, 3000));
    cr_expect_eq(x.got[0], 1);
    cr_expect_eq(x.status[0], SIO_ECLOSED);
    /* during the outage commands fail at once */
    cr_expect_eq(cmdv(pub, &x, 1, 1, (const char *[]){"PING"}, NULL), SIO_ECLOSED);
    run_for(base, 300); /* several attempts, with backoff */
    cr_expect_eq(sio_redis_is_up(pub), 0);
    start_redis(0, port, NULL);
    cr_assert(WAIT(base, x.ups, 2, 5000));
    cr_assert(WAIT(base, y.ups, 2, 5000));
    cr_assert(WAIT(base, y.subscribed, 4, 3000), "both subscriptions re-sent");
    cr_assert_eq(cmdv(pub, &x, 2, 3, (const char *[]){"PUBLISH", "news", "a"}, NULL), 0);
    cr_assert_eq(cmdv(pub, &x, 3, 3, (const char *[]){"SPUBLISH", "snews", "b"}, NULL), 0);
    cr_assert(WAIT(base, y.messages, 2, 3000));
    cr_expect_eq(x.copy[2].integer, 1);
    sio_redis_stats st;
    sio_redis_get_stats(pub, &st);
    cr_expect_eq(st.connects, 2);
    cr_expect_eq(st.disconnects, 1);
    sio_redis_free(pub);
    sio_redis_free(sub);
    run_for(base, 10);
    event_base_free(base);
}

static void small_out(sio_redis_options *o)
{
    o->max_out_bytes = 4096;
}

Test(redis_live, outgoing_cap_refuses_with_elimit)
{
    int port = free_port();
    start_redis(0, port, NULL);
    struct event_base *base = event_base_new();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    rec x = {0};
    sio_redis *r = conn(base, url, &x, small_out);
    cr_assert(run_until(base, is_up, r, 3000));
    static char big[1000];
    memset(big, 'v', sizeof(big));
    int ok = 0, limited = 0;
    for (int i = 0; i < 20; i++) { /* without running the loop: nothing is written yet */
        int rc = cmdv(r, &x, i, 3, (const char *[]){"SET", "k", big}, (size_t[]){3, 1, 1000});
        if (rc == 0)
            ok++;
        else if (rc == SIO_ELIMIT)
            limited++;
    }
    cr_expect(ok >= 3 && ok <= 4, "%d accepted", ok);
    cr_expect_eq(ok + limited, 20);
    sio_redis_stats st;
    sio_redis_get_stats(r, &st);
    cr_expect_eq(st.limit_drops, (uint64_t)limited);
    cr_assert(WAIT(base, x.got[ok - 1], 1, 3000));
    for (int i = 0; i < ok; i++)
        cr_expect_eq(x.status[i], 0);
    /* drained: accepted again */
    cr_expect_eq(cmdv(r, &x, 30, 3, (const char *[]){"SET", "k", big}, (size_t[]){3, 1, 1000}), 0);
    sio_redis_free(r);
    run_for(base, 10);
    event_base_free(base);
}

static void short_timeout(sio_redis_options *o)
{
    o->command_timeout_ms = 200;
}

Test(redis_live, command_timeout)
{
    int port = free_port();
    start_redis(0, port, NULL);
    struct event_base *base = event_base_new();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    rec x = {0};
    sio_redis *r = conn(base, url, &x, short_timeout);
    cr_assert(run_until(base, is_up, r, 3000));
    int64_t t0 = harness_now_ms();
    cr_assert_eq(cmdv(r, &x, 0, 3, (const char *[]){"DEBUG", "SLEEP", "1"}, NULL), 0);
    cr_assert(WAIT(base, x.got[0], 1, 3000));
    int64_t took = harness_now_ms() - t0;
    cr_expect_eq(x.status[0], SIO_ETIMEDOUT);
    cr_expect(took >= 150 && took < 600, "timed out after %lld ms", (long long)took);
    /* the late reply is absorbed: the next command gets its own reply */
    run_for(base, 900);
    cr_assert_eq(cmdv(r, &x, 1, 2, (const char *[]){"ECHO", "after"}, NULL), 0);
    cr_assert(WAIT(base, x.got[1], 1, 3000));
    cr_expect_eq(x.status[1], 0);
    cr_expect_eq(memcmp(x.str[1], "after", 5), 0);
    cr_expect_eq(x.got[0], 1, "exactly once");
    cr_expect(sio_redis_is_up(r));
    sio_redis_stats st;
    sio_redis_get_stats(r, &st);
    cr_expect_eq(st.timeouts, 1);
    sio_redis_free(r);
    run_for(base, 10);
    event_base_free(base);
}

static int warn_lines;
static char warn_text[512];

static void count_sink(int level, const char *module, const char *line, void *user)
{
    (void)module, (void)user;
    if (level <= SIO_LOG_WARN && strstr(line, "cannot connect")) {
        warn_lines++;
        snprintf(warn_text, sizeof(warn_text), "%s", line);
    }
}

Test(redis_live, auth_good_and_wrong_password)
{
    int port = free_port();
    start_redis(0, port, (const char *[]){"--requirepass", "s3cret", NULL});
    struct event_base *base = event_base_new();
    char good[96], bad[96], user_good[96];
    snprintf(good, sizeof(good), "redis://:s3cret@127.0.0.1:%d", port);
    snprintf(user_good, sizeof(user_good), "redis://default:s3cret@127.0.0.1:%d", port);
    snprintf(bad, sizeof(bad), "redis://:wrong@127.0.0.1:%d", port);
    rec x = {0}, y = {0}, z = {0};
    sio_log_set_sink(count_sink, NULL, SIO_LOG_INFO);
    sio_redis *ok = conn(base, good, &x, NULL);
    sio_redis *ok2 = conn(base, user_good, &z, NULL);
    sio_redis *ko = conn(base, bad, &y, NULL);
    cr_assert(run_until(base, is_up, ok, 3000));
    cr_assert(run_until(base, is_up, ok2, 3000));
    cr_assert_eq(cmdv(ok, &x, 0, 1, (const char *[]){"PING"}, NULL), 0);
    cr_assert(WAIT(base, x.got[0], 1, 2000));
    cr_expect_eq(x.copy[0].type, SIO_REDIS_REPLY_STATUS);
    run_for(base, 1000);
    cr_expect_eq(sio_redis_is_up(ko), 0);
    cr_expect_eq(y.ups, 0);
    cr_expect(strstr(sio_redis_last_error(ko), "WRONGPASS") != NULL, "%s",
              sio_redis_last_error(ko));
    cr_expect_eq(warn_lines, 1, "logged once, not per attempt: %s", warn_text);
    cr_expect(strstr(warn_text, "WRONGPASS") != NULL, "%s", warn_text);
    /* it kept retrying, with backoff (20 ms doubling to 200 ms: about 7 attempts in 1 s) */
    cr_assert_eq(cmdv(ok, &x, 1, 2, (const char *[]){"INFO", "stats"}, NULL), 0);
    cr_assert(WAIT(base, x.got[1], 1, 2000));
    cr_expect_eq(x.copy[1].type, SIO_REDIS_REPLY_STRING);
    sio_redis_free(ok);
    sio_redis_free(ok2);
    sio_redis_free(ko);
    run_for(base, 10);
    event_base_free(base);
    sio_log_set_sink(NULL, NULL, SIO_LOG_INFO);
}

static const char *tls_ca;

static void with_ca(sio_redis_options *o)
{
    o->tls_ca_file = tls_ca;
}

Test(redis_live, tls_verified_against_the_given_ca)
{
    char cmd[512], cert[96], key[96];
    snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext "
             "subjectAltName=IP:127.0.0.1 -keyout %s -out %s -days 1 >/dev/null 2>&1",
             key, cert);
    cr_assert_eq(system(cmd), 0, "openssl req failed");
    int port = free_port();
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    start_redis(0, port,
                (const char *[]){"--port", "0", "--tls-port", ps, "--tls-cert-file", cert,
                                 "--tls-key-file", key, "--tls-auth-clients", "no", NULL});
    struct event_base *base = event_base_new();
    char url[64];
    snprintf(url, sizeof(url), "rediss://127.0.0.1:%d", port);
    rec x = {0}, y = {0};
    tls_ca = cert;
    sio_redis *ok = conn(base, url, &x, with_ca);
    sio_redis *untrusted = conn(base, url, &y, NULL); /* system store: self-signed refused */
    cr_assert(run_until(base, is_up, ok, 3000), "%s", sio_redis_last_error(ok));
    const char bin[] = {0, (char)0xff};
    cr_assert_eq(cmdv(ok, &x, 0, 2, (const char *[]){"ECHO", bin}, (size_t[]){4, 2}), 0);
    cr_assert(WAIT(base, x.got[0], 1, 2000));
    cr_expect_eq(x.copy[0].len, 2);
    cr_expect_eq(memcmp(x.str[0], bin, 2), 0);
    run_for(base, 200);
    cr_expect_eq(sio_redis_is_up(untrusted), 0);
    cr_expect(strstr(sio_redis_last_error(untrusted), "certificate verify failed") != NULL, "%s",
              sio_redis_last_error(untrusted));
    sio_redis_free(ok);
    sio_redis_free(untrusted);
    run_for(base, 10);
    event_base_free(base);
}

/* ---- cluster ------------------------------------------------------------------------------- */

typedef struct crec {
    int messages;
    int per_channel[8];
    char payload[64];
    size_t plen;
    int sum_done;
    int sum_status;
    long long sum;
    int cmd_done;
    int cmd_status;
    long long cmd_int;
} crec;

static const char *chans[8];

static void c_message(sio_redis_cluster *c, int kind, const char *pattern, size_t plen,
                      const char *channel, size_t clen, const char *payload, size_t len, void *user)
{
    crec *x = user;
    (void)c, (void)kind, (void)pattern, (void)plen;
    x->messages++;
    for (int i = 0; i < 8 && chans[i]; i++)
        if (strlen(chans[i]) == clen && memcmp(chans[i], channel, clen) == 0)
            x->per_channel[i]++;
    x->plen = len < 64 ? len : 64;
    memcpy(x->payload, payload, x->plen);
}

static void c_sum(sio_redis_cluster *c, int status, long long sum, void *user)
{
    crec *x = user;
    (void)c;
    x->sum_done++;
    x->sum_status = status;
    x->sum = sum;
}

static void c_reply(sio_redis_cluster *c, int status, const sio_redis_reply *reply, void *user)
{
    crec *x = user;
    (void)c;
    x->cmd_done++;
    x->cmd_status = status;
    x->cmd_int = reply && reply->type == SIO_REDIS_REPLY_INTEGER ? reply->integer : -1;
}

static int cluster_up(void *arg)
{
    return sio_redis_cluster_is_up(arg) && sio_redis_cluster_master_count(arg) == 3;
}

typedef struct conf_wait {
    sio_redis_cluster *c;
    size_t n;
} conf_wait;

static int confirmed(void *arg)
{
    conf_wait *w = arg;
    return sio_redis_cluster_confirmed_count(w->c) >= w->n;
}

/* Runs redis-cli (bounded by the test timeout) and returns its exit status. */
static int redis_cli(const char *const argv[])
{
    pid_t pid = spawn(argv);
    int st = -1;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int cluster_state_ok(int port)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd),
             "redis-cli -p %d cluster info 2>/dev/null | grep -q '^cluster_state:ok'", port);
    return system(cmd) == 0;
}

/* The node id of the server on port (CLUSTER MYID through redis-cli). */
static void node_id(int port, char out[64])
{
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d cluster myid", port);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(out, 64, f));
    out[strcspn(out, "\r\n")] = '\0';
    pclose(f);
}

static int publish(struct event_base *base, sio_redis_cluster *c, crec *x, const char *ch,
                   const char *payload, size_t len)
{
    int before = x->cmd_done;
    int rc = sio_redis_cluster_command(c, ch, strlen(ch), c_reply, x, 3,
                                       (const char *[]){"SPUBLISH", ch, payload},
                                       (size_t[]){8, strlen(ch), len});
    if (rc < 0)
        return rc;
    if (!WAIT(base, x->cmd_done, before + 1, 3000))
        return SIO_ETIMEDOUT;
    return x->cmd_status;
}

Test(redis_live, cluster_sharded_pubsub_sum_and_slot_move)
{
    int ports[3];
    char addr[3][32], ps[3][16];
    for (int i = 0; i < 3; i++) {
        ports[i] = free_cluster_port();
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", ports[i]);
        snprintf(ps[i], sizeof(ps[i]), "%d", ports[i]);
        start_redis(i, ports[i],
                    (const char *[]){"--cluster-enabled", "yes", "--cluster-config-file",
                                     "nodes.conf", "--cluster-node-timeout", "2000", NULL});
    }
    const char *create[] = {"redis-cli", "--cluster",          "create", addr[0],         addr[1],
                            addr[2],     "--cluster-replicas", "0",      "--cluster-yes", NULL};
    cr_assert_eq(redis_cli(create), 0, "redis-cli --cluster create failed");
    int64_t deadline = harness_now_ms() + 10000;
    for (int i = 0; i < 3; i++)
        while (!cluster_state_ok(ports[i])) {
            cr_assert(harness_now_ms() < deadline, "cluster_state never ok");
            usleep(50000);
        }

    struct event_base *base = event_base_new();
    char seed[64];
    snprintf(seed, sizeof(seed), "redis://%s", addr[1]);
    const char *urls[1] = {seed};
    sio_redis_cluster_options o;
    sio_redis_cluster_options_init(&o);
    o.urls = urls;
    o.nurls = 1;
    o.cluster = 1;
    o.node.reconnect_min_ms = 20;
    o.node.reconnect_max_ms = 200;
    o.on_message = c_message;
    crec x = {0};
    o.user = &x;
    sio_redis_cluster *c = sio_redis_cluster_new(base, &o, NULL);
    cr_assert_not_null(c);
    cr_assert(run_until(base, cluster_up, c, 5000), "cluster client never ready");

    /* redis-cli gives 0-5460, 5461-10922, 10923-16383: one channel per master */
    static char names[3][16];
    int found = 0;
    for (int k = 0; found < 3 && k < 1000; k++) {
        char n[16];
        snprintf(n, sizeof(n), "room-%d", k);
        unsigned s = sio_redis_key_slot(n, strlen(n));
        int m = s <= 5460 ? 0 : s <= 10922 ? 1 : 2;
        if (!names[m][0]) {
            memcpy(names[m], n, sizeof(n));
            found++;
        }
    }
    for (int i = 0; i < 3; i++) {
        chans[i] = names[i];
        cr_assert_eq(sio_redis_cluster_ssubscribe(c, names[i], strlen(names[i])), 0);
    }
    cr_assert_eq(sio_redis_cluster_subscribe(c, SIO_REDIS_SUBSCRIBE, "classic", 7), 0);
    chans[3] = "classic";
    cr_assert(run_until(base, confirmed, &(conf_wait){c, 4}, 5000));

    const char payload[] = {0, (char)0xff, 'p'};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(publish(base, c, &x, names[i], payload, 3), 0, "%s", names[i]);
    cr_assert(WAIT(base, x.messages, 3, 3000));
    for (int i = 0; i < 3; i++)
        cr_expect_eq(x.per_channel[i], 1, "%s", names[i]);
    cr_expect_eq(x.plen, 3);
    cr_expect_eq(memcmp(x.payload, payload, 3), 0);
    /* classic PUBLISH reaches every node: sent to any master, received once */
    cr_assert_eq(sio_redis_cluster_command(c, "x", 1, c_reply, &x, 3,
                                           (const char *[]){"PUBLISH", "classic", "hi"}, NULL),
                 0);
    cr_assert(WAIT(base, x.per_channel[3], 1, 3000));

    /* SHARDNUMSUB and NUMSUB summed over the masters */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sio_redis_cluster_sum(c, c_sum, &x, 3,
                                           (const char *[]){"PUBSUB", "SHARDNUMSUB", names[i]},
                                           NULL),
                     0);
        cr_assert(WAIT(base, x.sum_done, i + 1, 3000));
        cr_expect_eq(x.sum_status, 0);
        cr_expect_eq(x.sum, 1, "SHARDNUMSUB %s", names[i]);
    }
    cr_assert_eq(sio_redis_cluster_sum(c, c_sum, &x, 3,
                                       (const char *[]){"PUBSUB", "NUMSUB", "classic"}, NULL),
                 0);
    cr_assert(WAIT(base, x.sum_done, 4, 3000));
    cr_expect_eq(x.sum, 1);

    /* move the slot of names[0] from the first master to the second, on every node */
    unsigned s0 = sio_redis_key_slot(names[0], strlen(names[0]));
    char id1[64], sl[16];
    node_id(ports[1], id1);
    snprintf(sl, sizeof(sl), "%u", s0);
    for (int i = 0; i < 3; i++) {
        const char *setslot[] = {"redis-cli", "-p",   ps[i], "cluster", "setslot",
                                 sl,          "node", id1,   NULL};
        cr_assert_eq(redis_cli(setslot), 0);
    }
    /* the old owner drops the subscription (sunsubscribe push); the client moves it */
    run_for(base, 300);
    cr_assert(run_until(base, confirmed, &(conf_wait){c, 4}, 5000), "subscription not moved");
    int before = x.per_channel[0];
    cr_assert_eq(publish(base, c, &x, names[0], "after-move", 10), 0);
    cr_assert(WAIT(base, x.per_channel[0], before + 1, 3000), "no delivery after the move");
    cr_expect_eq(x.cmd_int, 1, "one subscriber at the new owner");
    /* held once, by the new owner only */
    int sums = x.sum_done;
    cr_assert_eq(sio_redis_cluster_sum(c, c_sum, &x, 3,
                                       (const char *[]){"PUBSUB", "SHARDNUMSUB", names[0]}, NULL),
                 0);
    cr_assert(WAIT(base, x.sum_done, sums + 1, 3000));
    cr_expect_eq(x.sum, 1);
    for (int i = 1; i < 3; i++) {
        before = x.per_channel[i];
        cr_assert_eq(publish(base, c, &x, names[i], "again", 5), 0);
        cr_assert(WAIT(base, x.per_channel[i], before + 1, 3000));
    }
    sio_redis_cluster_free(c);
    run_for(base, 20);
    event_base_free(base);
}

Test(redis_live, plain_server_behind_the_cluster_api)
{
    int port = free_port();
    start_redis(0, port, NULL);
    struct event_base *base = event_base_new();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    const char *urls[1] = {url};
    sio_redis_cluster_options o;
    sio_redis_cluster_options_init(&o);
    o.urls = urls;
    o.nurls = 1;
    o.on_message = c_message;
    crec x = {0};
    o.user = &x;
    sio_redis_cluster *c = sio_redis_cluster_new(base, &o, NULL);
    cr_assert_not_null(c);
    chans[0] = "one";
    chans[1] = NULL;
    cr_assert_eq(sio_redis_cluster_ssubscribe(c, "one", 3), 0);
    cr_assert(run_until(base, confirmed, &(conf_wait){c, 1}, 3000));
    cr_expect_eq(sio_redis_cluster_master_count(c), 1);
    cr_assert_eq(publish(base, c, &x, "one", "p", 1), 0);
    cr_assert(WAIT(base, x.per_channel[0], 1, 3000));
    cr_assert_eq(sio_redis_cluster_sum(c, c_sum, &x, 3,
                                       (const char *[]){"PUBSUB", "SHARDNUMSUB", "one"}, NULL),
                 0);
    cr_assert(WAIT(base, x.sum_done, 1, 3000));
    cr_expect_eq(x.sum, 1);
    /* a request in flight when the cluster is freed gets SIO_ECLOSED later, not inside */
    cr_assert_eq(sio_redis_cluster_command(c, "k", 1, c_reply, &x, 3,
                                           (const char *[]){"BLPOP", "k", "0"}, NULL),
                 0);
    int done = x.cmd_done;
    sio_redis_cluster_free(c);
    cr_expect_eq(x.cmd_done, done);
    run_for(base, 20);
    cr_expect_eq(x.cmd_done, done + 1);
    cr_expect_eq(x.cmd_status, SIO_ECLOSED);
    event_base_free(base);
}

static int cluster_down(void *arg)
{
    return !sio_redis_cluster_is_up(arg);
}

static int replica_synced(int port)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd),
             "redis-cli -p %d info replication 2>/dev/null | grep -q '^master_link_status:up'",
             port);
    return system(cmd) == 0;
}

Test(redis_live, cluster_master_failover_moves_subscriptions, .timeout = 60)
{
    int ports[4];
    char addr[4][32];
    for (int i = 0; i < 4; i++) {
        ports[i] = free_cluster_port();
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", ports[i]);
        start_redis(i, ports[i],
                    (const char *[]){"--cluster-enabled", "yes", "--cluster-config-file",
                                     "nodes.conf", "--cluster-node-timeout", "1000", NULL});
    }
    const char *create[] = {"redis-cli", "--cluster",          "create", addr[0],         addr[1],
                            addr[2],     "--cluster-replicas", "0",      "--cluster-yes", NULL};
    cr_assert_eq(redis_cli(create), 0);
    int64_t deadline = harness_now_ms() + 10000;
    for (int i = 0; i < 3; i++)
        while (!cluster_state_ok(ports[i])) {
            cr_assert(harness_now_ms() < deadline, "cluster_state never ok");
            usleep(50000);
        }
    char id0[64];
    node_id(ports[0], id0);
    const char *add[] = {"redis-cli",       "--cluster",           "add-node", addr[3], addr[0],
                         "--cluster-slave", "--cluster-master-id", id0,        NULL};
    cr_assert_eq(redis_cli(add), 0);
    while (!replica_synced(ports[3])) {
        cr_assert(harness_now_ms() < deadline + 10000, "replica never synced");
        usleep(50000);
    }

    struct event_base *base = event_base_new();
    char seed[64];
    snprintf(seed, sizeof(seed), "redis://%s", addr[1]);
    const char *urls[1] = {seed};
    sio_redis_cluster_options o;
    sio_redis_cluster_options_init(&o);
    o.urls = urls;
    o.nurls = 1;
    o.cluster = 1;
    o.node.reconnect_min_ms = 20;
    o.node.reconnect_max_ms = 200;
    o.node.connect_timeout_ms = 500;
    o.on_message = c_message;
    crec x = {0};
    o.user = &x;
    sio_redis_cluster *c = sio_redis_cluster_new(base, &o, NULL);
    cr_assert_not_null(c);
    cr_assert(run_until(base, cluster_up, c, 5000));
    static char name[16];
    for (int k = 0; k < 1000; k++) { /* a channel of the first master (slots 0-5460) */
        snprintf(name, sizeof(name), "fo-%d", k);
        if (sio_redis_key_slot(name, strlen(name)) <= 5460)
            break;
    }
    chans[0] = name;
    chans[1] = NULL;
    cr_assert_eq(sio_redis_cluster_ssubscribe(c, name, strlen(name)), 0);
    cr_assert(run_until(base, confirmed, &(conf_wait){c, 1}, 3000));
    cr_assert_eq(publish(base, c, &x, name, "before", 6), 0);
    cr_assert(WAIT(base, x.per_channel[0], 1, 3000));

    stop_redis(0); /* the replica takes over after the node timeout */
    cr_assert(run_until(base, cluster_down, c, 3000), "master loss not seen");
    cr_assert(run_until(base, cluster_up, c, 20000), "no failover seen");
    cr_assert(run_until(base, confirmed, &(conf_wait){c, 1}, 5000), "not resubscribed");
    int prc = publish(base, c, &x, name, "after", 5);
    cr_assert_eq(prc, 0, "publish: %d (status %d)", prc, x.cmd_status);
    cr_assert(WAIT(base, x.per_channel[0], 2, 3000), "no delivery after the failover");
    cr_expect_eq(x.plen, 5);
    sio_redis_cluster_free(c);
    run_for(base, 20);
    event_base_free(base);
}

/* ---- the adapter inside a server ----------------------------------------------------------- */

static int server_adapter_up(void *arg)
{
    sio_server_stats st;
    sio_server_get_stats(arg, &st);
    return st.adapter_up;
}

/* A server freed right after a broadcast, its PUBLISH still unanswered: the connection finishes
 * closing from the loop, which sio_server_free runs before freeing its own base. Without that,
 * the whole Redis connection leaked (LeakSanitizer fails this test in the sanitizer build). */
Test(redis_live, server_freed_with_a_publish_in_flight_frees_its_connection)
{
    int port = free_port();
    start_redis(0, port, NULL);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    sio_redis_adapter_config rc;
    sio_redis_adapter_config_init(&rc);
    rc.url = url;
    sio_server_options o;
    sio_server_options_init(&o);
    o.http.port = free_port();
    o.adapter.ops = sio_adapter_redis();
    o.adapter.config = &rc;
    sio_server *srv = sio_server_new(NULL, &o);
    cr_assert_not_null(srv);
    cr_assert(run_until(sio_server_base(srv), server_adapter_up, srv, 3000));
    sio_namespace *nsp = sio_server_of(srv, "/");
    for (int i = 0; i < 20; i++)
        cr_assert_geq(sio_namespace_emit(nsp, NULL, "news", "[1]", NULL, 0), 0);
    sio_server_free(srv);
}
