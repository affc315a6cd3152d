/*
 * Payload conversions for the adapter codec (docs/protocol-adapter.md §3.4): msgpack -> JSON text
 * with Socket.IO binary placeholders, and JSON text (+ attachments) -> msgpack packed like
 * notepack.io. Both recurse once per nesting level, bounded by the validated depth limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

#include "adapter_msg.h"
#include "adapter_node.h"
#include "json_scan.h"
#include "msgpack.h"

/* Conversion state: the limits, the output, the attachment list and the first error's reason. */
struct conv {
    const sio_adapter_limits *lim;
    sio_mp_buf *out;
    sio_adapter_bin *att;
    size_t cap, natt;
    const sio_adapter_value *src;
    const char *why;
};

static int cfail(struct conv *c, int err, const char *why)
{
    c->why = why;
    return err;
}

static void puts_(sio_mp_buf *b, const char *s)
{
    sio_mp_buf_put(b, s, strlen(s));
}

/*
 * A double as JS Number#toString prints it (ECMA-262 Number::toString): the shortest digit
 * string that round-trips, fixed notation for decimal exponents in [-6, 21), else d.ddde+N.
 * Writes at most 32 bytes including the NUL. Non-finite values print as "null" (JSON.stringify).
 */
static void js_number(double d, char out[32])
{
    char e[40], digits[20];
    int k = 0, exp10 = 0, p;
    size_t o = 0;

    if (d != d || d - d != 0) {
        strcpy(out, "null");
        return;
    }
    if (d == 0) {
        strcpy(out, "0");
        return;
    }
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof(e), "%.*e", p - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e is "[-]d[.ddd]e[+-]XX". */
    const char *s = e;
    if (*s == '-') {
        out[o++] = '-';
        s++;
    }
    for (; *s != 'e'; s++)
        if (*s != '.')
            digits[k++] = *s;
    exp10 = atoi(s + 1);
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int n = exp10 + 1; /* value = 0.digits * 10^n */
    if (k <= n && n <= 21) {
        memcpy(out + o, digits, (size_t)k);
        o += (size_t)k;
        for (int z = k; z < n; z++)
            out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + o, digits, (size_t)n);
        o += (size_t)n;
        out[o++] = '.';
        memcpy(out + o, digits + n, (size_t)(k - n));
        o += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = 0; z < -n; z++)
            out[o++] = '0';
        memcpy(out + o, digits, (size_t)k);
        o += (size_t)k;
    } else {
        out[o++] = digits[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)(k - 1));
            o += (size_t)(k - 1);
        }
        o += (size_t)snprintf(out + o, 32 - o, "e%c%d", n - 1 >= 0 ? '+' : '-',
                              n - 1 >= 0 ? n - 1 : 1 - n);
    }
    out[o] = '\0';
}

static void json_str(sio_mp_buf *b, const void *s, size_t n)
{
    char small[128];
    size_t len = sio_json_write_string(small, sizeof(small), s, n);
    if (len < sizeof(small)) {
        sio_mp_buf_put(b, small, len);
        return;
    }
    char *big = malloc(len + 1);
    if (big == NULL) {
        if (b->err == 0)
            b->err = SIO_ENOMEM;
        return;
    }
    sio_json_write_string(big, len + 1, s, n);
    sio_mp_buf_put(b, big, len);
    free(big);
}

