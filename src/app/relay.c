/*
 * The Redis relay (relay.h, docs/presence.md "Relay"). Rules are parsed once; each distinct
 * channel pattern is one PSUBSCRIBE (glob characters other than '*' escaped, so Redis and
 * sio_relay_match agree on what matches); a pmessage names its pattern, which selects the rules.
 */
#include "app/relay.h"
#include "app/redis_link.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds of a rule's parts. */
#define MAX_PATTERN 512
#define MAX_EVENT 256
#define MAX_ROOM 1024

typedef struct rule {
    char *pattern;    /* as written */
    char *subscribed; /* escaped for PSUBSCRIBE */
    char *event;
    char *room; /* template; NULL: the whole namespace */
    int stars;
} rule;

struct sio_relay {
    sio_namespace *nsp;
    sio_relay_options o;
    sio_redis_cluster *rc;
    rule *rules;
    size_t nrules;
    sio_relay_stats st;
    uint64_t logged;
};

/* rlog(r, level, fmt, ...): a line of the relay's log. */
#define rlog(r, ...) sio_app_log((r)->o.log, (r)->o.log_user, __VA_ARGS__)

/* A dropped message: logged for the first few, then every 1000th drop. */
static void dropped(sio_relay *r, const char *what, const char *channel, size_t clen)
{
    uint64_t n = r->st.invalid_json + r->st.oversized + r->st.emit_failures;
    if (r->logged < 5 || n % 1000 == 0) {
        r->logged++;
        rlog(r, SIO_LOG_WARN, "relay: dropped a message on %.*s: %s (%llu dropped so far)",
             (int)(clen > 200 ? 200 : clen), channel, what, (unsigned long long)n);
    }
}

int sio_relay_match(const char *pattern, size_t plen, const char *channel, size_t clen,
                    const char **caps, size_t *cap_lens)
{
    size_t pi = 0, si = 0, star_s = 0, cap_start = 0;
    int star = -1, k = -1;
    while (si < clen) {
        if (pi < plen && pattern[pi] == '*') {
            k++;
            star = (int)pi;
            star_s = si;
            cap_start = si;
            if (k < SIO_RELAY_MAX_CAPTURES) {
                caps[k] = channel + si;
                cap_lens[k] = 0;
            }
            pi++;
        } else if (pi < plen && pattern[pi] == channel[si]) {
            pi++;
            si++;
        } else if (star >= 0) {
            star_s++;
            si = star_s;
            pi = (size_t)star + 1;
            if (k < SIO_RELAY_MAX_CAPTURES)
                cap_lens[k] = star_s - cap_start;
        } else {
            return 0;
        }
    }
    while (pi < plen && pattern[pi] == '*') {
        k++;
        if (k < SIO_RELAY_MAX_CAPTURES) {
            caps[k] = channel + clen;
            cap_lens[k] = 0;
        }
        pi++;
    }
    return pi == plen;
}

static void rule_free(rule *ru)
{
    free(ru->pattern);
    free(ru->subscribed);
    free(ru->event);
    free(ru->room);
}

static int fail(char *why, size_t n, const char *text)
{
    if (why && n)
        snprintf(why, n, "%s", text);
    return SIO_EINVAL;
}

