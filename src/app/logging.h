/*
 * sio-server's logs (docs/operations.md): the error log, every line of the library and of the
 * program on stderr as text ("<time> <level> <module>: message") or JSON lines
 * ({"ts","level","module","msg"}); and the access log, one line when a client's socket connects
 * and one when it closes (remote address, transport, duration, close reason), never per packet.
 */
#ifndef SIO_APP_LOGGING_H
#define SIO_APP_LOGGING_H

#include <sio/sio.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

enum sio_app_log_format { SIO_APP_LOG_TEXT, SIO_APP_LOG_JSON };

/** "text" or "json" -> the format; -1 for anything else. */
int sio_app_log_format_parse(const char *s);
/** "error", "warn", "info" or "debug" -> an sio_log_level; -1 for anything else. */
int sio_app_log_level_parse(const char *s);
/** Sets the format of both logs (text until called). */
void sio_app_log_set_format(int format);
/** Writes one error-log line to stderr in the current format (no threshold here). */
void sio_app_log_write(int level, const char *module, const char *line);
/** Formats one line (no newline) into out (cap): the pure part of sio_app_log_write. Returns
 *  its length (cut to cap - 1). now_ms: wall-clock milliseconds since the epoch. */
size_t sio_app_log_format_line(int format, long long now_ms, int level, const char *module,
                               const char *line, char *out, size_t cap);
/** Appends s as the contents of a JSON string (escaped, without quotes) to out at *n. */
void sio_app_json_escape(char *out, size_t cap, size_t *n, const char *s);

/** A module's log callback (level, a formatted line, its user pointer). */
typedef void (*sio_app_log_cb)(int level, const char *line, void *user);
/** Formats fmt into one line and hands it to cb (a no-op when cb is NULL): the programs' modules
 *  (presence, relay) log through their option's callback with this. */
void sio_app_vlog(sio_app_log_cb cb, void *user, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/** sio_app_vlog with the arguments inline. */
void sio_app_log(sio_app_log_cb cb, void *user, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Opens (or reopens, for log rotation: call again after SIGHUP) the access log: a file path
 *  (appended to), "-" for stdout, NULL or "" for none. Returns 0, or -1 (the old one is kept). */
int sio_app_access_open(const char *path);
void sio_app_access_close(void);
/** The access log lines of a socket (no-ops without an access log). */
void sio_app_access_connect(const sio_socket *s);
void sio_app_access_disconnect(const sio_socket *s, const char *reason);

#endif