static int placeholder(struct conv *c, const uint8_t *p, size_t n)
{
    char buf[64];
    if (c->natt >= c->cap || c->natt >= c->lim->max_attachments)
        return cfail(c, SIO_ELIMIT, "too many binary attachments");
    c->att[c->natt] = (sio_adapter_bin){p, n};
    snprintf(buf, sizeof(buf), "{\"_placeholder\":true,\"num\":%zu}", c->natt++);
    puts_(c->out, buf);
    return 0;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Timestamp ext -1 (32/64/96-bit forms) as Date#toJSON prints it; null when out of JS range. */
static void timestamp(sio_mp_buf *b, const uint8_t *p, uint32_t len)
{
    int64_t sec;
    uint32_t ns = 0;
    const int64_t max_ms = 8640000000000000ll; /* ECMA-262 time value range */

    if (len == 4) {
        sec = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    } else if (len == 8) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | p[i];
        ns = (uint32_t)(v >> 34);
        sec = (int64_t)(v & 0x3ffffffffull);
    } else if (len == 12) {
        uint64_t v = 0;
        ns = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        for (int i = 4; i < 12; i++)
            v = v << 8 | p[i];
        sec = (int64_t)v;
    } else {
        puts_(b, "null");
        return;
    }
    if (sec > max_ms / 1000 || sec < -max_ms / 1000) {
        puts_(b, "null");
        return;
    }
    int64_t ms = sec * 1000 + ns / 1000000;
    int64_t days = (ms >= 0 ? ms : ms - 86399999) / 86400000;
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned mo, d;
    char buf[48];
    civil(days, &y, &mo, &d);
    if (y >= 0 && y <= 9999)
        snprintf(buf, sizeof(buf), "\"%04lld", (long long)y);
    else
        snprintf(buf, sizeof(buf), "\"%c%06lld", y < 0 ? '-' : '+', (long long)(y < 0 ? -y : y));
    puts_(b, buf);
    snprintf(buf, sizeof(buf), "-%02u-%02uT%02u:%02u:%02u.%03uZ\"", mo, d,
             (unsigned)(rem / 3600000), (unsigned)(rem / 60000 % 60), (unsigned)(rem / 1000 % 60),
             (unsigned)(rem % 1000));
    puts_(b, buf);
}

static int mp_to_json(struct conv *c, sio_mp_reader *r, unsigned depth);

/* Map key: JS turns any primitive key into a property name (String(key)). */
static int mp_key(struct conv *c, sio_mp_reader *r)
{
    sio_mp_item it;
    char num[32];
    sio_mp_read(r, &it, NULL);
    switch (it.type) {
    case SIO_MP_STR:
        json_str(c->out, it.p, it.len);
        return 0;
    case SIO_MP_UINT:
        js_number((double)it.u, num);
        break;
    case SIO_MP_INT:
        js_number((double)it.i, num);
        break;
    case SIO_MP_FLOAT32:
    case SIO_MP_FLOAT64:
        if (it.f != it.f)
            strcpy(num, "NaN");
        else if (it.f - it.f != 0)
            strcpy(num, it.f > 0 ? "Infinity" : "-Infinity");
        else
            js_number(it.f, num);
        break;
    case SIO_MP_NIL:
        strcpy(num, "null");
        break;
    case SIO_MP_BOOL:
        strcpy(num, it.b ? "true" : "false");
        break;
    default:
        return cfail(c, SIO_EPROTO, "msgpack map key is not a string or scalar");
    }
    json_str(c->out, num, strlen(num));
    return 0;
}

/* True when the next value is notepack 2.x's undefined (fixext1 type 0), which JSON drops. */
static bool next_is_undefined(const sio_mp_reader *r)
{
    return r->n - r->pos >= 3 && r->p[r->pos] == 0xd4 && r->p[r->pos + 1] == 0;
}

static int mp_container(struct conv *c, sio_mp_reader *r, const sio_mp_item *it, unsigned depth)
{
    bool map = it->type == SIO_MP_MAP, first = true;
    int rc;

    sio_mp_buf_put(c->out, map ? "{" : "[", 1);
    for (uint32_t i = 0; i < it->count; i++) {
        if (map) {
            sio_mp_reader k = *r;
            if (sio_mp_skip(r, NULL) != 0)
                return cfail(c, SIO_EPROTO, "msgpack: truncated");
            if (next_is_undefined(r)) {
                sio_mp_skip(r, NULL);
                continue;
            }
            if (!first)
                sio_mp_buf_put(c->out, ",", 1);
            if ((rc = mp_key(c, &k)) != 0)
                return rc;
            sio_mp_buf_put(c->out, ":", 1);
        } else if (!first) {
            sio_mp_buf_put(c->out, ",", 1);
        }
        first = false;
        if ((rc = mp_to_json(c, r, depth + 1)) != 0)
            return rc;
    }
    sio_mp_buf_put(c->out, map ? "}" : "]", 1);
    return 0;
}

