/*
 * The flag parser shared by the executables. Running the loop, signals and shutdown belong to
 * the composition root (sio_server_run), not to the programs.
 */
#ifndef SIO_APP_CLI_H
#define SIO_APP_CLI_H

#include <stddef.h>
#include <stdio.h>

enum sio_cli_type {
    SIO_CLI_INT,
    SIO_CLI_UINT,
    SIO_CLI_SIZE,
    SIO_CLI_STR,
    SIO_CLI_BOOL,
    SIO_CLI_STRS, /* repeatable: each occurrence appends to a sio_cli_strs */
};

/** The values of a repeatable flag (pointing into argv), in order. */
enum { SIO_CLI_STRS_MAX = 32 };
typedef struct sio_cli_strs {
    const char *v[SIO_CLI_STRS_MAX];
    size_t n;
} sio_cli_strs;

typedef struct sio_cli_flag {
    const char *name;
    enum sio_cli_type type;
    void *target; /* int, unsigned, size_t, const char * (points into argv), int (set to 1) or
                     sio_cli_strs */
    const char *help;
} sio_cli_flag;

/** Parses argv ("--flag value" or "--flag=value"; switches take no value) into the flags'
 *  targets. Prints usage and returns -1 on an unknown flag (--help included) or a bad value. */
int sio_cli_parse(int argc, char **argv, const sio_cli_flag *flags, const char *prog);

/* ---- configuration: flags, SIO_* environment variables and an INI file -------------------- */
/*
 * Every flag has three other spellings: the environment variable SIO_<NAME> (the flag's name
 * without the dashes, upper case, '-' as '_'; a repeatable flag takes a comma-separated list;
 * an empty variable counts as unset), and the key <name> of the INI file given with --config
 * FILE or SIO_CONFIG (libinih; "name = value", a repeatable flag repeats its line; [sections]
 * only group and are ignored; ';' and '#' start comments). A switch takes true/false, yes/no,
 * on/off or 1/0 in the file and the environment. Precedence: flag > environment > file >
 * default; a repeatable flag takes its whole list from the highest source that has one.
 */
enum sio_cli_origin {
    SIO_CLI_ORIGIN_DEFAULT,
    SIO_CLI_ORIGIN_FILE,
    SIO_CLI_ORIGIN_ENV,
    SIO_CLI_ORIGIN_FLAG
};

typedef struct sio_cli sio_cli;

/**
 * Resolves every flag of the table (borrowed until sio_cli_free; argv too) from the four
 * sources and stores the values in the targets. Also understands --config FILE and
 * --print-config, which are not in the table. Returns the configuration, or NULL after printing
 * what is wrong (*status is then the exit status: 2).
 */
sio_cli *sio_cli_load(int argc, char **argv, const sio_cli_flag *flags, const char *prog,
                      int *status);
void sio_cli_free(sio_cli *c);
/** Whether --print-config was given. */
int sio_cli_print_requested(const sio_cli *c);
/** Writes the effective configuration as INI: one "name = value ; origin" line per value, an
 *  unset flag commented out, secrets redacted (sio_cli_redact). */
void sio_cli_print(const sio_cli *c, FILE *out);
/** The config file in use, or NULL. */
const char *sio_cli_config_path(const sio_cli *c);
/** Where a flag's value came from ("port" or "--port"); -1 for an unknown name. */
int sio_cli_origin(const sio_cli *c, const char *name);
const char *sio_cli_origin_name(int origin);

/** Told about each flag whose value changed at a reload: applied (it is in the reloadable
 *  list, its target holds the new value) or not (it needs a restart). */
typedef void (*sio_cli_change_cb)(const char *name, int applied, void *user);
/**
 * Reads the configuration file again (the flags and the environment are those of the start) and
 * stores the changed values of the flags named in reloadable (names without dashes,
 * NULL-terminated) in their targets, a flag removed from the file getting its default back.
 * Nothing is stored when the file is unreadable or has an error: returns -1 after printing
 * why. Else returns the number of changed flags, each reported to cb (may be NULL).
 */
int sio_cli_reload(sio_cli *c, const char *const *reloadable, sio_cli_change_cb cb, void *user);
/** Whether the last sio_cli_reload changed the flag. */
int sio_cli_changed(const sio_cli *c, const char *name);

/* Pure functions, exposed for the tests. */
/** The environment variable of a flag: "--jwt-secret" or "jwt-secret" -> "SIO_JWT_SECRET". */
void sio_cli_env_name(const char *flag, char *out, size_t cap);
/** Writes value as it may be shown: "<redacted>" for secrets (names ending in "secret" or
 *  "token", or containing "password"), the password of URLs ("scheme://user:pass@host") replaced
 *  by "<redacted>" in every comma-separated URL, else the value itself (cut to cap - 1). */
void sio_cli_redact(const char *name, const char *value, char *out, size_t cap);
/** Parses a switch's value: 1, 0, or -1 when it is none of true/false/yes/no/on/off/1/0. */
int sio_cli_bool(const char *v);

/* The flags both reference servers take to move off the official suites' settings: put
 * SIO_CLI_TEST_SERVER_FLAGS(o) (o a sio_server_options) in a flag table. */
#define SIO_CLI_TEST_SERVER_FLAGS(o)                                                               \
    {"--port", SIO_CLI_INT, &(o).http.port, "TCP port (0 = any free port)"},                       \
        {"--host", SIO_CLI_STR, &(o).http.host, "interface to bind (default all)"},                \
        {"--ping-interval", SIO_CLI_UINT, &(o).engine.ping_interval_ms,                            \
         "ms between server pings"},                                                               \
        {"--ping-timeout", SIO_CLI_UINT, &(o).engine.ping_timeout_ms, "ms to wait for a pong"},    \
    {                                                                                              \
        "--max-payload", SIO_CLI_SIZE, &(o).engine.max_payload, "bytes per message / POST body"    \
    }

