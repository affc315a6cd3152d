/*
 * The flag parser shared by the executables. Running the loop, signals and shutdown belong to
 * the composition root (sio_server_run), not to the programs.
 */
#ifndef SIO_APP_CLI_H
#define SIO_APP_CLI_H

enum sio_cli_type { SIO_CLI_INT, SIO_CLI_UINT, SIO_CLI_SIZE, SIO_CLI_STR, SIO_CLI_BOOL };

typedef struct sio_cli_flag {
    const char *name;
    enum sio_cli_type type;
    void *target; /* int, unsigned, size_t, const char * (points into argv) or int (set to 1) */
    const char *help;
} sio_cli_flag;

/** Parses argv ("--flag value" or "--flag=value"; switches take no value) into the flags'
 *  targets. Prints usage and returns -1 on an unknown flag (--help included) or a bad value. */
int sio_cli_parse(int argc, char **argv, const sio_cli_flag *flags, const char *prog);

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
        {"--redis-mode", SIO_CLI_STR, &(r).mode, "classic or sharded (classic)"},                  \
        {"--redis-cluster", SIO_CLI_BOOL, &(r).cfg.cluster, "the URL(s) are Redis Cluster seeds"}, \
        {"--redis-subscription-mode", SIO_CLI_STR, &(r).subscription_mode,                         \
         "sharded: static, dynamic or dynamic-private (dynamic)"},                                 \
        {"--redis-key", SIO_CLI_STR, &(r).cfg.key, "channel prefix (socket.io)"},                  \
        {"--redis-requests-timeout", SIO_CLI_UINT, &(o).adapter.requests_timeout_ms,               \
         "ms cluster queries wait for other servers (5000)"},                                      \
    {                                                                                              \
        "--python-channel", SIO_CLI_STR, &(r).cfg.python_channel,                                  \
            "also accept python-socketio pub/sub messages on this channel (off; e.g. socketio)"    \
    }

/** With --redis given, checks the modes and points o's adapter at r (r must outlive the server).
 *  Returns 0, or -1 after printing what is wrong. */
int sio_cli_redis_apply(sio_cli_redis *r, sio_server_options *o, const char *prog);

#endif
