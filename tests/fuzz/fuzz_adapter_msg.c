/*
 * libFuzzer target for the Redis-adapter codec (docs/protocol-adapter.md). The first input byte
 * picks the grammar (classic broadcast, request, response, sharded, python-socketio), the rest is
 * the message. A decoded message must re-encode, and its payloads must convert to JSON and to
 * msgpack without error beyond the documented ones; re-decoding what we encoded must succeed.
 */
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "adapter_msg.h"
#include "msgpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const sio_adapter_value *v, const sio_adapter_limits *lim)
{
    sio_adapter_bin att[8];
    size_t natt = 0;
    sio_mp_buf b;
    int rc;

    if (v->p == NULL)
        return;
    sio_mp_buf_init(&b, 1u << 20);
    rc = sio_adapter_value_to_json(v, lim, &b, att, 8, &natt, NULL);
    if (rc != 0 && rc != SIO_ELIMIT && rc != SIO_EPROTO)
        abort();
    if (rc == 0) {
        /* JSON with placeholders plus the attachments converts back to msgpack. */
        sio_adapter_value back = {SIO_ADAPTER_FMT_JSON, b.p, b.len, att, natt};
        sio_mp_buf m;
        sio_mp_buf_init(&m, 1u << 20);
        rc = sio_adapter_value_to_msgpack(&back, lim, &m, NULL);
        if (rc != 0 && rc != SIO_ELIMIT && rc != SIO_EPROTO)
            abort();
        sio_mp_buf_deinit(&m);
    }
    sio_mp_buf_deinit(&b);
}

static void check_adapter(sio_adapter_kind kind, const uint8_t *p, size_t n)
{
    sio_adapter_limits lim;
    sio_adapter_msg m, again;
    const char *reason = NULL;
    sio_mp_buf out;

    sio_adapter_limits_init(&lim);
    lim.max_list = 64;
    lim.max_attachments = 8;
    int rc = sio_adapter_msg_decode(kind, p, n, &lim, &m, &reason);
    if (rc != 0) {
        if ((rc != SIO_EPROTO && rc != SIO_ELIMIT) || reason == NULL || m.arena_ != NULL)
            abort();
        return;
    }
    check_value(&m.packet.data, &lim);
    check_value(&m.data, &lim);
    for (size_t i = 0; i < m.nsockets; i++) {
        check_value(&m.sockets[i].handshake, &lim);
        check_value(&m.sockets[i].data, &lim);
    }
    sio_mp_buf_init(&out, 1u << 22);
    rc = sio_adapter_msg_encode(&m, &out, &reason);
    if (rc == 0) {
        /* What we write, we read back (limits relaxed: converted output may be larger). */
        sio_adapter_limits big;
        sio_adapter_limits_init(&big);
        if (sio_adapter_msg_decode(kind, out.p, out.len, &big, &again, &reason) != 0)
            abort();
        if (again.type != m.type || again.packet.attachments != m.packet.attachments)
            abort();
        sio_adapter_msg_deinit(&again);
    } else if (rc != SIO_EINVAL && rc != SIO_EPROTO && rc != SIO_ELIMIT) {
        abort();
    }
    sio_mp_buf_deinit(&out);
    sio_adapter_msg_deinit(&m);
}

static void check_python(const uint8_t *p, size_t n)
{
    sio_py_msg m, again;
    const char *reason = NULL;
    sio_mp_buf out;

    int rc = sio_py_msg_decode(p, n, NULL, &m, &reason);
    if (rc != 0) {
        if ((rc != SIO_EPROTO && rc != SIO_ELIMIT && rc != SIO_EUNSUPPORTED) || reason == NULL)
            abort();
        return;
    }
    sio_mp_buf_init(&out, 1u << 22);
    if (sio_py_msg_encode(&m, &out, &reason) == 0) {
        if (sio_py_msg_decode(out.p, out.len, NULL, &again, &reason) != 0 ||
            again.method != m.method)
            abort();
        sio_py_msg_deinit(&again);
    }
    sio_mp_buf_deinit(&out);
    sio_py_msg_deinit(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* Exact-size copy so ASan flags any read past the end. */
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return 0;
    if (len > 0)
        memcpy(buf, data + 1, len);
    switch (data[0] % 5) {
    case 0:
        check_adapter(SIO_ADAPTER_BROADCAST, buf, len);
        break;
    case 1:
        check_adapter(SIO_ADAPTER_REQUEST, buf, len);
        break;
    case 2:
        check_adapter(SIO_ADAPTER_RESPONSE, buf, len);
        break;
    case 3:
        check_adapter(SIO_ADAPTER_CLUSTER, buf, len);
        break;
    default:
        check_python(buf, len);
        break;
    }
    free(buf);
    return 0;
}
