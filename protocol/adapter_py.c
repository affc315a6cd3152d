/*
 * python-socketio pub/sub messages (docs/protocol-adapter.md §5): JSON objects keyed by
 * "method". Publishers up to 5.13 sent pickles, which are refused with SIO_EUNSUPPORTED rather
 * than parsed: a pickle is a program for Python's unpickler, not data a C server may evaluate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "adapter_msg.h"
#include "adapter_node.h"
#include "json_scan.h"

static const char *const methods[] = {NULL,         "emit",       "disconnect", "enter_room",
                                      "leave_room", "close_room", "callback"};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

struct pctx {
    const sio_adapter_limits *lim;
    void **arena;
    const char *why;
};

static int pfail(struct pctx *c, int err, const char *why)
{
    c->why = why;
    return err;
}

static bool absent(const anode *root, const char *key, anode *v)
{
    return !anode_get(root, key, v) || anode_kind_of(v) == AN_NIL;
}

static int pstr(struct pctx *c, const anode *root, const char *key, sio_adapter_str *out)
{
    anode v;
    if (absent(root, key, &v))
        return 0;
    return anode_str(&v, c->arena, false, out) == 0 ? 0 : pfail(c, SIO_EPROTO, "expected a string");
}

/* room / skip_sid: null, one string, or a list of strings (a tuple arrives as a list). */
static int pstrs(struct pctx *c, const anode *root, const char *key, sio_adapter_strs *out)
{
    anode v, e;
    anode_iter it;
    long long count;

    if (absent(root, key, &v))
        return 0;
    if (anode_kind_of(&v) == AN_STR) {
        out->v = arena_alloc(c->arena, sizeof(*out->v));
        if (out->v == NULL)
            return pfail(c, SIO_ENOMEM, "out of memory");
        out->n = 1;
        out->present = true;
        return anode_str(&v, c->arena, false, out->v) == 0 ? 0 : pfail(c, SIO_EPROTO, "bad string");
    }
    count = anode_iter_init(&it, &v);
    if (count < 0 || it.is_map)
        return pfail(c, SIO_EPROTO, "expected a string or a list of strings");
    if ((unsigned long long)count > c->lim->max_list)
        return pfail(c, SIO_ELIMIT, "list too long");
    out->v = arena_alloc(c->arena, (size_t)count * sizeof(*out->v));
    if (out->v == NULL)
        return pfail(c, SIO_ENOMEM, "out of memory");
    out->present = true;
    while (anode_iter_next(&it, NULL, &e)) {
        if (anode_str(&e, c->arena, false, &out->v[out->n]) != 0)
            return pfail(c, SIO_EPROTO, "expected a list of strings");
        out->n++;
    }
    return 0;
}

/* callback: [room, namespace, id] or null. */
static int pcallback(struct pctx *c, const anode *root, sio_py_msg *m)
{
    anode v, room, nsp, id;
    anode_iter it;

    if (absent(root, "callback", &v))
        return 0;
    if (anode_iter_init(&it, &v) != 3 || it.is_map)
        return pfail(c, SIO_EPROTO, "callback is not [room, namespace, id]");
    anode_iter_next(&it, NULL, &room);
    anode_iter_next(&it, NULL, &nsp);
    anode_iter_next(&it, NULL, &id);
    if (anode_str(&room, c->arena, false, &m->cb_room) != 0 ||
        anode_str(&nsp, c->arena, false, &m->cb_nsp) != 0 || !anode_int(&id, &m->cb_id))
        return pfail(c, SIO_EPROTO, "callback is not [room, namespace, id]");
    m->has_callback = true;
    return 0;
}

static int pfields(struct pctx *c, const anode *root, sio_py_msg *m)
{
    anode v;
    bool b;
    int rc;

    if ((rc = pstr(c, root, "event", &m->event)) != 0 ||
        (rc = pstr(c, root, "namespace", &m->nsp)) != 0 ||
        (rc = pstr(c, root, "sid", &m->sid)) != 0 ||
        (rc = pstr(c, root, "host_id", &m->host_id)) != 0 ||
        (rc = pstrs(c, root, "room", &m->room)) != 0 ||
        (rc = pstrs(c, root, "skip_sid", &m->skip_sid)) != 0 || (rc = pcallback(c, root, m)) != 0)
        return rc;
    if (anode_get(root, "data", &v))
        m->data = (sio_adapter_value){SIO_ADAPTER_FMT_JSON, v.p, v.n, NULL, 0};
    if (anode_get(root, "args", &v))
        m->args = (sio_adapter_value){SIO_ADAPTER_FMT_JSON, v.p, v.n, NULL, 0};
    if (!absent(root, "binary", &v)) {
        if (!anode_bool(&v, &b))
            return pfail(c, SIO_EPROTO, "binary is not a boolean");
        m->binary = b;
    }
    if (!absent(root, "id", &v) && !anode_int(&v, &m->id))
        return pfail(c, SIO_EPROTO, "id is not an integer");
    return 0;
}

