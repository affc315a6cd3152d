/*
 * Socket.IO v5 packet codec. Decoding mirrors socket.io-parser's Decoder.decodeString and
 * isPayloadValid (docs/protocol.md §2.1, §2.4, §2.5) but is stricter where the reference leans on
 * JS coercion (Number(" ") == 0): counts and ids are plain ASCII digits. No allocation, no logging.
 */
#include "sio_packet.h"

#include <stddef.h>
#include <string.h>

#include <sio/error.h>

#include "json_scan.h"

static const char root_nsp[] = "/";

/* socket.io-parser RESERVED_EVENTS: names with a meaning of their own on either side. */
static const struct {
    const char *name;
    size_t len;
} reserved[] = {
    {"connect", 7},        {"connect_error", 13}, {"disconnect", 10},
    {"disconnecting", 13}, {"newListener", 11},   {"removeListener", 14},
};

#define NRESERVED (sizeof(reserved) / sizeof(reserved[0]))

void sio_packet_limits_init(sio_packet_limits *l)
{
    l->max_attachments = 10;
    l->max_json_depth = 32;
    l->max_nsp_len = 256;
}

const char *sio_packet_type_name(sio_packet_type type)
{
    static const char *const names[] = {"CONNECT",       "DISCONNECT",   "EVENT",     "ACK",
                                        "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"};
    return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "UNKNOWN";
}

/* Lengths of the reserved names (7, 10, 11, 13, 14) as bits: most names are ruled out by this. */
#define RESERVED_LENGTHS ((1u << 7) | (1u << 10) | (1u << 11) | (1u << 13) | (1u << 14))

bool sio_packet_event_is_reserved(const char *s, size_t n)
{
    if (n > 14 || !(RESERVED_LENGTHS & (1u << n)))
        return false;
    for (size_t i = 0; i < NRESERVED; i++)
        if (n == reserved[i].len && memcmp(s, reserved[i].name, n) == 0)
            return true;
    return false;
}

static bool literal_is_reserved(const char *lit, size_t n)
{
    /* Without escapes the literal's body is the name itself. */
    if (n >= 2 && !memchr(lit + 1, '\\', n - 2))
        return sio_packet_event_is_reserved(lit + 1, n - 2);
    for (size_t i = 0; i < NRESERVED; i++)
        if (sio_json_string_eq(lit, n, reserved[i].name, reserved[i].len))
            return true;
    return false;
}

static bool is_binary(sio_packet_type t)
{
    return t == SIO_PACKET_BINARY_EVENT || t == SIO_PACKET_BINARY_ACK;
}

static int fail(const char **why, int err, const char *reason)
{
    *why = reason;
    return err;
}

/* "<digits>-" after a BINARY_* type digit. Stops at the first digit past the limit, so a
 * 10^6-digit count costs nothing and cannot overflow. */
static int parse_attachments(const char *p, size_t n, size_t *i, unsigned max, unsigned *out,
                             const char **why)
{
    size_t start = *i;
    unsigned long long v = 0;

    while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
        v = v * 10 + (unsigned)(p[*i] - '0');
        if (v > max)
            return fail(why, SIO_ELIMIT, "too many attachments");
        (*i)++;
    }
    if (*i == start || *i == n || p[*i] != '-')
        return fail(why, SIO_EPROTO, "illegal attachments");
    if (v == 0)
        return fail(why, SIO_EPROTO, "illegal attachments: count must be at least 1");
    (*i)++;
    *out = (unsigned)v;
    return 0;
}

/* The namespace runs from '/' to the first ',' (consumed) or to the end of input. */
static int parse_nsp(const char *p, size_t n, size_t *i, size_t max, sio_packet *out,
                     const char **why)
{
    if (*i == n || p[*i] != '/')
        return 0;
    const char *comma = memchr(p + *i, ',', n - *i);
    size_t end = comma != NULL ? (size_t)(comma - p) : n;
    if (end - *i > max)
        return fail(why, SIO_ELIMIT, "namespace too long");
    out->nsp = p + *i;
    out->nsp_len = end - *i;
    *i = comma != NULL ? end + 1 : n;
    return 0;
}

/* Ack ids travel as JS numbers; beyond 2^53 - 1 they would silently lose precision there. */
static int parse_id(const char *p, size_t n, size_t *i, sio_packet *out, const char **why)
{
    uint64_t v = 0;
    size_t start = *i;

    while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
        v = v * 10 + (uint64_t)(p[*i] - '0');
        if (v > SIO_JSON_MAX_SAFE_INT)
            return fail(why, SIO_EPROTO, "ack id too large");
        (*i)++;
    }
    if (*i > start)
        out->id = (int64_t)v;
    return 0;
}

static int check_event(sio_packet *pk, const char **why)
{
    if (pk->data == NULL || sio_json_type_of(pk->data, pk->data_len) != SIO_JSON_ARRAY)
        return fail(why, SIO_EPROTO, "invalid payload: event must be an array");
    if (pk->nelems == 0)
        return fail(why, SIO_EPROTO, "invalid payload: event array is empty");
    const char *v = pk->data + pk->elems[0].off;
    size_t vl = pk->elems[0].len;
    switch (sio_json_type_of(v, vl)) {
    case SIO_JSON_NUMBER:
        break;
    case SIO_JSON_STRING:
        if (literal_is_reserved(v, vl))
            return fail(why, SIO_EPROTO, "invalid payload: reserved event name");
        break;
    default:
        return fail(why, SIO_EPROTO, "invalid payload: event name must be a string or number");
    }
    pk->event = v;
    pk->event_len = vl;
    return 0;
}

