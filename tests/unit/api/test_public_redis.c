/*
 * The public Redis adapter (include/sio/redis.h) through the public API: with Redis unreachable
 * a server still starts and serves its own clients (publishes counted as dropped, a cluster of
 * one); with a real redis-server (started here on a free loopback port) two servers share a
 * broadcast and count each other.
 */
#include "poll_client.h"

#include <sio/redis.h>
#include <sio/sio.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 5000

#define EXPECT_SOON(base, cond)                                                                    \
    do {                                                                                           \
        uint64_t deadline_ = poll_now_ms() + WAIT_MS;                                              \
        while (!(cond) && poll_now_ms() < deadline_)                                               \
            poll_step(base);                                                                       \
        cr_assert(cond, "timed out waiting for: %s", #cond);                                       \
    } while (0)

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static sio_server *start(struct event_base *base, sio_redis_adapter_config *rc)
{
    sio_server_options o;
    sio_server_options_init(&o);
    o.http.host = "127.0.0.1";
    o.http.port = 0;
    o.adapter.ops = sio_adapter_redis();
    o.adapter.config = rc;
    o.adapter.requests_timeout_ms = 1000;
    sio_server *srv = sio_server_new(base, &o);
    cr_assert_not_null(srv);
    return srv;
}

static void on_count(sio_namespace *nsp, int status, size_t servers, void *user)
{
    *(long *)user = status == 0 ? (long)servers : -1;
}

static void join_room(sio_socket *s, void *user)
{
    sio_socket_join(s, "r");
}

/* Redis unreachable: the server serves its own clients and counts itself alone. */
Test(public_redis, unreachable_redis_serves_locally)
{
    struct event_base *base = event_base_new();
    sio_redis_adapter_config rc;
    sio_redis_adapter_config_init(&rc);
    cr_assert_str_eq(rc.key, "socket.io");
    cr_assert_eq(rc.sharded, 0);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", free_port()); /* nobody listens */
    rc.url = url;
    rc.connect_timeout_ms = 200;
    sio_server *srv = start(base, &rc);
    sio_namespace *root = sio_server_of(srv, "/");
    sio_namespace_on_connection(root, join_room, NULL);
    poll_client *c = poll_client_open(base, sio_server_port(srv), NULL, WAIT_MS);
    cr_assert_not_null(c);
    free(poll_client_connect(c, "/", NULL, WAIT_MS));
    const char *room = "r";
    sio_target to = {.rooms = &room, .nrooms = 1};
    cr_assert_eq(sio_namespace_emit(root, &to, "news", "[1]", NULL, 0), 1);
    char *p = poll_client_wait(c, "42", WAIT_MS);
    cr_assert_not_null(p);
    cr_assert_str_eq(p, "42[\"news\",1]");
    free(p);
    long servers = 0;
    cr_assert_eq(sio_namespace_server_count(root, on_count, &servers), 0);
    EXPECT_SOON(base, servers != 0);
    cr_assert_eq(servers, 1);
    sio_server_stats st;
    sio_server_get_stats(srv, &st);
    cr_assert_geq(st.adapter_dropped, 1, "a publish while Redis is down counts as dropped");
    poll_client_free(c);
    sio_server_free(srv);
    event_base_loop(base, EVLOOP_NONBLOCK); /* the Redis client's last callbacks */
    event_base_free(base);
}

static pid_t redis_start(int port)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof(p), "%d", port);
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* A real Redis: a broadcast on one server reaches a client of the other, and each counts two. */
Test(public_redis, two_servers_share_a_broadcast)
{
    int port = free_port();
    pid_t redis = redis_start(port);
    struct event_base *base = event_base_new();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    sio_redis_adapter_config rc;
    sio_redis_adapter_config_init(&rc);
    rc.url = url;
    usleep(200 * 1000); /* redis-server listening */
    sio_server *a = start(base, &rc), *b = start(base, &rc);
    sio_namespace *ra = sio_server_of(a, "/"), *rb = sio_server_of(b, "/");
    sio_namespace_on_connection(rb, join_room, NULL);
    long servers = 0;
    uint64_t deadline = poll_now_ms() + WAIT_MS;
    while (servers != 2 && poll_now_ms() < deadline) { /* both subscribed */
        servers = 0;
        cr_assert_eq(sio_namespace_server_count(ra, on_count, &servers), 0);
        while (!servers)
            poll_step(base);
    }
    cr_assert_eq(servers, 2);
    poll_client *c = poll_client_open(base, sio_server_port(b), NULL, WAIT_MS);
    cr_assert_not_null(c);
    free(poll_client_connect(c, "/", NULL, WAIT_MS));
    const char *room = "r";
    sio_target to = {.rooms = &room, .nrooms = 1};
    cr_assert_eq(sio_namespace_emit(ra, &to, "news", "[\"from a\"]", NULL, 0), 0); /* no local */
    char *p = poll_client_wait(c, "42", WAIT_MS);
    cr_assert_not_null(p, "the broadcast crossed Redis");
    cr_assert_str_eq(p, "42[\"news\",\"from a\"]");
    free(p);
    poll_client_free(c);
    sio_server_free(a);
    sio_server_free(b);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_free(base);
    kill(redis, SIGKILL);
    waitpid(redis, NULL, 0);
}
