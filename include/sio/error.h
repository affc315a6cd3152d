/*
 * sio error codes. Fallible functions return 0 or one of these negative values; parsers return a
 * byte count or one of these. sio_strerror() gives static text for each.
 */
#ifndef SIO_ERROR_H
#define SIO_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum sio_error {
    SIO_OK = 0,
    SIO_EINCOMPLETE = -1,   /* need more bytes (parsers) */
    SIO_EPROTO = -2,        /* malformed input; a static reason string says why */
    SIO_ENOMEM = -3,        /* allocation failed */
    SIO_ELIMIT = -4,        /* a configured limit was exceeded */
    SIO_ECLOSED = -5,       /* the session or socket is closed */
    SIO_ETIMEDOUT = -6,     /* an ack or request timed out */
    SIO_EINVAL = -7,        /* invalid argument from the caller */
    SIO_ENOTFOUND = -8,     /* unknown sid, namespace, room, ... */
    SIO_EIO = -9,           /* I/O error from the system or a library */
    SIO_EUNSUPPORTED = -10, /* well-formed but in a format sio will not handle (e.g. pickle) */
};

#if defined(__GNUC__)
#define SIO_ERROR_API __attribute__((visibility("default")))
#else
#define SIO_ERROR_API
#endif

/** Static text for an sio_error value; never NULL. */
SIO_ERROR_API const char *sio_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
