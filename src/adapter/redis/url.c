/*
 * Pure parts of the Redis client: URL parsing, the Redis Cluster key slot (CRC16 with the hash
 * tag rule of the cluster specification, "Keys distribution model") and reply predicates. No I/O,
 * no allocation.
 */
#include "client.h"
#include "hex.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

static int fail(const char **reason, const char *why)
{
    if (reason)
        *reason = why;
    return SIO_EINVAL;
}

/* Percent-decodes [p, p+n) into out (cap bytes with the NUL). Returns 0 or -1. */
static int decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return -1;
            hi = sio_hex_value((unsigned char)p[i + 1]);
            lo = sio_hex_value((unsigned char)p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            if (c == '\0')
                return -1;
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Parses decimal digits [p, p+n) into *out <= max. Returns 0 or -1. */
static int parse_uint(const char *p, size_t n, long max, long *out)
{
    long v = 0;
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* userinfo = [user][:password] of n bytes. */
static int parse_userinfo(const char *p, size_t n, sio_redis_url *out, const char **reason)
{
    const char *colon = memchr(p, ':', n);
    size_t ulen = colon ? (size_t)(colon - p) : n;
    if (decode(p, ulen, out->user, sizeof(out->user)) < 0)
        return fail(reason, "bad or too long user name");
    if (colon) {
        size_t plen = n - ulen - 1;
        if (decode(colon + 1, plen, out->password, sizeof(out->password)) < 0)
            return fail(reason, "bad or too long password");
        out->has_password = 1;
    } else if (ulen > 0) {
        /* "redis://secret@host": Node's redis client and redis-cli both take a lone userinfo as
         * the password of the default user. */
        memcpy(out->password, out->user, ulen + 1);
        out->user[0] = '\0';
        out->has_password = 1;
    }
    return 0;
}

static int parse_unix(const char *p, sio_redis_url *out, const char **reason)
{
    const char *slash = strchr(p, '/');
    if (!slash)
        return fail(reason, "unix:// needs an absolute socket path");
    if (slash > p) {
        const char *at = memchr(p, '@', (size_t)(slash - p));
        if (!at || at + 1 != slash)
            return fail(reason, "unix:// takes no host");
        if (parse_userinfo(p, (size_t)(at - p), out, reason) < 0)
            return SIO_EINVAL;
    }
    const char *q = strchr(slash, '?');
    size_t plen = q ? (size_t)(q - slash) : strlen(slash);
    if (plen >= 108 || decode(slash, plen, out->host, sizeof(out->host)) < 0)
        return fail(reason, "bad or too long socket path");
    out->is_unix = 1;
    out->port = 0;
    if (q) {
        long db;
        if (strncmp(q, "?db=", 4) != 0 || parse_uint(q + 4, strlen(q + 4), INT_MAX, &db) < 0)
            return fail(reason, "unix:// takes only ?db=N");
        out->db = (int)db;
    }
    return 0;
}

int sio_redis_url_parse(const char *url, sio_redis_url *out, const char **reason)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (!url)
        return fail(reason, "no URL");
    const char *p;
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else if (strncmp(url, "rediss://", 9) == 0) {
        p = url + 9;
        out->tls = 1;
    } else if (strncmp(url, "unix://", 7) == 0) {
        return parse_unix(url + 7, out, reason);
    } else {
        return fail(reason, "scheme must be redis://, rediss:// or unix://");
    }
    /* authority ends at the first '/', '?' or '#'; userinfo at its last '@' (a password may hold
     * '@' only percent-encoded, but be lenient as Node's URL parser is) */
    size_t alen = strcspn(p, "/?#");
    const char *end = p + alen;
    const char *at = NULL;
    for (const char *s = p; s < end; s++)
        if (*s == '@')
            at = s;
    if (at) {
        if (parse_userinfo(p, (size_t)(at - p), out, reason) < 0)
            return SIO_EINVAL;
        p = at + 1;
    }
    const char *hend;
    const char *portp = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return fail(reason, "unterminated [IPv6] host");
        if (rb + 1 < end && rb[1] != ':')
            return fail(reason, "junk after [IPv6] host");
        if (rb + 1 < end)
            portp = rb + 2;
        p++;
        hend = rb;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
        if (colon)
            portp = colon + 1;
    }
    size_t hlen = (size_t)(hend - p);
    if (hlen == 0)
        return fail(reason, "no host");
    if (hlen > SIO_REDIS_HOST_MAX)
        return fail(reason, "host too long");
    for (size_t i = 0; i < hlen; i++)
        if (p[i] == '%' || p[i] == '@' || (unsigned char)p[i] <= ' ')
            return fail(reason, "bad character in host");
    memcpy(out->host, p, hlen);
    out->host[hlen] = '\0';
    if (portp) {
        long port;
        if (parse_uint(portp, (size_t)(end - portp), 65535, &port) < 0 || port == 0)
            return fail(reason, "bad port");
        out->port = (uint16_t)port;
    }
    if (*end == '/' && end[1] != '\0' && end[1] != '?' && end[1] != '#') {
        const char *d = end + 1;
        size_t dlen = strcspn(d, "?#");
        long db;
        if (parse_uint(d, dlen, INT_MAX, &db) < 0)
            return fail(reason, "database must be a decimal number");
        out->db = (int)db;
        end = d + dlen;
    } else if (*end == '/') {
        end++;
    }
    if (*end != '\0')
        return fail(reason, "query strings and fragments are not supported");
    return 0;
}

uint16_t sio_redis_crc16(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    return (uint16_t)crc;
}

unsigned sio_redis_key_slot(const void *key, size_t len)
{
    const char *k = key;
    const char *open = memchr(k, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - k) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return sio_redis_crc16(open + 1, (size_t)(close - open - 1)) & (SIO_REDIS_SLOTS - 1);
    }
    return sio_redis_crc16(k, len) & (SIO_REDIS_SLOTS - 1);
}

int sio_redis_reply_is_error(const sio_redis_reply *reply, const char *prefix)
{
    size_t n = strlen(prefix);
    return reply && reply->type == SIO_REDIS_REPLY_ERROR && reply->len >= n &&
           memcmp(reply->str, prefix, n) == 0;
}
