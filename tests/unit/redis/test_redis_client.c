/*
 * Redis client layer, the parts that need no Redis: URL parsing, key slots (vectors from the
 * cluster specification), and reply matching against a scripted server on a unix socket that
 * writes canned RESP bytes (split anywhere, pushes interleaved with replies).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include <sio/error.h>

#include "client.h"
#include "harness.h"

/* ---- URLs ---------------------------------------------------------------------------------- */

Test(redis_url, plain_host_port_db)
{
    sio_redis_url u;
    cr_assert_eq(sio_redis_url_parse("redis://example.org:6380/3", &u, NULL), 0);
    cr_expect_str_eq(u.host, "example.org");
    cr_expect_eq(u.port, 6380);
    cr_expect_eq(u.db, 3);
    cr_expect_eq(u.tls, 0);
    cr_expect_eq(u.has_password, 0);
    cr_assert_eq(sio_redis_url_parse("redis://localhost", &u, NULL), 0);
    cr_expect_eq(u.port, 6379);
    cr_expect_eq(u.db, 0);
    cr_assert_eq(sio_redis_url_parse("redis://localhost/", &u, NULL), 0);
    cr_expect_eq(u.db, 0);
}

Test(redis_url, credentials_and_tls)
{
    sio_redis_url u;
    cr_assert_eq(sio_redis_url_parse("rediss://alice:s%40cret%3A@h:1", &u, NULL), 0);
    cr_expect_eq(u.tls, 1);
    cr_expect_str_eq(u.user, "alice");
    cr_expect_str_eq(u.password, "s@cret:");
    cr_expect_eq(u.has_password, 1);
    cr_assert_eq(sio_redis_url_parse("redis://:pw@h", &u, NULL), 0);
    cr_expect_str_eq(u.user, "");
    cr_expect_str_eq(u.password, "pw");
    cr_assert_eq(sio_redis_url_parse("redis://lonepw@h", &u, NULL), 0);
    cr_expect_str_eq(u.user, "");
    cr_expect_str_eq(u.password, "lonepw");
    cr_assert_eq(sio_redis_url_parse("redis://u:@h", &u, NULL), 0);
    cr_expect_eq(u.has_password, 1);
    cr_expect_str_eq(u.password, "");
}

Test(redis_url, ipv6_and_unix)
{
    sio_redis_url u;
    cr_assert_eq(sio_redis_url_parse("redis://[::1]:7000", &u, NULL), 0);
    cr_expect_str_eq(u.host, "::1");
    cr_expect_eq(u.port, 7000);
    cr_assert_eq(sio_redis_url_parse("unix:///run/redis.sock?db=2", &u, NULL), 0);
    cr_expect_eq(u.is_unix, 1);
    cr_expect_str_eq(u.host, "/run/redis.sock");
    cr_expect_eq(u.db, 2);
    cr_assert_eq(sio_redis_url_parse("unix://:pw@/tmp/s", &u, NULL), 0);
    cr_expect_str_eq(u.password, "pw");
    cr_expect_str_eq(u.host, "/tmp/s");
}

Test(redis_url, rejects_bad_input_with_a_reason)
{
    static const char *bad[] = {
        "http://h",        "redis://",        "redis://h:0",     "redis://h:65536",
        "redis://h:12x",   "redis://h/abc",   "redis://h/1?x=1", "redis://[::1",
        "redis://[::1]x",  "redis://u:%zz@h", "redis://u:%00@h", "redis://h/99999999999",
        "unix://relative", "unix:///p?dbx=1", "redis://h#frag",  "redis://:%4@h",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sio_redis_url u;
        const char *reason = NULL;
        cr_expect_eq(sio_redis_url_parse(bad[i], &u, &reason), SIO_EINVAL, "%s", bad[i]);
        cr_expect_not_null(reason, "%s", bad[i]);
    }
    char longhost[400] = "redis://";
    memset(longhost + 8, 'a', 300);
    cr_expect_eq(sio_redis_url_parse(longhost, &(sio_redis_url){0}, NULL), SIO_EINVAL);
}

/* ---- slots --------------------------------------------------------------------------------- */

Test(redis_slot, crc16_vector_of_the_cluster_spec)
{
    cr_expect_eq(sio_redis_crc16("123456789", 9), 0x31C3);
    cr_expect_eq(sio_redis_key_slot("123456789", 9), 12739);
}