/* socket.io-parser isPayloadValid, per type. */
static int check_payload(sio_packet *pk, const char **why)
{
    sio_json_type t =
        pk->data != NULL ? sio_json_type_of(pk->data, pk->data_len) : SIO_JSON_INVALID;

    switch (pk->type) {
    case SIO_PACKET_CONNECT:
        if (pk->data != NULL && t != SIO_JSON_OBJECT)
            return fail(why, SIO_EPROTO, "invalid payload: CONNECT data must be an object");
        return 0;
    case SIO_PACKET_DISCONNECT:
        if (pk->data != NULL)
            return fail(why, SIO_EPROTO, "invalid payload: DISCONNECT takes no data");
        return 0;
    case SIO_PACKET_CONNECT_ERROR:
        if (t != SIO_JSON_OBJECT && t != SIO_JSON_STRING)
            return fail(why, SIO_EPROTO,
                        "invalid payload: CONNECT_ERROR data must be an object or string");
        return 0;
    case SIO_PACKET_ACK:
    case SIO_PACKET_BINARY_ACK:
        if (t != SIO_JSON_ARRAY)
            return fail(why, SIO_EPROTO, "invalid payload: ACK data must be an array");
        if (pk->id < 0)
            return fail(why, SIO_EPROTO, "ACK without id");
        return 0;
    default:
        return check_event(pk, why);
    }
}

/* The payload without the white space around it; element offsets follow its start. */
static void set_payload(sio_packet *pk, const char *p, size_t n)
{
    size_t lead = 0;
    while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
        n--;
        lead++;
    }
    for (size_t k = 0; lead && k < pk->nelems && k < SIO_PACKET_INDEXED; k++)
        pk->elems[k].off -= lead;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    pk->data = p;
    pk->data_len = n;
}

static int decode_header(const char *p, size_t n, const sio_packet_limits *lim, sio_packet *out,
                         size_t *i, const char **why)
{
    int rc;

    if (n == 0)
        return fail(why, SIO_EPROTO, "empty packet");
    if (p[0] < '0' || p[0] > '6')
        return fail(why, SIO_EPROTO, "unknown packet type");
    out->type = (sio_packet_type)(p[0] - '0');
    *i = 1;
    if (is_binary(out->type)) {
        rc = parse_attachments(p, n, i, lim->max_attachments, &out->attachments, why);
        if (rc != 0)
            return rc;
    }
    rc = parse_nsp(p, n, i, lim->max_nsp_len, out, why);
    if (rc != 0)
        return rc;
    return parse_id(p, n, i, out, why);
}

int sio_packet_decode(const char *p, size_t n, const sio_packet_limits *lim, sio_packet *out,
                      const char **reason)
{
    sio_packet_limits def;
    const char *why = NULL;
    size_t i = 0;
    int rc;

    if (lim == NULL) {
        sio_packet_limits_init(&def);
        lim = &def;
    }
    memset(out, 0, offsetof(sio_packet, elems)); /* elems[k] is set for every k < nelems */
    out->nsp = root_nsp;
    out->nsp_len = 1;
    out->id = -1;
    rc = decode_header(p, p != NULL ? n : 0, lim, out, &i, &why);
    if (rc == 0 && i < n) {
        rc = sio_json_validate_array(p + i, n - i, lim->max_json_depth, &why, out->elems,
                                     SIO_PACKET_INDEXED, &out->nelems);
        if (rc == 0)
            set_payload(out, p + i, n - i);
    }
    if (rc == 0)
        rc = check_payload(out, &why);
    if (rc != 0 && reason != NULL)
        *reason = why;
    return rc;
}

static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len < cap)
        memcpy(out + *len, s, cap - *len < n ? cap - *len : n);
    *len += n;
}

static void put_uint(char *out, size_t cap, size_t *len, uint64_t v)
{
    char digits[20];
    size_t k = sizeof(digits);

    do {
        digits[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    put(out, cap, len, digits + k, sizeof(digits) - k);
}

size_t sio_packet_encode_header(char *out, size_t cap, sio_packet_type type, const char *nsp,
                                size_t nsp_len, int64_t id, unsigned attachments)
{
    char t = (char)('0' + (int)type);
    size_t len = 0;

    put(out, cap, &len, &t, 1);
    if (is_binary(type)) {
        put_uint(out, cap, &len, attachments);
        put(out, cap, &len, "-", 1);
    }
    if (nsp != NULL && nsp_len > 0 && !(nsp_len == 1 && nsp[0] == '/')) {
        put(out, cap, &len, nsp, nsp_len);
        put(out, cap, &len, ",", 1);
    }
    if (id >= 0)
        put_uint(out, cap, &len, (uint64_t)id);
    if (cap > 0)
        out[len < cap ? len : cap - 1] = '\0';
    return len;
}