/* The Redis adapter's flags, shared by the programs: put SIO_CLI_REDIS_FLAGS(r) in a flag table
 * and call sio_cli_redis_apply after parsing. */
#include <sio/redis.h>

typedef struct sio_cli_redis {
    sio_redis_adapter_config cfg;
    const char *mode;              /* "classic" | "sharded" */
    const char *subscription_mode; /* "static" | "dynamic" | "dynamic-private" */
} sio_cli_redis;

void sio_cli_redis_init(sio_cli_redis *r);

#define SIO_CLI_REDIS_FLAGS(r, o)                                                                  \
    {"--redis", SIO_CLI_STR, &(r).cfg.url,                                                         \
     "Redis adapter: redis://[user:pass@]host[:port][/db] or rediss:// (off)"},                    \
        {"--redis-mode", SIO_CLI_STR, &(r).mode, "classic or sharded"},                            \
        {"--redis-cluster", SIO_CLI_BOOL, &(r).cfg.cluster, "the URL(s) are Redis Cluster seeds"}, \
        {"--redis-subscription-mode", SIO_CLI_STR, &(r).subscription_mode,                         \
         "sharded: static, dynamic or dynamic-private"},                                           \
        {"--redis-key", SIO_CLI_STR, &(r).cfg.key, "channel prefix"},                              \
        {"--redis-requests-timeout", SIO_CLI_UINT, &(o).adapter.requests_timeout_ms,               \
         "ms cluster queries wait for other servers"},                                             \
    {                                                                                              \
        "--python-channel", SIO_CLI_STR, &(r).cfg.python_channel,                                  \
            "also accept python-socketio pub/sub messages on this channel (off; e.g. socketio)"    \
    }

/** With --redis given, checks the modes and points o's adapter at r (r must outlive the server).
 *  Returns 0, or -1 after printing what is wrong. */
int sio_cli_redis_apply(sio_cli_redis *r, sio_server_options *o, const char *prog);

/* JWT authentication flags (docs/auth.md), shared likewise: SIO_CLI_AUTH_FLAGS(a) in the table,
 * then sio_cli_auth_apply (the SIO_* environment variables come from sio_cli_load). */
#include <sio/auth.h>

typedef struct sio_cli_auth {
    sio_auth_config cfg;
    const char *secret; /* --jwt-secret */
    sio_cli_strs public_keys;
    const char *leeway, *notice, *refresh, *min_refetch; /* numbers, parsed by apply */
    int enabled;                                         /* set by apply: a key is configured */
} sio_cli_auth;

void sio_cli_auth_init(sio_cli_auth *a);

#define SIO_CLI_AUTH_FLAGS(a)                                                                      \
    {"--jwt-secret", SIO_CLI_STR, &(a).secret, "HMAC secret of HS* tokens"},                       \
        {"--jwt-secret-file", SIO_CLI_STR, &(a).cfg.secret_file, "file holding the HMAC secret"},  \
        {"--jwt-public-key", SIO_CLI_STRS, &(a).public_keys,                                       \
         "PEM public key or certificate, repeatable"},                                             \
        {"--jwks-file", SIO_CLI_STR, &(a).cfg.jwks_file, "JWKS or JWK file"},                      \
        {"--jwks-url", SIO_CLI_STR, &(a).cfg.jwks_url, "JWKS URL, http(s)"},                       \
        {"--jwks-ca-file", SIO_CLI_STR, &(a).cfg.jwks_ca_file,                                     \
         "PEM bundle trusted for the JWKS URL (system store)"},                                    \
        {"--jwks-refresh", SIO_CLI_STR, &(a).refresh, "s between JWKS URL refreshes (600)"},       \
        {"--jwks-min-refetch", SIO_CLI_STR, &(a).min_refetch,                                      \
         "fewest s between fetches on an unknown kid (30)"},                                       \
        {"--jwt-algorithms", SIO_CLI_STR, &(a).cfg.algorithms,                                     \
         "allowed algs, e.g. RS256,ES256 (all the keys allow)"},                                   \
        {"--jwt-issuer", SIO_CLI_STR, &(a).cfg.issuer, "required iss"},                            \
        {"--jwt-audience", SIO_CLI_STR, &(a).cfg.audience, "required aud"},                        \
        {"--jwt-leeway", SIO_CLI_STR, &(a).leeway, "s of clock skew on exp/nbf (30)"},             \
        {"--jwt-expiring-notice", SIO_CLI_STR, &(a).notice,                                        \
         "s before exp to emit auth:expiring (60)"},                                               \
        {"--jwt-user-claim", SIO_CLI_STR, &(a).cfg.user_claim,                                     \
         "user id claims (sub,nameid,user_id)"},                                                   \
        {"--jwt-org-claim", SIO_CLI_STR, &(a).cfg.org_claim,                                       \
         "organization claims (organization_id,tenant_id)"},                                       \
    {                                                                                              \
        "--jwt-role-claim", SIO_CLI_STR, &(a).cfg.role_claim, "role claims (role)"                 \
    }

/** Turns the flags into a->cfg and checks the numbers (empty strings count as unset). Call it
 *  again after a reload. Returns 0 (a->enabled says whether any key source is configured) or -1
 *  after printing what is wrong. */
int sio_cli_auth_apply(sio_cli_auth *a, const char *prog);

#endif
