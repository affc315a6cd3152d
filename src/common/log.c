/* Logging with a level threshold (see log.h): to stderr, or to the sink the application set. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int sio_log_threshold = SIO_LOG_INFO;

static sio_log_cb sink;
static void *sink_user;

void sio_log_set_level(int level)
{
    sio_log_threshold = level;
}

void sio_log_set_sink(sio_log_cb cb, void *user, int level)
{
    sink = cb;
    sink_user = user;
    sio_log_threshold = level;
}

void sio_log_vwrite(int level, const char *module, const char *fmt, va_list ap)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (sink) {
        char line[2048];
        vsnprintf(line, sizeof(line), fmt, ap);
        sink(level, module, line, sink_user);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %s: ", stamp, ts.tv_nsec / 1000000L,
            names[level < 0 ? 0 : (level > 3 ? 3 : level)], module);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void sio_log_write(int level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sio_log_vwrite(level, module, fmt, ap);
    va_end(ap);
}
