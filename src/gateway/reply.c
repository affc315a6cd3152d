/* The gateway's reply writer and payload fast path (reply.h). */
#include "gateway/reply.h"

#include <stdlib.h>
#include <string.h>

static void reserve(gw_reply *w, size_t more)
{
    if (w->oom || w->n + more + 1 <= w->cap)
        return;
    size_t cap = w->cap * 2;
    while (cap < w->n + more + 1)
        cap *= 2;
    char *p = w->p == w->inl ? malloc(cap) : realloc(w->p, cap);
    if (!p) {
        w->oom = 1;
        return;
    }
    if (w->p == w->inl)
        memcpy(p, w->inl, w->n);
    w->p = p;
    w->cap = cap;
}

static void put(gw_reply *w, const char *s, size_t n)
{
    reserve(w, n);
    if (w->oom)
        return;
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

/* `,"key":` (the comma unless first in its object). */
static void key(gw_reply *w, const char *k)
{
    size_t kl = strlen(k);
    reserve(w, kl + 4);
    if (w->oom)
        return;
    char *o = w->p + w->n;
    if (!w->first)
        *o++ = ',';
    *o++ = '"';
    memcpy(o, k, kl);
    o += kl;
    *o++ = '"';
    *o++ = ':';
    w->n = (size_t)(o - w->p);
    w->first = 0;
}

static int needs_escape(unsigned char ch)
{
    return ch < 0x20 || ch == '"' || ch == '\\';
}

/* A JSON string: `"` and `\` escaped, control characters as \u00XX, the rest (UTF-8) as is.
 * Counts the escapes first, so that the usual string is one copy. */
static void string(gw_reply *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(s), esc = 0;
    for (size_t i = 0; i < len; i++)
        esc += (size_t)needs_escape((unsigned char)s[i]);
    reserve(w, len + 5 * esc + 2);
    if (w->oom)
        return;
    char *o = w->p + w->n;
    *o++ = '"';
    if (!esc) {
        memcpy(o, s, len);
        o += len;
    } else {
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (!needs_escape(ch)) {
                *o++ = (char)ch;
            } else if (ch >= 0x20) {
                *o++ = '\\';
                *o++ = (char)ch;
            } else {
                memcpy(o, "\\u00", 4);
                o[4] = hex[ch >> 4];
                o[5] = hex[ch & 15];
                o += 6;
            }
        }
    }
    *o++ = '"';
    w->n = (size_t)(o - w->p);
}

void gw_reply_begin(gw_reply *w)
{
    w->p = w->inl;
    w->n = 0;
    w->cap = sizeof(w->inl);
    w->oom = 0;
    put(w, "[{", 2);
    w->first = 1;
}

void gw_reply_str(gw_reply *w, const char *k, const char *val)
{
    key(w, k);
    if (val)
        string(w, val);
    else
        put(w, "null", 4);
}

void gw_reply_bool(gw_reply *w, const char *k, int val)
{
    key(w, k);
    if (val)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void gw_reply_open(gw_reply *w, const char *k)
{
    key(w, k);
    put(w, "{", 1);
    w->first = 1;
}

void gw_reply_close(gw_reply *w)
{
    put(w, "}", 1);
    w->first = 0;
}

const char *gw_reply_end(gw_reply *w)
{
    put(w, "}]", 2);
    if (w->oom)
        return NULL;
    w->p[w->n] = '\0';
    return w->p;
}

void gw_reply_free(gw_reply *w)
{
    if (w->p != w->inl)
        free(w->p);
    w->p = w->inl;
}

/* JSON white space. */
static const char *ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *lit(const char *p, const char *end, const char *s, size_t n)
{
    return (size_t)(end - p) >= n && !memcmp(p, s, n) ? p + n : NULL;
}

int gw_payload_conversation_id(const char *p, size_t n, char id[37])
{
    static const char k[] = "\"conversation_id\"";
    const char *end = p + n;
    if (!(p = lit(ws(p, end), end, "{", 1)) || !(p = lit(ws(p, end), end, k, sizeof(k) - 1)) ||
        !(p = lit(ws(p, end), end, ":", 1)) || !(p = lit(ws(p, end), end, "\"", 1)))
        return 0;
    if (end - p < 37 || p[36] != '"' || memchr(p, '"', 36) || memchr(p, '\\', 36))
        return 0;
    const char *v = p;
    if (!(p = lit(ws(p + 37, end), end, "}", 1)) || ws(p, end) != end)
        return 0;
    memcpy(id, v, 36);
    id[36] = '\0';
    return 1;
}