static int pcheck(struct pctx *c, const sio_py_msg *m)
{
    switch (m->method) {
    case SIO_PY_EMIT:
        return m->event.p != NULL ? 0 : pfail(c, SIO_EPROTO, "emit without event");
    case SIO_PY_DISCONNECT:
        return m->sid.p != NULL ? 0 : pfail(c, SIO_EPROTO, "disconnect without sid");
    case SIO_PY_ENTER_ROOM:
    case SIO_PY_LEAVE_ROOM:
        return m->sid.p != NULL && m->room.n == 1
                   ? 0
                   : pfail(c, SIO_EPROTO, "room change without sid/room");
    case SIO_PY_CLOSE_ROOM:
        return m->room.n == 1 ? 0 : pfail(c, SIO_EPROTO, "close_room without room");
    case SIO_PY_CALLBACK:
        return m->sid.p != NULL && m->id >= 0 && m->host_id.p != NULL
                   ? 0
                   : pfail(c, SIO_EPROTO, "callback without sid, id or host_id");
    }
    return pfail(c, SIO_EPROTO, "unknown method");
}

int sio_py_msg_decode(const uint8_t *p, size_t n, const sio_adapter_limits *lim, sio_py_msg *m,
                      const char **reason)
{
    sio_adapter_limits def;
    struct pctx c;
    anode root, v;
    int rc = 0;

    if (lim == NULL) {
        sio_adapter_limits_init(&def);
        lim = &def;
    }
    memset(m, 0, sizeof(*m));
    m->binary = -1;
    m->cb_id = -1;
    m->id = -1;
    c = (struct pctx){lim, &m->arena_, NULL};
    root = (anode){SIO_ADAPTER_FMT_JSON, p, n};
    if (n > lim->max_bytes)
        rc = pfail(&c, SIO_ELIMIT, "message too large");
    else if (n > 0 && p[0] == 0x80)
        rc = pfail(&c, SIO_EUNSUPPORTED, "pickled python-socketio message (publisher <= 5.13)");
    else if ((rc = sio_json_validate((const char *)p, n, lim->max_depth, &c.why)) != 0)
        ;
    else if (anode_kind_of(&root) != AN_MAP)
        rc = pfail(&c, SIO_EPROTO, "message is not a JSON object");
    else if (!anode_get(&root, "method", &v) || anode_kind_of(&v) != AN_STR)
        rc = pfail(&c, SIO_EPROTO, "message without method");
    if (rc == 0) {
        for (size_t i = 1; i < NMETHODS; i++)
            if (anode_str_eq(&v, methods[i], strlen(methods[i])))
                m->method = (sio_py_method)i;
        if ((rc = pfields(&c, &root, m)) == 0)
            rc = pcheck(&c, m);
    }
    if (rc != 0) {
        if (reason != NULL)
            *reason = c.why != NULL ? c.why : "malformed message";
        sio_py_msg_deinit(m);
    }
    return rc;
}

void sio_py_msg_deinit(sio_py_msg *m)
{
    arena_free(&m->arena_);
    memset(m, 0, sizeof(*m));
    m->binary = -1;
    m->cb_id = -1;
    m->id = -1;
}

/* ---- encoding: compact JSON, python-socketio's member order (§5.2, §5.3) ---- */

static void key(sio_mp_buf *b, bool *first, const char *k)
{
    if (!*first)
        sio_mp_buf_put(b, ",", 1);
    *first = false;
    sio_mp_buf_put(b, "\"", 1);
    sio_mp_buf_put(b, k, strlen(k));
    sio_mp_buf_put(b, "\":", 2);
}

static void jstr(sio_mp_buf *b, sio_adapter_str s)
{
    if (s.p == NULL) {
        sio_mp_buf_put(b, "null", 4);
        return;
    }
    size_t len = sio_json_write_string(NULL, 0, s.p, s.n);
    char *tmp = malloc(len + 1);
    if (tmp == NULL) {
        if (b->err == 0)
            b->err = SIO_ENOMEM;
        return;
    }
    sio_json_write_string(tmp, len + 1, s.p, s.n);
    sio_mp_buf_put(b, tmp, len);
    free(tmp);
}

