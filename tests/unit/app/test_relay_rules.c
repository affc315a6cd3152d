/*
 * The relay's rules (src/app/relay.h, docs/presence.md "Relay"): parsing and the capture of
 * '*' wildcards, which must agree with Redis's PSUBSCRIBE matching of the same pattern.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "app/relay.h"

static int match(const char *pattern, const char *channel, const char **caps, size_t *lens)
{
    return sio_relay_match(pattern, strlen(pattern), channel, strlen(channel), caps, lens);
}

static void expect_cap(const char *cap, size_t len, const char *want)
{
    cr_expect_eq(len, strlen(want), "capture '%.*s' is not '%s'", (int)len, cap, want);
    cr_expect(!memcmp(cap, want, len), "capture '%.*s' is not '%s'", (int)len, cap, want);
}

Test(relay_match, one_wildcard)
{
    const char *caps[SIO_RELAY_MAX_CAPTURES];
    size_t lens[SIO_RELAY_MAX_CAPTURES];
    cr_assert(match("status:*", "status:3f1c-e2", caps, lens));
    expect_cap(caps[0], lens[0], "3f1c-e2");
    cr_assert(match("status:*", "status:", caps, lens));
    expect_cap(caps[0], lens[0], "");
    cr_expect(!match("status:*", "statu", caps, lens));
    cr_expect(!match("status:*", "xstatus:1", caps, lens));
}

Test(relay_match, several_wildcards_shortest_first)
{
    const char *caps[SIO_RELAY_MAX_CAPTURES];
    size_t lens[SIO_RELAY_MAX_CAPTURES];
    cr_assert(match("org:*:user:*", "org:a:user:b:c", caps, lens));
    expect_cap(caps[0], lens[0], "a");
    expect_cap(caps[1], lens[1], "b:c");
    cr_assert(match("org:*:user:*", "org:a:user:x:user:y", caps, lens));
    expect_cap(caps[0], lens[0], "a");
    expect_cap(caps[1], lens[1], "x:user:y");
    cr_assert(match("*-*", "a-b-c", caps, lens));
    expect_cap(caps[0], lens[0], "a");
    expect_cap(caps[1], lens[1], "b-c");
    cr_assert(match("a*b*c", "aXbYbZc", caps, lens));
    expect_cap(caps[0], lens[0], "X");
    expect_cap(caps[1], lens[1], "YbZ");
    cr_assert(match("**", "ab", caps, lens));
    expect_cap(caps[0], lens[0], "");
    expect_cap(caps[1], lens[1], "ab");
    cr_expect(!match("a*b*c", "aXbYbZ", caps, lens));
}

Test(relay_match, other_glob_characters_are_literal)
{
    const char *caps[SIO_RELAY_MAX_CAPTURES];
    size_t lens[SIO_RELAY_MAX_CAPTURES];
    cr_expect(match("a?[b]:*", "a?[b]:1", caps, lens));
    cr_expect(!match("a?[b]:*", "ax[b]:1", caps, lens));
    cr_expect(!match("a?[b]:*", "a?b:1", caps, lens));
}

Test(relay_rules, check)
{
    char why[128];
    cr_expect_eq(sio_relay_rule_check("status:*=message.status@conversation:{1}", why, 128), 0);
    cr_expect_eq(sio_relay_rule_check("news:*=news", why, 128), 0);
    cr_expect_eq(sio_relay_rule_check("a:*:b:*=e@r:{2}-{1}", why, 128), 0);
    const char *bad[] = {
        "status:*",                    /* no '=' */
        "=event@room",                 /* no pattern */
        "status:*=@room",              /* no event */
        "status:*=event@",             /* empty room */
        "status:*=disconnect@r",       /* reserved event */
        "status:*=e@conversation:{2}", /* no second capture */
        "status:*=e@conversation:{0}", /* captures count from 1 */
        "status:*=e@conversation:{x}", /* not a capture */
        "*:*:*:*:*:*:*:*:*:*=e",       /* 10 wildcards */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = 0;
        cr_expect_eq(sio_relay_rule_check(bad[i], why, sizeof(why)), SIO_EINVAL, "%s", bad[i]);
        cr_expect(why[0], "no reason for %s", bad[i]);
    }
}