/* Parses "pattern=event[@room]" into ru (when not NULL). */
static int rule_parse(const char *text, rule *ru, char *why, size_t why_len)
{
    const char *eq = strchr(text, '=');
    if (!eq)
        return fail(why, why_len, "expected pattern=event[@room]");
    const char *at = strchr(eq + 1, '@');
    size_t plen = (size_t)(eq - text);
    size_t elen = at ? (size_t)(at - eq - 1) : strlen(eq + 1);
    const char *room = at ? at + 1 : NULL;
    if (!plen || plen > MAX_PATTERN)
        return fail(why, why_len, "the channel pattern is empty or too long");
    if (!elen || elen > MAX_EVENT)
        return fail(why, why_len, "the event name is empty or too long");
    if (room && (!*room || strlen(room) > MAX_ROOM))
        return fail(why, why_len, "the room is empty or too long");
    static const char *const reserved[] = {"connect",       "connect_error", "disconnect",
                                           "disconnecting", "newListener",   "removeListener"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strlen(reserved[i]) == elen && !memcmp(reserved[i], eq + 1, elen))
            return fail(why, why_len, "the event name is reserved by Socket.IO");
    int stars = 0;
    for (size_t i = 0; i < plen; i++)
        stars += text[i] == '*';
    if (stars > SIO_RELAY_MAX_CAPTURES)
        return fail(why, why_len, "more than 9 '*' in the pattern");
    for (const char *p = room; p && *p; p++) {
        if (*p != '{')
            continue;
        char *end;
        long n = strtol(p + 1, &end, 10);
        if (*end != '}' || end == p + 1)
            return fail(why, why_len, "a '{' in the room must be a capture such as {1}");
        if (n < 1 || n > stars)
            return fail(why, why_len, "the room refers to a capture the pattern does not have");
        p = end;
    }
    if (!ru)
        return 0;
    *ru = (rule){0};
    ru->stars = stars;
    ru->pattern = strndup(text, plen);
    ru->event = strndup(eq + 1, elen);
    ru->room = room ? strdup(room) : NULL;
    ru->subscribed = malloc(2 * plen + 1);
    if (!ru->pattern || !ru->event || (room && !ru->room) || !ru->subscribed) {
        rule_free(ru);
        return fail(why, why_len, "out of memory");
    }
    char *o = ru->subscribed;
    for (size_t i = 0; i < plen; i++) {
        if (strchr("?[]\\", text[i]))
            *o++ = '\\';
        *o++ = text[i];
    }
    *o = 0;
    return 0;
}

int sio_relay_rule_check(const char *text, char *why, size_t why_len)
{
    return rule_parse(text, NULL, why, why_len);
}

/* The room of a rule for the captures; NULL on OOM. */
static char *room_for(const rule *ru, const char **caps, const size_t *lens)
{
    size_t n = 0;
    for (const char *p = ru->room; *p; p++) {
        if (*p == '{') {
            char *end;
            long k = strtol(p + 1, &end, 10);
            n += lens[k - 1];
            p = end;
        } else {
            n++;
        }
    }
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = ru->room; *p; p++) {
        if (*p == '{') {
            char *end;
            long k = strtol(p + 1, &end, 10);
            memcpy(o, caps[k - 1], lens[k - 1]);
            o += lens[k - 1];
            p = end;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

static void on_message(sio_redis_cluster *c, int kind, const char *pattern, size_t plen,
                       const char *channel, size_t clen, const char *payload, size_t len,
                       void *user)
{
    (void)c;
    sio_relay *r = user;
    if (kind != SIO_REDIS_PSUBSCRIBE || !pattern)
        return;
    int ours = 0;
    for (size_t i = 0; i < r->nrules && !ours; i++)
        ours = strlen(r->rules[i].subscribed) == plen &&
               !memcmp(r->rules[i].subscribed, pattern, plen);
    if (!ours)
        return;
    r->st.received++;
    if (len > r->o.max_message_bytes) {
        r->st.oversized++;
        dropped(r, "payload over the size limit", channel, clen);
        return;
    }
    /* one JSON value, any type; what goes out is the payload's own text */
    json_t *v =
        json_loadb(payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
    if (!v) {
        r->st.invalid_json++;
        dropped(r, "not JSON", channel, clen);
        return;
    }
    json_decref(v);
    char *args = malloc(len + 3);
    if (!args) {
        r->st.emit_failures++;
        return;
    }
    args[0] = '[';
    memcpy(args + 1, payload, len);
    args[len + 1] = ']';
    args[len + 2] = 0;
    for (size_t i = 0; i < r->nrules; i++) {
        rule *ru = &r->rules[i];
        if (strlen(ru->subscribed) != plen || memcmp(ru->subscribed, pattern, plen))
            continue;
        const char *caps[SIO_RELAY_MAX_CAPTURES] = {0};
        size_t lens[SIO_RELAY_MAX_CAPTURES] = {0};
        if (!sio_relay_match(ru->pattern, strlen(ru->pattern), channel, clen, caps, lens))
            continue; /* cannot happen: Redis matched the same pattern */
        char *room = ru->room ? room_for(ru, caps, lens) : NULL;
        const char *rooms[1] = {room};
        sio_target to = {rooms, room ? 1 : 0, NULL, 0, SIO_EMIT_LOCAL};
        long n = ru->room && !room ? SIO_ENOMEM
                                   : sio_namespace_emit(r->nsp, &to, ru->event, args, NULL, 0);
        free(room);
        if (n < 0) {
            r->st.emit_failures++;
            dropped(r, sio_strerror((int)n), channel, clen);
            continue;
        }
        r->st.forwarded++;
        r->st.deliveries += (uint64_t)n;
    }
    free(args);
}

static void on_state(sio_redis_cluster *c, int up, void *user)
{
    (void)c;
    sio_relay *r = user;
    rlog(r, up ? SIO_LOG_INFO : SIO_LOG_WARN, "relay: Redis %s", up ? "up" : "down");
}

void sio_relay_options_init(sio_relay_options *o)
{
    *o = (sio_relay_options){.max_message_bytes = 1u << 20};
}

static int uses_pattern(const rule *rules, size_t n, const char *subscribed)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rules[i].subscribed, subscribed))
            return 1;
    return 0;
}

