/* sio-server's error and access logs (logging.h). */
#include "logging.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int log_format = SIO_APP_LOG_TEXT;
static FILE *access_log;
static int access_is_stdout;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int sio_app_log_format_parse(const char *s)
{
    if (s && !strcasecmp(s, "text"))
        return SIO_APP_LOG_TEXT;
    if (s && !strcasecmp(s, "json"))
        return SIO_APP_LOG_JSON;
    return -1;
}

int sio_app_log_level_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (!strcasecmp(s, level_names[i]))
            return i;
    if (s && !strcasecmp(s, "warning"))
        return SIO_LOG_WARN;
    return -1;
}

void sio_app_log_set_format(int format)
{
    log_format = format;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t stamp(long long ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int k = snprintf(out + n, cap - n, ".%03dZ", (int)(ms % 1000));
    return n + (k > 0 ? (size_t)k : 0);
}

static void put(char *out, size_t cap, size_t *n, const char *s)
{
    while (*s && *n + 1 < cap)
        out[(*n)++] = *s++;
    out[*n] = '\0';
}

void sio_app_json_escape(char *out, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (*n >= cap)
        return;
    for (; *s && *n + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7] = {0};
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2);
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
        } else {
            esc[0] = (char)c;
        }
        size_t len = strlen(esc);
        if (*n + len + 1 > cap)
            break;
        memcpy(out + *n, esc, len);
        *n += len;
    }
    out[*n] = '\0';
}

size_t sio_app_log_format_line(int format, long long ms, int level, const char *module,
                               const char *line, char *out, size_t cap)
{
    char ts[40];
    stamp(ms, ts, sizeof(ts));
    const char *lv = level_names[level < 0 ? 0 : (level > 3 ? 3 : level)];
    size_t n = 0;
    out[0] = '\0';
    if (format == SIO_APP_LOG_JSON) {
        put(out, cap, &n, "{\"ts\":\"");
        put(out, cap, &n, ts);
        put(out, cap, &n, "\",\"level\":\"");
        put(out, cap, &n, lv);
        put(out, cap, &n, "\",\"module\":\"");
        sio_app_json_escape(out, cap, &n, module);
        put(out, cap, &n, "\",\"msg\":\"");
        sio_app_json_escape(out, cap > 2 ? cap - 2 : 0, &n, line); /* room for the end */
        put(out, cap, &n, "\"}");
        return n;
    }
    int k = snprintf(out, cap, "%s %s %s: %s", ts, lv, module, line);
    return k < 0 ? 0 : ((size_t)k < cap ? (size_t)k : cap - 1);
}

void sio_app_log_write(int level, const char *module, const char *line)
{
    char buf[4096];
    size_t n =
        sio_app_log_format_line(log_format, now_ms(), level, module, line, buf, sizeof(buf) - 1);
    buf[n++] = '\n';
    fwrite(buf, 1, n, stderr);
}

/* ---- access log --------------------------------------------------------------------------- */

int sio_app_access_open(const char *path)
{
    FILE *f = NULL;
    if (path && !strcmp(path, "-")) {
        f = stdout;
    } else if (path && *path) {
        if (!(f = fopen(path, "a")))
            return -1;
        setvbuf(f, NULL, _IOLBF, 0);
    }
    sio_app_access_close();
    access_log = f;
    access_is_stdout = f == stdout;
    return 0;
}

void sio_app_access_close(void)
{
    if (access_log && !access_is_stdout)
        fclose(access_log);
    access_log = NULL;
}

/* The string field key of the handshake JSON, copied into out (unescaped as is: addresses and
 * transports need no escapes). */
static void handshake_field(const char *hs, const char *key, char *out, size_t cap)
{
    const char *p = strstr(hs, key);
    size_t n = 0;
    if (p) {
        p += strlen(key);
        while (*p && *p != '"' && n + 1 < cap)
            out[n++] = *p++;
    }
    out[n] = '\0';
}

static void access_line(const sio_socket *s, const char *event, const char *reason)
{
    if (!access_log)
        return;
    const char *hs = sio_socket_handshake(s);
    char addr[64], issued[24], line[768];
    handshake_field(hs, "\"address\":\"", addr, sizeof(addr));
    const char *ip = strstr(hs, "\"issued\":");
    long long t0 = ip ? strtoll(ip + 9, NULL, 10) : 0, now = now_ms();
    snprintf(issued, sizeof(issued), "%lld", t0 && now > t0 ? now - t0 : 0);
    char ts[40];
    stamp(now, ts, sizeof(ts));
    size_t n = 0;
    if (log_format == SIO_APP_LOG_JSON) {
        put(line, sizeof(line), &n, "{\"ts\":\"");
        put(line, sizeof(line), &n, ts);
        put(line, sizeof(line), &n, "\",\"event\":\"");
        put(line, sizeof(line), &n, event);
        put(line, sizeof(line), &n, "\",\"remote\":\"");
        sio_app_json_escape(line, sizeof(line), &n, addr);
        put(line, sizeof(line), &n, "\",\"transport\":\"");
        put(line, sizeof(line), &n, sio_socket_transport(s));
        put(line, sizeof(line), &n, "\",\"namespace\":\"");
        sio_app_json_escape(line, sizeof(line), &n, sio_namespace_name(sio_socket_namespace(s)));
        put(line, sizeof(line), &n, "\",\"sid\":\"");
        put(line, sizeof(line), &n, sio_socket_id(s));
        put(line, sizeof(line), &n, "\"");
        if (reason) {
            put(line, sizeof(line), &n, ",\"duration_ms\":");
            put(line, sizeof(line), &n, issued);
            put(line, sizeof(line), &n, ",\"reason\":\"");
            sio_app_json_escape(line, sizeof(line), &n, reason);
            put(line, sizeof(line), &n, "\"");
        }
        put(line, sizeof(line), &n, "}");
        fprintf(access_log, "%s\n", line);
    } else if (reason) {
        fprintf(access_log, "%s %s %s %s %s %s duration_ms=%s reason=\"%s\"\n", ts, event, addr,
                sio_socket_transport(s), sio_namespace_name(sio_socket_namespace(s)),
                sio_socket_id(s), issued, reason);
    } else {
        fprintf(access_log, "%s %s %s %s %s %s\n", ts, event, addr, sio_socket_transport(s),
                sio_namespace_name(sio_socket_namespace(s)), sio_socket_id(s));
    }
    if (access_is_stdout)
        fflush(stdout);
}

void sio_app_access_connect(const sio_socket *s)
{
    access_line(s, "connect", NULL);
}

void sio_app_access_disconnect(const sio_socket *s, const char *reason)
{
    access_line(s, "close", reason ? reason : "");
}

void sio_app_vlog(sio_app_log_cb cb, void *user, int level, const char *fmt, va_list ap)
{
    if (!cb)
        return;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    cb(level, line, user);
}

void sio_app_log(sio_app_log_cb cb, void *user, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sio_app_vlog(cb, user, level, fmt, ap);
    va_end(ap);
}
