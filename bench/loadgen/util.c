/* sio-loadgen helpers: byte buffers, clocks, CPU and RSS sampling from /proc, the latency
 * histogram and pipe I/O. No sockets here. */
#include "loadgen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int lg_buf_reserve(lg_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (b->off > 0)
        lg_buf_compact(b);
    if (b->cap - b->len >= extra)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > LG_MAX_FRAME * 4)
            return -ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int lg_buf_append(lg_buf *b, const void *p, size_t n)
{
    int rc = lg_buf_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void lg_buf_consume(lg_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void lg_buf_compact(lg_buf *b)
{
    if (b->off == 0)
        return;
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

void lg_buf_free(lg_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: WebSocket keys and masks only need to differ, not to be secret. */
uint64_t lg_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

double lg_self_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static ssize_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    buf[n] = 0;
    return n;
}

/* utime+stime of the whole process (all threads) from /proc/PID/stat fields 14 and 15, which
 * follow the parenthesised command name; VmRSS from /proc/PID/status. */
int lg_proc_sample(pid_t pid, double *cpu_s, double *sys_s, long *rss_kib)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if (read_file(path, buf, sizeof(buf)) <= 0)
        return -1;
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(ut + st) / (double)(hz > 0 ? hz : 100);
    *sys_s = (double)st / (double)(hz > 0 ? hz : 100);
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (read_file(path, buf, sizeof(buf)) <= 0)
        return -1;
    p = strstr(buf, "VmRSS:");
    *rss_kib = p ? strtol(p + 6, NULL, 10) : -1;
    return 0;
}

/* Busy CPU seconds of the whole machine (all but idle and iowait), from /proc/stat. Compared
 * with the server's and the generator's own CPU it shows how much else was running. */
double lg_machine_busy_s(void)
{
    char buf[512];
    if (read_file("/proc/stat", buf, sizeof(buf)) <= 0)
        return -1;
    unsigned long long v[8] = {0};
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) < 4)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)(hz > 0 ? hz : 100);
}

/* Log-linear buckets: exact below 2*SUB us, then SUB buckets per power of two. */
void lg_hist_add(uint32_t *hist, uint64_t us)
{
    size_t idx;
    if (us < 2 * LG_HIST_SUB) {
        idx = (size_t)us;
    } else {
        int msb = 63 - __builtin_clzll(us);
        int shift = msb - 8;
        idx = (size_t)(shift + 1) * LG_HIST_SUB + (size_t)((us >> shift) - LG_HIST_SUB);
    }
    if (idx >= LG_HIST_BUCKETS)
        idx = LG_HIST_BUCKETS - 1;
    hist[idx]++;
}

static uint64_t hist_value(size_t idx)
{
    if (idx < 2 * LG_HIST_SUB)
        return idx;
    size_t shift = idx / LG_HIST_SUB - 1;
    uint64_t sub = idx % LG_HIST_SUB + LG_HIST_SUB;
    /* middle of the bucket */
    return (sub << shift) + (((uint64_t)1 << shift) >> 1);
}

uint64_t lg_hist_quantile(const uint32_t *hist, double q)
{
    uint64_t total = 0;
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++)
        total += hist[i];
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)total + 0.999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank)
            return hist_value(i);
    }
    return hist_value(LG_HIST_BUCKETS - 1);
}

int lg_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int lg_read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Record the first fatal error of this child; the run phase ends and the parent reports it. */
void lg_fail(lg_ctx *ctx, const char *what)
{
    if (ctx->rep.error[0] == 0)
        snprintf(ctx->rep.error, sizeof(ctx->rep.error), "child %u: %s", ctx->child, what);
}
