/*
 * Frames (docs/protocol.md §2.1, §2.5): a packet is encoded once into an sio_frame (text +
 * attachments) whose buffers every recipient's out-queue shares.
 */
#include "internal.h"

#include "json_scan.h"

#include <stdlib.h>
#include <string.h>

void sio_frame_release(sio_frame *f)
{
    sio_buf_unref(f->text);
    for (size_t i = 0; i < f->nbins; i++)
        sio_buf_unref(f->bins[i]);
    f->text = NULL;
    f->nbins = 0;
}

static size_t header(char *out, size_t cap, sio_packet_type type, const char *nsp, int64_t id,
                     unsigned att)
{
    if (!strcmp(nsp, "/"))
        nsp = "";
    return sio_packet_encode_header(out, cap, type, nsp[0] ? nsp : "/", nsp[0] ? strlen(nsp) : 1,
                                    id, att);
}

/* Copies the attachments into the frame and counts it; on failure the frame is released. */
static int frame_finish(sio_io *io, sio_frame *f, const sio_bin *bins, size_t nbins)
{
    for (size_t i = 0; i < nbins; i++) {
        f->bins[i] = sio_buf_from(bins[i].data, bins[i].len);
        if (!f->bins[i]) {
            sio_frame_release(f);
            return SIO_ENOMEM;
        }
        f->bins[i]->binary = 1;
        f->nbins++;
    }
    io->stats->packets_encoded++;
    return 0;
}

/* The text message "4" + header + json, attachments announced but not copied yet. */
static int frame_text(sio_frame *f, sio_packet_type type, const char *nsp, int64_t id, unsigned att,
                      const char *json, size_t json_len)
{
    char hdr[600];
    memset(f, 0, sizeof(*f));
    size_t hn = header(hdr, sizeof(hdr), type, nsp, id, att);
    if (hn >= sizeof(hdr))
        return SIO_EINVAL;
    f->text = sio_buf_new(1 + hn + json_len);
    if (!f->text)
        return SIO_ENOMEM;
    unsigned char *p = sio_buf_data(f->text);
    p[0] = '4';
    memcpy(p + 1, hdr, hn);
    if (json_len)
        memcpy(p + 1 + hn, json, json_len);
    return 0;
}

int sio_frame_encode_raw(sio_io *io, sio_frame *f, sio_packet_type type, const char *nsp,
                         int64_t id, const char *json, size_t json_len)
{
    int rc = frame_text(f, type, nsp, id, 0, json, json_len);
    return rc < 0 ? rc : frame_finish(io, f, NULL, 0);
}

/* Checks args (a JSON array or NULL; trusted: only that it is an array) and returns its inner
 * text (between the brackets). */
static int args_inner(const char *args, size_t len, int trusted, const char **inner,
                      size_t *inner_len)
{
    *inner = "";
    *inner_len = 0;
    if (!args)
        return 0;
    const char *reason;
    if ((!trusted && sio_json_validate(args, len, 64, &reason) < 0) ||
        sio_json_type_of(args, len) != SIO_JSON_ARRAY)
        return SIO_EINVAL;
    const char *open = memchr(args, '[', len);
    const char *close = args + len;
    while (close > open && *--close != ']')
        ;
    *inner = open + 1;
    *inner_len = (size_t)(close - open - 1);
    while (*inner_len && (**inner == ' ' || **inner == '\n' || **inner == '\t' || **inner == '\r'))
        (*inner)++, (*inner_len)--;
    return 0;
}

/* Encodes an EVENT (event != NULL) or ACK with arguments and attachments, switching to the
 * BINARY_ variant when there are attachments. */
int sio_frame_encode(sio_io *io, sio_frame *f, sio_packet_type type, const char *nsp, int64_t id,
                     const char *event, const char *args, size_t args_len, const sio_bin *bins,
                     size_t nbins, int flags)
{
    memset(f, 0, sizeof(*f));
    if (nbins > sizeof(f->bins) / sizeof(f->bins[0]))
        return SIO_ELIMIT;
    const char *inner;
    size_t inner_len;
    if (args_inner(args, args_len, flags & SIO_EMIT_TRUSTED_JSON, &inner, &inner_len) < 0)
        return SIO_EINVAL;
    if (nbins)
        type = type == SIO_PACKET_EVENT ? SIO_PACKET_BINARY_EVENT : SIO_PACKET_BINARY_ACK;
    char hdr[600];
    size_t hn = header(hdr, sizeof(hdr), type, nsp, id, (unsigned)nbins);
    if (hn >= sizeof(hdr))
        return SIO_EINVAL;
    size_t elen = event ? strlen(event) : 0;
    size_t cap = 1 + hn + 2 + (event ? elen * 6 + 3 : 0) + inner_len + 1;
    f->text = sio_buf_new(cap);
    if (!f->text)
        return SIO_ENOMEM;
    char *p = (char *)sio_buf_data(f->text);
    size_t n = 0;
    p[n++] = '4';
    memcpy(p + n, hdr, hn);
    n += hn;
    p[n++] = '[';
    if (event)
        n += sio_json_write_string(p + n, cap - n, event, elen);
    if (event && inner_len)
        p[n++] = ',';
    memcpy(p + n, inner, inner_len);
    n += inner_len;
    p[n++] = ']';
    f->text->len = (uint32_t)n;
    return frame_finish(io, f, bins, nbins);
}

/* The data array is checked (it may come from another server) and copied whole. */
int sio_frame_encode_data(sio_io *io, sio_frame *f, sio_packet_type type, const char *nsp,
                          int64_t id, const char *data, size_t data_len, const sio_bin *bins,
                          size_t nbins)
{
    memset(f, 0, sizeof(*f));
    const char *reason;
    if (nbins > SIO_BINARY_MAX_ATTACHMENTS)
        return SIO_ELIMIT;
    if (!data || sio_json_validate(data, data_len, 64, &reason) < 0 ||
        sio_json_type_of(data, data_len) != SIO_JSON_ARRAY)
        return SIO_EINVAL;
    if (nbins)
        type = type == SIO_PACKET_EVENT ? SIO_PACKET_BINARY_EVENT : SIO_PACKET_BINARY_ACK;
    int rc = frame_text(f, type, nsp, id, (unsigned)nbins, data, data_len);
    return rc < 0 ? rc : frame_finish(io, f, bins, nbins);
}
