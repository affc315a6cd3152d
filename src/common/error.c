/* Static texts for the sio_error codes. */
#include <sio/error.h>

const char *sio_strerror(int err)
{
    switch (err) {
    case SIO_OK:
        return "ok";
    case SIO_EINCOMPLETE:
        return "incomplete input";
    case SIO_EPROTO:
        return "protocol error";
    case SIO_ENOMEM:
        return "out of memory";
    case SIO_ELIMIT:
        return "limit exceeded";
    case SIO_ECLOSED:
        return "closed";
    case SIO_ETIMEDOUT:
        return "timed out";
    case SIO_EINVAL:
        return "invalid argument";
    case SIO_ENOTFOUND:
        return "not found";
    case SIO_EIO:
        return "i/o error";
    case SIO_EUNSUPPORTED:
        return "unsupported format";
    }
    return "unknown error";
}