int sio_relay_set_rules(sio_relay *r, const char *const *texts, size_t n)
{
    if (n > SIO_RELAY_MAX_RULES)
        return SIO_EINVAL;
    rule *rules = calloc(n ? n : 1, sizeof(*rules));
    if (!rules)
        return SIO_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char why[128];
        if (rule_parse(texts[i], &rules[i], why, sizeof(why)) < 0) {
            rlog(r, SIO_LOG_ERROR, "relay: bad rule '%s': %s", texts[i], why);
            for (size_t j = 0; j < i; j++)
                rule_free(&rules[j]);
            free(rules);
            return SIO_EINVAL;
        }
    }
    /* subscribe the new patterns first, then forget the old ones no rule uses any more */
    for (size_t i = 0; i < n; i++)
        if (!uses_pattern(rules, i, rules[i].subscribed))
            sio_redis_cluster_subscribe(r->rc, SIO_REDIS_PSUBSCRIBE, rules[i].subscribed,
                                        strlen(rules[i].subscribed));
    for (size_t i = 0; i < r->nrules; i++)
        if (!uses_pattern(rules, n, r->rules[i].subscribed) &&
            !uses_pattern(r->rules, i, r->rules[i].subscribed))
            sio_redis_cluster_unsubscribe(r->rc, SIO_REDIS_PSUBSCRIBE, r->rules[i].subscribed,
                                          strlen(r->rules[i].subscribed));
    for (size_t i = 0; i < r->nrules; i++)
        rule_free(&r->rules[i]);
    free(r->rules);
    r->rules = rules;
    r->nrules = n;
    for (size_t i = 0; i < n; i++)
        rlog(r, SIO_LOG_INFO, "relay: %s -> event '%s' to %s", rules[i].pattern, rules[i].event,
             rules[i].room ? rules[i].room : "every socket of the namespace");
    return 0;
}

sio_relay *sio_relay_new(sio_server *srv, sio_namespace *nsp, const sio_relay_options *o,
                         const char *const *rules, size_t nrules)
{
    sio_relay *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->nsp = nsp;
    r->o = *o;
    if (!r->o.max_message_bytes)
        r->o.max_message_bytes = 1u << 20;
    sio_app_redis_link link = {"relay", o->redis_url, o->redis_cluster, on_message, on_state,
                               r,       o->log,       o->log_user};
    r->rc = sio_app_redis_connect(sio_server_base(srv), &link);
    if (!r->rc || sio_relay_set_rules(r, rules, nrules) < 0) {
        sio_relay_free(r);
        return NULL;
    }
    return r;
}

void sio_relay_free(sio_relay *r)
{
    if (!r)
        return;
    sio_redis_cluster_free(r->rc);
    for (size_t i = 0; i < r->nrules; i++)
        rule_free(&r->rules[i]);
    free(r->rules);
    free(r);
}

void sio_relay_get_stats(const sio_relay *r, sio_relay_stats *out)
{
    *out = r->st;
    out->rules = r->nrules;
    out->redis_up = r->rc && sio_redis_cluster_is_up(r->rc);
}