Test(redis_slot, hash_tags)
{
    unsigned a = sio_redis_key_slot("{user1000}.following", 20);
    unsigned b = sio_redis_key_slot("{user1000}.followers", 20);
    cr_expect_eq(a, b);
    cr_expect_eq(a, sio_redis_key_slot("user1000", 8));
    /* empty tag: the whole key is hashed; only the first {...} counts */
    cr_expect_eq(sio_redis_key_slot("foo{}{bar}", 10), sio_redis_crc16("foo{}{bar}", 10) % 16384);
    cr_expect_eq(sio_redis_key_slot("foo{{bar}}zap", 13), sio_redis_key_slot("{bar", 4));
    cr_expect_eq(sio_redis_key_slot("foo{bar}{zap}", 13), sio_redis_key_slot("bar", 3));
    cr_expect_eq(sio_redis_key_slot("", 0), 0);
}

/* ---- reply matching against a scripted server ------------------------------------------------ */

typedef struct fake {
    struct event_base *base;
    char path[108];
    int lfd, cfd;
    struct event *accept_ev;
    sio_redis *r;
    /* what the client reported */
    int ups, downs;
    int got[8];
    int status[8];
    char text[8][64];
    size_t text_len[8];
    int messages;
    char msg[64];
    size_t msg_len;
    int msg_kind;
    int lost;
    int subscribed;
} fake;

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    fake *f = arg;
    (void)what;
    int c = accept(fd, NULL, NULL);
    if (c >= 0) {
        if (f->cfd >= 0)
            close(f->cfd);
        f->cfd = c;
    }
}

static void fake_state(sio_redis *r, int up, const char *reason, void *user)
{
    fake *f = user;
    (void)r, (void)reason;
    up ? f->ups++ : f->downs++;
}

static void fake_message(sio_redis *r, int kind, const char *pattern, size_t plen,
                         const char *channel, size_t clen, const char *payload, size_t len,
                         void *user)
{
    fake *f = user;
    (void)r, (void)pattern, (void)plen, (void)channel, (void)clen;
    f->messages++;
    f->msg_kind = kind;
    f->msg_len = len < sizeof(f->msg) ? len : sizeof(f->msg);
    memcpy(f->msg, payload, f->msg_len);
}

static void fake_lost(sio_redis *r, int kind, const char *channel, size_t len,
                      const sio_redis_reply *reply, void *user)
{
    fake *f = user;
    (void)r, (void)kind, (void)channel, (void)len, (void)reply;
    f->lost++;
}

static void fake_subscribed(sio_redis *r, int kind, const char *channel, size_t len,
                            long long count, void *user)
{
    fake *f = user;
    (void)r, (void)kind, (void)channel, (void)len, (void)count;
    f->subscribed++;
}

static fake F;

static void reply_slot(sio_redis *r, int status, const sio_redis_reply *reply, void *user)
{
    int i = (int)(intptr_t)user;
    (void)r;
    F.got[i]++;
    F.status[i] = status;
    if (reply && reply->str) {
        F.text_len[i] = reply->len < 64 ? reply->len : 64;
        memcpy(F.text[i], reply->str, F.text_len[i]);
    } else if (reply && reply->type == SIO_REDIS_REPLY_ARRAY && reply->elements == 2 &&
               reply->element[0]->str) {
        F.text_len[i] = reply->element[0]->len < 64 ? reply->element[0]->len : 64;
        memcpy(F.text[i], reply->element[0]->str, F.text_len[i]);
    }
}

static int is_connected(void *arg)
{
    fake *f = arg;
    return f->cfd >= 0 && sio_redis_is_up(f->r);
}

