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
    if (!w->first)
        put(w, ",", 1);
    w->first = 0;
    put(w, "\"", 1);
    put(w, k, strlen(k));
    put(w, "\":", 2);
}

/* A JSON string: `"` and `\` escaped, control characters as \u00XX, the rest (UTF-8) as is. */
static void string(gw_reply *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(s);
    reserve(w, len + 2);
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        put(w, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t en = 2;
        if (ch < 0x20) {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            en = 6;
        }
        put(w, esc, en);
    }
    put(w, s + run, len - run);
    put(w, "\"", 1);
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
