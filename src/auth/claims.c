/*
 * Identity claims from a verified JWT payload: user id, organization and role, each taken from
 * the first of a configurable list of claim names. Reads only; never checks signatures or times.
 */
#include "auth/jwt.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/error.h>

/* Common spellings: "sub" (RFC 7519), "nameid" (WS-Federation/ASP.NET), "user_id" (ad hoc). */
static const char *const default_user[] = {"sub", "nameid", "user_id", NULL};
static const char *const default_org[] = {"organization_id", "tenant_id", NULL};
static const char *const default_role[] = {"role", NULL};

/* Integral doubles are exact up to 2^53; beyond that the decimal form would invent digits. */
#define EXACT_DOUBLE_MAX 9007199254740992.0

/* The claim as an owned string in *out (left NULL if unusable). Returns 0 or SIO_ENOMEM. */
static int claim_string(const json_t *v, char **out)
{
    char num[32];

    *out = NULL;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            return 0;
        *out = strdup(json_string_value(v));
        return *out ? 0 : SIO_ENOMEM;
    }
    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" PRId64, (int64_t)json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d) || fabs(d) > EXACT_DOUBLE_MAX)
            return 0;
        snprintf(num, sizeof(num), "%" PRId64, (int64_t)d);
    } else {
        return 0;
    }
    *out = strdup(num);
    return *out ? 0 : SIO_ENOMEM;
}

/* The first usable claim of names. Returns 0 or SIO_ENOMEM. */
static int pick(const json_t *payload, const char *const *names, char **out)
{
    *out = NULL;
    for (size_t i = 0; names[i]; i++) {
        int rc = claim_string(json_object_get(payload, names[i]), out);
        if (rc != 0 || *out)
            return rc;
    }
    return 0;
}

int sio_jwt_claims_extract(const json_t *payload, const sio_jwt_claim_names *names,
                           sio_jwt_claims *out)
{
    const sio_jwt_claim_names none = {NULL, NULL, NULL};
    const sio_jwt_claim_names *n = names ? names : &none;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(payload))
        return SIO_EINVAL;
    rc = pick(payload, n->user_id ? n->user_id : default_user, &out->user_id);
    if (rc == 0)
        rc = pick(payload, n->organization ? n->organization : default_org, &out->organization);
    if (rc == 0)
        rc = pick(payload, n->role ? n->role : default_role, &out->role);
    if (rc != 0)
        sio_jwt_claims_deinit(out);
    return rc;
}

void sio_jwt_claims_deinit(sio_jwt_claims *c)
{
    free(c->user_id);
    free(c->organization);
    free(c->role);
    memset(c, 0, sizeof(*c));
}