static int mp_to_json(struct conv *c, sio_mp_reader *r, unsigned depth)
{
    sio_mp_item it;
    char num[32];

    if (depth > SIO_MP_DEPTH_CAP || sio_mp_read(r, &it, &c->why) != 0)
        return cfail(c, SIO_EPROTO, "msgpack: malformed value");
    switch (it.type) {
    case SIO_MP_NIL:
        puts_(c->out, "null");
        return 0;
    case SIO_MP_BOOL:
        puts_(c->out, it.b ? "true" : "false");
        return 0;
    case SIO_MP_UINT:
        js_number((double)it.u, num);
        puts_(c->out, num);
        return 0;
    case SIO_MP_INT:
        js_number((double)it.i, num);
        puts_(c->out, num);
        return 0;
    case SIO_MP_FLOAT32:
    case SIO_MP_FLOAT64:
        js_number(it.f, num);
        puts_(c->out, num);
        return 0;
    case SIO_MP_STR:
        json_str(c->out, it.p, it.len);
        return 0;
    case SIO_MP_BIN:
        return placeholder(c, it.p, it.len);
    case SIO_MP_ARRAY:
    case SIO_MP_MAP:
        return mp_container(c, r, &it, depth);
    case SIO_MP_EXT:
        break;
    }
    /* notepack 3 decoding of ext values (docs/protocol-adapter.md §3.3). */
    if (it.ext_type == 0 && it.marker == 0xd4) {
        puts_(c->out, "null"); /* undefined, inside an array or at the top */
        return 0;
    }
    if (it.ext_type == 0 && it.marker >= 0xc7 && it.marker <= 0xc9)
        return placeholder(c, it.p, it.len);
    if (it.ext_type == -1) {
        timestamp(c->out, it.p, it.len);
        return 0;
    }
    snprintf(num, sizeof(num), "[%d,", it.ext_type);
    puts_(c->out, num);
    int rc = placeholder(c, it.p, it.len);
    sio_mp_buf_put(c->out, "]", 1);
    return rc;
}

static int out_err(struct conv *c)
{
    if (c->out->err != 0)
        return cfail(c, c->out->err,
                     c->out->err == SIO_ENOMEM ? "out of memory" : "output too large");
    return 0;
}

int sio_adapter_value_to_json(const sio_adapter_value *v, const sio_adapter_limits *lim,
                              sio_mp_buf *out, sio_adapter_bin *att, size_t cap, size_t *natt,
                              const char **reason)
{
    sio_adapter_limits def;
    struct conv c = {0};
    int rc;

    if (lim == NULL) {
        sio_adapter_limits_init(&def);
        lim = &def;
    }
    c = (struct conv){lim, out, att, att != NULL ? cap : 0, 0, v, NULL};
    if (natt != NULL)
        *natt = 0;
    if (v->p == NULL) {
        rc = cfail(&c, SIO_EINVAL, "no value");
    } else if (v->fmt == SIO_ADAPTER_FMT_JSON) {
        rc = sio_json_validate((const char *)v->p, v->n, lim->max_depth, &c.why);
        if (rc == 0)
            sio_mp_buf_put(out, v->p, v->n);
    } else {
        sio_mp_limits ml = {lim->max_bytes, lim->max_depth, lim->max_elements};
        ssize_t len = sio_mp_validate(v->p, v->n, &ml, &c.why);
        sio_mp_reader r;
        if (len < 0) {
            rc = (int)len;
        } else if ((size_t)len != v->n) {
            rc = cfail(&c, SIO_EPROTO, "msgpack: trailing bytes");
        } else {
            sio_mp_reader_init(&r, v->p, v->n);
            rc = mp_to_json(&c, &r, 0);
        }
    }
    if (rc == 0)
        rc = out_err(&c);
    if (natt != NULL)
        *natt = c.natt;
    if (rc != 0 && reason != NULL)
        *reason = c.why;
    return rc;
}

/* ---- JSON -> msgpack ---- */

static int json_to_mp(struct conv *c, const char *p, size_t n, unsigned depth);

static int put_json_string(struct conv *c, const char *lit, size_t n)
{
    char small[128];
    char *buf = n <= sizeof(small) ? small : malloc(n);
    if (buf == NULL)
        return cfail(c, SIO_ENOMEM, "out of memory");
    ssize_t len = sio_json_string_unescape(lit, n, buf, n);
    if (len >= 0)
        sio_mp_write_str(c->out, buf, (size_t)len);
    if (buf != small)
        free(buf);
    return len >= 0 ? 0 : cfail(c, SIO_EPROTO, "bad JSON string");
}

/* socket.io-parser reconstructPacket: an object whose _placeholder is true stands for
 * attachment num, which must be a valid index (docs/protocol-adapter.md §3.4). Returns 1 when
 * obj was a placeholder (and wrote the bin), 0 when it is an ordinary object, or an error. */
