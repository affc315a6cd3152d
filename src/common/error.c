/* Static texts for the sio_error codes. */
#include <sio/error.h>

static const char *const texts[] = {
    [-SIO_OK] = "ok",
    [-SIO_EINCOMPLETE] = "incomplete input",
    [-SIO_EPROTO] = "protocol error",
    [-SIO_ENOMEM] = "out of memory",
    [-SIO_ELIMIT] = "limit exceeded",
    [-SIO_ECLOSED] = "closed",
    [-SIO_ETIMEDOUT] = "timed out",
    [-SIO_EINVAL] = "invalid argument",
    [-SIO_ENOTFOUND] = "not found",
    [-SIO_EIO] = "i/o error",
    [-SIO_EUNSUPPORTED] = "unsupported format",
};
/* A code added to sio_error without its row here would read as NULL. */
_Static_assert(sizeof(texts) / sizeof(texts[0]) == 1 - SIO_EUNSUPPORTED, "one text per code");

const char *sio_strerror(int err)
{
    if (err > 0 || -(long)err >= (long)(sizeof(texts) / sizeof(texts[0])))
        return "unknown error";
    return texts[-err];
}