static void jstrs(sio_mp_buf *b, const sio_adapter_strs *l)
{
    if (!l->present) {
        sio_mp_buf_put(b, "null", 4);
    } else if (l->n == 1) {
        jstr(b, l->v[0]);
    } else {
        sio_mp_buf_put(b, "[", 1);
        for (size_t i = 0; i < l->n; i++) {
            if (i > 0)
                sio_mp_buf_put(b, ",", 1);
            jstr(b, l->v[i]);
        }
        sio_mp_buf_put(b, "]", 1);
    }
}

static void jint(sio_mp_buf *b, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
    sio_mp_buf_put(b, buf, (size_t)n);
}

static int jvalue(sio_mp_buf *b, const sio_adapter_value *v, const char **reason)
{
    size_t natt = 0;
    if (v->p == NULL) {
        sio_mp_buf_put(b, "null", 4);
        return 0;
    }
    return sio_adapter_value_to_json(v, NULL, b, NULL, 0, &natt, reason);
}

int sio_py_msg_encode(const sio_py_msg *m, sio_mp_buf *out, const char **reason)
{
    bool first = true;
    sio_adapter_str nsp = m->nsp.p != NULL ? m->nsp : (sio_adapter_str){"/", 1};
    int rc = 0;

    if (m->method < SIO_PY_EMIT || m->method > SIO_PY_CALLBACK) {
        if (reason != NULL)
            *reason = "unknown method";
        return SIO_EINVAL;
    }
    sio_mp_buf_put(out, "{", 1);
    key(out, &first, "method");
    jstr(out, (sio_adapter_str){methods[m->method], strlen(methods[m->method])});
    switch (m->method) {
    case SIO_PY_EMIT:
        key(out, &first, "event");
        jstr(out, m->event);
        key(out, &first, "data");
        rc = jvalue(out, &m->data, reason);
        if (m->binary >= 0) {
            key(out, &first, "binary");
            sio_mp_buf_put(out, m->binary ? "true" : "false", m->binary ? 4 : 5);
        }
        key(out, &first, "namespace");
        jstr(out, nsp);
        key(out, &first, "room");
        jstrs(out, &m->room);
        key(out, &first, "skip_sid");
        jstrs(out, &m->skip_sid);
        key(out, &first, "callback");
        if (m->has_callback) {
            sio_mp_buf_put(out, "[", 1);
            jstr(out, m->cb_room);
            sio_mp_buf_put(out, ",", 1);
            jstr(out, m->cb_nsp);
            sio_mp_buf_put(out, ",", 1);
            jint(out, m->cb_id);
            sio_mp_buf_put(out, "]", 1);
        } else {
            sio_mp_buf_put(out, "null", 4);
        }
        break;
    case SIO_PY_DISCONNECT:
    case SIO_PY_ENTER_ROOM:
    case SIO_PY_LEAVE_ROOM:
        key(out, &first, "sid");
        jstr(out, m->sid);
        if (m->method != SIO_PY_DISCONNECT) {
            key(out, &first, "room");
            jstrs(out, &m->room);
        }
        key(out, &first, "namespace");
        jstr(out, nsp);
        break;
    case SIO_PY_CLOSE_ROOM:
        key(out, &first, "room");
        jstrs(out, &m->room);
        key(out, &first, "namespace");
        jstr(out, nsp);
        break;
    case SIO_PY_CALLBACK:
        key(out, &first, "host_id");
        jstr(out, m->host_id);
        key(out, &first, "sid");
        jstr(out, m->sid);
        key(out, &first, "namespace");
        jstr(out, nsp);
        key(out, &first, "id");
        jint(out, m->id);
        key(out, &first, "args");
        if (rc == 0)
            rc = jvalue(out, &m->args, reason);
        break;
    }
    if (m->method != SIO_PY_CALLBACK && m->host_id.p != NULL) {
        key(out, &first, "host_id");
        jstr(out, m->host_id);
    }
    sio_mp_buf_put(out, "}", 1);
    if (rc == 0 && out->err != 0) {
        rc = out->err;
        if (reason != NULL)
            *reason = rc == SIO_ENOMEM ? "out of memory" : "output too large";
    }
    return rc;
}