static int try_placeholder(struct conv *c, const char *p, size_t n)
{
    anode obj = {SIO_ADAPTER_FMT_JSON, (const uint8_t *)p, n}, v;
    bool b;
    int64_t num;

    if (c->src->natt == 0 || !anode_get(&obj, "_placeholder", &v) || !anode_bool(&v, &b) || !b)
        return 0;
    if (!anode_get(&obj, "num", &v) || !anode_int(&v, &num) || num < 0 ||
        (uint64_t)num >= c->src->natt)
        return cfail(c, SIO_EPROTO, "illegal attachment placeholder");
    sio_mp_write_bin(c->out, c->src->att[num].p, c->src->att[num].n);
    return 1;
}

static int json_container(struct conv *c, const char *p, size_t n, bool obj, unsigned depth)
{
    sio_json_iter it, cnt;
    const char *k, *v;
    size_t kn, vn;
    uint32_t count = 0;
    int rc;

    sio_json_iter_init(&it, p, n);
    cnt = it;
    while (sio_json_iter_next(&cnt, NULL, NULL, &v, &vn) == 1)
        count++;
    if (obj)
        sio_mp_write_map(c->out, count);
    else
        sio_mp_write_array(c->out, count);
    while (sio_json_iter_next(&it, &k, &kn, &v, &vn) == 1) {
        if (obj && (rc = put_json_string(c, k, kn)) != 0)
            return rc;
        if ((rc = json_to_mp(c, v, vn, depth + 1)) != 0)
            return rc;
    }
    return 0;
}

static int json_to_mp(struct conv *c, const char *p, size_t n, unsigned depth)
{
    if (depth > SIO_JSON_DEPTH_CAP)
        return cfail(c, SIO_ELIMIT, "JSON nesting too deep");
    switch (sio_json_type_of(p, n)) {
    case SIO_JSON_NULL:
        sio_mp_write_nil(c->out);
        return 0;
    case SIO_JSON_TRUE:
    case SIO_JSON_FALSE:
        sio_mp_write_bool(c->out, sio_json_type_of(p, n) == SIO_JSON_TRUE);
        return 0;
    case SIO_JSON_NUMBER: {
        char small[64];
        char *buf = n < sizeof(small) ? small : malloc(n + 1);
        if (buf == NULL)
            return cfail(c, SIO_ENOMEM, "out of memory");
        memcpy(buf, p, n);
        buf[n] = '\0';
        sio_mp_write_number(c->out, strtod(buf, NULL));
        if (buf != small)
            free(buf);
        return 0;
    }
    case SIO_JSON_STRING:
        return put_json_string(c, p, n);
    case SIO_JSON_ARRAY:
        return json_container(c, p, n, false, depth);
    case SIO_JSON_OBJECT: {
        int rc = try_placeholder(c, p, n);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        return json_container(c, p, n, true, depth);
    }
    default:
        return cfail(c, SIO_EPROTO, "invalid JSON");
    }
}

int sio_adapter_value_to_msgpack(const sio_adapter_value *v, const sio_adapter_limits *lim,
                                 sio_mp_buf *out, const char **reason)
{
    sio_adapter_limits def;
    struct conv c;
    int rc;

    if (lim == NULL) {
        sio_adapter_limits_init(&def);
        lim = &def;
    }
    c = (struct conv){lim, out, NULL, 0, 0, v, NULL};
    if (v->p == NULL) {
        rc = cfail(&c, SIO_EINVAL, "no value");
    } else if (v->fmt == SIO_ADAPTER_FMT_MSGPACK) {
        sio_mp_limits ml = {lim->max_bytes, lim->max_depth, lim->max_elements};
        ssize_t len = sio_mp_validate(v->p, v->n, &ml, &c.why);
        rc = len < 0               ? (int)len
             : (size_t)len != v->n ? cfail(&c, SIO_EPROTO, "msgpack: trailing bytes")
                                   : 0;
        if (rc == 0)
            sio_mp_buf_put(out, v->p, v->n);
    } else {
        rc = sio_json_validate((const char *)v->p, v->n, lim->max_depth, &c.why);
        if (rc == 0) {
            /* Trim the whitespace validate allows around the value. */
            const char *s = (const char *)v->p;
            size_t a = 0, b = v->n;
            while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r' || s[a] == '\n'))
                a++;
            while (b > a &&
                   (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r' || s[b - 1] == '\n'))
                b--;
            rc = json_to_mp(&c, s + a, b - a, 0);
        }
    }
    if (rc == 0)
        rc = out_err(&c);
    if (rc != 0 && reason != NULL)
        *reason = c.why;
    return rc;
}
