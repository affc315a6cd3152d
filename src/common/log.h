/*
 * Logging for the runtime layers (never used by protocol/). One line per event, to stderr:
 * "<time> <level> <module>: message". The layer that decides to close a session logs once.
 */
#ifndef SIO_COMMON_LOG_H
#define SIO_COMMON_LOG_H

#include <sio/sio.h> /* enum sio_log_level, sio_log_cb, sio_log_set_sink */

#include <stdarg.h>

extern int sio_log_threshold;

void sio_log_set_level(int level);
void sio_log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sio_log_vwrite(int level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define sio_log(level, module, ...)                                                                \
    do {                                                                                           \
        if ((level) <= sio_log_threshold)                                                          \
            sio_log_write((level), (module), __VA_ARGS__);                                         \
    } while (0)

#endif