static void fake_start(size_t max_array)
{
    memset(&F, 0, sizeof(F));
    F.cfd = -1;
    F.base = event_base_new();
    snprintf(F.path, sizeof(F.path), "/tmp/sio-redis-test-%d.sock", (int)getpid());
    unlink(F.path);
    F.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, F.path, strlen(F.path) + 1);
    cr_assert_eq(bind(F.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    cr_assert_eq(listen(F.lfd, 4), 0);
    F.accept_ev = event_new(F.base, F.lfd, EV_READ | EV_PERSIST, on_accept, &F);
    event_add(F.accept_ev, NULL);
    sio_redis_options o;
    sio_redis_options_init(&o);
    char url[160];
    snprintf(url, sizeof(url), "unix://%s", F.path);
    o.url = url;
    o.user = &F;
    o.on_state = fake_state;
    o.on_message = fake_message;
    o.on_sub_lost = fake_lost;
    o.on_subscribed = fake_subscribed;
    o.reconnect_min_ms = 5000; /* no reconnect during a test */
    o.reconnect_max_ms = 5000;
    if (max_array)
        o.max_array = max_array;
    F.r = sio_redis_new(F.base, &o, NULL);
    cr_assert_not_null(F.r);
    cr_assert(run_until(F.base, is_connected, &F, 2000));
}

static void fake_stop(void)
{
    sio_redis_free(F.r);
    run_for(F.base, 10);
    event_free(F.accept_ev);
    if (F.cfd >= 0)
        close(F.cfd);
    close(F.lfd);
    unlink(F.path);
    event_base_free(F.base);
}

/* Writes canned bytes from the server, one at a time when split, running the loop between. */
static void serve(const char *bytes, size_t n, int split)
{
    for (size_t i = 0; i < n;) {
        size_t k = split ? 1 : n - i;
        cr_assert_eq(write(F.cfd, bytes + i, k), (ssize_t)k);
        i += k;
        event_base_loop(F.base, EVLOOP_NONBLOCK);
    }
    run_for(F.base, 20);
}
#define SERVE(lit, split) serve(lit, sizeof(lit) - 1, split)

static int cmd(int slot, int argc, const char **argv)
{
    return sio_redis_command(F.r, reply_slot, (void *)(intptr_t)slot, argc, argv, NULL);
}

Test(redis_conn, replies_match_in_order_even_split_byte_by_byte)
{
    fake_start(0);
    cr_assert_eq(cmd(0, 2, (const char *[]){"GET", "a"}), 0);
    cr_assert_eq(cmd(1, 2, (const char *[]){"GET", "b"}), 0);
    cr_assert_eq(cmd(2, 1, (const char *[]){"BAD"}), 0);
    cr_assert_eq(cmd(3, 2, (const char *[]){"GET", "none"}), 0);
    SERVE("$3\r\na\0\xff\r\n$1\r\nB\r\n-ERR unknown command\r\n$-1\r\n", 1);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(F.got[i], 1, "slot %d", i);
    cr_expect_eq(F.text_len[0], 3);
    cr_expect_eq(memcmp(F.text[0], "a\0\xff", 3), 0);
    cr_expect_eq(memcmp(F.text[1], "B", 1), 0);
    cr_expect_eq(memcmp(F.text[2], "ERR unknown", 11), 0);
    cr_expect_eq(F.text_len[3], 0);
    fake_stop();
}

Test(redis_conn, pushes_interleave_with_pong_on_a_subscribed_connection)
{
    fake_start(0);
    cr_assert_eq(sio_redis_subscribe(F.r, SIO_REDIS_SSUBSCRIBE, "ch", 2), 0);
    /* a subscriber takes PING only (RESP2 refuses the rest in subscribed mode) */
    cr_expect_eq(cmd(0, 2, (const char *[]){"GET", "a"}), SIO_EINVAL);
    cr_assert_eq(cmd(1, 1, (const char *[]){"PING"}), 0);
    SERVE("*3\r\n$10\r\nssubscribe\r\n$2\r\nch\r\n:1\r\n"
          "*3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$3\r\nx\0\xff\r\n"
          "*2\r\n$4\r\npong\r\n$0\r\n\r\n",
          1);
    cr_expect_eq(F.subscribed, 1);
    cr_expect_eq(F.messages, 1);
    cr_expect_eq(F.msg_kind, SIO_REDIS_SSUBSCRIBE);
    cr_expect_eq(F.msg_len, 3);
    cr_expect_eq(memcmp(F.msg, "x\0\xff", 3), 0);
    cr_expect_eq(F.got[1], 1);
    cr_expect_eq(F.status[1], 0);
    cr_expect_eq(memcmp(F.text[1], "pong", 4), 0);
    /* the slot moved: Redis drops the subscription on its own */
    SERVE("*3\r\n$12\r\nsunsubscribe\r\n$2\r\nch\r\n:0\r\n", 0);
    cr_expect_eq(F.lost, 1);
    cr_expect_eq(sio_redis_subscription_count(F.r), 0);
    fake_stop();
}

Test(redis_conn, error_reply_to_ssubscribe_is_reported_as_lost)
{
    fake_start(0);
    cr_assert_eq(sio_redis_subscribe(F.r, SIO_REDIS_SSUBSCRIBE, "x", 1), 0);
    SERVE("-MOVED 16287 127.0.0.1:7002\r\n", 0);
    cr_expect_eq(F.lost, 1);
    cr_expect_eq(sio_redis_subscription_count(F.r), 0);
    fake_stop();
}

Test(redis_conn, protocol_error_drops_and_fails_pending_once)
{
    fake_start(0);
    cr_assert_eq(cmd(0, 1, (const char *[]){"PING"}), 0);
    cr_assert_eq(cmd(1, 1, (const char *[]){"PING"}), 0);
    SERVE("+PONG\r\n!garbage\r\n", 0);
    cr_expect_eq(F.got[0], 1);
    cr_expect_eq(F.status[0], 0);
    cr_expect_eq(F.got[1], 1);
    cr_expect_eq(F.status[1], SIO_ECLOSED);
    cr_expect_eq(F.downs, 1);
    cr_expect_eq(sio_redis_is_up(F.r), 0);
    cr_expect_eq(cmd(2, 1, (const char *[]){"PING"}), SIO_ECLOSED);
    cr_expect(strstr(sio_redis_last_error(F.r), "protocol error") != NULL);
    fake_stop();
}

Test(redis_conn, oversized_array_is_refused_before_allocating)
{
    fake_start(16);
    cr_assert_eq(cmd(0, 1, (const char *[]){"KEYS"}), 0);
    SERVE("*1\r\n*100\r\n", 0); /* nested: the cap holds at every depth */
    cr_expect_eq(F.got[0], 1);
    cr_expect_eq(F.status[0], SIO_ECLOSED);
    cr_expect_eq(F.downs, 1);
    cr_expect(strstr(sio_redis_last_error(F.r), "max_array") != NULL, "%s",
              sio_redis_last_error(F.r));
    fake_stop();
}

Test(redis_conn, huge_array_count_is_refused)
{
    fake_start(0);
    cr_assert_eq(cmd(0, 1, (const char *[]){"KEYS"}), 0);
    SERVE("*2000000000\r\n", 0);
    cr_expect_eq(F.status[0], SIO_ECLOSED);
    cr_expect_eq(F.downs, 1);
    fake_stop();
}

Test(redis_conn, reply_without_request_drops)
{
    fake_start(0);
    SERVE("+OK\r\n", 0);
    cr_expect_eq(F.downs, 1);
    fake_stop();
}

static void free_in_callback(sio_redis *r, int status, const sio_redis_reply *reply, void *user)
{
    (void)reply, (void)user;
    F.got[0]++;
    F.status[0] = status;
    sio_redis_free(r);
    /* nothing runs from inside free: the second command's callback is still owed */
    F.got[2] = F.got[1];
}

Test(redis_conn, free_inside_a_callback_defers_the_rest)
{
    fake_start(0);
    cr_assert_eq(sio_redis_command(F.r, free_in_callback, NULL, 1, (const char *[]){"PING"}, NULL),
                 0);
    cr_assert_eq(cmd(1, 1, (const char *[]){"PING"}), 0);
    SERVE("+PONG\r\n", 0);
    cr_expect_eq(F.got[0], 1);
    cr_expect_eq(F.got[2], 0);
    cr_expect_eq(F.got[1], 1);
    cr_expect_eq(F.status[1], SIO_ECLOSED);
    F.r = NULL;
    fake_stop();
}

Test(redis_conn, free_with_pending_runs_callbacks_later_not_inside)
{
    fake_start(0);
    cr_assert_eq(cmd(0, 1, (const char *[]){"PING"}), 0);
    sio_redis_free(F.r);
    F.r = NULL;
    cr_expect_eq(F.got[0], 0);
    run_for(F.base, 10);
    cr_expect_eq(F.got[0], 1);
    cr_expect_eq(F.status[0], SIO_ECLOSED);
    fake_stop();
}
