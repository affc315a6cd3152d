/*
 * The pure parts of the authenticator (src/auth/session.h): where the token is found, first
 * source wins; the expiry plan; claim-name lists.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sio/error.h>

#include "auth/session.h"

static const char *hs_query = "{\"headers\":{},\"query\":{\"EIO\":\"4\",\"token\":\"q.t.1\","
                              "\"access_token\":\"q.a.2\"}}";
static const char *hs_access = "{\"query\":{\"access_token\":\"q.a.2\"}}";
static const char *hs_none = "{\"query\":{\"EIO\":\"4\",\"token\":\"\"}}";

static void expect_token(const char *auth, const char *hs, const char *authz, const char *want)
{
    char *t = NULL;
    int rc = sio_auth_token_find(auth, hs, authz, &t);
    if (!want) {
        cr_assert_eq(rc, 0);
        cr_assert_null(t);
        return;
    }
    cr_assert_eq(rc, 1);
    cr_assert_str_eq(t, want);
    free(t);
}

Test(auth_token, first_source_wins)
{
    expect_token("{\"token\":\"a.b.c\"}", hs_query, "Bearer h.h.h", "a.b.c");
    expect_token("{}", hs_query, "Bearer h.h.h", "q.t.1");
    expect_token("{\"token\":\"\"}", hs_access, "Bearer h.h.h", "q.a.2");
    expect_token(NULL, hs_none, "Bearer h.h.h ", "h.h.h");
    expect_token("{}", hs_none, "bearer h.h.h", "h.h.h");
    expect_token("{\"token\":\"Bearer a.b.c\"}", NULL, NULL, "a.b.c");
}

Test(auth_token, absent_or_unusable)
{
    expect_token(NULL, NULL, NULL, NULL);
    expect_token("{}", hs_none, NULL, NULL);
    expect_token("{}", hs_none, "Basic dXNlcjpwYXNz", NULL);
    expect_token("{}", hs_none, "Bearer ", NULL);
    expect_token("not json", "not json", NULL, NULL);
    expect_token("{\"token\":null}", hs_none, NULL, NULL);
    char *t = NULL;
    cr_assert_eq(sio_auth_token_find("{\"token\":42}", hs_query, NULL, &t), SIO_EPROTO);
    cr_assert_eq(sio_auth_token_find("{\"token\":{}}", hs_query, NULL, &t), SIO_EPROTO);
    cr_assert_null(t);
}

Test(auth_plan, notice_and_expiry)
{
    /* exp at 1000 s, now 900 s, notice 60, leeway 30 */
    sio_auth_plan p = sio_auth_plan_timers(900000, 1000, 30, 60);
    cr_assert_eq(p.notice_ms, 40000);
    cr_assert_eq(p.expire_ms, 130000);
    /* less than the notice window left: at once */
    p = sio_auth_plan_timers(990500, 1000, 0, 60);
    cr_assert_eq(p.notice_ms, 0);
    cr_assert_eq(p.expire_ms, 9500);
    /* past exp but inside the leeway */
    p = sio_auth_plan_timers(1010000, 1000, 30, 60);
    cr_assert_eq(p.notice_ms, 0);
    cr_assert_eq(p.expire_ms, 20000);
    /* past exp + leeway: disconnect at once */
    p = sio_auth_plan_timers(1031000, 1000, 30, 60);
    cr_assert_eq(p.expire_ms, 0);
    /* notices off */
    p = sio_auth_plan_timers(900000, 1000, 0, 0);
    cr_assert_eq(p.notice_ms, -1);
    cr_assert_eq(p.expire_ms, 100000);
    /* no exp: no timers */
    p = sio_auth_plan_timers(900000, 0, 30, 60);
    cr_assert_eq(p.notice_ms, -1);
    cr_assert_eq(p.expire_ms, -1);
}

Test(auth_names, lists)
{
    char **n = sio_auth_names_parse(" sub , nameid,user_id ");
    cr_assert_not_null(n);
    cr_assert_str_eq(n[0], "sub");
    cr_assert_str_eq(n[1], "nameid");
    cr_assert_str_eq(n[2], "user_id");
    cr_assert_null(n[3]);
    free(n);
    n = sio_auth_names_parse("tenant");
    cr_assert_str_eq(n[0], "tenant");
    cr_assert_null(n[1]);
    free(n);
    cr_assert_null(sio_auth_names_parse(""));
    cr_assert_null(sio_auth_names_parse(" , "));
    char longname[100];
    memset(longname, 'x', 99);
    longname[99] = '\0';
    cr_assert_null(sio_auth_names_parse(longname));
}
