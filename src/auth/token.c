/*
 * Token lookup, expiry plan and claim-name lists of the authenticator (session.h). Pure: jansson
 * for the handshake JSON, nothing else.
 */
#include "auth/session.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <sio/error.h>

/* The value after an optional "Bearer " prefix, or NULL when empty. */
static const char *strip_bearer(const char *v)
{
    if (strncasecmp(v, "Bearer ", 7) == 0)
        v += 7;
    while (*v == ' ')
        v++;
    return *v ? v : NULL;
}

static int take(const char *v, char **out)
{
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--; /* header values may carry trailing blanks */
    if (!n)
        return 0;
    if (!(*out = malloc(n + 1)))
        return SIO_ENOMEM;
    memcpy(*out, v, n);
    (*out)[n] = '\0';
    return 1;
}

/* The string member name of obj, stripped, or NULL. */
static const char *member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? strip_bearer(json_string_value(v)) : NULL;
}

int sio_auth_token_find(const char *auth_json, const char *handshake_json,
                        const char *authorization, char **out)
{
    *out = NULL;
    int rc = 0;
    json_t *auth = auth_json ? json_loads(auth_json, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const json_t *t = json_object_get(auth, "token");
    if (t && !json_is_string(t) && !json_is_null(t)) {
        json_decref(auth);
        return SIO_EPROTO;
    }
    const char *v = member(auth, "token");
    if (v)
        rc = take(v, out);
    json_decref(auth);
    if (rc)
        return rc;
    json_t *hs = handshake_json ? json_loads(handshake_json, 0, NULL) : NULL;
    const json_t *q = json_object_get(hs, "query");
    if ((v = member(q, "token")) || (v = member(q, "access_token")))
        rc = take(v, out);
    json_decref(hs);
    if (rc)
        return rc;
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0 &&
        (v = strip_bearer(authorization)))
        return take(v, out);
    return 0;
}

sio_auth_plan sio_auth_plan_timers(int64_t now_ms, int64_t exp_s, unsigned leeway_s,
                                   unsigned notice_s)
{
    sio_auth_plan p = {-1, -1};
    if (exp_s <= 0)
        return p;
    int64_t exp_ms = exp_s * 1000;
    int64_t end = exp_ms + (int64_t)leeway_s * 1000 - now_ms;
    p.expire_ms = end > 0 ? end : 0;
    if (notice_s) {
        int64_t at = exp_ms - (int64_t)notice_s * 1000 - now_ms;
        p.notice_ms = at > 0 ? at : 0;
    }
    return p;
}

enum { MAX_NAMES = 16, MAX_NAME = 64 };

char **sio_auth_names_parse(const char *list)
{
    if (!list)
        return NULL;
    const char *start[MAX_NAMES];
    size_t len[MAX_NAMES], n = 0, total = 0;
    for (const char *p = list;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t l = strcspn(p, ",");
        size_t t = l;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t) {
            if (n == MAX_NAMES || t > MAX_NAME)
                return NULL;
            start[n] = p, len[n++] = t, total += t + 1;
        }
        if (!p[l])
            break;
        p += l + 1;
    }
    if (!n)
        return NULL;
    char **names = malloc((n + 1) * sizeof(char *) + total);
    if (!names)
        return NULL;
    char *s = (char *)(names + n + 1);
    for (size_t i = 0; i < n; i++) {
        memcpy(s, start[i], len[i]);
        s[len[i]] = '\0';
        names[i] = s;
        s += len[i] + 1;
    }
    names[n] = NULL;
    return names;
}
